//! The model: every cell kind runs, the per-step API agrees with the batched
//! teacher-forced pass, the encoder ignores padding, the loss is right on a
//! hand-computed case and differentiable, and model files round-trip.

mod common;

use common::max_abs_diff;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use sketch_rnn::dataset::Dataset;
use sketch_rnn::model::loss::{kl_loss, reconstruction_loss};
use sketch_rnn::model::mixture::{Mixture, bivariate_normal, output_size};
use sketch_rnn::model::{CellKind, HParams, LatentInput, SketchRnn, encoder};
use sketch_rnn::sample;
use sketch_rnn::stroke::{START_TOKEN, stroke3_to_stroke5};
use sketch_rnn::weights::{
    ModelFile, ModelInfo, encoding_parity, magenta, mixture_parity, native, parity_input,
};

fn hparams(cell: CellKind, z_size: usize) -> HParams {
    HParams {
        enc_size: 16,
        dec_size: 24,
        z_size,
        num_mixtures: 20,
        cell,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    }
}

fn random_model(hp: &HParams, seed: u64) -> (VarMap, SketchRnn) {
    common::random_model(hp, seed, 0.3)
}

fn drawings() -> Vec<Vec<[f32; 3]>> {
    (0..3)
        .map(|k| {
            (0..10 + 3 * k)
                .map(|i| {
                    let a = i as f32 * 0.7 + k as f32;
                    [
                        20.0 * a.cos(),
                        20.0 * a.sin(),
                        if i % 4 == 3 { 1.0 } else { 0.0 },
                    ]
                })
                .collect()
        })
        .collect()
}

/// The per-step API (what the browser uses) and the batched pass (what training
/// uses) must compute the same distribution, for every cell, with a latent and
/// with the pen position input (summed by the state in one, from the batch in
/// the other).
#[test]
fn step_api_matches_batched_forward_for_every_cell() {
    let cases = [CellKind::Lstm, CellKind::LayerNorm, CellKind::Hyper]
        .into_iter()
        .flat_map(|cell| [(cell, 0, false), (cell, 8, false), (cell, 8, true)]);
    for (cell, z_size, position_input) in cases {
        {
            let hp = HParams {
                position_input,
                ..hparams(cell, z_size)
            };
            let (_, model) = random_model(&hp, 7);
            let ds = Dataset::new(&drawings(), 20, Some(10.0)).unwrap();
            let batch = ds.batch(&[0, 1, 2], None).unwrap();
            let out = model
                .forward(&batch.strokes, &batch.lengths, None, None)
                .unwrap();
            let logits = out.logits.to_vec2::<f32>().unwrap();
            assert_eq!(logits[0].len(), output_size(20));
            // drawing 1 step by step, with z = μ of its own encoding
            let rows: Vec<[f32; 5]> = batch.strokes[21 * 5..42 * 5]
                .chunks(5)
                .map(|c| c.try_into().unwrap())
                .collect();
            let z = if z_size > 0 {
                Some(model.encode(&rows[1..=batch.lengths[1]]).unwrap().0)
            } else {
                None
            };
            let mut state = model.initial_state(z.as_deref()).unwrap();
            for t in 0..20 {
                let (s, raw) = model.step(&state, &rows[t]).unwrap();
                state = s;
                let batched = &logits[20 + t];
                let worst = raw
                    .iter()
                    .zip(batched)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    worst < 1e-4,
                    "{cell:?} z={z_size} position {position_input} step {t}: |diff| {worst}"
                );
            }
        }
    }
}

/// Padding after a drawing's end must not change its encoding.
#[test]
fn encoder_ignores_padding() {
    let (_, model) = random_model(&hparams(CellKind::Lstm, 8), 3);
    let d = &drawings()[0];
    let short = Dataset::new(std::slice::from_ref(d), 12, Some(10.0)).unwrap();
    let long = Dataset::new(std::slice::from_ref(d), 40, Some(10.0)).unwrap();
    let enc = model.encoder.as_ref().unwrap();
    let mu = |ds: &Dataset| {
        let b = ds.batch(&[0], None).unwrap();
        let rows = &b.strokes[5..];
        enc.forward(rows, b.max_seq_len, &b.lengths, None, &Device::Cpu)
            .unwrap()
            .0
            .to_vec2::<f32>()
            .unwrap()
    };
    let (a, b) = (mu(&short), mu(&long));
    for (x, y) in a[0].iter().zip(&b[0]) {
        assert!((x - y).abs() < 1e-5);
    }
}

/// What each encoder direction reads with `encoder_position_input`, worked by
/// hand: offsets (1, 0), (0, 2), (3, 1); running sums × 0.25, forwards
/// (0.25, 0), (0.25, 0.5), (1, 0.75); backwards, last row first and negated,
/// (−0.75, −0.25), (−0.75, −0.75), (−1, −0.75). Exact in f32.
#[test]
fn encoder_reads_running_offset_sums_in_each_direction() {
    let rows = [
        1.0, 0.0, 1.0, 0.0, 0.0, //
        0.0, 2.0, 0.0, 1.0, 0.0, //
        3.0, 1.0, 1.0, 0.0, 0.0,
    ];
    let forward = encoder::reading_order(&rows, false, true);
    assert_eq!(
        forward,
        [
            1.0, 0.0, 1.0, 0.0, 0.0, 0.25, 0.0, //
            0.0, 2.0, 0.0, 1.0, 0.0, 0.25, 0.5, //
            3.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.75,
        ]
    );
    let backward = encoder::reading_order(&rows, true, true);
    assert_eq!(
        backward,
        [
            3.0, 1.0, 1.0, 0.0, 0.0, -0.75, -0.25, //
            0.0, 2.0, 0.0, 1.0, 0.0, -0.75, -0.75, //
            1.0, 0.0, 1.0, 0.0, 0.0, -1.0, -0.75,
        ]
    );
    // without the input: the rows alone, in reading order
    assert_eq!(encoder::reading_order(&rows, false, false), rows);
    assert_eq!(
        &encoder::reading_order(&rows, true, false)[..5],
        &rows[10..]
    );
}

/// An encoder that reads the running sums (two more input rows) still
/// ignores padding.
#[test]
fn encoder_with_position_input_ignores_padding_and_reads_the_sums() {
    let hp = HParams {
        encoder_position_input: true,
        ..hparams(CellKind::Lstm, 8)
    };
    let (vm, model) = random_model(&hp, 4);
    let file = file_of(&vm, &hp);
    for direction in ["forward", "backward"] {
        let w_xh = &file.tensors[&format!("encoder.{direction}.w_xh")];
        assert_eq!(w_xh.dims(), &[7, 4 * hp.enc_size]);
    }
    let enc = model.encoder.as_ref().unwrap();
    let d = &drawings()[0];
    let mu = |n_max: usize| {
        let ds = Dataset::new(std::slice::from_ref(d), n_max, Some(10.0)).unwrap();
        let b = ds.batch(&[0], None).unwrap();
        enc.forward(
            &b.strokes[5..],
            b.max_seq_len,
            &b.lengths,
            None,
            &Device::Cpu,
        )
        .unwrap()
        .0
        .to_vec2::<f32>()
        .unwrap()
    };
    let (short, long) = (mu(12), mu(40));
    for (x, y) in short[0].iter().zip(&long[0]) {
        assert!((x - y).abs() < 1e-5, "{x} vs {y}");
    }
}

/// Training with `--encoder-prefix`: the encoder of the batched pass reads
/// only each drawing's first `encoder_lengths` rows, so its μ equals the
/// encoding of those rows alone, while the decoder still reads every row
/// (its outputs are those of the same pass at full length with that μ as z).
/// Lengths of 0 or past a drawing's end are refused.
#[test]
fn batched_pass_encodes_only_the_prefix_it_is_given() {
    let hp = HParams {
        encoder_position_input: true,
        ..hparams(CellKind::Lstm, 8)
    };
    let (_, model) = random_model(&hp, 5);
    let ds = Dataset::new(&drawings(), 20, Some(10.0)).unwrap();
    let b = ds.batch(&[0, 1], None).unwrap();
    let prefix = [4, 7];
    let out = model
        .forward_with_inputs(
            &b.strokes,
            &b.strokes,
            &b.lengths,
            Some(&prefix),
            LatentInput::Posterior(None),
            None,
        )
        .unwrap();
    let mu = out.mu.unwrap().to_vec2::<f32>().unwrap();
    let whole = model
        .forward(&b.strokes, &b.lengths, None, None)
        .unwrap()
        .mu
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let row = (b.max_seq_len + 1) * 5;
    for (k, &n) in prefix.iter().enumerate() {
        let rows: Vec<[f32; 5]> = b.strokes[k * row + 5..k * row + 5 + n * 5]
            .chunks(5)
            .map(|r| [r[0], r[1], r[2], r[3], r[4]])
            .collect();
        let (alone, _) = model.encode(&rows).unwrap();
        assert!(
            diff(&alone, &mu[k]) < 1e-5,
            "drawing {k}: the prefix's own encoding"
        );
        assert!(
            diff(&whole[k], &mu[k]) > 1e-3,
            "drawing {k}: the prefix encodes differently from the whole"
        );
    }
    for bad in [[0, 7], [4, b.lengths[1] + 1]] {
        let Err(err) = model.forward_with_inputs(
            &b.strokes,
            &b.strokes,
            &b.lengths,
            Some(&bad),
            LatentInput::Posterior(None),
            None,
        ) else {
            panic!("encoder lengths {bad:?} accepted");
        };
        assert!(err.to_string().contains("encoder lengths"), "{err}");
    }
}

/// L_s and L_p on a one-component mixture, against the closed form.
#[test]
fn loss_matches_closed_form_on_a_single_gaussian() {
    let m = 1;
    // raw: pen logits (0, 0, 0), π̂ = 0, μ = (0.5, -0.5), log σ = (0, ln 2), ρ̂ = 0
    let raw = vec![0.0, 0.0, 0.0, 0.0, 0.5, -0.5, 0.0, 2f32.ln(), 0.0];
    assert_eq!(raw.len(), output_size(m));
    let logits = Tensor::from_vec(raw.repeat(2), (2, output_size(m)), &Device::Cpu).unwrap();
    // a real row (pen down) and an end row
    let target = Tensor::from_vec(
        vec![1.0f32, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        (2, 5),
        &Device::Cpu,
    )
    .unwrap();
    let (ls, lp) = reconstruction_loss(&logits, &target, m).unwrap();
    let density = bivariate_normal(1.0, 0.5, 0.5, -0.5, 1.0, 2.0, 0.0);
    let expected_ls = -(density as f64).ln() / 2.0; // only the first row counts, averaged over 2 rows
    let expected_lp = (3f64).ln(); // uniform pen over 3 states, both rows
    assert!((ls.to_scalar::<f32>().unwrap() as f64 - expected_ls).abs() < 1e-5);
    assert!((lp.to_scalar::<f32>().unwrap() as f64 - expected_lp).abs() < 1e-5);
    let mix = Mixture::from_raw(&raw, m, 1.0).unwrap();
    assert!((mix.offset_density(1.0, 0.5) - density).abs() < 1e-7);
}

/// Regression: at a low drawing temperature the sheep model never lifted its pen
/// and drew strokes of tiny jitter to N_max, because τ = 0.25 applied to the pen
/// softmax turned a 9% pen-up probability into 0.01%. The discrete choices now
/// use τ_d = 0.5 + 0.5τ (sketch-rnn-js), the offsets' σ still √τ.
#[test]
fn low_temperature_still_lifts_the_pen() {
    let m = 2;
    let up = (0.09f32 / 0.91).ln(); // pen logits: P(up) = 0.09, P(end) ≈ 0
    // pen logits, π̂ (M), μx, μy, log σx = ln 2, log σy = 0, ρ̂
    let raw = vec![
        0.0,
        up,
        -30.0,
        1.0,
        0.0,
        0.1,
        0.2,
        0.3,
        0.4,
        2f32.ln(),
        2f32.ln(),
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    assert_eq!(raw.len(), output_size(m));
    let own = Mixture::from_raw(&raw, m, 1.0).unwrap();
    assert!(
        (own.pen[1] - 0.09).abs() < 1e-5,
        "τ = 1 is the model's own: {:?}",
        own.pen
    );
    let cool = Mixture::from_raw(&raw, m, 0.25).unwrap();
    // τ_d = 0.625: P(up)/P(down) = (0.09/0.91)^1.6 ≈ 0.0247
    let expected_up = 0.0247 / 1.0247;
    assert!(
        (cool.pen[1] - expected_up).abs() < 1e-3,
        "P(pen up) at τ = 0.25: {} (expected {expected_up}; τ itself would give 1e-4)",
        cool.pen[1]
    );
    // π sharpened by τ_d too: logits (1, 0) at 1/0.625
    let pi0 = 1.0 / (1.0 + (-1.0f32 / 0.625).exp());
    assert!((cool.pi[0] - pi0).abs() < 1e-5, "{:?}", cool.pi);
    // σ by √τ
    assert!((cool.sigma_x[0] - 1.0).abs() < 1e-6 && (cool.sigma_y[0] - 0.5).abs() < 1e-6);
}

#[test]
fn kl_is_zero_at_the_prior_and_positive_elsewhere() {
    let dev = Device::Cpu;
    let zero = Tensor::zeros((2, 4), DType::F32, &dev).unwrap();
    assert!(
        kl_loss(&zero, &zero)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            .abs()
            < 1e-7
    );
    let mu = Tensor::ones((2, 4), DType::F32, &dev).unwrap();
    let kl = kl_loss(&mu, &zero).unwrap().to_scalar::<f32>().unwrap();
    assert!((kl - 0.5).abs() < 1e-6);
}

/// Gradients reach every weight of every cell through the full loss.
#[test]
fn loss_is_differentiable_for_every_cell() {
    for cell in [CellKind::Lstm, CellKind::LayerNorm, CellKind::Hyper] {
        let hp = hparams(cell, 8);
        let (vm, model) = random_model(&hp, 11);
        let ds = Dataset::new(&drawings(), 20, Some(10.0)).unwrap();
        let b = ds.batch(&[0, 1, 2], None).unwrap();
        let eps = Tensor::randn(0f32, 1.0, (3, 8), &Device::Cpu).unwrap();
        let out = model
            .forward(&b.strokes, &b.lengths, Some(&eps), None)
            .unwrap();
        let target = model.targets(&b.strokes, 3).unwrap();
        let (ls, lp) = reconstruction_loss(&out.logits, &target, 20).unwrap();
        let kl = kl_loss(out.mu.as_ref().unwrap(), out.presig.as_ref().unwrap()).unwrap();
        let loss = (ls + lp + kl).unwrap();
        assert!(loss.to_scalar::<f32>().unwrap().is_finite());
        let grads = loss.backward().unwrap();
        let data = vm.data().lock().unwrap();
        for (name, var) in data.iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{cell:?}: no gradient for {name}"));
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm.is_finite(), "{cell:?} {name}");
        }
        assert!(data.len() > 10);
    }
}

fn file_of(vm: &VarMap, hp: &HParams) -> ModelFile {
    ModelFile::from_varmap(
        ModelInfo {
            name: "test".into(),
            scale_factor: 12.5,
            max_seq_len: 20,
            hparams: hp.clone(),
            typical_size_px: None,
            latent_prior: None,
            encoder_prefix: 0.0,
        },
        vm,
    )
    .unwrap()
}

fn first_steps(model: &SketchRnn, z: Option<&[f32]>) -> Vec<Vec<f32>> {
    let mut state = model.initial_state(z).unwrap();
    let mut out = Vec::new();
    for row in std::iter::once(START_TOKEN).chain(stroke3_to_stroke5(&drawings()[0])) {
        let (s, raw) = model.step(&state, &row).unwrap();
        state = s;
        out.push(raw);
    }
    out
}

#[test]
fn safetensors_round_trip_is_exact_for_every_cell() {
    for cell in [CellKind::Lstm, CellKind::LayerNorm, CellKind::Hyper] {
        let hp = hparams(cell, 8);
        let (vm, model) = random_model(&hp, 5);
        let bytes = native::write(&file_of(&vm, &hp)).unwrap();
        let loaded = ModelFile::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.info, file_of(&vm, &hp).info);
        let again = loaded.build(&Device::Cpu).unwrap();
        let z = vec![0.3f32; 8];
        assert_eq!(first_steps(&model, Some(&z)), first_steps(&again, Some(&z)));
    }
}

/// Magenta's decoders read stroke-5 only: a model that also reads the pen
/// position exports as a plain LSTM with extra units that sum it
/// (`weights::position_units`), not with its position rows dropped. Read
/// back, it predicts what the original does up to int16 rounding (a dropped
/// position input would differ from the second row on).
#[test]
fn magenta_export_of_a_decoder_that_reads_the_pen_position_sums_it_in_extra_units() {
    let hp = HParams {
        position_input: true,
        ..hparams(CellKind::Lstm, 8)
    };
    let (vm, model) = random_model(&hp, 10);
    let (json, report) = magenta::write(&file_of(&vm, &hp)).unwrap();
    assert!(report.position_units_per_axis >= 1);
    let loaded = ModelFile::from_bytes(&json).unwrap();
    assert!(!loaded.info.hparams.position_input);
    assert_eq!(
        loaded.info.hparams.dec_size,
        hp.dec_size + 2 * report.position_units_per_axis
    );
    let again = loaded.build(&Device::Cpu).unwrap();
    let z = vec![0.3f32; 8];
    let parity = mixture_parity(&model, &again, Some(&z), &parity_input(60)).unwrap();
    assert!(parity.max_param < 2e-3, "{parity:?}");
}

/// The encoder's position input needs an encoder: a decoder-only model that
/// asks for it is refused when built, naming the field.
#[test]
fn encoder_position_input_without_an_encoder_is_refused() {
    let hp = HParams {
        encoder_position_input: true,
        ..hparams(CellKind::Lstm, 0)
    };
    let e = hp.validate().unwrap_err().to_string();
    assert!(e.contains("encoder_position_input"), "{e}");
}

/// Magenta's encoders read stroke-5 rows only: an encoder whose directions also
/// read the running sums (forwards the pen position, backwards its negation)
/// exports with extra units in each direction that sum them
/// (`weights::position_units`). Read back, it encodes a drawing as the original
/// does up to int16 rounding; the same encoder with its sums' rows zeroed
/// encodes it far off, so the bound tells a folded sum from a dropped one.
///
/// Measured 2026-12-07 (`cargo test --release --test model encoder_that --
/// --nocapture`): folded 5.0e-4, dropped 0.68; the bound leaves 4× the first.
#[test]
fn magenta_export_of_an_encoder_that_reads_the_pen_position_sums_it_in_extra_units() {
    let hp = HParams {
        position_input: true,
        encoder_position_input: true,
        ..hparams(CellKind::Lstm, 8)
    };
    let (vm, model) = random_model(&hp, 12);
    let file = file_of(&vm, &hp);
    let (json, report) = magenta::write(&file).unwrap();
    assert!(report.encoder_position_units_per_axis >= 1);
    let loaded = ModelFile::from_bytes(&json).unwrap();
    let got = &loaded.info.hparams;
    assert!(!got.encoder_position_input && !got.position_input);
    assert_eq!(
        got.enc_size,
        hp.enc_size + 2 * report.encoder_position_units_per_axis
    );
    let again = loaded.build(&Device::Cpu).unwrap();
    // Normalised units: the drawing wanders about 2.5 units from its start.
    let rows: Vec<_> = stroke3_to_stroke5(&drawings()[2])
        .into_iter()
        .map(|r| [r[0] / 12.5, r[1] / 12.5, r[2], r[3], r[4]])
        .collect();
    let folded = encoding_parity(&model, &again, &rows).unwrap().unwrap();

    let mut dropped = file.clone();
    for name in ["encoder.forward.w_xh", "encoder.backward.w_xh"] {
        let w = &file.tensors[name];
        let kept = w.narrow(0, 0, encoder::STROKE_WIDTH).unwrap();
        let zeros = Tensor::zeros((2, w.dim(1).unwrap()), DType::F32, &Device::Cpu).unwrap();
        dropped
            .tensors
            .insert(name.into(), Tensor::cat(&[&kept, &zeros], 0).unwrap());
    }
    let without_sums = dropped.build(&Device::Cpu).unwrap();
    let off = encoding_parity(&model, &without_sums, &rows)
        .unwrap()
        .unwrap();
    eprintln!("folded sums {folded:.2e}, dropped sums {off:.2e}");
    assert!(folded < 2e-3, "folded sums: max |Δμ|, |Δσ| {folded}");
    assert!(off > 20.0 * folded, "dropped sums {off}, folded {folded}");
}

/// Export to Magenta JSON and import back: the same model up to int16 quantisation.
#[test]
fn magenta_vae_export_and_import_round_trip() {
    let hp = hparams(CellKind::Lstm, 8);
    let (vm, model) = random_model(&hp, 9);
    let (json, report) = magenta::write(&file_of(&vm, &hp)).unwrap();
    assert_eq!(report.clipped, 0);
    assert!(report.max_quantisation_error <= 10.0 / 32767.0 / 2.0 + 1e-7);
    let loaded = ModelFile::from_bytes(&json).unwrap();
    assert_eq!(loaded.info.hparams, hp);
    assert_eq!(loaded.info.scale_factor, 12.5);
    let again = loaded.build(&Device::Cpu).unwrap();
    let d = stroke3_to_stroke5(&drawings()[1]);
    let (mu_a, _) = model.encode(&d[..d.len() - 1]).unwrap();
    let (mu_b, _) = again.encode(&d[..d.len() - 1]).unwrap();
    for (a, b) in mu_a.iter().zip(&mu_b) {
        assert!((a - b).abs() < 1e-2, "{a} vs {b}");
    }
    for (a, b) in first_steps(&model, Some(&mu_a))
        .iter()
        .flatten()
        .zip(first_steps(&again, Some(&mu_a)).iter().flatten())
    {
        assert!((a - b).abs() < 2e-2, "{a} vs {b}");
    }
}

#[test]
fn same_seed_same_drawing_different_seed_different_drawing() {
    let (_, model) = random_model(&hparams(CellKind::Lstm, 0), 1);
    let a = sample::generate(&model, None, 0.5, 40, 42).unwrap();
    let b = sample::generate(&model, None, 0.5, 40, 42).unwrap();
    let c = sample::generate(&model, None, 0.5, 40, 43).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn alternatives_share_the_prefix_and_differ() {
    let (_, model) = random_model(&hparams(CellKind::Lstm, 0), 2);
    let prefix = stroke3_to_stroke5(&drawings()[0]);
    let prefix = &prefix[..prefix.len() - 1];
    let alts = sample::alternatives(&model, None, prefix, 4, 0.8, 30, 1).unwrap();
    assert_eq!(alts.len(), 4);
    assert_ne!(alts[0], alts[1]);
    // the first alternative equals a completion started the same way
    let mut g = sample::start(&model, None, prefix, 1).unwrap();
    g.rng = sketch_rnn::rng::SketchRng::new(2u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let one = sample::continue_drawing(&model, g, 0.8, 30).unwrap();
    assert_same_drawing(&alts[0], &one, "alternative 0");
}

/// Batched and one-row matmuls round differently: offsets agree within this.
const SAME_DRAWING_TOLERANCE: f32 = 1e-4;

fn assert_same_drawing(a: &[[f32; 5]], b: &[[f32; 5]], what: &str) {
    common::assert_same_drawing(a, b, SAME_DRAWING_TOLERANCE, what);
}

/// The batched alternatives (one decoder batch for all endings) draw what the
/// one-by-one reference draws, for every cell, with and without a latent.
#[test]
fn batched_alternatives_match_one_by_one() {
    for cell in [CellKind::Lstm, CellKind::LayerNorm, CellKind::Hyper] {
        for z_size in [0, 8] {
            let (_, model) = random_model(&hparams(cell, z_size), 3);
            let z = (z_size > 0).then(|| vec![0.3f32; z_size]);
            let prefix = stroke3_to_stroke5(&drawings()[1]);
            let prefix = &prefix[..prefix.len() - 1];
            let batched =
                sample::alternatives(&model, z.as_deref(), prefix, 5, 0.6, 25, 9).unwrap();
            let reference =
                sample::alternatives_one_by_one(&model, z.as_deref(), prefix, 5, 0.6, 25, 9)
                    .unwrap();
            for (k, (a, b)) in batched.iter().zip(&reference).enumerate() {
                assert_same_drawing(a, b, &format!("{cell:?} z {z_size} ending {k}"));
            }
        }
    }
}

#[test]
fn old_magenta_vae_versions_apply_tanh_to_z() {
    let hp = hparams(CellKind::Lstm, 8);
    let (vm, _) = random_model(&hp, 4);
    let (json, _) = magenta::write(&file_of(&vm, &hp)).unwrap();
    let text = String::from_utf8(json)
        .unwrap()
        .replacen("\"version\":6", "\"version\":5", 1);
    let loaded = ModelFile::from_bytes(text.as_bytes()).unwrap();
    assert!(loaded.info.hparams.latent_tanh);
    let model = loaded.build(&Device::Cpu).unwrap();
    // tanh saturates: two huge latents give the same drawing distribution...
    assert_eq!(
        first_steps(&model, Some(&[50.0; 8])),
        first_steps(&model, Some(&[80.0; 8]))
    );
    assert_ne!(
        first_steps(&model, Some(&[50.0; 8])),
        first_steps(&model, Some(&[0.1; 8]))
    );
    // ...which they do not without it (version 6)
    let current = ModelFile::from_bytes(&magenta::write(&file_of(&vm, &hp)).unwrap().0).unwrap();
    assert!(!current.info.hparams.latent_tanh);
    let model = current.build(&Device::Cpu).unwrap();
    assert_ne!(
        first_steps(&model, Some(&[50.0; 8])),
        first_steps(&model, Some(&[80.0; 8]))
    );
}

/// Asserts `max |a − b| < tolerance`.
fn assert_close(a: &Tensor, b: &Tensor, tolerance: f32, what: &str) {
    let d = max_abs_diff(a, b);
    assert!(d < tolerance, "{what}: max |diff| {d}");
}

/// The fused LSTM ops and their hand-written backward passes against candle's
/// autograd of the unfused formula (forward and gradients within 1e-5).
#[test]
fn fused_lstm_matches_autograd_of_the_formula() {
    use candle_core::Var;
    use sketch_rnn::model::fused::{CellOutput, CellState};
    let dev = Device::Cpu;
    let mut rng = sketch_rnn::rng::SketchRng::new(17);
    let mut randn = |shape: (usize, usize), s: f32| {
        let v: Vec<f32> = (0..shape.0 * shape.1).map(|_| s * rng.normal()).collect();
        Tensor::from_vec(v, shape, &dev).unwrap()
    };
    let (b, h) = (3, 5);
    let gates = Var::from_tensor(&randn((b, 4 * h), 1.5)).unwrap();
    let c = Var::from_tensor(&randn((b, h), 1.0)).unwrap();
    let mask = randn((b, h), 1.0)
        .ge(0.0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .affine(1.0 / 0.9, 0.0)
        .unwrap();
    let (wc, wh) = (randn((b, h), 1.0), randn((b, h), 1.0));
    // fused
    let c1 = gates
        .as_tensor()
        .apply_op3(c.as_tensor(), &mask, CellState)
        .unwrap();
    let h1 = c1.apply_op2(gates.as_tensor(), CellOutput).unwrap();
    let loss1 = ((&c1 * &wc).unwrap().sum_all().unwrap() + (&h1 * &wh).unwrap().sum_all().unwrap())
        .unwrap();
    let g1 = loss1.backward().unwrap();
    // unfused reference
    let g = gates.as_tensor();
    let sig = |t: &Tensor| candle_nn::ops::sigmoid(t).unwrap();
    let i = sig(&g.narrow(1, 0, h).unwrap());
    let cand = g.narrow(1, h, h).unwrap().tanh().unwrap();
    let f = sig(&(g.narrow(1, 2 * h, h).unwrap() + 1.0).unwrap());
    let o = sig(&g.narrow(1, 3 * h, h).unwrap());
    let c2 = ((c.as_tensor() * &f).unwrap() + (&i * &cand).unwrap().mul(&mask).unwrap()).unwrap();
    let h2 = (c2.tanh().unwrap() * &o).unwrap();
    let loss2 = ((&c2 * &wc).unwrap().sum_all().unwrap() + (&h2 * &wh).unwrap().sum_all().unwrap())
        .unwrap();
    let g2 = loss2.backward().unwrap();
    let close = |a: &Tensor, b: &Tensor, what: &str| assert_close(a, b, 1e-5, what);
    close(&c1, &c2, "c'");
    close(&h1, &h2, "h'");
    close(
        g1.get(gates.as_tensor()).unwrap(),
        g2.get(gates.as_tensor()).unwrap(),
        "d gates",
    );
    close(
        g1.get(c.as_tensor()).unwrap(),
        g2.get(c.as_tensor()).unwrap(),
        "d c",
    );
}

/// The whole-sequence LSTM op (one node, hand-written BPTT) against the
/// step-by-step cell under candle's autograd: same outputs and same gradients
/// for every weight, the latent and the initial state (within 1e-4), with
/// recurrent dropout drawn from equal seeds.
#[test]
fn lstm_sequence_op_matches_step_by_step_autograd() {
    use candle_core::Var;
    use sketch_rnn::model::cell::{Cell, CellState, Dropout};
    use sketch_rnn::rng::SketchRng;
    let dev = Device::Cpu;
    let (steps, batch, units, z_size) = (7, 3, 6, 4);
    let vm = VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev);
    let cell = Cell::new(vb, CellKind::Lstm, 5 + z_size, units).unwrap();
    let mut rng = SketchRng::new(5);
    let mut randn = |shape: &[usize], s: f32| {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| s * rng.normal()).collect();
        Tensor::from_vec(v, shape, &dev).unwrap()
    };
    for var in vm.all_vars() {
        var.set(&randn(var.dims(), 0.5)).unwrap();
    }
    let z = Var::from_tensor(&randn(&[batch, z_size], 1.0)).unwrap();
    let c0 = Var::from_tensor(&randn(&[batch, units], 0.5)).unwrap();
    let h0 = Var::from_tensor(&randn(&[batch, units], 0.5)).unwrap();
    let xs = randn(&[steps, batch, 5], 1.0);
    let weight = randn(&[steps, batch, units], 1.0);
    let state = CellState {
        c: c0.as_tensor().clone(),
        h: h0.as_tensor().clone(),
        hyper: None,
    };
    let run = |sequence: bool| {
        let cond = cell.condition(5, Some(z.as_tensor())).unwrap();
        let mut drop_rng = SketchRng::new(11);
        let mut dropout = Dropout {
            keep: 0.7,
            rng: &mut drop_rng,
        };
        let hs = if sequence {
            cell.sequence(&xs, &cond, &state, Some(&mut dropout), None)
                .unwrap()
        } else {
            let mut s = state.clone();
            let mut hs = Vec::new();
            for t in 0..steps {
                let mask = dropout.masks(&cell, batch).unwrap();
                s = cell
                    .step(&xs.get(t).unwrap(), &cond, &s, Some(&mask))
                    .unwrap();
                hs.push(s.h.clone());
            }
            Tensor::stack(&hs, 0).unwrap()
        };
        let loss = (&hs * &weight).unwrap().sum_all().unwrap();
        (hs, loss.backward().unwrap())
    };
    let (hs1, g1) = run(true);
    let (hs2, g2) = run(false);
    let close = |a: &Tensor, b: &Tensor, what: &str| assert_close(a, b, 1e-4, what);
    close(&hs1, &hs2, "h");
    let mut checked = 0;
    for var in vm.all_vars().iter().chain([&z, &c0, &h0]) {
        let (a, b) = (g1.get(var.as_tensor()), g2.get(var.as_tensor()));
        let (a, b) = (a.expect("sequence gradient"), b.expect("step gradient"));
        assert!(
            b.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                > 1e-3
        );
        close(a, b, &format!("gradient of {:?}", var.dims()));
        checked += 1;
    }
    assert_eq!(checked, 6, "w_xh, w_hh, bias, z, c0, h0");
}

/// A latent given to the teacher-forced pass replaces the posterior's: with
/// `z = μ + σ ε` given explicitly the logits are those of `forward(ε)`, another
/// latent changes them, and a latent of the wrong shape is refused.
#[test]
fn forward_with_a_given_latent() {
    use sketch_rnn::model::LatentInput;
    let hp = hparams(CellKind::Lstm, 8);
    let (_vm, model) = random_model(&hp, 5);
    let ds = Dataset::new(&drawings(), 20, Some(10.0)).unwrap();
    let b = ds.batch(&[0, 1], None).unwrap();
    let eps = Tensor::randn(0f32, 1.0, (2, 8), &Device::Cpu).unwrap();
    let own = model
        .forward(&b.strokes, &b.lengths, Some(&eps), None)
        .unwrap();
    let (mu, presig) = (own.mu.as_ref().unwrap(), own.presig.as_ref().unwrap());
    let z = (mu + (presig * 0.5).unwrap().exp().unwrap().mul(&eps).unwrap()).unwrap();
    let given = model
        .forward_with_latent(&b.strokes, &b.lengths, LatentInput::Given(&z), None)
        .unwrap();
    let diff = max_abs_diff;
    assert!(diff(&own.logits, &given.logits) < 1e-5);
    let other = model
        .forward_with_latent(&b.strokes, &b.lengths, LatentInput::Given(&eps), None)
        .unwrap();
    assert!(diff(&own.logits, &other.logits) > 1e-3);
    // L_KL's inputs are the drawings' own whatever the decoder is given.
    assert_eq!(diff(mu, other.mu.as_ref().unwrap()), 0.0);
    let wrong = Tensor::zeros((2, 7), DType::F32, &Device::Cpu).unwrap();
    let e = model
        .forward_with_latent(&b.strokes, &b.lengths, LatentInput::Given(&wrong), None)
        .unwrap_err();
    assert!(e.to_string().contains("given latent"), "{e}");
}

/// `ModelFile::average` refuses what cannot be averaged: no models, different
/// architectures, a missing tensor, a tensor of another shape.
#[test]
fn average_refuses_models_that_do_not_match() {
    let file = |hp: &HParams, seed: u64| {
        let (vm, _) = random_model(hp, seed);
        ModelFile::from_varmap(
            ModelInfo {
                name: "m".into(),
                scale_factor: 10.0,
                max_seq_len: 20,
                hparams: hp.clone(),
                typical_size_px: None,
                latent_prior: None,
                encoder_prefix: 0.0,
            },
            &vm,
        )
        .unwrap()
    };
    let hp = hparams(CellKind::Lstm, 8);
    let a = file(&hp, 1);
    let msg = |r: sketch_rnn::Result<ModelFile>| r.unwrap_err().to_string();
    assert!(msg(ModelFile::average(&[])).contains("no models"));
    let other = file(&hparams(CellKind::Lstm, 4), 2);
    let m = msg(ModelFile::average(&[a.clone(), other]));
    assert!(
        m.contains("model 1") && m.contains("hyperparameters"),
        "{m}"
    );
    let mut renamed = file(&hp, 3);
    let t = renamed.tensors.remove("decoder.output.bias").unwrap();
    renamed.tensors.insert("decoder.output.bias2".into(), t);
    let m = msg(ModelFile::average(&[a.clone(), renamed]));
    assert!(m.contains("no tensor 'decoder.output.bias'"), "{m}");
    let mut reshaped = file(&hp, 4);
    let t = reshaped.tensors["decoder.output.bias"].clone();
    let n = t.dim(0).unwrap();
    reshaped
        .tensors
        .insert("decoder.output.bias".into(), t.reshape((1, n)).unwrap());
    let m = msg(ModelFile::average(&[a.clone(), reshaped]));
    assert!(
        m.contains("decoder.output.bias") && m.contains("shape"),
        "{m}"
    );
    // One model averages to itself.
    let same = ModelFile::average(std::slice::from_ref(&a)).unwrap();
    for (name, t) in &a.tensors {
        assert_eq!(max_abs_diff(t, &same.tensors[name]), 0.0, "{name}");
    }
}

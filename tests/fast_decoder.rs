//! The fast decoder path (`model::fast`) against candle's reference model:
//! every mixture parameter within `FAST_PATH_TOLERANCE` over long inputs, on
//! random models, the committed default model and a Magenta model; batched
//! alternative endings draw what the reference draws; cells without a fast
//! path fall back to the reference.

mod common;

use candle_core::Device;
use sketch_rnn::model::fast::FastDecoder;
use sketch_rnn::model::{CellKind, HParams, SketchRnn};
use sketch_rnn::sample::{self, Engine};
use sketch_rnn::session::Session;
use sketch_rnn::stroke::{START_TOKEN, Stroke5};
use sketch_rnn::weights::{ModelFile, mixture_parity, parity_input};

/// Largest `|Δ|` allowed on any mixture parameter (π, μ, σ, ρ, pen at τ = 1)
/// between the fast path and candle (issue 5). Both are f32 with different
/// summation orders; measured worst cases are printed by each test.
const FAST_PATH_TOLERANCE: f32 = 1e-4;

fn hparams(cell: CellKind, z_size: usize, dec_size: usize) -> HParams {
    HParams {
        enc_size: 16,
        dec_size,
        z_size,
        num_mixtures: 20,
        cell,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    }
}

fn random_model(hp: &HParams, seed: u64) -> SketchRnn {
    common::random_model(hp, seed, 0.1).1
}

/// The fast path of `model` against the reference over `rows` (start token
/// first); returns the worst absolute difference.
fn worst_difference(model: &SketchRnn, z: Option<&[f32]>, rows: &[Stroke5]) -> f32 {
    let fast = FastDecoder::from_model(model)
        .unwrap()
        .expect("an LSTM has a fast path");
    let parity = mixture_parity(model, &fast, z, rows).unwrap();
    parity.max_abs
}

#[test]
fn fast_path_matches_candle_on_every_mixture_parameter() {
    // Sizes that exercise the kernels' edges: units not a multiple of 4, a
    // column tile boundary (4H > 256), and several tiles.
    // The last two read the pen position, which the fast state sums in `x`.
    let cases = [
        (13, 0, 1, false),
        (24, 8, 2, false),
        (100, 0, 3, false),
        (96, 16, 4, false),
        (24, 8, 5, true),
        (100, 0, 6, true),
    ];
    for (dec_size, z_size, seed, position_input) in cases {
        let hp = HParams {
            position_input,
            ..hparams(CellKind::Lstm, z_size, dec_size)
        };
        let model = random_model(&hp, seed);
        let z: Option<Vec<f32>> =
            (z_size > 0).then(|| (0..z_size).map(|i| (i as f32 * 0.37).sin()).collect());
        let worst = worst_difference(&model, z.as_deref(), &parity_input(250));
        eprintln!("dec {dec_size} z {z_size}: worst |Δ| {worst:e}");
        assert!(worst <= FAST_PATH_TOLERANCE, "dec {dec_size}: {worst}");
    }
}

#[test]
fn fast_path_matches_candle_on_the_default_model() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/models/sheep.safetensors"
    ))
    .unwrap();
    let model = ModelFile::from_bytes(&bytes)
        .unwrap()
        .build(&Device::Cpu)
        .unwrap();
    let z: Vec<f32> = (0..model.hparams.z_size)
        .map(|i| (i as f32 * 0.71).cos())
        .collect();
    let worst = worst_difference(&model, Some(&z), &parity_input(250));
    eprintln!("default model: worst |Δ| {worst:e}");
    assert!(worst <= FAST_PATH_TOLERANCE, "{worst}");
}

/// Magenta's 512-unit sheep (the benchmark's model), on a real drawing of the
/// data it was trained on's shape: early steps tightly. Late steps of long
/// inputs may drift apart between any two float implementations (see
/// `../shared/notes/peer-libraries.md`), so this checks the first 100 steps.
#[test]
fn fast_path_matches_candle_on_a_magenta_model() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let bytes = std::fs::read(shared.join("models/magenta/sheep.gen.json")).unwrap();
    let model = ModelFile::from_bytes(&bytes)
        .unwrap()
        .build(&Device::Cpu)
        .unwrap();
    assert_eq!(model.hparams.dec_size, 512);
    let worst = worst_difference(&model, None, &parity_input(100));
    eprintln!("magenta sheep: worst |Δ| {worst:e}");
    assert!(worst <= FAST_PATH_TOLERANCE, "{worst}");
}

#[test]
fn fast_alternatives_draw_what_the_reference_draws() {
    for z_size in [0, 8] {
        let model = random_model(&hparams(CellKind::Lstm, z_size, 40), 5);
        let fast = FastDecoder::from_model(&model).unwrap().unwrap();
        let z = (z_size > 0).then(|| vec![0.3f32; z_size]);
        let prefix = &parity_input(12)[1..];
        let reference = sample::alternatives(&model, z.as_deref(), prefix, 5, 0.5, 30, 11).unwrap();
        let batched = sample::alternatives(&fast, z.as_deref(), prefix, 5, 0.5, 30, 11).unwrap();
        assert_eq!(reference.len(), batched.len());
        for (k, (a, b)) in reference.iter().zip(&batched).enumerate() {
            // 1e-3: after 30 sampled steps the two engines' rounding compounds.
            common::assert_same_drawing(a, b, 1e-3, &format!("z {z_size} ending {k}"));
        }
    }
}

#[test]
fn cells_without_a_fast_path_fall_back_to_the_reference() {
    for cell in [CellKind::LayerNorm, CellKind::Hyper] {
        let hp = hparams(cell, 0, 24);
        let model = random_model(&hp, 6);
        assert!(FastDecoder::from_model(&model).unwrap().is_none());
        let info = sketch_rnn::weights::ModelInfo {
            name: "t".into(),
            scale_factor: 10.0,
            max_seq_len: 250,
            hparams: hp,
            typical_size_px: None,
            latent_prior: None,
            encoder_prefix: 0.0,
        };
        let session = Session::from_model(model, info).unwrap();
        assert!(matches!(session.engine(), Engine::Reference(_)));
        let drawing = [[3.0, 4.0, 0.0], [5.0, -2.0, 1.0]];
        assert_eq!(session.fast_path_parity(None, &drawing).unwrap(), None);
    }
}

#[test]
fn fast_state_rejects_a_batch_of_the_wrong_size() {
    let model = random_model(&hparams(CellKind::Lstm, 0, 16), 7);
    let fast = FastDecoder::from_model(&model).unwrap().unwrap();
    let mut state = fast.initial_state(None, 3).unwrap();
    let err = fast.step(&mut state, &[START_TOKEN; 2]).unwrap_err();
    assert!(err.to_string().contains("decoder inputs"), "{err}");
    assert!(fast.step(&mut state, &[START_TOKEN; 3]).is_ok());
}

#[test]
fn fast_decoder_rejects_a_latent_of_the_wrong_size() {
    let model = random_model(&hparams(CellKind::Lstm, 8, 16), 8);
    let fast = FastDecoder::from_model(&model).unwrap().unwrap();
    assert!(fast.initial_state(Some(&[0.0; 7]), 1).is_err());
    assert!(fast.initial_state(None, 1).is_err());
    assert!(fast.initial_state(Some(&[f32::NAN; 8]), 1).is_err());
    assert!(fast.initial_state(Some(&[0.0; 8]), 1).is_ok());
}

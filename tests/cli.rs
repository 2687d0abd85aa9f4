//! The `sketch-rnn` binary: VAE tracing, conversions, sampling and info.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use sketch_rnn::model::{CellKind, HParams, SketchRnn};
use sketch_rnn::weights::{ModelFile, ModelInfo, magenta};

mod common;

use common::bin;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sketch-rnn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    common::assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn write_vae(path: &Path) {
    let hp = HParams {
        enc_size: 16,
        dec_size: 32,
        z_size: 8,
        num_mixtures: 20,
        cell: CellKind::Lstm,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    };
    let vm = candle_nn::VarMap::new();
    SketchRnn::init(&hp, &vm, &Device::Cpu, 3).unwrap();
    let info = ModelInfo {
        name: "tiny-vae".into(),
        scale_factor: 20.0,
        max_seq_len: 40,
        hparams: hp,
        typical_size_px: Some(200.0),
        latent_prior: None,
        encoder_prefix: 0.0,
    };
    let (json, _) = magenta::write(&ModelFile::from_varmap(info, &vm).unwrap()).unwrap();
    std::fs::write(path, json).unwrap();
}

#[test]
fn vae_trace_with_z_equals_trace_with_the_encoded_drawing() {
    let vae = tmp("tiny.vae.json");
    write_vae(&vae);
    let drawing = tmp("drawing.json");
    std::fs::write(
        &drawing,
        "[[0.5,0.1,1,0,0],[0.2,-0.3,1,0,0],[0.1,0.4,0,1,0]]",
    )
    .unwrap();
    let input = tmp("input.json");
    std::fs::write(&input, "[[0,0,1,0,0],[0.5,0.1,1,0,0],[0.2,-0.3,1,0,0]]").unwrap();
    let by_encoding = run(bin()
        .arg("trace")
        .arg("--model")
        .arg(&vae)
        .arg("--input")
        .arg(&input)
        .arg("--strokes-to-encode")
        .arg(&drawing));
    let file = ModelFile::from_bytes(&std::fs::read(&vae).unwrap()).unwrap();
    let model = file.build(&Device::Cpu).unwrap();
    let (mu, _) = model
        .encode(&[
            [0.5, 0.1, 1., 0., 0.],
            [0.2, -0.3, 1., 0., 0.],
            [0.1, 0.4, 0., 1., 0.],
        ])
        .unwrap();
    let by_z = run(bin()
        .arg("trace")
        .arg("--model")
        .arg(&vae)
        .arg("--input")
        .arg(&input)
        .arg("--z")
        .arg(serde_json::to_string(&mu).unwrap()));
    assert_eq!(by_encoding, by_z);
    let v: serde_json::Value = serde_json::from_str(&by_z).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    assert_eq!(v["steps"][0]["pi"].as_array().unwrap().len(), 20);
    // a VAE without a latent is refused with a clear message
    let out = bin()
        .arg("trace")
        .arg("--model")
        .arg(&vae)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--z or --strokes-to-encode"));
}

#[test]
fn magenta_json_to_safetensors_and_back() {
    let vae = tmp("conv.vae.json");
    write_vae(&vae);
    let st = tmp("conv.safetensors");
    let back = tmp("back.vae.json");
    run(bin().arg("convert").arg(&vae).arg(&st));
    run(bin().arg("convert").arg(&st).arg(&back));
    // int16 weights survive f32 and back exactly
    let a: serde_json::Value = serde_json::from_slice(&std::fs::read(&vae).unwrap()).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&std::fs::read(&back).unwrap()).unwrap();
    assert_eq!(a[1], b[1]);
    assert_eq!(a[2], b[2]);
    let info = run(bin().arg("info").arg(&st));
    assert!(
        info.contains("tiny-vae") && info.contains("encoder.forward.w_xh"),
        "{info}"
    );
}

#[test]
fn ndjson_to_npz_to_ndjson() {
    let nd = tmp("cats.ndjson");
    std::fs::write(
        &nd,
        concat!(
            r#"{"word":"cat","recognized":true,"drawing":[[[0,10,20,30],[0,1,0,1],[0,1,2,3]],[[5,6],[5,9],[4,5]]]}"#,
            "\n",
            r#"{"word":"cat","recognized":false,"drawing":[[[1,2],[3,4]]]}"#,
            "\n",
            r#"{"word":"dog","recognized":true,"drawing":[[[0,40],[0,40]]]}"#,
            "\n",
            r#"{"word":"cat","recognized":true,"drawing":[[[9,19],[9,0]]]}"#,
            "\n"
        ),
    )
    .unwrap();
    let npz = tmp("cats.npz");
    let out = bin()
        .arg("convert")
        .arg(&nd)
        .arg(&npz)
        .args(["--word", "cat", "--recognized-only"])
        .output()
        .unwrap();
    common::assert_success(&out);
    let s = sketch_rnn::dataset::read_npz(&std::fs::read(&npz).unwrap()).unwrap();
    assert_eq!(s.train.len(), 2);
    assert_eq!(s.train[1], vec![[9.0, 9.0, 0.0], [10.0, -9.0, 1.0]]);
    let back = tmp("back.ndjson");
    run(bin()
        .arg("convert")
        .arg(&npz)
        .arg(&back)
        .args(["--word", "cat"]));
    let again =
        sketch_rnn::dataset::ndjson::read_ndjson(&std::fs::read(&back).unwrap(), 0.0).unwrap();
    assert_eq!(
        again.iter().map(|d| d.strokes.clone()).collect::<Vec<_>>(),
        s.train
    );
}

#[test]
fn sample_writes_svg_and_png() {
    let vae = tmp("sample.vae.json");
    write_vae(&vae);
    let prefix = tmp("grid");
    run(bin()
        .arg("sample")
        .arg("--model")
        .arg(&vae)
        .args(["-n", "4", "--cols", "2", "-o"])
        .arg(&prefix));
    let svg = std::fs::read_to_string(prefix.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<path"));
    let png = std::fs::read(prefix.with_extension("png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn info_on_aaron_sheep() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let out = run(bin().arg("info").arg(shared.join("data/aaron_sheep.npz")));
    assert!(out.contains("train:   7400 drawings"), "{out}");
}

/// `sketch-rnn info M | head -1` panicked ("failed printing to stdout:
/// Broken pipe") when the reader closed the pipe before `info` had printed.
#[test]
fn output_to_a_closed_pipe_does_not_panic() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let mut child = bin()
        .arg("info")
        .arg(&model)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // close the reading end at once, while the model is still loading
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn eval_test_split(model: &Path, data: &Path, latent: &str) -> serde_json::Value {
    common::eval_json(model, data, &["--split", "test", "--latent", latent])
}

/// The shipped sheep VAE must use its latent: decoding the test drawings from a
/// draw of the prior instead of their own z must cost clearly more. Measured
/// 2026-11-28 (`sketch-rnn eval --split test --latent posterior|prior`): the
/// step-25,500 model L_R −0.010 from the posterior and 0.234 from the prior; the
/// mean of steps 32,175–33,250 −0.079 and 0.186; the mean of steps
/// 42,700–43,825 −0.117 and 0.175; that mean fine-tuned at KL weight 0.1 (mean
/// of its steps 8,583–9,095) −0.203 and 0.307; that fine-tuned again at KL
/// weight 0.05 (mean of its steps 3,900–4,375) −0.215 and 0.341, and the same
/// run resumed (mean of its steps 8,625–9,100) −0.236 and 0.398; that
/// fine-tuned at KL weight 0.025 (mean of its steps 5,825–6,300, shipped
/// 2026-11-29) −0.253 and 0.493. The model shipped since 2026-12-07, trained
/// from scratch with the pen position as a decoder input (mean of its stage 4's
/// steps 4,025–4,500): −0.283 and 0.371. The model shipped since that evening
/// (both position inputs, `--encoder-prefix 0.25`): −0.342 and 0.321; the one
/// shipped since that night (a sixth stage without dropout or augmentation):
/// −0.546 and 0.221; the one shipped since late that night (the sixth stage run
/// to 10,000 steps): −0.658 and 0.293; the one shipped since 2026-12-08 (a
/// seventh stage with the encoder reading simplified drawings): −0.595 and
/// 0.176. A collapsed posterior (a decoder that
/// ignores z) would give the same figure twice.
#[test]
fn shipped_sheep_model_decodes_better_from_its_own_latent_than_from_the_prior() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let data = shared.join("data/aaron_sheep.npz");
    let own = eval_test_split(&model, &data, "posterior");
    let prior = eval_test_split(&model, &data, "prior");
    assert_eq!(own["latent"], "posterior");
    assert_eq!(prior["latent"], "prior");
    let (own_lr, prior_lr) = (
        own["lr_total"].as_f64().unwrap(),
        prior["lr_total"].as_f64().unwrap(),
    );
    assert!(
        prior_lr > own_lr + 0.1,
        "L_R from the prior {prior_lr} should exceed L_R from the posterior {own_lr} by > 0.1"
    );
    // L_KL is the drawings' own whichever latent the decoder gets.
    assert_eq!(own["kl"], prior["kl"]);
}

fn reconstruction_score(model: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run(bin()
        .arg("reconstruct")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .args(["--split", "test", "-n", "150", "--seed", "1", "--score"])
        .args(extra));
    serde_json::from_str(&out).unwrap()
}

/// Redraw (`Session::redraw`, here `reconstruct --candidates 8`) decodes each
/// noisy latent eight times and keeps the decoding nearest its input, so its
/// redraws keep their inputs' layout far better than one decoding. Measured
/// 2026-12-07 on the model shipped since late that night (`sketch-rnn
/// reconstruct --model www/models/sheep.safetensors --data aaron_sheep.npz
/// --split test -n 150 --seed 1 --score [--candidates 8]`, τ 0.2, noise 1):
/// pairwise 0.684 for one decoding, 0.888 for the nearest of 8 (over 300: 0.704
/// and 0.888; seeds 2 and 3 of the latter 0.889 and 0.879). The model shipped
/// since 2026-12-08 (a seventh stage with `--encoder-simplify 12`): 0.705 and
/// 0.896 (over 300: 0.708 and 0.898; seeds 2 and 3 of the latter 0.884 and
/// 0.892). Asserted: above 0.8
/// and 0.1 above one decoding. A choice that ignored the input (or kept a
/// random candidate) would score as one decoding does.
#[test]
fn shipped_sheep_redraws_keep_their_inputs_layout_better_than_one_decoding() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let data = shared.join("data/aaron_sheep.npz");
    let one = reconstruction_score(&model, &data, &[]);
    let nearest = reconstruction_score(&model, &data, &["--candidates", "8"]);
    assert_eq!(
        (one["candidates"].as_u64(), nearest["candidates"].as_u64()),
        (Some(1), Some(8))
    );
    let (one_p, nearest_p) = (
        one["pairwise"].as_f64().unwrap(),
        nearest["pairwise"].as_f64().unwrap(),
    );
    assert!(
        nearest_p > 0.8 && nearest_p > one_p + 0.1,
        "pairwise: nearest of 8 {nearest_p}, one decoding {one_p}"
    );
}

/// The shipped sheep VAE's reconstructions keep something of their inputs'
/// layout: each is nearer its own input (Chamfer distance of outlines in a unit
/// box, `shape_distance`) than most other test drawings, and clearly more often
/// than a decoding from a draw of the prior, which is at chance (0.5). Measured
/// 2026-11-29 (`sketch-rnn reconstruct --model www/models/sheep.safetensors
/// --data aaron_sheep.npz --split test -n 150 --seed 1 --score [--from-prior]`,
/// τ 0.2, noise 1): pairwise 0.597 from the drawings' own latents, 0.508 from
/// the prior. Over all 300 test drawings and seeds 1–3: 0.625–0.630 and
/// 0.492–0.512. (The model shipped before it, stage 3's mean: 0.576 and 0.476
/// here, 0.597–0.617 and 0.490–0.500 over 300.) The model shipped since
/// 2026-12-07, which reads the pen position (`--position-input`), measured the
/// same way that day: 0.673 and 0.516 (over 300 and seeds 1–5: 0.638–0.679).
/// The model shipped since that evening (both position inputs,
/// `--encoder-prefix 0.25`), measured the same way that day: 0.698 and 0.498
/// (over 300 and seeds 1–5: 0.678–0.712). The model shipped since that night
/// (a sixth stage without dropout or augmentation): 0.694 and 0.446 (over 300
/// and seeds 1–5: 0.679–0.710; from the prior over 300, seed 1: 0.469). The
/// one shipped since late that night (stage 6 run to 10,000 steps): 0.684 and
/// 0.450 (over 300 and seeds 1–5: 0.684–0.704; from the prior over 300, seed
/// 1: 0.467). The one shipped since 2026-12-08 (a seventh stage with
/// `--encoder-simplify 12`): 0.705 and 0.471 (over 300 and seeds 1–5:
/// 0.675–0.708; from the prior over 300, seed 1: 0.492). The bound on the own latent, 0.63, is one the paper-architecture model (0.597
/// here) fails and leaves 0.05 below the model now shipped. Decodings from the
/// prior are at chance; over 150 drawings one seed's figure strays from 0.5 by
/// a few hundredths (0.446 is 0.054 below), so the bound allows 0.08.
/// A decoder that ignored its latent, or an encoder that read the wrong
/// drawing, would score near 0.5 both ways.
#[test]
fn shipped_sheep_reconstructions_are_nearer_their_own_inputs_than_prior_decodings_are() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let data = shared.join("data/aaron_sheep.npz");
    let own = reconstruction_score(&model, &data, &[]);
    let prior = reconstruction_score(&model, &data, &["--from-prior"]);
    assert_eq!(
        (own["latent"].as_str(), prior["latent"].as_str()),
        (Some("posterior"), Some("prior"))
    );
    assert_eq!(own["n"], 150);
    assert_eq!(own["ranks"].as_array().unwrap().len(), 150);
    let (own_p, prior_p) = (
        own["pairwise"].as_f64().unwrap(),
        prior["pairwise"].as_f64().unwrap(),
    );
    assert!(
        own_p > 0.63,
        "pairwise from the own latent {own_p}, expected > 0.63"
    );
    assert!(
        (prior_p - 0.5).abs() < 0.08,
        "pairwise from the prior {prior_p}, expected 0.5 ± 0.08"
    );
    assert!(
        own_p > prior_p + 0.05,
        "{own_p} should exceed {prior_p} by > 0.05"
    );
}

/// `fit-prior` writes the model with a Gaussian fitted to its latents, which
/// `sample` then draws from. New drawings from the shipped sheep model's fitted
/// prior lie nearer the human test drawings than draws of N(0, I) give
/// (`reconstruct --from-prior [--standard-prior] --score`, the median Chamfer
/// distance from a drawing to the test drawings). Measured 2026-12-01, n 150,
/// τ 0.2: seed 1 0.0570 against 0.0631, seed 2 0.0586 against 0.0650 (n 300,
/// τ 0.3, seed 1: 0.0576 against 0.0628). The model shipped since 2026-12-07
/// (pen position input) gains less from its fitted prior, whose latents lie
/// nearer N(0, I) (mean variance per dimension 0.663, against 0.216): measured
/// 2026-12-07, n 150, τ 0.2, seed 1 0.0575 against 0.0593, seed 2 0.0581
/// against 0.0599 (n 300, τ 0.3, seed 1: 0.0582 against 0.0595). The model
/// shipped since that evening (both position inputs, `--encoder-prefix 0.25`;
/// mean variance 0.534), measured the same way that day: seed 1 0.0574 against
/// 0.0625, seed 2 0.0568 against 0.0627; the one shipped since that night (a
/// sixth stage without dropout or augmentation; mean variance 0.433): seed 1
/// 0.0577 against 0.0613, seed 2 0.0568 against 0.0641; the one shipped since
/// late that night (stage 6 run to 10,000 steps; mean variance 0.378): seed 1
/// 0.0579 against 0.0643, seed 2 0.0590 against 0.0661; the one shipped since
/// 2026-12-08 (a seventh stage with `--encoder-simplify 12`; mean variance
/// 0.378): seed 1 0.0567 against 0.0651, seed 2 0.0572 against 0.0656. The bound leaves a
/// quarter of the smallest gap.
#[test]
fn shipped_sheep_new_drawings_from_its_fitted_prior_lie_nearer_human_sheep() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let data = shared.join("data/aaron_sheep.npz");
    let fitted = reconstruction_score(&model, &data, &["--from-prior"]);
    let standard = reconstruction_score(&model, &data, &["--from-prior", "--standard-prior"]);
    let (f, s) = (
        fitted["median_other_distance"].as_f64().unwrap(),
        standard["median_other_distance"].as_f64().unwrap(),
    );
    assert!(
        f < s - 0.0009,
        "median distance to the test sheep: fitted prior {f}, N(0, I) {s}; expected the fitted one lower by > 0.0009"
    );
}

#[test]
fn fit_prior_writes_a_model_whose_new_drawings_use_it() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let vae = tmp("fit-prior.vae.json");
    write_vae(&vae);
    let out = tmp("fit-prior.safetensors");
    let log = bin()
        .arg("fit-prior")
        .arg("--model")
        .arg(&vae)
        .arg("--data")
        .arg(shared.join("data/aaron_sheep.npz"))
        .args(["--split", "valid", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    common::assert_success(&log);
    let file = ModelFile::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    let prior = file.info.latent_prior.expect("a fitted prior");
    // the tiny model keeps validation drawings of up to 40 rows
    let splits =
        sketch_rnn::dataset::read_npz(&std::fs::read(shared.join("data/aaron_sheep.npz")).unwrap())
            .unwrap();
    let kept = splits
        .valid
        .iter()
        .filter(|d| !d.is_empty() && d.len() <= 40)
        .count();
    assert_eq!(prior.drawings, kept);
    assert_eq!(prior.z_size(), 8);
    prior.validate(8).unwrap();
    let info = run(bin().arg("info").arg(&out));
    assert!(
        info.contains(&format!("latent prior: fitted to {kept} drawings")),
        "{info}"
    );
    assert!(run(bin().arg("info").arg(&vae)).contains("latent prior: N(0, I)"));
    let sample = |extra: &[&str]| {
        let prefix = tmp(&format!("fit-prior-sample{}", extra.len()));
        run(bin()
            .arg("sample")
            .arg("--model")
            .arg(&out)
            .args(["-n", "2", "-o"])
            .arg(&prefix)
            .args(extra));
        std::fs::read(prefix.with_extension("svg")).unwrap()
    };
    assert_ne!(sample(&[]), sample(&["--standard-prior"]));
}

#[test]
fn fit_prior_refuses_a_decoder_only_model() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let decoder_only = shared.join("models/magenta/bird.gen.json");
    let out = bin()
        .arg("fit-prior")
        .arg("--model")
        .arg(&decoder_only)
        .arg("--data")
        .arg(shared.join("data/aaron_sheep.npz"))
        .arg("-o")
        .arg(tmp("never.safetensors"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decoder-only"), "{err}");
}

#[test]
fn reconstruct_refuses_zero_candidates() {
    let vae = tmp("recon-candidates.vae.json");
    write_vae(&vae);
    let out = bin()
        .arg("reconstruct")
        .arg("--model")
        .arg(&vae)
        .args(["--data", "unused.npz", "--score", "--candidates", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--candidates must be at least 1"), "{err}");
}

#[test]
fn reconstruct_needs_an_output_or_score() {
    let vae = tmp("recon-args.vae.json");
    write_vae(&vae);
    let out = bin()
        .arg("reconstruct")
        .arg("--model")
        .arg(&vae)
        .args(["--data", "unused.npz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out") && err.contains("--score"), "{err}");
}

#[test]
fn eval_latent_prior_and_mean_refuse_an_unconditional_model() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    for latent in ["prior", "mean"] {
        let out = bin()
            .arg("eval")
            .arg("--model")
            .arg(shared.join("models/magenta/bird.gen.json"))
            .arg("--data")
            .arg(shared.join("data/aaron_sheep.npz"))
            .args(["--split", "test", "--latent", latent])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bird.gen.json")
                && err.contains(&format!("--latent {latent} needs a conditional")),
            "{err}"
        );
    }
}

/// `average` of a model with itself is that model (up to Magenta's int16 import),
/// written as our .safetensors.
#[test]
fn average_of_a_model_with_itself() {
    let json = tmp("avg-in.vae.json");
    write_vae(&json);
    let out = tmp("avg-out.safetensors");
    run(bin()
        .arg("average")
        .arg(&json)
        .arg(&json)
        .arg("-o")
        .arg(&out));
    let read = |p: &Path| ModelFile::from_bytes(&std::fs::read(p).unwrap()).unwrap();
    let (a, m) = (read(&json), read(&out));
    assert_eq!(a.info.hparams, m.info.hparams);
    for (name, t) in &a.tensors {
        let d = common::max_abs_diff(t, &m.tensors[name]);
        assert!(d < 1e-6, "{name}: {d}");
    }
}

/// `widen` doubles the shipped sheep model's decoder (256 → 512 units) and the
/// widened file traces the same mixtures as the original (within 1e-4: only
/// float summation order differs; measured about 1e-6).
#[test]
fn widen_doubles_the_decoder_and_traces_the_same_mixtures() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/sheep.safetensors");
    let wide = tmp("wide-sheep.safetensors");
    let out = bin()
        .arg("widen")
        .arg(&shipped)
        .args(["--factor", "2", "-o"])
        .arg(&wide)
        .output()
        .unwrap();
    common::assert_success(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("256 → 512") && err.contains("parity"), "{err}");
    let file = ModelFile::from_bytes(&std::fs::read(&wide).unwrap()).unwrap();
    assert_eq!(file.info.hparams.dec_size, 512);
    assert_eq!(file.info.hparams.enc_size, 128);
    let input = tmp("wide-input.json");
    std::fs::write(
        &input,
        "[[0,0,1,0,0],[0.5,0.1,1,0,0],[0.2,-0.3,1,0,0],[-0.4,0.6,0,1,0],[1.0,0.2,1,0,0]]",
    )
    .unwrap();
    let z: Vec<String> = (0..64)
        .map(|i| format!("{:.2}", (i % 7) as f32 * 0.1 - 0.3))
        .collect();
    let z = format!("[{}]", z.join(","));
    let trace = |model: &Path| -> Vec<f64> {
        let text = run(bin()
            .arg("trace")
            .arg("--model")
            .arg(model)
            .arg("--input")
            .arg(&input)
            .args(["--z", &z]));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut numbers = Vec::new();
        for step in v["steps"].as_array().unwrap() {
            for key in ["pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen"] {
                numbers.extend(
                    step[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_f64().unwrap()),
                );
            }
        }
        numbers
    };
    let (a, b) = (trace(&shipped), trace(&wide));
    assert_eq!(a.len(), 5 * (6 * 20 + 3));
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
        .fold(0.0, f64::max);
    assert!(worst < 1e-4, "largest difference {worst}");
}

#[test]
fn widen_refuses_a_factor_below_two() {
    let vae = tmp("widen-factor.vae.json");
    write_vae(&vae);
    let out = bin()
        .arg("widen")
        .arg(&vae)
        .args(["--factor", "1", "-o"])
        .arg(tmp("widen-factor.safetensors"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at least 2") && err.contains("widen-factor.vae.json"),
        "{err}"
    );
}

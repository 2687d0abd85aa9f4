//! Shared test helpers.

use std::path::PathBuf;

/// The folder with the data sets and Magenta models (never committed):
/// `$SKETCH_RNN_SHARED`, else `../shared` beside the repository. `None` (and a
/// note on stderr) when absent, so tests that need it skip on machines without it.
#[allow(dead_code)]
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SKETCH_RNN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} not found (set SKETCH_RNN_SHARED; see README)",
            dir.display()
        );
        None
    }
}

/// The `sketch-rnn` binary of this build.
#[allow(dead_code)]
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_sketch-rnn"))
}

/// Asserts a finished command succeeded, showing its stderr otherwise.
#[allow(dead_code)]
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A freshly initialised model (`SketchRnn::init`, seeded) with every variable
/// moved by N(0, noise²), so tests see real signal (fresh biases and initial
/// states are zero).
#[allow(dead_code)]
pub fn random_model(
    hp: &sketch_rnn::model::HParams,
    seed: u64,
    noise: f32,
) -> (candle_nn::VarMap, sketch_rnn::model::SketchRnn) {
    use candle_core::{Device, Tensor};
    let vm = candle_nn::VarMap::new();
    let m = sketch_rnn::model::SketchRnn::init(hp, &vm, &Device::Cpu, seed).unwrap();
    let mut rng = sketch_rnn::rng::SketchRng::new(seed);
    let mut vars: Vec<_> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, var) in vars {
        let t = var.as_tensor();
        let n: Vec<f32> = (0..t.elem_count()).map(|_| noise * rng.normal()).collect();
        let n = Tensor::from_vec(n, t.shape(), &Device::Cpu).unwrap();
        var.set(&(t + n).unwrap()).unwrap();
    }
    (vm, m)
}

/// Two drawings with the same rows, offsets within `tolerance` (normalised
/// units; different summation orders round differently) and identical pen states.
#[allow(dead_code)]
pub fn assert_same_drawing(a: &[[f32; 5]], b: &[[f32; 5]], tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (t, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x[2..], y[2..], "{what}: pen at row {t}");
        assert!(
            (x[0] - y[0]).abs() < tolerance && (x[1] - y[1]).abs() < tolerance,
            "{what}: row {t}: {x:?} vs {y:?}"
        );
    }
}

/// `max |a − b|` of two tensors of one shape.
#[allow(dead_code)]
pub fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Runs `sketch-rnn eval --model MODEL --data DATA ARGS...` and returns its JSON line.
#[allow(dead_code)]
pub fn eval_json(
    model: &std::path::Path,
    data: &std::path::Path,
    args: &[&str],
) -> serde_json::Value {
    let out = bin()
        .arg("eval")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

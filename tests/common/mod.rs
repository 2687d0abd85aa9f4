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

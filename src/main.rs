//! The `sketch-rnn` command line: inspect files, sample drawings, trace a model
//! step by step, and convert between formats. I/O and `anyhow` live here only.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}

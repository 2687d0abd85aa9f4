#!/usr/bin/env bash
# Builds the wasm module and its JavaScript bindings into pkg/ (build output,
# not committed): cargo for wasm32, then wasm-bindgen --target web.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir pkg target/wasm32-unknown-unknown/release/sketch_rnn.wasm
echo "pkg/: $(du -h pkg/sketch_rnn_bg.wasm | cut -f1) wasm"

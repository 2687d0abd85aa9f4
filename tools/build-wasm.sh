#!/usr/bin/env bash
# Builds the wasm module and its JavaScript bindings into pkg/ (build output,
# not committed): cargo for wasm32 in the size-optimised `wasm-release`
# profile (Cargo.toml), wasm-bindgen --target web, then binaryen's wasm-opt -Oz
# (npm dev dependency) to shrink the download.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile wasm-release --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir pkg target/wasm32-unknown-unknown/wasm-release/sketch_rnn.wasm
[ -x node_modules/.bin/wasm-opt ] || npm ci
# The features rustc emits for wasm32-unknown-unknown, plus simd128 (.cargo/config.toml).
node_modules/.bin/wasm-opt -Oz --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/sketch_rnn_bg.wasm -o pkg/sketch_rnn_bg.wasm
echo "pkg/: $(du -h pkg/sketch_rnn_bg.wasm | cut -f1) wasm, $(gzip -9 -c pkg/sketch_rnn_bg.wasm | wc -c) bytes gzip"

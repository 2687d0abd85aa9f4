#!/usr/bin/env bash
# Sets up a fresh machine (tools/setup.sh) and runs every check and test.
# Tests that need ../shared (data sets, Magenta models) find it there or at
# $SKETCH_RNN_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

echo "== format";       cargo fmt --check
echo "== clippy";       cargo clippy --all-targets -- -D warnings
echo "== clippy wasm";  cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
echo "== tests";        cargo test --release
echo "== wasm build";   cargo build --release --target wasm32-unknown-unknown --lib
echo "== all checks passed"

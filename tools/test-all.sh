#!/usr/bin/env bash
# Sets up a fresh machine (tools/setup.sh) and runs every check and test:
# format, clippy (native and wasm32), the Rust tests, the wasm API under Node,
# and the app in headless Chromium. Tests that need ../shared (data sets,
# Magenta models) find it there or at $SKETCH_RNN_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

echo "== format";        cargo fmt --check
echo "== clippy";        cargo clippy --all-targets -- -D warnings
echo "== clippy wasm";   cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
echo "== tests";         cargo test --release
echo "== wasm build";    tools/build-wasm.sh
echo "== CLI build";     cargo build --release --bin sketch-rnn
echo "== wasm API";      node --test tests/wasm/
echo "== Magenta export"; node --test tests/magenta/
echo "== browser";       node --test --test-concurrency=1 tests/browser/
echo "== browser benchmark (one pair, a smoke test)"; node --test tests/bench/
echo "== all checks passed (screenshots in test-artifacts/browser/)"

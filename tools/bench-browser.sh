#!/usr/bin/env bash
# The browser benchmark (issue 5): builds pkg/ and the CLI, then runs
# bench/browser/run.mjs in headless Chromium against the @magenta/sketch peers.
# Arguments go to run.mjs (--pairs N, --model PATH, --out FILE). Run it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/tfjs4 ] || npm ci
tools/build-wasm.sh
cargo build --release --bin sketch-rnn
node bench/browser/run.mjs "$@"

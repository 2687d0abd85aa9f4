#!/usr/bin/env bash
# Sets up a fresh machine, builds the wasm and the CLI, and serves the app on
# http://127.0.0.1:8080/ (the embedded sheep model; add --models DIR to serve a
# folder of model files, e.g. ../shared/models/magenta, at /local-models/).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build-wasm.sh
cargo build --release --bin sketch-rnn
exec target/release/sketch-rnn serve "$@"

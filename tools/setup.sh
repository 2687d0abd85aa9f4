#!/usr/bin/env bash
# Prepares a fresh machine (which has only the Rust toolchain, Node and npm) to
# build and test sketch-rnn. Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. The wasm target.
rustup target add wasm32-unknown-unknown >/dev/null

# 2. wasm-bindgen-cli at exactly the version Cargo.lock pins for the wasm-bindgen crate.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (found '${have:-none}')"
  # --locked pins the CLI's own dependencies; when one of them is no longer on the
  # registry (it happened with webpki-roots), fall back to a fresh resolution.
  cargo install wasm-bindgen-cli --version "$want" --locked || cargo install wasm-bindgen-cli --version "$want"
fi

# 3. Debian's Chromium for the browser tests.
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

# 4. npm packages: the Magenta reference library and tfjs 4.22 (golden traces, the
#    benchmark peers), playwright-core, and binaryen (wasm-opt for tools/build-wasm.sh).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

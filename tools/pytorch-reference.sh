#!/usr/bin/env bash
# Runs bench/pytorch/sketch_rnn_torch.py, the PyTorch sketch-rnn trainer that
# issue #3's comparisons run beside ours, in a virtual environment of its own
# (target/pytorch-venv, made on first use: numpy and torch from PyPI, about
# 4 GB with torch's CUDA libraries, which it loads even on a CPU).
#   tools/pytorch-reference.sh --data ../shared/data/aaron_sheep.npz --preset small \
#     --steps 777 --seed 1 --export runs/torch777.safetensors
#   target/release/sketch-rnn eval --model runs/torch777.safetensors \
#     --data ../shared/data/aaron_sheep.npz --split valid
# Not part of the test suite. Run it alone on the machine: it is a timing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/pytorch-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy==2.4.6 torch==2.15.0
fi
exec "$venv/bin/python" "$root/bench/pytorch/sketch_rnn_torch.py" "$@"

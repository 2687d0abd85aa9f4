#!/usr/bin/env bash
# Makes the pictures and figures of a model card from a training run:
#   tools/model-card.sh RUN_DIR NAME DATA.npz
# writes www/models/NAME.safetensors (the run's best model), NAME_samples.png,
# NAME_reconstructions.png, NAME_loss.svg and prints the eval figures.
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 name=$2 data=$3
bin=target/release/sketch-rnn
cargo build --release --quiet
mkdir -p www/models
cp "$run/model.safetensors" "www/models/$name.safetensors"
$bin sample --model "www/models/$name.safetensors" -n 16 -t 0.3 --seed 1 --cols 8 -o "www/models/${name}_samples"
$bin reconstruct --model "www/models/$name.safetensors" --data "$data" --split test -n 8 -t 0.2 --seed 1 -o "www/models/${name}_reconstructions"
$bin plot "$run/metrics.jsonl" -o "www/models/${name}_loss.svg"
rm -f "www/models/${name}_samples.svg" "www/models/${name}_reconstructions.svg"
for split in valid test; do
  $bin eval --model "www/models/$name.safetensors" --data "$data" --split $split
done

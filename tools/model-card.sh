#!/usr/bin/env bash
# Makes the pictures and figures of a model card from a training run:
#   tools/model-card.sh RUN_DIR NAME DATA.npz [METRICS.jsonl]
# writes www/models/NAME.safetensors (RUN_DIR/model.safetensors: the run's best
# model, or a mean written there by `sketch-rnn average`, with a latent prior
# fitted to DATA's training split), NAME_samples.png (from that prior),
# NAME_samples_standard_prior.png (from N(0, I)),
# NAME_reconstructions.png, NAME_loss.svg (from METRICS.jsonl, by default
# RUN_DIR/metrics.jsonl; give the training run's log when RUN_DIR holds only an
# averaged model) and prints the eval figures and the layout score of the test
# split's reconstructions (from the drawings' own latents, then from the prior).
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 name=$2 data=$3 metrics=${4:-$1/metrics.jsonl}
bin=target/release/sketch-rnn
cargo build --release --quiet
mkdir -p www/models
cp "$run/model.safetensors" "www/models/$name.safetensors"
# new drawings draw their latent from a Gaussian fitted to the training latents
$bin fit-prior --model "www/models/$name.safetensors" --data "$data" -o "www/models/$name.safetensors"
$bin sample --model "www/models/$name.safetensors" -n 16 -t 0.3 --seed 1 --cols 8 -o "www/models/${name}_samples"
$bin sample --model "www/models/$name.safetensors" -n 16 -t 0.3 --seed 1 --cols 8 --standard-prior -o "www/models/${name}_samples_standard_prior"
$bin reconstruct --model "www/models/$name.safetensors" --data "$data" --split test -n 8 -t 0.2 --seed 1 -o "www/models/${name}_reconstructions"
$bin plot "$metrics" -o "www/models/${name}_loss.svg"
rm -f "www/models/${name}_samples.svg" "www/models/${name}_samples_standard_prior.svg" "www/models/${name}_reconstructions.svg"
for split in valid test; do
  $bin eval --model "www/models/$name.safetensors" --data "$data" --split $split
done
for latent in "" --from-prior; do
  $bin reconstruct --model "www/models/$name.safetensors" --data "$data" --split test -n 300 -t 0.2 --seed 1 --score $latent
done

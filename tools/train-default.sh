#!/usr/bin/env bash
# Trains a default sheep model in the stages of www/models/sheep.md, with the
# pen position read by the decoder and by the encoder (--position-input
# --encoder-position-input):
#   tools/train-default.sh DATA.npz OUT_ROOT [LAST_STAGE]
# Stage s trains into OUT_ROOT/stage-s, resuming it where its checkpoint is,
# then writes OUT_ROOT/stage-s/mean.safetensors, the element-wise mean of its
# last snapshots, from which stage s+1 starts (`train --init-from`, fresh Adam
# with a warm-up). A stage whose mean exists is skipped, so the script can be
# stopped at any point (kill it and its `sketch-rnn train`) and run again, and
# a stage's mean made elsewhere (e.g. training/ at commit 6e62c62) can be put in its
# folder to start after it. The stages:
#   1. the small preset from scratch: lr 2e-3 decayed x0.9999 per step, KL
#      weight annealed from 0.01 towards 0.5, 13,000 steps, seed 1;
#   2. KL weight 0.1, lr 1e-4, 9,100 steps, seed 7;
#   3. KL weight 0.05, 6,000 steps, seed 11;
#   4. KL weight 0.025, 4,500 steps, seed 13;
#   5. as stage 4, the encoder reading only the beginning of a drawing a
#      quarter of the time (--encoder-prefix 0.25), 3,000 steps, seed 17;
#   6. as stage 5 without recurrent dropout or data augmentation
#      (--dropout-keep 1.0 --random-scale 0 --point-drop 0), 10,000 steps, seed 29;
#   7. as stage 6, the encoder reading each drawing simplified again with RDP
#      at up to 12 px (--encoder-simplify 12), 6,000 steps, seed 31.
# About 0.38 s a step here (median) with two threads, alone, stage 7's RDP
# included: 6.0 h in all. Run it alone, in the background (nohup). Then: cp OUT_ROOT/stage-7/mean.safetensors
# OUT_ROOT/model.safetensors; tools/model-card.sh OUT_ROOT sheep DATA.npz
# OUT_ROOT/stage-7/metrics.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: tools/train-default.sh DATA.npz OUT_ROOT [LAST_STAGE]" >&2; exit 2; }
data=$1 root=$2 last=${3:-7}
case $last in 1|2|3|4|5|6|7) ;; *) echo "LAST_STAGE must be 1 to 7, found $last" >&2; exit 2 ;; esac
bin=target/release/sketch-rnn
cargo build --release --quiet --bin sketch-rnn
common=(--data "$data" --position-input --encoder-position-input --threads 2
  --eval-every 500 --sample-every 1000 --name sheep)
finetune=(--lr 1e-4 --warmup-steps 300)
stage_args() {
  case $1 in
    1) echo --preset small --steps 13000 --keep-snapshots 40 --seed 1 ;;
    2) echo "${finetune[@]}" --kl-weight 0.1 --kl-weight-start 0.1 --steps 9100 --keep-snapshots 20 --seed 7 ;;
    3) echo "${finetune[@]}" --kl-weight 0.05 --kl-weight-start 0.05 --steps 6000 --keep-snapshots 20 --seed 11 ;;
    4) echo "${finetune[@]}" --kl-weight 0.025 --kl-weight-start 0.025 --steps 4500 --keep-snapshots 20 --seed 13 ;;
    5) echo "${finetune[@]}" --kl-weight 0.025 --kl-weight-start 0.025 --steps 3000 --keep-snapshots 20 --seed 17 --encoder-prefix 0.25 ;;
    6) echo "${finetune[@]}" --kl-weight 0.025 --kl-weight-start 0.025 --steps 10000 --keep-snapshots 20 --seed 29 --encoder-prefix 0.25 --dropout-keep 1.0 --random-scale 0 --point-drop 0 ;;
    7) echo "${finetune[@]}" --kl-weight 0.025 --kl-weight-start 0.025 --steps 6000 --keep-snapshots 20 --seed 31 --encoder-prefix 0.25 --dropout-keep 1.0 --random-scale 0 --point-drop 0 --encoder-simplify 12 ;;
    *) echo "no stage $1" >&2; exit 2 ;;
  esac
}
for s in $(seq 1 "$last"); do
  dir=$root/stage-$s
  if [ -e "$dir/mean.safetensors" ]; then
    echo "stage $s: $dir/mean.safetensors exists, skipped"
    continue
  fi
  mkdir -p "$dir"
  # shellcheck disable=SC2046
  args=("${common[@]}" --out "$dir" $(stage_args "$s"))
  if [ -e "$dir/checkpoint.safetensors" ]; then
    args+=(--resume)
  elif [ "$s" -gt 1 ]; then
    args+=(--init-from "$root/stage-$((s - 1))/mean.safetensors")
  fi
  echo "stage $s: $bin train ${args[*]}"
  "$bin" train "${args[@]}"
  "$bin" average "$dir"/snapshots/*.safetensors -o "$dir/mean.tmp.safetensors"
  mv "$dir/mean.tmp.safetensors" "$dir/mean.safetensors"
  "$bin" eval --model "$dir/mean.safetensors" --data "$data" --split valid
done

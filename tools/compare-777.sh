#!/usr/bin/env bash
# The 777-step comparison of issue #3, one dedicated run per seed:
#   tools/compare-777.sh DATA.npz OUT_ROOT [SEED...]   (seeds default to 1; paths
#   relative to the repository root)
# Each seed trains the small preset for 777 steps with 2 threads into
# OUT_ROOT/seed-S, then evaluates the validation split under the three
# definitions a reader might call "validation L_R": the paper's (z = μ + σε,
# the training set's scale factor), the validation split normalised by its own
# scale factor (as implementations that normalise every set they load do), and
# z = μ. It prints one line per seed and the means. Results accumulate in
# OUT_ROOT/results.jsonl and the means are over every line in it, so later
# calls with other seeds add to them; a seed whose folder exists is refused.
# Run it alone on the machine: about 777 training steps (10-16 min here) per
# seed. Extra `sketch-rnn train` flags for an experiment go in the environment
# variable TRAIN_ARGS (e.g. TRAIN_ARGS="--lr 2e-3"); each result line records them.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: tools/compare-777.sh DATA.npz OUT_ROOT [SEED...]" >&2; exit 2; }
data=$1 root=$2
shift 2
seeds=("${@:-1}")
for seed in "${seeds[@]}"; do
  if [ -e "$root/seed-$seed" ]; then
    echo "$root/seed-$seed exists: seed $seed has run into $root already (remove it to rerun)" >&2
    exit 1
  fi
done
bin=target/release/sketch-rnn
cargo build --release --quiet --bin sketch-rnn
mkdir -p "$root"
results="$root/results.jsonl"
for seed in "${seeds[@]}"; do
  out="$root/seed-$seed"
  start=$(date +%s)
  $bin train --data "$data" --out "$out" --preset small --steps 777 --eval-every 777 \
    --sample-every 0 --threads 2 --seed "$seed" ${TRAIN_ARGS:-} > "$out.log" 2>&1
  seconds=$(( $(date +%s) - start ))
  paper=$($bin eval --model "$out/model.safetensors" --data "$data" --split valid)
  own=$($bin eval --model "$out/model.safetensors" --data "$data" --split valid --own-scale)
  mean=$($bin eval --model "$out/model.safetensors" --data "$data" --split valid --latent mean)
  node -e '
    const [seed, seconds, paper, own, mean, args] = process.argv.slice(1);
    const p = JSON.parse(paper), o = JSON.parse(own), m = JSON.parse(mean);
    console.log(JSON.stringify({ seed: +seed, seconds: +seconds, lr: p.lr_total, ls: p.ls, lp: p.lp,
      kl: p.kl, lr_own_scale: o.lr_total, lr_z_mean: m.lr_total, train_args: args }));
  ' "$seed" "$seconds" "$paper" "$own" "$mean" "${TRAIN_ARGS:-}" | tee -a "$results"
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const avg = (k) => (rows.reduce((s, r) => s + r[k], 0) / rows.length).toFixed(3);
  console.log(`${rows.length} runs in ${process.argv[1]}: mean validation L_R ${avg("lr")} ` +
    `(L_s ${avg("ls")}, L_p ${avg("lp")}, KL ${avg("kl")}); own scale ${avg("lr_own_scale")}; ` +
    `z = mu ${avg("lr_z_mean")}. PyTorch reference (issue #3): 0.614`);
' "$results"

//! Median seconds per training step on aaron_sheep, in the configurations the
//! PyTorch reference was measured in (issue #3): small (batch 64, enc 128,
//! dec 256, N_z 64) and paper (batch 100, enc 256, dec 512, N_z 128).
//!
//! `RAYON_NUM_THREADS=1 cargo run --release --example bench_train_step` (and =2);
//! `-- small` or `-- paper` runs one configuration; a second argument sets the
//! number of timed steps (default 5; more give a steadier median on a shared machine).
//! Run it alone on the machine: it is a timing.
use std::time::Instant;

use sketch_rnn::train::{TrainConfig, Trainer};

/// PyTorch sketch-rnn on this kind of machine, median s/step (issue #3): (1 thread, 2 threads).
const PYTORCH: [(&str, f64, f64); 2] = [("small", 1.32, 0.78), ("paper", 6.0, 3.1)];
const STEPS: usize = 5;

fn main() {
    let path = std::env::var("SKETCH_RNN_SHARED").unwrap_or_else(|_| "../shared".into())
        + "/data/aaron_sheep.npz";
    let s = sketch_rnn::dataset::read_npz(&std::fs::read(&path).expect("aaron_sheep.npz")).unwrap();
    let threads = candle_core::utils::get_num_threads();
    sketch_rnn::train::retain_freed_memory();
    let only = std::env::args().nth(1);
    let steps: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().expect("steps: a positive integer"))
        .unwrap_or(STEPS)
        .max(1);
    for (name, one, two) in PYTORCH {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let cfg = TrainConfig::preset(name).unwrap();
        let mut tr = Trainer::new(cfg, name, &s.train, &candle_core::Device::Cpu).unwrap();
        tr.train_step().unwrap(); // warm-up
        let mut t: Vec<f64> = (0..steps)
            .map(|_| {
                let t0 = Instant::now();
                tr.train_step().unwrap();
                t0.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        let median = t[steps / 2];
        let reference = if threads == 1 { one } else { two };
        println!(
            "{name}: {median:.2} s/step with {threads} thread(s); PyTorch {reference:.2} s/step; ours/PyTorch = {:.2}",
            median / reference
        );
    }
}

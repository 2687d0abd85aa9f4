//! Times the parts of one training step (forward, loss, backward, optimiser) in
//! the small configuration on aaron_sheep. `cargo run --release --example profile_step`
use std::time::Instant;

use sketch_rnn::train::{TrainConfig, Trainer};

fn main() {
    let bytes = std::fs::read("../shared/data/aaron_sheep.npz").unwrap();
    let s = sketch_rnn::dataset::read_npz(&bytes).unwrap();
    let cfg = TrainConfig::small();
    let mut tr = Trainer::new(cfg.clone(), "p", &s.train, &candle_core::Device::Cpu).unwrap();
    let idx: Vec<usize> = (0..cfg.batch_size).collect();
    let b = tr.train.batch(&idx, None).unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = tr
            .model
            .forward(&b.strokes, &b.lengths, None, None)
            .unwrap();
        let t1 = Instant::now();
        let target = tr.model.targets(&b.strokes, b.batch_size).unwrap();
        let (ls, lp) =
            sketch_rnn::model::loss::reconstruction_loss(&out.logits, &target, 20).unwrap();
        let loss = (ls + lp).unwrap();
        let t2 = Instant::now();
        let g = loss.backward().unwrap();
        let t3 = Instant::now();
        drop(g);
        let t4 = Instant::now();
        tr.train_step().unwrap();
        println!("full train_step {:.2}s", t4.elapsed().as_secs_f64());
        println!(
            "teacher-forced, no encoder noise: forward {:.2}s loss {:.2}s backward {:.2}s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64()
        );
    }
}

#[allow(dead_code)]
fn unused() {}

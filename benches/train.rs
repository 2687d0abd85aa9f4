//! One training step (forward, backward, Adam) on aaron_sheep in the small
//! preset (batch 64, encoder 128, decoder 256, N_z 64), the cost issue 3
//! compares with PyTorch (`examples/bench_train_step` prints that ratio).
//! Needs `../shared/data/aaron_sheep.npz` (or `$SKETCH_RNN_SHARED`); skips
//! without it.
//!
//! `cargo bench --bench train`. Run it alone on the machine.

use criterion::{Criterion, criterion_group, criterion_main};
use sketch_rnn::train::{TrainConfig, Trainer};

fn train_step(c: &mut Criterion) {
    let dir = std::env::var("SKETCH_RNN_SHARED").unwrap_or_else(|_| "../shared".into());
    let Ok(bytes) = std::fs::read(format!("{dir}/data/aaron_sheep.npz")) else {
        eprintln!("skipping train_step: {dir}/data/aaron_sheep.npz not found");
        return;
    };
    sketch_rnn::train::retain_freed_memory();
    let splits = sketch_rnn::dataset::read_npz(&bytes).unwrap();
    let cfg = TrainConfig::preset("small").unwrap();
    let mut trainer = Trainer::new(cfg, "bench", &splits.train, &candle_core::Device::Cpu).unwrap();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    group.bench_function("small", |b| b.iter(|| trainer.train_step().unwrap()));
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);

//! Inference costs that set how fast the app draws (issue 5), on a model of
//! Magenta's released size (decoder 512 units, encoder 256, N_z 128, M 20;
//! seeded random weights: the cost does not depend on their values):
//!
//! * `decoder_step/fast/1` and `/9`: one step of the fast path (update +
//!   mixture outputs) for one drawing and for 9 alternative endings at once;
//! * `decoder_step/reference/1`: the same step on candle's model;
//! * `mixture_decode`: raw outputs to π, μ, σ, ρ, pen at τ = 0.25;
//! * `encoder/250`: encoding a 250-row drawing to (μ, σ);
//! * `completion_latent/50`: choosing the latent "Finish it" draws from for a
//!   50-row drawing (the default search: 64 teacher-forced passes over it).
//!
//! `cargo bench --bench inference`. Run it alone on the machine.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sketch_rnn::model::fast::FastDecoder;
use sketch_rnn::model::{CellKind, HParams, Mixture, SketchRnn};
use sketch_rnn::rng::SketchRng;
use sketch_rnn::sample::{self, CompletionSearch};
use sketch_rnn::stroke::START_TOKEN;
use sketch_rnn::weights::parity_input;

/// Magenta's released model size (`sketch_rnn/model.py` defaults).
fn paper_size() -> SketchRnn {
    let hp = HParams {
        enc_size: 256,
        dec_size: 512,
        z_size: 128,
        num_mixtures: sketch_rnn::model::NUM_MIXTURES,
        cell: CellKind::Lstm,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    };
    let vm = candle_nn::VarMap::new();
    SketchRnn::init(&hp, &vm, &candle_core::Device::Cpu, 1).expect("model")
}

fn decoder_step(c: &mut Criterion) {
    let model = paper_size();
    let fast = FastDecoder::from_model(&model).unwrap().unwrap();
    let z = vec![0.1f32; model.hparams.z_size];
    let mut group = c.benchmark_group("decoder_step");
    for rows in [1, 9] {
        let mut state = fast.initial_state(Some(&z), rows).unwrap();
        let inputs = vec![START_TOKEN; rows];
        group.bench_function(BenchmarkId::new("fast", rows), |b| {
            b.iter(|| fast.step(&mut state, &inputs).unwrap())
        });
    }
    let state = model.initial_state(Some(&z)).unwrap();
    group.bench_function(BenchmarkId::new("reference", 1), |b| {
        b.iter(|| model.step(&state, &START_TOKEN).unwrap())
    });
    group.finish();

    let mut state = fast.initial_state(Some(&z), 1).unwrap();
    fast.step(&mut state, &[START_TOKEN]).unwrap();
    let mut mixture = Mixture::with_components(fast.num_mixtures());
    c.bench_function("mixture_decode", |b| {
        b.iter(|| mixture.set_from_raw(state.raw(0), 0.25).unwrap())
    });
}

fn encoder(c: &mut Criterion) {
    let model = paper_size();
    let rows = &parity_input(250)[1..];
    c.bench_function("encoder/250", |b| b.iter(|| model.encode(rows).unwrap()));
}

fn completion_latent(c: &mut Criterion) {
    let model = paper_size();
    let fast = FastDecoder::from_model(&model).unwrap().unwrap();
    let rows = &parity_input(50)[1..];
    let (mu, sigma) = model.encode(rows).unwrap();
    let search = CompletionSearch::default();
    c.bench_function("completion_latent/50", |b| {
        b.iter(|| {
            let mut rng = SketchRng::new(1);
            sample::completion_latent(&fast, rows, (&mu, &sigma), None, &search, &mut rng).unwrap()
        })
    });
}

criterion_group!(benches, decoder_step, encoder, completion_latent);
criterion_main!(benches);

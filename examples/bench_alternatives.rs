//! The decoder steps nine alternative endings cost: one batch of nine rows
//! against one row and against nine rows one by one, on the shipped sheep model,
//! median of 5 runs of 100 steps. Ratios are what count; run it alone.
//!
//! `cargo run --release --example bench_alternatives`
use std::time::Instant;

use sketch_rnn::session::Session;

fn median(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn main() {
    let bytes =
        std::fs::read("www/models/sheep.safetensors").expect("run from the repository root");
    let s = Session::load(&bytes).unwrap();
    let m = s.model();
    let z = s.prior_latent(1).unwrap();
    // Decoder steps, the cost alternatives are made of: 100 steps of 1 row,
    // of a batch of 9 rows, and 9 × 100 steps of 1 row.
    let state = m.initial_state(Some(&z)).unwrap();
    let input = [0.1f32, -0.2, 1.0, 0.0, 0.0];
    let steps = |rows: usize, repeats: usize| {
        let st = sketch_rnn::model::DecoderState {
            cell: state.cell.repeat(rows).unwrap(),
            cond: state.cond.clone(),
        };
        for _ in 0..repeats {
            let mut s2 = st.clone();
            for _ in 0..100 {
                s2 = m.step_batch(&s2, &vec![input; rows]).unwrap().0;
            }
        }
    };
    let one = median(|| steps(1, 1));
    let batched = median(|| steps(9, 1));
    let serial = median(|| steps(1, 9));
    println!(
        "100 decoder steps: 1 row {:.1} ms; 9 rows as one batch {:.1} ms ({:.2}x); 9 rows one by one {:.1} ms ({:.2}x)",
        one * 1e3,
        batched * 1e3,
        batched / one,
        serial * 1e3,
        serial / one
    );
}

//! Seconds for one forward and one backward pass of the whole-sequence LSTM op
//! (`model::sequence`) against the step-by-step cell, in the small training
//! configuration's decoder shape (T 250, B 64, H 256). Run it alone.
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use sketch_rnn::model::cell::{Cell, CellKind};

fn main() {
    let dev = Device::Cpu;
    let (steps, batch, units) = (250, 64, 256);
    let vm = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &dev);
    let cell = Cell::new(vb, CellKind::Lstm, 5, units).unwrap();
    let xs = Tensor::randn(0f32, 1.0, (steps, batch, 5), &dev).unwrap();
    let h0 = Var::zeros((batch, units), DType::F32, &dev).unwrap();
    let only_sequence = std::env::var_os("ONLY_SEQUENCE").is_some();
    for sequence in [true, true, false, false] {
        if only_sequence && !sequence {
            continue;
        }
        let cond = cell.condition(5, None).unwrap();
        let state = sketch_rnn::model::cell::CellState {
            c: h0.as_tensor().clone(),
            h: h0.as_tensor().clone(),
            hyper: None,
        };
        let t0 = Instant::now();
        let hs = if sequence {
            cell.sequence(&xs, &cond, &state, None, None).unwrap()
        } else {
            let mut s = state.clone();
            let mut hs = Vec::new();
            for t in 0..steps {
                s = cell.step(&xs.get(t).unwrap(), &cond, &s, None).unwrap();
                hs.push(s.h.clone());
            }
            Tensor::stack(&hs, 0).unwrap()
        };
        let fwd = t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        hs.sum_all().unwrap().backward().unwrap();
        let bwd = t0.elapsed().as_secs_f64();
        println!(
            "{}: forward {fwd:.3} s, backward {bwd:.3} s",
            if sequence {
                "sequence op"
            } else {
                "step by step"
            }
        );
    }
}

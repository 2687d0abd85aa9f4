//! The fast decoder: the plain-LSTM decoder step for inference (drawing in the
//! browser), in plain `f32` slices instead of candle tensors.
//!
//! Candle's step builds a dozen small tensors per step (matmuls, adds, the
//! fused gate ops, the output layer), each allocated and dispatched on its own.
//! Here one step is two blocked matrix products and one gate loop over buffers
//! the caller's [`FastState`] owns, so the hot loop allocates nothing:
//!
//! ```text
//! G = β + x·W_x + h·W_hh                   [B, 4H]   (β = b + z·W_z, once per drawing)
//! c' = c ⊙ σ(f) + σ(i) ⊙ tanh(g)           [B, H]    (FORGET_BIAS already in b_f)
//! h' = tanh(c') ⊙ σ(o)                     [B, H]
//! y  = h'·W_y + b_y                        [B, 6M+3] (raw mixture outputs, paper eq. 3–6)
//! ```
//!
//! The products accumulate four weight rows at a time into column tiles that
//! stay in L1, so `B` rows of a batch (alternative endings) read each weight
//! once per step: `B` rows cost little more than one. In wasm the inner loop
//! is written with `simd128` intrinsics; natively it is plain code that the
//! compiler vectorises. The candle model stays the reference: `tests/model.rs`
//! checks every mixture parameter of this path against it (≤ 1e-4).
//!
//! Only the plain LSTM cell (every Magenta model, and our default) has a fast
//! path; [`FastDecoder::from_model`] returns `None` for the other cells.

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::model::SketchRnn;
use crate::model::activation::{sigmoid, tanh};
use crate::model::cell::{Cell, FORGET_BIAS, GATES};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::mixture::output_size;
use crate::stroke::Stroke5;

/// Columns of a product's accumulator tile: `B` rows of this many floats plus
/// four weight rows stay in a 32 KiB L1 cache for the batches we decode (≤ 9 rows).
const TILE_COLUMNS: usize = 256;
/// Weight rows folded into the accumulator per pass (loads and stores of the
/// accumulator amortised over this many rows).
const ROWS_PER_PASS: usize = 4;

/// The decoder's weights, copied out of the candle model in the layouts the
/// kernels read. Immutable; drawing state lives in [`FastState`].
#[derive(Debug, Clone)]
pub struct FastDecoder {
    /// Decoder units H.
    units: usize,
    /// Latent size N_z (0 for a decoder-only model).
    z_size: usize,
    /// Mixture components M.
    num_mixtures: usize,
    /// Apply `tanh` to z first (Magenta files before version 6).
    latent_tanh: bool,
    /// `[5, 4H]`: the rows of `W_xh` for the stroke-5 input.
    w_x: Vec<f32>,
    /// `[Nz, 4H]`: the rows of `W_xh` for z.
    w_z: Vec<f32>,
    /// `[H, 4H]`
    w_hh: Vec<f32>,
    /// `[4H]`: the cell's bias with [`FORGET_BIAS`] added to the forget gate.
    bias: Vec<f32>,
    /// `[Nz, 2H]` and `[2H]`: z to the initial state `[c0, h0]` (conditional models).
    init_w: Vec<f32>,
    init_b: Vec<f32>,
    /// `[H, 6M+3]` and `[6M+3]`: the mixture head.
    out_w: Vec<f32>,
    out_b: Vec<f32>,
}

/// The state of `B` drawings decoded together: recurrent state, per-drawing
/// constant input and the step's outputs. A value the caller owns; every
/// buffer is allocated once, in [`FastDecoder::initial_state`].
#[derive(Debug, Clone)]
pub struct FastState {
    rows: usize,
    /// `[B, H]`
    h: Vec<f32>,
    /// `[B, H]`
    c: Vec<f32>,
    /// `[B, 4H]`: `b + z·W_z`, constant over a drawing.
    beta: Vec<f32>,
    /// `[B, 4H]`: scratch for the gate pre-activations.
    gates: Vec<f32>,
    /// `[B, 5]`: scratch for the step's inputs.
    inputs: Vec<f32>,
    /// `[B, 6M+3]`: raw mixture outputs of the last step (zeros before the first).
    raw: Vec<f32>,
}

fn host(t: &Tensor, what: &str) -> Result<Vec<f32>> {
    t.flatten_all()?
        .to_vec1::<f32>()
        .map_err(|e| Error::invalid_argument(what, e.to_string()))
}

impl FastDecoder {
    /// The fast path of `model`'s decoder, or `None` when its cell is not a
    /// plain LSTM (layer-norm and hyper cells run on the candle model).
    pub fn from_model(model: &SketchRnn) -> Result<Option<FastDecoder>> {
        let dec = &model.decoder;
        let Cell::Lstm(w) = &dec.cell else {
            return Ok(None);
        };
        let h = w.units;
        let g = GATES * h;
        let w_xh = host(&w.w_xh, "decoder.cell.w_xh")?; // [5 + Nz, 4H]
        let w_hh = host(&w.w_hh, "decoder.cell.w_hh")?; // [H, 4H]
        let z_size = dec.z_size;
        if w_xh.len() != (STROKE_WIDTH + z_size) * g || w_hh.len() != h * g {
            return Err(Error::Shape {
                what: "decoder.cell.w_xh".into(),
                expected: vec![STROKE_WIDTH + z_size, g],
                found: vec![w_xh.len() / g.max(1), g],
            });
        }
        let mut bias = match &w.bias {
            Some(b) => host(b, "decoder.cell.bias")?,
            None => vec![0.0; g],
        };
        for v in &mut bias[2 * h..3 * h] {
            *v += FORGET_BIAS as f32;
        }
        let (init_w, init_b) = match &dec.init {
            Some(init) => (
                host(&init.weight, "decoder.init.weight")?,
                match &init.bias {
                    Some(b) => host(b, "decoder.init.bias")?,
                    None => vec![0.0; 2 * h],
                },
            ),
            None => (Vec::new(), Vec::new()),
        };
        let out = output_size(dec.num_mixtures);
        let out_w = host(&dec.output.weight, "decoder.output.weight")?;
        let out_b = match &dec.output.bias {
            Some(b) => host(b, "decoder.output.bias")?,
            None => vec![0.0; out],
        };
        if out_w.len() != h * out || out_b.len() != out {
            return Err(Error::Shape {
                what: "decoder.output.weight".into(),
                expected: vec![h, out],
                found: vec![out_w.len() / h.max(1), out_b.len()],
            });
        }
        Ok(Some(FastDecoder {
            units: h,
            z_size,
            num_mixtures: dec.num_mixtures,
            latent_tanh: dec.latent_tanh,
            w_x: w_xh[..STROKE_WIDTH * g].to_vec(),
            w_z: w_xh[STROKE_WIDTH * g..].to_vec(),
            w_hh,
            bias,
            init_w,
            init_b,
            out_w,
            out_b,
        }))
    }

    /// Mixture components M.
    pub fn num_mixtures(&self) -> usize {
        self.num_mixtures
    }

    /// Decoder units H.
    pub fn units(&self) -> usize {
        self.units
    }

    /// The state of `rows` drawings before their first step, all from the
    /// same latent `z` (length N_z; `None` for a decoder-only model):
    /// `[c0, h0] = tanh(z·W_z0 + b_z0)` and `β = b + z·W_z` (paper section 3.3).
    pub fn initial_state(&self, z: Option<&[f32]>, rows: usize) -> Result<FastState> {
        let (h, g) = (self.units, GATES * self.units);
        let mut one = FastState {
            rows: 1,
            h: vec![0.0; h],
            c: vec![0.0; h],
            beta: self.bias.clone(),
            gates: vec![0.0; g],
            inputs: vec![0.0; STROKE_WIDTH],
            raw: vec![0.0; output_size(self.num_mixtures)],
        };
        match (self.z_size, z) {
            (0, None) => {}
            (0, Some(_)) => {
                return Err(Error::invalid_argument(
                    "z",
                    "an unconditional decoder takes no latent",
                ));
            }
            (_, None) => {
                return Err(Error::invalid_argument(
                    "z",
                    "a conditional decoder needs a latent vector",
                ));
            }
            (n, Some(z)) => {
                if z.len() != n {
                    return Err(Error::Shape {
                        what: "latent z".into(),
                        expected: vec![n],
                        found: vec![z.len()],
                    });
                }
                if z.iter().any(|v| !v.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "latent z".into(),
                    });
                }
                let z: Vec<f32> = if self.latent_tanh {
                    z.iter().map(|v| v.tanh()).collect()
                } else {
                    z.to_vec()
                };
                let mut state = self.init_b.clone(); // [2H] = [c0, h0]
                accumulate(&mut state, &z, &self.init_w, 1, n, 2 * h);
                for v in &mut state {
                    *v = v.tanh();
                }
                one.c.copy_from_slice(&state[..h]);
                one.h.copy_from_slice(&state[h..]);
                accumulate(&mut one.beta, &z, &self.w_z, 1, n, g);
            }
        }
        Ok(one.repeat(rows))
    }

    /// One step for every row of `state`: reads `inputs` (one stroke-5 row per
    /// drawing, normalised units) and leaves the raw mixture outputs of the
    /// next point in [`FastState::raw`]. Allocates nothing.
    pub fn step(&self, state: &mut FastState, inputs: &[Stroke5]) -> Result<()> {
        let (b, h, g) = (state.rows, self.units, GATES * self.units);
        if inputs.len() != b {
            return Err(Error::Shape {
                what: "decoder inputs".into(),
                expected: vec![b, STROKE_WIDTH],
                found: vec![inputs.len(), STROKE_WIDTH],
            });
        }
        for (dst, row) in state.inputs.chunks_exact_mut(STROKE_WIDTH).zip(inputs) {
            dst.copy_from_slice(row);
        }
        // G = β + x·W_x + h·W_hh
        state.gates.copy_from_slice(&state.beta);
        accumulate(
            &mut state.gates,
            &state.inputs,
            &self.w_x,
            b,
            STROKE_WIDTH,
            g,
        );
        accumulate(&mut state.gates, &state.h, &self.w_hh, b, h, g);
        for ((gates, c), hr) in state
            .gates
            .chunks_exact(g)
            .zip(state.c.chunks_exact_mut(h))
            .zip(state.h.chunks_exact_mut(h))
        {
            lstm_pointwise(gates, c, hr);
        }
        // y = h'·W_y + b_y
        let out = self.out_b.len();
        for row in state.raw.chunks_exact_mut(out) {
            row.copy_from_slice(&self.out_b);
        }
        accumulate(&mut state.raw, &state.h, &self.out_w, b, h, out);
        Ok(())
    }
}

impl FastState {
    /// Drawings in this state.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Raw mixture outputs (`6M+3`, see [`crate::model::Mixture::from_raw`]) of
    /// drawing `row` for its next point.
    pub fn raw(&self, row: usize) -> &[f32] {
        let n = self.raw.len() / self.rows.max(1);
        &self.raw[row * n..(row + 1) * n]
    }

    /// This one-row state repeated `n` times (alternative endings of one prefix).
    /// Panics only if `self` is not one row, which [`FastDecoder`] never makes.
    pub fn repeat(&self, n: usize) -> FastState {
        let rep = |v: &Vec<f32>| -> Vec<f32> {
            let one = v.len() / self.rows.max(1);
            v[..one].repeat(n)
        };
        FastState {
            rows: n,
            h: rep(&self.h),
            c: rep(&self.c),
            beta: rep(&self.beta),
            gates: rep(&self.gates),
            inputs: rep(&self.inputs),
            raw: rep(&self.raw),
        }
    }
}

/// The LSTM update of one row from its gate pre-activations `[i, g, f, o]`
/// (each `H`, forget bias included): `c ← c·σ(f) + σ(i)·tanh(g)`, `h ← tanh(c)·σ(o)`.
fn lstm_pointwise(gates: &[f32], c: &mut [f32], h: &mut [f32]) {
    let n = c.len();
    let (i, rest) = gates.split_at(n);
    let (gg, rest) = rest.split_at(n);
    let (f, o) = rest.split_at(n);
    let (i, gg, f, o, h) = (&i[..n], &gg[..n], &f[..n], &o[..n], &mut h[..n]);
    for k in 0..n {
        let c_new = c[k] * sigmoid(f[k]) + sigmoid(i[k]) * tanh(gg[k]);
        c[k] = c_new;
        h[k] = tanh(c_new) * sigmoid(o[k]);
    }
}

/// `acc[B, N] += x[B, K] · w[K, N]`, all row-major. Column tiles of
/// [`TILE_COLUMNS`]; within a tile, [`ROWS_PER_PASS`] rows of `w` are folded
/// into every batch row's accumulator before moving on, so each weight is
/// read from memory once per call whatever `B` is.
fn accumulate(acc: &mut [f32], x: &[f32], w: &[f32], b: usize, k: usize, n: usize) {
    debug_assert_eq!(acc.len(), b * n);
    debug_assert_eq!(x.len(), b * k);
    debug_assert_eq!(w.len(), k * n);
    let mut col = 0;
    while col < n {
        let width = TILE_COLUMNS.min(n - col);
        let mut r = 0;
        while r + ROWS_PER_PASS <= k {
            let w0 = &w[r * n + col..][..width];
            let w1 = &w[(r + 1) * n + col..][..width];
            let w2 = &w[(r + 2) * n + col..][..width];
            let w3 = &w[(r + 3) * n + col..][..width];
            for row in 0..b {
                let xs = &x[row * k + r..][..ROWS_PER_PASS];
                let a = &mut acc[row * n + col..][..width];
                axpy4(a, [xs[0], xs[1], xs[2], xs[3]], [w0, w1, w2, w3]);
            }
            r += ROWS_PER_PASS;
        }
        for r in r..k {
            let wr = &w[r * n + col..][..width];
            for row in 0..b {
                let xr = x[row * k + r];
                let a = &mut acc[row * n + col..][..width];
                for (a, w) in a.iter_mut().zip(wr) {
                    *a += xr * w;
                }
            }
        }
        col += width;
    }
}

/// `a += x0·w0 + x1·w1 + x2·w2 + x3·w3` over equal-length slices: the inner
/// loop of every product, written so both paths round the same way.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn axpy4(a: &mut [f32], x: [f32; 4], w: [&[f32]; 4]) {
    let n = a.len();
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    for j in 0..n {
        a[j] += (x[0] * w0[j] + x[1] * w1[j]) + (x[2] * w2[j] + x[3] * w3[j]);
    }
}

/// `a += x0·w0 + x1·w1 + x2·w2 + x3·w3`, four lanes at a time with wasm
/// `simd128` (same operation order as the portable version).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn axpy4(a: &mut [f32], x: [f32; 4], w: [&[f32]; 4]) {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_store};
    let n = a.len();
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let (x0, x1, x2, x3) = (
        f32x4_splat(x[0]),
        f32x4_splat(x[1]),
        f32x4_splat(x[2]),
        f32x4_splat(x[3]),
    );
    let lanes = n / 4 * 4;
    let mut j = 0;
    while j < lanes {
        // SAFETY: j + 4 <= lanes <= n, the length of every slice here; wasm
        // loads and stores need no alignment.
        unsafe {
            let p = |s: &[f32]| v128_load(s.as_ptr().add(j) as *const v128);
            let s01 = f32x4_add(f32x4_mul(x0, p(w0)), f32x4_mul(x1, p(w1)));
            let s23 = f32x4_add(f32x4_mul(x2, p(w2)), f32x4_mul(x3, p(w3)));
            let dst = a.as_mut_ptr().add(j) as *mut v128;
            v128_store(dst, f32x4_add(v128_load(dst), f32x4_add(s01, s23)));
        }
        j += 4;
    }
    for j in lanes..n {
        a[j] += (x[0] * w0[j] + x[1] * w1[j]) + (x[2] * w2[j] + x[3] * w3[j]);
    }
}

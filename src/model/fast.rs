//! The fast decoder: the plain-LSTM decoder step for inference (drawing in the
//! browser), in plain `f32` slices instead of candle tensors.
//!
//! Candle's step builds a dozen small tensors per step (matmuls, adds, the
//! fused gate ops, the output layer), each allocated and dispatched on its own.
//! Here one step is two matrix-vector products per drawing and one gate loop,
//! over buffers the caller's [`FastState`] owns, so the hot loop allocates
//! nothing:
//!
//! ```text
//! G = β + x·W_x + h·W_hh                   [B, 4H]   (β = b + z·W_z, once per drawing)
//! c' = c ⊙ σ(f) + σ(i) ⊙ tanh(g)           [B, H]    (FORGET_BIAS already in b_f)
//! h' = tanh(c') ⊙ σ(o)                     [B, H]
//! y  = h'·W_y + b_y                        [B, 6M+3] (raw mixture outputs, paper eq. 3–6)
//! ```
//!
//! Each weight matrix is stored once, at load, as column panels
//! ([`Panels`]): 16 columns wide, rows contiguous, so a matrix-vector product
//! streams memory in order and keeps its 16 sums in registers for the whole
//! row loop (one load, one multiply and one add per four multiply-adds, no
//! accumulator traffic). `x·W_x + h·W_hh` is one product over `[x, h]`. In
//! wasm the panel loop is written with `simd128` intrinsics; natively it is
//! plain code that the compiler vectorises. A batch of `B` drawings
//! (alternative endings) runs the products two rows at a time, each weight
//! load serving both; one row is already compute-bound, so batching saves
//! only those loads.
//!
//! The candle model stays the reference: `tests/fast_decoder.rs` (native) and
//! `tests/wasm/api.test.mjs` (the wasm build) check every mixture parameter of
//! this path against it (≤ 1e-4).
//!
//! Only the plain LSTM cell (every Magenta model, and our default) has a fast
//! path; [`FastDecoder::from_model`] returns `None` for the other cells.
//!
//! A decoder with the pen position input ([`crate::model::decoder`]) keeps the
//! scaled position in the two columns after the stroke-5 input of `[x, h]`:
//! each step adds the row's offset to them before the product, so the state
//! carries the position with no buffer of its own.

use crate::error::{Error, Result};
use crate::model::SketchRnn;
use crate::model::activation::{sigmoid, tanh};
use crate::model::cell::{Cell, FORGET_BIAS, GATES};
use crate::model::decoder::{POSITION_WIDTH, advance_position};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::fused::host;
use crate::model::mixture::output_size;
use crate::stroke::Stroke5;

/// Columns per panel: four 128-bit vectors of sums, held in registers.
const PANEL_COLUMNS: usize = 16;
/// One panel's column sums.
type Sums = [f32; PANEL_COLUMNS];

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
    /// Whether `x` ends with the scaled pen position.
    position_input: bool,
    /// Width W of `x`: 5, or 7 with the pen position.
    step_width: usize,
    /// `[W + H, 4H]`: the rows of `W_xh` for the step input `x`, then `W_hh`.
    w_xh: Panels,
    /// `[Nz, 4H]`: the rows of `W_xh` for z.
    w_z: Panels,
    /// `[4H]`: the cell's bias with [`FORGET_BIAS`] added to the forget gate.
    bias: Vec<f32>,
    /// `[Nz, 2H]` and `[2H]`: z to the initial state `[c0, h0]` (conditional models).
    init_w: Panels,
    init_b: Vec<f32>,
    /// `[H, 6M+3]` and `[6M+3]`: the mixture head.
    out_w: Panels,
    out_b: Vec<f32>,
}

/// The state of `B` drawings decoded together: recurrent state, per-drawing
/// constant input and the step's outputs. A value the caller owns; every
/// buffer is allocated once, in [`FastDecoder::initial_state`].
#[derive(Debug, Clone)]
pub struct FastState {
    rows: usize,
    /// `[B, W + H]`: each drawing's step input `x` (stroke-5, then the scaled
    /// pen position if the decoder reads it), then its `h`.
    xh: Vec<f32>,
    /// `[B, H]`
    c: Vec<f32>,
    /// `[B, 4H]`: `b + z·W_z`, constant over a drawing.
    beta: Vec<f32>,
    /// `[B, 4H]`: scratch for the gate pre-activations.
    gates: Vec<f32>,
    /// `[B, 6M+3]`: raw mixture outputs of the last step (zeros before the first).
    raw: Vec<f32>,
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
        let w_xh = host(&w.w_xh)?; // [W + Nz, 4H]
        let w_hh = host(&w.w_hh)?; // [H, 4H]
        let z_size = dec.z_size;
        let width = dec.step_width();
        if w_xh.len() != (width + z_size) * g || w_hh.len() != h * g {
            return Err(Error::Shape {
                what: "decoder.cell.w_xh".into(),
                expected: vec![width + z_size, g],
                found: vec![w_xh.len() / g.max(1), g],
            });
        }
        let mut bias = match &w.bias {
            Some(b) => host(b)?,
            None => vec![0.0; g],
        };
        for v in &mut bias[2 * h..3 * h] {
            *v += FORGET_BIAS as f32;
        }
        let (init_w, init_b) = match &dec.init {
            Some(init) => (
                Panels::new(&host(&init.weight)?, z_size, 2 * h),
                match &init.bias {
                    Some(b) => host(b)?,
                    None => vec![0.0; 2 * h],
                },
            ),
            None => (Panels::new(&[], 0, 2 * h), Vec::new()),
        };
        let out = output_size(dec.num_mixtures);
        let out_w = host(&dec.output.weight)?;
        let out_b = match &dec.output.bias {
            Some(b) => host(b)?,
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
            position_input: dec.position_input,
            step_width: width,
            w_xh: Panels::new(&[&w_xh[..width * g], &w_hh[..]].concat(), width + h, g),
            w_z: Panels::new(&w_xh[width * g..], z_size, g),
            bias,
            init_w,
            init_b,
            out_w: Panels::new(&out_w, h, out),
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
            xh: vec![0.0; self.step_width + h],
            c: vec![0.0; h],
            beta: self.bias.clone(),
            gates: vec![0.0; g],
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
                self.init_w.multiply_add(&z, &mut state);
                for v in &mut state {
                    *v = v.tanh();
                }
                one.c.copy_from_slice(&state[..h]);
                one.xh[self.step_width..].copy_from_slice(&state[h..]);
                self.w_z.multiply_add(&z, &mut one.beta);
            }
        }
        Ok(one.repeat(rows))
    }

    /// One step for every row of `state`: reads `inputs` (one stroke-5 row per
    /// drawing, normalised units), moving each pen by its offset if the decoder
    /// reads the position, and leaves the raw mixture outputs of the next point
    /// in [`FastState::raw`]. Allocates nothing.
    pub fn step(&self, state: &mut FastState, inputs: &[Stroke5]) -> Result<()> {
        let (b, h, g) = (state.rows, self.units, GATES * self.units);
        if inputs.len() != b {
            return Err(Error::Shape {
                what: "decoder inputs".into(),
                expected: vec![b, STROKE_WIDTH],
                found: vec![inputs.len(), STROKE_WIDTH],
            });
        }
        let (out, x, w) = (self.out_b.len(), self.step_width, self.step_width + h);
        // Two drawings at a time: each weight loaded once serves both.
        let pairs = state
            .xh
            .chunks_mut(2 * w)
            .zip(state.c.chunks_mut(2 * h))
            .zip(state.gates.chunks_mut(2 * g))
            .zip(state.beta.chunks(2 * g))
            .zip(state.raw.chunks_mut(2 * out))
            .zip(inputs.chunks(2));
        for (((((xh, c), gates), beta), raw), input) in pairs {
            for (row, input) in xh.chunks_exact_mut(w).zip(input) {
                row[..STROKE_WIDTH].copy_from_slice(input);
                if self.position_input {
                    advance_position(&mut row[STROKE_WIDTH..STROKE_WIDTH + POSITION_WIDTH], input);
                }
            }
            // G = β + [x, h]·[W_x; W_hh]
            gates.copy_from_slice(beta);
            self.w_xh.multiply_add_rows(xh, 0, w, gates);
            for ((gates, c), xh) in gates
                .chunks_exact(g)
                .zip(c.chunks_exact_mut(h))
                .zip(xh.chunks_exact_mut(w))
            {
                lstm_pointwise(gates, c, &mut xh[x..]);
            }
            // y = h'·W_y + b_y
            for row in raw.chunks_exact_mut(out) {
                row.copy_from_slice(&self.out_b);
            }
            self.out_w.multiply_add_rows(xh, x, w, raw);
        }
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

    /// The first drawing of this state repeated `n` times (alternative endings
    /// of one prefix).
    pub fn repeat(&self, n: usize) -> FastState {
        let rep = |v: &Vec<f32>| -> Vec<f32> {
            let one = v.len() / self.rows.max(1);
            v[..one].repeat(n)
        };
        FastState {
            rows: n,
            xh: rep(&self.xh),
            c: rep(&self.c),
            beta: rep(&self.beta),
            gates: rep(&self.gates),
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

/// A `[K, N]` weight matrix stored as column panels: panel `p` holds columns
/// `16p .. 16p + 16` of every row, rows contiguous (`[⌈N/16⌉, K, 16]`, the last
/// panel padded with zeros), so [`Panels::multiply_add`] reads memory in order.
#[derive(Debug, Clone)]
struct Panels {
    k: usize,
    n: usize,
    data: Vec<f32>,
}

impl Panels {
    /// From a row-major `[k, n]` matrix.
    fn new(w: &[f32], k: usize, n: usize) -> Panels {
        debug_assert_eq!(w.len(), k * n);
        if k == 0 {
            return Panels {
                k,
                n,
                data: Vec::new(),
            };
        }
        let panels = n.div_ceil(PANEL_COLUMNS);
        let mut data = vec![0.0; panels * k * PANEL_COLUMNS];
        for (p, panel) in data.chunks_exact_mut(k * PANEL_COLUMNS).enumerate() {
            let col = p * PANEL_COLUMNS;
            let width = PANEL_COLUMNS.min(n - col);
            for (r, dst) in panel.chunks_exact_mut(PANEL_COLUMNS).enumerate() {
                dst[..width].copy_from_slice(&w[r * n + col..r * n + col + width]);
            }
        }
        Panels { k, n, data }
    }

    /// `y_r += x_r·W` for one or two rows: `x_r` is `xs[r·stride + offset ..][..K]`
    /// and `y_r` is `ys[r·N ..][..N]`. Two rows share each weight load.
    fn multiply_add_rows(&self, xs: &[f32], offset: usize, stride: usize, ys: &mut [f32]) {
        let rows = ys.len() / self.n.max(1);
        if rows == 2 {
            let (y0, y1) = ys.split_at_mut(self.n);
            let x0 = &xs[offset..offset + self.k];
            let x1 = &xs[stride + offset..stride + offset + self.k];
            self.multiply_add2(x0, x1, y0, y1);
        } else {
            self.multiply_add(&xs[offset..offset + self.k], ys);
        }
    }

    /// [`Panels::multiply_add`] for two rows at once.
    fn multiply_add2(&self, x0: &[f32], x1: &[f32], y0: &mut [f32], y1: &mut [f32]) {
        if self.k == 0 {
            return;
        }
        let panels = self.data.chunks_exact(self.k * PANEL_COLUMNS);
        let ys = y0
            .chunks_mut(PANEL_COLUMNS)
            .zip(y1.chunks_mut(PANEL_COLUMNS));
        for (panel, (y0, y1)) in panels.zip(ys) {
            let (s0, s1) = panel_dot2(panel, x0, x1);
            for (y, s) in y0.iter_mut().zip(s0) {
                *y += s;
            }
            for (y, s) in y1.iter_mut().zip(s1) {
                *y += s;
            }
        }
    }

    /// `y += x·W` for one row `x` (length K) into `y` (length N).
    fn multiply_add(&self, x: &[f32], y: &mut [f32]) {
        debug_assert_eq!(x.len(), self.k);
        debug_assert_eq!(y.len(), self.n);
        if self.k == 0 {
            return;
        }
        let x = &x[..self.k];
        for (panel, y) in self
            .data
            .chunks_exact(self.k * PANEL_COLUMNS)
            .zip(y.chunks_mut(PANEL_COLUMNS))
        {
            let sums = panel_dot(panel, x);
            for (y, s) in y.iter_mut().zip(sums) {
                *y += s;
            }
        }
    }
}

/// The 16 column sums `Σ_k x[k]·panel[k, j]` of one panel (`[K, 16]`).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn panel_dot(panel: &[f32], x: &[f32]) -> Sums {
    let mut sums = [0f32; PANEL_COLUMNS];
    for (row, &xk) in panel.chunks_exact(PANEL_COLUMNS).zip(x) {
        for (s, w) in sums.iter_mut().zip(row) {
            *s += xk * w;
        }
    }
    sums
}

/// The 16 column sums of one panel with wasm `simd128`: four vectors of sums
/// in registers, one splat, four loads, multiplies and adds per row (the same
/// operations in the same order as the portable version).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn panel_dot(panel: &[f32], x: &[f32]) -> Sums {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_store};
    let zero = f32x4_splat(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    for (row, &xk) in panel.chunks_exact(PANEL_COLUMNS).zip(x) {
        let xv = f32x4_splat(xk);
        let p = row.as_ptr() as *const v128;
        // SAFETY: `row` has exactly 16 floats (chunks_exact), four 128-bit
        // vectors; wasm loads need no alignment.
        unsafe {
            s0 = f32x4_add(s0, f32x4_mul(xv, v128_load(p)));
            s1 = f32x4_add(s1, f32x4_mul(xv, v128_load(p.add(1))));
            s2 = f32x4_add(s2, f32x4_mul(xv, v128_load(p.add(2))));
            s3 = f32x4_add(s3, f32x4_mul(xv, v128_load(p.add(3))));
        }
    }
    let mut sums = [0f32; PANEL_COLUMNS];
    let q = sums.as_mut_ptr() as *mut v128;
    // SAFETY: `sums` holds 16 floats, four vectors.
    unsafe {
        v128_store(q, s0);
        v128_store(q.add(1), s1);
        v128_store(q.add(2), s2);
        v128_store(q.add(3), s3);
    }
    sums
}

/// [`panel_dot`] for two rows `x0`, `x1` over the same panel.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn panel_dot2(panel: &[f32], x0: &[f32], x1: &[f32]) -> (Sums, Sums) {
    let mut s0 = [0f32; PANEL_COLUMNS];
    let mut s1 = [0f32; PANEL_COLUMNS];
    for ((row, &a), &b) in panel.chunks_exact(PANEL_COLUMNS).zip(x0).zip(x1) {
        for ((s0, s1), w) in s0.iter_mut().zip(s1.iter_mut()).zip(row) {
            *s0 += a * w;
            *s1 += b * w;
        }
    }
    (s0, s1)
}

/// [`panel_dot`] for two rows with wasm `simd128`: eight vectors of sums, each
/// weight vector loaded once for both rows.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn panel_dot2(panel: &[f32], x0: &[f32], x1: &[f32]) -> (Sums, Sums) {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_store};
    let zero = f32x4_splat(0.0);
    let mut a = [zero; 4];
    let mut b = [zero; 4];
    for ((row, &xa), &xb) in panel.chunks_exact(PANEL_COLUMNS).zip(x0).zip(x1) {
        let (va, vb) = (f32x4_splat(xa), f32x4_splat(xb));
        let p = row.as_ptr() as *const v128;
        for q in 0..4 {
            // SAFETY: `row` has exactly 16 floats (chunks_exact), four 128-bit
            // vectors, and q < 4; wasm loads need no alignment.
            let w = unsafe { v128_load(p.add(q)) };
            a[q] = f32x4_add(a[q], f32x4_mul(va, w));
            b[q] = f32x4_add(b[q], f32x4_mul(vb, w));
        }
    }
    let mut s0 = [0f32; PANEL_COLUMNS];
    let mut s1 = [0f32; PANEL_COLUMNS];
    for q in 0..4 {
        // SAFETY: s0 and s1 hold 16 floats, four vectors, and q < 4.
        unsafe {
            v128_store((s0.as_mut_ptr() as *mut v128).add(q), a[q]);
            v128_store((s1.as_mut_ptr() as *mut v128).add(q), b[q]);
        }
    }
    (s0, s1)
}

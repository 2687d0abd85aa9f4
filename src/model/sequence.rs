//! A whole sequence of a plain LSTM as one candle op, with a hand-written
//! backpropagation through time, for training.
//!
//! Candle's autograd of a step-by-step LSTM records a dozen small ops per time
//! step and, in the backward pass, a matmul gradient and an accumulation per
//! step and weight. This op takes the input projection of every step at once
//! and runs the recurrence itself, so the graph holds one node per layer:
//!
//! ```text
//! forward, once:       XW = X·W_x + β                                   [T, B, 4H]
//! forward, t = 0..T:   G_t = XW_t + h_{t-1}·W_hh                      [B, 4H]
//!                      c_t = c_{t-1}·σ(f_t + 1) + σ(i_t)·tanh(g_t)·m_t
//!                      h_t = tanh(c_t)·σ(o_t)                          (output [T, B, H])
//! backward, t = T-1..0: ∂h_t = ∂H_t + ∂G_{t+1}·W_hhᵀ
//!                      ∂c_t = ∂c_{t+1}·σ(f_{t+1} + 1) + ∂h_t·σ(o_t)·(1 − tanh²c_t)
//!                      ∂G_t from ∂c_t, ∂h_t (see [`crate::model::fused`])
//! then, once:          ∂W_hh = [h_{-1} … h_{T-2}]ᵀ·∂G    ∂W_x = Xᵀ·∂G    ∂β = Σ_t ∂G_t
//! ```
//!
//! `X` are the per-step inputs (data, no gradient) and `β: [B, 4H]` the
//! per-sequence constant input (bias, plus `z·W_z` for a conditional decoder),
//! so every gradient of the layer is a large matmul or a sum in this op rather
//! than a reduction in candle's graph. Given each row's length (an encoder's
//! drawings: mean 125 of 250 rows in aaron_sheep), row `b` runs only its first
//! `len_b` steps, as a packed sequence does: its outputs after that are zero
//! and take no gradient, and its later steps cost nothing. The forward pass
//! keeps the activated gates for the backward pass; `m` is the recurrent-dropout mask (Semeniuta et
//! al. 2016, on the candidate as in Magenta). The gate loops are written to
//! vectorise, and on x86-64 run with AVX2 when the CPU has it (the same IEEE
//! operations, so the results do not depend on it). `tests/model.rs` checks
//! values and gradients against the step-by-step cell.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use crate::model::activation::{sigmoid, tanh};
use crate::model::cell::{FORGET_BIAS, GATES};
use crate::model::fused::{host, slice};

/// Row-major `dst[m, n] (+)= a[m, k]·b[k, n]`, where `a` and `b` are given by
/// row and column strides so transposes need no copy. `parallel`: let gemm
/// split the product over candle's threads (off inside a thread of [`for_groups`]).
fn matmul(
    dst: &mut [f32],
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
    (a, a_rs, a_cs): (&[f32], usize, usize),
    (b, b_rs, b_cs): (&[f32], usize, usize),
    parallel: bool,
) {
    assert!(dst.len() >= m * n, "matmul destination too small");
    if m == 0 || n == 0 {
        return;
    }
    assert!(k == 0 || a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    assert!(k == 0 || b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if parallel && threads > 1 && cfg!(not(target_arch = "wasm32")) {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every index the strides reach inside the
    // slices; dst does not alias a or b (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Up to this many per-step inputs, `X·W_x` is a loop of axpys rather than a gemm.
const FEW_INPUTS: usize = 16;

/// Sizes of a sequence op: steps T, batch B, per-step inputs I, units H.
#[derive(Debug, Clone, Copy)]
struct Dims {
    t: usize,
    b: usize,
    i: usize,
    h: usize,
}

fn dims(xs: &Shape, weights: &Shape, init: &Shape) -> candle_core::Result<Dims> {
    let (t, b, i) = xs.dims3()?;
    let (rows, g) = weights.dims2()?;
    let (b2, s) = init.dims2()?;
    let h = g / GATES;
    if g != GATES * h || rows != i + h || b2 != b || s != 6 * h {
        candle_core::bail!(
            "LSTM sequence: expected X [T, B, I], [W_x; W_hh] [I + H, 4H], [c0 | h0 | β] [B, 6H]; found {xs:?}, {weights:?}, {init:?}"
        );
    }
    Ok(Dims { t, b, i, h })
}

/// The pointwise passes over one row (`H` units), compiled twice on x86-64
/// (baseline and AVX2) and picked at run time. Every slice is a separate
/// parameter so the compiler knows they do not alias and vectorises without
/// run-time overlap checks.
macro_rules! row_kernels {
    ($($attr:meta)?; $($qual:tt)*) => {
        /// One row of the forward update, in place: the gate pre-activations
        /// become `[σ(i), tanh(g), σ(f + 1), σ(o)]`, `c` becomes `c'` and `h`
        /// becomes `h'`; `tanh_c` receives `tanh c'`.
        #[allow(clippy::too_many_arguments)]
        #[inline(never)]
        $(#[$attr])?
        pub $($qual)* fn forward_row(
            gi: &mut [f32],
            gg: &mut [f32],
            gf: &mut [f32],
            go: &mut [f32],
            m: &[f32],
            c: &mut [f32],
            h: &mut [f32],
            tanh_c: &mut [f32],
        ) {
            let n = c.len();
            let (gi, gg, gf, go) = (&mut gi[..n], &mut gg[..n], &mut gf[..n], &mut go[..n]);
            let (m, h, tanh_c) = (&m[..n], &mut h[..n], &mut tanh_c[..n]);
            for k in 0..n {
                let si = sigmoid(gi[k]);
                let tg = tanh(gg[k]);
                let sf = sigmoid(gf[k] + FORGET_BIAS as f32);
                let so = sigmoid(go[k]);
                let cn = c[k] * sf + si * tg * m[k];
                let t = tanh(cn);
                c[k] = cn;
                tanh_c[k] = t;
                h[k] = t * so;
                (gi[k], gg[k], gf[k], go[k]) = (si, tg, sf, so);
            }
        }

        /// One row of the backward update, in place: the activated gates become
        /// `∂G`; `dc` holds `∂c_{t+1}·σ(f_{t+1}+1)` on entry and the same for
        /// step `t` on exit; `dh` is `∂H_t` plus `∂h` from step `t + 1`.
        #[allow(clippy::too_many_arguments)]
        #[inline(never)]
        $(#[$attr])?
        pub $($qual)* fn backward_row(
            gi: &mut [f32],
            gg: &mut [f32],
            gf: &mut [f32],
            go: &mut [f32],
            m: &[f32],
            c_prev: &[f32],
            tanh_c: &[f32],
            dh: &[f32],
            dc: &mut [f32],
        ) {
            let n = dc.len();
            let (gi, gg, gf, go) = (&mut gi[..n], &mut gg[..n], &mut gf[..n], &mut go[..n]);
            let (m, c_prev, tanh_c, dh) = (&m[..n], &c_prev[..n], &tanh_c[..n], &dh[..n]);
            for k in 0..n {
                let (si, tg, sf, so, tc) = (gi[k], gg[k], gf[k], go[k], tanh_c[k]);
                let dcn = dc[k] + dh[k] * so * (1.0 - tc * tc);
                gi[k] = dcn * tg * m[k] * si * (1.0 - si);
                gg[k] = dcn * si * m[k] * (1.0 - tg * tg);
                gf[k] = dcn * c_prev[k] * sf * (1.0 - sf);
                go[k] = dh[k] * tc * so * (1.0 - so);
                dc[k] = dcn * sf;
            }
        }
    };
}

mod generic {
    use super::*;
    row_kernels!(;);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    row_kernels!(target_feature(enable = "avx2,fma"); unsafe);
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Splits a `[4H]` gate row into its four gates.
fn gates4(g: &mut [f32], h: usize) -> [&mut [f32]; 4] {
    let (gi, rest) = g.split_at_mut(h);
    let (gg, rest) = rest.split_at_mut(h);
    let (gf, go) = rest.split_at_mut(h);
    [gi, gg, gf, go]
}

/// Forward pointwise pass of one step: `g: [B, 4H]`, the rest `[B, H]`.
fn forward_step(g: &mut [f32], m: &[f32], c: &mut [f32], h: &mut [f32], tc: &mut [f32], n: usize) {
    let avx2 = has_avx2();
    for ((((g, m), c), h), tc) in g
        .chunks_exact_mut(GATES * n)
        .zip(m.chunks_exact(n))
        .zip(c.chunks_exact_mut(n))
        .zip(h.chunks_exact_mut(n))
        .zip(tc.chunks_exact_mut(n))
    {
        let [gi, gg, gf, go] = gates4(g, n);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 and FMA (has_avx2).
            unsafe { avx2::forward_row(gi, gg, gf, go, m, c, h, tc) };
            continue;
        }
        let _ = avx2;
        generic::forward_row(gi, gg, gf, go, m, c, h, tc);
    }
}

/// Backward pointwise pass of one step: `g: [B, 4H]`, the rest `[B, H]`.
fn backward_step(
    g: &mut [f32],
    m: &[f32],
    c_prev: &[f32],
    tc: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    n: usize,
) {
    let avx2 = has_avx2();
    for (((((g, m), cp), tc), dh), dc) in g
        .chunks_exact_mut(GATES * n)
        .zip(m.chunks_exact(n))
        .zip(c_prev.chunks_exact(n))
        .zip(tc.chunks_exact(n))
        .zip(dh.chunks_exact(n))
        .zip(dc.chunks_exact_mut(n))
    {
        let [gi, gg, gf, go] = gates4(g, n);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 and FMA (has_avx2).
            unsafe { avx2::backward_row(gi, gg, gf, go, m, cp, tc, dh, dc) };
            continue;
        }
        let _ = avx2;
        generic::backward_row(gi, gg, gf, go, m, cp, tc, dh, dc);
    }
}

/// What the forward pass keeps for the backward pass, all time-major: the
/// activated gates `[σ(i), tanh(g), σ(f + 1), σ(o)]` `[T, B, 4H]`, `c` and
/// `tanh c` `[T, B, H]`, and `h_{t-1}` `[T, B, H]` (starting with `h_0`).
struct Saved {
    gates: Vec<f32>,
    c: Vec<f32>,
    tanh_c: Vec<f32>,
    h_prev: Vec<f32>,
}

/// Each group of rows ([`row_groups`]) with its forward pass's [`Saved`].
type GroupsSaved = Vec<(Vec<usize>, Saved)>;

/// Fewest batch rows a thread takes: below this, one thread runs the rows and
/// gemm splits each product instead.
const MIN_ROWS_PER_THREAD: usize = 8;

/// The recurrence of one row is independent of every other row's, so the op
/// splits the batch into one contiguous group of rows per thread and runs
/// each group's whole sequence, forward and backward, on its own thread with
/// single-threaded products: one fork and join per op instead of one per
/// matmul (two per time step), and the gate loops run in parallel too. Only
/// `∂W` sums over rows; it is the sum of the groups' products. Native only.
///
/// Without `lengths` the groups are contiguous runs of rows. With them, the rows
/// are ordered longest first and dealt round-robin, so every group holds rows
/// of every length (the threads get about the same work) and each group's rows
/// are longest first: the rows still running at step `t` are a prefix of the
/// group ([`active_rows`]).
fn row_groups(b: usize, lengths: Option<&[usize]>) -> Vec<Vec<usize>> {
    deal_rows(b, thread_count(b, MIN_ROWS_PER_THREAD), lengths)
}

/// How many threads share `items` independent pieces of work when each takes
/// at least `min_per_thread` of them: candle's thread count natively, 1 in wasm
/// (no threads there), and always at least 1.
pub(crate) fn thread_count(items: usize, min_per_thread: usize) -> usize {
    let threads = if cfg!(target_arch = "wasm32") {
        1
    } else {
        candle_core::utils::get_num_threads()
    };
    threads.min(items / min_per_thread.max(1)).max(1)
}

/// [`row_groups`] for `k` groups.
fn deal_rows(b: usize, k: usize, lengths: Option<&[usize]>) -> Vec<Vec<usize>> {
    match lengths {
        None => (0..k)
            .map(|j| (j * b / k..(j + 1) * b / k).collect())
            .collect(),
        Some(lengths) => {
            let mut order: Vec<usize> = (0..b).collect();
            order.sort_by_key(|&r| std::cmp::Reverse(lengths[r]));
            (0..k)
                .map(|j| order.iter().skip(j).step_by(k).copied().collect())
                .collect()
        }
    }
}

/// How many of a group's rows, ordered longest first, still run at step `t`.
fn active_rows(lengths: Option<&[usize]>, b: usize, t: usize) -> usize {
    lengths.map_or(b, |l| l.partition_point(|&len| len > t))
}

/// Rows `rows` (in that order) of a time-major `[T, B, W]` buffer, as `[T, rows, W]`.
fn gather_rows(src: &[f32], t: usize, b: usize, w: usize, rows: &[usize]) -> Vec<f32> {
    let mut out = Vec::with_capacity(t * rows.len() * w);
    for s in 0..t {
        for &r in rows {
            out.extend_from_slice(&src[(s * b + r) * w..(s * b + r + 1) * w]);
        }
    }
    out
}

/// [`gather_rows`], borrowed when `rows` are the whole batch in order.
fn pick_rows<'a>(
    src: &'a [f32],
    t: usize,
    b: usize,
    w: usize,
    rows: &[usize],
) -> std::borrow::Cow<'a, [f32]> {
    if rows.len() == b && rows.iter().enumerate().all(|(k, &r)| k == r) {
        std::borrow::Cow::Borrowed(src)
    } else {
        std::borrow::Cow::Owned(gather_rows(src, t, b, w, rows))
    }
}

/// Puts a group's batch-major `[rows, W]` results back at their rows of `dst` `[B, W]`.
fn scatter_rows(dst: &mut [f32], w: usize, rows: &[usize], src: &[f32]) {
    for (&r, part) in rows.iter().zip(src.chunks_exact(w)) {
        dst[r * w..(r + 1) * w].copy_from_slice(part);
    }
}

/// Runs `f` on each item (one per group of rows), on its own scoped thread
/// when there are several; `f`'s flag says whether it runs alone (and so may
/// let gemm use every thread).
pub(crate) fn for_groups<T: Send, R: Send>(
    items: Vec<T>,
    f: impl Fn(T, bool) -> R + Sync,
) -> Vec<R> {
    if items.len() == 1 {
        return items.into_iter().map(|item| f(item, true)).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| {
                let f = &f;
                scope.spawn(move || f(item, false))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The forward recurrence over one group's rows (`g`'s slices hold those rows
/// only; its `lengths`, if any, are longest first). Returns every `h`
/// (`[B, T, H]`, zero after a row's length) and what backward needs.
/// `parallel`: let gemm split each product over the threads.
fn forward_rows(g: &GroupInputs, weights: &[f32], parallel: bool) -> (Vec<f32>, Saved) {
    let (xs, init, mask, lengths, [steps, b, inputs, h]) = g.parts();
    let (g4, n) = (GATES * h, b * h);
    let (w_x, w_hh) = weights.split_at(inputs * g4);
    // XW = X·W_x + β, time-major [T, B, 4H]; becomes the activated gates.
    let mut gates = vec![0f32; steps * b * g4];
    for (r, row) in gates.chunks_exact_mut(g4).enumerate() {
        let beta = r % b;
        row.copy_from_slice(&init[beta * 6 * h + 2 * h..(beta + 1) * 6 * h]);
    }
    if inputs <= FEW_INPUTS {
        // A handful of inputs (the 5 of stroke-5): one axpy per input beats gemm's packing.
        for (row, x) in gates.chunks_exact_mut(g4).zip(xs.chunks_exact(inputs)) {
            for (&xk, wk) in x.iter().zip(w_x.chunks_exact(g4)) {
                for (g, &w) in row.iter_mut().zip(wk) {
                    *g += xk * w;
                }
            }
        }
    } else {
        matmul(
            &mut gates,
            true,
            (steps * b, g4, inputs),
            (xs, inputs, 1),
            (w_x, g4, 1),
            parallel,
        );
    }
    let mut c = vec![0f32; n];
    let mut h_now = vec![0f32; n];
    for r in 0..b {
        c[r * h..(r + 1) * h].copy_from_slice(&init[r * 6 * h..r * 6 * h + h]);
        h_now[r * h..(r + 1) * h].copy_from_slice(&init[r * 6 * h + h..r * 6 * h + 2 * h]);
    }
    let ones = vec![1f32; if mask.is_some() { 0 } else { n }];
    let mut saved = Saved {
        gates: Vec::new(),
        c: vec![0f32; steps * n],
        tanh_c: vec![0f32; steps * n],
        h_prev: vec![0f32; steps * n],
    };
    let mut hs = vec![0f32; b * steps * h];
    for t in 0..steps {
        // Rows a.. have ended: their gates are left zero (no gradient), their
        // saved c, tanh c and h_prev zero, their outputs zero.
        let a = active_rows(lengths, b, t);
        let gt = &mut gates[t * b * g4..(t + 1) * b * g4];
        gt[a * g4..].fill(0.0);
        if a == 0 {
            continue;
        }
        let (gt, na) = (&mut gt[..a * g4], a * h);
        matmul(
            gt,
            true,
            (a, g4, h),
            (&h_now, h, 1),
            (w_hh, g4, 1),
            parallel,
        );
        saved.h_prev[t * n..t * n + na].copy_from_slice(&h_now[..na]);
        let m = match mask {
            Some(m) => &m[t * n..t * n + na],
            None => &ones[..na],
        };
        forward_step(
            gt,
            m,
            &mut c[..na],
            &mut h_now[..na],
            &mut saved.tanh_c[t * n..t * n + na],
            h,
        );
        saved.c[t * n..t * n + na].copy_from_slice(&c[..na]);
        for r in 0..a {
            hs[(r * steps + t) * h..(r * steps + t + 1) * h]
                .copy_from_slice(&h_now[r * h..(r + 1) * h]);
        }
    }
    saved.gates = gates;
    (hs, saved)
}

/// Backpropagation through time over one group's rows (every slice of `g`
/// holds those rows only; `dout` is their `∂H`, `[B, T, H]`; a row's steps after its
/// length take no gradient). Returns `∂[W_x; W_hh]` (these rows' share) and
/// `∂[c_0 | h_0 | β]`.
fn backward_rows(
    g: &GroupInputs,
    weights: &[f32],
    saved: Saved,
    dout: &[f32],
    parallel: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (xs, init, mask, lengths, [steps, b, inputs, h]) = g.parts();
    let (g4, n) = (GATES * h, b * h);
    let Saved {
        gates: mut dg,
        c: cs,
        tanh_c,
        h_prev,
    } = saved;
    // W_hhᵀ [4H, H], contiguous, for ∂h_{t-1} = ∂G_t·W_hhᵀ.
    let w_hh = &weights[inputs * g4..];
    let mut w_hh_t = vec![0f32; g4 * h];
    for k in 0..h {
        for j in 0..g4 {
            w_hh_t[j * h + k] = w_hh[k * g4 + j];
        }
    }
    let c0: Vec<f32> = (0..b)
        .flat_map(|r| init[r * 6 * h..r * 6 * h + h].iter().copied())
        .collect();
    let ones = vec![1f32; if mask.is_some() { 0 } else { n }];
    let mut dh = vec![0f32; n];
    let mut dh_next = vec![0f32; n];
    let mut dc = vec![0f32; n];
    for t in (0..steps).rev() {
        // Ended rows (a..) keep ∂h = ∂c = 0 until their last step, and their ∂G
        // stays zero (forward left it so).
        let a = active_rows(lengths, b, t);
        if a == 0 {
            continue;
        }
        let na = a * h;
        for r in 0..a {
            let src = &dout[(r * steps + t) * h..(r * steps + t + 1) * h];
            for ((d, &s), &nx) in dh[r * h..(r + 1) * h]
                .iter_mut()
                .zip(src)
                .zip(&dh_next[r * h..(r + 1) * h])
            {
                *d = s + nx;
            }
        }
        let m = match mask {
            Some(m) => &m[t * n..t * n + na],
            None => &ones[..na],
        };
        let c_prev = if t == 0 {
            &c0[..na]
        } else {
            &cs[(t - 1) * n..(t - 1) * n + na]
        };
        let gt = &mut dg[t * b * g4..(t * b + a) * g4];
        backward_step(
            gt,
            m,
            c_prev,
            &tanh_c[t * n..t * n + na],
            &dh[..na],
            &mut dc[..na],
            h,
        );
        matmul(
            &mut dh_next[..na],
            false,
            (a, h, g4),
            (gt, g4, 1),
            (&w_hh_t, h, 1),
            parallel,
        );
    }
    // ∂[W_x; W_hh] = [Xᵀ·∂G; H_prevᵀ·∂G]
    let mut dw = vec![0f32; (inputs + h) * g4];
    let (dw_x, dw_hh) = dw.split_at_mut(inputs * g4);
    matmul(
        dw_x,
        false,
        (inputs, g4, steps * b),
        (xs, 1, inputs),
        (&dg, g4, 1),
        parallel,
    );
    matmul(
        dw_hh,
        false,
        (h, g4, steps * b),
        (&h_prev, 1, h),
        (&dg, g4, 1),
        parallel,
    );
    // ∂[c_0 | h_0 | β]
    let mut dinit = vec![0f32; b * 6 * h];
    for r in 0..b {
        let row = &mut dinit[r * 6 * h..(r + 1) * 6 * h];
        row[..h].copy_from_slice(&dc[r * h..(r + 1) * h]);
        row[h..2 * h].copy_from_slice(&dh_next[r * h..(r + 1) * h]);
        for t in 0..steps {
            let src = &dg[(t * b + r) * g4..(t * b + r + 1) * g4];
            for (d, &s) in row[2 * h..].iter_mut().zip(src) {
                *d += s;
            }
        }
    }
    (dw, dinit)
}

/// The whole-sequence LSTM op. Arguments: `X: [T, B, I]` (per-step inputs,
/// data: no gradient), `[W_x; W_hh]: [I + H, 4H]`, and `[c_0 | h_0 | β]: [B, 6H]`
/// (initial state and the per-sequence input term). Output: every step's `h`,
/// batch-major `[B, T, H]`.
pub struct LstmSequence {
    /// Recurrent-dropout mask, time-major `[T, B, H]` (entries 0 or 1/keep), or none.
    mask: Option<Vec<f32>>,
    /// Steps each row runs, `[B]` (a packed sequence), or none: every row runs all `T`.
    lengths: Option<Vec<usize>>,
    /// The forward pass's [`Saved`] of each group of rows ([`row_groups`]).
    saved: Mutex<Option<GroupsSaved>>,
}

/// One group's slices of the op's inputs: `X` and the mask `[T, rows, ·]`,
/// `[c_0 | h_0 | β]` `[rows, 6H]` and the rows' lengths (longest first).
struct GroupInputs<'a> {
    d: Dims,
    xs: std::borrow::Cow<'a, [f32]>,
    init: std::borrow::Cow<'a, [f32]>,
    mask: Option<std::borrow::Cow<'a, [f32]>>,
    lengths: Option<Vec<usize>>,
}

/// A group's slices (`X`, `[c_0 | h_0 | β]`, mask, lengths) and its sizes
/// `[T, rows, I, H]`, unpacked for the recurrence.
type Parts<'a> = (
    &'a [f32],
    &'a [f32],
    Option<&'a [f32]>,
    Option<&'a [usize]>,
    [usize; 4],
);

impl GroupInputs<'_> {
    fn parts(&self) -> Parts<'_> {
        let Dims { t, b, i, h } = self.d;
        let (mask, lengths) = (self.mask.as_deref(), self.lengths.as_deref());
        (&self.xs, &self.init, mask, lengths, [t, b, i, h])
    }
}

impl LstmSequence {
    /// `mask`: recurrent dropout, time-major `[T, B, H]`, or none.
    pub fn new(mask: Option<Vec<f32>>) -> LstmSequence {
        LstmSequence {
            mask,
            lengths: None,
            saved: Mutex::new(None),
        }
    }

    /// With `Some(lengths)`, row `b` runs only its first `lengths[b]` steps (each
    /// in `0..=T`): its outputs after that are zero, and the gradient reaching
    /// them is dropped. What it computes before its length is what the whole run
    /// computes. `None`: every row runs all `T` steps.
    pub fn with_lengths(mut self, lengths: Option<Vec<usize>>) -> LstmSequence {
        self.lengths = lengths;
        self
    }

    fn check(&self, d: Dims) -> candle_core::Result<()> {
        if let Some(m) = &self.mask
            && m.len() != d.t * d.b * d.h
        {
            candle_core::bail!(
                "LSTM sequence: dropout mask has {} values, expected {}",
                m.len(),
                d.t * d.b * d.h
            );
        }
        if let Some(l) = &self.lengths
            && (l.len() != d.b || l.iter().any(|&len| len > d.t))
        {
            candle_core::bail!(
                "LSTM sequence: expected {} lengths in 0..={}, found {l:?}",
                d.b,
                d.t
            );
        }
        Ok(())
    }

    /// The slices of rows `rows`, in that order (borrowed when they are the
    /// whole batch in order).
    fn group<'a>(
        &'a self,
        d: Dims,
        xs: &'a [f32],
        init: &'a [f32],
        rows: &[usize],
    ) -> GroupInputs<'a> {
        let pick = |src: &'a [f32], t: usize, w: usize| pick_rows(src, t, d.b, w, rows);
        GroupInputs {
            d: Dims { b: rows.len(), ..d },
            xs: pick(xs, d.t, d.i),
            init: pick(init, 1, 6 * d.h),
            mask: self.mask.as_deref().map(|m| pick(m, d.t, d.h)),
            lengths: self
                .lengths
                .as_ref()
                .map(|l| rows.iter().map(|&r| l[r]).collect()),
        }
    }

    /// Runs the recurrence, one group of rows per thread; returns every `h`
    /// (`[B, T, H]`) and each group's [`Saved`].
    fn run(
        &self,
        d: Dims,
        xs: &[f32],
        weights: &[f32],
        init: &[f32],
    ) -> candle_core::Result<(Vec<f32>, GroupsSaved)> {
        self.check(d)?;
        let groups = row_groups(d.b, self.lengths.as_deref());
        let parts = for_groups(groups, |rows, parallel| {
            let g = self.group(d, xs, init, &rows);
            let (h, s) = forward_rows(&g, weights, parallel);
            (h, (rows, s))
        });
        // Batch-major outputs: each group's rows go back to their places.
        let mut hs = vec![0f32; d.b * d.t * d.h];
        let mut saved = Vec::with_capacity(parts.len());
        for (h, (rows, s)) in parts {
            scatter_rows(&mut hs, d.t * d.h, &rows, &h);
            saved.push((rows, s));
        }
        Ok((hs, saved))
    }
}

impl CustomOp3 for LstmSequence {
    fn name(&self) -> &'static str {
        "lstm-sequence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims(l1.shape(), l2.shape(), l3.shape())?;
        let (xs, weights, init) = (
            slice(s1, l1, "X")?,
            slice(s2, l2, "weights")?,
            slice(s3, l3, "init")?,
        );
        let (hs, saved) = self.run(d, xs, weights, init)?;
        if let Ok(mut slot) = self.saved.lock() {
            *slot = Some(saved);
        }
        Ok((CpuStorage::F32(hs), Shape::from((d.b, d.t, d.h))))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weights: &Tensor,
        init: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = dims(xs.shape(), weights.shape(), init.shape())?;
        let (xs_v, w, init_v, dout) = (host(xs)?, host(weights)?, host(init)?, host(grad)?);
        let saved = match self.saved.lock().ok().and_then(|mut s| s.take()) {
            Some(s) => s,
            None => self.run(d, &xs_v, &w, &init_v)?.1,
        };
        let parts = for_groups(saved, |(rows, s), parallel| {
            let g = self.group(d, &xs_v, &init_v, &rows);
            // ∂H is batch-major [B, T·H]: a group's rows, gathered as one step of T·H.
            let dout = pick_rows(&dout, 1, d.b, d.t * d.h, &rows);
            let (dw, dinit) = backward_rows(&g, &w, s, &dout, parallel);
            (rows, dw, dinit)
        });
        let mut dw = vec![0f32; (d.i + d.h) * GATES * d.h];
        let mut dinit = vec![0f32; d.b * 6 * d.h];
        for (rows, gdw, gdinit) in parts {
            for (a, g) in dw.iter_mut().zip(&gdw) {
                *a += g;
            }
            scatter_rows(&mut dinit, 6 * d.h, &rows, &gdinit);
        }
        let dev = xs.device();
        Ok((
            None,
            Some(Tensor::from_vec(dw, (d.i + d.h, GATES * d.h), dev)?),
            Some(Tensor::from_vec(dinit, (d.b, 6 * d.h), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-0.5, 0.5).
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|k| ((k * 7919 + seed * 104_729) % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    }

    /// Deterministic inputs of an op of size `d`: `X`, `[W_x; W_hh]`,
    /// `[c_0 | h_0 | β]`, a dropout mask (keep 0.8) and an upstream `∂H`.
    fn inputs(d: Dims) -> [Vec<f32>; 5] {
        let mask = values(d.t * d.b * d.h, 4)
            .iter()
            .map(|v| if *v < 0.3 { 1.25 } else { 0.0 })
            .collect();
        [
            values(d.t * d.b * d.i, 1),
            values((d.i + d.h) * GATES * d.h, 2),
            values(d.b * 6 * d.h, 3),
            mask,
            values(d.b * d.t * d.h, 5),
        ]
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-5, "{what}[{k}]: {x} vs {y}");
        }
    }

    /// A packed run (each row only its own length, the encoder's case) must
    /// compute before each row's length exactly what the whole run computes,
    /// leave zeros after it, and give the gradients the whole run gives when
    /// nothing reaches the outputs after a length, whatever reaches them here.
    #[test]
    fn rows_run_to_their_length_compute_what_the_whole_run_computes_before_it() {
        let d = Dims {
            t: 9,
            b: 6,
            i: 3,
            h: 4,
        };
        let lengths = vec![9, 3, 0, 7, 1, 9];
        let [xs, w, init, mask, dout] = inputs(d);
        let after_length = |r: usize, k: usize| k / d.h >= lengths[r];
        // What reaches the outputs before each length only.
        let dout_read: Vec<f32> = dout
            .chunks_exact(d.t * d.h)
            .enumerate()
            .flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(k, &v)| if after_length(r, k) { 0.0 } else { v })
            })
            .collect();
        let whole_op = LstmSequence::new(Some(mask.clone()));
        let whole = whole_op.group(d, &xs, &init, &[0, 1, 2, 3, 4, 5]);
        let (hs, saved) = forward_rows(&whole, &w, false);
        let (dw, dinit) = backward_rows(&whole, &w, saved, &dout_read, false);

        let op = LstmSequence::new(Some(mask)).with_lengths(Some(lengths.clone()));
        let groups = deal_rows(d.b, 2, Some(&lengths));
        assert_eq!(
            groups,
            [vec![0, 3, 4], vec![5, 1, 2]],
            "longest first, dealt in turn"
        );
        let mut hs_p = vec![0f32; hs.len()];
        let (mut dw_p, mut dinit_p) = (vec![0f32; dw.len()], vec![0f32; dinit.len()]);
        for rows in groups {
            let g = op.group(d, &xs, &init, &rows);
            let (h, s) = forward_rows(&g, &w, false);
            scatter_rows(&mut hs_p, d.t * d.h, &rows, &h);
            let dout = pick_rows(&dout, 1, d.b, d.t * d.h, &rows);
            let (gw, gi) = backward_rows(&g, &w, s, &dout, false);
            scatter_rows(&mut dinit_p, 6 * d.h, &rows, &gi);
            for (a, v) in dw_p.iter_mut().zip(&gw) {
                *a += v;
            }
        }
        for (r, (packed, full)) in hs_p
            .chunks_exact(d.t * d.h)
            .zip(hs.chunks_exact(d.t * d.h))
            .enumerate()
        {
            for k in 0..d.t * d.h {
                let expected = if after_length(r, k) { 0.0 } else { full[k] };
                assert!(
                    (packed[k] - expected).abs() <= 1e-5,
                    "h of row {r} at step {}: {} vs {expected}",
                    k / d.h,
                    packed[k]
                );
            }
        }
        close(&dinit, &dinit_p, "∂init");
        close(&dw, &dw_p, "∂W");
        assert!(
            dinit[2 * 6 * d.h..3 * 6 * d.h].iter().all(|&v| v == 0.0),
            "a row of length 0 takes no gradient"
        );
    }

    /// The op refuses lengths that do not fit its batch and steps.
    #[test]
    fn lengths_that_do_not_fit_the_batch_are_refused() {
        let dev = candle_core::Device::Cpu;
        let (t, b, i, h) = (3, 2, 1, 2);
        let xs = Tensor::zeros((t, b, i), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((i + h, GATES * h), candle_core::DType::F32, &dev).unwrap();
        let init = Tensor::zeros((b, 6 * h), candle_core::DType::F32, &dev).unwrap();
        for lengths in [vec![3], vec![1, 4]] {
            let op = LstmSequence::new(None).with_lengths(Some(lengths.clone()));
            let err = xs.apply_op3(&w, &init, op).unwrap_err().to_string();
            assert!(err.contains("lengths in 0..=3"), "{lengths:?}: {err}");
        }
        let op = LstmSequence::new(None).with_lengths(Some(vec![3, 0]));
        assert!(xs.apply_op3(&w, &init, op).is_ok());
    }

    /// The threads' split of the batch ([`row_groups`]) must not change the
    /// result: running two groups of rows apart gives the same outputs, the
    /// same `∂[c_0 | h_0 | β]` and, summed, the same `∂W` as one group.
    #[test]
    fn groups_of_rows_give_the_values_and_gradients_of_the_whole_batch() {
        let d = Dims {
            t: 7,
            b: 5,
            i: 3,
            h: 4,
        };
        let [xs, w, init, mask, dout] = inputs(d);
        let op = LstmSequence::new(Some(mask.clone()));
        let whole = op.group(d, &xs, &init, &[0, 1, 2, 3, 4]);
        let (hs, saved) = forward_rows(&whole, &w, false);
        let (dw, dinit) = backward_rows(&whole, &w, saved, &dout, false);
        let (mut hs_g, mut dw_g, mut dinit_g) = (Vec::new(), vec![0f32; dw.len()], Vec::new());
        for rows in deal_rows(d.b, 2, None) {
            let g = op.group(d, &xs, &init, &rows);
            let (h, s) = forward_rows(&g, &w, false);
            let dout = pick_rows(&dout, 1, d.b, d.t * d.h, &rows);
            let (gw, gi) = backward_rows(&g, &w, s, &dout, false);
            hs_g.extend_from_slice(&h);
            dinit_g.extend_from_slice(&gi);
            for (a, v) in dw_g.iter_mut().zip(&gw) {
                *a += v;
            }
        }
        close(&hs, &hs_g, "h");
        close(&dinit, &dinit_g, "∂init");
        close(&dw, &dw_g, "∂W");
        assert!(
            dw.iter().any(|v| v.abs() > 1e-3),
            "the gradient is not trivially zero"
        );
    }
}

//! The LSTM's pointwise update as two fused candle ops with hand-written
//! backward passes, so one cell step costs one pass over the gates instead of a
//! dozen small tensor ops (and no `narrow` of an activation inside the time loop,
//! whose backward zero-fills the whole source every step).
//!
//! With gate pre-activations `[i, g, f, o]` (TensorFlow order), forget bias
//! [`FORGET_BIAS`] and recurrent-dropout mask `m`:
//!
//! ```text
//! c' = c·σ(f + 1) + σ(i)·tanh(g)·m          (CellState, CustomOp3(gates, c, m))
//! h' = tanh(c')·σ(o)                         (CellOutput, CustomOp2(c', gates))
//! ```
//!
//! Backward, for upstream gradients `∂c'` and `∂h'`:
//!
//! ```text
//! ∂i = ∂c'·tanh(g)·m·σ(i)(1−σ(i))   ∂g = ∂c'·σ(i)·m·(1−tanh²(g))   ∂f = ∂c'·c·σ(f+1)(1−σ(f+1))
//! ∂c = ∂c'·σ(f+1)                   ∂c' += ∂h'·σ(o)·(1−tanh²(c'))   ∂o = ∂h'·tanh(c')·σ(o)(1−σ(o))
//! ```
//!
//! `tests/model.rs` checks both against candle's autograd of the unfused formula.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};

use crate::model::cell::FORGET_BIAS;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The contiguous f32 data of a custom op's argument (`what` names it in errors).
pub(crate) fn slice<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("LSTM op: {what} must be f32");
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("LSTM op: {what} must be contiguous"),
    }
}

/// `[B, 4H]` gates and `[B, H]` tensors: returns (B, H) after checking shapes.
fn dims(gates: &Layout, other: &Layout) -> candle_core::Result<(usize, usize)> {
    let (b, g4) = gates.shape().dims2()?;
    let (b2, h) = other.shape().dims2()?;
    if b != b2 || g4 != 4 * h {
        candle_core::bail!(
            "fused LSTM: gates {:?} do not match state {:?}",
            gates.shape(),
            other.shape()
        );
    }
    Ok((b, h))
}

/// A tensor's values on the host, flattened.
pub(crate) fn host(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// `c' = c·σ(f+1) + σ(i)·tanh(g)·m`.
pub struct CellState;

impl CustomOp3 for CellState {
    fn name(&self) -> &'static str {
        "lstm-cell-state"
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
        let (b, h) = dims(l1, l2)?;
        dims(l1, l3)?;
        let (gates, c, m) = (
            slice(s1, l1, "gates")?,
            slice(s2, l2, "c")?,
            slice(s3, l3, "mask")?,
        );
        let mut out = vec![0f32; b * h];
        for r in 0..b {
            let g = &gates[r * 4 * h..(r + 1) * 4 * h];
            for k in 0..h {
                let i = sigmoid(g[k]);
                let cand = g[h + k].tanh();
                let f = sigmoid(g[2 * h + k] + FORGET_BIAS as f32);
                out[r * h + k] = c[r * h + k] * f + i * cand * m[r * h + k];
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, h))))
    }

    fn bwd(
        &self,
        gates: &Tensor,
        c: &Tensor,
        mask: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, h) = c.dims2()?;
        let (g, cv, m, dc) = (host(gates)?, host(c)?, host(mask)?, host(grad)?);
        let mut dg = vec![0f32; b * 4 * h];
        let mut dcp = vec![0f32; b * h];
        for r in 0..b {
            for k in 0..h {
                let (gi, gg, gf) = (r * 4 * h + k, r * 4 * h + h + k, r * 4 * h + 2 * h + k);
                let (x, d, mm) = (r * h + k, dc[r * h + k], m[r * h + k]);
                let i = sigmoid(g[gi]);
                let cand = g[gg].tanh();
                let f = sigmoid(g[gf] + FORGET_BIAS as f32);
                dg[gi] = d * cand * mm * i * (1.0 - i);
                dg[gg] = d * i * mm * (1.0 - cand * cand);
                dg[gf] = d * cv[x] * f * (1.0 - f);
                dcp[x] = d * f;
            }
        }
        let dev = c.device();
        Ok((
            Some(Tensor::from_vec(dg, (b, 4 * h), dev)?),
            Some(Tensor::from_vec(dcp, (b, h), dev)?),
            None,
        ))
    }
}

/// `h' = tanh(c')·σ(o)`.
pub struct CellOutput;

impl CustomOp2 for CellOutput {
    fn name(&self) -> &'static str {
        "lstm-cell-output"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, h) = dims(l2, l1)?;
        let (c, gates) = (slice(s1, l1, "c")?, slice(s2, l2, "gates")?);
        let mut out = vec![0f32; b * h];
        for r in 0..b {
            for k in 0..h {
                out[r * h + k] = c[r * h + k].tanh() * sigmoid(gates[r * 4 * h + 3 * h + k]);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, h))))
    }

    fn bwd(
        &self,
        c: &Tensor,
        gates: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (b, h) = c.dims2()?;
        let (cv, g, dh) = (host(c)?, host(gates)?, host(grad)?);
        let mut dc = vec![0f32; b * h];
        let mut dg = vec![0f32; b * 4 * h];
        for r in 0..b {
            for k in 0..h {
                let x = r * h + k;
                let go = r * 4 * h + 3 * h + k;
                let t = cv[x].tanh();
                let o = sigmoid(g[go]);
                dc[x] = dh[x] * o * (1.0 - t * t);
                dg[go] = dh[x] * t * o * (1.0 - o);
            }
        }
        let dev = c.device();
        Ok((
            Some(Tensor::from_vec(dc, (b, h), dev)?),
            Some(Tensor::from_vec(dg, (b, 4 * h), dev)?),
        ))
    }
}

//! The training objective (paper section 3.2, equations 7–11), as candle
//! tensors the trainer can back-propagate through.
//!
//! ```text
//! L_s  = -1/N_max Σ_{i ≤ N_s} log Σ_j Π_j N(Δx_i, Δy_i | μ_j, σ_j, ρ_j)      (offsets, real rows only)
//! L_p  = -1/N_max Σ_{i ≤ N_max} Σ_k p_k,i log q_k,i                              (pen, all rows)
//! L_KL = -1/(2 N_z) Σ (1 + σ̂ - μ² - exp(σ̂))
//! Loss = L_s + L_p + w_KL · max(L_KL, KL_min)
//! ```
//!
//! All per-timestep, in normalised units, averaged over the batch. Log
//! densities are combined with log-sum-exp for stability.
//!
//! `L_s` and `L_p` are one fused candle op ([`MixtureLoss`]) with a
//! hand-written gradient: written with tensor ops they take some thirty passes
//! over `[B·N_max, M]` tensors forward and more backward (about a tenth of a
//! training step); fused, each row's mixture is read once. For the row `i`,
//! with `n_x = (Δx − μ_x)/σ_x`, `n_y` likewise, `ω = max(1 − ρ², ε)`,
//! `Z = n_x² + n_y² − 2ρ n_x n_y`, `a_j = log Π_j + log N_j` and the
//! responsibilities `γ_j = softmax(a)_j`, the gradient of `−log Σ_j e^{a_j}`:
//!
//! ```text
//! ∂/∂π̂_j      = Π_j − γ_j
//! ∂/∂μ_x,j    = −γ_j (n_x − ρ n_y) / (ω σ_x)           (μ_y, σ_y: x and y swapped)
//! ∂/∂log σ_x,j = −γ_j ((n_x − ρ n_y) n_x / ω − 1)
//! ∂/∂ρ̂_j      = −γ_j (1 − ρ²) (n_x n_y / ω − 2ρ (Z / (2ω²) − 1 / (2ω)))   (no 2ρ term where ω is floored)
//! ∂L_p/∂q̂_k   = q_k − p_k                                (pen logits, per row)
//! ```
//!
//! each scaled by the row's weight (`(1 − p_end)/R` for `L_s`, so end rows
//! count 0; `1/R` for `L_p`). `tests` check values and gradients against
//! candle's autograd of the same formula written with tensor ops.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

use crate::error::Result;
use crate::model::activation::exp;
use crate::model::encoder::STROKE_WIDTH;
use crate::model::fused::{host, slice};
use crate::model::mixture::{PARAMS_PER_MIXTURE, PEN_STATES, omega};
use crate::model::sequence::{for_groups, thread_count};

/// `ln(2π)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// Reconstruction losses `(L_s, L_p)`, scalars.
///
/// `logits: [R, 6M+3]` raw decoder outputs for `R = B·N_max` rows, `target: [R, 5]`
/// the stroke-5 rows they predict (normalised units). Rows whose target is an
/// end-of-drawing row are masked out of `L_s`, as in Magenta's `get_lossfunc`.
pub fn reconstruction_loss(logits: &Tensor, target: &Tensor, m: usize) -> Result<(Tensor, Tensor)> {
    let both = logits
        .contiguous()?
        .apply_op2(&target.contiguous()?, MixtureLoss { m })?; // [2]
    Ok((both.get(0)?, both.get(1)?))
}

/// `[L_s, L_p]` of `(logits [R, 6M+3], target [R, 5])` as one op; the target is
/// data and takes no gradient. See the module documentation for the maths.
struct MixtureLoss {
    /// Mixture components `M`.
    m: usize,
}

/// What one row contributes: its `−log p(Δx, Δy)` times `1 − p_end` and its
/// `−Σ_k p_k log q_k`.
struct RowLoss {
    offsets: f64,
    pen: f64,
}

/// Per-component scratch for one row's gradient: `[a, n_x, n_y, ρ, Z, σ_x, σ_y]`,
/// each `M` long (ω and whether it was floored follow from ρ).
const SCRATCH_PER_MIXTURE: usize = 7;

impl MixtureLoss {
    fn rows(&self, logits: &Layout, target: &Layout) -> candle_core::Result<usize> {
        let (r, w) = logits.shape().dims2()?;
        let (r2, w2) = target.shape().dims2()?;
        let expected = PARAMS_PER_MIXTURE * self.m + PEN_STATES;
        if w != expected || r2 != r || w2 != STROKE_WIDTH {
            candle_core::bail!(
                "mixture loss: expected logits [R, {expected}] and target [R, {STROKE_WIDTH}], found {:?} and {:?}",
                logits.shape(),
                target.shape()
            );
        }
        Ok(r)
    }

    /// One row: its losses, and with `grad = Some((∂row, w_s, w_p))` the
    /// gradient of `w_s·offsets + w_p·pen` with respect to the row's logits.
    fn row(
        &self,
        raw: &[f32],
        target: &[f32],
        scratch: &mut [f32],
        grad: Option<(&mut [f32], f32, f32)>,
    ) -> RowLoss {
        let m = self.m;
        let part = |k: usize| &raw[PEN_STATES + k * m..PEN_STATES + (k + 1) * m];
        let (pi, mu_x, mu_y, ls_x, ls_y, rho_raw) =
            (part(0), part(1), part(2), part(3), part(4), part(5));
        let (dx, dy) = (target[0], target[1]);
        // 1 for a real row, 0 for an end-of-drawing row (Magenta's mask).
        let not_end = 1.0 - target[4];
        let (a, rest) = scratch.split_at_mut(m);
        let (nxs, rest) = rest.split_at_mut(m);
        let (nys, rest) = rest.split_at_mut(m);
        let (rhos, rest) = rest.split_at_mut(m);
        let (zs, rest) = rest.split_at_mut(m);
        let (sxs, sys) = rest.split_at_mut(m);
        // log Π = π̂ − logsumexp(π̂)
        let pi_max = pi.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let pi_sum: f32 = pi.iter().map(|&v| exp(v - pi_max)).sum();
        let pi_lse = pi_max + pi_sum.ln();
        for j in 0..m {
            let (sx, sy) = (exp(ls_x[j]), exp(ls_y[j]));
            let rho = rho_raw[j].tanh();
            let (nx, ny) = ((dx - mu_x[j]) / sx, (dy - mu_y[j]) / sy);
            let (om, _) = omega(rho);
            let z = nx * nx + ny * ny - 2.0 * rho * nx * ny;
            let log_n = -z / (2.0 * om) - (ls_x[j] + ls_y[j]) - 0.5 * om.ln() - LN_2PI as f32;
            a[j] = pi[j] - pi_lse + log_n;
            (nxs[j], nys[j], rhos[j], zs[j], sxs[j], sys[j]) = (nx, ny, rho, z, sx, sy);
        }
        let a_max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let a_sum: f32 = a.iter().map(|&v| exp(v - a_max)).sum();
        let log_p = a_max + a_sum.ln();
        let pen_logits = &raw[..PEN_STATES];
        let q_max = pen_logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let q_sum: f32 = pen_logits.iter().map(|&v| exp(v - q_max)).sum();
        let q_lse = q_max + q_sum.ln();
        let pen: f64 = (0..PEN_STATES)
            .map(|k| -(target[2 + k] as f64) * (pen_logits[k] - q_lse) as f64)
            .sum();
        let loss = RowLoss {
            offsets: -(log_p as f64) * not_end as f64,
            pen,
        };
        let Some((g, w_s, w_p)) = grad else {
            return loss;
        };
        let p_total: f32 = target[2..2 + PEN_STATES].iter().sum();
        for k in 0..PEN_STATES {
            g[k] = w_p * (exp(pen_logits[k] - q_lse) * p_total - target[2 + k]);
        }
        let w = w_s * not_end;
        let mut gpart = |k: usize, j: usize, v: f32| g[PEN_STATES + k * m + j] = v;
        for j in 0..m {
            let gamma = exp(a[j] - log_p);
            let (nx, ny, rho, z, sx, sy) = (nxs[j], nys[j], rhos[j], zs[j], sxs[j], sys[j]);
            let (om, floored) = omega(rho);
            let ex = (nx - rho * ny) / om;
            let ey = (ny - rho * nx) / om;
            let d_rho = nx * ny / om
                + if floored {
                    0.0
                } else {
                    -2.0 * rho * (z / (2.0 * om * om) - 0.5 / om)
                };
            gpart(0, j, w * (exp(pi[j] - pi_lse) - gamma));
            gpart(1, j, -w * gamma * ex / sx);
            gpart(2, j, -w * gamma * ey / sy);
            gpart(3, j, -w * gamma * (ex * nx - 1.0));
            gpart(4, j, -w * gamma * (ey * ny - 1.0));
            gpart(5, j, -w * gamma * d_rho * (1.0 - rho * rho));
        }
        loss
    }

    /// Runs `f` on contiguous ranges of the `rows`, one per thread ([`for_groups`]).
    fn chunks<R: Send>(
        &self,
        rows: usize,
        f: impl Fn(std::ops::Range<usize>) -> R + Sync,
    ) -> Vec<R> {
        let k = thread_count(rows, MIN_ROWS_PER_THREAD);
        let ranges: Vec<_> = (0..k).map(|j| j * rows / k..(j + 1) * rows / k).collect();
        for_groups(ranges, |r, _| f(r))
    }
}

/// Fewest rows a thread of [`MixtureLoss`] takes.
const MIN_ROWS_PER_THREAD: usize = 256;

impl CustomOp2 for MixtureLoss {
    fn name(&self) -> &'static str {
        "mixture-loss"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let rows = self.rows(l1, l2)?;
        let (logits, target) = (slice(s1, l1, "logits")?, slice(s2, l2, "target")?);
        let width = PARAMS_PER_MIXTURE * self.m + PEN_STATES;
        let sums = self.chunks(rows, |range| {
            let mut scratch = vec![0f32; SCRATCH_PER_MIXTURE * self.m];
            let (mut offsets, mut pen) = (0f64, 0f64);
            for r in range {
                let row = self.row(
                    &logits[r * width..(r + 1) * width],
                    &target[r * STROKE_WIDTH..(r + 1) * STROKE_WIDTH],
                    &mut scratch,
                    None,
                );
                offsets += row.offsets;
                pen += row.pen;
            }
            (offsets, pen)
        });
        let (offsets, pen) = sums
            .iter()
            .fold((0f64, 0f64), |(a, b), (x, y)| (a + x, b + y));
        let n = rows.max(1) as f64;
        Ok((
            CpuStorage::F32(vec![(offsets / n) as f32, (pen / n) as f32]),
            Shape::from(2),
        ))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        target: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let rows = self.rows(logits.layout(), target.layout())?;
        let (lv, tv) = (host(logits)?, host(target)?);
        let g = host(grad)?;
        let n = rows.max(1) as f32;
        let (w_s, w_p) = (g[0] / n, g[1] / n);
        let width = PARAMS_PER_MIXTURE * self.m + PEN_STATES;
        let parts = self.chunks(rows, |range| {
            let mut scratch = vec![0f32; SCRATCH_PER_MIXTURE * self.m];
            let mut out = vec![0f32; range.len() * width];
            for (r, dst) in range.zip(out.chunks_exact_mut(width)) {
                self.row(
                    &lv[r * width..(r + 1) * width],
                    &tv[r * STROKE_WIDTH..(r + 1) * STROKE_WIDTH],
                    &mut scratch,
                    Some((dst, w_s, w_p)),
                );
            }
            out
        });
        let d = Tensor::from_vec(parts.concat(), (rows, width), logits.device())?;
        Ok((Some(d), None))
    }
}

/// `L_KL` (equation 10), a scalar: the KL divergence of `N(μ, exp(σ̂))` from
/// `N(0, I)`, averaged over latent dimensions and the batch.
pub fn kl_loss(mu: &Tensor, presig: &Tensor) -> Result<Tensor> {
    let inner = ((1.0 + presig)? - mu.sqr()?)?.sub(&presig.exp()?)?;
    Ok((inner.mean_all()? * -0.5)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mixture::MIN_ONE_MINUS_RHO2;
    use candle_core::{D, Device, Var};

    /// `(L_s, L_p)` written with candle's tensor ops (the formula of the module
    /// documentation, as the trainer computed it before the fused op), for
    /// autograd to differentiate.
    fn unfused(logits: &Tensor, target: &Tensor, m: usize) -> (Tensor, Tensor) {
        let rows = logits.dim(0).unwrap() as f64;
        let part = |k: usize| logits.narrow(1, PEN_STATES + k * m, m).unwrap();
        let log_pi = candle_nn::ops::log_softmax(&part(0), D::Minus1).unwrap();
        let (mu_x, mu_y, ls_x, ls_y) = (part(1), part(2), part(3), part(4));
        let rho = part(5).tanh().unwrap();
        let dx = target.narrow(1, 0, 1).unwrap();
        let dy = target.narrow(1, 1, 1).unwrap();
        let nx = (dx.broadcast_sub(&mu_x).unwrap() / ls_x.exp().unwrap()).unwrap();
        let ny = (dy.broadcast_sub(&mu_y).unwrap() / ls_y.exp().unwrap()).unwrap();
        let one_minus = (1.0 - rho.sqr().unwrap())
            .unwrap()
            .clamp(MIN_ONE_MINUS_RHO2 as f64, 1.0)
            .unwrap();
        let cross = ((&rho * &nx).unwrap() * &ny).unwrap();
        let z =
            ((nx.sqr().unwrap() + ny.sqr().unwrap()).unwrap() - (cross * 2.0).unwrap()).unwrap();
        let log_n = (((z / (&one_minus * 2.0).unwrap()).unwrap().neg().unwrap()
            - (ls_x + ls_y).unwrap())
        .unwrap()
            - (one_minus.log().unwrap() * 0.5).unwrap())
        .unwrap();
        let log_p = ((log_pi + (log_n - LN_2PI).unwrap()).unwrap())
            .log_sum_exp(D::Minus1)
            .unwrap();
        let not_end = (1.0 - target.narrow(1, 4, 1).unwrap().squeeze(1).unwrap()).unwrap();
        let ls = ((log_p * not_end).unwrap().sum_all().unwrap().neg().unwrap() / rows).unwrap();
        let log_q =
            candle_nn::ops::log_softmax(&logits.narrow(1, 0, PEN_STATES).unwrap(), D::Minus1)
                .unwrap();
        let pen = target.narrow(1, 2, PEN_STATES).unwrap();
        let lp = ((log_q * pen).unwrap().sum_all().unwrap().neg().unwrap() / rows).unwrap();
        (ls, lp)
    }

    /// The fused op against autograd of the unfused formula: values within
    /// 1e-5 (relative), gradients of `0.7 L_s + 1.3 L_p` within 1e-4 after
    /// scaling by the row count (so each row's share is order 1).
    fn check_against_autograd(m: usize, raw: Vec<f32>, tv: Vec<f32>) {
        let width = PARAMS_PER_MIXTURE * m + PEN_STATES;
        let rows = raw.len() / width;
        let dev = Device::Cpu;
        let logits = Var::from_vec(raw, (rows, width), &dev).unwrap();
        let target = Tensor::from_vec(tv, (rows, STROKE_WIDTH), &dev).unwrap();
        let (ls, lp) = reconstruction_loss(logits.as_tensor(), &target, m).unwrap();
        let (ls_ref, lp_ref) = unfused(logits.as_tensor(), &target, m);
        let value = |t: &Tensor| t.to_scalar::<f32>().unwrap();
        for (what, a, b) in [
            ("L_s", value(&ls), value(&ls_ref)),
            ("L_p", value(&lp), value(&lp_ref)),
        ] {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{what}: {a} vs {b}"
            );
        }
        let cost = |s: &Tensor, p: &Tensor| ((s * 0.7).unwrap() + (p * 1.3).unwrap()).unwrap();
        let grad = |c: Tensor| {
            c.backward()
                .unwrap()
                .get(logits.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let (g, g_ref) = (grad(cost(&ls, &lp)), grad(cost(&ls_ref, &lp_ref)));
        for (k, (a, b)) in g.iter().zip(&g_ref).enumerate() {
            let (a, b) = (a * rows as f32, b * rows as f32);
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "∂logits[{}, {}]: {a} vs {b}",
                k / width,
                k % width
            );
        }
        assert!(
            g.iter().any(|v| v.abs() * rows as f32 > 0.1),
            "the gradient is not trivially zero"
        );
    }

    /// Rows that cover pen down, pen up and end targets and wide and narrow σ.
    #[test]
    fn fused_loss_and_gradient_match_autograd_of_the_formula() {
        let (m, rows) = (3, 40);
        let width = PARAMS_PER_MIXTURE * m + PEN_STATES;
        let raw: Vec<f32> = (0..rows * width)
            .map(|k| ((k * 7919 + 13) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        let mut tv = vec![0f32; rows * STROKE_WIDTH];
        for (r, row) in tv.chunks_exact_mut(STROKE_WIDTH).enumerate() {
            let state = r % 3; // down, up, end
            if state < 2 {
                row[0] = (r as f32 * 0.37).sin() * 2.0;
                row[1] = (r as f32 * 0.61).cos() * 1.5;
            }
            row[2 + state] = 1.0;
        }
        check_against_autograd(m, raw, tv);
    }

    /// A component with `ρ ≈ 1` (`1 − ρ²` under its floor) that carries the
    /// row: no gradient flows through the floored `1 − ρ²`.
    #[test]
    fn fused_loss_gradient_where_one_minus_rho_squared_is_floored() {
        // pen logits, π̂, μ_x, μ_y, log σ_x, log σ_y, ρ̂ = 9 (tanh² 9 > 1 − 1e-6)
        let raw = vec![0.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0];
        check_against_autograd(1, raw, vec![0.5, 0.5001, 1.0, 0.0, 0.0]);
    }

    /// Logits and targets that do not fit the mixture are refused.
    #[test]
    fn logits_that_do_not_fit_the_mixture_are_refused() {
        let dev = Device::Cpu;
        let logits = Tensor::zeros((4, 6 * 2 + 3), candle_core::DType::F32, &dev).unwrap();
        let target = Tensor::zeros((4, STROKE_WIDTH), candle_core::DType::F32, &dev).unwrap();
        let err = reconstruction_loss(&logits, &target, 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected logits [R, 21]"), "{err}");
        let short = Tensor::zeros((3, STROKE_WIDTH), candle_core::DType::F32, &dev).unwrap();
        assert!(reconstruction_loss(&logits, &short, 2).is_err());
        assert!(reconstruction_loss(&logits, &target, 2).is_ok());
    }
}

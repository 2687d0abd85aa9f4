//! The training objective (paper section 3.2, equations 7–11), written with
//! differentiable candle ops so the trainer can back-propagate through it.
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

use candle_core::{D, Tensor};

use crate::error::Result;
use crate::model::mixture::PEN_STATES;

/// `ln(2π)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// Floor on `1 - ρ²` to keep the density finite.
const MIN_ONE_MINUS_RHO2: f64 = 1e-6;

/// Reconstruction losses `(L_s, L_p)`, scalars.
///
/// `logits: [R, 6M+3]` raw decoder outputs for `R = B·N_max` rows, `target: [R, 5]`
/// the stroke-5 rows they predict (normalised units). Rows whose target is an
/// end-of-drawing row are masked out of `L_s`, as in Magenta's `get_lossfunc`.
pub fn reconstruction_loss(logits: &Tensor, target: &Tensor, m: usize) -> Result<(Tensor, Tensor)> {
    let rows = logits.dim(0)? as f64;
    let part = |k: usize| logits.narrow(1, PEN_STATES + k * m, m);
    let log_pi = candle_nn::ops::log_softmax(&part(0)?, D::Minus1)?;
    let (mu_x, mu_y) = (part(1)?, part(2)?);
    let (ls_x, ls_y) = (part(3)?, part(4)?); // log σ
    let rho = part(5)?.tanh()?;
    let dx = target.narrow(1, 0, 1)?;
    let dy = target.narrow(1, 1, 1)?;
    let nx = dx.broadcast_sub(&mu_x)?.div(&ls_x.exp()?)?;
    let ny = dy.broadcast_sub(&mu_y)?.div(&ls_y.exp()?)?;
    let one_minus = (1.0 - rho.sqr()?)?.clamp(MIN_ONE_MINUS_RHO2, 1.0)?;
    let z = ((nx.sqr()? + ny.sqr()?)? - (rho.mul(&nx)?.mul(&ny)? * 2.0)?)?;
    let log_n = ((z.div(&(one_minus.clone() * 2.0)?)?.neg()? - (ls_x + ls_y)?)?
        - (one_minus.log()? * 0.5)?)?;
    let log_n = (log_n - LN_2PI)?;
    let log_p = (log_pi + log_n)?.log_sum_exp(D::Minus1)?; // [R]
    let not_end = (1.0 - target.narrow(1, 4, 1)?.squeeze(1)?)?;
    let ls = (log_p.mul(&not_end)?.sum_all()?.neg()? / rows)?;
    let log_q = candle_nn::ops::log_softmax(&logits.narrow(1, 0, PEN_STATES)?, D::Minus1)?;
    let lp = (log_q
        .mul(&target.narrow(1, 2, PEN_STATES)?)?
        .sum_all()?
        .neg()?
        / rows)?;
    Ok((ls, lp))
}

/// `L_KL` (equation 10), a scalar: the KL divergence of `N(μ, exp(σ̂))` from
/// `N(0, I)`, averaged over latent dimensions and the batch.
pub fn kl_loss(mu: &Tensor, presig: &Tensor) -> Result<Tensor> {
    let inner = ((1.0 + presig)? - mu.sqr()?)?.sub(&presig.exp()?)?;
    Ok((inner.mean_all()? * -0.5)?)
}

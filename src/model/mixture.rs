//! The mixture-density output head (paper section 3.2, equations 3–6).
//!
//! The decoder's output layer maps `h` to `y ∈ R^(6M+3)`, laid out as in
//! Magenta's `get_mixture_coef`: `[pen logits (3), π̂ (M), μx (M), μy (M),
//! σ̂x (M), σ̂y (M), ρ̂ (M)]`. The parameters of the offset distribution are
//!
//! ```text
//! π = softmax(π̂)    σ = exp(σ̂)    ρ = tanh(ρ̂)    (q1, q2, q3) = softmax(pen logits)
//! p(Δx, Δy) = Σ_j π_j N(Δx, Δy | μx_j, μy_j, σx_j, σy_j, ρ_j)
//! ```
//!
//! with offsets and μ, σ in normalised units.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of pen states (down, up, end).
pub const PEN_STATES: usize = 3;
/// Parameters per mixture component (π, μx, μy, σx, σy, ρ).
pub const PARAMS_PER_MIXTURE: usize = 6;

/// Width of the output layer for `m` mixtures: `6m + 3`.
pub fn output_size(m: usize) -> usize {
    PARAMS_PER_MIXTURE * m + PEN_STATES
}

/// One step's distribution over the next point, on the host.
/// `mu_*` and `sigma_*` are in normalised units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mixture {
    pub pi: Vec<f32>,
    pub mu_x: Vec<f32>,
    pub mu_y: Vec<f32>,
    pub sigma_x: Vec<f32>,
    pub sigma_y: Vec<f32>,
    pub rho: Vec<f32>,
    /// Probabilities of pen down, pen up, end of drawing.
    pub pen: [f32; 3],
}

/// Softmax of `logits / temperature`, computed stably.
pub fn softmax_with_temperature(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

impl Mixture {
    /// Decodes one row of raw outputs (`6m + 3` values) at `temperature` τ:
    /// π and pen probabilities are `softmax(logits / τ)` and σ is scaled by `√τ`
    /// (sketch-rnn's `sample()`: `adjust_temp` and `sample_gaussian_2d(..., sqrt(temp))`).
    /// At τ = 1 these are the model's own probabilities.
    pub fn from_raw(raw: &[f32], m: usize, temperature: f32) -> Result<Mixture> {
        if raw.len() != output_size(m) {
            return Err(Error::Shape {
                what: "mixture output".into(),
                expected: vec![output_size(m)],
                found: vec![raw.len()],
            });
        }
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::invalid_argument(
                "temperature",
                format!("must be finite and > 0, found {temperature}"),
            ));
        }
        let part = |k: usize| &raw[PEN_STATES + k * m..PEN_STATES + (k + 1) * m];
        let sqrt_t = temperature.sqrt();
        let pen = softmax_with_temperature(&raw[..PEN_STATES], temperature);
        Ok(Mixture {
            pi: softmax_with_temperature(part(0), temperature),
            mu_x: part(1).to_vec(),
            mu_y: part(2).to_vec(),
            sigma_x: part(3).iter().map(|s| s.exp() * sqrt_t).collect(),
            sigma_y: part(4).iter().map(|s| s.exp() * sqrt_t).collect(),
            rho: part(5).iter().map(|r| r.tanh()).collect(),
            pen: [pen[0], pen[1], pen[2]],
        })
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.pi.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pi.is_empty()
    }

    /// The density `p(Δx, Δy)` of an offset in normalised units (equation 3, without the pen).
    pub fn offset_density(&self, dx: f32, dy: f32) -> f32 {
        (0..self.len())
            .map(|j| {
                self.pi[j]
                    * bivariate_normal(
                        dx,
                        dy,
                        self.mu_x[j],
                        self.mu_y[j],
                        self.sigma_x[j],
                        self.sigma_y[j],
                        self.rho[j],
                    )
            })
            .sum()
    }
}

/// The bivariate normal density `N(x, y | μx, μy, σx, σy, ρ)` (paper equation 3's components):
///
/// ```text
/// Z = ((x-μx)/σx)² + ((y-μy)/σy)² - 2ρ(x-μx)(y-μy)/(σx σy)
/// N = exp(-Z / (2(1-ρ²))) / (2π σx σy √(1-ρ²))
/// ```
pub fn bivariate_normal(
    x: f32,
    y: f32,
    mu_x: f32,
    mu_y: f32,
    sigma_x: f32,
    sigma_y: f32,
    rho: f32,
) -> f32 {
    let nx = (x - mu_x) / sigma_x;
    let ny = (y - mu_y) / sigma_y;
    let one_minus = (1.0 - rho * rho).max(1e-6);
    let z = nx * nx + ny * ny - 2.0 * rho * nx * ny;
    (-z / (2.0 * one_minus)).exp()
        / (2.0 * std::f32::consts::PI * sigma_x * sigma_y * one_minus.sqrt())
}

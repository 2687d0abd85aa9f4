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

/// Temperature of the discrete choices (which component, which pen state) at
/// drawing temperature τ = 0: `τ_d = DISCRETE_TEMPERATURE_FLOOR +
/// (1 − DISCRETE_TEMPERATURE_FLOOR) τ`. sketch-rnn-js (`@magenta/sketch`,
/// `getPDF`) uses `0.5 + 0.5τ` ("a nice heuristic"); Magenta's Python `sample()`
/// and the paper use τ itself. Measured on our sheep model with
/// `cargo run --release --example decode_stats -- www/models/sheep.safetensors
/// aaron_sheep.npz` (2026-11-28, 100 test drawings, τ = 0.25): with τ itself
/// (commit 7f3438d) 61% of reconstructions never ended within N_max, with 3.9
/// strokes a drawing, and 38.6% of their steps were under 0.1 normalised units
/// (0.6% in the data): a stroke of tiny jitter, because τ⁻¹ = 4 sharpens the
/// pen-up probability (≈ 9% a step) to almost nothing. With `0.5 + 0.5τ`: 11%,
/// 11.2 strokes (10.8 in the data) and 11.2%.
pub const DISCRETE_TEMPERATURE_FLOOR: f32 = 0.5;

/// Added to [`Mixture::offset_density`] before taking its log when scoring a
/// drawing point by point, as Magenta's sketch-rnn loss does (1e-6 inside the
/// log), so one offset far from every component costs about 14 nats, not ∞.
/// (Our training loss works in log space, [`crate::model::loss`], and needs none.)
pub const DENSITY_FLOOR: f32 = 1e-6;
/// Smallest pen probability whose log is taken when scoring a drawing.
pub const PEN_PROBABILITY_FLOOR: f32 = 1e-12;

/// The temperature of the discrete choices (mixture component and pen state)
/// at drawing temperature `temperature` (see [`DISCRETE_TEMPERATURE_FLOOR`]).
/// Equals `temperature` at 1.
pub fn discrete_temperature(temperature: f32) -> f32 {
    DISCRETE_TEMPERATURE_FLOOR + (1.0 - DISCRETE_TEMPERATURE_FLOOR) * temperature
}

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
    let mut out = vec![0.0; logits.len()];
    softmax_into(logits, temperature, &mut out);
    out
}

/// [`softmax_with_temperature`] into `out` (same length as `logits`).
fn softmax_into(logits: &[f32], temperature: f32, out: &mut [f32]) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut sum = 0.0;
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = ((l - max) / temperature).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

impl Mixture {
    /// Decodes one row of raw outputs (`6m + 3` values) at `temperature` τ, as
    /// sketch-rnn-js's `getPDF` does: σ is scaled by `√τ` (paper section 3.3) and
    /// π and the pen probabilities are `softmax(logits / τ_d)` with the milder
    /// [`discrete_temperature`] `τ_d = 0.5 + 0.5τ`. At τ = 1 these are the
    /// model's own probabilities.
    pub fn from_raw(raw: &[f32], m: usize, temperature: f32) -> Result<Mixture> {
        let mut mixture = Mixture::with_components(m);
        mixture.set_from_raw(raw, temperature)?;
        Ok(mixture)
    }

    /// A mixture of `m` components, all parameters zero (a buffer for
    /// [`Mixture::set_from_raw`]).
    pub fn with_components(m: usize) -> Mixture {
        Mixture {
            pi: vec![0.0; m],
            mu_x: vec![0.0; m],
            mu_y: vec![0.0; m],
            sigma_x: vec![0.0; m],
            sigma_y: vec![0.0; m],
            rho: vec![0.0; m],
            pen: [0.0; PEN_STATES],
        }
    }

    /// [`Mixture::from_raw`] into this mixture's own buffers (no allocation:
    /// the sampler decodes one mixture per step). `raw` must have `6M+3`
    /// values for this mixture's M.
    pub fn set_from_raw(&mut self, raw: &[f32], temperature: f32) -> Result<()> {
        let m = self.len();
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
        let discrete = discrete_temperature(temperature);
        softmax_into(&raw[..PEN_STATES], discrete, &mut self.pen);
        softmax_into(part(0), discrete, &mut self.pi);
        self.mu_x.copy_from_slice(part(1));
        self.mu_y.copy_from_slice(part(2));
        for (s, r) in self.sigma_x.iter_mut().zip(part(3)) {
            *s = r.exp() * sqrt_t;
        }
        for (s, r) in self.sigma_y.iter_mut().zip(part(4)) {
            *s = r.exp() * sqrt_t;
        }
        for (s, r) in self.rho.iter_mut().zip(part(5)) {
            *s = r.tanh();
        }
        Ok(())
    }

    /// The per-component parameters `[π, μx, μy, σx, σy, ρ]`, each of length M.
    pub fn parameters(&self) -> [&[f32]; 6] {
        [
            &self.pi,
            &self.mu_x,
            &self.mu_y,
            &self.sigma_x,
            &self.sigma_y,
            &self.rho,
        ]
    }

    /// The largest `|Δ|` between any parameter of two mixtures of the same size
    /// (NaN-safe: a NaN on either side counts as infinitely far).
    pub fn max_abs_diff(&self, other: &Mixture) -> f32 {
        let mut worst = 0f32;
        let vs = self
            .parameters()
            .into_iter()
            .zip(other.parameters())
            .flat_map(|(a, b)| a.iter().zip(b.iter()))
            .chain(self.pen.iter().zip(other.pen.iter()));
        for (a, b) in vs {
            let d = (a - b).abs();
            worst = if d.is_nan() {
                f32::INFINITY
            } else {
                worst.max(d)
            };
        }
        worst
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

/// Floor on `1 − ρ²`, so that a component with |ρ| → 1 keeps a finite density
/// (Magenta's sketch-rnn uses the same 1e-6); shared by [`bivariate_normal`]
/// and the training loss.
pub const MIN_ONE_MINUS_RHO2: f32 = 1e-6;

/// `ω = max(1 − ρ², MIN_ONE_MINUS_RHO2)`, and whether the floor applied (there
/// `ω` is a constant and takes no gradient through `ρ`).
pub fn omega(rho: f32) -> (f32, bool) {
    let one_minus = 1.0 - rho * rho;
    (
        one_minus.clamp(MIN_ONE_MINUS_RHO2, 1.0),
        one_minus <= MIN_ONE_MINUS_RHO2,
    )
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
    let (one_minus, _) = omega(rho);
    let z = nx * nx + ny * ny - 2.0 * rho * nx * ny;
    (-z / (2.0 * one_minus)).exp()
        / (2.0 * std::f32::consts::PI * sigma_x * sigma_y * one_minus.sqrt())
}

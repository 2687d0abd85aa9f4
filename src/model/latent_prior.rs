//! The latent prior that new drawings ("from imagination") take z from, in the
//! encoder's latent units.
//!
//! The VAE is trained to make each posterior `q(z | x) = N(μ(x), diag σ(x)²)`
//! close to `N(0, I)` (paper equation 10, L_KL), but with a small KL weight the
//! *aggregate* posterior `q(z) = mean_x q(z | x)` — where the decoder actually
//! learned to draw — covers only part of it: for the default sheep model each
//! latent dimension varies about 0.2 over the training set, not 1. A draw of
//! N(0, I) then mostly lands where the decoder saw no drawing and it draws a
//! tangle ("prior holes"). Sampling instead from a Gaussian fitted to the
//! aggregate posterior after training (ex-post density estimation, Ghosh et
//! al. 2020, "From Variational to Deterministic Autoencoders", section 4):
//!
//! ```text
//! m = mean_i μ_i
//! Σ = mean_i (μ_i − m)(μ_i − m)ᵀ + diag(mean_i σ_i²)      (the moments of q(z))
//! z = m + L ε,  L Lᵀ = Σ (Cholesky),  ε ~ N(0, I)
//! ```
//!
//! Models without a fitted prior (Magenta's, and ours before `fit-prior`) draw
//! from N(0, I), as the paper does.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::SketchRnn;
use crate::rng::SketchRng;
use crate::stroke::{Stroke3, normalise, stroke3_to_stroke5};

/// Fewest posteriors [`FittedPrior::fit`] accepts: one drawing has no spread
/// to fit. The fit is meant for a whole training split; from fewer drawings
/// than N_z the covariance of the μ is mostly noise (the mean σ² still keeps Σ
/// positive definite).
pub const MIN_FIT_DRAWINGS: usize = 2;

/// A Gaussian `N(mean, L Lᵀ)` over latents, fitted to a model's aggregate
/// posterior (see the module doc). Stored in the model file's info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedPrior {
    /// `m`: `[N_z]`, latent units.
    pub mean: Vec<f32>,
    /// `L`, the lower-triangular Cholesky factor of Σ, packed by rows: row `i`
    /// holds its `i + 1` entries `L[i][0..=i]`, so `N_z (N_z + 1) / 2` values.
    pub scale_tril: Vec<f32>,
    /// How many drawings' posteriors it was fitted to (provenance).
    pub drawings: usize,
}

/// Index of `L[i][j]` (`j ≤ i`) in the packed lower triangle.
fn packed(i: usize, j: usize) -> usize {
    i * (i + 1) / 2 + j
}

/// The lower-triangular `L` with `L Lᵀ = a` for a symmetric positive-definite
/// `a` (`[n, n]`, row-major), packed as [`FittedPrior::scale_tril`]; `None`
/// when `a` is not positive definite (to rounding).
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * (n + 1) / 2];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[packed(i, k)] * l[packed(j, k)]).sum();
            let s = a[i * n + j] - dot;
            l[packed(i, j)] = if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                s.sqrt()
            } else {
                s / l[packed(j, j)]
            };
        }
    }
    Some(l)
}

impl FittedPrior {
    /// Fits the Gaussian to posteriors `(μ_i, σ_i)`, each `[N_z]` (latent
    /// units; σ the standard deviation, not log-variance), one per drawing.
    pub fn fit(posteriors: &[(Vec<f32>, Vec<f32>)]) -> Result<FittedPrior> {
        let m = posteriors.len();
        if m < MIN_FIT_DRAWINGS {
            return Err(Error::invalid_argument(
                "posteriors",
                format!(
                    "fitting a latent prior needs at least {MIN_FIT_DRAWINGS} drawings, found {m}"
                ),
            ));
        }
        let n = posteriors[0].0.len();
        for (k, (mu, sigma)) in posteriors.iter().enumerate() {
            if mu.len() != n || sigma.len() != n {
                return Err(Error::Shape {
                    what: format!("posterior {k} (mu, sigma)"),
                    expected: vec![n, n],
                    found: vec![mu.len(), sigma.len()],
                });
            }
            if mu.iter().chain(sigma).any(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: format!("posterior {k}"),
                });
            }
        }
        let count = m as f64;
        let mut mean = vec![0.0f64; n];
        for (mu, _) in posteriors {
            for (acc, &v) in mean.iter_mut().zip(mu) {
                *acc += v as f64 / count;
            }
        }
        // Σ = Cov(μ) + diag(mean σ²): [n, n], row-major
        let mut cov = vec![0.0f64; n * n];
        let mut centred = vec![0.0f64; n];
        for (mu, sigma) in posteriors {
            for ((c, &v), &mv) in centred.iter_mut().zip(mu).zip(&mean) {
                *c = v as f64 - mv;
            }
            for i in 0..n {
                for j in 0..=i {
                    cov[i * n + j] += centred[i] * centred[j] / count;
                }
                cov[i * n + i] += (sigma[i] as f64).powi(2) / count;
            }
        }
        for i in 0..n {
            for j in 0..i {
                cov[j * n + i] = cov[i * n + j];
            }
        }
        let l = cholesky(&cov, n).ok_or_else(|| {
            Error::invalid_argument(
                "posteriors",
                "their covariance is not positive definite (every σ zero and too few distinct μ?)",
            )
        })?;
        Ok(FittedPrior {
            mean: mean.iter().map(|&v| v as f32).collect(),
            scale_tril: l.iter().map(|&v| v as f32).collect(),
            drawings: m,
        })
    }

    /// Fits the prior of `model` (a VAE) to the posteriors of `drawings`
    /// (stroke-3, data pixels, divided by `scale_factor` as in training).
    /// Drawings that are empty or longer than `max_seq_len` rows are skipped,
    /// as training skips them.
    pub fn fit_to_drawings(
        model: &SketchRnn,
        drawings: &[Vec<Stroke3>],
        scale_factor: f32,
        max_seq_len: usize,
    ) -> Result<FittedPrior> {
        let posteriors = drawings
            .iter()
            .filter(|d| !d.is_empty() && d.len() <= max_seq_len)
            .map(|d| {
                let mut rows = stroke3_to_stroke5(&normalise(d, scale_factor));
                rows.pop(); // the end row, as the encoder reads drawings
                model.encode(&rows)
            })
            .collect::<Result<Vec<_>>>()?;
        FittedPrior::fit(&posteriors)
    }

    /// The mean variance per dimension, `trace(Σ) / N_z` (N(0, I): 1).
    pub fn mean_variance(&self) -> f32 {
        self.scale_tril.iter().map(|v| v * v).sum::<f32>() / self.z_size().max(1) as f32
    }

    /// N_z, the latent size it is over.
    pub fn z_size(&self) -> usize {
        self.mean.len()
    }

    /// Checks it against a model of latent size `z_size`: the lengths, finite
    /// values, and a positive diagonal (so Σ = L Lᵀ is positive definite).
    pub fn validate(&self, z_size: usize) -> Result<()> {
        let tril = z_size * (z_size + 1) / 2;
        if self.mean.len() != z_size || self.scale_tril.len() != tril {
            return Err(Error::Shape {
                what: "fitted latent prior (mean, packed scale_tril)".into(),
                expected: vec![z_size, tril],
                found: vec![self.mean.len(), self.scale_tril.len()],
            });
        }
        if self
            .mean
            .iter()
            .chain(&self.scale_tril)
            .any(|v| !v.is_finite())
        {
            return Err(Error::NonFinite {
                what: "fitted latent prior".into(),
            });
        }
        if let Some(i) = (0..z_size).find(|&i| self.scale_tril[packed(i, i)] <= 0.0) {
            return Err(Error::ModelFile(format!(
                "fitted latent prior: the Cholesky factor's diagonal must be positive, found {} at row {i}",
                self.scale_tril[packed(i, i)]
            )));
        }
        Ok(())
    }

    /// `z = m + L ε` with `ε ~ N(0, I)` drawn from `rng` (latent units).
    pub fn sample(&self, rng: &mut SketchRng) -> Vec<f32> {
        let eps: Vec<f32> = (0..self.z_size()).map(|_| rng.normal()).collect();
        self.mean
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                m + (0..=i)
                    .map(|j| self.scale_tril[packed(i, j)] * eps[j])
                    .sum::<f32>()
            })
            .collect()
    }

    /// `log N(z; m, L Lᵀ)` in nats, `z`: `[N_z]` (latent units):
    /// `−½ |u|² − Σ_i log L_ii − (N_z / 2) log 2π` with `L u = z − m` (forward
    /// substitution).
    pub fn log_density(&self, z: &[f32]) -> Result<f64> {
        let n = self.z_size();
        if z.len() != n {
            return Err(Error::Shape {
                what: "latent".into(),
                expected: vec![n],
                found: vec![z.len()],
            });
        }
        let mut u = vec![0.0f64; n];
        let mut log_det = 0.0;
        for i in 0..n {
            let dot: f64 = (0..i)
                .map(|j| self.scale_tril[packed(i, j)] as f64 * u[j])
                .sum();
            let diagonal = self.scale_tril[packed(i, i)] as f64;
            u[i] = (z[i] as f64 - self.mean[i] as f64 - dot) / diagonal;
            log_det += diagonal.ln();
        }
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        Ok(-0.5 * u.iter().map(|v| v * v).sum::<f64>() - log_det - n as f64 * half_log_2pi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Posteriors whose μ follow a known correlated 2-d Gaussian, each with the
    /// same σ: the fit must return that Gaussian's mean and covariance plus σ².
    #[test]
    fn fit_recovers_the_aggregate_posteriors_moments() {
        let mut rng = SketchRng::new(3);
        // μ = (1, −2) + A e with A = [[0.5, 0], [0.3, 0.2]]: Cov(μ) = A Aᵀ
        let posteriors: Vec<_> = (0..20_000)
            .map(|_| {
                let (a, b) = (rng.normal(), rng.normal());
                (
                    vec![1.0 + 0.5 * a, -2.0 + 0.3 * a + 0.2 * b],
                    vec![0.1, 0.2],
                )
            })
            .collect();
        let p = FittedPrior::fit(&posteriors).unwrap();
        let l = &p.scale_tril;
        let sigma = [l[0] * l[0], l[1] * l[0], l[1] * l[1] + l[2] * l[2]];
        // expected Σ: [[0.25 + 0.01, 0.15], [0.15, 0.09 + 0.04 + 0.04]]
        let expected = [0.26, 0.15, 0.17];
        for (got, want) in sigma.iter().zip(expected) {
            assert!((got - want).abs() < 0.01, "Σ entry {got} vs {want}");
        }
        assert!((p.mean[0] - 1.0).abs() < 0.02 && (p.mean[1] + 2.0).abs() < 0.02);
        assert_eq!(p.drawings, 20_000);
        assert!((p.mean_variance() - (0.26 + 0.17) / 2.0).abs() < 0.01);
        p.validate(2).unwrap();
    }

    /// `N((0.5, −1), L Lᵀ)` with `L = [[0.4, 0], [−0.3, 0.1]]`:
    /// Σ = [[0.16, −0.12], [−0.12, 0.10]].
    fn two_d() -> FittedPrior {
        FittedPrior {
            mean: vec![0.5, -1.0],
            scale_tril: vec![0.4, -0.3, 0.1],
            drawings: 2,
        }
    }

    #[test]
    fn samples_have_the_fitted_mean_and_covariance() {
        let p = two_d();
        let mut rng = SketchRng::new(9);
        let n = 40_000;
        let zs: Vec<Vec<f32>> = (0..n).map(|_| p.sample(&mut rng)).collect();
        let mean = |k: usize| zs.iter().map(|z| z[k] as f64).sum::<f64>() / n as f64;
        let (m0, m1) = (mean(0), mean(1));
        let cov = |a: usize, b: usize, ma: f64, mb: f64| {
            zs.iter()
                .map(|z| (z[a] as f64 - ma) * (z[b] as f64 - mb))
                .sum::<f64>()
                / n as f64
        };
        assert!((m0 - 0.5).abs() < 0.01 && (m1 + 1.0).abs() < 0.01);
        // L Lᵀ = [[0.16, −0.12], [−0.12, 0.09 + 0.01]]
        assert!((cov(0, 0, m0, m0) - 0.16).abs() < 0.005);
        assert!((cov(0, 1, m0, m1) + 0.12).abs() < 0.005);
        assert!((cov(1, 1, m1, m1) - 0.10).abs() < 0.005);
    }

    /// Against the closed form of a 2-d Gaussian: Σ = [[0.16, −0.12], [−0.12, 0.10]],
    /// det Σ = 0.0016, Σ⁻¹ = [[0.10, 0.12], [0.12, 0.16]] / 0.0016.
    #[test]
    fn log_density_is_the_gaussians() {
        let p = two_d();
        let z = [0.7f32, -1.3];
        let d = [0.2f64, -0.3];
        let quad = (0.10 * d[0] * d[0] + 2.0 * 0.12 * d[0] * d[1] + 0.16 * d[1] * d[1]) / 0.0016;
        let expected = -0.5 * quad - 0.5 * 0.0016f64.ln() - (2.0 * std::f64::consts::PI).ln();
        let got = p.log_density(&z).unwrap();
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        assert!(matches!(p.log_density(&[0.0]), Err(Error::Shape { .. })));
    }

    #[test]
    fn cholesky_refuses_a_matrix_that_is_not_positive_definite() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        let l = cholesky(&[4.0, 2.0, 2.0, 5.0], 2).unwrap();
        assert_eq!(l, vec![2.0, 1.0, 2.0]);
    }

    #[test]
    fn fit_refuses_too_few_or_mismatched_posteriors() {
        let one = vec![(vec![0.0, 1.0], vec![0.1, 0.1])];
        assert!(matches!(
            FittedPrior::fit(&one),
            Err(Error::InvalidArgument { .. })
        ));
        let mismatched = vec![(vec![0.0, 1.0], vec![0.1, 0.1]), (vec![0.0], vec![0.1])];
        assert!(matches!(
            FittedPrior::fit(&mismatched),
            Err(Error::Shape { .. })
        ));
        let nan = vec![
            (vec![0.0, 1.0], vec![0.1, 0.1]),
            (vec![f32::NAN, 1.0], vec![0.1, 0.1]),
        ];
        assert!(matches!(
            FittedPrior::fit(&nan),
            Err(Error::NonFinite { .. })
        ));
        // identical μ and zero σ: Σ = 0
        let degenerate = vec![(vec![0.0, 1.0], vec![0.0, 0.0]); 3];
        assert!(matches!(
            FittedPrior::fit(&degenerate),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn validate_names_what_does_not_fit_the_model() {
        let p = FittedPrior {
            mean: vec![0.0, 0.0],
            scale_tril: vec![1.0, 0.0, 1.0],
            drawings: 2,
        };
        p.validate(2).unwrap();
        assert!(matches!(p.validate(3), Err(Error::Shape { .. })));
        let mut bad = p.clone();
        bad.scale_tril[2] = 0.0;
        assert!(matches!(bad.validate(2), Err(Error::ModelFile(_))));
        let mut inf = p.clone();
        inf.mean[0] = f32::INFINITY;
        assert!(matches!(inf.validate(2), Err(Error::NonFinite { .. })));
    }
}

//! Drawing with a model: sampling points from the mixture at a temperature,
//! unconditional and conditional generation, completing a partial drawing,
//! alternative completions, noisy latents, interpolation and latent arithmetic.
//!
//! Temperature τ (paper section 3.3, Magenta's `sample()`): the mixture weights
//! π and the pen probabilities are `softmax(logits / τ)` and each σ is scaled by
//! `√τ` ([`Mixture::from_raw`]). τ → 0 is nearly deterministic; τ = 1 samples the
//! model's own distribution.
//!
//! Generation state ([`Generation`]) is a value the caller owns: the decoder
//! state, the logits for the next point, the RNG and the step count. All offsets
//! are in normalised units.

use crate::error::{Error, Result};
use crate::model::{DecoderState, Mixture, SketchRnn};
use crate::rng::SketchRng;
use crate::stroke::{Pen, START_TOKEN, Stroke5};

/// Highest temperature accepted (beyond this, samples are noise).
pub const MAX_TEMPERATURE: f32 = 5.0;

/// Checks a temperature is finite and in `(0, MAX_TEMPERATURE]`.
pub fn check_temperature(t: f32) -> Result<()> {
    if t.is_finite() && t > 0.0 && t <= MAX_TEMPERATURE {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "temperature",
            format!("must be in (0, {MAX_TEMPERATURE}], found {t}"),
        ))
    }
}

/// Draws an index from a discrete distribution `p` (sums to 1).
pub fn sample_categorical(p: &[f32], rng: &mut SketchRng) -> usize {
    let u = rng.uniform();
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

/// Draws `(Δx, Δy)` from the bivariate normal of component `j`:
/// `Δx = μx + σx n1`, `Δy = μy + σy (ρ n1 + √(1-ρ²) n2)`.
pub fn sample_bivariate(m: &Mixture, j: usize, rng: &mut SketchRng) -> (f32, f32) {
    let (n1, n2) = (rng.normal(), rng.normal());
    let rho = m.rho[j];
    (
        m.mu_x[j] + m.sigma_x[j] * n1,
        m.mu_y[j] + m.sigma_y[j] * (rho * n1 + (1.0 - rho * rho).max(0.0).sqrt() * n2),
    )
}

/// Samples the next stroke-5 row (normalised units) from a mixture already at its temperature.
pub fn sample_point(m: &Mixture, rng: &mut SketchRng) -> Stroke5 {
    let j = sample_categorical(&m.pi, rng);
    let pen = sample_categorical(&m.pen, rng);
    let (dx, dy) = sample_bivariate(m, j, rng);
    let mut row = [dx, dy, 0.0, 0.0, 0.0];
    row[2 + pen] = 1.0;
    row
}

/// Where a drawing in progress stands. Clone it to branch (alternative endings).
#[derive(Debug, Clone)]
pub struct Generation {
    pub decoder: DecoderState,
    /// Raw mixture outputs for the next point (`6M+3`).
    pub next_logits: Vec<f32>,
    pub rng: SketchRng,
    /// Points generated so far (not counting a given prefix).
    pub steps: usize,
    pub finished: bool,
}

/// Starts drawing: reads the start token and then `prefix` (stroke-5 rows in
/// normalised units, without the start token: the part already drawn). The
/// latent `z` is needed by conditional models.
pub fn start(
    model: &SketchRnn,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    seed: u64,
) -> Result<Generation> {
    for (index, row) in prefix.iter().enumerate() {
        if row.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidStroke {
                index,
                reason: "non-finite value".into(),
            });
        }
    }
    let mut state = model.initial_state(z)?;
    let mut logits = Vec::new();
    for row in std::iter::once(&START_TOKEN).chain(prefix) {
        let (s, l) = model.step(&state, row)?;
        state = s;
        logits = l;
    }
    Ok(Generation {
        decoder: state,
        next_logits: logits,
        rng: SketchRng::new(seed),
        steps: 0,
        finished: false,
    })
}

/// Samples one point at `temperature` and feeds it back to the decoder.
/// Returns the new generation state and the point (stroke-5, normalised).
pub fn next_point(
    model: &SketchRnn,
    generation: Generation,
    temperature: f32,
) -> Result<(Generation, Stroke5)> {
    check_temperature(temperature)?;
    let Generation {
        decoder,
        next_logits,
        mut rng,
        steps,
        finished,
    } = generation;
    if finished {
        return Err(Error::invalid_argument(
            "generation",
            "the drawing has already ended",
        ));
    }
    let m = Mixture::from_raw(&next_logits, model.hparams.num_mixtures, temperature)?;
    let point = sample_point(&m, &mut rng);
    let ended = Pen::of(&point) == Pen::End;
    let (decoder, next_logits) = if ended {
        (decoder, next_logits)
    } else {
        model.step(&decoder, &point)?
    };
    Ok((
        Generation {
            decoder,
            next_logits,
            rng,
            steps: steps + 1,
            finished: ended,
        },
        point,
    ))
}

/// Continues `generation` until the model ends the drawing or `max_points` are
/// drawn. Returns the points, without the end row.
pub fn continue_drawing(
    model: &SketchRnn,
    mut generation: Generation,
    temperature: f32,
    max_points: usize,
) -> Result<Vec<Stroke5>> {
    let mut out = Vec::new();
    while !generation.finished && out.len() < max_points {
        let (g, p) = next_point(model, generation, temperature)?;
        generation = g;
        if !generation.finished {
            out.push(p);
        }
    }
    Ok(out)
}

/// A whole new drawing (from `z` for a conditional model), at most `max_points` rows.
pub fn generate(
    model: &SketchRnn,
    z: Option<&[f32]>,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Stroke5>> {
    let g = start(model, z, &[], seed)?;
    continue_drawing(model, g, temperature, max_points)
}

/// The random stream of alternative ending `k` of [`alternatives`].
fn alternative_rng(seed: u64, k: usize) -> SketchRng {
    SketchRng::new(
        seed.wrapping_add(1 + k as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// `n` different endings of the same partial drawing. The prefix is read once;
/// the endings are then decoded together as one batch of `n` rows (one matmul
/// per layer and step for all of them), each with its own random stream, so
/// `n` endings cost little more than one. Ending `k` is the same drawing
/// [`alternatives_one_by_one`] makes (up to float rounding).
pub fn alternatives(
    model: &SketchRnn,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    n: usize,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Vec<Stroke5>>> {
    check_temperature(temperature)?;
    let base = start(model, z, prefix, seed)?;
    let mut state = DecoderState {
        cell: base.decoder.cell.repeat(n)?,
        cond: base.decoder.cond.clone(),
    };
    let mut logits: Vec<Vec<f32>> = vec![base.next_logits; n];
    let mut rngs: Vec<SketchRng> = (0..n).map(|k| alternative_rng(seed, k)).collect();
    let mut done = vec![false; n];
    let mut out: Vec<Vec<Stroke5>> = vec![Vec::new(); n];
    for i in 0..max_points {
        let mut inputs = Vec::with_capacity(n);
        for k in 0..n {
            if done[k] {
                inputs.push(crate::stroke::END_OF_DRAWING);
                continue;
            }
            let m = Mixture::from_raw(&logits[k], model.hparams.num_mixtures, temperature)?;
            let point = sample_point(&m, &mut rngs[k]);
            if Pen::of(&point) == Pen::End {
                done[k] = true;
            } else {
                out[k].push(point);
            }
            inputs.push(point);
        }
        if done.iter().all(|&d| d) || i + 1 == max_points {
            break;
        }
        let (next, raw) = model.step_batch(&state, &inputs)?;
        state = next;
        logits = raw;
    }
    Ok(out)
}

/// [`alternatives`] one ending after another (the reference the batched
/// version is tested against).
pub fn alternatives_one_by_one(
    model: &SketchRnn,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    n: usize,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Vec<Stroke5>>> {
    let base = start(model, z, prefix, seed)?;
    (0..n)
        .map(|k| {
            let mut g = base.clone();
            g.rng = alternative_rng(seed, k);
            continue_drawing(model, g, temperature, max_points)
        })
        .collect()
}

/// A latent drawn from the prior N(0, I) of a model with `z_size` dimensions;
/// `None` for a decoder-only model (`z_size` 0).
pub fn prior_latent(z_size: usize, rng: &mut SketchRng) -> Option<Vec<f32>> {
    (z_size > 0).then(|| (0..z_size).map(|_| rng.normal()).collect())
}

/// `n` new drawings in pixels (offsets multiplied by `scale_factor`): for a
/// conditional model each from its own latent drawn from the prior N(0, I).
/// Drawing `k` uses point seed `seed + k`, latents come from a generator seeded with `seed`.
pub fn sample_prior(
    model: &SketchRnn,
    n: usize,
    temperature: f32,
    max_points: usize,
    scale_factor: f32,
    seed: u64,
) -> Result<Vec<Vec<crate::stroke::Stroke3>>> {
    let mut rng = SketchRng::new(seed);
    (0..n)
        .map(|k| {
            let z = prior_latent(model.hparams.z_size, &mut rng);
            let rows = generate(
                model,
                z.as_deref(),
                temperature,
                max_points,
                seed.wrapping_add(k as u64),
            )?;
            Ok(crate::stroke::denormalise(
                &crate::stroke::stroke5_to_stroke3(&rows),
                scale_factor,
            ))
        })
        .collect()
}

/// The noisy latent `z = μ + σ ⊙ ε · λ`, `ε ~ N(0, I)` (the VAE's sampling, with
/// `λ` scaling the noise: 0 gives μ, 1 the model's own posterior sample).
pub fn noisy_latent(
    mu: &[f32],
    sigma: &[f32],
    lambda: f32,
    rng: &mut SketchRng,
) -> Result<Vec<f32>> {
    if mu.len() != sigma.len() {
        return Err(Error::Shape {
            what: "latent sigma".into(),
            expected: vec![mu.len()],
            found: vec![sigma.len()],
        });
    }
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(Error::invalid_argument(
            "noise",
            format!("must be finite and >= 0, found {lambda}"),
        ));
    }
    Ok(mu
        .iter()
        .zip(sigma)
        .map(|(m, s)| m + s * rng.normal() * lambda)
        .collect())
}

fn check_pair(a: &[f32], b: &[f32], t: f32) -> Result<()> {
    if a.len() != b.len() {
        return Err(Error::Shape {
            what: "latent".into(),
            expected: vec![a.len()],
            found: vec![b.len()],
        });
    }
    if !t.is_finite() {
        return Err(Error::invalid_argument("t", "must be finite"));
    }
    Ok(())
}

/// Linear interpolation `(1-t) a + t b`.
pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Result<Vec<f32>> {
    check_pair(a, b, t)?;
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| (1.0 - t) * x + t * y)
        .collect())
}

/// Spherical interpolation (paper section 4.2, following White 2016):
/// `sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b`, `cos Ω = a·b / (|a||b|)`.
/// Falls back to [`lerp`] for (anti)parallel vectors.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Result<Vec<f32>> {
    check_pair(a, b, t)?;
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let cos = if na > 0.0 && nb > 0.0 {
        (dot / (na * nb)).clamp(-1.0, 1.0)
    } else {
        1.0
    };
    let omega = cos.acos();
    let so = omega.sin();
    if so.abs() < 1e-6 {
        return lerp(a, b, t);
    }
    let t = t as f64;
    let (wa, wb) = (((1.0 - t) * omega).sin() / so, (t * omega).sin() / so);
    Ok(a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect())
}

/// Latent arithmetic `a - b + c` (paper figure 6: pig − pig head + cat head).
pub fn analogy(a: &[f32], b: &[f32], c: &[f32]) -> Result<Vec<f32>> {
    check_pair(a, b, 0.0)?;
    check_pair(a, c, 0.0)?;
    Ok(a.iter()
        .zip(b)
        .zip(c)
        .map(|((x, y), z)| x - y + z)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_keeps_the_norm_between_unit_vectors() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        let m = slerp(&a, &b, 0.5).unwrap();
        assert!((m[0] - m[1]).abs() < 1e-6);
        assert!(((m[0] * m[0] + m[1] * m[1]).sqrt() - 1.0).abs() < 1e-6);
        assert_eq!(slerp(&a, &b, 0.0).unwrap(), vec![1.0, 0.0]);
    }

    #[test]
    fn categorical_follows_probabilities() {
        let mut rng = SketchRng::new(3);
        let p = [0.1, 0.0, 0.9];
        let mut counts = [0; 3];
        for _ in 0..10_000 {
            counts[sample_categorical(&p, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((counts[2] as f32 / 10_000.0 - 0.9).abs() < 0.02);
    }

    #[test]
    fn bad_temperatures_are_rejected() {
        for t in [0.0, -1.0, f32::NAN, f32::INFINITY, 6.0] {
            assert!(check_temperature(t).is_err(), "{t}");
        }
    }
}

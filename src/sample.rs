//! Drawing with a model: sampling points from the mixture at a temperature,
//! unconditional and conditional generation, completing a partial drawing,
//! alternative completions, noisy latents, interpolation and latent arithmetic.
//!
//! Temperature τ (paper section 3.3, as sketch-rnn-js applies it): each σ is
//! scaled by `√τ`, and the mixture weights π and the pen probabilities are
//! `softmax(logits / τ_d)` with the milder `τ_d = 0.5 + 0.5τ`
//! ([`Mixture::from_raw`], [`crate::model::mixture::discrete_temperature`]).
//! τ → 0 draws the chosen component's mean (the choice itself stays random);
//! τ = 1 samples the model's own distribution.
//!
//! Generation state ([`Generation`]) is a value the caller owns: the decoder
//! state, the logits for the next point, the RNG and the step count. All offsets
//! are in normalised units.

use crate::error::{Error, Result};
use crate::model::fast::{FastDecoder, FastState};
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

/// The decoder a drawing is stepped with: candle's model (the reference; every
/// cell) or the fast path built from it ([`FastDecoder`]; plain LSTM). Both
/// give the same mixtures up to float rounding (`tests/model.rs`).
#[derive(Debug, Clone, Copy)]
pub enum Engine<'a> {
    Reference(&'a SketchRnn),
    Fast(&'a FastDecoder),
}

impl<'a> From<&'a SketchRnn> for Engine<'a> {
    fn from(model: &'a SketchRnn) -> Engine<'a> {
        Engine::Reference(model)
    }
}

impl<'a> From<&'a FastDecoder> for Engine<'a> {
    fn from(fast: &'a FastDecoder) -> Engine<'a> {
        Engine::Fast(fast)
    }
}

/// The decoder state of `B` drawings, for either [`Engine`], with the raw
/// mixture outputs (`6M+3` per drawing) for each drawing's next point.
#[derive(Debug, Clone)]
pub enum EngineState {
    Reference {
        state: DecoderState,
        /// `[B][6M+3]`
        raw: Vec<Vec<f32>>,
    },
    Fast(FastState),
}

impl EngineState {
    /// Drawings in this state.
    pub fn rows(&self) -> usize {
        match self {
            EngineState::Reference { raw, .. } => raw.len(),
            EngineState::Fast(f) => f.rows(),
        }
    }

    /// Raw mixture outputs for drawing `row`'s next point.
    pub fn raw(&self, row: usize) -> &[f32] {
        match self {
            EngineState::Reference { raw, .. } => &raw[row],
            EngineState::Fast(f) => f.raw(row),
        }
    }

    /// This one-drawing state repeated `n` times.
    pub fn repeat(&self, n: usize) -> Result<EngineState> {
        Ok(match self {
            EngineState::Reference { state, raw } => EngineState::Reference {
                state: DecoderState {
                    cell: state.cell.repeat(n)?,
                    cond: state.cond.clone(),
                },
                raw: vec![raw[0].clone(); n],
            },
            EngineState::Fast(f) => EngineState::Fast(f.repeat(n)),
        })
    }
}

impl Engine<'_> {
    /// Mixture components M.
    pub fn num_mixtures(&self) -> usize {
        match self {
            Engine::Reference(m) => m.hparams.num_mixtures,
            Engine::Fast(f) => f.num_mixtures(),
        }
    }

    /// The state of one drawing before its first point, from latent `z`
    /// (conditional models) or none.
    pub fn initial_state(&self, z: Option<&[f32]>) -> Result<EngineState> {
        Ok(match self {
            Engine::Reference(m) => EngineState::Reference {
                state: m.initial_state(z)?,
                raw: vec![vec![
                    0.0;
                    crate::model::mixture::output_size(
                        m.hparams.num_mixtures
                    )
                ]],
            },
            Engine::Fast(f) => EngineState::Fast(f.initial_state(z, 1)?),
        })
    }

    /// One step of every drawing in `state`, reading one stroke-5 row each
    /// (normalised units). The fast engine allocates nothing here.
    pub fn step(&self, state: &mut EngineState, inputs: &[Stroke5]) -> Result<()> {
        match (self, state) {
            (Engine::Reference(m), EngineState::Reference { state, raw }) => {
                let (next, out) = m.step_batch(state, inputs)?;
                *state = next;
                *raw = out;
                Ok(())
            }
            (Engine::Fast(f), EngineState::Fast(s)) => f.step(s, inputs),
            _ => Err(Error::invalid_argument(
                "decoder state",
                "was made by the other engine (reference vs fast)",
            )),
        }
    }
}

/// Where a drawing in progress stands. Clone it to branch (alternative endings).
#[derive(Debug, Clone)]
pub struct Generation {
    /// Decoder state (one drawing) and the raw outputs for its next point.
    pub decoder: EngineState,
    /// Scratch for the next point's mixture (reused every step).
    mixture: Mixture,
    pub rng: SketchRng,
    /// Points generated so far (not counting a given prefix).
    pub steps: usize,
    pub finished: bool,
}

/// Starts drawing: reads the start token and then `prefix` (stroke-5 rows in
/// normalised units, without the start token: the part already drawn). The
/// latent `z` is needed by conditional models.
pub fn start<'a>(
    engine: impl Into<Engine<'a>>,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    seed: u64,
) -> Result<Generation> {
    let engine = engine.into();
    for (index, row) in prefix.iter().enumerate() {
        if row.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidStroke {
                index,
                reason: "non-finite value".into(),
            });
        }
    }
    let mut decoder = engine.initial_state(z)?;
    for row in std::iter::once(&START_TOKEN).chain(prefix) {
        engine.step(&mut decoder, std::slice::from_ref(row))?;
    }
    Ok(Generation {
        decoder,
        mixture: Mixture::with_components(engine.num_mixtures()),
        rng: SketchRng::new(seed),
        steps: 0,
        finished: false,
    })
}

/// Samples one point at `temperature` and feeds it back to the decoder,
/// advancing `generation` in place. Returns the point (stroke-5, normalised).
pub fn next_point<'a>(
    engine: impl Into<Engine<'a>>,
    generation: &mut Generation,
    temperature: f32,
) -> Result<Stroke5> {
    let engine = engine.into();
    check_temperature(temperature)?;
    if generation.finished {
        return Err(Error::invalid_argument(
            "generation",
            "the drawing has already ended",
        ));
    }
    let g = generation;
    g.mixture.set_from_raw(g.decoder.raw(0), temperature)?;
    let point = sample_point(&g.mixture, &mut g.rng);
    g.steps += 1;
    if Pen::of(&point) == Pen::End {
        g.finished = true;
    } else {
        engine.step(&mut g.decoder, std::slice::from_ref(&point))?;
    }
    Ok(point)
}

/// Continues `generation` until the model ends the drawing or `max_points` are
/// drawn. Returns the points, without the end row.
pub fn continue_drawing<'a>(
    engine: impl Into<Engine<'a>>,
    mut generation: Generation,
    temperature: f32,
    max_points: usize,
) -> Result<Vec<Stroke5>> {
    let engine = engine.into();
    let mut out = Vec::new();
    while !generation.finished && out.len() < max_points {
        let p = next_point(engine, &mut generation, temperature)?;
        if !generation.finished {
            out.push(p);
        }
    }
    Ok(out)
}

/// A whole new drawing (from `z` for a conditional model), at most `max_points` rows.
pub fn generate<'a>(
    engine: impl Into<Engine<'a>>,
    z: Option<&[f32]>,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Stroke5>> {
    let engine = engine.into();
    let g = start(engine, z, &[], seed)?;
    continue_drawing(engine, g, temperature, max_points)
}

/// The random stream of alternative ending `k` of [`alternatives`].
fn alternative_rng(seed: u64, k: usize) -> SketchRng {
    SketchRng::new(
        seed.wrapping_add(1 + k as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// `n` different endings of the same partial drawing. The prefix is read once;
/// the endings are then decoded together as one batch of `n` rows, each with
/// its own random stream (the reference engine does one matmul per step for
/// all rows; the fast engine runs its products row by row, which is faster
/// still). Ending `k` is the same drawing [`alternatives_one_by_one`] makes
/// (up to float rounding).
pub fn alternatives<'a>(
    engine: impl Into<Engine<'a>>,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    n: usize,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Vec<Stroke5>>> {
    let engine = engine.into();
    check_temperature(temperature)?;
    let base = start(engine, z, prefix, seed)?;
    let mut state = base.decoder.repeat(n)?;
    let mut mixture = base.mixture;
    let mut rngs: Vec<SketchRng> = (0..n).map(|k| alternative_rng(seed, k)).collect();
    let mut done = vec![false; n];
    let mut out: Vec<Vec<Stroke5>> = vec![Vec::new(); n];
    let mut inputs = vec![crate::stroke::END_OF_DRAWING; n];
    for i in 0..max_points {
        for k in 0..n {
            if done[k] {
                inputs[k] = crate::stroke::END_OF_DRAWING;
                continue;
            }
            mixture.set_from_raw(state.raw(k), temperature)?;
            let point = sample_point(&mixture, &mut rngs[k]);
            if Pen::of(&point) == Pen::End {
                done[k] = true;
            } else {
                out[k].push(point);
            }
            inputs[k] = point;
        }
        if done.iter().all(|&d| d) || i + 1 == max_points {
            break;
        }
        engine.step(&mut state, &inputs)?;
    }
    Ok(out)
}

/// [`alternatives`] one ending after another (the reference the batched
/// version is tested against).
pub fn alternatives_one_by_one<'a>(
    engine: impl Into<Engine<'a>>,
    z: Option<&[f32]>,
    prefix: &[Stroke5],
    n: usize,
    temperature: f32,
    max_points: usize,
    seed: u64,
) -> Result<Vec<Vec<Stroke5>>> {
    let engine = engine.into();
    let base = start(engine, z, prefix, seed)?;
    (0..n)
        .map(|k| {
            let mut g = base.clone();
            g.rng = alternative_rng(seed, k);
            continue_drawing(engine, g, temperature, max_points)
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

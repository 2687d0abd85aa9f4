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
use crate::model::mixture::{DENSITY_FLOOR, PEN_PROBABILITY_FLOOR};
use crate::model::{DecoderState, FittedPrior, Mixture, SketchRnn};
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
                    position: state
                        .position
                        .as_ref()
                        .map(|p| p.repeat((n, 1)))
                        .transpose()?,
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

/// Per row of `rows` (stroke-5, normalised units, without the start token),
/// `log p(S_t | S_<t, z)` in nats at τ = 1, teacher-forced: the offset's
/// mixture density (plus [`DENSITY_FLOOR`]) times the pen state's probability
/// (at least [`PEN_PROBABILITY_FLOOR`])
/// (paper equation 9's two terms for one point).
pub fn log_likelihood<'a>(
    engine: impl Into<Engine<'a>>,
    z: Option<&[f32]>,
    rows: &[Stroke5],
) -> Result<Vec<f32>> {
    let engine = engine.into();
    let mut state = engine.initial_state(z)?;
    let mut mix = Mixture::with_components(engine.num_mixtures());
    let mut out = Vec::with_capacity(rows.len());
    for (t, row) in rows.iter().enumerate() {
        let input = if t == 0 { START_TOKEN } else { rows[t - 1] };
        engine.step(&mut state, &[input])?;
        mix.set_from_raw(state.raw(0), 1.0)?;
        let pen = match Pen::of(row) {
            Pen::Down => 0,
            Pen::Up => 1,
            Pen::End => 2,
        };
        let density = mix.offset_density(row[0], row[1]) + DENSITY_FLOOR;
        out.push(density.ln() + mix.pen[pen].max(PEN_PROBABILITY_FLOOR).ln());
    }
    Ok(out)
}

/// How [`completion_latent`] looks for a latent to finish a partial drawing from.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionSearch {
    /// Candidates drawn around the partial drawing's own encoding,
    /// `z = μ + λ σ ε` with λ = [`CompletionSearch::encoding_noise`].
    pub from_encoding: usize,
    /// Candidates drawn from the prior p(z): the model's fitted prior where
    /// [`completion_latent`] is given one, else N(0, I).
    pub from_prior: usize,
    /// λ of the encoding's candidates (> 0: the proposal needs a density).
    pub encoding_noise: f32,
    /// Take p(z) to be N(0, I), the prior the VAE was trained with, even
    /// where the model has a fitted prior.
    pub standard_prior: bool,
}

impl Default for CompletionSearch {
    /// 4 candidates around the encoding (λ = 1, the VAE's own posterior
    /// spread) and 60 from the prior. Chosen with `examples/completion_stats.rs`
    /// on the sheep test split (282 drawings cut after half their strokes,
    /// τ 0.25, 2026-12-01), p(z) = N(0, I): 56 points added on average (the
    /// human second halves: 49), 20% of finishes under five points, layout
    /// score 0.785 against the whole drawings. 0 + 128 candidates: 67 points,
    /// 15%, 0.786 at twice the cost; 16 + 16 (100 drawings): 47 points, 30%;
    /// the prefix's own encoding: 6 points, 49%. With the sheep model's fitted
    /// prior as p(z): 58 points, 14%, 0.818 (0 + 128: 65 points, 5%, 0.825).
    fn default() -> Self {
        CompletionSearch {
            from_encoding: 4,
            from_prior: 60,
            encoding_noise: 1.0,
            standard_prior: false,
        }
    }
}

/// `log N(z; mean, diag(sd²))`.
fn log_normal(z: &[f32], mean: Option<&[f32]>, sd: Option<&[f32]>) -> f64 {
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    z.iter()
        .enumerate()
        .map(|(i, &v)| {
            let m = mean.map_or(0.0, |m| m[i]) as f64;
            let s = sd.map_or(1.0, |s| s[i]) as f64;
            let u = (v as f64 - m) / s;
            -0.5 * u * u - s.ln() - half_log_2pi
        })
        .sum()
}

/// A latent to finish a partial drawing from, drawn approximately from the
/// **decoder's** posterior `p(z | prefix) ∝ p(z) · p_dec(prefix | z)`
/// instead of the encoder's `q(z | prefix)`. `p(z)` is the model's prior:
/// `fitted` where given ([`FittedPrior`], where the decoder saw its training
/// drawings), else N(0, I).
///
/// The encoder was trained on whole drawings: it reads a half-drawn sheep as a
/// whole drawing that looks like it (a sheep without legs), and a decoder given
/// that latent tends to end the drawing at once. `p_dec(prefix | z)` only asks
/// that the drawing *begin* like the prefix, so latents of drawings that go on
/// keep their weight. Self-normalised importance sampling (paper equations 2
/// and 9 supply the densities): candidates `z_k` come from the proposal
/// `r = a·N(μ, (λσ)²) + (1−a)·p(z)` (`a` the share of encoding candidates),
/// each weighs `w_k ∝ p(z_k) · p_dec(prefix | z_k) / r(z_k)`
/// ([`log_likelihood`] summed over the prefix's rows), and one is drawn with
/// probability proportional to its weight.
///
/// `prefix`: stroke-5 rows (normalised units, no start token), not empty;
/// `posterior`: the prefix's encoding `(μ, σ)`. Cost: one teacher-forced pass
/// over the prefix per candidate.
pub fn completion_latent<'a>(
    engine: impl Into<Engine<'a>>,
    prefix: &[Stroke5],
    posterior: (&[f32], &[f32]),
    fitted: Option<&FittedPrior>,
    search: &CompletionSearch,
    rng: &mut SketchRng,
) -> Result<Vec<f32>> {
    completion_posterior(engine, prefix, posterior, fitted, search, rng)?
        .take(rng)
        .ok_or_else(no_finite_candidate)
}

/// The candidates and weights behind [`completion_latent`] (same arguments;
/// candidates drawn from `rng`): a discrete approximation of the decoder's
/// posterior `p(z | prefix)` to draw from with [`CompletionPosterior::take`].
pub fn completion_posterior<'a>(
    engine: impl Into<Engine<'a>>,
    prefix: &[Stroke5],
    posterior: (&[f32], &[f32]),
    fitted: Option<&FittedPrior>,
    search: &CompletionSearch,
    rng: &mut SketchRng,
) -> Result<CompletionPosterior> {
    let engine = engine.into();
    search_posterior(posterior, fitted, search, rng, |z| {
        let per_row = log_likelihood(engine, Some(z), prefix)?;
        Ok(per_row.iter().map(|&v| v as f64).sum())
    })
}

/// [`completion_posterior`] for any `log L(z)` (`log_likelihood`): candidates
/// from `r = a·N(μ, (λσ)²) + (1−a)·p(z)`, each weighing `p(z) L(z) / r(z)`.
fn search_posterior(
    posterior: (&[f32], &[f32]),
    fitted: Option<&FittedPrior>,
    search: &CompletionSearch,
    rng: &mut SketchRng,
    mut log_likelihood: impl FnMut(&[f32]) -> Result<f64>,
) -> Result<CompletionPosterior> {
    let fitted = fitted.filter(|_| !search.standard_prior);
    let (mu, sigma) = posterior;
    if mu.len() != sigma.len() {
        return Err(Error::Shape {
            what: "latent sigma".into(),
            expected: vec![mu.len()],
            found: vec![sigma.len()],
        });
    }
    let total = search.from_encoding + search.from_prior;
    if total == 0 {
        return Err(Error::invalid_argument(
            "completion search",
            "needs at least one candidate, found none",
        ));
    }
    if !(search.encoding_noise.is_finite() && search.encoding_noise > 0.0) {
        return Err(Error::invalid_argument(
            "completion search noise",
            format!("must be finite and > 0, found {}", search.encoding_noise),
        ));
    }
    let log_prior = |z: &[f32]| match fitted {
        Some(p) => p.log_density(z),
        None => Ok(log_normal(z, None, None)),
    };
    let spread: Vec<f32> = sigma.iter().map(|s| s * search.encoding_noise).collect();
    let share = search.from_encoding as f64 / total as f64;
    let log_proposal = |z: &[f32], prior: f64| {
        log_sum_exp(
            share.ln() + log_normal(z, Some(mu), Some(&spread)),
            (1.0 - share).ln() + prior,
        )
    };
    let mut candidates = Vec::with_capacity(total);
    for _ in 0..search.from_encoding {
        candidates.push(noisy_latent(mu, sigma, search.encoding_noise, rng)?);
    }
    for _ in 0..search.from_prior {
        candidates.extend(new_drawing_latent(mu.len(), fitted, rng));
    }
    let log_likelihoods = candidates
        .iter()
        .map(|z| log_likelihood(z))
        .collect::<Result<Vec<f64>>>()?;
    let log_priors = candidates
        .iter()
        .map(|z| log_prior(z))
        .collect::<Result<Vec<f64>>>()?;
    let log_proposals: Vec<f64> = candidates
        .iter()
        .zip(&log_priors)
        .map(|(z, &prior)| log_proposal(z, prior))
        .collect();
    weigh_candidates(candidates, &log_likelihoods, &log_priors, &log_proposals)
}

/// The error of a search whose candidates all have a non-finite weight.
pub(crate) fn no_finite_candidate() -> Error {
    Error::invalid_argument(
        "partial drawing",
        "no candidate latent gives it a finite likelihood",
    )
}

/// Candidate latents (latent units) with their self-normalised importance
/// weights: a discrete approximation of a posterior (see [`completion_latent`]).
#[derive(Debug, Clone)]
pub struct CompletionPosterior {
    candidates: Vec<Vec<f32>>,
    /// Weight per candidate relative to the heaviest (in `[0, 1]`; 0 for a
    /// candidate whose log weight was not finite).
    weights: Vec<f64>,
}

impl CompletionPosterior {
    /// Draws one candidate with probability proportional to its weight and
    /// removes it, so that repeated calls draw *without replacement*: a
    /// caller that rejects what it draws (e.g. a latent whose finish ends at
    /// once) samples the posterior restricted to what it keeps. `None` once no
    /// candidate with weight is left.
    pub fn take(&mut self, rng: &mut SketchRng) -> Option<Vec<f32>> {
        let sum: f64 = self.weights.iter().sum();
        // weights are finite and >= 0, so this also catches an empty posterior
        if sum <= 0.0 {
            return None;
        }
        let probabilities: Vec<f32> = self.weights.iter().map(|w| (w / sum) as f32).collect();
        let k = sample_categorical(&probabilities, rng);
        self.weights.swap_remove(k);
        Some(self.candidates.swap_remove(k))
    }
}

/// Weighs `candidates` by self-normalised importance weight
/// `p(z) · L(z) / r(z)`, `log L`, `log p` and `log r` (the density of the
/// proposal they were drawn from) given per candidate: a draw by weight
/// ([`CompletionPosterior::take`]) is approximately a draw from the posterior
/// `∝ p(z) · L(z)`.
fn weigh_candidates(
    candidates: Vec<Vec<f32>>,
    log_likelihoods: &[f64],
    log_priors: &[f64],
    log_proposals: &[f64],
) -> Result<CompletionPosterior> {
    let log_weights: Vec<f64> = log_likelihoods
        .iter()
        .zip(log_priors.iter().zip(log_proposals))
        .map(|(&likelihood, (&prior, &proposal))| prior + likelihood - proposal)
        .collect();
    let best = log_weights
        .iter()
        .copied()
        .filter(|w| w.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !best.is_finite() {
        return Err(no_finite_candidate());
    }
    let weights: Vec<f64> = log_weights
        .iter()
        .map(|w| if w.is_finite() { (w - best).exp() } else { 0.0 })
        .collect();
    Ok(CompletionPosterior {
        candidates,
        weights,
    })
}

/// `ln(eᵃ + eᵇ)` without overflow (either may be −∞).
fn log_sum_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        m
    } else {
        m + ((a - m).exp() + (b - m).exp()).ln()
    }
}

/// A latent drawn from the prior N(0, I) of a model with `z_size` dimensions;
/// `None` for a decoder-only model (`z_size` 0).
pub fn prior_latent(z_size: usize, rng: &mut SketchRng) -> Option<Vec<f32>> {
    (z_size > 0).then(|| (0..z_size).map(|_| rng.normal()).collect())
}

/// A latent for a new drawing ("from imagination"): from the model's fitted
/// prior where it has one ([`FittedPrior`], the training set's aggregate
/// posterior), else from N(0, I) ([`prior_latent`]). `None` for a decoder-only
/// model (`z_size` 0). Latent units.
pub fn new_drawing_latent(
    z_size: usize,
    fitted: Option<&FittedPrior>,
    rng: &mut SketchRng,
) -> Option<Vec<f32>> {
    match fitted {
        Some(prior) if z_size > 0 => Some(prior.sample(rng)),
        _ => prior_latent(z_size, rng),
    }
}

/// `n` new drawings in pixels (offsets multiplied by `scale_factor`): for a
/// conditional model each from its own latent drawn by [`new_drawing_latent`]
/// (from `fitted` where given, else N(0, I)).
/// Drawing `k` uses point seed `seed + k`, latents come from a generator seeded with `seed`.
pub fn sample_prior(
    model: &SketchRnn,
    fitted: Option<&FittedPrior>,
    n: usize,
    temperature: f32,
    max_points: usize,
    scale_factor: f32,
    seed: u64,
) -> Result<Vec<Vec<crate::stroke::Stroke3>>> {
    let mut rng = SketchRng::new(seed);
    (0..n)
        .map(|k| {
            let z = new_drawing_latent(model.hparams.z_size, fitted, &mut rng);
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

    /// Mean and variance of 2,000 latents resampled from 100 candidates drawn
    /// from N(1.5, 0.3²) and 100 from the prior (N(0, 1), or `fitted`), under
    /// the likelihood N(2; z, 0.5²).
    fn resampled_moments(fitted: Option<&FittedPrior>) -> (f64, f64) {
        let mut rng = SketchRng::new(11);
        let search = CompletionSearch {
            from_encoding: 100,
            from_prior: 100,
            encoding_noise: 1.0,
            standard_prior: false,
        };
        let draws: Vec<f64> = (0..2000)
            .map(|_| {
                search_posterior((&[1.5], &[0.3]), fitted, &search, &mut rng, |z| {
                    let u = (2.0 - z[0] as f64) / 0.5;
                    Ok(-0.5 * u * u)
                })
                .unwrap()
                .take(&mut rng)
                .unwrap()[0] as f64
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        (mean, var)
    }

    /// `(mean, variance)` each within its tolerance of the expected `(value, tolerance)`.
    fn assert_moments(found: (f64, f64), mean: (f64, f64), var: (f64, f64)) {
        let (m, v) = found;
        assert!(
            (m - mean.0).abs() < mean.1,
            "posterior mean {}, found {m}",
            mean.0
        );
        assert!(
            (v - var.0).abs() < var.1,
            "posterior variance {}, found {v}",
            var.0
        );
    }

    /// Provenance of the expected figures: a conjugate 1-d case. Prior N(0, 1)
    /// times a likelihood N(2; z, 0.5²) is the posterior N(1.6, 0.2)
    /// (precision 1 + 4, mean 4·2/5). Candidates come half from N(1.5, 0.3²)
    /// and half from the prior; drawn without the proposal correction, the
    /// mean would be pulled towards 1.5 and the spread shrunk towards 0.3.
    #[test]
    fn resampled_latents_follow_the_posterior() {
        assert_moments(resampled_moments(None), (1.6, 0.04), (0.2, 0.03));
    }

    /// The same with a fitted prior N(1, 0.6²): the posterior has precision
    /// 1/0.36 + 4 = 6.78, so variance 0.148 and mean 0.148 · (1/0.36 + 8) = 1.59.
    /// Weighing by N(0, 1) instead would give mean 1.6 and variance 0.2.
    #[test]
    fn resampled_latents_follow_the_posterior_under_a_fitted_prior() {
        let fitted = FittedPrior {
            mean: vec![1.0],
            scale_tril: vec![0.6],
            drawings: 2,
        };
        assert_moments(
            resampled_moments(Some(&fitted)),
            (1.59, 0.04),
            (0.148, 0.025),
        );
    }

    /// Weights 1, 0 (a candidate whose log weight was not finite) and 0.25:
    /// the first draw is candidate 0 with probability 0.8; draws go on without
    /// replacement and never give the weightless candidate.
    #[test]
    fn posterior_draws_without_replacement_by_weight() {
        let posterior = CompletionPosterior {
            candidates: vec![vec![0.0], vec![1.0], vec![2.0]],
            weights: vec![1.0, 0.0, 0.25],
        };
        let mut rng = SketchRng::new(5);
        let mut first_is_heaviest = 0;
        for _ in 0..4000 {
            let mut p = posterior.clone();
            let a = p.take(&mut rng).unwrap();
            let b = p.take(&mut rng).unwrap();
            assert_eq!(p.take(&mut rng), None, "only weightless candidates left");
            let mut both = [a[0], b[0]];
            both.sort_by(f32::total_cmp);
            assert_eq!(both, [0.0, 2.0], "each weighed candidate once");
            first_is_heaviest += usize::from(a[0] == 0.0);
        }
        let share = first_is_heaviest as f64 / 4000.0;
        assert!((share - 0.8).abs() < 0.03, "first draw heaviest: {share}");
    }

    #[test]
    fn log_sum_exp_is_exact_and_takes_infinities() {
        assert!((log_sum_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-12);
        assert!((log_sum_exp(-1000.0, -1000.0) - (-1000.0 + 2f64.ln())).abs() < 1e-9);
        assert_eq!(log_sum_exp(3.0, f64::NEG_INFINITY), 3.0);
        assert_eq!(
            log_sum_exp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
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

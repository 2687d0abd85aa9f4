//! The platform-neutral API the browser app (and any other front end) talks to.
//! Every input is checked here, so native tests cover what the wasm facade
//! ([`crate::web`]) exposes; the facade only converts types and errors.
//!
//! Units: drawings cross this API as stroke-3 rows `[dx, dy, pen_lifted]` in
//! **model pixels**, the units of the data the model was trained on (an `.npz`
//! file's offsets). The session divides by the model's `scale_factor` to get
//! the normalised units the network reads. A front end maps its own pixels to
//! model pixels, e.g. so the drawing's larger side is
//! [`SessionInfo::typical_size_px`].
//!
//! The model is immutable; a drawing in progress is a [`Drawing`] value the
//! caller owns (decoder state, random generator, step count).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::SketchRnn;
use crate::model::fast::FastDecoder;
use crate::rng::SketchRng;
use crate::sample::{self, Engine, Generation};
pub use crate::sample::{CompletionPosterior, CompletionSearch};
use crate::shape_distance::{LAYOUT_POINTS, chamfer, layout_points};
use crate::stroke::{START_TOKEN, Stroke3, Stroke5, denormalise, normalise, stroke3_to_stroke5};
use crate::weights::{ModelFile, ModelInfo};

/// Most rows accepted in a drawing (the user's, or a prefix). Longer input is
/// refused rather than silently cut: simplify it (RDP) first.
pub const MAX_DRAWING_POINTS: usize = 2000;
/// Largest `|dx|`, `|dy|` accepted, in model pixels.
pub const MAX_OFFSET_PX: f32 = 1.0e5;
/// Most points one request may generate.
pub const MAX_GENERATED_POINTS: usize = 1000;
/// Most alternative endings in one request.
pub const MAX_ALTERNATIVES: usize = 32;
/// Most candidate latents one [`Session::completion_latent`] scores.
pub const MAX_COMPLETION_CANDIDATES: usize = 256;
/// Points a finish must add for [`Session::finishing_latent`] to keep its
/// latent: fewer reads as "the model ended your drawing" (the measure of
/// `examples/completion_stats.rs`).
pub const MIN_FINISH_POINTS: usize = 5;
/// Candidate latents [`Session::finishing_latent`] tries before it keeps the
/// first, whose finish adds fewer than [`MIN_FINISH_POINTS`].
pub const FINISH_TRIES: usize = 16;
/// Draws of the prefix's own noisy latent [`Session::finishing_latent`] tries
/// ([`FinishFrom::Encoding`]) before it turns to the search. More rarely help:
/// on the 282 half-drawn test sheep, with the model fine-tuned with
/// `--encoder-prefix 0.25`, one draw left 11.0% of finishes under
/// [`MIN_FINISH_POINTS`] and sixteen 10.3% (`examples/completion_stats.rs`,
/// 2026-12-07): where the encoding reads the half as done, its neighbours do too.
pub const FINISH_ENCODING_TRIES: usize = 4;
/// Decodings of one latent "Redraw" ([`Session::redraw`]) draws before it
/// keeps the one whose outline lies nearest the user's drawing. Each decoding
/// of a latent is a different drawing (the decoder samples every point), and
/// some keep the input's layout much better than others. On the first 300 test
/// sheep, with the default model, τ 0.2, λ 1, one decoding scored
/// 0.685 by `shape_distance::retrieval` (pairwise; 0.5 is chance) and the
/// nearest of 8 0.898, its median distance to the own input 0.0482 against
/// 0.0379 (`examples/redraw_candidates.rs`, 2026-12-07; `sketch-rnn
/// reconstruct --candidates 8`, seeds 1–3: 0.888, 0.889, 0.879). Keeping
/// instead the decoding whose own encoding lay nearest the latent scored only
/// 0.723 against 0.702 (a scratch build, the same day): the encoder is a poor
/// judge of layout. At the browser benchmark's 0.09 ms a point (README,
/// *Benchmarks*), eight decodings of at most 250 points cost at most about
/// 0.2 s before the chosen one is streamed.
pub const REDRAW_CANDIDATES: usize = 8;
/// Most decodings one [`Session::redraw`] may compare.
pub const MAX_REDRAW_CANDIDATES: usize = 32;
/// Most latents in one interpolation.
pub const MAX_INTERPOLATION_STEPS: usize = 64;
/// Largest latent-noise scale λ (1 is the VAE's own posterior sample).
pub const MAX_NOISE: f32 = 4.0;
/// Largest `|z_i|` accepted in a latent (the prior is N(0, I)).
pub const MAX_LATENT_ABS: f32 = 100.0;
/// Largest seed: every integer up to this is exact in a JavaScript number.
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// Side of the square QuickDraw drawings were scaled into before Magenta
/// trained on them (pixels); the typical size of a drawing for models that do
/// not record their own.
pub const QUICKDRAW_BOX_PX: f32 = 255.0;

/// λ of "Finish it"'s latents when they come from the prefix's own encoding
/// ([`FinishFrom::Encoding`]): the app's default latent noise (www/index.html),
/// with which `examples/completion_stats.rs` measured it. Not a lever: on the
/// 282 half-drawn test sheep, with the default model, λ 0, 0.25, 0.5, 0.75 and
/// 1 all left no finish under [`MIN_FINISH_POINTS`] and lay a median
/// 0.0365–0.0373 from the whole human drawing (a scratch build, 2026-12-07).
pub const FINISH_NOISE: f32 = 0.5;

/// Where "Finish it" ([`Session::finishing_latent`]) draws its candidate
/// latents from.
#[derive(Debug, Clone, PartialEq)]
pub enum FinishFrom {
    /// The decoder's posterior over latents of drawings that *begin* like the
    /// prefix ([`CompletionSearch`]). For models whose encoder only ever read
    /// whole drawings: it reads a half-drawn sketch as a whole one, so the
    /// prefix's own latent tends to end the drawing at once.
    Search(CompletionSearch),
    /// The prefix's own encoding, `z = μ + λ σ ε` with λ = `noise` (latent
    /// units), and the search `then` where every such latent ends the drawing
    /// at once. For models trained with `--encoder-prefix`, whose encoder has
    /// learnt to read the beginning of a drawing as one.
    Encoding { noise: f32, then: CompletionSearch },
}

impl FinishFrom {
    /// What a model file calls for: [`FinishFrom::Encoding`] with
    /// [`FINISH_NOISE`] then the default search where its encoder was trained
    /// on prefixes ([`ModelInfo::encoder_prefix`] above 0), else the default
    /// search.
    pub fn for_model(info: &ModelInfo) -> FinishFrom {
        if info.encoder_prefix > 0.0 {
            FinishFrom::Encoding {
                noise: FINISH_NOISE,
                then: CompletionSearch::default(),
            }
        } else {
            FinishFrom::Search(CompletionSearch::default())
        }
    }
}

/// What a front end needs to know about the loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub name: String,
    /// A VAE (has an encoder: Redraw, Morph and latent noise apply).
    pub conditional: bool,
    /// Latent size N_z (0 for decoder-only models).
    pub z_size: usize,
    /// Model pixels per normalised unit.
    pub scale_factor: f32,
    /// Longest drawing the model was trained on (rows).
    pub max_seq_len: usize,
    /// Decoder units.
    pub dec_size: usize,
    /// Decoder cell (`lstm`, `layer_norm`, `hyper`).
    pub cell: String,
    /// The larger side of a typical training drawing, in model pixels.
    pub typical_size_px: f32,
    /// New drawings take their latent from a Gaussian fitted to the training
    /// set's latents (`sketch-rnn fit-prior`), not from N(0, I).
    pub fitted_prior: bool,
    /// "Finish it" draws from the drawing's own encoding (the encoder was
    /// trained on prefixes, [`FinishFrom::Encoding`]), not from a search
    /// ([`FinishFrom::Search`]).
    pub finishes_from_encoding: bool,
}

/// An encoded drawing: the posterior `N(μ, σ²)` (paper equation 2), each of length N_z.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latent {
    pub mu: Vec<f32>,
    pub sigma: Vec<f32>,
}

/// What [`Session::redraw`] chose: decode `z` from point seed `seed` (with
/// [`Session::begin`] and [`Session::next_points`], the same temperature and
/// at most the same number of points) and you get `drawing` again, point for
/// point, e.g. to animate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redraw {
    /// The noisy latent `z = μ + λ σ ε` of the user's drawing (latent units).
    pub z: Vec<f32>,
    /// The point seed of the kept decoding.
    pub seed: u64,
    /// Which of the candidates was kept (0: the decoding from `seed` itself,
    /// what a single decoding would have drawn).
    pub candidate: usize,
    /// The kept decoding, stroke-3 in model pixels.
    pub drawing: Vec<Stroke3>,
    /// Its Chamfer distance to the user's drawing, both in the unit box
    /// ([`crate::shape_distance::layout_points`]; unit-box lengths).
    pub distance: f64,
}

/// A drawing in progress. Owned by the caller; [`Session::next_points`] advances it.
#[derive(Debug, Clone)]
pub struct Drawing {
    generation: Generation,
}

impl Drawing {
    /// Whether the model has ended the drawing.
    pub fn finished(&self) -> bool {
        self.generation.finished
    }

    /// Points generated so far (not counting the prefix).
    pub fn steps(&self) -> usize {
        self.generation.steps
    }
}

/// How likely the model finds a drawing: per point, `log p(S_t | S_<t, z)` in
/// nats (offsets in normalised units, so comparable across drawing sizes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// One value per row of the drawing: offset density times pen probability.
    pub per_point: Vec<f32>,
    /// Mean of `per_point`.
    pub mean: f32,
}

/// A loaded model ready to draw.
#[derive(Debug, Clone)]
pub struct Session {
    model: SketchRnn,
    /// The fast decoder path, for plain-LSTM decoders (all drawing goes through it).
    fast: Option<FastDecoder>,
    info: ModelInfo,
}

fn check_count(name: &str, n: usize, min: usize, max: usize) -> Result<()> {
    if n < min || n > max {
        return Err(Error::invalid_argument(
            name,
            format!("must be in {min}..={max}, found {n}"),
        ));
    }
    Ok(())
}

/// Checks a latent-noise scale λ is in `[0, MAX_NOISE]`.
fn check_noise(noise: f32) -> Result<()> {
    if !(noise.is_finite() && (0.0..=MAX_NOISE).contains(&noise)) {
        return Err(Error::invalid_argument(
            "noise",
            format!("must be in [0, {MAX_NOISE}], found {noise}"),
        ));
    }
    Ok(())
}

/// Checks a seed fits [`MAX_SEED`].
pub fn check_seed(seed: u64) -> Result<u64> {
    if seed > MAX_SEED {
        return Err(Error::invalid_argument(
            "seed",
            format!("must be an integer in 0..={MAX_SEED}, found {seed}"),
        ));
    }
    Ok(seed)
}

impl Session {
    /// Loads a model from the bytes of a model file: ours (`.safetensors`) or
    /// Magenta's JSON (`.gen.json`, `.vae.json`).
    pub fn load(bytes: &[u8]) -> Result<Session> {
        let file = ModelFile::from_bytes(bytes)?;
        let model = file.build(&candle_core::Device::Cpu)?;
        Session::from_model(model, file.info)
    }

    /// From an already built model (its fast decoder path is built here).
    pub fn from_model(model: SketchRnn, info: ModelInfo) -> Result<Session> {
        let fast = FastDecoder::from_model(&model)?;
        Ok(Session { model, fast, info })
    }

    /// The decoder drawings are stepped with: the fast path when the cell has
    /// one, else candle's model.
    pub fn engine(&self) -> Engine<'_> {
        match &self.fast {
            Some(f) => Engine::Fast(f),
            None => Engine::Reference(&self.model),
        }
    }

    pub fn model(&self) -> &SketchRnn {
        &self.model
    }

    pub fn info(&self) -> SessionInfo {
        let hp = &self.model.hparams;
        SessionInfo {
            name: self.info.name.clone(),
            conditional: hp.conditional(),
            z_size: hp.z_size,
            scale_factor: self.info.scale_factor,
            max_seq_len: self.info.max_seq_len,
            dec_size: hp.dec_size,
            cell: serde_json::to_value(hp.cell)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            typical_size_px: self.info.typical_size_px.unwrap_or(QUICKDRAW_BOX_PX),
            fitted_prior: self.info.latent_prior.is_some(),
            finishes_from_encoding: matches!(self.finish_from(), FinishFrom::Encoding { .. }),
        }
    }

    /// Checks a stroke-3 drawing in model pixels and returns its stroke-5 rows
    /// in normalised units, without the end row.
    fn rows(&self, drawing: &[Stroke3], what: &str, allow_empty: bool) -> Result<Vec<Stroke5>> {
        if drawing.is_empty() && !allow_empty {
            return Err(Error::EmptyDrawing(format!("{what} has no points")));
        }
        if drawing.len() > MAX_DRAWING_POINTS {
            return Err(Error::TooLarge {
                what: format!("{what} (points; simplify it first)"),
                limit: MAX_DRAWING_POINTS,
                found: drawing.len(),
            });
        }
        crate::stroke::validate_stroke3(drawing)?;
        if let Some((index, row)) = drawing
            .iter()
            .enumerate()
            .find(|(_, r)| r[0].abs() > MAX_OFFSET_PX || r[1].abs() > MAX_OFFSET_PX)
        {
            return Err(Error::InvalidStroke {
                index,
                reason: format!(
                    "offset ({}, {}) exceeds {MAX_OFFSET_PX} model pixels",
                    row[0], row[1]
                ),
            });
        }
        let mut rows = stroke3_to_stroke5(&normalise(drawing, self.info.scale_factor));
        rows.pop(); // the end row
        Ok(rows)
    }

    /// Checks a latent: the model's N_z values, finite, within [`MAX_LATENT_ABS`].
    pub fn check_latent(&self, z: &[f32], what: &str) -> Result<()> {
        let n = self.model.hparams.z_size;
        if n == 0 {
            return Err(Error::invalid_argument(
                what,
                "this model is decoder-only (unconditional) and takes no latent",
            ));
        }
        if z.len() != n {
            return Err(Error::Shape {
                what: what.into(),
                expected: vec![n],
                found: vec![z.len()],
            });
        }
        if let Some(v) = z
            .iter()
            .find(|v| !v.is_finite() || v.abs() > MAX_LATENT_ABS)
        {
            return Err(Error::invalid_argument(
                what,
                format!("values must be finite and within ±{MAX_LATENT_ABS}, found {v}"),
            ));
        }
        Ok(())
    }

    /// `Some(z)` checked for a conditional model; a decoder-only model needs `None`.
    fn latent_for_decoder<'a>(&self, z: Option<&'a [f32]>) -> Result<Option<&'a [f32]>> {
        match (self.model.hparams.conditional(), z) {
            (true, Some(z)) => {
                self.check_latent(z, "latent z")?;
                Ok(Some(z))
            }
            (true, None) => Err(Error::invalid_argument(
                "latent z",
                "this model is a VAE: encode a drawing or sample a latent first",
            )),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(Error::invalid_argument(
                "latent z",
                "this model is decoder-only (unconditional) and takes no latent",
            )),
        }
    }

    /// Encodes a drawing (model pixels) to its posterior `(μ, σ)`.
    pub fn encode(&self, drawing: &[Stroke3]) -> Result<Latent> {
        let rows = self.rows(drawing, "drawing", false)?;
        let (mu, sigma) = self.model.encode(&rows)?;
        Ok(Latent { mu, sigma })
    }

    /// A noisy latent `z = μ + λ σ ε` (the VAE's sampling; λ = `noise` in `[0, MAX_NOISE]`).
    pub fn sample_latent(&self, latent: &Latent, noise: f32, seed: u64) -> Result<Vec<f32>> {
        self.check_latent(&latent.mu, "latent mu")?;
        self.check_latent(&latent.sigma, "latent sigma")?;
        if latent.sigma.iter().any(|&s| s < 0.0) {
            return Err(Error::invalid_argument("latent sigma", "must be >= 0"));
        }
        check_noise(noise)?;
        let mut rng = SketchRng::new(check_seed(seed)?);
        sample::noisy_latent(&latent.mu, &latent.sigma, noise, &mut rng)
    }

    /// A latent for a new drawing "from imagination" (latent units): from the
    /// model's fitted prior where its file has one, else N(0, I)
    /// ([`sample::new_drawing_latent`]).
    pub fn prior_latent(&self, seed: u64) -> Result<Vec<f32>> {
        let mut rng = SketchRng::new(check_seed(seed)?);
        sample::new_drawing_latent(
            self.model.hparams.z_size,
            self.info.latent_prior.as_ref(),
            &mut rng,
        )
        .ok_or_else(|| {
            Error::invalid_argument(
                "latent",
                "this model is decoder-only (unconditional) and has no latent space",
            )
        })
    }

    /// A latent to finish `prefix` (model pixels, not empty) from: drawn from
    /// the decoder's posterior over latents of drawings that *begin* like the
    /// prefix ([`sample::completion_latent`], with the model's fitted prior as
    /// p(z) where its file has one, unless `search.standard_prior`), not from
    /// the prefix's own encoding, which reads a half-drawn sketch as a whole
    /// one and so tends to end it at once. VAE models only.
    pub fn completion_latent(
        &self,
        prefix: &[Stroke3],
        search: &CompletionSearch,
        seed: u64,
    ) -> Result<Vec<f32>> {
        let mut rng = SketchRng::new(check_seed(seed)?);
        self.completion_posterior(prefix, search, &mut rng)?
            .take(&mut rng)
            .ok_or_else(sample::no_finite_candidate)
    }

    /// The search behind [`Session::completion_latent`]: its candidates
    /// weighed by the decoder's posterior ([`sample::completion_posterior`]).
    fn completion_posterior(
        &self,
        prefix: &[Stroke3],
        search: &CompletionSearch,
        rng: &mut SketchRng,
    ) -> Result<CompletionPosterior> {
        self.require_latent_space()?;
        check_count(
            "completion candidates",
            search.from_encoding + search.from_prior,
            1,
            MAX_COMPLETION_CANDIDATES,
        )?;
        let rows = self.rows(prefix, "prefix", false)?;
        let (mu, sigma) = self.model.encode(&rows)?;
        sample::completion_posterior(
            self.engine(),
            &rows,
            (&mu, &sigma),
            self.info.latent_prior.as_ref(),
            search,
            rng,
        )
    }

    /// Refuses a decoder-only model where a latent is asked for.
    fn require_latent_space(&self) -> Result<()> {
        if !self.model.hparams.conditional() {
            return Err(Error::invalid_argument(
                "latent",
                "this model is decoder-only (unconditional) and has no latent space",
            ));
        }
        Ok(())
    }

    /// How "Finish it" picks this model's latent ([`FinishFrom::for_model`]).
    pub fn finish_from(&self) -> FinishFrom {
        FinishFrom::for_model(&self.info)
    }

    /// The latent "Finish it" draws from, conditioned by rejection on the
    /// finish going on: each candidate is kept if the finish it gives,
    /// `begin(z, prefix, seed)` then `next_points(…, temperature)`
    /// (deterministic given the seed), adds at least [`MIN_FINISH_POINTS`]
    /// points. Asking for a finish says the drawing is not done, and latents
    /// of drawings that end where the prefix does explain the prefix well (a
    /// quarter to a third of the half-drawn test sheep, README *Finishing a
    /// drawing*). Each try costs one more pass over the prefix. VAE models only.
    ///
    /// * [`FinishFrom::Search`]: the search runs once; up to [`FINISH_TRIES`]
    ///   of its candidates are drawn by weight *without replacement*
    ///   ([`CompletionPosterior::take`]), the first as
    ///   [`Session::completion_latent`] draws it.
    /// * [`FinishFrom::Encoding`]: up to [`FINISH_ENCODING_TRIES`] fresh
    ///   `z = μ + λ σ ε` of the prefix's own encoding, the first as
    ///   [`Session::sample_latent`] draws it from the same seed; if every one
    ///   ends at once, the search `then` as above.
    ///
    /// If every candidate ends at once (or none is left) the first is kept.
    pub fn finishing_latent(
        &self,
        prefix: &[Stroke3],
        from: &FinishFrom,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<f32>> {
        self.require_latent_space()?;
        sample::check_temperature(temperature)?;
        let mut rng = SketchRng::new(check_seed(seed)?);
        let goes_on = |z: &[f32]| -> Result<bool> {
            let mut drawing = self.begin(Some(z), prefix, seed)?;
            let added = self.next_points(&mut drawing, MIN_FINISH_POINTS, temperature)?;
            Ok(added.len() >= MIN_FINISH_POINTS)
        };
        let mut first = None;
        let search = match from {
            FinishFrom::Search(search) => search,
            FinishFrom::Encoding { noise, then } => {
                check_noise(*noise)?;
                let rows = self.rows(prefix, "prefix", false)?;
                let (mu, sigma) = self.model.encode(&rows)?;
                for _ in 0..FINISH_ENCODING_TRIES {
                    let z = sample::noisy_latent(&mu, &sigma, *noise, &mut rng)?;
                    if goes_on(&z)? {
                        return Ok(z);
                    }
                    first.get_or_insert(z);
                }
                then
            }
        };
        let mut posterior = self.completion_posterior(prefix, search, &mut rng)?;
        for _ in 0..FINISH_TRIES {
            let Some(z) = posterior.take(&mut rng) else {
                break;
            };
            if goes_on(&z)? {
                return Ok(z);
            }
            first.get_or_insert(z);
        }
        first.ok_or_else(sample::no_finite_candidate)
    }

    /// Starts a drawing: from latent `z` (VAE) or none (decoder-only), after the
    /// decoder has read `prefix` (model pixels; empty for a new drawing).
    pub fn begin(&self, z: Option<&[f32]>, prefix: &[Stroke3], seed: u64) -> Result<Drawing> {
        let z = self.latent_for_decoder(z)?;
        let rows = self.rows(prefix, "prefix", true)?;
        let generation = sample::start(self.engine(), z, &rows, check_seed(seed)?)?;
        Ok(Drawing { generation })
    }

    /// The next at most `k` points of `drawing` at `temperature`, in model
    /// pixels. Fewer (possibly none) when the model ends the drawing.
    pub fn next_points(
        &self,
        drawing: &mut Drawing,
        k: usize,
        temperature: f32,
    ) -> Result<Vec<Stroke3>> {
        check_count("k", k, 1, MAX_GENERATED_POINTS)?;
        sample::check_temperature(temperature)?;
        let mut out = Vec::with_capacity(k);
        while out.len() < k && !drawing.generation.finished {
            let p = sample::next_point(self.engine(), &mut drawing.generation, temperature)?;
            if !drawing.generation.finished {
                out.push(p);
            }
        }
        let stroke3 = crate::stroke::stroke5_to_stroke3(&out);
        Ok(denormalise(&stroke3, self.info.scale_factor))
    }

    /// "Redraw": the model's own drawing of `drawing` (model pixels, not
    /// empty). Encodes it, draws a noisy latent `z = μ + λ σ ε` (λ = `noise`,
    /// from `seed`), decodes `z` `candidates` times at `temperature` (point
    /// seeds `seed`, `seed + 1`, …, at most `max_points` rows each) and keeps
    /// the decoding whose outline lies nearest the user's drawing (Chamfer
    /// distance of [`crate::shape_distance::layout_points`]; the first on a tie; an
    /// empty decoding is never nearer than a drawn one). Every candidate is a
    /// drawing of the model's from the same latent: the choice keeps the
    /// layout of the input, not its strokes. VAE models only.
    pub fn redraw(
        &self,
        drawing: &[Stroke3],
        noise: f32,
        temperature: f32,
        max_points: usize,
        candidates: usize,
        seed: u64,
    ) -> Result<Redraw> {
        check_count("candidates", candidates, 1, MAX_REDRAW_CANDIDATES)?;
        check_count("max_points", max_points, 1, MAX_GENERATED_POINTS)?;
        sample::check_temperature(temperature)?;
        let seed = check_seed(seed)?;
        if !self.model.hparams.conditional() {
            return Err(Error::invalid_argument(
                "model",
                "Redraw needs a VAE model: this one is decoder-only (unconditional) and cannot encode a drawing",
            ));
        }
        let latent = self.encode(drawing)?;
        let z = self.sample_latent(&latent, noise, seed)?;
        let target = layout_points(drawing, LAYOUT_POINTS);
        // wraps within 0..=MAX_SEED, so the seed is always one begin() takes
        let point_seed = |candidate: usize| (seed + candidate as u64) % (MAX_SEED + 1);
        let decode = |candidate: usize| -> Result<(Vec<Stroke3>, f64)> {
            let rows = sample::generate(
                self.engine(),
                Some(&z),
                temperature,
                max_points,
                point_seed(candidate),
            )?;
            let drawn = denormalise(
                &crate::stroke::stroke5_to_stroke3(&rows),
                self.info.scale_factor,
            );
            let distance = chamfer(&layout_points(&drawn, LAYOUT_POINTS), &target);
            Ok((drawn, distance))
        };
        let (mut kept, (mut kept_drawing, mut kept_distance)) = (0, decode(0)?);
        for candidate in 1..candidates {
            let (drawn, distance) = decode(candidate)?;
            if distance < kept_distance {
                (kept, kept_drawing, kept_distance) = (candidate, drawn, distance);
            }
        }
        Ok(Redraw {
            seed: point_seed(kept),
            z,
            candidate: kept,
            drawing: kept_drawing,
            distance: kept_distance,
        })
    }

    /// `n` different endings of `prefix` (model pixels), each at most `max_points`.
    pub fn alternatives(
        &self,
        z: Option<&[f32]>,
        prefix: &[Stroke3],
        n: usize,
        temperature: f32,
        max_points: usize,
        seed: u64,
    ) -> Result<Vec<Vec<Stroke3>>> {
        check_count("n", n, 1, MAX_ALTERNATIVES)?;
        check_count("max_points", max_points, 1, MAX_GENERATED_POINTS)?;
        sample::check_temperature(temperature)?;
        let z = self.latent_for_decoder(z)?;
        let rows = self.rows(prefix, "prefix", true)?;
        let endings = sample::alternatives(
            self.engine(),
            z,
            &rows,
            n,
            temperature,
            max_points,
            check_seed(seed)?,
        )?;
        Ok(endings
            .iter()
            .map(|e| {
                denormalise(
                    &crate::stroke::stroke5_to_stroke3(e),
                    self.info.scale_factor,
                )
            })
            .collect())
    }

    /// `steps` latents from `a` to `b` inclusive: spherical (paper section 4.2)
    /// or linear.
    pub fn interpolate(
        &self,
        a: &[f32],
        b: &[f32],
        steps: usize,
        spherical: bool,
    ) -> Result<Vec<Vec<f32>>> {
        self.check_latent(a, "latent a")?;
        self.check_latent(b, "latent b")?;
        check_count("steps", steps, 2, MAX_INTERPOLATION_STEPS)?;
        (0..steps)
            .map(|i| {
                let t = i as f32 / (steps - 1) as f32;
                if spherical {
                    sample::slerp(a, b, t)
                } else {
                    sample::lerp(a, b, t)
                }
            })
            .collect()
    }

    /// Latent arithmetic `a − b + c` (paper figure 6).
    pub fn analogy(&self, a: &[f32], b: &[f32], c: &[f32]) -> Result<Vec<f32>> {
        self.check_latent(a, "latent a")?;
        self.check_latent(b, "latent b")?;
        self.check_latent(c, "latent c")?;
        let z = sample::analogy(a, b, c)?;
        self.check_latent(&z, "latent a - b + c")?;
        Ok(z)
    }

    /// Scores `drawing` (model pixels) under the decoder, teacher-forced from
    /// `z` (VAE) or none (decoder-only): per point, `log(p(Δx, Δy)·q(pen))`.
    pub fn score(&self, z: Option<&[f32]>, drawing: &[Stroke3]) -> Result<Score> {
        let z = self.latent_for_decoder(z)?;
        let rows = self.rows(drawing, "drawing", false)?;
        let per_point = sample::log_likelihood(self.engine(), z, &rows)?;
        let mean = per_point.iter().sum::<f32>() / per_point.len() as f32;
        Ok(Score { per_point, mean })
    }

    /// How far the fast decoder path is from candle's reference model on a
    /// drawing (model pixels), teacher-forced from `z` (VAE) or none: the
    /// largest `|Δ|` over every mixture parameter (π, μ, σ, ρ, pen
    /// probabilities at τ = 1) of every step. `None` when the model's cell has
    /// no fast path (everything then runs on the reference).
    pub fn fast_path_parity(&self, z: Option<&[f32]>, drawing: &[Stroke3]) -> Result<Option<f32>> {
        let Some(fast) = &self.fast else {
            return Ok(None);
        };
        let z = self.latent_for_decoder(z)?;
        let rows = self.rows(drawing, "drawing", false)?;
        let mut input = Vec::with_capacity(rows.len() + 1);
        input.push(START_TOKEN);
        input.extend_from_slice(&rows);
        let parity = crate::weights::mixture_parity(&self.model, fast, z, &input)?;
        Ok(Some(parity.max_abs))
    }
}

//! The `#[wasm_bindgen]` facade over [`crate::session`]: it converts JavaScript
//! values to Rust and errors to exceptions, and does nothing else. Every check
//! on the inputs lives in the session, so native tests cover it.
//!
//! Drawings cross as arrays of `[dx, dy, pen_lifted]` rows in model pixels;
//! latents as `Float32Array`s; seeds as integral numbers up to 2⁵³ − 1.

use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::session::{self, Latent};
use crate::stroke::Stroke3;

fn js_error(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| JsError::new(&format!("invalid argument {what}: {e}")))
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("cannot convert the result: {e}")))
}

fn drawing(value: JsValue, what: &str) -> Result<Vec<Stroke3>, JsError> {
    from_js(value, what)
}

/// A JavaScript number as a seed: integral and in `0..=2⁵³ − 1`.
fn seed(value: f64) -> Result<u64, JsError> {
    if !(value.is_finite() && value >= 0.0 && value.fract() == 0.0) {
        return Err(JsError::new(&format!(
            "invalid argument seed: must be an integer in 0..={}, found {value}",
            session::MAX_SEED
        )));
    }
    session::check_seed(value as u64).map_err(js_error)
}

/// Installs the panic hook that reports a Rust panic (a bug) on the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A loaded model (see [`session::Session`]).
#[wasm_bindgen]
pub struct Model {
    session: session::Session,
}

/// A drawing in progress, owned by JavaScript (see [`session::Drawing`]).
#[wasm_bindgen]
pub struct Drawing {
    inner: session::Drawing,
}

#[wasm_bindgen]
impl Drawing {
    /// Whether the model has ended the drawing.
    #[wasm_bindgen(getter)]
    pub fn finished(&self) -> bool {
        self.inner.finished()
    }

    /// Points generated so far.
    #[wasm_bindgen(getter)]
    pub fn steps(&self) -> usize {
        self.inner.steps()
    }
}

#[wasm_bindgen]
impl Model {
    /// Loads a model file's bytes (`.safetensors`, `.gen.json`, `.vae.json`).
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<Model, JsError> {
        Ok(Model {
            session: session::Session::load(bytes).map_err(js_error)?,
        })
    }

    /// `{name, conditional, z_size, scale_factor, max_seq_len, dec_size, cell,
    /// typical_size_px, fitted_prior, finishes_from_encoding}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        to_js(&self.session.info())
    }

    /// Encodes a drawing: `{mu, sigma}`.
    pub fn encode(&self, drawing_px: JsValue) -> Result<JsValue, JsError> {
        let d = drawing(drawing_px, "drawing")?;
        to_js(&self.session.encode(&d).map_err(js_error)?)
    }

    /// A noisy latent `μ + noise·σ·ε`.
    #[wasm_bindgen(js_name = sampleLatent)]
    pub fn sample_latent(
        &self,
        mu: Vec<f32>,
        sigma: Vec<f32>,
        noise: f32,
        seed_value: f64,
    ) -> Result<Vec<f32>, JsError> {
        self.session
            .sample_latent(&Latent { mu, sigma }, noise, seed(seed_value)?)
            .map_err(js_error)
    }

    /// A latent for a new drawing: from the model's fitted prior where its
    /// file has one, else N(0, I) ([`session::Session::prior_latent`]).
    #[wasm_bindgen(js_name = priorLatent)]
    pub fn prior_latent(&self, seed_value: f64) -> Result<Vec<f32>, JsError> {
        self.session
            .prior_latent(seed(seed_value)?)
            .map_err(js_error)
    }

    /// A latent to finish `prefix_px` from (VAE models): drawn from the
    /// decoder's posterior over latents of drawings that begin like it
    /// ([`session::Session::completion_latent`], default search).
    #[wasm_bindgen(js_name = completionLatent)]
    pub fn completion_latent(
        &self,
        prefix_px: JsValue,
        seed_value: f64,
    ) -> Result<Vec<f32>, JsError> {
        let prefix = drawing(prefix_px, "prefix")?;
        self.session
            .completion_latent(
                &prefix,
                &session::CompletionSearch::default(),
                seed(seed_value)?,
            )
            .map_err(js_error)
    }

    /// The latent "Finish it" draws from (VAE models): one whose finish at
    /// `temperature` from `seed` goes on, from where the model calls for
    /// ([`session::Session::finishing_latent`], [`session::FinishFrom::for_model`]).
    #[wasm_bindgen(js_name = finishingLatent)]
    pub fn finishing_latent(
        &self,
        prefix_px: JsValue,
        temperature: f32,
        seed_value: f64,
    ) -> Result<Vec<f32>, JsError> {
        let prefix = drawing(prefix_px, "prefix")?;
        self.session
            .finishing_latent(
                &prefix,
                &self.session.finish_from(),
                temperature,
                seed(seed_value)?,
            )
            .map_err(js_error)
    }

    /// Starts a drawing from latent `z` (VAE; `undefined` for decoder-only
    /// models) after reading `prefix_px`.
    pub fn begin(
        &self,
        z: Option<Vec<f32>>,
        prefix_px: JsValue,
        seed_value: f64,
    ) -> Result<Drawing, JsError> {
        let prefix = drawing(prefix_px, "prefix")?;
        let inner = self
            .session
            .begin(z.as_deref(), &prefix, seed(seed_value)?)
            .map_err(js_error)?;
        Ok(Drawing { inner })
    }

    /// The next at most `k` points (model pixels) of `drawing`.
    #[wasm_bindgen(js_name = nextPoints)]
    pub fn next_points(
        &self,
        drawing: &mut Drawing,
        k: usize,
        temperature: f32,
    ) -> Result<JsValue, JsError> {
        let points = self
            .session
            .next_points(&mut drawing.inner, k, temperature)
            .map_err(js_error)?;
        to_js(&points)
    }

    /// "Redraw" ([`session::Session::redraw`]): of `candidates` decodings
    /// (default [`session::REDRAW_CANDIDATES`]) of the noisy latent of
    /// `drawing_px`, the nearest to it: `{z, seed, candidate, drawing,
    /// distance}`. `begin(z, [], seed)` then `nextPoints` at `temperature`
    /// replays `drawing` point for point.
    pub fn redraw(
        &self,
        drawing_px: JsValue,
        noise: f32,
        temperature: f32,
        max_points: usize,
        candidates: Option<usize>,
        seed_value: f64,
    ) -> Result<JsValue, JsError> {
        let d = drawing(drawing_px, "drawing")?;
        let r = self
            .session
            .redraw(
                &d,
                noise,
                temperature,
                max_points,
                candidates.unwrap_or(session::REDRAW_CANDIDATES),
                seed(seed_value)?,
            )
            .map_err(js_error)?;
        to_js(&r)
    }

    /// `n` endings of `prefix_px`, each at most `max_points`.
    pub fn alternatives(
        &self,
        z: Option<Vec<f32>>,
        prefix_px: JsValue,
        n: usize,
        temperature: f32,
        max_points: usize,
        seed_value: f64,
    ) -> Result<JsValue, JsError> {
        let prefix = drawing(prefix_px, "prefix")?;
        let endings = self
            .session
            .alternatives(
                z.as_deref(),
                &prefix,
                n,
                temperature,
                max_points,
                seed(seed_value)?,
            )
            .map_err(js_error)?;
        to_js(&endings)
    }

    /// `steps` latents from `a` to `b` (spherical or linear): an array of arrays.
    pub fn interpolate(
        &self,
        a: Vec<f32>,
        b: Vec<f32>,
        steps: usize,
        spherical: bool,
    ) -> Result<JsValue, JsError> {
        to_js(
            &self
                .session
                .interpolate(&a, &b, steps, spherical)
                .map_err(js_error)?,
        )
    }

    /// Latent arithmetic `a − b + c`.
    pub fn analogy(&self, a: Vec<f32>, b: Vec<f32>, c: Vec<f32>) -> Result<Vec<f32>, JsError> {
        self.session.analogy(&a, &b, &c).map_err(js_error)
    }

    /// Per-point log-likelihood of `drawing_px`: `{per_point, mean}`.
    pub fn score(&self, z: Option<Vec<f32>>, drawing_px: JsValue) -> Result<JsValue, JsError> {
        let d = drawing(drawing_px, "drawing")?;
        to_js(&self.session.score(z.as_deref(), &d).map_err(js_error)?)
    }

    /// The largest `|Δ|` between the fast decoder path and candle's reference
    /// on any mixture parameter of a teacher-forced pass over `drawing_px`;
    /// `undefined` when the model's cell has no fast path.
    #[wasm_bindgen(js_name = fastPathParity)]
    pub fn fast_path_parity(
        &self,
        z: Option<Vec<f32>>,
        drawing_px: JsValue,
    ) -> Result<Option<f32>, JsError> {
        let d = drawing(drawing_px, "drawing")?;
        self.session
            .fast_path_parity(z.as_deref(), &d)
            .map_err(js_error)
    }
}

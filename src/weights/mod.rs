//! Model files: our `.safetensors` format ([`native`]) and Magenta's
//! `.gen.json` / `.vae.json` ([`magenta`]). Both load into a [`ModelFile`], a
//! format-neutral set of named tensors plus [`ModelInfo`], which builds the
//! immutable [`SketchRnn`]. Loaders take bytes, never paths.

pub mod magenta;
pub mod native;
pub mod position_units;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::mixture::DENSITY_FLOOR;
use crate::model::{FittedPrior, HParams, Mixture, SketchRnn};
use crate::sample::Engine;

/// What a model file says about its model besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// A short name, e.g. the category (`sheep`).
    pub name: String,
    /// Pixels per normalised unit: data offsets were divided by this before training.
    pub scale_factor: f32,
    /// Longest drawing (rows) the model was trained on, N_max.
    pub max_seq_len: usize,
    pub hparams: HParams,
    /// The larger side of a typical training drawing, in pixels (the median),
    /// where the file records it; front ends scale user drawings to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typical_size_px: Option<f32>,
    /// The Gaussian new drawings take their latent from, fitted to the
    /// training set's aggregate posterior (`sketch-rnn fit-prior`; see
    /// [`crate::model::latent_prior`]); `None`: the paper's N(0, I).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_prior: Option<FittedPrior>,
    /// How often the encoder read only the first strokes of a training
    /// drawing, in the training run that made these weights (`sketch-rnn
    /// train --encoder-prefix P`: P, a probability). 0: it only ever read
    /// whole drawings, as in the paper. Above 0 the encoder has learnt to read
    /// a half-drawn sketch as the beginning of one, so "Finish it" draws from
    /// the sketch's own encoding ([`crate::session::FinishFrom::for_model`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub encoder_prefix: f32,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// A loaded model file: its description and its tensors named by module path.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub info: ModelInfo,
    pub tensors: HashMap<String, Tensor>,
}

/// Which format a model file's bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// Our `.safetensors`.
    Native,
    /// Magenta's JSON `[info, shapes, weights]`.
    MagentaJson,
}

impl ModelFormat {
    /// Recognises a model file by its first bytes.
    pub fn sniff(bytes: &[u8]) -> Result<ModelFormat> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            Ok(ModelFormat::MagentaJson)
        } else if bytes.len() >= 9 && bytes[8] == b'{' {
            Ok(ModelFormat::Native)
        } else {
            Err(Error::ModelFile(
                "unrecognised model file: expected our .safetensors or Magenta's .gen.json/.vae.json".into(),
            ))
        }
    }
}

impl ModelFile {
    /// Loads a model file in either format from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile> {
        match ModelFormat::sniff(bytes)? {
            ModelFormat::Native => native::read(bytes),
            ModelFormat::MagentaJson => magenta::read(bytes),
        }
    }

    /// Builds the model on `device`, checking every tensor's shape against the
    /// architecture and that none holds NaN or infinity.
    pub fn build(&self, device: &Device) -> Result<SketchRnn> {
        if let Some(prior) = &self.info.latent_prior {
            prior.validate(self.info.hparams.z_size)?;
        }
        for (name, t) in &self.tensors {
            let finite = t
                .flatten_all()?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?
                .iter()
                .all(|v| v.is_finite());
            if !finite {
                return Err(Error::NonFinite {
                    what: format!("weight '{name}'"),
                });
            }
        }
        let tensors: HashMap<String, Tensor> = self
            .tensors
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_dtype(DType::F32)?.to_device(device)?)))
            .collect::<Result<_>>()?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        SketchRnn::new(vb, &self.info.hparams).map_err(|e| match e {
            Error::Candle(c) => {
                Error::ModelFile(format!("weights do not fit the architecture: {c}"))
            }
            other => other,
        })
    }

    /// The tensor named `name` (module path), or an error naming it.
    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| Error::ModelFile(format!("the model has no tensor '{name}'")))
    }

    /// The element-wise mean of the weights of several models of one architecture
    /// (checkpoint averaging: the mean of the last checkpoints of a run is often
    /// better than any one of them). Keeps the first model's info but not its
    /// fitted latent prior (`sketch-rnn fit-prior` the mean again); every model
    /// must have the same hyperparameters, scale factor and tensor shapes.
    pub fn average(models: &[ModelFile]) -> Result<ModelFile> {
        let first = models
            .first()
            .ok_or_else(|| Error::ModelFile("average: no models given".into()))?;
        // Models are numbered from 0 in the order given.
        for (k, m) in models.iter().enumerate().skip(1) {
            if m.info.hparams != first.info.hparams
                || m.info.scale_factor != first.info.scale_factor
                || m.tensors.len() != first.tensors.len()
            {
                return Err(Error::ModelFile(format!(
                    "average: model {k} has hyperparameters {:?}, scale factor {} and {} tensors; \
                     expected those of model 0: {:?}, {} and {}",
                    m.info.hparams,
                    m.info.scale_factor,
                    m.tensors.len(),
                    first.info.hparams,
                    first.info.scale_factor,
                    first.tensors.len()
                )));
            }
        }
        let n = models.len() as f64;
        let mut tensors = HashMap::with_capacity(first.tensors.len());
        for (name, t) in &first.tensors {
            let mut sum = t.to_dtype(DType::F32)?;
            for (k, m) in models.iter().enumerate().skip(1) {
                let other = m.tensors.get(name).ok_or_else(|| {
                    Error::ModelFile(format!("average: model {k} has no tensor '{name}'"))
                })?;
                if other.dims() != t.dims() {
                    return Err(Error::Shape {
                        what: format!("average: tensor '{name}' of model {k}"),
                        expected: t.dims().to_vec(),
                        found: other.dims().to_vec(),
                    });
                }
                sum = (sum + other.to_dtype(DType::F32)?)?;
            }
            tensors.insert(name.clone(), (sum / n)?);
        }
        Ok(ModelFile {
            info: ModelInfo {
                // fitted to the first model's latents, not the mean's: refit
                latent_prior: None,
                ..first.info.clone()
            },
            tensors,
        })
    }

    /// The tensors of a model, named by module path.
    pub fn from_varmap(info: ModelInfo, varmap: &candle_nn::VarMap) -> Result<ModelFile> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::ModelFile("variable map lock poisoned".into()))?;
        let tensors = data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        Ok(ModelFile { info, tensors })
    }
}

/// How far apart two models' predictions are (see [`mixture_parity`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parity {
    /// Largest difference of any mixture parameter (π, μ, σ, ρ, pen), relative
    /// to `max(1, |value|)`, over all steps.
    pub max_param: f32,
    /// Largest absolute difference of any mixture parameter (π, μ, σ, ρ, pen).
    pub max_abs: f32,
    /// Largest difference of the log density `ln p(Δx, Δy)` each model gives
    /// the next row's offset (nats): the pdf where it matters.
    pub max_log_density: f32,
}

/// Both decoders read the same stroke-5 rows (normalised units, start token
/// first) from latent `z`; compares their mixtures step by step. Used to report
/// what quantising a model costs, and how far the fast decoder path is from
/// candle's reference ([`crate::session::Session::fast_path_parity`]).
pub fn mixture_parity<'a, 'b>(
    a: impl Into<Engine<'a>>,
    b: impl Into<Engine<'b>>,
    z: Option<&[f32]>,
    rows: &[crate::stroke::Stroke5],
) -> Result<Parity> {
    let (a, b) = (a.into(), b.into());
    let (mut sa, mut sb) = (a.initial_state(z)?, b.initial_state(z)?);
    let mut ma = Mixture::with_components(a.num_mixtures());
    let mut mb = Mixture::with_components(b.num_mixtures());
    let mut parity = Parity {
        max_abs: 0.0,
        max_param: 0.0,
        max_log_density: 0.0,
    };
    for (t, row) in rows.iter().enumerate() {
        a.step(&mut sa, std::slice::from_ref(row))?;
        b.step(&mut sb, std::slice::from_ref(row))?;
        ma.set_from_raw(sa.raw(0), 1.0)?;
        mb.set_from_raw(sb.raw(0), 1.0)?;
        parity.max_abs = parity.max_abs.max(ma.max_abs_diff(&mb));
        for (x, y) in ma.parameters().into_iter().zip(mb.parameters()) {
            for (p, q) in x.iter().zip(y.iter()) {
                parity.max_param = parity.max_param.max((p - q).abs() / q.abs().max(1.0));
            }
        }
        for (p, q) in ma.pen.iter().zip(&mb.pen) {
            parity.max_param = parity.max_param.max((p - q).abs());
        }
        if let Some(next) = rows.get(t + 1) {
            let la = (ma.offset_density(next[0], next[1]) + DENSITY_FLOOR).ln();
            let lb = (mb.offset_density(next[0], next[1]) + DENSITY_FLOOR).ln();
            parity.max_log_density = parity.max_log_density.max((la - lb).abs());
        }
    }
    Ok(parity)
}

/// How far apart two encoders' posteriors are for one drawing (stroke-5 rows in
/// normalised units, without the start token): the largest difference of any
/// μ or σ component. `None` when either model has no encoder. Used with
/// [`mixture_parity`] to report what a conversion changed.
pub fn encoding_parity(
    a: &SketchRnn,
    b: &SketchRnn,
    rows: &[crate::stroke::Stroke5],
) -> Result<Option<f32>> {
    if a.encoder.is_none() || b.encoder.is_none() {
        return Ok(None);
    }
    let ((mu_a, sigma_a), (mu_b, sigma_b)) = (a.encode(rows)?, b.encode(rows)?);
    Ok(Some(
        mu_a.iter()
            .zip(&mu_b)
            .chain(sigma_a.iter().zip(&sigma_b))
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max),
    ))
}

/// A fixed drawing-like input for [`mixture_parity`]: the start token, then
/// `n` rows of loops a few tenths of a normalised unit long, the pen lifted
/// every 31 rows (the shape of `tests/fixtures/golden/input_250.json`).
pub fn parity_input(n: usize) -> Vec<crate::stroke::Stroke5> {
    let mut rows = vec![crate::stroke::START_TOKEN];
    for t in 1..=n {
        let a = t as f32 * 0.23 + (t as f32 * 0.05).sin() * 2.0;
        let r = 0.25 + 0.1 * (t as f32 * 0.7).sin().abs();
        let up = if t % 31 == 0 { 1.0 } else { 0.0 };
        rows.push([r * a.cos(), r * a.sin(), 1.0 - up, up, 0.0]);
    }
    rows
}

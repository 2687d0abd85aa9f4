//! Training (native only): configuration and presets, the optimiser, one
//! training step, evaluation, checkpoints, and widening a trained decoder
//! ([`widen`]). No file I/O here: checkpoints are
//! bytes; the CLI writes them atomically and drives the loop.
//!
//! The objective is Magenta's (paper section 3.2 and `model.py`):
//!
//! ```text
//! cost = L_s + L_p + w_KL(step) · max(L_KL, KL_min)
//! w_KL(step) = w_KL − (w_KL − w_KL,start) · r_KL^step        (KL annealing)
//! lr(step)   = (lr − lr_min) · decay^step + lr_min
//! ```
//!
//! with gradients clipped per value to `±grad_clip` and Adam. Not in Magenta's
//! recipe: an optional linear warm-up of the learning rate (`warmup_steps`),
//! for fine-tuning a trained model ([`Trainer::from_model`]), and optional
//! scheduled sampling of the decoder's inputs ([`scheduled_sampling`]).

pub mod adam;
pub mod checkpoint;
pub mod encoder_prefix;
pub mod encoder_simplify;
pub mod scheduled_sampling;
pub mod widen;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::dataset::{Augmentation, Dataset};
use crate::error::{Error, Result};
use crate::model::cell::{CellKind, Dropout};
use crate::model::loss::{kl_loss, reconstruction_loss};
use crate::model::{HParams, LatentInput, NUM_MIXTURES, SketchRnn};
use crate::rng::SketchRng;
use crate::weights::{ModelFile, ModelInfo};
use adam::Adam;

/// Seed of the latent noise used in evaluation, per drawing index, so a
/// model's evaluation does not depend on batching or on when it runs.
pub const EVAL_NOISE_SEED: u64 = 0x5EED_E7A1;

/// The small preset's initial learning rate, twice Magenta's 1e-3 (decayed
/// the same way, ×0.9999 a step to 1e-5). The smaller model on a smaller batch
/// learns faster with it: in dedicated 777-step runs (`tools/compare-777.sh`,
/// seeds 1–5, 2026-12-06) validation L_R reached 0.540–0.560 (mean 0.553)
/// against 0.628–0.641 (mean 0.634) at 1e-3 (README, *Training*).
pub const SMALL_PRESET_LEARNING_RATE: f64 = 2e-3;

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub hparams: HParams,
    pub batch_size: usize,
    /// N_max: longest drawing kept; batches are padded to it.
    pub max_seq_len: usize,
    pub learning_rate: f64,
    pub learning_rate_decay: f64,
    pub min_learning_rate: f64,
    /// Steps over which the learning rate ramps up linearly from 0 (0: none).
    /// Not in Magenta's recipe: for fine-tuning ([`Trainer::from_model`]), where
    /// Adam's fresh moments would otherwise move every weight by about the full
    /// learning rate in the first steps and jolt a converged model.
    #[serde(default)]
    pub warmup_steps: u64,
    /// Final KL weight w_KL.
    pub kl_weight: f64,
    pub kl_weight_start: f64,
    pub kl_decay_rate: f64,
    /// KL_min: the KL term is not pushed below this.
    pub kl_tolerance: f64,
    /// Gradients are clipped per value to ±this.
    pub grad_clip: f64,
    pub random_scale: f32,
    pub point_drop: f32,
    /// Scheduled sampling: the probability that a decoder input is the model's
    /// own sample rather than the human point ([`scheduled_sampling`]; 0: plain
    /// teacher forcing, as in the paper).
    #[serde(default)]
    pub scheduled_sampling: f32,
    /// Temperature τ of scheduled sampling's samples.
    #[serde(default = "unit_temperature")]
    pub scheduled_sampling_temperature: f32,
    /// Scheduled sampling's targets bring the drawing back to the human path
    /// after each sample instead of repeating the human offsets
    /// ([`scheduled_sampling`]'s drift correction).
    #[serde(default)]
    pub scheduled_sampling_correct_drift: bool,
    /// Probability that the encoder reads only the first strokes of a
    /// training drawing while the decoder reconstructs all of it
    /// ([`encoder_prefix`]; 0: whole drawings, as in the paper).
    #[serde(default)]
    pub encoder_prefix: f32,
    /// Largest RDP tolerance, in the data's pixels, at which the encoder reads
    /// each training drawing simplified again while the decoder reconstructs
    /// all of it ([`encoder_simplify`]; 0: the drawing as it is, as in the paper).
    #[serde(default)]
    pub encoder_simplify_px: f32,
    pub seed: u64,
    /// What the run's weights started from: `None` for the seeded
    /// initialisation, else a description of the model it fine-tunes
    /// (see [`Trainer::from_model`]). Provenance only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
}

fn unit_temperature() -> f32 {
    1.0
}

/// `p` in `[0, 1]` (not NaN), or an error naming the setting.
fn check_probability(name: &str, p: f32) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            name,
            format!("must be a probability in [0, 1], found {p}"),
        ))
    }
}

impl TrainConfig {
    /// Magenta's defaults (the paper's configuration).
    pub fn paper() -> TrainConfig {
        TrainConfig {
            hparams: HParams {
                enc_size: 256,
                dec_size: 512,
                z_size: 128,
                num_mixtures: NUM_MIXTURES,
                cell: CellKind::Lstm,
                recurrent_dropout_keep: 0.9,
                latent_tanh: false,
                position_input: false,
                encoder_position_input: false,
            },
            batch_size: 100,
            max_seq_len: 250,
            learning_rate: 1e-3,
            learning_rate_decay: 0.9999,
            min_learning_rate: 1e-5,
            warmup_steps: 0,
            kl_weight: 0.5,
            kl_weight_start: 0.01,
            kl_decay_rate: 0.99995,
            kl_tolerance: 0.2,
            grad_clip: 1.0,
            random_scale: 0.15,
            point_drop: 0.10,
            scheduled_sampling: 0.0,
            scheduled_sampling_temperature: unit_temperature(),
            scheduled_sampling_correct_drift: false,
            encoder_prefix: 0.0,
            encoder_simplify_px: 0.0,
            seed: 1,
            init_from: None,
        }
    }

    /// A configuration for a laptop CPU: batch 64, encoder 128, decoder 256, N_z 64,
    /// and [`SMALL_PRESET_LEARNING_RATE`]; the rest is Magenta's recipe.
    pub fn small() -> TrainConfig {
        let mut c = TrainConfig::paper();
        c.hparams.enc_size = 128;
        c.hparams.dec_size = 256;
        c.hparams.z_size = 64;
        c.batch_size = 64;
        c.learning_rate = SMALL_PRESET_LEARNING_RATE;
        c
    }

    /// A preset by name: `paper` or `small`.
    pub fn preset(name: &str) -> Result<TrainConfig> {
        match name {
            "paper" => Ok(TrainConfig::paper()),
            "small" => Ok(TrainConfig::small()),
            other => Err(Error::invalid_argument(
                "preset",
                format!("expected paper or small, found '{other}'"),
            )),
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.hparams.validate()?;
        let positive = [
            ("learning_rate", self.learning_rate),
            ("grad_clip", self.grad_clip),
            ("learning_rate_decay", self.learning_rate_decay),
            ("kl_decay_rate", self.kl_decay_rate),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid_argument(
                    name,
                    format!("must be > 0, found {v}"),
                ));
            }
        }
        check_probability("scheduled_sampling", self.scheduled_sampling)?;
        check_probability("encoder_prefix", self.encoder_prefix)?;
        if !(self.encoder_simplify_px.is_finite() && self.encoder_simplify_px >= 0.0) {
            return Err(Error::invalid_argument(
                "encoder_simplify_px",
                format!(
                    "must be a tolerance >= 0 pixels, found {}",
                    self.encoder_simplify_px
                ),
            ));
        }
        crate::sample::check_temperature(self.scheduled_sampling_temperature)?;
        if self.scheduled_sampling_correct_drift && self.scheduled_sampling == 0.0 {
            return Err(Error::invalid_argument(
                "scheduled_sampling_correct_drift",
                "corrects for the model's own samples, so it needs scheduled_sampling > 0, found 0",
            ));
        }
        if self.batch_size == 0 || self.max_seq_len == 0 {
            return Err(Error::invalid_argument(
                "batch_size/max_seq_len",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Learning rate at `step` (counted from 0), with the warm-up ramp
    /// `min(1, (step + 1) / warmup_steps)` on top of the decay.
    pub fn learning_rate_at(&self, step: u64) -> f64 {
        let decayed = (self.learning_rate - self.min_learning_rate)
            * self.learning_rate_decay.powf(step as f64)
            + self.min_learning_rate;
        if step < self.warmup_steps {
            decayed * (step + 1) as f64 / self.warmup_steps as f64
        } else {
            decayed
        }
    }

    /// KL weight at `step` (annealed from `kl_weight_start` to `kl_weight`).
    pub fn kl_weight_at(&self, step: u64) -> f64 {
        self.kl_weight
            - (self.kl_weight - self.kl_weight_start) * self.kl_decay_rate.powf(step as f64)
    }
}

/// Per-timestep losses in normalised units (averaged over drawings and N_max).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    /// Offset reconstruction loss L_s.
    pub ls: f64,
    /// Pen reconstruction loss L_p.
    pub lp: f64,
    /// KL divergence L_KL (not clamped; 0 for unconditional models).
    pub kl: f64,
}

impl Losses {
    /// L_R = L_s + L_p.
    pub fn reconstruction(&self) -> f64 {
        self.ls + self.lp
    }
}

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: u64,
    pub losses: Losses,
    /// The optimised cost (with the annealed, clamped KL term).
    pub cost: f64,
    pub learning_rate: f64,
    pub kl_weight: f64,
    /// False when the loss was not finite and the update was skipped.
    pub applied: bool,
}

/// A training run in memory: model, optimiser, data and the generator.
pub struct Trainer {
    pub config: TrainConfig,
    pub info: ModelInfo,
    pub varmap: VarMap,
    pub model: SketchRnn,
    pub adam: Adam,
    pub train: Dataset,
    pub rng: SketchRng,
    pub step: u64,
    /// Best validation L_R + w·KL seen so far, for keeping the best model.
    pub best_valid: Option<f64>,
    pub skipped_steps: u64,
}

/// `L_s, L_p` and KL (scalar tensors) of a batch.
/// `mixed` (scheduled sampling) replaces what the decoder reads and predicts;
/// without it both are `strokes`. The encoder reads `encoder_strokes` (the
/// same layout; `strokes` itself, or a simplified copy, [`encoder_simplify`]),
/// their first `encoder_lengths` rows where given ([`encoder_prefix`]).
#[allow(clippy::too_many_arguments)]
fn batch_losses(
    model: &SketchRnn,
    encoder_strokes: &[f32],
    strokes: &[f32],
    mixed: Option<&scheduled_sampling::MixedBatch>,
    lengths: &[usize],
    encoder_lengths: Option<&[usize]>,
    latent: LatentInput,
    dropout: Option<&mut Dropout>,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let (inputs, targets) = match mixed {
        Some(m) => (m.inputs.as_slice(), m.targets.as_slice()),
        None => (strokes, strokes),
    };
    let out = model.forward_with_inputs(
        encoder_strokes,
        inputs,
        lengths,
        encoder_lengths,
        latent,
        dropout,
    )?;
    let target = model.targets(targets, lengths.len())?;
    let (ls, lp) = reconstruction_loss(&out.logits, &target, model.hparams.num_mixtures)?;
    let kl = match (&out.mu, &out.presig) {
        (Some(mu), Some(presig)) => Some(kl_loss(mu, presig)?),
        _ => None,
    };
    Ok((ls, lp, kl))
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_scalar::<f32>()? as f64)
}

/// glibc's largest `M_MMAP_THRESHOLD` on 64-bit targets (`HEAP_MAX_SIZE / 2`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_MAX: libc::c_int = 32 << 20;

/// Keeps the memory a training step frees for the next step instead of
/// returning it to the kernel. A step allocates and frees the same few hundred
/// megabytes of buffers (the whole-sequence LSTM's saved gates alone are
/// `T·B·4H` floats a layer), and by default glibc serves blocks over its
/// dynamic mmap threshold with fresh `mmap`s and trims the heap after each
/// free: every step then page-faults its buffers in again, and with two
/// threads the faults contend on the process's memory map. Measured
/// (`examples/bench_train_step.rs`, small preset, 2 threads, 2026-12-06, the
/// same effect with `GLIBC_TUNABLES`): 0.72 s/step without, 0.48 with. Affects
/// the whole process (glibc only; elsewhere a no-op), so binaries call it at
/// start-up: `sketch-rnn train` and the benchmarks.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; both values are in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}

/// Which latent [`evaluate_with_latent`] decodes each drawing from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalLatent {
    /// The drawing's own `z = μ + σ ε`: the paper's L_R (what training optimises).
    Posterior,
    /// The posterior's mean `z = μ`, no noise: a deterministic figure, lower than
    /// the paper's L_R by what the sampling noise costs. Some implementations
    /// report this one; state which when comparing.
    Mean,
    /// `z = ε ~ N(0, I)`, a draw from the prior that knows nothing of the drawing.
    /// L_R(prior) − L_R(posterior) is how much the decoder uses what the encoder
    /// read; near zero means the latent is ignored (posterior collapse).
    Prior,
}

/// Evaluates a model on a data set without dropout or augmentation: per-timestep
/// losses averaged over every drawing. The latent noise of drawing `i` comes
/// from [`EVAL_NOISE_SEED`] + `i`, so results do not depend on `batch_size`.
pub fn evaluate(model: &SketchRnn, data: &Dataset, batch_size: usize) -> Result<Losses> {
    evaluate_with_latent(model, data, batch_size, EvalLatent::Posterior)
}

/// [`evaluate`], decoding from the latent `latent` says. L_KL is always the
/// drawings' own.
pub fn evaluate_with_latent(
    model: &SketchRnn,
    data: &Dataset,
    batch_size: usize,
    latent: EvalLatent,
) -> Result<Losses> {
    let n = data.len();
    let (mut ls, mut lp, mut kl) = (0.0, 0.0, 0.0);
    let z = model.hparams.z_size;
    let mut start = 0;
    while start < n {
        let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let b = data.batch(&idx, None)?;
        // z = μ needs no noise; the other latents draw it per drawing.
        let eps = if z > 0 && latent != EvalLatent::Mean {
            let mut v = Vec::with_capacity(idx.len() * z);
            for &i in &idx {
                let mut r = SketchRng::new(EVAL_NOISE_SEED.wrapping_add(i as u64));
                v.extend((0..z).map(|_| r.normal()));
            }
            Some(Tensor::from_vec(v, (idx.len(), z), &model.device)?)
        } else {
            None
        };
        let latent = match (latent, eps.as_ref()) {
            (EvalLatent::Prior, Some(e)) => LatentInput::Given(e),
            (_, e) => LatentInput::Posterior(e),
        };
        let (bls, blp, bkl) = batch_losses(
            model, &b.strokes, &b.strokes, None, &b.lengths, None, latent, None,
        )?;
        let w = idx.len() as f64;
        ls += scalar(&bls)? * w;
        lp += scalar(&blp)? * w;
        if let Some(k) = bkl {
            kl += scalar(&k)? * w;
        }
        start += batch_size;
    }
    let n = n as f64;
    Ok(Losses {
        ls: ls / n,
        lp: lp / n,
        kl: kl / n,
    })
}

impl Trainer {
    /// A new run on `train` (drawings in pixels): computes the scale factor,
    /// initialises the model from `config.seed`.
    pub fn new(
        config: TrainConfig,
        name: &str,
        train: &[crate::dataset::Drawing],
        device: &Device,
    ) -> Result<Trainer> {
        config.validate()?;
        let varmap = VarMap::new();
        let model = SketchRnn::init(&config.hparams, &varmap, device, config.seed)?;
        Trainer::start(config, name, varmap, model, None, train)
    }

    /// A new run that starts from the weights of `from` instead of a seeded
    /// initialisation (fine-tuning): for instance to go on training a finished
    /// model under another KL weight or learning-rate schedule, or to adapt a
    /// model to new drawings. Step, schedules and Adam's moments start afresh
    /// from `config`. The data are normalised with `from`'s scale factor, so
    /// the model keeps reading offsets in the units it was trained in.
    ///
    /// `config.hparams` must describe `from`'s architecture (every field but
    /// the training-only `recurrent_dropout_keep`); its weights must fit it and
    /// be finite.
    pub fn from_model(
        config: TrainConfig,
        name: &str,
        from: &ModelFile,
        train: &[crate::dataset::Drawing],
        device: &Device,
    ) -> Result<Trainer> {
        config.validate()?;
        let architecture = |h: &HParams| HParams {
            recurrent_dropout_keep: 1.0,
            ..h.clone()
        };
        if architecture(&config.hparams) != architecture(&from.info.hparams) {
            return Err(Error::invalid_argument(
                "init_from",
                format!(
                    "the configuration asks for {:?}, but the model to start from has {:?}",
                    config.hparams, from.info.hparams
                ),
            ));
        }
        // Shapes against the architecture, and finiteness, as any load checks them.
        from.build(device)?;
        let mut varmap = VarMap::new();
        let model = SketchRnn::init(&config.hparams, &varmap, device, config.seed)?;
        let expected = varmap.all_vars().len();
        if from.tensors.len() != expected {
            return Err(Error::ModelFile(format!(
                "init_from: expected {expected} weight tensors for this architecture, found {}",
                from.tensors.len()
            )));
        }
        for (name, t) in &from.tensors {
            varmap.set_one(
                name,
                t.to_dtype(candle_core::DType::F32)?.to_device(device)?,
            )?;
        }
        Trainer::start(
            config,
            name,
            varmap,
            model,
            Some(from.info.scale_factor),
            train,
        )
    }

    /// The run at step 0 around an initialised `model` (whose variables are
    /// `varmap`'s); `scale_factor` normalises the data (`None`: the training
    /// set's own).
    fn start(
        config: TrainConfig,
        name: &str,
        varmap: VarMap,
        model: SketchRnn,
        scale_factor: Option<f32>,
        train: &[crate::dataset::Drawing],
    ) -> Result<Trainer> {
        let typical_size_px = crate::dataset::typical_size_px(train);
        let train = Dataset::new(train, config.max_seq_len, scale_factor)?;
        let info = ModelInfo {
            name: name.to_string(),
            scale_factor: train.scale_factor(),
            max_seq_len: config.max_seq_len,
            hparams: config.hparams.clone(),
            typical_size_px,
            latent_prior: None,
            encoder_prefix: config.encoder_prefix,
        };
        let adam = Adam::new(&varmap)?;
        Ok(Trainer {
            rng: SketchRng::new(config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5),
            config,
            info,
            varmap,
            model,
            adam,
            train,
            step: 0,
            best_valid: None,
            skipped_steps: 0,
        })
    }

    /// One optimisation step on a random batch (Magenta's `random_batch`:
    /// `batch_size` distinct drawings), with augmentation and dropout.
    pub fn train_step(&mut self) -> Result<StepReport> {
        let c = &self.config;
        let n = self.train.len();
        let b = c.batch_size.min(n);
        // partial Fisher–Yates: b distinct indices
        let mut pool: Vec<usize> = (0..n).collect();
        for i in 0..b {
            let j = i + self.rng.index(n - i);
            pool.swap(i, j);
        }
        let idx = &pool[..b];
        let aug = Augmentation {
            random_scale: c.random_scale,
            point_drop: c.point_drop,
        };
        let batch = self.train.batch(idx, Some((&aug, &mut self.rng)))?;
        // draws from the RNG only when on, so other runs keep their sequence
        let simplified = (c.encoder_simplify_px > 0.0).then(|| {
            encoder_simplify::simplified_batch(
                &batch.strokes,
                &batch.lengths,
                batch.max_seq_len,
                c.encoder_simplify_px / self.train.scale_factor(),
                &mut self.rng,
            )
        });
        let simplified = simplified.transpose()?;
        let (encoder_strokes, encoder_whole) = match &simplified {
            Some(e) => (e.strokes.as_slice(), e.lengths.as_slice()),
            None => (batch.strokes.as_slice(), batch.lengths.as_slice()),
        };
        let encoder_lengths = encoder_prefix::encoder_lengths(
            encoder_strokes,
            encoder_whole,
            batch.max_seq_len,
            c.encoder_prefix,
            &mut self.rng,
        );
        let z = c.hparams.z_size;
        let eps = if z > 0 {
            let v: Vec<f32> = (0..b * z).map(|_| self.rng.normal()).collect();
            Some(Tensor::from_vec(v, (b, z), &self.model.device)?)
        } else {
            None
        };
        let mixed = if c.scheduled_sampling > 0.0 {
            // Pass 1 of scheduled sampling: what the model would draw, teacher-forced.
            let out = self.model.forward_with_inputs(
                encoder_strokes,
                &batch.strokes,
                &batch.lengths,
                Some(&encoder_lengths),
                LatentInput::Posterior(eps.as_ref()),
                None,
            )?;
            let logits = out.logits.detach().flatten_all()?.to_vec1::<f32>()?;
            Some(scheduled_sampling::mix_decoder_inputs(
                &batch.strokes,
                &logits,
                b,
                c.hparams.num_mixtures,
                scheduled_sampling::Mixing {
                    p: c.scheduled_sampling,
                    temperature: c.scheduled_sampling_temperature,
                    correct_drift: c.scheduled_sampling_correct_drift,
                },
                &mut self.rng,
            )?)
        } else {
            None
        };
        let keep = c.hparams.recurrent_dropout_keep;
        let mut dropout = Dropout {
            keep,
            rng: &mut self.rng,
        };
        let dropout = if keep < 1.0 { Some(&mut dropout) } else { None };
        let (ls, lp, kl) = batch_losses(
            &self.model,
            encoder_strokes,
            &batch.strokes,
            mixed.as_ref(),
            &batch.lengths,
            Some(&encoder_lengths),
            LatentInput::Posterior(eps.as_ref()),
            dropout,
        )?;
        let lr = c.learning_rate_at(self.step);
        let klw = c.kl_weight_at(self.step);
        let mut cost = (&ls + &lp)?;
        if let Some(k) = &kl {
            cost = (cost + (k.maximum(c.kl_tolerance)? * klw)?)?;
        }
        let losses = Losses {
            ls: scalar(&ls)?,
            lp: scalar(&lp)?,
            kl: match &kl {
                Some(k) => scalar(k)?,
                None => 0.0,
            },
        };
        let cost_v = scalar(&cost)?;
        let applied = cost_v.is_finite();
        if applied {
            let grads = cost.backward()?;
            self.adam.step(&self.varmap, &grads, lr, c.grad_clip)?;
        } else {
            self.skipped_steps += 1;
        }
        self.step += 1;
        Ok(StepReport {
            step: self.step,
            losses,
            cost: cost_v,
            learning_rate: lr,
            kl_weight: klw,
            applied,
        })
    }

    /// Evaluates the current model on `data` (already normalised with this run's scale factor).
    pub fn evaluate(&self, data: &Dataset) -> Result<Losses> {
        evaluate(&self.model, data, self.config.batch_size)
    }

    /// A data set of `drawings` (pixels) normalised like the training set.
    pub fn dataset(&self, drawings: &[crate::dataset::Drawing]) -> Result<Dataset> {
        Dataset::new(
            drawings,
            self.config.max_seq_len,
            Some(self.train.scale_factor()),
        )
    }

    /// The current model as a model file.
    pub fn model_file(&self) -> Result<ModelFile> {
        ModelFile::from_varmap(self.info.clone(), &self.varmap)
    }
}

//! The sketch-rnn network in candle (Ha & Eck 2017, section 3).
//!
//! * [`cell`]: LSTM, layer-norm LSTM and HyperLSTM cells (TensorFlow gate order).
//! * [`encoder`]: the bidirectional LSTM encoder to `(μ, σ̂)`.
//! * [`decoder`]: the decoder and its explicit [`decoder::DecoderState`].
//! * [`fast`]: the decoder step for drawing, without candle (plain LSTM).
//! * [`sequence`]: a whole LSTM sequence as one op with its BPTT (training).
//! * [`mixture`]: the mixture-density head.
//! * [`loss`]: `L_s`, `L_p` and `L_KL`.
//!
//! The model is immutable; generation state is a value the caller owns. Weights
//! are named by module path (`encoder.forward.w_xh`, `decoder.cell.w_hh`, ...).

pub mod activation;
pub mod cell;
pub mod decoder;
pub mod encoder;
pub mod fast;
pub mod fused;
pub mod init;
pub mod latent_prior;
pub mod linear;
pub mod loss;
pub mod mixture;
pub mod sequence;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

pub use cell::CellKind;
pub use decoder::{Decoder, DecoderState};
pub use encoder::Encoder;
pub use latent_prior::FittedPrior;
pub use mixture::Mixture;

use crate::error::{Error, Result};
use crate::stroke::Stroke5;
use encoder::STROKE_WIDTH;

/// Mixture components of every released sketch-rnn model (paper: M = 20).
pub const NUM_MIXTURES: usize = 20;
/// Largest layer we accept from a file, so absurd sizes fail before allocating.
pub const MAX_UNITS: usize = 4096;

/// The architecture of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HParams {
    /// Units of each encoder LSTM (paper: 256). Unused by unconditional models.
    pub enc_size: usize,
    /// Units of the decoder cell (paper: 512).
    pub dec_size: usize,
    /// Latent size N_z (paper: 128); 0 for unconditional (decoder-only) models.
    pub z_size: usize,
    /// Mixture components M (paper: 20).
    pub num_mixtures: usize,
    /// Decoder cell.
    pub cell: CellKind,
    /// Keep probability of recurrent dropout in training (paper: 0.9); 1 disables it.
    pub recurrent_dropout_keep: f32,
    /// Apply tanh to z before the decoder uses it (Magenta files older than version 6).
    #[serde(default)]
    pub latent_tanh: bool,
    /// The decoder also reads the pen's position (not in the paper; see
    /// [`decoder`]'s docs). Magenta's format cannot carry such a model.
    #[serde(default)]
    pub position_input: bool,
    /// The encoder also reads the running sum of offsets (not in the paper; see
    /// [`encoder`]'s docs). Magenta's format cannot carry such a model.
    #[serde(default)]
    pub encoder_position_input: bool,
}

impl HParams {
    /// Whether the model has an encoder and a latent (a VAE).
    pub fn conditional(&self) -> bool {
        self.z_size > 0
    }

    /// Checks the sizes are sane.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: usize, min: usize| {
            if v < min || v > MAX_UNITS {
                Err(Error::invalid_argument(
                    name,
                    format!("must be in {min}..={MAX_UNITS}, found {v}"),
                ))
            } else {
                Ok(())
            }
        };
        check("dec_size", self.dec_size, 1)?;
        check("num_mixtures", self.num_mixtures, 1)?;
        check("z_size", self.z_size, 0)?;
        if self.conditional() {
            check("enc_size", self.enc_size, 1)?;
        } else if self.encoder_position_input {
            return Err(Error::invalid_argument(
                "encoder_position_input",
                "a decoder-only (unconditional) model has no encoder to read the pen position",
            ));
        }
        if !(self.recurrent_dropout_keep > 0.0 && self.recurrent_dropout_keep <= 1.0) {
            return Err(Error::invalid_argument(
                "recurrent_dropout_keep",
                format!("must be in (0, 1], found {}", self.recurrent_dropout_keep),
            ));
        }
        Ok(())
    }
}

/// A sketch-rnn model: an optional encoder and a decoder.
#[derive(Debug, Clone)]
pub struct SketchRnn {
    pub hparams: HParams,
    pub encoder: Option<Encoder>,
    pub decoder: Decoder,
    pub device: Device,
}

/// Where a teacher-forced pass ([`SketchRnn::forward_with_latent`]) takes the
/// decoder's latent from.
#[derive(Debug, Clone, Copy)]
pub enum LatentInput<'a> {
    /// The drawing's own posterior: `z = μ + σ ε` with `ε: [B, Nz]`, or `z = μ` for `None`.
    Posterior(Option<&'a Tensor>),
    /// A latent given by the caller, `[B, Nz]` (e.g. drawn from the prior N(0, I)),
    /// whatever the drawings are. Unconditional models have no latent and ignore it.
    Given(&'a Tensor),
}

/// Outputs of a teacher-forced pass over a batch.
#[derive(Debug, Clone)]
pub struct ForwardOutput {
    /// `[B·N_max, 6M+3]` raw mixture outputs, row `b·N_max + t` predicting row `t+1` of drawing `b`.
    pub logits: Tensor,
    /// `[B, Nz]` for conditional models.
    pub mu: Option<Tensor>,
    /// `[B, Nz]` for conditional models.
    pub presig: Option<Tensor>,
}

impl SketchRnn {
    /// Builds the model from `vb` (a `VarMap` for training, loaded tensors for inference).
    pub fn new(vb: VarBuilder, hparams: &HParams) -> Result<SketchRnn> {
        hparams.validate()?;
        let encoder = if hparams.conditional() {
            Some(Encoder::new(
                vb.pp("encoder"),
                hparams.enc_size,
                hparams.z_size,
                hparams.encoder_position_input,
            )?)
        } else {
            None
        };
        let decoder = Decoder::new(
            vb.pp("decoder"),
            hparams.cell,
            hparams.dec_size,
            hparams.z_size,
            hparams.num_mixtures,
            hparams.latent_tanh,
            hparams.position_input,
        )?;
        Ok(SketchRnn {
            hparams: hparams.clone(),
            encoder,
            decoder,
            device: vb.device().clone(),
        })
    }

    /// Encodes one drawing (stroke-5 rows in normalised units, without the start
    /// token) to `(μ, σ)` with `σ = exp(σ̂/2)`, each of length N_z.
    pub fn encode(&self, rows: &[Stroke5]) -> Result<(Vec<f32>, Vec<f32>)> {
        let enc = self.encoder.as_ref().ok_or_else(|| {
            Error::invalid_argument("model", "an unconditional model has no encoder")
        })?;
        let (mu, presig) = enc.encode_one(rows, &self.device)?;
        let sigma = (presig * 0.5)?.exp()?;
        Ok((mu.squeeze(0)?.to_vec1()?, sigma.squeeze(0)?.to_vec1()?))
    }

    /// The decoder state before the first point, from a latent `z` (length N_z,
    /// conditional models) or none (unconditional models).
    pub fn initial_state(&self, z: Option<&[f32]>) -> Result<DecoderState> {
        let z = match z {
            Some(z) => {
                if z.iter().any(|v| !v.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "latent z".into(),
                    });
                }
                Some(Tensor::from_slice(z, (1, z.len()), &self.device)?)
            }
            None => None,
        };
        self.decoder.initial_state(z.as_ref(), 1)
    }

    /// One decoder step: reads the stroke-5 row `input` (normalised units; the
    /// first input is the start token) and returns the next state and the raw
    /// mixture outputs (`6M+3`, see [`Mixture::from_raw`]) for the next point.
    pub fn step(&self, state: &DecoderState, input: &Stroke5) -> Result<(DecoderState, Vec<f32>)> {
        let x = Tensor::from_slice(input, (1, STROKE_WIDTH), &self.device)?;
        let next = self.decoder.step(state, &x, None)?;
        let raw = self
            .decoder
            .mixture_logits(&next.cell.h)?
            .squeeze(0)?
            .to_vec1::<f32>()?;
        Ok((next, raw))
    }

    /// One decoder step for a batch of drawings at once: `state` holds `B` rows
    /// and `inputs` one stroke-5 row each (normalised units). Returns the next
    /// state and each row's raw mixture outputs (`6M+3`). One matmul per layer
    /// serves all rows.
    pub fn step_batch(
        &self,
        state: &DecoderState,
        inputs: &[Stroke5],
    ) -> Result<(DecoderState, Vec<Vec<f32>>)> {
        let flat: Vec<f32> = inputs.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (inputs.len(), STROKE_WIDTH), &self.device)?;
        let next = self.decoder.step(state, &x, None)?;
        let raw = self
            .decoder
            .mixture_logits(&next.cell.h)?
            .to_vec2::<f32>()?;
        Ok((next, raw))
    }

    /// Teacher-forced pass over a batch. `strokes` is row-major
    /// `[B, N_max + 1, 5]` (start token first, normalised units) with real lengths
    /// `lengths`; `eps: [B, Nz]` is the noise of `z = μ + σ ε` (conditional models;
    /// `None` uses z = μ). `dropout` (training) enables recurrent dropout.
    pub fn forward(
        &self,
        strokes: &[f32],
        lengths: &[usize],
        eps: Option<&Tensor>,
        dropout: Option<&mut cell::Dropout>,
    ) -> Result<ForwardOutput> {
        self.forward_with_latent(strokes, lengths, LatentInput::Posterior(eps), dropout)
    }

    /// [`SketchRnn::forward`] with the decoder's latent chosen by `latent`. The
    /// encoder always runs, so μ and σ̂ (and L_KL) are those of the drawings.
    pub fn forward_with_latent(
        &self,
        strokes: &[f32],
        lengths: &[usize],
        latent: LatentInput,
        dropout: Option<&mut cell::Dropout>,
    ) -> Result<ForwardOutput> {
        self.forward_with_inputs(strokes, strokes, lengths, None, latent, dropout)
    }

    /// [`SketchRnn::forward_with_latent`] with the decoder reading
    /// `decoder_strokes` (same layout and size as `strokes`) instead of the
    /// drawings the encoder reads: for scheduled sampling
    /// ([`crate::train::scheduled_sampling`]), whose decoder inputs are partly
    /// the model's own samples. `encoder_lengths` (each at least 1 and at most
    /// the drawing's length; `None`: `lengths`) lets the encoder read only the
    /// first rows of each drawing (training with
    /// [`crate::train::TrainConfig::encoder_prefix`]).
    pub fn forward_with_inputs(
        &self,
        strokes: &[f32],
        decoder_strokes: &[f32],
        lengths: &[usize],
        encoder_lengths: Option<&[usize]>,
        latent: LatentInput,
        mut dropout: Option<&mut cell::Dropout>,
    ) -> Result<ForwardOutput> {
        let batch = lengths.len();
        let encoder_lengths = encoder_lengths.unwrap_or(lengths);
        if encoder_lengths.len() != batch
            || encoder_lengths
                .iter()
                .zip(lengths)
                .any(|(&e, &l)| e == 0 || e > l)
        {
            return Err(Error::invalid_argument(
                "encoder lengths",
                format!(
                    "must be one per drawing, each in 1..=its length {lengths:?}, found {encoder_lengths:?}"
                ),
            ));
        }
        if batch == 0 || strokes.len() % (batch * STROKE_WIDTH) != 0 {
            return Err(Error::Shape {
                what: "batch strokes".into(),
                expected: vec![batch, 0, STROKE_WIDTH],
                found: vec![strokes.len()],
            });
        }
        if decoder_strokes.len() != strokes.len() {
            return Err(Error::Shape {
                what: "decoder inputs".into(),
                expected: vec![strokes.len()],
                found: vec![decoder_strokes.len()],
            });
        }
        let steps = strokes.len() / (batch * STROKE_WIDTH) - 1; // N_max
        let (z, mu, presig) = match &self.encoder {
            Some(enc) => {
                // encoder reads rows 1..=N_max (no start token)
                let mut rows = Vec::with_capacity(batch * steps * STROKE_WIDTH);
                for b in 0..batch {
                    let o = b * (steps + 1) * STROKE_WIDTH;
                    rows.extend_from_slice(
                        &strokes[o + STROKE_WIDTH..o + (steps + 1) * STROKE_WIDTH],
                    );
                }
                let (mu, presig) = enc.forward(
                    &rows,
                    steps,
                    encoder_lengths,
                    dropout.as_deref_mut(),
                    &self.device,
                )?;
                let z = match latent {
                    LatentInput::Posterior(Some(e)) => (&mu + (&presig * 0.5)?.exp()?.mul(e)?)?,
                    LatentInput::Posterior(None) => mu.clone(),
                    LatentInput::Given(z) => {
                        if z.dims() != mu.dims() {
                            return Err(Error::Shape {
                                what: "given latent".into(),
                                expected: mu.dims().to_vec(),
                                found: z.dims().to_vec(),
                            });
                        }
                        z.clone()
                    }
                };
                (Some(z), Some(mu), Some(presig))
            }
            None => (None, None, None),
        };
        let state = self.decoder.initial_state(z.as_ref(), batch)?;
        // Decoder inputs, time-major [N_max, B, W] with W = 5 or 7: row t of each
        // drawing (start token first), then the scaled pen position after it.
        let width = self.decoder.step_width();
        let mut xs = vec![0f32; steps * batch * width];
        for b in 0..batch {
            let mut position = [0f32; decoder::POSITION_WIDTH];
            for t in 0..steps {
                let o = (b * (steps + 1) + t) * STROKE_WIDTH;
                let row = &decoder_strokes[o..o + STROKE_WIDTH];
                let d = (t * batch + b) * width;
                xs[d..d + STROKE_WIDTH].copy_from_slice(row);
                if self.decoder.position_input {
                    decoder::advance_position(&mut position, row);
                    xs[d + STROKE_WIDTH..d + width].copy_from_slice(&position);
                }
            }
        }
        let xs = Tensor::from_vec(xs, (steps, batch, width), &self.device)?;
        let hs = self
            .decoder
            .cell
            .sequence(&xs, &state.cond, &state.cell, dropout, None)?; // [N_max, B, dec]
        let h = hs
            .transpose(0, 1)?
            .contiguous()?
            .reshape((batch * steps, self.hparams.dec_size))?;
        Ok(ForwardOutput {
            logits: self.decoder.mixture_logits(&h)?,
            mu,
            presig,
        })
    }

    /// The targets of [`SketchRnn::forward`]: rows `1..=N_max` of each drawing, `[B·N_max, 5]`.
    pub fn targets(&self, strokes: &[f32], batch: usize) -> Result<Tensor> {
        let steps = strokes.len() / (batch * STROKE_WIDTH) - 1;
        let mut rows = Vec::with_capacity(batch * steps * STROKE_WIDTH);
        for b in 0..batch {
            let o = b * (steps + 1) * STROKE_WIDTH;
            rows.extend_from_slice(&strokes[o + STROKE_WIDTH..o + (steps + 1) * STROKE_WIDTH]);
        }
        Ok(Tensor::from_vec(
            rows,
            (batch * steps, STROKE_WIDTH),
            &self.device,
        )?)
    }

    /// An untrained model whose weights are created in `varmap` (for training),
    /// initialised from `seed` identically on every platform.
    pub fn init(
        hparams: &HParams,
        varmap: &candle_nn::VarMap,
        device: &Device,
        seed: u64,
    ) -> Result<SketchRnn> {
        let backend = init::SeededInit::new(varmap, seed);
        SketchRnn::new(
            VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone()),
            hparams,
        )
    }
}

//! The autoregressive decoder (paper section 3.3, figure 2): an RNN whose input
//! at step `t` is `[S_{t-1}, z]` (stroke-5 in normalised units, then the latent),
//! whose initial state is `[h0; c0] = tanh(W_z z + b_z)`, and whose output `h_t`
//! goes through the mixture head ([`crate::model::mixture`]).
//!
//! **Pen position input** (optional, not in the paper; [`HParams::position_input`]).
//! The paper's decoder reads only offsets, so it knows where the pen is only as
//! far as its state has learnt to sum them. With `position_input` the decoder
//! also reads where the pen is after `S_{t-1}`,
//!
//! ```text
//! x_t = [S_{t-1}, POSITION_INPUT_SCALE · Σ_{i<t} (Δx_i, Δy_i), z]
//! ```
//!
//! (normalised units, relative to the first point; the start token is at the
//! origin). The position is part of the generation state, so every caller
//! feeds stroke-5 rows as before. Magenta's format has no such input.
//!
//! [`HParams::position_input`]: crate::model::HParams::position_input

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::cell::{Cell, CellKind, CellState, Conditioning, DropoutMask};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::linear::Dense;
use crate::model::mixture::output_size;

/// Columns of the pen position input: `(x, y)`.
pub const POSITION_WIDTH: usize = 2;

/// Scale of the pen position input. Offsets are normalised to unit standard
/// deviation; the positions they sum to spread wider (aaron_sheep's training
/// set: standard deviation 5.4 in x and 2.9 in y, 99th percentile of |x| 16),
/// and a quarter brings them near the offsets' own range.
pub const POSITION_INPUT_SCALE: f32 = 0.25;

/// Width of the decoder's per-step input before the latent: stroke-5, then the
/// scaled pen position if `position_input`.
pub fn step_width(position_input: bool) -> usize {
    STROKE_WIDTH + if position_input { POSITION_WIDTH } else { 0 }
}

/// Moves a scaled pen position (`[x, y]` × [`POSITION_INPUT_SCALE`]) by the
/// offset of the stroke-5 `row` (normalised units). Training and the fast path
/// share it, so they sum the position the same way.
pub fn advance_position(position: &mut [f32], row: &[f32]) {
    for (p, offset) in position.iter_mut().zip(&row[..POSITION_WIDTH]) {
        *p += offset * POSITION_INPUT_SCALE;
    }
}

/// The decoder: cell, latent-to-initial-state projection (conditional models) and output layer.
#[derive(Debug, Clone)]
pub struct Decoder {
    pub cell: Cell,
    /// `[Nz, state_size]`, for conditional models.
    pub init: Option<Dense>,
    /// `[dec, 6M+3]`
    pub output: Dense,
    pub z_size: usize,
    pub num_mixtures: usize,
    /// Apply `tanh` to z before use (Magenta files older than version 6).
    pub latent_tanh: bool,
    /// Read the pen position beside each stroke-5 row (module docs).
    pub position_input: bool,
}

/// Everything that changes while drawing: the cell's state and the per-sequence
/// constant input from z. A value the caller owns; the model never mutates it.
#[derive(Debug, Clone)]
pub struct DecoderState {
    pub cell: CellState,
    pub cond: Conditioning,
    /// `[B, 2]`: each drawing's pen position × [`POSITION_INPUT_SCALE`] after
    /// the rows read so far, for decoders with `position_input`.
    pub position: Option<Tensor>,
}

impl Decoder {
    /// A decoder of `kind` with `dec_size` units; conditional when `z_size > 0`.
    pub fn new(
        vb: VarBuilder,
        kind: CellKind,
        dec_size: usize,
        z_size: usize,
        num_mixtures: usize,
        latent_tanh: bool,
        position_input: bool,
    ) -> Result<Decoder> {
        let width = step_width(position_input);
        let cell = Cell::new(vb.pp("cell"), kind, width + z_size, dec_size)?;
        let init = if z_size > 0 {
            Some(Dense::new(
                vb.pp("init"),
                z_size,
                cell.state_size(),
                Init::Randn {
                    mean: 0.0,
                    stdev: 0.001,
                },
                Some(Init::Const(0.0)),
            )?)
        } else {
            None
        };
        let output = Dense::new(
            vb.pp("output"),
            dec_size,
            output_size(num_mixtures),
            Init::Randn {
                mean: 0.0,
                stdev: (1.0 / dec_size as f64).sqrt(),
            },
            Some(Init::Const(0.0)),
        )?;
        Ok(Decoder {
            cell,
            init,
            output,
            z_size,
            num_mixtures,
            latent_tanh,
            position_input,
        })
    }

    /// Width of the per-step input before the latent ([`step_width`]).
    pub fn step_width(&self) -> usize {
        step_width(self.position_input)
    }

    /// `[B, 2]` zeros: the pen position before the first row, if this decoder reads it.
    fn start_position(&self, batch: usize) -> Result<Option<Tensor>> {
        Ok(if self.position_input {
            let device = self.output.weight.device();
            Some(Tensor::zeros(
                (batch, POSITION_WIDTH),
                candle_core::DType::F32,
                device,
            )?)
        } else {
            None
        })
    }

    pub fn is_conditional(&self) -> bool {
        self.init.is_some()
    }

    /// The state before the first step. Conditional decoders need `z: [B, Nz]`;
    /// unconditional ones start from zeros and ignore `z`.
    pub fn initial_state(&self, z: Option<&Tensor>, batch: usize) -> Result<DecoderState> {
        match (&self.init, z) {
            (Some(init), Some(z)) => {
                let (b, n) = z.dims2()?;
                if n != self.z_size || b != batch {
                    return Err(Error::Shape {
                        what: "latent z".into(),
                        expected: vec![batch, self.z_size],
                        found: vec![b, n],
                    });
                }
                let z = if self.latent_tanh {
                    z.tanh()?
                } else {
                    z.clone()
                };
                let flat = init.forward(&z)?.tanh()?;
                let cell = CellState::from_flat(&flat, self.cell.units(), self.cell.hyper_units())?;
                let cond = self.cell.condition(self.step_width(), Some(&z))?;
                Ok(DecoderState {
                    cell,
                    cond,
                    position: self.start_position(batch)?,
                })
            }
            (Some(_), None) => Err(Error::invalid_argument(
                "z",
                "a conditional decoder needs a latent vector",
            )),
            (None, _) => Ok(DecoderState {
                cell: self.cell.zero_state(batch)?,
                cond: self.cell.condition(self.step_width(), None)?,
                position: self.start_position(batch)?,
            }),
        }
    }

    /// Reads `x: [B, 5]` (stroke-5, normalised units) and returns the next state.
    /// A decoder with `position_input` first moves each pen by the row's offset
    /// and reads `[x, position]`.
    pub fn step(
        &self,
        state: &DecoderState,
        x: &Tensor,
        dropout: Option<&DropoutMask>,
    ) -> Result<DecoderState> {
        let (b, w) = x.dims2()?;
        if w != STROKE_WIDTH {
            return Err(Error::Shape {
                what: "decoder input".into(),
                expected: vec![b, STROKE_WIDTH],
                found: vec![b, w],
            });
        }
        let (input, position) = match (&state.position, self.position_input) {
            (Some(p), true) => {
                let moved = (p + (x.narrow(1, 0, POSITION_WIDTH)? * POSITION_INPUT_SCALE as f64)?)?;
                (Tensor::cat(&[x, &moved], 1)?, Some(moved))
            }
            (None, false) => (x.clone(), None),
            (p, _) => {
                return Err(Error::invalid_argument(
                    "decoder state",
                    format!(
                        "the decoder {} the pen position, but the state {} one",
                        if self.position_input {
                            "reads"
                        } else {
                            "does not read"
                        },
                        if p.is_some() { "carries" } else { "lacks" }
                    ),
                ));
            }
        };
        Ok(DecoderState {
            cell: self.cell.step(&input, &state.cond, &state.cell, dropout)?,
            cond: state.cond.clone(),
            position,
        })
    }

    /// Raw mixture outputs `[B, 6M+3]` from hidden states `h: [B, dec]`.
    pub fn mixture_logits(&self, h: &Tensor) -> Result<Tensor> {
        self.output.forward(h)
    }
}

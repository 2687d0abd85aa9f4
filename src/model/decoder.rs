//! The autoregressive decoder (paper section 3.3, figure 2): an RNN whose input
//! at step `t` is `[S_{t-1}, z]` (stroke-5 in normalised units, then the latent),
//! whose initial state is `[h0; c0] = tanh(W_z z + b_z)`, and whose output `h_t`
//! goes through the mixture head ([`crate::model::mixture`]).

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::cell::{Cell, CellKind, CellState, Conditioning, DropoutMask};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::linear::Dense;
use crate::model::mixture::output_size;

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
}

/// Everything that changes while drawing: the cell's state and the per-sequence
/// constant input from z. A value the caller owns; the model never mutates it.
#[derive(Debug, Clone)]
pub struct DecoderState {
    pub cell: CellState,
    pub cond: Conditioning,
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
    ) -> Result<Decoder> {
        let cell = Cell::new(vb.pp("cell"), kind, STROKE_WIDTH + z_size, dec_size)?;
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
                let cond = self.cell.condition(STROKE_WIDTH, Some(&z))?;
                Ok(DecoderState { cell, cond })
            }
            (Some(_), None) => Err(Error::invalid_argument(
                "z",
                "a conditional decoder needs a latent vector",
            )),
            (None, _) => Ok(DecoderState {
                cell: self.cell.zero_state(batch)?,
                cond: self.cell.condition(STROKE_WIDTH, None)?,
            }),
        }
    }

    /// Reads `x: [B, 5]` (stroke-5, normalised units) and returns the next state.
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
        Ok(DecoderState {
            cell: self.cell.step(x, &state.cond, &state.cell, dropout)?,
            cond: state.cond.clone(),
        })
    }

    /// Raw mixture outputs `[B, 6M+3]` from hidden states `h: [B, dec]`.
    pub fn mixture_logits(&self, h: &Tensor) -> Result<Tensor> {
        self.output.forward(h)
    }
}

//! The bidirectional LSTM encoder (paper section 3.2, figure 2).
//!
//! The drawing's stroke-5 rows (normalised units, without the start token) are
//! read forwards and backwards; the final hidden states `h→` and `h←` are
//! concatenated into `h`, and
//!
//! ```text
//! μ = W_μ h + b_μ      σ̂ = W_σ h + b_σ      σ = exp(σ̂ / 2)      (equation 2)
//! z = μ + σ ⊙ ε,  ε ~ N(0, I)
//! ```

use candle_core::{Device, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::cell::{Cell, CellKind, Dropout};
use crate::model::linear::Dense;
use crate::stroke::Stroke5;

/// Width of a stroke-5 row.
pub const STROKE_WIDTH: usize = 5;

/// The VAE encoder: two LSTMs and the projections to μ and σ̂.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub forward: Cell,
    pub backward: Cell,
    /// `[2·enc, Nz]`
    pub mu: Dense,
    /// `[2·enc, Nz]`
    pub presig: Dense,
}

impl Encoder {
    pub fn new(vb: VarBuilder, enc_size: usize, z_size: usize) -> Result<Encoder> {
        let small = Init::Randn {
            mean: 0.0,
            stdev: 0.001,
        };
        Ok(Encoder {
            forward: Cell::new(vb.pp("forward"), CellKind::Lstm, STROKE_WIDTH, enc_size)?,
            backward: Cell::new(vb.pp("backward"), CellKind::Lstm, STROKE_WIDTH, enc_size)?,
            mu: Dense::new(
                vb.pp("mu"),
                2 * enc_size,
                z_size,
                small,
                Some(Init::Const(0.0)),
            )?,
            presig: Dense::new(
                vb.pp("presig"),
                2 * enc_size,
                z_size,
                small,
                Some(Init::Const(0.0)),
            )?,
        })
    }

    /// Encodes a batch: `rows` is row-major `[batch, steps, 5]` (normalised units, no
    /// start token), `lengths[b] ≤ steps` the real rows of drawing `b`.
    /// Returns `(μ, σ̂)`, each `[batch, Nz]`.
    pub fn forward(
        &self,
        rows: &[f32],
        steps: usize,
        lengths: &[usize],
        mut dropout: Option<&mut Dropout>,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let batch = lengths.len();
        if rows.len() != batch * steps * STROKE_WIDTH {
            return Err(Error::Shape {
                what: "encoder input".into(),
                expected: vec![batch, steps, STROKE_WIDTH],
                found: vec![rows.len()],
            });
        }
        if let Some(&l) = lengths.iter().find(|&&l| l == 0 || l > steps) {
            return Err(Error::invalid_argument(
                "length",
                format!("{l} is not in 1..={steps}"),
            ));
        }
        // Each direction runs drawing b for its own len_b rows (packed: a plain LSTM
        // skips the padding); its final state is the one after its last row,
        // gathered once at the end (row (len_b − 1)·B + b of the time-major outputs).
        let last: Vec<u32> = lengths
            .iter()
            .enumerate()
            .map(|(b, &len)| ((len - 1) * batch + b) as u32)
            .collect();
        let last = Tensor::from_vec(last, batch, device)?;
        let mut h = Vec::with_capacity(2);
        for (cell, reverse) in [(&self.forward, false), (&self.backward, true)] {
            // Time-major inputs [steps, B, 5]; the backward cell reads each drawing
            // from its last real row, then zeros.
            let mut xs = vec![0f32; steps * batch * STROKE_WIDTH];
            for t in 0..steps {
                for (b, &len) in lengths.iter().enumerate() {
                    let src = if reverse {
                        len.checked_sub(t + 1)
                    } else {
                        (t < len).then_some(t)
                    };
                    if let Some(s) = src {
                        let o = (b * steps + s) * STROKE_WIDTH;
                        let d = (t * batch + b) * STROKE_WIDTH;
                        xs[d..d + STROKE_WIDTH].copy_from_slice(&rows[o..o + STROKE_WIDTH]);
                    }
                }
            }
            let xs = Tensor::from_vec(xs, (steps, batch, STROKE_WIDTH), device)?;
            let cond = cell.condition(STROKE_WIDTH, None)?;
            let state = cell.zero_state(batch)?;
            let hs = cell.sequence(&xs, &cond, &state, dropout.as_deref_mut(), Some(lengths))?;
            let all = hs.reshape((steps * batch, cell.units()))?;
            h.push(all.index_select(&last, 0)?);
        }
        let h = Tensor::cat(&h, 1)?;
        Ok((self.mu.forward(&h)?, self.presig.forward(&h)?))
    }

    /// Encodes one drawing given as stroke-5 rows (normalised units, no start token).
    pub fn encode_one(&self, rows: &[Stroke5], device: &Device) -> Result<(Tensor, Tensor)> {
        if rows.is_empty() {
            return Err(Error::EmptyDrawing("nothing to encode".into()));
        }
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        self.forward(&flat, rows.len(), &[rows.len()], None, device)
    }
}

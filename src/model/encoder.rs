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
//!
//! With `position_input` (not in the paper; `--encoder-position-input`) each
//! direction also reads, beside each row, the sum of the offsets it has read
//! so far including that row, × [`POSITION_INPUT_SCALE`]: the forward cell the
//! pen position after the row relative to the first point, the backward cell
//! the negated sum (the position before the row relative to the last point).
//! Both are sums in reading order, so a plain LSTM could form them itself, as
//! the decoder's position input ([`crate::model::decoder`]); reading them
//! makes the drawing's layout easy to carry into the latent.

use candle_core::{Device, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::cell::{Cell, CellKind, Dropout};
use crate::model::decoder::{POSITION_INPUT_SCALE, POSITION_WIDTH};
use crate::model::linear::Dense;
use crate::stroke::Stroke5;

/// Width of a stroke-5 row.
pub const STROKE_WIDTH: usize = 5;

/// Width of each encoder cell's input row: stroke-5, then the scaled running
/// sum of offsets if `position_input` (the decoder's step width, before z).
pub fn input_width(position_input: bool) -> usize {
    crate::model::decoder::step_width(position_input)
}

/// One drawing's rows (`[len, 5]`, row-major, normalised units) as one
/// direction reads them: in order, or last row first if `reverse`, each
/// followed with `position_input` by the running sum of the offsets read so
/// far including it, × [`POSITION_INPUT_SCALE`], negated when `reverse` (module
/// docs). Returns `[len, input_width(position_input)]`, row-major.
pub fn reading_order(rows: &[f32], reverse: bool, position_input: bool) -> Vec<f32> {
    let width = input_width(position_input);
    let sign = if reverse { -1.0 } else { 1.0 };
    let mut order: Vec<&[f32]> = rows.chunks_exact(STROKE_WIDTH).collect();
    if reverse {
        order.reverse();
    }
    let mut out = Vec::with_capacity(order.len() * width);
    let mut sum = [0f32; POSITION_WIDTH];
    for row in order {
        out.extend_from_slice(row);
        if position_input {
            for (acc, offset) in sum.iter_mut().zip(row) {
                *acc += sign * offset * POSITION_INPUT_SCALE;
            }
            out.extend_from_slice(&sum);
        }
    }
    out
}

/// The VAE encoder: two LSTMs and the projections to μ and σ̂.
#[derive(Debug, Clone)]
pub struct Encoder {
    pub forward: Cell,
    pub backward: Cell,
    /// `[2·enc, Nz]`
    pub mu: Dense,
    /// `[2·enc, Nz]`
    pub presig: Dense,
    /// Whether each cell also reads the running sum of offsets (module docs).
    pub position_input: bool,
}

impl Encoder {
    pub fn new(
        vb: VarBuilder,
        enc_size: usize,
        z_size: usize,
        position_input: bool,
    ) -> Result<Encoder> {
        let width = input_width(position_input);
        let small = Init::Randn {
            mean: 0.0,
            stdev: 0.001,
        };
        Ok(Encoder {
            forward: Cell::new(vb.pp("forward"), CellKind::Lstm, width, enc_size)?,
            backward: Cell::new(vb.pp("backward"), CellKind::Lstm, width, enc_size)?,
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
            position_input,
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
        let width = input_width(self.position_input);
        let mut h = Vec::with_capacity(2);
        for (cell, reverse) in [(&self.forward, false), (&self.backward, true)] {
            // Time-major inputs [steps, B, width]; the backward cell reads each
            // drawing from its last real row, then zeros.
            let mut xs = vec![0f32; steps * batch * width];
            for (b, &len) in lengths.iter().enumerate() {
                let drawing = &rows[b * steps * STROKE_WIDTH..(b * steps + len) * STROKE_WIDTH];
                let read = reading_order(drawing, reverse, self.position_input);
                for (t, row) in read.chunks_exact(width).enumerate() {
                    let d = (t * batch + b) * width;
                    xs[d..d + width].copy_from_slice(row);
                }
            }
            let xs = Tensor::from_vec(xs, (steps, batch, width), device)?;
            let cond = cell.condition(width, None)?;
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

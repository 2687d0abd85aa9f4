//! Widening a trained decoder without changing what it computes (Net2WiderNet,
//! Chen, Goodfellow & Shlens 2016, "Net2Net: Accelerating Learning via Knowledge
//! Transfer", section 2.2), so a larger model can start from a trained smaller one
//! instead of from scratch.
//!
//! Each of the decoder LSTM's `H` units is replicated `k` times, giving `k·H`
//! units: new unit `j` is a copy of old unit `j mod H`. A copy gets the old
//! unit's incoming weights unchanged (its columns of `W_xh`, `W_hh` and the bias,
//! in each of the four gate blocks, and its rows of the latent-to-initial-state
//! projection, for both `c` and `h`), so every copy has the old unit's gates and
//! state at every step. Its outgoing weights (its rows of `W_hh` and of the
//! output layer) are divided by `k`, so the `k` equal copies sum to the old unit's
//! contribution:
//!
//! ```text
//! W'_hh[i', (gate, j')] = W_hh[i' mod H, (gate, j' mod H)] / k
//! W'_out[i', :]        = W_out[i' mod H, :] / k
//! ```
//!
//! The widened model gives the same mixture and pen outputs as the original.
//! Training then breaks the symmetry of the copies: recurrent dropout draws an
//! independent mask for every unit. The encoder and the latent are unchanged.
//!
//! Only the plain LSTM decoder is supported: the HyperLSTM's hyper cell and
//! the layer-norm cells' gains would need their own rules.
//!
//! [`add_position_input`] widens the decoder's input the same way: the new
//! pen-position columns of `x` get zero rows in `W_xh`, so the model computes
//! what it did until training moves them.

use std::collections::HashMap;

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::model::cell::{CellKind, GATES};
use crate::model::decoder::POSITION_WIDTH;
use crate::model::encoder::STROKE_WIDTH;
use crate::model::{HParams, MAX_UNITS};
use crate::weights::ModelFile;

/// Parts of the LSTM state the initial-state projection produces, `[c, h]`.
const STATE_PARTS: usize = 2;

/// `t: [rows, blocks·H]` with each block's `H` columns repeated `k` times:
/// `[rows, blocks·k·H]`, block by block.
fn repeat_units(t: &Tensor, blocks: usize, units: usize, k: usize) -> Result<Tensor> {
    let (rows, cols) = t.dims2()?;
    if cols != blocks * units {
        return Err(Error::Shape {
            what: "tensor to widen".into(),
            expected: vec![rows, blocks * units],
            found: vec![rows, cols],
        });
    }
    let t = t.reshape((rows, blocks, units))?;
    let copies = vec![&t; k];
    Ok(Tensor::cat(&copies, 2)?.reshape((rows, blocks * k * units))?)
}

/// `t: [H, cols]` with its rows repeated `k` times and divided by `k`: `[k·H, cols]`.
fn split_outgoing(t: &Tensor, k: usize) -> Result<Tensor> {
    let copies = vec![t; k];
    Ok((Tensor::cat(&copies, 0)? / k as f64)?)
}

/// The model with its decoder widened from `H` to `factor·H` units, computing the
/// same outputs (up to float rounding). `factor` must be at least 2.
pub fn widen_decoder(model: &ModelFile, factor: usize) -> Result<ModelFile> {
    let hp = &model.info.hparams;
    if hp.cell != CellKind::Lstm {
        return Err(Error::invalid_argument(
            "cell",
            format!("widening needs a plain LSTM decoder, found {:?}", hp.cell),
        ));
    }
    let h = hp.dec_size;
    let wide = factor
        .checked_mul(h)
        .filter(|&w| factor >= 2 && w <= MAX_UNITS);
    let Some(wide) = wide else {
        return Err(Error::invalid_argument(
            "factor",
            format!(
                "must be at least 2 and keep the decoder within {MAX_UNITS} units; found {factor} for {h} units"
            ),
        ));
    };
    let k = factor;
    let mut tensors: HashMap<String, Tensor> = model.tensors.clone();
    let mut set = |name: &str, t: Tensor| {
        tensors.insert(name.to_string(), t);
    };

    // Incoming weights: W_xh [in, 4H] → [in, 4kH]; bias [4H] → [4kH].
    let w_xh = model.tensor("decoder.cell.w_xh")?;
    set("decoder.cell.w_xh", repeat_units(w_xh, GATES, h, k)?);
    let bias = model.tensor("decoder.cell.bias")?.unsqueeze(0)?;
    set(
        "decoder.cell.bias",
        repeat_units(&bias, GATES, h, k)?.squeeze(0)?,
    );
    // Recurrent weights [H, 4H]: incoming columns repeated, outgoing rows split → [kH, 4kH].
    let w_hh = model.tensor("decoder.cell.w_hh")?;
    set(
        "decoder.cell.w_hh",
        split_outgoing(&repeat_units(w_hh, GATES, h, k)?, k)?,
    );
    // Initial state [Nz, 2H] = [c, h] → [Nz, 2kH], for conditional models.
    if hp.conditional() {
        let init = model.tensor("decoder.init.weight")?;
        set(
            "decoder.init.weight",
            repeat_units(init, STATE_PARTS, h, k)?,
        );
        let init_b = model.tensor("decoder.init.bias")?.unsqueeze(0)?;
        set(
            "decoder.init.bias",
            repeat_units(&init_b, STATE_PARTS, h, k)?.squeeze(0)?,
        );
    }
    // Output layer [H, 6M+3]: outgoing rows split → [kH, 6M+3].
    let out = model.tensor("decoder.output.weight")?;
    set("decoder.output.weight", split_outgoing(out, k)?);

    let mut info = model.info.clone();
    info.hparams = HParams {
        dec_size: wide,
        ..hp.clone()
    };
    Ok(ModelFile { info, tensors })
}

/// The model with the pen position input added to its decoder
/// ([`crate::model::decoder`]): `W_xh: [5 + Nz, 4H]` gets [`POSITION_WIDTH`]
/// zero rows after the stroke-5 rows, `[7 + Nz, 4H]`, so it computes exactly
/// what `model` computes. Plain LSTM and layer-norm decoders; the HyperLSTM's
/// hyper cell reads the input too and would need its own rows.
pub fn add_position_input(model: &ModelFile) -> Result<ModelFile> {
    let hp = &model.info.hparams;
    if hp.position_input {
        return Err(Error::invalid_argument(
            "position_input",
            "the model already reads the pen position",
        ));
    }
    if hp.cell == CellKind::Hyper {
        return Err(Error::invalid_argument(
            "cell",
            "adding the pen position input needs a plain or layer-norm LSTM decoder, found Hyper",
        ));
    }
    let w_xh = model.tensor("decoder.cell.w_xh")?;
    let (rows, cols) = w_xh.dims2()?;
    if rows != STROKE_WIDTH + hp.z_size {
        return Err(Error::Shape {
            what: "decoder.cell.w_xh".into(),
            expected: vec![STROKE_WIDTH + hp.z_size, cols],
            found: vec![rows, cols],
        });
    }
    let zeros = Tensor::zeros((POSITION_WIDTH, cols), w_xh.dtype(), w_xh.device())?;
    let stroke = w_xh.narrow(0, 0, STROKE_WIDTH)?;
    let latent = w_xh.narrow(0, STROKE_WIDTH, hp.z_size)?;
    let mut tensors = model.tensors.clone();
    tensors.insert(
        "decoder.cell.w_xh".to_string(),
        Tensor::cat(&[&stroke, &zeros, &latent], 0)?,
    );
    let mut info = model.info.clone();
    info.hparams.position_input = true;
    Ok(ModelFile { info, tensors })
}

/// The same for the encoder ([`crate::model::encoder`]'s `position_input`):
/// both directions' `w_xh` `[5, 4·enc]` gain two zero rows after the stroke-5
/// rows, so the widened model encodes exactly as `model` does. VAEs only.
pub fn add_encoder_position_input(model: &ModelFile) -> Result<ModelFile> {
    let hp = &model.info.hparams;
    if hp.encoder_position_input {
        return Err(Error::invalid_argument(
            "encoder_position_input",
            "the model's encoder already reads the pen position",
        ));
    }
    if !hp.conditional() {
        return Err(Error::invalid_argument(
            "encoder_position_input",
            "the model is decoder-only (unconditional) and has no encoder",
        ));
    }
    let mut tensors = model.tensors.clone();
    for name in ["encoder.forward.w_xh", "encoder.backward.w_xh"] {
        let w_xh = model.tensor(name)?;
        let (rows, cols) = w_xh.dims2()?;
        if rows != STROKE_WIDTH {
            return Err(Error::Shape {
                what: name.into(),
                expected: vec![STROKE_WIDTH, cols],
                found: vec![rows, cols],
            });
        }
        let zeros = Tensor::zeros((POSITION_WIDTH, cols), w_xh.dtype(), w_xh.device())?;
        tensors.insert(name.to_string(), Tensor::cat(&[w_xh, &zeros], 0)?);
    }
    let mut info = model.info.clone();
    info.hparams.encoder_position_input = true;
    Ok(ModelFile { info, tensors })
}

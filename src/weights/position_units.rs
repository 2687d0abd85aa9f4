//! A decoder that reads the pen position (`--position-input`), rewritten as a
//! plain LSTM that computes the position itself, so that formats without the
//! position input (Magenta's JSON) can hold it.
//!
//! The decoder with `position_input` reads, at step t, the stroke-5 row x_t and
//! the scaled pen position P_t = P_{t−1} + s_P · (Δx_t, Δy_t), with s_P =
//! [`POSITION_INPUT_SCALE`] and P_0 = 0 (`model::decoder`). Its gates' input
//! term splits exactly:
//!
//! ```text
//! W_P · P_t = W_P · P_{t−1} + s_P · W_P · (Δx_t, Δy_t)
//! ```
//!
//! The second term is a change of the stroke rows of W_xh. The first needs the
//! previous position in the hidden state: k extra units per axis *integrate*
//! the offsets. Their input, forget and output gates are saturated (bias and
//! pen-state weights of +[`SATURATION`] each, so σ(·) = 1 − 2·10⁻⁹: over 250
//! steps the sum keeps all but 5·10⁻⁷ of itself) and their candidate reads
//! a·Δ with a tiny a, so
//!
//! ```text
//! c_t = c_{t−1} + tanh(a·Δ_t) ≈ (a / s_P) · P_t,    h_t = tanh(c_t) ≈ c_t
//! ```
//!
//! and each of the k units feeds the other units' gates with W_P · s_P / (k·a)
//! (k keeps that weight under [`MAX_UNIT_WEIGHT`], inside Magenta's ±10). The
//! extra units start at zero (zero rows in the latent → initial-state
//! projection) and feed nothing else (zero output rows). What is left is the
//! curvature of tanh: a relative error of about (a·P/s_P)²/3 in the position
//! term, 4.5·10⁻⁴ at 30 normalised units from the start. `mixture_parity` on
//! the rewritten model measures it (`tests/position_units.rs`; `convert`
//! prints it for the exported file).

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::model::HParams;
use crate::model::cell::{CellKind, GATES};
use crate::model::decoder::{POSITION_INPUT_SCALE, POSITION_WIDTH};
use crate::model::encoder::STROKE_WIDTH;
use crate::weights::ModelFile;

/// Pre-activation weight that saturates a gate: σ(20) = 1 − 2.1·10⁻⁹.
pub const SATURATION: f32 = 10.0;
/// The integrating units' candidate weight a on each offset: 4 steps of
/// Magenta's int16 grid (10 / 32767), so the export stores it exactly. Smaller
/// means less tanh curvature and more units (the shipped sheep: 33 per axis).
pub const INTEGRATOR_INPUT_WEIGHT: f32 = (4.0 * 10.0 / 32767.0) as f32;
/// Largest weight one integrating unit passes to the other units' gates,
/// inside Magenta's ±10; more units per axis share a larger position weight.
pub const MAX_UNIT_WEIGHT: f32 = 9.0;

/// Gate order `[i, g, f, o]` (TensorFlow's, `model::cell`).
const GATE_I: usize = 0;
const GATE_G: usize = 1;
const GATE_F: usize = 2;
const GATE_O: usize = 3;
/// Stroke-5 columns after Δx and Δy: the three pen states.
const PEN_COLUMNS: std::ops::Range<usize> = POSITION_WIDTH..STROKE_WIDTH;
/// Parts of the LSTM state the latent → initial-state projection produces, `[c, h]`.
const STATE_PARTS: usize = 2;

/// How a decoder's position input was rewritten.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionUnits {
    /// Integrating units per axis (k); the decoder grew by 2k units.
    pub per_axis: usize,
}

/// `t: [rows, blocks·units]` with `extra: [rows, blocks, e]` appended to each
/// block's columns: `[rows, blocks·(units + e)]` (gate blocks `[i, g, f, o]`,
/// or the initial state's `[c, h]`).
fn append_units(t: &Tensor, blocks: usize, extra: &Tensor) -> Result<Tensor> {
    let (rows, cols) = t.dims2()?;
    let (_, _, e) = extra.dims3()?;
    let units = cols / blocks;
    let t = t.reshape((rows, blocks, units))?;
    Ok(Tensor::cat(&[&t, extra], 2)?.reshape((rows, blocks * (units + e)))?)
}

/// `[rows, GATES, 2k]`: the integrating units' columns of a gate matrix,
/// `value(row, gate)` for every unit of both axes' k (`axis` is `unit / k`).
fn integrator_columns(
    rows: usize,
    k: usize,
    value: impl Fn(usize, usize, usize) -> f32,
) -> Result<Tensor> {
    let units = POSITION_WIDTH * k;
    let mut v = Vec::with_capacity(rows * GATES * units);
    for row in 0..rows {
        for gate in 0..GATES {
            v.extend((0..units).map(|u| value(row, gate, u / k)));
        }
    }
    Ok(Tensor::from_vec(v, (rows, GATES, units), &Device::Cpu)?)
}

/// Returns `file` unchanged if its decoder does not read the pen position;
/// otherwise an equivalent plain-LSTM model (module docs) whose decoder has
/// 2k more units and reads stroke-5 rows (and z) only.
pub fn fold_position_input(file: &ModelFile) -> Result<(ModelFile, Option<PositionUnits>)> {
    let hp = &file.info.hparams;
    if !hp.position_input {
        return Ok((file.clone(), None));
    }
    if hp.cell != CellKind::Lstm {
        return Err(Error::ModelFile(format!(
            "only a plain LSTM decoder's position input can be rewritten, this one is {:?}",
            hp.cell
        )));
    }
    let (d, z) = (hp.dec_size, hp.z_size);
    let w_xh = file.tensor("decoder.cell.w_xh")?.to_dtype(DType::F32)?;
    let expected = vec![STROKE_WIDTH + POSITION_WIDTH + z, GATES * d];
    if w_xh.dims() != expected.as_slice() {
        return Err(Error::Shape {
            what: "decoder.cell.w_xh".into(),
            expected,
            found: w_xh.dims().to_vec(),
        });
    }
    // W_P: the position rows, [2, 4d].
    let w_pos = w_xh.narrow(0, STROKE_WIDTH, POSITION_WIDTH)?;
    let max_pos = w_pos.abs()?.max_all()?.to_scalar::<f32>()?;
    let a = INTEGRATOR_INPUT_WEIGHT;
    // Each unit holds ≈ (a / s_P) · P; k of them pass W_P · s_P / (k·a).
    let gain = POSITION_INPUT_SCALE / a;
    let k = ((max_pos * gain / MAX_UNIT_WEIGHT).ceil() as usize).max(1);
    let units = POSITION_WIDTH * k;
    let as_f32 = |t: &Tensor| t.to_dtype(DType::F32);

    // W_xh: [5 + Nz, 4(d + 2k)]. The stroke rows take this step's move,
    // s_P · W_P · Δ_t; the integrators read a·Δ on their candidate and have
    // their other gates saturated by the pen state.
    let moved = (w_xh.narrow(0, 0, POSITION_WIDTH)? + (&w_pos * POSITION_INPUT_SCALE as f64)?)?;
    let rows = Tensor::cat(
        &[
            &moved,
            &w_xh.narrow(0, POSITION_WIDTH, STROKE_WIDTH - POSITION_WIDTH)?,
            &w_xh.narrow(0, STROKE_WIDTH + POSITION_WIDTH, z)?,
        ],
        0,
    )?;
    let xh = append_units(
        &rows,
        GATES,
        &integrator_columns(STROKE_WIDTH + z, k, |row, gate, axis| match (row, gate) {
            (r, GATE_G) if r == axis => a,
            (r, GATE_I | GATE_F | GATE_O) if PEN_COLUMNS.contains(&r) => SATURATION,
            _ => 0.0,
        })?,
    )?;

    // W_hh: [d + 2k, 4(d + 2k)]. Each integrator feeds the other units' gates
    // with W_P · s_P / (k·a) and nothing of its own.
    let w_hh = as_f32(file.tensor("decoder.cell.w_hh")?)?;
    let mut from_integrators = Vec::with_capacity(units);
    for axis in 0..POSITION_WIDTH {
        for _ in 0..k {
            from_integrators.push(w_pos.narrow(0, axis, 1)?);
        }
    }
    let from_integrators = (Tensor::cat(&from_integrators, 0)? * (gain / k as f32) as f64)?;
    let hh = append_units(
        &Tensor::cat(&[&w_hh, &from_integrators], 0)?,
        GATES,
        &Tensor::zeros((d + units, GATES, units), DType::F32, &Device::Cpu)?,
    )?;

    // Bias: the integrators' i, f, o saturated, their candidate 0.
    let bias = as_f32(file.tensor("decoder.cell.bias")?)?.unsqueeze(0)?;
    let bias = append_units(
        &bias,
        GATES,
        &integrator_columns(
            1,
            k,
            |_, gate, _| {
                if gate == GATE_G { 0.0 } else { SATURATION }
            },
        )?,
    )?
    .squeeze(0)?;

    // Output layer: the integrators' rows zero.
    let w_out = as_f32(file.tensor("decoder.output.weight")?)?;
    let out = Tensor::cat(
        &[
            &w_out,
            &Tensor::zeros((units, w_out.dim(1)?), DType::F32, &Device::Cpu)?,
        ],
        0,
    )?;

    let mut tensors = file.tensors.clone();
    tensors.insert("decoder.cell.w_xh".into(), xh);
    tensors.insert("decoder.cell.w_hh".into(), hh);
    tensors.insert("decoder.cell.bias".into(), bias);
    tensors.insert("decoder.output.weight".into(), out);

    // z → initial state [c, h]: the integrators start at zero.
    if z > 0 {
        let zeros = |rows| Tensor::zeros((rows, STATE_PARTS, units), DType::F32, &Device::Cpu);
        let w_init = as_f32(file.tensor("decoder.init.weight")?)?;
        let b_init = as_f32(file.tensor("decoder.init.bias")?)?.unsqueeze(0)?;
        tensors.insert(
            "decoder.init.weight".into(),
            append_units(&w_init, STATE_PARTS, &zeros(z)?)?,
        );
        tensors.insert(
            "decoder.init.bias".into(),
            append_units(&b_init, STATE_PARTS, &zeros(1)?)?.squeeze(0)?,
        );
    }

    let mut info = file.info.clone();
    info.hparams = HParams {
        dec_size: d + units,
        position_input: false,
        ..hp.clone()
    };
    Ok((
        ModelFile { info, tensors },
        Some(PositionUnits { per_axis: k }),
    ))
}

//! Position inputs (`--position-input`, `--encoder-position-input`) rewritten
//! as plain LSTMs that compute the sums themselves, so that formats whose cells
//! read stroke-5 rows only (Magenta's JSON) can hold such a model.
//!
//! A cell with a position input reads, at step t, its input row x_t (the
//! stroke-5 row, then z for the decoder) and the scaled running sum P_t =
//! P_{t−1} + σ · s_P · (Δx_t, Δy_t), with s_P = [`POSITION_INPUT_SCALE`] and
//! P_0 = 0: the decoder and the encoder's forward cell sum the offsets as read
//! (σ = +1, the pen position, `model::decoder`), the encoder's backward cell,
//! which reads the drawing last row first, sums them negated (σ = −1,
//! `model::encoder::reading_order`). Its gates' input term splits exactly:
//!
//! ```text
//! W_P · P_t = W_P · P_{t−1} + σ · s_P · W_P · (Δx_t, Δy_t)
//! ```
//!
//! The second term is a change of the stroke rows of W_xh. The first needs the
//! previous sum in the hidden state: k extra units per axis *integrate* the
//! offsets. Their input, forget and output gates are saturated (bias and
//! pen-state weights of +[`SATURATION`] each, so σ(·) = 1 − 2·10⁻⁹: over 250
//! steps the sum keeps all but 5·10⁻⁷ of itself) and their candidate reads
//! σ·a·Δ with a tiny a, so
//!
//! ```text
//! c_t = c_{t−1} + tanh(σ·a·Δ_t) ≈ (a / s_P) · P_t,    h_t = tanh(c_t) ≈ c_t
//! ```
//!
//! and each of the k units feeds the other units' gates with W_P · s_P / (k·a)
//! (k keeps that weight under [`MAX_UNIT_WEIGHT`], inside Magenta's ±10). The
//! extra units start at zero (the encoder's start from zero; the decoder's get
//! zero rows in the latent → initial-state projection) and feed nothing else
//! (zero rows in the decoder's output layer and in the encoder's μ and σ̂
//! projections). What is left is the curvature of tanh: a relative error of
//! about (a·P/s_P)²/3 in the position term, 4.5·10⁻⁴ at 30 normalised units
//! from the start. `mixture_parity` and `encoding_parity` on the rewritten model
//! measure it (`tests/position_units.rs`; `convert` prints it for the exported
//! file).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};
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
/// The encoder's two directions, whose final states are concatenated `[h→, h←]`.
const DIRECTIONS: usize = 2;

/// How a model's position inputs were rewritten: integrating units per axis
/// (k) added to each cell, 0 where a cell had no position input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PositionUnits {
    /// The decoder grew by 2k units.
    pub decoder_per_axis: usize,
    /// Each encoder direction grew by 2k units (the same k for both, so they
    /// keep one size).
    pub encoder_per_axis: usize,
}

/// Whether a sum grows with the offsets as read or against them (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SumSign {
    /// The decoder and the encoder's forward cell: the pen position.
    Plus,
    /// The encoder's backward cell: the negated sum, in reading order.
    Minus,
}

impl SumSign {
    fn value(self) -> f32 {
        match self {
            SumSign::Plus => 1.0,
            SumSign::Minus => -1.0,
        }
    }
}

/// One LSTM's weights in TensorFlow layout, f32: `w_xh: [inputs, 4n]`,
/// `w_hh: [n, 4n]`, `bias: [4n]`, gate blocks `[i, g, f, o]`.
struct Lstm {
    w_xh: Tensor,
    w_hh: Tensor,
    bias: Tensor,
}

impl Lstm {
    /// Reads `{prefix}.w_xh`, `{prefix}.w_hh`, `{prefix}.bias`, checking that
    /// W_xh has `inputs` rows and W_hh `units`.
    fn read(file: &ModelFile, prefix: &str, inputs: usize, units: usize) -> Result<Lstm> {
        let get = |part: &str, expected: Vec<usize>| -> Result<Tensor> {
            let name = format!("{prefix}.{part}");
            let t = file.tensor(&name)?.to_dtype(DType::F32)?;
            if t.dims() != expected.as_slice() {
                return Err(Error::Shape {
                    what: name,
                    expected,
                    found: t.dims().to_vec(),
                });
            }
            Ok(t)
        };
        Ok(Lstm {
            w_xh: get("w_xh", vec![inputs, GATES * units])?,
            w_hh: get("w_hh", vec![units, GATES * units])?,
            bias: get("bias", vec![GATES * units])?,
        })
    }

    fn insert(self, tensors: &mut HashMap<String, Tensor>, prefix: &str) {
        tensors.insert(format!("{prefix}.w_xh"), self.w_xh);
        tensors.insert(format!("{prefix}.w_hh"), self.w_hh);
        tensors.insert(format!("{prefix}.bias"), self.bias);
    }

    /// W_P: the position rows, `[2, 4n]`, after the stroke-5 rows.
    fn position_rows(&self) -> Result<Tensor> {
        Ok(self.w_xh.narrow(0, STROKE_WIDTH, POSITION_WIDTH)?)
    }
}

/// Integrating units per axis (k) that carry position rows `w_pos` with no
/// unit passing more than [`MAX_UNIT_WEIGHT`]: each passes `|W_P| · s_P / (k·a)`.
fn units_per_axis(w_pos: &Tensor) -> Result<usize> {
    let max_pos = w_pos.abs()?.max_all()?.to_scalar::<f32>()?;
    let gain = POSITION_INPUT_SCALE / INTEGRATOR_INPUT_WEIGHT;
    Ok(((max_pos * gain / MAX_UNIT_WEIGHT).ceil() as usize).max(1))
}

/// `t: [rows, blocks·units]` with `extra: [rows, blocks, e]` appended to each
/// block's columns: `[rows, blocks·(units + e)]` (gate blocks `[i, g, f, o]`,
/// the initial state's `[c, h]`, or the encoder's directions `[→, ←]`).
fn append_units(t: &Tensor, blocks: usize, extra: &Tensor) -> Result<Tensor> {
    let (rows, cols) = t.dims2()?;
    let (_, _, e) = extra.dims3()?;
    let units = cols / blocks;
    let t = t.reshape((rows, blocks, units))?;
    Ok(Tensor::cat(&[&t, extra], 2)?.reshape((rows, blocks * (units + e)))?)
}

/// `t: [blocks·units, cols]` with `e` zero rows appended to each block of rows:
/// `[blocks·(units + e), cols]`.
fn append_zero_rows(t: &Tensor, blocks: usize, e: usize) -> Result<Tensor> {
    let cols = t.dim(1)?;
    let zeros = Tensor::zeros((cols, blocks, e), DType::F32, &Device::Cpu)?;
    Ok(append_units(&t.t()?.contiguous()?, blocks, &zeros)?
        .t()?
        .contiguous()?)
}

/// `[rows, GATES, 2k]`: the integrating units' columns of a gate matrix,
/// `value(row, gate, axis)` for every unit of both axes' k (`axis` is `unit / k`).
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

/// Rewrites an LSTM of n units whose input rows are `[stroke 5, position 2,
/// rest]` and whose position input sums `sign · s_P · Δ`, as one of n + 2k
/// units reading `[stroke 5, rest]` (module docs). The integrating units are
/// the last 2k of each gate block: k for Δx, then k for Δy.
fn fold_cell(cell: &Lstm, sign: SumSign, k: usize) -> Result<Lstm> {
    let (inputs, gate_cols) = cell.w_xh.dims2()?;
    let n = gate_cols / GATES;
    let rest = inputs - STROKE_WIDTH - POSITION_WIDTH;
    let w_pos = cell.position_rows()?;
    let a = INTEGRATOR_INPUT_WEIGHT;
    let s = sign.value();
    let units = POSITION_WIDTH * k;

    // W_xh: [5 + rest, 4(n + 2k)]. The stroke rows take this step's move,
    // σ · s_P · W_P · Δ_t; the integrators read σ·a·Δ on their candidate and
    // have their other gates saturated by the pen state.
    let moved =
        (cell.w_xh.narrow(0, 0, POSITION_WIDTH)? + (&w_pos * (s * POSITION_INPUT_SCALE) as f64)?)?;
    let rows = Tensor::cat(
        &[
            &moved,
            &cell
                .w_xh
                .narrow(0, POSITION_WIDTH, STROKE_WIDTH - POSITION_WIDTH)?,
            &cell.w_xh.narrow(0, STROKE_WIDTH + POSITION_WIDTH, rest)?,
        ],
        0,
    )?;
    let w_xh = append_units(
        &rows,
        GATES,
        &integrator_columns(STROKE_WIDTH + rest, k, |row, gate, axis| {
            match (row, gate) {
                (r, GATE_G) if r == axis => s * a,
                (r, GATE_I | GATE_F | GATE_O) if PEN_COLUMNS.contains(&r) => SATURATION,
                _ => 0.0,
            }
        })?,
    )?;

    // W_hh: [n + 2k, 4(n + 2k)]. Each integrator feeds the other units' gates
    // with W_P · s_P / (k·a) and nothing of its own.
    let mut from_integrators = Vec::with_capacity(units);
    for axis in 0..POSITION_WIDTH {
        for _ in 0..k {
            from_integrators.push(w_pos.narrow(0, axis, 1)?);
        }
    }
    let gain = POSITION_INPUT_SCALE / a;
    let from_integrators = (Tensor::cat(&from_integrators, 0)? * (gain / k as f32) as f64)?;
    let w_hh = append_units(
        &Tensor::cat(&[&cell.w_hh, &from_integrators], 0)?,
        GATES,
        &Tensor::zeros((n + units, GATES, units), DType::F32, &Device::Cpu)?,
    )?;

    // Bias: the integrators' i, f, o saturated, their candidate 0.
    let bias = append_units(
        &cell.bias.unsqueeze(0)?,
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
    Ok(Lstm { w_xh, w_hh, bias })
}

/// Returns `file` unchanged (and zero units) if neither its decoder nor its
/// encoder reads a position input; otherwise an equivalent plain-LSTM model
/// (module docs) whose cells have 2k more units each and read stroke-5 rows
/// (and z) only.
pub fn fold_position_input(file: &ModelFile) -> Result<(ModelFile, PositionUnits)> {
    let hp = &file.info.hparams;
    let mut units = PositionUnits::default();
    if !hp.position_input && !hp.encoder_position_input {
        return Ok((file.clone(), units));
    }
    let mut tensors = file.tensors.clone();
    let mut folded = hp.clone();
    if hp.position_input {
        let k = fold_decoder(file, &mut tensors)?;
        units.decoder_per_axis = k;
        folded.dec_size += POSITION_WIDTH * k;
        folded.position_input = false;
    }
    if hp.encoder_position_input {
        let k = fold_encoder(file, &mut tensors)?;
        units.encoder_per_axis = k;
        folded.enc_size += POSITION_WIDTH * k;
        folded.encoder_position_input = false;
    }
    let mut info = file.info.clone();
    info.hparams = folded;
    Ok((ModelFile { info, tensors }, units))
}

/// Folds the decoder's position input into `tensors`; returns k.
fn fold_decoder(file: &ModelFile, tensors: &mut HashMap<String, Tensor>) -> Result<usize> {
    let hp = &file.info.hparams;
    if hp.cell != CellKind::Lstm {
        return Err(Error::ModelFile(format!(
            "only a plain LSTM decoder's position input can be rewritten, this one is {:?}",
            hp.cell
        )));
    }
    let (d, z) = (hp.dec_size, hp.z_size);
    let cell = Lstm::read(file, "decoder.cell", STROKE_WIDTH + POSITION_WIDTH + z, d)?;
    let k = units_per_axis(&cell.position_rows()?)?;
    let units = POSITION_WIDTH * k;
    fold_cell(&cell, SumSign::Plus, k)?.insert(tensors, "decoder.cell");

    // Output layer: the integrators' rows zero.
    let w_out = file.tensor("decoder.output.weight")?.to_dtype(DType::F32)?;
    tensors.insert(
        "decoder.output.weight".into(),
        append_zero_rows(&w_out, 1, units)?,
    );

    // z → initial state [c, h]: the integrators start at zero.
    if z > 0 {
        let zeros = |rows| Tensor::zeros((rows, STATE_PARTS, units), DType::F32, &Device::Cpu);
        let w_init = file.tensor("decoder.init.weight")?.to_dtype(DType::F32)?;
        let b_init = file
            .tensor("decoder.init.bias")?
            .to_dtype(DType::F32)?
            .unsqueeze(0)?;
        tensors.insert(
            "decoder.init.weight".into(),
            append_units(&w_init, STATE_PARTS, &zeros(z)?)?,
        );
        tensors.insert(
            "decoder.init.bias".into(),
            append_units(&b_init, STATE_PARTS, &zeros(1)?)?.squeeze(0)?,
        );
    }
    Ok(k)
}

/// Folds both encoder directions' position inputs into `tensors` with one k
/// (the larger either needs), so both keep one size; returns k.
fn fold_encoder(file: &ModelFile, tensors: &mut HashMap<String, Tensor>) -> Result<usize> {
    let e = file.info.hparams.enc_size;
    let inputs = STROKE_WIDTH + POSITION_WIDTH;
    let forward = Lstm::read(file, "encoder.forward", inputs, e)?;
    let backward = Lstm::read(file, "encoder.backward", inputs, e)?;
    let k =
        units_per_axis(&forward.position_rows()?)?.max(units_per_axis(&backward.position_rows()?)?);
    fold_cell(&forward, SumSign::Plus, k)?.insert(tensors, "encoder.forward");
    fold_cell(&backward, SumSign::Minus, k)?.insert(tensors, "encoder.backward");
    // μ and σ̂ read [h→, h←], [2e, Nz]: the integrators' rows zero.
    for name in ["encoder.mu.weight", "encoder.presig.weight"] {
        let w = file.tensor(name)?.to_dtype(DType::F32)?;
        tensors.insert(
            name.into(),
            append_zero_rows(&w, DIRECTIONS, POSITION_WIDTH * k)?,
        );
    }
    Ok(k)
}

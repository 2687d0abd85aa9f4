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

use candle_core::{Device, Tensor};

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
const PEN_COLUMNS: std::ops::Range<usize> = 2..STROKE_WIDTH;

/// How a decoder's position input was rewritten.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionUnits {
    /// Integrating units per axis (k); the decoder grew by 2k units.
    pub per_axis: usize,
}

fn values2(t: &Tensor, name: &str) -> Result<(Vec<f32>, usize, usize)> {
    let (r, c) = t.dims2().map_err(|_| {
        Error::ModelFile(format!(
            "tensor '{name}' should be a matrix, found shape {:?}",
            t.dims()
        ))
    })?;
    Ok((t.flatten_all()?.to_vec1::<f32>()?, r, c))
}

fn tensor<'a>(file: &'a ModelFile, name: &str) -> Result<&'a Tensor> {
    file.tensors
        .get(name)
        .ok_or_else(|| Error::ModelFile(format!("the model has no tensor '{name}'")))
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
    let d = hp.dec_size;
    let z = hp.z_size;
    let (w_xh, in_rows, cols) = values2(tensor(file, "decoder.cell.w_xh")?, "decoder.cell.w_xh")?;
    let expected_rows = STROKE_WIDTH + POSITION_WIDTH + z;
    if in_rows != expected_rows || cols != GATES * d {
        return Err(Error::Shape {
            what: "decoder.cell.w_xh".into(),
            expected: vec![expected_rows, GATES * d],
            found: vec![in_rows, cols],
        });
    }
    // W_P: the position rows, [2, 4d].
    let w_pos = &w_xh[STROKE_WIDTH * cols..(STROKE_WIDTH + POSITION_WIDTH) * cols];
    let max_pos = w_pos.iter().fold(0f32, |m, v| m.max(v.abs()));
    let a = INTEGRATOR_INPUT_WEIGHT;
    // Each unit holds ≈ (a / s_P) · P; k of them pass W_P · s_P / (k·a).
    let gain = POSITION_INPUT_SCALE / a;
    let k = ((max_pos * gain / MAX_UNIT_WEIGHT).ceil() as usize).max(1);
    let unit_weight = gain / k as f32;
    let d2 = d + POSITION_WIDTH * k;
    let col = |gate: usize, unit: usize| gate * d2 + unit;
    let integrator = |axis: usize, m: usize| d + axis * k + m;

    // W_xh: [5 + Nz, 4·d2].
    let new_in = STROKE_WIDTH + z;
    let mut xh = vec![0f32; new_in * GATES * d2];
    for r in 0..new_in {
        let src = if r < STROKE_WIDTH {
            r
        } else {
            r + POSITION_WIDTH
        };
        for gate in 0..GATES {
            for u in 0..d {
                let old = gate * d + u;
                let mut v = w_xh[src * cols + old];
                if r < POSITION_WIDTH {
                    // s_P · W_P · Δ_t: this step's move
                    v += POSITION_INPUT_SCALE * w_pos[r * cols + old];
                }
                xh[r * GATES * d2 + col(gate, u)] = v;
            }
        }
    }
    for axis in 0..POSITION_WIDTH {
        for m in 0..k {
            let u = integrator(axis, m);
            xh[axis * GATES * d2 + col(GATE_G, u)] = a;
            for pen in PEN_COLUMNS {
                for gate in [GATE_I, GATE_F, GATE_O] {
                    xh[pen * GATES * d2 + col(gate, u)] = SATURATION;
                }
            }
        }
    }

    // W_hh: [d2, 4·d2].
    let (w_hh, _, _) = values2(tensor(file, "decoder.cell.w_hh")?, "decoder.cell.w_hh")?;
    let mut hh = vec![0f32; d2 * GATES * d2];
    for r in 0..d {
        for gate in 0..GATES {
            for u in 0..d {
                hh[r * GATES * d2 + col(gate, u)] = w_hh[r * cols + gate * d + u];
            }
        }
    }
    for axis in 0..POSITION_WIDTH {
        for m in 0..k {
            let r = integrator(axis, m);
            for gate in 0..GATES {
                for u in 0..d {
                    hh[r * GATES * d2 + col(gate, u)] =
                        unit_weight * w_pos[axis * cols + gate * d + u];
                }
            }
        }
    }

    // Bias: [4·d2].
    let bias = tensor(file, "decoder.cell.bias")?.to_vec1::<f32>()?;
    let mut b = vec![0f32; GATES * d2];
    for gate in 0..GATES {
        for u in 0..d {
            b[col(gate, u)] = bias[gate * d + u];
        }
        if gate != GATE_G {
            for u in d..d2 {
                b[col(gate, u)] = SATURATION;
            }
        }
    }

    // Output layer: [d2, out], the integrators' rows zero.
    let (w_out, _, out) = values2(
        tensor(file, "decoder.output.weight")?,
        "decoder.output.weight",
    )?;
    let mut o = vec![0f32; d2 * out];
    o[..d * out].copy_from_slice(&w_out[..d * out]);

    let dev = Device::Cpu;
    let mut tensors = file.tensors.clone();
    tensors.insert(
        "decoder.cell.w_xh".into(),
        Tensor::from_vec(xh, (new_in, GATES * d2), &dev)?,
    );
    tensors.insert(
        "decoder.cell.w_hh".into(),
        Tensor::from_vec(hh, (d2, GATES * d2), &dev)?,
    );
    tensors.insert(
        "decoder.cell.bias".into(),
        Tensor::from_vec(b, GATES * d2, &dev)?,
    );
    tensors.insert(
        "decoder.output.weight".into(),
        Tensor::from_vec(o, (d2, out), &dev)?,
    );

    // z → initial state [c, h]: [Nz, 2·d2], the integrators' columns zero.
    if z > 0 {
        let (w_init, _, init_cols) =
            values2(tensor(file, "decoder.init.weight")?, "decoder.init.weight")?;
        let b_init = tensor(file, "decoder.init.bias")?.to_vec1::<f32>()?;
        if init_cols != 2 * d || b_init.len() != 2 * d {
            return Err(Error::Shape {
                what: "decoder.init.weight".into(),
                expected: vec![z, 2 * d],
                found: vec![z, init_cols],
            });
        }
        let widen = |row: &[f32]| {
            let mut v = vec![0f32; 2 * d2];
            v[..d].copy_from_slice(&row[..d]);
            v[d2..d2 + d].copy_from_slice(&row[d..2 * d]);
            v
        };
        let wi: Vec<f32> = w_init.chunks(2 * d).flat_map(widen).collect();
        tensors.insert(
            "decoder.init.weight".into(),
            Tensor::from_vec(wi, (z, 2 * d2), &dev)?,
        );
        tensors.insert(
            "decoder.init.bias".into(),
            Tensor::from_vec(widen(&b_init), 2 * d2, &dev)?,
        );
    }

    let mut info = file.info.clone();
    info.hparams = HParams {
        dec_size: d2,
        position_input: false,
        ..hp.clone()
    };
    Ok((
        ModelFile { info, tensors },
        Some(PositionUnits { per_axis: k }),
    ))
}

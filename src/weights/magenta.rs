//! Magenta's sketch-rnn-js model JSON: `[info, shapes, weights]`.
//!
//! * `info`: `mode` (0 or 1 or `"vae"`: VAE; 2 or `"gen"`: decoder only),
//!   `version`, `name`, `scale_factor`, `max_seq_len`.
//! * `shapes`: one shape per weight blob.
//! * `weights`: base64 of little-endian int16 `q`; the value is
//!   `q / 32767 · MAGENTA_MAX_WEIGHT`, computed in f64 and rounded to f32 once
//!   (as `@magenta/sketch` does).
//!
//! Blob order, all in TensorFlow layout (`x·W`): decoder-only models carry
//! `[output W, output b, W_xh, W_hh, bias]`; VAEs carry 17 blobs: encoder
//! forward `W_xh, W_hh, b`, encoder backward `W_xh, W_hh, b`, `μ` W and b,
//! `σ̂` W and b, z→initial-state W and b, then the decoder's five as above.
//! The LSTM is the plain TensorFlow cell (gates `i, g, f, o`, forget bias 1),
//! its state laid out `[c, h]`.

use std::collections::HashMap;

use base64::Engine;
use candle_core::{Device, Tensor};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result, check_size};
use crate::model::cell::{CellKind, GATES};
use crate::model::mixture::output_size;
use crate::model::{HParams, MAX_UNITS, NUM_MIXTURES};
use crate::weights::position_units::fold_position_input;
use crate::weights::{ModelFile, ModelInfo};

/// Magenta stores weights as int16 scaled to ±this value.
pub const MAGENTA_MAX_WEIGHT: f64 = 10.0;
/// The int16 value that stands for [`MAGENTA_MAX_WEIGHT`].
pub const MAGENTA_INT16_SCALE: f64 = 32767.0;
/// Files older than this version apply tanh to z.
pub const MAGENTA_TANH_Z_BEFORE_VERSION: i64 = 6;
/// The version we write.
pub const MAGENTA_EXPORT_VERSION: i64 = 6;
/// Blobs in a decoder-only file.
pub const GEN_BLOBS: usize = 5;
/// Blobs in a VAE file.
pub const VAE_BLOBS: usize = 17;
/// Largest Magenta JSON file we parse (the 512-unit VAEs are ~10 MB).
pub const MAX_MAGENTA_JSON_BYTES: usize = 256 << 20;
/// The stroke-5 input width.
const STROKE_WIDTH: usize = 5;

fn err(msg: impl Into<String>) -> Error {
    Error::Magenta(msg.into())
}

/// Our tensor names, in Magenta's blob order.
fn blob_names(conditional: bool) -> Vec<&'static str> {
    let dec = [
        "decoder.output.weight",
        "decoder.output.bias",
        "decoder.cell.w_xh",
        "decoder.cell.w_hh",
        "decoder.cell.bias",
    ];
    if conditional {
        let mut v = vec![
            "encoder.forward.w_xh",
            "encoder.forward.w_hh",
            "encoder.forward.bias",
            "encoder.backward.w_xh",
            "encoder.backward.w_hh",
            "encoder.backward.bias",
            "encoder.mu.weight",
            "encoder.mu.bias",
            "encoder.presig.weight",
            "encoder.presig.bias",
            "decoder.init.weight",
            "decoder.init.bias",
        ];
        v.extend(dec);
        v
    } else {
        dec.to_vec()
    }
}

/// The shapes the architecture needs, in blob order.
fn expected_shapes(hp: &HParams) -> Vec<Vec<usize>> {
    let (e, d, z) = (hp.enc_size, hp.dec_size, hp.z_size);
    let dec = vec![
        vec![d, output_size(hp.num_mixtures)],
        vec![output_size(hp.num_mixtures)],
        vec![STROKE_WIDTH + z, GATES * d],
        vec![d, GATES * d],
        vec![GATES * d],
    ];
    if hp.conditional() {
        let mut v = vec![
            vec![STROKE_WIDTH, GATES * e],
            vec![e, GATES * e],
            vec![GATES * e],
            vec![STROKE_WIDTH, GATES * e],
            vec![e, GATES * e],
            vec![GATES * e],
            vec![2 * e, z],
            vec![z],
            vec![2 * e, z],
            vec![z],
            vec![z, 2 * d],
            vec![2 * d],
        ];
        v.extend(dec);
        v
    } else {
        dec
    }
}

fn shape_of(v: &Value, i: usize) -> Result<Vec<usize>> {
    let arr = v
        .as_array()
        .ok_or_else(|| err(format!("shape {i} is not an array")))?;
    arr.iter()
        .map(|d| {
            d.as_u64()
                .map(|n| n as usize)
                .filter(|&n| (1..=MAX_UNITS * GATES).contains(&n))
                .ok_or_else(|| {
                    err(format!(
                        "shape {i} has a dimension that is not in 1..={}: {d}",
                        MAX_UNITS * GATES
                    ))
                })
        })
        .collect()
}

/// Reads a Magenta model JSON file.
pub fn read(bytes: &[u8]) -> Result<ModelFile> {
    check_size("Magenta JSON", bytes.len(), MAX_MAGENTA_JSON_BYTES)?;
    let root: Value =
        serde_json::from_slice(bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
    let [info, shapes, blobs] = root
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| err("expected a top-level array [info, shapes, weights]"))?
    else {
        return Err(err(
            "expected a top-level array of 3 items [info, shapes, weights]",
        ));
    };
    let mode = &info["mode"];
    let conditional = match (mode.as_i64(), mode.as_str()) {
        (Some(0 | 1), _) | (_, Some("vae")) => true,
        (Some(2), _) | (_, Some("gen")) => false,
        _ => {
            return Err(err(format!(
                "info.mode must be 0, 1, 2, \"vae\" or \"gen\", found {mode}"
            )));
        }
    };
    let version = info["version"].as_i64().unwrap_or(MAGENTA_EXPORT_VERSION);
    let scale_factor = info["scale_factor"]
        .as_f64()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| err("info.scale_factor must be a positive number"))?
        as f32;
    let max_seq_len = info["max_seq_len"].as_u64().unwrap_or(250) as usize;
    let name = info["name"].as_str().unwrap_or("magenta").to_string();
    let shapes = shapes
        .as_array()
        .ok_or_else(|| err("shapes must be an array"))?;
    let blobs = blobs
        .as_array()
        .ok_or_else(|| err("weights must be an array"))?;
    let want = if conditional { VAE_BLOBS } else { GEN_BLOBS };
    if shapes.len() != want || blobs.len() != want {
        return Err(err(format!(
            "a {} model has {want} weight blobs, found {} shapes and {} blobs",
            if conditional { "VAE" } else { "decoder-only" },
            shapes.len(),
            blobs.len()
        )));
    }
    let shapes: Vec<Vec<usize>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| shape_of(s, i))
        .collect::<Result<_>>()?;
    // Sizes from the decoder's W_hh [dec, 4·dec] and, for VAEs, the encoder and μ.
    let off = if conditional { 12 } else { 0 };
    let dec_size = shapes[off + 3][0];
    let out = shapes[off][1];
    let num_mixtures = out.saturating_sub(3) / 6;
    let (enc_size, z_size) = if conditional {
        (shapes[1][0], shapes[6].get(1).copied().unwrap_or(0))
    } else {
        (0, 0)
    };
    let hparams = HParams {
        enc_size,
        dec_size,
        z_size,
        num_mixtures,
        cell: CellKind::Lstm,
        recurrent_dropout_keep: 1.0,
        latent_tanh: conditional && version < MAGENTA_TANH_Z_BEFORE_VERSION,
        position_input: false,
        encoder_position_input: false,
    };
    hparams.validate().map_err(|e| err(e.to_string()))?;
    for (i, (found, expected)) in shapes.iter().zip(expected_shapes(&hparams)).enumerate() {
        if *found != expected {
            return Err(Error::Shape {
                what: format!("Magenta blob {i} ({})", blob_names(conditional)[i]),
                expected,
                found: found.clone(),
            });
        }
    }
    let mut tensors = HashMap::new();
    for (i, ((blob, shape), name)) in blobs
        .iter()
        .zip(&shapes)
        .zip(blob_names(conditional))
        .enumerate()
    {
        let text = blob
            .as_str()
            .ok_or_else(|| err(format!("weight blob {i} is not a string")))?;
        let count: usize = shape.iter().product();
        // base64 length is checked before decoding so a huge blob cannot allocate.
        check_size(
            &format!("weight blob {i}"),
            text.len(),
            (count * 2).div_ceil(3) * 4 + 4,
        )?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| err(format!("weight blob {i} is not base64: {e}")))?;
        if raw.len() != count * 2 {
            return Err(err(format!(
                "weight blob {i} ({name}) holds {} int16 values, its shape {shape:?} needs {count}",
                raw.len() / 2
            )));
        }
        let values: Vec<f32> = raw
            .chunks_exact(2)
            .map(|b| {
                (i16::from_le_bytes([b[0], b[1]]) as f64 / MAGENTA_INT16_SCALE * MAGENTA_MAX_WEIGHT)
                    as f32
            })
            .collect();
        tensors.insert(
            name.to_string(),
            Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?,
        );
    }
    Ok(ModelFile {
        info: ModelInfo {
            name,
            scale_factor,
            max_seq_len,
            hparams,
            typical_size_px: None,
            latent_prior: None,
            encoder_prefix: 0.0,
        },
        tensors,
    })
}

/// What an export to Magenta JSON had to change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    /// Weights outside ±[`MAGENTA_MAX_WEIGHT`], clipped to fit the format.
    pub clipped: usize,
    /// Largest absolute difference between a weight and its int16 encoding.
    pub max_quantisation_error: f32,
    /// For a decoder that read the pen position: the units per axis added to
    /// sum it ([`crate::weights::position_units`]); 0 otherwise.
    pub position_units_per_axis: usize,
    /// For an encoder that read the running sums: the units per axis added to
    /// each direction to sum them; 0 otherwise.
    pub encoder_position_units_per_axis: usize,
}

/// Writes a model as Magenta JSON so it runs in Magenta's JavaScript libraries.
/// Only plain-LSTM decoders have a Magenta format.
pub fn write(file: &ModelFile) -> Result<(Vec<u8>, ExportReport)> {
    let hp = &file.info.hparams;
    if hp.cell != CellKind::Lstm {
        return Err(err(format!(
            "Magenta's format holds plain LSTM decoders only, this model uses {:?}",
            hp.cell
        )));
    }
    if hp.num_mixtures != NUM_MIXTURES {
        return Err(err(format!(
            "Magenta's libraries expect {NUM_MIXTURES} mixtures, this model has {}",
            hp.num_mixtures
        )));
    }
    // Magenta's cells read stroke-5 rows only: a decoder or encoder that also
    // reads the pen position is rewritten to sum it in extra units.
    let (folded, position_units) = fold_position_input(file)?;
    let file = &folded;
    let conditional = hp.conditional();
    let mut report = ExportReport {
        clipped: 0,
        max_quantisation_error: 0.0,
        position_units_per_axis: position_units.decoder_per_axis,
        encoder_position_units_per_axis: position_units.encoder_per_axis,
    };
    let mut shapes = Vec::new();
    let mut blobs = Vec::new();
    for name in blob_names(conditional) {
        let t = file
            .tensors
            .get(name)
            .ok_or_else(|| err(format!("the model has no tensor '{name}'")))?;
        shapes.push(t.dims().to_vec());
        let values = t.flatten_all()?.to_vec1::<f32>()?;
        let mut raw = Vec::with_capacity(values.len() * 2);
        for v in values {
            let q = (v as f64 / MAGENTA_MAX_WEIGHT * MAGENTA_INT16_SCALE).round();
            let qc = q.clamp(-MAGENTA_INT16_SCALE, MAGENTA_INT16_SCALE);
            if qc != q {
                report.clipped += 1;
            }
            let back = (qc / MAGENTA_INT16_SCALE * MAGENTA_MAX_WEIGHT) as f32;
            report.max_quantisation_error = report.max_quantisation_error.max((back - v).abs());
            raw.extend_from_slice(&(qc as i16).to_le_bytes());
        }
        blobs.push(base64::engine::general_purpose::STANDARD.encode(raw));
    }
    let info = serde_json::json!({
        "mode": if conditional { 0 } else { 2 },
        "version": MAGENTA_EXPORT_VERSION,
        "name": file.info.name,
        "scale_factor": file.info.scale_factor,
        "max_seq_len": file.info.max_seq_len,
    });
    let json = serde_json::to_vec(&serde_json::json!([info, shapes, blobs]))
        .map_err(|e| err(e.to_string()))?;
    Ok((json, report))
}

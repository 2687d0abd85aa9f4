//! Our model format: one `.safetensors` file. Tensors are named by module path
//! (`decoder.cell.w_xh`, ...); the metadata holds [`FORMAT_KEY`] =
//! [`FORMAT_NAME`], [`VERSION_KEY`] = [`FORMAT_VERSION`], and the JSON of
//! [`ModelInfo`] (hyperparameters, scale factor, max_seq_len, name) under
//! [`INFO_KEY`].
//!
//! Weights are f32 (format version 1), or, for a smaller download, quantised
//! (format version 2, [`QUANTIZATION_KEY`] in the metadata): `f16`, or `int8`
//! with one f32 scale per output unit of each matrix (per row of the usual
//! `[out, in]` layout, a column of our TensorFlow `[in, out]` one:
//! `w ≈ q · scale`, `q` in −127..=127, scales stored as `<name>` +
//! [`SCALE_SUFFIX`]); vectors stay f32.
//! The loader turns every weight back into f32.

use std::collections::HashMap;

use candle_core::{DType, Device};
use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};
use crate::weights::{ModelFile, ModelInfo};

pub const FORMAT_KEY: &str = "format";
pub const FORMAT_NAME: &str = "sketch-rnn";
pub const VERSION_KEY: &str = "format_version";
/// The version of f32 files.
pub const FORMAT_VERSION: &str = "1";
/// The version of quantised files (this code reads both).
pub const FORMAT_VERSION_QUANTIZED: &str = "2";
/// Metadata key naming the quantisation of a version-2 file.
pub const QUANTIZATION_KEY: &str = "quantization";
/// Suffix of the per-row scale tensor of an int8 matrix.
pub const SCALE_SUFFIX: &str = ".scale";
/// Largest magnitude of an int8 weight (symmetric range).
pub const INT8_MAX: f32 = 127.0;

/// How weights are stored in our file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    /// 4 bytes per weight, exact.
    F32,
    /// 2 bytes per weight (IEEE half precision).
    F16,
    /// 1 byte per matrix weight plus one f32 scale per output unit.
    Int8,
}

impl Quantization {
    fn name(self) -> &'static str {
        match self {
            Quantization::F32 => "f32",
            Quantization::F16 => "f16",
            Quantization::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for Quantization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Quantization> {
        match s {
            "f32" => Ok(Quantization::F32),
            "f16" => Ok(Quantization::F16),
            "int8" => Ok(Quantization::Int8),
            other => Err(Error::invalid_argument(
                "quantize",
                format!("expected f32, f16 or int8, found '{other}'"),
            )),
        }
    }
}
pub const INFO_KEY: &str = "model_info";

fn err(msg: impl Into<String>) -> Error {
    Error::ModelFile(msg.into())
}

/// Reads our `.safetensors` model file.
pub fn read(bytes: &[u8]) -> Result<ModelFile> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_NAME) {
        return Err(err(format!(
            "metadata '{FORMAT_KEY}' is not '{FORMAT_NAME}': not a sketch-rnn model"
        )));
    }
    let version = meta.get(VERSION_KEY).map(String::as_str).unwrap_or("?");
    if version != FORMAT_VERSION && version != FORMAT_VERSION_QUANTIZED {
        return Err(err(format!(
            "format version {version}, this build reads versions {FORMAT_VERSION} and {FORMAT_VERSION_QUANTIZED}"
        )));
    }
    let info: ModelInfo = serde_json::from_str(
        meta.get(INFO_KEY)
            .ok_or_else(|| err(format!("no '{INFO_KEY}' metadata")))?,
    )
    .map_err(|e| err(format!("metadata '{INFO_KEY}': {e}")))?;
    info.hparams.validate()?;
    if !(info.scale_factor.is_finite() && info.scale_factor > 0.0) {
        return Err(err(format!(
            "scale_factor must be > 0, found {}",
            info.scale_factor
        )));
    }
    Ok(ModelFile {
        info,
        tensors: read_tensors(bytes)?,
    })
}

/// Little-endian values of a tensor view as f32.
fn view_f32(name: &str, view: &TensorView) -> Result<Vec<f32>> {
    let data = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
        other => {
            return Err(err(format!(
                "tensor '{name}' has dtype {other:?}; expected F32, F16 or I8"
            )));
        }
    })
}

/// Every weight as an f32 tensor, int8 matrices multiplied by their row scales.
fn read_tensors(bytes: &[u8]) -> Result<HashMap<String, candle_core::Tensor>> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        if name.ends_with(SCALE_SUFFIX) {
            continue;
        }
        let mut values = view_f32(&name, &view)?;
        let shape = view.shape().to_vec();
        if view.dtype() == Dtype::I8 {
            let scale_name = format!("{name}{SCALE_SUFFIX}");
            let scales = st
                .tensor(&scale_name)
                .map_err(|_| err(format!("int8 tensor '{name}' has no '{scale_name}'")))?;
            let scales = view_f32(&scale_name, &scales)?;
            if shape.len() != 2 || scales.len() != shape[1] {
                return Err(err(format!(
                    "int8 tensor '{name}' {shape:?} needs one scale per output unit (column), found {}",
                    scales.len()
                )));
            }
            for row in values.chunks_mut(shape[1].max(1)) {
                for (v, scale) in row.iter_mut().zip(&scales) {
                    *v *= scale;
                }
            }
        }
        let t = candle_core::Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)
            .map_err(|e| err(format!("tensor '{name}': {e}")))?;
        out.insert(name, t);
    }
    Ok(out)
}

/// Writes a model as our `.safetensors` file with f32 weights.
pub fn write(file: &ModelFile) -> Result<Vec<u8>> {
    Ok(write_quantized(file, Quantization::F32)?.0)
}

/// Writes a model with its weights stored as `q`; also returns the largest
/// absolute change of any weight.
pub fn write_quantized(file: &ModelFile, q: Quantization) -> Result<(Vec<u8>, f32)> {
    let mut names: Vec<&String> = file.tensors.keys().collect();
    names.sort();
    let mut data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(names.len());
    let mut max_error = 0f32;
    for name in &names {
        let t = &file.tensors[*name];
        let shape = t.dims().to_vec();
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        match (q, shape.as_slice()) {
            (Quantization::F16, _) => {
                let mut bytes = Vec::with_capacity(values.len() * 2);
                for &v in &values {
                    let h = half::f16::from_f32(v);
                    max_error = max_error.max((h.to_f32() - v).abs());
                    bytes.extend_from_slice(&h.to_le_bytes());
                }
                data.push(((*name).clone(), Dtype::F16, shape, bytes));
            }
            (Quantization::Int8, &[rows, cols]) if rows > 0 && cols > 0 => {
                // One scale per output unit: a column of our [in, out] layout
                // (a row of the usual [out, in] one).
                let mut amax = vec![0f32; cols];
                for row in values.chunks(cols) {
                    for (m, v) in amax.iter_mut().zip(row) {
                        *m = m.max(v.abs());
                    }
                }
                let scale: Vec<f32> = amax
                    .iter()
                    .map(|&a| if a > 0.0 { a / INT8_MAX } else { 1.0 })
                    .collect();
                let mut bytes = Vec::with_capacity(values.len());
                for row in values.chunks(cols) {
                    for (&v, &sc) in row.iter().zip(&scale) {
                        let qv = (v / sc).round().clamp(-INT8_MAX, INT8_MAX);
                        max_error = max_error.max((qv * sc - v).abs());
                        bytes.push(qv as i8 as u8);
                    }
                }
                data.push(((*name).clone(), Dtype::I8, shape, bytes));
                data.push((
                    format!("{name}{SCALE_SUFFIX}"),
                    Dtype::F32,
                    vec![cols],
                    scale.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ));
            }
            _ => {
                let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                data.push(((*name).clone(), Dtype::F32, shape, bytes));
            }
        }
    }
    let views = data
        .iter()
        .map(|(n, dtype, shape, bytes)| {
            Ok((
                n.as_str(),
                TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| err(e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let version = if q == Quantization::F32 {
        FORMAT_VERSION
    } else {
        FORMAT_VERSION_QUANTIZED
    };
    let mut meta = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT_NAME.to_string()),
        (VERSION_KEY.to_string(), version.to_string()),
        (
            INFO_KEY.to_string(),
            serde_json::to_string(&file.info).map_err(|e| Error::ModelFile(e.to_string()))?,
        ),
    ]);
    if q != Quantization::F32 {
        meta.insert(QUANTIZATION_KEY.to_string(), q.name().to_string());
    }
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))?;
    Ok((bytes, max_error))
}

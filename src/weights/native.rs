//! Our model format: one `.safetensors` file. Tensors are named by module path
//! (`decoder.cell.w_xh`, ...); the metadata holds [`FORMAT_KEY`] =
//! [`FORMAT_NAME`], [`VERSION_KEY`] = [`FORMAT_VERSION`], and the JSON of
//! [`ModelInfo`] (hyperparameters, scale factor, max_seq_len, name) under
//! [`INFO_KEY`].

use std::collections::HashMap;

use candle_core::{DType, Device};
use safetensors::tensor::{Dtype, TensorView};

use crate::error::{Error, Result};
use crate::weights::{ModelFile, ModelInfo};

pub const FORMAT_KEY: &str = "format";
pub const FORMAT_NAME: &str = "sketch-rnn";
pub const VERSION_KEY: &str = "format_version";
/// The version this code writes and reads.
pub const FORMAT_VERSION: &str = "1";
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
    if version != FORMAT_VERSION {
        return Err(err(format!(
            "format version {version}, this build reads version {FORMAT_VERSION}"
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
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| err(e.to_string()))?;
    Ok(ModelFile { info, tensors })
}

/// Writes a model as our `.safetensors` file (f32 weights).
pub fn write(file: &ModelFile) -> Result<Vec<u8>> {
    let mut names: Vec<&String> = file.tensors.keys().collect();
    names.sort();
    let mut data = Vec::with_capacity(names.len());
    for name in &names {
        let t = file.tensors[*name].to_dtype(DType::F32)?;
        let bytes: Vec<u8> = t
            .flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        data.push(((*name).clone(), t.dims().to_vec(), bytes));
    }
    let views = data
        .iter()
        .map(|(n, shape, bytes)| {
            Ok((
                n.as_str(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .map_err(|e| err(e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT_NAME.to_string()),
        (VERSION_KEY.to_string(), FORMAT_VERSION.to_string()),
        (
            INFO_KEY.to_string(),
            serde_json::to_string(&file.info).map_err(|e| Error::ModelFile(e.to_string()))?,
        ),
    ]);
    safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))
}

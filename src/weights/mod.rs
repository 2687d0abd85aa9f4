//! Model files: our `.safetensors` format ([`native`]) and Magenta's
//! `.gen.json` / `.vae.json` ([`magenta`]). Both load into a [`ModelFile`], a
//! format-neutral set of named tensors plus [`ModelInfo`], which builds the
//! immutable [`SketchRnn`]. Loaders take bytes, never paths.

pub mod magenta;
pub mod native;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{HParams, SketchRnn};

/// What a model file says about its model besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// A short name, e.g. the category (`sheep`).
    pub name: String,
    /// Pixels per normalised unit: data offsets were divided by this before training.
    pub scale_factor: f32,
    /// Longest drawing (rows) the model was trained on, N_max.
    pub max_seq_len: usize,
    pub hparams: HParams,
    /// The larger side of a typical training drawing, in pixels (the median),
    /// where the file records it; front ends scale user drawings to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typical_size_px: Option<f32>,
}

/// A loaded model file: its description and its tensors named by module path.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub info: ModelInfo,
    pub tensors: HashMap<String, Tensor>,
}

/// Which format a model file's bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// Our `.safetensors`.
    Native,
    /// Magenta's JSON `[info, shapes, weights]`.
    MagentaJson,
}

impl ModelFormat {
    /// Recognises a model file by its first bytes.
    pub fn sniff(bytes: &[u8]) -> Result<ModelFormat> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            Ok(ModelFormat::MagentaJson)
        } else if bytes.len() >= 9 && bytes[8] == b'{' {
            Ok(ModelFormat::Native)
        } else {
            Err(Error::ModelFile(
                "unrecognised model file: expected our .safetensors or Magenta's .gen.json/.vae.json".into(),
            ))
        }
    }
}

impl ModelFile {
    /// Loads a model file in either format from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelFile> {
        match ModelFormat::sniff(bytes)? {
            ModelFormat::Native => native::read(bytes),
            ModelFormat::MagentaJson => magenta::read(bytes),
        }
    }

    /// Builds the model on `device`, checking every tensor's shape against the
    /// architecture and that none holds NaN or infinity.
    pub fn build(&self, device: &Device) -> Result<SketchRnn> {
        for (name, t) in &self.tensors {
            let finite = t
                .flatten_all()?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?
                .iter()
                .all(|v| v.is_finite());
            if !finite {
                return Err(Error::NonFinite {
                    what: format!("weight '{name}'"),
                });
            }
        }
        let tensors: HashMap<String, Tensor> = self
            .tensors
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_dtype(DType::F32)?.to_device(device)?)))
            .collect::<Result<_>>()?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        SketchRnn::new(vb, &self.info.hparams).map_err(|e| match e {
            Error::Candle(c) => {
                Error::ModelFile(format!("weights do not fit the architecture: {c}"))
            }
            other => other,
        })
    }

    /// The tensors of a model, named by module path.
    pub fn from_varmap(info: ModelInfo, varmap: &candle_nn::VarMap) -> Result<ModelFile> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::ModelFile("variable map lock poisoned".into()))?;
        let tensors = data
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        Ok(ModelFile { info, tensors })
    }
}

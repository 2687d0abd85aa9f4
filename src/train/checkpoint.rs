//! Training checkpoints: one `.safetensors` with the parameters
//! (`param/<name>`), Adam's moments (`adam_m/<name>`, `adam_v/<name>`) and, in
//! the metadata, the configuration, step, and the generator's exact position
//! (which is also the data cursor: batches are drawn from it). Restoring one and
//! continuing gives the same losses as a run never interrupted.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::model::SketchRnn;
use crate::rng::SketchRng;
use crate::train::adam::Adam;
use crate::train::{TrainConfig, Trainer};
use crate::weights::{ModelFile, ModelInfo};

const STATE_KEY: &str = "trainer_state";
const FORMAT_KEY: &str = "format";
const FORMAT: &str = "sketch-rnn-checkpoint-1";

#[derive(Serialize, Deserialize)]
struct State {
    config: TrainConfig,
    info: ModelInfo,
    step: u64,
    adam_t: u64,
    rng_seed: Vec<u8>,
    rng_word_pos: String,
    best_valid: Option<f64>,
    skipped_steps: u64,
}

fn err(msg: impl Into<String>) -> Error {
    Error::ModelFile(format!("checkpoint: {}", msg.into()))
}

fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    Ok(t.to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect())
}

/// Serialises a trainer.
pub fn save(tr: &Trainer) -> Result<Vec<u8>> {
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    {
        let data = tr.varmap.data().lock().map_err(|_| err("lock poisoned"))?;
        for (k, v) in data.iter() {
            named.push((
                format!("param/{k}"),
                v.as_tensor().dims().to_vec(),
                bytes_of(v.as_tensor())?,
            ));
        }
    }
    for (k, (m, v)) in &tr.adam.moments {
        named.push((format!("adam_m/{k}"), m.dims().to_vec(), bytes_of(m)?));
        named.push((format!("adam_v/{k}"), v.dims().to_vec(), bytes_of(v)?));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let state = State {
        config: tr.config.clone(),
        info: tr.info.clone(),
        step: tr.step,
        adam_t: tr.adam.t,
        rng_seed: tr.rng.seed_bytes().to_vec(),
        rng_word_pos: tr.rng.word_pos().to_string(),
        best_valid: tr.best_valid,
        skipped_steps: tr.skipped_steps,
    };
    let meta = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (
            STATE_KEY.to_string(),
            serde_json::to_string(&state).map_err(|e| err(e.to_string()))?,
        ),
    ]);
    let views = named
        .iter()
        .map(|(n, s, b)| {
            Ok((
                n.as_str(),
                TensorView::new(Dtype::F32, s.clone(), b).map_err(|e| err(e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))
}

/// The trainer state in a checkpoint's metadata.
fn read_state(bytes: &[u8]) -> Result<State> {
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| err(e.to_string()))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
        return Err(err("not a sketch-rnn training checkpoint"));
    }
    let state: State =
        serde_json::from_str(meta.get(STATE_KEY).ok_or_else(|| err("no trainer state"))?)
            .map_err(|e| err(e.to_string()))?;
    Ok(state)
}

/// The model a checkpoint holds (its `param/*` tensors and model info) and the
/// step it was written at, without the optimiser or the data.
pub fn model_of(bytes: &[u8]) -> Result<(ModelFile, u64)> {
    let state = read_state(bytes)?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| err(e.to_string()))?
        .into_iter()
        .filter_map(|(k, t)| k.strip_prefix("param/").map(|k| (k.to_string(), t)))
        .collect();
    Ok((
        ModelFile {
            info: state.info,
            tensors,
        },
        state.step,
    ))
}

/// Whether `bytes` look like a training checkpoint (by their metadata).
pub fn is_checkpoint(bytes: &[u8]) -> bool {
    safetensors::SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().clone())
        .is_some_and(|m| m.get(FORMAT_KEY).map(String::as_str) == Some(FORMAT))
}

/// Restores a trainer from checkpoint bytes; `train` is the training split's
/// drawings (pixels), normalised with the checkpoint's scale factor.
pub fn load(bytes: &[u8], train: &[crate::dataset::Drawing], device: &Device) -> Result<Trainer> {
    let state = read_state(bytes)?;
    let tensors =
        candle_core::safetensors::load_buffer(bytes, device).map_err(|e| err(e.to_string()))?;
    let varmap = candle_nn::VarMap::new();
    let model = SketchRnn::init(&state.config.hparams, &varmap, device, 0)?;
    let mut moments = std::collections::BTreeMap::new();
    {
        let data = varmap.data().lock().map_err(|_| err("lock poisoned"))?;
        for (k, var) in data.iter() {
            let get = |prefix: &str| {
                tensors
                    .get(&format!("{prefix}/{k}"))
                    .ok_or_else(|| err(format!("missing {prefix}/{k}")))
            };
            var.set(get("param")?)?;
            moments.insert(k.clone(), (get("adam_m")?.clone(), get("adam_v")?.clone()));
        }
    }
    let seed: [u8; 32] = state
        .rng_seed
        .as_slice()
        .try_into()
        .map_err(|_| err("generator seed is not 32 bytes"))?;
    let word_pos: u128 = state
        .rng_word_pos
        .parse()
        .map_err(|_| err("generator position is not a number"))?;
    Ok(Trainer {
        train: Dataset::new(
            train,
            state.config.max_seq_len,
            Some(state.info.scale_factor),
        )?,
        config: state.config,
        info: state.info,
        varmap,
        model,
        adam: Adam {
            t: state.adam_t,
            moments,
        },
        rng: SketchRng::restore(seed, word_pos),
        step: state.step,
        best_valid: state.best_valid,
        skipped_steps: state.skipped_steps,
    })
}

//! Deterministic weight initialisation: a VarBuilder backend that fills a
//! `VarMap` from our seedable [`SketchRng`], so the same seed gives the same
//! initial model on every platform (candle's CPU generator cannot be seeded).

use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarMap};

use crate::rng::SketchRng;

/// Creates variables in `varmap` on first use, drawn from a seeded generator.
pub struct SeededInit {
    varmap: VarMap,
    rng: Mutex<SketchRng>,
}

impl SeededInit {
    pub fn new(varmap: &VarMap, seed: u64) -> SeededInit {
        SeededInit {
            varmap: varmap.clone(),
            rng: Mutex::new(SketchRng::new(seed)),
        }
    }
}

impl SimpleBackend for SeededInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("variable map lock poisoned".into()))?;
        if let Some(v) = data.get(name) {
            let t = v.as_tensor();
            if t.shape() != &s {
                candle_core::bail!("variable {name}: shape {:?}, expected {s:?}", t.shape());
            }
            return Ok(t.clone());
        }
        let n = s.elem_count();
        let mut rng = self
            .rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("generator lock poisoned".into()))?;
        let values: Vec<f32> = match h {
            Init::Const(c) => vec![c as f32; n],
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| mean as f32 + stdev as f32 * rng.normal())
                .collect(),
            Init::Uniform { lo, up } => (0..n)
                .map(|_| rng.uniform_range(lo as f32, up as f32))
                .collect(),
            Init::Kaiming { .. } => candle_core::bail!(
                "variable {name}: Kaiming initialisation is not used by sketch-rnn"
            ),
        };
        let var = Var::from_tensor(&Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?)?;
        let t = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(t)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        candle_core::bail!("variable {name} must be created with a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

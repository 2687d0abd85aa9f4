//! Adam (Kingma & Ba 2015) with per-value gradient clipping, its moments kept
//! by variable name so checkpoints can save and restore them exactly.
//!
//! ```text
//! g ← clip(g, ±c);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//! θ ← θ − lr · m̂ / (√v̂ + ε),  m̂ = m / (1−β1^t),  v̂ = v / (1−β2^t)
//! ```

use std::collections::BTreeMap;

use candle_core::Tensor;
use candle_core::backprop::GradStore;
use candle_nn::VarMap;

use crate::error::{Error, Result};

pub const BETA1: f64 = 0.9;
pub const BETA2: f64 = 0.999;
pub const EPSILON: f64 = 1e-8;

/// Adam's state: step count and first and second moments by variable name.
pub struct Adam {
    pub t: u64,
    pub moments: BTreeMap<String, (Tensor, Tensor)>,
}

impl Adam {
    /// Zero moments for every variable of `varmap`.
    pub fn new(varmap: &VarMap) -> Result<Adam> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid_argument("varmap", "lock poisoned"))?;
        let moments = data
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    (v.as_tensor().zeros_like()?, v.as_tensor().zeros_like()?),
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Adam { t: 0, moments })
    }

    /// One update of every variable that has a gradient.
    pub fn step(&mut self, varmap: &VarMap, grads: &GradStore, lr: f64, clip: f64) -> Result<()> {
        self.t += 1;
        let t = self.t as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid_argument("varmap", "lock poisoned"))?;
        for (name, (m, v)) in self.moments.iter_mut() {
            let var = data.get(name).ok_or_else(|| {
                Error::invalid_argument("optimiser", format!("no variable '{name}'"))
            })?;
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: a gradient remembers the graph that made it, and moments kept
            // across steps would otherwise keep every step's graph alive.
            let g = g.detach().clamp(-clip, clip)?;
            *m = ((&*m * BETA1)? + (&g * (1.0 - BETA1))?)?.detach();
            *v = ((&*v * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?.detach();
            let update = ((&*m / c1)? / ((&*v / c2)?.sqrt()? + EPSILON)?)?;
            var.set(&(var.as_tensor() - (update * lr)?)?)?;
        }
        Ok(())
    }
}

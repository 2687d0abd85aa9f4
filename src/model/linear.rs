//! An affine layer in TensorFlow's layout, `y = x·W + b` with `W: [in, out]`,
//! so Magenta's weights load without transposing (sketch-rnn's `super_linear`).

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use crate::error::Result;

/// `y = x·W (+ b)`, `W: [in, out]`, `b: [out]`.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `[in, out]`
    pub weight: Tensor,
    /// `[out]`
    pub bias: Option<Tensor>,
}

impl Dense {
    /// Weights `weight` and (if `bias_init` is given) `bias` under `vb`.
    pub fn new(
        vb: VarBuilder,
        input: usize,
        output: usize,
        weight_init: Init,
        bias_init: Option<Init>,
    ) -> Result<Dense> {
        let weight = vb.get_with_hints((input, output), "weight", weight_init)?;
        let bias = match bias_init {
            Some(init) => Some(vb.get_with_hints(output, "bias", init)?),
            None => None,
        };
        Ok(Dense { weight, bias })
    }

    /// `x: [B, in]` to `[B, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.matmul(&self.weight)?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

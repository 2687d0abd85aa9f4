//! Recurrent cells of sketch-rnn, as in Magenta's `sketch_rnn/rnn.py`.
//!
//! All three follow TensorFlow's conventions so Magenta's weights load unchanged:
//! gates `[i, g, f, o] = split(x·W_xh + h·W_hh + b, 4)` in that order, a forget
//! bias of [`FORGET_BIAS`] added inside the sigmoid, and the state laid out as
//! `[c, h]`:
//!
//! ```text
//! c' = c ⊙ σ(f + 1) + σ(i) ⊙ tanh(g)
//! h' = tanh(c') ⊙ σ(o)
//! ```
//!
//! The cells are immutable; the state is a [`CellState`] value the caller owns.
//! The input contribution of anything constant over a sequence (the latent z of a
//! conditional decoder) is computed once per sequence by [`Cell::condition`], so
//! each step multiplies only the 5 stroke inputs.

use candle_core::{D, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{Error, Result};
use crate::model::linear::Dense;

/// Added to the forget gate's pre-activation (TensorFlow's `forget_bias`, Magenta's 1.0).
pub const FORGET_BIAS: f64 = 1.0;
/// Epsilon of sketch-rnn's `layer_norm` and `layer_norm_all`.
pub const LAYER_NORM_EPSILON: f64 = 1e-3;
/// HyperLSTM: units of the small LSTM that generates the main cell's scales (paper: 256).
pub const HYPER_UNITS: usize = 256;
/// HyperLSTM: size of the embedding between the hyper cell and the scales (paper: 32).
pub const HYPER_EMBEDDING: usize = 32;
/// HyperLSTM: initial scale `γ`, spread over the embedding (`rnn.py`'s `init_gamma`).
pub const HYPER_INIT_GAMMA: f64 = 0.10;
/// Number of LSTM gates.
pub const GATES: usize = 4;

/// Which recurrent cell a decoder uses (paper section 3.3 and Magenta's `dec_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    /// Plain LSTM (Magenta's `lstm`).
    Lstm,
    /// LSTM with layer normalisation of the gates and the cell (Magenta's `layer_norm`).
    LayerNorm,
    /// HyperLSTM with layer normalisation (Magenta's `hyper`, the paper's best).
    Hyper,
}

impl std::str::FromStr for CellKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<CellKind> {
        match s {
            "lstm" => Ok(CellKind::Lstm),
            "layer_norm" | "layernorm" => Ok(CellKind::LayerNorm),
            "hyper" => Ok(CellKind::Hyper),
            other => Err(Error::invalid_argument(
                "cell",
                format!("expected lstm, layer_norm or hyper, found '{other}'"),
            )),
        }
    }
}

/// The recurrent state of a cell: `c` and `h`, each `[B, units]`, and for a
/// HyperLSTM the hyper cell's own state.
#[derive(Debug, Clone)]
pub struct CellState {
    pub c: Tensor,
    pub h: Tensor,
    pub hyper: Option<Box<CellState>>,
}

impl CellState {
    /// The flat TensorFlow state `[c_total, h_total]`, `[B, 2·(units + hyper units)]`,
    /// where `c_total = [c, hyper c]` (Magenta's layout).
    pub fn to_flat(&self) -> Result<Tensor> {
        Ok(match &self.hyper {
            None => Tensor::cat(&[&self.c, &self.h], 1)?,
            Some(hy) => Tensor::cat(&[&self.c, &hy.c, &self.h, &hy.h], 1)?,
        })
    }

    /// Inverse of [`CellState::to_flat`] for a cell of `units` (and `hyper_units`).
    pub fn from_flat(flat: &Tensor, units: usize, hyper_units: Option<usize>) -> Result<CellState> {
        let hu = hyper_units.unwrap_or(0);
        let total = units + hu;
        let c = flat.narrow(1, 0, units)?;
        let h = flat.narrow(1, total, units)?;
        let hyper = match hyper_units {
            None => None,
            Some(hu) => Some(Box::new(CellState {
                c: flat.narrow(1, units, hu)?,
                h: flat.narrow(1, total + units, hu)?,
                hyper: None,
            })),
        };
        Ok(CellState { c, h, hyper })
    }
}

/// The per-sequence constant part of a cell's input projection (from z and the bias).
#[derive(Debug, Clone)]
pub struct Conditioning {
    /// `[B or 1, 4·units]`, added to the stroke inputs' projection every step.
    pub main: Tensor,
    /// Same for the hyper cell of a HyperLSTM.
    pub hyper: Option<Tensor>,
}

/// The weights of one TensorFlow-style LSTM: `W_xh: [in, 4H]`, `W_hh: [H, 4H]`, bias `[4H]`.
#[derive(Debug, Clone)]
pub struct LstmWeights {
    pub w_xh: Tensor,
    pub w_hh: Tensor,
    pub bias: Option<Tensor>,
    pub units: usize,
}

impl LstmWeights {
    fn new(vb: &VarBuilder, input: usize, units: usize, bias: bool) -> Result<LstmWeights> {
        let w_xh = vb.get_with_hints(
            (input, GATES * units),
            "w_xh",
            Init::Randn {
                mean: 0.0,
                stdev: (1.0 / input as f64).sqrt(),
            },
        )?;
        let w_hh = vb.get_with_hints(
            (units, GATES * units),
            "w_hh",
            Init::Randn {
                mean: 0.0,
                stdev: (1.0 / units as f64).sqrt(),
            },
        )?;
        let bias = if bias {
            Some(vb.get_with_hints(GATES * units, "bias", Init::Const(0.0))?)
        } else {
            None
        };
        Ok(LstmWeights {
            w_xh,
            w_hh,
            bias,
            units,
        })
    }

    /// Projection of the constant trailing inputs (rows `step_inputs..` of `W_xh`) plus the bias.
    /// `constant: [B, in - step_inputs]` or `None` when every input varies per step.
    fn condition(
        &self,
        step_inputs: usize,
        constant: Option<&Tensor>,
        with_bias: bool,
    ) -> Result<Tensor> {
        let in_total = self.w_xh.dim(0)?;
        let mut out = match constant {
            Some(z) => {
                let w = self.w_xh.narrow(0, step_inputs, in_total - step_inputs)?;
                Some(z.matmul(&w)?)
            }
            None => None,
        };
        if let Some(b) = self.bias.as_ref().filter(|_| with_bias) {
            let b = b.unsqueeze(0)?;
            out = Some(match out {
                Some(o) => o.broadcast_add(&b)?,
                None => b,
            });
        }
        Ok(match out {
            Some(o) => o,
            None => Tensor::zeros(
                (1, GATES * self.units),
                self.w_xh.dtype(),
                self.w_xh.device(),
            )?,
        })
    }

    /// `x·W_x` for the per-step inputs `x: [B, step_inputs]`.
    fn project_step(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(1)?;
        Ok(x.matmul(&self.w_xh.narrow(0, 0, n)?)?)
    }
}

/// `c' = c·σ(f + 1) + σ(i)·g`, `h' = tanh(norm(c'))·σ(o)` from the four gate pre-activations.
fn lstm_update(
    gates: &Tensor,
    c: &Tensor,
    units: usize,
    dropout_keep: Option<f32>,
    ln_c: Option<&LayerNorm>,
) -> Result<(Tensor, Tensor)> {
    let i = gates.narrow(1, 0, units)?;
    let g = gates.narrow(1, units, units)?;
    let f = gates.narrow(1, 2 * units, units)?;
    let o = gates.narrow(1, 3 * units, units)?;
    let mut g = g.tanh()?;
    if let Some(keep) = dropout_keep {
        // Recurrent dropout on the candidate (Semeniuta et al. 2016, used by sketch-rnn).
        g = candle_nn::ops::dropout(&g, 1.0 - keep)?;
    }
    let forget = candle_nn::ops::sigmoid(&(f + FORGET_BIAS)?)?;
    let c_new = (c.broadcast_mul(&forget)? + candle_nn::ops::sigmoid(&i)?.mul(&g)?)?;
    let c_out = match ln_c {
        Some(ln) => ln.forward(&c_new, 1)?,
        None => c_new.clone(),
    };
    let h_new = c_out.tanh()?.mul(&candle_nn::ops::sigmoid(&o)?)?;
    Ok((c_new, h_new))
}

/// Layer normalisation over groups of `units` features with gain and bias
/// (`layer_norm` for one group, `layer_norm_all` for the four gates).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub gamma: Tensor,
    pub beta: Tensor,
}

impl LayerNorm {
    fn new(vb: VarBuilder, size: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: vb.get_with_hints(size, "gamma", Init::Const(1.0))?,
            beta: vb.get_with_hints(size, "beta", Init::Const(0.0))?,
        })
    }

    /// `x: [B, groups·units]`, normalised within each group of `units`.
    fn forward(&self, x: &Tensor, groups: usize) -> Result<Tensor> {
        let (b, n) = x.dims2()?;
        let xg = x.reshape((b, groups, n / groups))?;
        let mean = xg.mean_keepdim(D::Minus1)?;
        let centred = xg.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + LAYER_NORM_EPSILON)?.sqrt()?)?;
        let normed = normed.reshape((b, n))?;
        Ok(normed
            .broadcast_mul(&self.gamma)?
            .broadcast_add(&self.beta)?)
    }
}

/// HyperLSTM's weight scaling `α(z_w)·layer (+ β(z_b))` from the hyper cell's output
/// (Ha, Dai & Le 2016, `hyper_norm` in `rnn.py`).
#[derive(Debug, Clone)]
pub struct HyperNorm {
    zw: Dense,
    alpha: Dense,
    bias: Option<(Dense, Dense)>,
}

impl HyperNorm {
    fn new(vb: VarBuilder, units: usize, use_bias: bool) -> Result<HyperNorm> {
        let zw = Dense::new(
            vb.pp("zw"),
            HYPER_UNITS,
            HYPER_EMBEDDING,
            Init::Const(0.0),
            Some(Init::Const(1.0)),
        )?;
        let alpha = Dense::new(
            vb.pp("alpha"),
            HYPER_EMBEDDING,
            units,
            Init::Const(HYPER_INIT_GAMMA / HYPER_EMBEDDING as f64),
            None,
        )?;
        let bias = if use_bias {
            Some((
                Dense::new(
                    vb.pp("zb"),
                    HYPER_UNITS,
                    HYPER_EMBEDDING,
                    Init::Randn {
                        mean: 0.0,
                        stdev: 0.01,
                    },
                    None,
                )?,
                Dense::new(
                    vb.pp("beta"),
                    HYPER_EMBEDDING,
                    units,
                    Init::Const(0.0),
                    None,
                )?,
            ))
        } else {
            None
        };
        Ok(HyperNorm { zw, alpha, bias })
    }

    fn forward(&self, layer: &Tensor, hyper_h: &Tensor) -> Result<Tensor> {
        let alpha = self.alpha.forward(&self.zw.forward(hyper_h)?)?;
        let mut out = alpha.mul(layer)?;
        if let Some((zb, beta)) = &self.bias {
            out = (out + beta.forward(&zb.forward(hyper_h)?)?)?;
        }
        Ok(out)
    }
}

/// A decoder or encoder cell.
#[derive(Debug, Clone)]
pub enum Cell {
    Lstm(LstmWeights),
    LayerNorm {
        weights: LstmWeights,
        ln_all: LayerNorm,
        ln_c: LayerNorm,
    },
    Hyper {
        weights: LstmWeights,
        hyper: LstmWeights,
        /// Scales for `[i, g, f, o]` of `x·W_xh` (no bias) then of `h·W_hh` (with bias).
        norms_x: Vec<HyperNorm>,
        norms_h: Vec<HyperNorm>,
        ln_all: LayerNorm,
        ln_c: LayerNorm,
    },
}

impl Cell {
    /// A cell of `kind` with `units`, reading `input` features per step (stroke
    /// inputs followed by any constant conditioning such as z).
    pub fn new(vb: VarBuilder, kind: CellKind, input: usize, units: usize) -> Result<Cell> {
        Ok(match kind {
            CellKind::Lstm => Cell::Lstm(LstmWeights::new(&vb, input, units, true)?),
            CellKind::LayerNorm => Cell::LayerNorm {
                weights: LstmWeights::new(&vb, input, units, false)?,
                ln_all: LayerNorm::new(vb.pp("ln_all"), GATES * units)?,
                ln_c: LayerNorm::new(vb.pp("ln_c"), units)?,
            },
            CellKind::Hyper => {
                let names = ["i", "g", "f", "o"];
                Cell::Hyper {
                    weights: LstmWeights::new(&vb, input, units, true)?,
                    hyper: LstmWeights::new(
                        &vb.pp("hyper_cell"),
                        input + units,
                        HYPER_UNITS,
                        true,
                    )?,
                    norms_x: names
                        .iter()
                        .map(|n| HyperNorm::new(vb.pp(format!("hyper_{n}x")), units, false))
                        .collect::<Result<_>>()?,
                    norms_h: names
                        .iter()
                        .map(|n| HyperNorm::new(vb.pp(format!("hyper_{n}h")), units, true))
                        .collect::<Result<_>>()?,
                    ln_all: LayerNorm::new(vb.pp("ln_all"), GATES * units)?,
                    ln_c: LayerNorm::new(vb.pp("ln_c"), units)?,
                }
            }
        })
    }

    pub fn kind(&self) -> CellKind {
        match self {
            Cell::Lstm(_) => CellKind::Lstm,
            Cell::LayerNorm { .. } => CellKind::LayerNorm,
            Cell::Hyper { .. } => CellKind::Hyper,
        }
    }

    fn weights(&self) -> &LstmWeights {
        match self {
            Cell::Lstm(w) | Cell::LayerNorm { weights: w, .. } | Cell::Hyper { weights: w, .. } => {
                w
            }
        }
    }

    /// Hidden units of the main cell.
    pub fn units(&self) -> usize {
        self.weights().units
    }

    /// Units of the hyper cell, for a HyperLSTM.
    pub fn hyper_units(&self) -> Option<usize> {
        match self {
            Cell::Hyper { hyper, .. } => Some(hyper.units),
            _ => None,
        }
    }

    /// Size of the flat TensorFlow state `[c_total, h_total]`.
    pub fn state_size(&self) -> usize {
        2 * (self.units() + self.hyper_units().unwrap_or(0))
    }

    /// The all-zero state for a batch of `batch`.
    pub fn zero_state(&self, batch: usize) -> Result<CellState> {
        let w = &self.weights().w_hh;
        let zeros = |n| Tensor::zeros((batch, n), w.dtype(), w.device());
        Ok(CellState {
            c: zeros(self.units())?,
            h: zeros(self.units())?,
            hyper: match self.hyper_units() {
                Some(hu) => Some(Box::new(CellState {
                    c: zeros(hu)?,
                    h: zeros(hu)?,
                    hyper: None,
                })),
                None => None,
            },
        })
    }

    /// The per-sequence constant input projection: `constant·W_xh[step_inputs..] + b`.
    /// For a HyperLSTM the hyper cell's input is `[x, z, h]`, so its z rows sit
    /// between the stroke rows and the `h` rows.
    pub fn condition(&self, step_inputs: usize, constant: Option<&Tensor>) -> Result<Conditioning> {
        // A HyperLSTM adds its bias after scaling the input projection.
        let with_bias = self.kind() != CellKind::Hyper;
        let main = self.weights().condition(step_inputs, constant, with_bias)?;
        let hyper = match self {
            Cell::Hyper { hyper, weights, .. } => {
                let in_total = weights.w_xh.dim(0)?;
                let hw = LstmWeights {
                    w_xh: hyper.w_xh.narrow(0, 0, in_total)?,
                    w_hh: hyper.w_hh.clone(),
                    bias: hyper.bias.clone(),
                    units: hyper.units,
                };
                Some(hw.condition(step_inputs, constant, true)?)
            }
            _ => None,
        };
        Ok(Conditioning { main, hyper })
    }

    /// One step: reads the per-step inputs `x: [B, step_inputs]` (in normalised
    /// units for strokes) and returns the next state. `dropout_keep` enables
    /// recurrent dropout (training only).
    pub fn step(
        &self,
        x: &Tensor,
        cond: &Conditioning,
        state: &CellState,
        dropout_keep: Option<f32>,
    ) -> Result<CellState> {
        match self {
            Cell::Lstm(w) => {
                let gates = w
                    .project_step(x)?
                    .broadcast_add(&cond.main)?
                    .add(&state.h.matmul(&w.w_hh)?)?;
                let (c, h) = lstm_update(&gates, &state.c, w.units, dropout_keep, None)?;
                Ok(CellState { c, h, hyper: None })
            }
            Cell::LayerNorm {
                weights: w,
                ln_all,
                ln_c,
            } => {
                let gates = w
                    .project_step(x)?
                    .broadcast_add(&cond.main)?
                    .add(&state.h.matmul(&w.w_hh)?)?;
                let gates = ln_all.forward(&gates, GATES)?;
                let (c, h) = lstm_update(&gates, &state.c, w.units, dropout_keep, Some(ln_c))?;
                Ok(CellState { c, h, hyper: None })
            }
            Cell::Hyper {
                weights: w,
                hyper,
                norms_x,
                norms_h,
                ln_all,
                ln_c,
            } => {
                let units = w.units;
                let hs = state.hyper.as_ref().ok_or_else(|| {
                    Error::invalid_argument(
                        "state",
                        "a HyperLSTM state needs the hyper cell's state",
                    )
                })?;
                let hyper_cond = cond.hyper.as_ref().ok_or_else(|| {
                    Error::invalid_argument("conditioning", "a HyperLSTM needs hyper conditioning")
                })?;
                // hyper cell input: [x, z, h]; x and h vary per step, z is in hyper_cond.
                let n_step = x.dim(1)?;
                let in_total = w.w_xh.dim(0)?;
                let hyper_gates = x
                    .matmul(&hyper.w_xh.narrow(0, 0, n_step)?)?
                    .add(&state.h.matmul(&hyper.w_xh.narrow(0, in_total, units)?)?)?
                    .broadcast_add(hyper_cond)?
                    .add(&hs.h.matmul(&hyper.w_hh)?)?;
                let (hc, hh) = lstm_update(&hyper_gates, &hs.c, hyper.units, dropout_keep, None)?;
                let xh = w.project_step(x)?.broadcast_add(&cond.main)?;
                let hh_main = state.h.matmul(&w.w_hh)?;
                let mut parts = Vec::with_capacity(GATES);
                for k in 0..GATES {
                    let xk = norms_x[k].forward(&xh.narrow(1, k * units, units)?, &hh)?;
                    let hk = norms_h[k].forward(&hh_main.narrow(1, k * units, units)?, &hh)?;
                    parts.push((xk + hk)?);
                }
                let mut gates = Tensor::cat(&parts, 1)?;
                if let Some(b) = &w.bias {
                    gates = gates.broadcast_add(b)?;
                }
                let gates = ln_all.forward(&gates, GATES)?;
                let (c, h) = lstm_update(&gates, &state.c, units, dropout_keep, Some(ln_c))?;
                Ok(CellState {
                    c,
                    h,
                    hyper: Some(Box::new(CellState {
                        c: hc,
                        h: hh,
                        hyper: None,
                    })),
                })
            }
        }
    }
}

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
use crate::model::fused;
use crate::model::linear::Dense;
use crate::model::sequence::LstmSequence;

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

/// Recurrent dropout for training: keep probability and the seeded generator
/// that draws the masks, so training is reproducible.
pub struct Dropout<'a> {
    pub keep: f32,
    pub rng: &'a mut crate::rng::SketchRng,
}

/// One step's dropout masks (`[B, units]`, entries 0 or 1/keep).
#[derive(Debug, Clone)]
pub struct DropoutMask {
    pub main: Tensor,
    pub hyper: Option<Tensor>,
}

impl Dropout<'_> {
    fn mask(&mut self, batch: usize, units: usize, device: &candle_core::Device) -> Result<Tensor> {
        let scale = 1.0 / self.keep;
        let v: Vec<f32> = (0..batch * units)
            .map(|_| {
                if self.rng.uniform() < self.keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Tensor::from_vec(v, (batch, units), device)?)
    }

    /// Masks for `steps` steps of a plain LSTM at once, `[T, B, units]` flat,
    /// drawn in the same order as `steps` calls of [`Dropout::masks`].
    fn sequence_mask(&mut self, steps: usize, batch: usize, units: usize) -> Vec<f32> {
        let scale = 1.0 / self.keep;
        (0..steps * batch * units)
            .map(|_| {
                if self.rng.uniform() < self.keep {
                    scale
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Fresh masks for one step of `cell` on a batch of `batch`.
    pub fn masks(&mut self, cell: &Cell, batch: usize) -> Result<DropoutMask> {
        let device = cell.weights().w_hh.device().clone();
        Ok(DropoutMask {
            main: self.mask(batch, cell.units(), &device)?,
            hyper: match cell.hyper_units() {
                Some(hu) => Some(self.mask(batch, hu, &device)?),
                None => None,
            },
        })
    }
}

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

    /// This (one-row) state repeated `n` times along the batch: `[n, units]` each.
    pub fn repeat(&self, n: usize) -> Result<CellState> {
        let rep = |t: &Tensor| -> Result<Tensor> {
            let (b, u) = t.dims2()?;
            if b != 1 {
                return Err(Error::Shape {
                    what: "state to repeat".into(),
                    expected: vec![1, u],
                    found: vec![b, u],
                });
            }
            Ok(t.broadcast_as((n, u))?.contiguous()?)
        };
        Ok(CellState {
            c: rep(&self.c)?,
            h: rep(&self.h)?,
            hyper: match &self.hyper {
                Some(hy) => Some(Box::new(hy.repeat(n)?)),
                None => None,
            },
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
    /// The rows of `W_xh` for the per-step inputs, `[step_inputs, 4·units]`, sliced
    /// once per sequence (slicing a weight inside the time loop costs a full-size
    /// zero fill per step in the backward pass).
    pub x_weight: Tensor,
    /// For a HyperLSTM: the hyper cell's `W_xh` rows for the step inputs and for `h`.
    pub hyper_weights: Option<(Tensor, Tensor)>,
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
    /// Fresh weights for training: `W_xh ~ N(0, 1/in)`, `W_hh ~ N(0, 1/H)`, bias 0
    /// (the forget bias is added in the cell). This is not Magenta's `rnn.py`
    /// (Glorot-uniform `W_xh`, block-orthogonal `W_hh`): in the 777-step small
    /// preset run of issue #3 (seed 1), Magenta's initialisation reached
    /// validation L_R 0.660 and this one 0.623, and PyTorch's default (every weight
    /// and bias U(±1/√H)) 0.659 (README, *Training*).
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
}

/// `c' = c·σ(f + 1) + σ(i)·tanh(g)·m`, `h' = tanh(norm(c'))·σ(o)` from the four gate
/// pre-activations `[B, 4H]`, with the fused ops of [`crate::model::fused`].
fn lstm_update(
    gates: &Tensor,
    c: &Tensor,
    dropout: Option<&Tensor>,
    ln_c: Option<&LayerNorm>,
) -> Result<(Tensor, Tensor)> {
    let gates = gates.contiguous()?;
    let c = c.contiguous()?;
    let mask = match dropout {
        Some(m) => m.contiguous()?,
        None => c.ones_like()?,
    };
    let c_new = gates.apply_op3(&c, &mask, fused::CellState)?;
    let h_new = match ln_c {
        None => c_new.apply_op2(&gates, fused::CellOutput)?,
        Some(ln) => ln
            .forward(&c_new, 1)?
            .contiguous()?
            .apply_op2(&gates, fused::CellOutput)?,
    };
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
        let x_weight = self.weights().w_xh.narrow(0, 0, step_inputs)?;
        let (hyper, hyper_weights) = match self {
            Cell::Hyper { hyper, weights, .. } => {
                let in_total = weights.w_xh.dim(0)?;
                let hw = LstmWeights {
                    w_xh: hyper.w_xh.narrow(0, 0, in_total)?,
                    w_hh: hyper.w_hh.clone(),
                    bias: hyper.bias.clone(),
                    units: hyper.units,
                };
                let rows = (
                    hyper.w_xh.narrow(0, 0, step_inputs)?,
                    hyper.w_xh.narrow(0, in_total, weights.units)?,
                );
                (Some(hw.condition(step_inputs, constant, true)?), Some(rows))
            }
            _ => (None, None),
        };
        Ok(Conditioning {
            main,
            x_weight,
            hyper,
            hyper_weights,
        })
    }

    /// Runs a whole sequence from `state`: `xs: [T, B, step_inputs]` are the
    /// per-step inputs (data, normalised units for strokes; no gradient) and the
    /// result is every step's `h`, `[T, B, units]`. A plain LSTM runs as one op
    /// with its own backpropagation through time ([`LstmSequence`]); the other
    /// cells step by step. `dropout` (training) draws the recurrent-dropout masks.
    /// `lengths` (`[B]`, each ≤ T), if given, promise that row `b`'s outputs are
    /// read only before step `lengths[b]`: the plain LSTM then runs each row
    /// only that far (a packed sequence; zeros after), the other cells all `T`.
    pub fn sequence(
        &self,
        xs: &Tensor,
        cond: &Conditioning,
        state: &CellState,
        mut dropout: Option<&mut Dropout>,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor> {
        let (steps, batch, _) = xs.dims3()?;
        match self {
            Cell::Lstm(w) => {
                let units = w.units;
                let weights = Tensor::cat(&[&cond.x_weight, &w.w_hh], 0)?;
                let beta = cond.main.broadcast_as((batch, GATES * units))?;
                let init = Tensor::cat(&[&state.c, &state.h, &beta], 1)?;
                let mask = dropout
                    .as_deref_mut()
                    .map(|d| d.sequence_mask(steps, batch, units));
                let hs = xs.contiguous()?.apply_op3(
                    &weights.contiguous()?,
                    &init.contiguous()?,
                    LstmSequence::new(mask).with_lengths(lengths.map(<[usize]>::to_vec)),
                )?; // [B, T, H]
                Ok(hs.transpose(0, 1)?)
            }
            _ => {
                let mut state = state.clone();
                let mut hs = Vec::with_capacity(steps);
                for t in 0..steps {
                    let x = xs.get(t)?;
                    let mask = match dropout.as_deref_mut() {
                        Some(d) => Some(d.masks(self, batch)?),
                        None => None,
                    };
                    state = self.step(&x, cond, &state, mask.as_ref())?;
                    hs.push(state.h.clone());
                }
                Ok(Tensor::stack(&hs, 0)?)
            }
        }
    }

    /// One step: reads the per-step inputs `x: [B, step_inputs]` (in normalised
    /// units for strokes) and returns the next state. `dropout` (training only)
    /// holds this step's recurrent-dropout masks.
    pub fn step(
        &self,
        x: &Tensor,
        cond: &Conditioning,
        state: &CellState,
        dropout: Option<&DropoutMask>,
    ) -> Result<CellState> {
        match self {
            Cell::Lstm(w) => {
                let gates = x
                    .matmul(&cond.x_weight)?
                    .broadcast_add(&cond.main)?
                    .add(&state.h.matmul(&w.w_hh)?)?;
                let (c, h) = lstm_update(&gates, &state.c, dropout.map(|d| &d.main), None)?;
                Ok(CellState { c, h, hyper: None })
            }
            Cell::LayerNorm {
                weights: w,
                ln_all,
                ln_c,
            } => {
                let gates = x
                    .matmul(&cond.x_weight)?
                    .broadcast_add(&cond.main)?
                    .add(&state.h.matmul(&w.w_hh)?)?;
                let gates = ln_all.forward(&gates, GATES)?;
                let (c, h) = lstm_update(&gates, &state.c, dropout.map(|d| &d.main), Some(ln_c))?;
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
                let (hx_w, hh_w) = cond.hyper_weights.as_ref().ok_or_else(|| {
                    Error::invalid_argument("conditioning", "a HyperLSTM needs hyper weights")
                })?;
                let hyper_gates = x
                    .matmul(hx_w)?
                    .add(&state.h.matmul(hh_w)?)?
                    .broadcast_add(hyper_cond)?
                    .add(&hs.h.matmul(&hyper.w_hh)?)?;
                let (hc, hh) = lstm_update(
                    &hyper_gates,
                    &hs.c,
                    dropout.and_then(|d| d.hyper.as_ref()),
                    None,
                )?;
                let xh = x.matmul(&cond.x_weight)?.broadcast_add(&cond.main)?;
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
                let (c, h) = lstm_update(&gates, &state.c, dropout.map(|d| &d.main), Some(ln_c))?;
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

//! Scheduled sampling (Bengio et al. 2015), in its parallel form (Duckworth et
//! al. 2019, "Parallel Scheduled Sampling"): the decoder is trained on inputs
//! some of which are its own samples instead of the human drawing's points.
//!
//! Teacher forcing (paper section 3.3) feeds the decoder the true previous
//! point `S_{t-1}` at every step, but when it draws it reads its own samples.
//! A sampled offset a little off the human one puts the decoder's state where
//! training never took it, and what it draws next drifts away from what the
//! latent asked for (exposure bias). Scheduled sampling shows it such inputs:
//!
//! ```text
//! 1. a teacher-forced pass, no gradient, samples y_t ~ p(S_t | S_<t, z) at temperature τ
//! 2. the decoder's input at step t is y_{t-1} with probability p, else the human S_{t-1}
//! 3. the training pass reads these inputs (the encoder still reads the human
//!    drawing); the targets stay the human points S_t
//! ```
//!
//! so the decoder learns to go on with the drawing the latent describes after
//! a point of its own. Offsets are in normalised units, as everywhere in
//! training.
//!
//! Offsets are relative, so a sampled point `y_r` that misses the human `S_r`
//! by `δ = S_r − y_r` moves everything drawn after it by `−δ`. With the human
//! targets the decoder is taught to go on by `S_{r+1}` from where it is, which
//! keeps the drift. With `correct_drift` the targets (and the human inputs
//! after a sample) are the drawing corrected to come back to the human path:
//!
//! ```text
//! D_0 = 0;  C_r = S_r + D_{r-1}           (target r, and input r when it is not sampled)
//! D_r = C_r − y_r  if input r is sampled,  else 0
//! ```
//!
//! so after its own point the decoder learns to return to where the human
//! drawing goes, the absolute positions `Σ C` meeting the human ones again
//! at the first unsampled row.

use crate::error::{Error, Result};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::mixture::{Mixture, output_size};
use crate::rng::SketchRng;
use crate::sample::sample_point;

/// Column of the end-of-drawing pen state `p3` in a stroke-5 row.
const END_COLUMN: usize = 4;

/// How a batch's decoder inputs are mixed (`TrainConfig`'s
/// `scheduled_sampling*` fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mixing {
    /// Probability that a real input row is the model's own sample.
    pub p: f32,
    /// Temperature τ of the samples.
    pub temperature: f32,
    /// Correct the targets for the drift a sample causes (module docs).
    pub correct_drift: bool,
}

/// What the training pass of scheduled sampling reads and predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedBatch {
    /// Decoder inputs `[B, N_max + 1, 5]`: the human drawing with some rows the
    /// model's own samples (normalised units).
    pub inputs: Vec<f32>,
    /// Targets in the same layout: the human drawing, or with `correct_drift`
    /// the drawing corrected back to the human path after each sample (module
    /// docs). Row 0 (the start token) is never a target.
    pub targets: Vec<f32>,
}

/// The decoder inputs (and targets) of a batch with some rows replaced by the
/// model's own samples.
///
/// `strokes` is the batch, row-major `[B, N_max + 1, 5]` (start token first,
/// normalised units); `logits` the teacher-forced pass's raw outputs
/// `[B·N_max, 6M+3]`, row `b·N_max + t` predicting row `t + 1` of drawing `b`.
/// Each row `r ≥ 1` of a drawing that is not an end-of-drawing row is replaced,
/// with probability `mixing.p`, by a point sampled at `mixing.temperature` from the
/// prediction for it. A sampled end-of-drawing pen state keeps the human
/// row's pen state (the drawing goes on after it); the start token and the
/// padding stay as they are. With `mixing.correct_drift` the offsets of the targets
/// and of the unsampled inputs are corrected as the module docs say (pen
/// states are the human ones); without it the targets are `strokes`.
pub fn mix_decoder_inputs(
    strokes: &[f32],
    logits: &[f32],
    batch: usize,
    num_mixtures: usize,
    mixing: Mixing,
    rng: &mut SketchRng,
) -> Result<MixedBatch> {
    let width = output_size(num_mixtures);
    if batch == 0 || strokes.len() % (batch * STROKE_WIDTH) != 0 {
        return Err(Error::Shape {
            what: "scheduled sampling strokes".into(),
            expected: vec![batch, 0, STROKE_WIDTH],
            found: vec![strokes.len()],
        });
    }
    let steps = strokes.len() / (batch * STROKE_WIDTH) - 1; // N_max
    if logits.len() != batch * steps * width {
        return Err(Error::Shape {
            what: "scheduled sampling logits".into(),
            expected: vec![batch * steps, width],
            found: vec![logits.len()],
        });
    }
    let Mixing {
        p,
        temperature,
        correct_drift,
    } = mixing;
    let mut inputs = strokes.to_vec();
    let mut targets = strokes.to_vec();
    let mut mixture = Mixture::with_components(num_mixtures);
    for b in 0..batch {
        // D_{r-1}: how far the row before left the pen from the human path.
        let mut drift = [0f32; 2];
        // Rows 1..=N_max are targets; rows 1..N_max inputs (row N_max never is).
        for r in 1..=steps {
            let o = (b * (steps + 1) + r) * STROKE_WIDTH;
            if strokes[o + END_COLUMN] != 0.0 {
                break; // end of drawing: the rest is padding, left as it is
            }
            if correct_drift {
                // C_r = S_r + D_{r-1}
                targets[o] += drift[0];
                targets[o + 1] += drift[1];
                inputs[o..o + 2].copy_from_slice(&targets[o..o + 2]);
            }
            drift = [0.0; 2];
            if r == steps || rng.uniform() >= p {
                continue;
            }
            let raw = &logits[(b * steps + r - 1) * width..(b * steps + r) * width];
            mixture.set_from_raw(raw, temperature)?;
            let point = sample_point(&mixture, rng);
            if correct_drift {
                // D_r = C_r − y_r
                drift = [targets[o] - point[0], targets[o + 1] - point[1]];
            }
            inputs[o] = point[0];
            inputs[o + 1] = point[1];
            if point[END_COLUMN] == 0.0 {
                inputs[o + 2..o + STROKE_WIDTH].copy_from_slice(&point[2..]);
            }
        }
    }
    Ok(MixedBatch { inputs, targets })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mixture::PEN_STATES;

    const M: usize = 2;

    fn mix(p: f32, temperature: f32) -> Mixing {
        Mixing {
            p,
            temperature,
            correct_drift: false,
        }
    }

    /// Two drawings of N_max = 4: three real rows and one, then padding.
    fn batch() -> Vec<f32> {
        let start = [0., 0., 1., 0., 0.];
        let end = [0., 0., 0., 0., 1.];
        let mut s = Vec::new();
        s.extend(start);
        s.extend([0.5, 0.5, 1., 0., 0.]);
        s.extend([0.5, -0.5, 1., 0., 0.]);
        s.extend([-1.0, 0.0, 0., 1., 0.]);
        s.extend(end);
        s.extend(start);
        s.extend([2.0, 0.0, 0., 1., 0.]);
        for _ in 0..3 {
            s.extend(end);
        }
        s
    }

    /// Logits whose every prediction is a sharp Gaussian at (3, -3), pen up
    /// (p2) almost surely.
    fn logits(rows: usize) -> Vec<f32> {
        let mut row = vec![0f32; output_size(M)];
        row[..PEN_STATES].copy_from_slice(&[-20.0, 20.0, -20.0]);
        for j in 0..M {
            row[PEN_STATES + M + j] = 3.0; // μx
            row[PEN_STATES + 2 * M + j] = -3.0; // μy
            row[PEN_STATES + 3 * M + j] = -12.0; // log σx
            row[PEN_STATES + 4 * M + j] = -12.0; // log σy
        }
        row.iter().copied().cycle().take(rows * row.len()).collect()
    }

    #[test]
    fn no_probability_leaves_the_human_drawing() {
        let s = batch();
        let mixed = mix_decoder_inputs(&s, &logits(8), 2, M, mix(0.0, 1.0), &mut SketchRng::new(1))
            .unwrap();
        assert_eq!(mixed.inputs, s);
        assert_eq!(mixed.targets, s);
    }

    #[test]
    fn certain_replacement_takes_every_real_row_but_keeps_start_and_padding() {
        let s = batch();
        let mixed = mix_decoder_inputs(&s, &logits(8), 2, M, mix(1.0, 1.0), &mut SketchRng::new(1))
            .unwrap()
            .inputs;
        let row = |v: &[f32], b: usize, r: usize| v[(b * 5 + r) * 5..(b * 5 + r) * 5 + 5].to_vec();
        for (b, real) in [(0, 1..4), (1, 1..2)] {
            assert_eq!(row(&mixed, b, 0), row(&s, b, 0), "start token of {b}");
            for r in real {
                let m = row(&mixed, b, r);
                assert!(
                    (m[0] - 3.0).abs() < 1e-3 && (m[1] + 3.0).abs() < 1e-3,
                    "{m:?}"
                );
                assert_eq!(&m[2..], &[0., 1., 0.], "pen of row {r} of {b}");
            }
        }
        // padding of the second drawing, and the last row (never an input)
        for r in 2..5 {
            assert_eq!(row(&mixed, 1, r), row(&s, 1, r));
        }
        assert_eq!(row(&mixed, 0, 4), row(&s, 0, 4));
    }

    #[test]
    fn without_drift_correction_the_targets_are_the_human_drawing() {
        let s = batch();
        let m = mix_decoder_inputs(&s, &logits(8), 2, M, mix(1.0, 1.0), &mut SketchRng::new(1));
        assert_eq!(m.unwrap().targets, s);
    }

    /// One drawing of five real rows, every offset (1, 0); the model always
    /// samples (3, −3). Rows 2 and 3 sampled, rows 1 and 4 human:
    /// C_1 = (1, 0), D_1 = 0; C_2 = (1, 0), y_2 = (3, −3), D_2 = (−2, 3);
    /// C_3 = (−1, 3), y_3 = (3, −3), D_3 = (−4, 6); C_4 = (−3, 6), D_4 = 0;
    /// C_5 = (1, 0). The pen's absolute position after row 4 is the human one.
    #[test]
    fn drift_correction_brings_the_targets_back_to_the_human_path() {
        let n = 5;
        let mut s = vec![0., 0., 1., 0., 0.];
        for _ in 0..n {
            s.extend([1.0, 0.0, 1., 0., 0.]);
        }
        // Find a seed whose draws sample exactly rows 2 and 3 at p = 0.5.
        let mixing = Mixing {
            p: 0.5,
            temperature: 1.0,
            correct_drift: true,
        };
        let sampled = |m: &MixedBatch| -> Vec<usize> {
            (1..n)
                .filter(|&r| (m.inputs[r * 5] - 3.0).abs() < 1e-3)
                .collect()
        };
        let m = (0..1000)
            .map(|seed| {
                mix_decoder_inputs(&s, &logits(n), 1, M, mixing, &mut SketchRng::new(seed)).unwrap()
            })
            .find(|m| sampled(m) == [2, 3])
            .expect("a seed that samples rows 2 and 3");
        let xy = |v: &[f32], r: usize| (v[r * 5], v[r * 5 + 1]);
        let want = [(1.0, 0.0), (1.0, 0.0), (-1.0, 3.0), (-3.0, 6.0), (1.0, 0.0)];
        for (r, w) in (1..=n).zip(want) {
            let t = xy(&m.targets, r);
            assert!(
                (t.0 - w.0).abs() < 1e-3 && (t.1 - w.1).abs() < 1e-3,
                "target {r}: {t:?}"
            );
        }
        // unsampled inputs are the corrected rows; the pen states stay human
        assert_eq!(xy(&m.inputs, 1), xy(&m.targets, 1));
        assert_eq!(xy(&m.inputs, 4), xy(&m.targets, 4));
        assert_eq!(
            m.targets[5..].chunks(5).map(|r| r[2]).sum::<f32>(),
            n as f32
        );
        // inputs plus the last target reach the human end point: Σ = (5, 0)
        let (mut x, mut y) = (0.0, 0.0);
        for r in 1..n {
            x += m.inputs[r * 5];
            y += m.inputs[r * 5 + 1];
        }
        x += m.targets[n * 5];
        y += m.targets[n * 5 + 1];
        assert!((x - 5.0).abs() < 1e-3 && y.abs() < 1e-3, "({x}, {y})");
    }

    #[test]
    fn a_sampled_end_keeps_the_human_pen_state() {
        let s = batch();
        let mut l = logits(8);
        let w = output_size(M);
        for r in 0..8 {
            l[r * w..r * w + PEN_STATES].copy_from_slice(&[-20.0, -20.0, 20.0]);
        }
        let mixed = mix_decoder_inputs(&s, &l, 2, M, mix(1.0, 1.0), &mut SketchRng::new(1))
            .unwrap()
            .inputs;
        for r in 1..4 {
            assert_eq!(mixed[r * 5 + 2..r * 5 + 5], s[r * 5 + 2..r * 5 + 5]);
            assert!((mixed[r * 5] - 3.0).abs() < 1e-3);
        }
    }

    #[test]
    fn replaces_about_the_asked_share_of_rows() {
        // 200 drawings of 50 real rows each
        let (b, n) = (200, 50);
        let mut s = Vec::new();
        for _ in 0..b {
            s.extend([0., 0., 1., 0., 0.]);
            for _ in 0..n {
                s.extend([0.1, 0.1, 1., 0., 0.]);
            }
        }
        let mixed = mix_decoder_inputs(
            &s,
            &logits(b * n),
            b,
            M,
            mix(0.3, 1.0),
            &mut SketchRng::new(7),
        )
        .unwrap()
        .inputs;
        let changed = mixed
            .chunks(5)
            .zip(s.chunks(5))
            .filter(|(m, h)| m != h)
            .count();
        let candidates = b * (n - 1);
        let share = changed as f64 / candidates as f64;
        assert!((share - 0.3).abs() < 0.02, "share {share}");
    }

    #[test]
    fn refuses_logits_of_the_wrong_size() {
        let s = batch();
        let e = mix_decoder_inputs(&s, &logits(7), 2, M, mix(0.5, 1.0), &mut SketchRng::new(1));
        assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    }
}

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

use crate::error::{Error, Result};
use crate::model::encoder::STROKE_WIDTH;
use crate::model::mixture::{Mixture, output_size};
use crate::rng::SketchRng;
use crate::sample::sample_point;

/// Column of the end-of-drawing pen state `p3` in a stroke-5 row.
const END_COLUMN: usize = 4;

/// The decoder inputs of a batch with some rows replaced by the model's own
/// samples.
///
/// `strokes` is the batch, row-major `[B, N_max + 1, 5]` (start token first,
/// normalised units); `logits` the teacher-forced pass's raw outputs
/// `[B·N_max, 6M+3]`, row `b·N_max + t` predicting row `t + 1` of drawing `b`.
/// Each row `r ≥ 1` of a drawing that is not an end-of-drawing row is replaced,
/// with probability `p`, by a point sampled at `temperature` from the
/// prediction for it. A sampled end-of-drawing pen state keeps the human
/// row's pen state (the drawing goes on after it); the start token and the
/// padding stay as they are. Returns a new `[B, N_max + 1, 5]` array.
pub fn mix_decoder_inputs(
    strokes: &[f32],
    logits: &[f32],
    batch: usize,
    num_mixtures: usize,
    p: f32,
    temperature: f32,
    rng: &mut SketchRng,
) -> Result<Vec<f32>> {
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
    let mut mixed = strokes.to_vec();
    let mut mixture = Mixture::with_components(num_mixtures);
    for b in 0..batch {
        // Rows 1..N_max of the input; row N_max is only a target, never read.
        for r in 1..steps {
            let o = (b * (steps + 1) + r) * STROKE_WIDTH;
            if strokes[o + END_COLUMN] != 0.0 || rng.uniform() >= p {
                continue;
            }
            let raw = &logits[(b * steps + r - 1) * width..(b * steps + r) * width];
            mixture.set_from_raw(raw, temperature)?;
            let point = sample_point(&mixture, rng);
            mixed[o] = point[0];
            mixed[o + 1] = point[1];
            if point[END_COLUMN] == 0.0 {
                mixed[o + 2..o + STROKE_WIDTH].copy_from_slice(&point[2..]);
            }
        }
    }
    Ok(mixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mixture::PEN_STATES;

    const M: usize = 2;

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
        let mixed =
            mix_decoder_inputs(&s, &logits(8), 2, M, 0.0, 1.0, &mut SketchRng::new(1)).unwrap();
        assert_eq!(mixed, s);
    }

    #[test]
    fn certain_replacement_takes_every_real_row_but_keeps_start_and_padding() {
        let s = batch();
        let mixed =
            mix_decoder_inputs(&s, &logits(8), 2, M, 1.0, 1.0, &mut SketchRng::new(1)).unwrap();
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
    fn a_sampled_end_keeps_the_human_pen_state() {
        let s = batch();
        let mut l = logits(8);
        let w = output_size(M);
        for r in 0..8 {
            l[r * w..r * w + PEN_STATES].copy_from_slice(&[-20.0, -20.0, 20.0]);
        }
        let mixed = mix_decoder_inputs(&s, &l, 2, M, 1.0, 1.0, &mut SketchRng::new(1)).unwrap();
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
        let mixed =
            mix_decoder_inputs(&s, &logits(b * n), b, M, 0.3, 1.0, &mut SketchRng::new(7)).unwrap();
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
        let e = mix_decoder_inputs(&s, &logits(7), 2, M, 0.5, 1.0, &mut SketchRng::new(1));
        assert!(matches!(e, Err(Error::Shape { .. })), "{e:?}");
    }
}

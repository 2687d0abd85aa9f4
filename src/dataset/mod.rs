//! Data sets: sketch-rnn `.npz` files ([`npz`], with the restricted unpickler in
//! [`pickle`]), Quick, Draw! `.ndjson` files ([`ndjson`]), and [`Dataset`], which
//! filters, normalises, augments and batches drawings for the model.

pub mod ndjson;
pub mod npz;
pub mod pickle;

pub use npz::{Drawing, SketchSplits, read_npz, write_npz};

use crate::error::{Error, Result};
use crate::rng::SketchRng;
use crate::stroke::{START_TOKEN, Stroke3, stroke3_to_stroke5_padded};

/// Offsets beyond this many pixels are clipped when loading, as sketch-rnn's
/// `DataLoader.preprocess` does (`limit=1000`).
pub const OFFSET_LIMIT_PX: f32 = 1000.0;
/// Paper default for random per-axis scaling during training (±15%).
pub const DEFAULT_RANDOM_SCALE: f32 = 0.15;
/// Paper default probability of dropping a point during training.
pub const DEFAULT_POINT_DROP: f32 = 0.10;

/// The median over `drawings` of each drawing's larger bounding-box side, in
/// the data's pixels; `None` when there are no drawings.
pub fn typical_size_px(drawings: &[Drawing]) -> Option<f32> {
    let mut sizes: Vec<f32> = drawings
        .iter()
        .filter_map(|d| crate::stroke::BoundingBox::of_stroke3(d))
        .map(|b| b.width().max(b.height()))
        .filter(|s| s.is_finite())
        .collect();
    if sizes.is_empty() {
        return None;
    }
    sizes.sort_by(f32::total_cmp);
    Some(sizes[sizes.len() / 2])
}

/// The scale factor of a set of drawings: the standard deviation of all `dx` and
/// `dy` offsets together (sketch-rnn's `calculate_normalizing_scale_factor`), in pixels.
pub fn scale_factor(drawings: &[Drawing]) -> Result<f32> {
    let (mut n, mut sum, mut sum2) = (0f64, 0f64, 0f64);
    for d in drawings {
        for r in d {
            for &v in &r[..2] {
                let v = v as f64;
                n += 1.0;
                sum += v;
                sum2 += v * v;
            }
        }
    }
    if n == 0.0 {
        return Err(Error::EmptyDrawing(
            "no offsets to compute a scale factor from".into(),
        ));
    }
    let mean = sum / n;
    let sd = (sum2 / n - mean * mean).max(0.0).sqrt();
    if sd.is_nan() || sd <= 0.0 {
        return Err(Error::invalid_argument(
            "scale factor",
            "all offsets are equal",
        ));
    }
    Ok(sd as f32)
}

/// Training-time augmentation of a normalised drawing (paper section 3.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Each axis is scaled by a factor drawn uniformly from `[1 - s, 1 + s]`.
    pub random_scale: f32,
    /// Probability of merging a pen-down point into its predecessor.
    pub point_drop: f32,
}

impl Default for Augmentation {
    fn default() -> Self {
        Augmentation {
            random_scale: DEFAULT_RANDOM_SCALE,
            point_drop: DEFAULT_POINT_DROP,
        }
    }
}

impl Augmentation {
    /// Applies the augmentation, as sketch-rnn's `random_scale` and `augment_strokes`:
    /// a point is dropped (its offset added to the previous kept point) only inside a
    /// pen-down run, after its third point, so stroke ends are never lost.
    pub fn apply(&self, drawing: &[Stroke3], rng: &mut SketchRng) -> Vec<Stroke3> {
        let sx = rng.uniform_range(1.0 - self.random_scale, 1.0 + self.random_scale);
        let sy = rng.uniform_range(1.0 - self.random_scale, 1.0 + self.random_scale);
        let mut out: Vec<Stroke3> = Vec::with_capacity(drawing.len());
        let mut prev_lifted = true;
        let mut count = 0usize;
        for r in drawing {
            let lifted = r[2] > 0.5;
            if lifted || prev_lifted {
                count = 0;
            } else {
                count += 1;
            }
            let u = rng.uniform();
            let drop = !lifted && !prev_lifted && count > 2 && u < self.point_drop;
            match out.last_mut() {
                Some(last) if drop => {
                    last[0] += r[0] * sx;
                    last[1] += r[1] * sy;
                }
                _ => {
                    out.push([r[0] * sx, r[1] * sy, r[2]]);
                    prev_lifted = lifted;
                }
            }
        }
        out
    }
}

/// A padded batch of drawings for the model, in normalised offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Row-major `[batch, max_seq_len + 1, 5]`: the start token, then each drawing's
    /// stroke-5 rows padded with end-of-drawing rows.
    pub strokes: Vec<f32>,
    /// Number of real rows of each drawing (without the start token).
    pub lengths: Vec<usize>,
    pub batch_size: usize,
    pub max_seq_len: usize,
}

/// Drawings ready for training: filtered by length, normalised by a scale factor.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Drawings in normalised offsets.
    drawings: Vec<Drawing>,
    scale_factor: f32,
    max_seq_len: usize,
}

impl Dataset {
    /// Keeps drawings with 1 to `max_seq_len` rows, clips offsets to
    /// ±[`OFFSET_LIMIT_PX`] and divides them by `scale_factor` (computed from these
    /// drawings with [`scale_factor`] when `None`; pass the training split's for
    /// validation and test sets).
    pub fn new(drawings: &[Drawing], max_seq_len: usize, scale: Option<f32>) -> Result<Dataset> {
        if max_seq_len == 0 {
            return Err(Error::invalid_argument("max_seq_len", "must be at least 1"));
        }
        let kept: Vec<Drawing> = drawings
            .iter()
            .filter(|d| !d.is_empty() && d.len() <= max_seq_len)
            .map(|d| {
                d.iter()
                    .map(|r| {
                        [
                            r[0].clamp(-OFFSET_LIMIT_PX, OFFSET_LIMIT_PX),
                            r[1].clamp(-OFFSET_LIMIT_PX, OFFSET_LIMIT_PX),
                            r[2],
                        ]
                    })
                    .collect()
            })
            .collect();
        if kept.is_empty() {
            return Err(Error::EmptyDrawing(format!(
                "no drawing of 1 to {max_seq_len} rows among {}",
                drawings.len()
            )));
        }
        let scale_factor = match scale {
            Some(s) if s.is_finite() && s > 0.0 => s,
            Some(s) => {
                return Err(Error::invalid_argument(
                    "scale_factor",
                    format!("must be > 0, found {s}"),
                ));
            }
            None => self::scale_factor(&kept)?,
        };
        let drawings = kept
            .into_iter()
            .map(|d| crate::stroke::normalise(&d, scale_factor))
            .collect();
        Ok(Dataset {
            drawings,
            scale_factor,
            max_seq_len,
        })
    }

    pub fn len(&self) -> usize {
        self.drawings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.drawings.is_empty()
    }

    /// Pixels per normalised unit.
    pub fn scale_factor(&self) -> f32 {
        self.scale_factor
    }

    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// The drawings, in normalised offsets.
    pub fn drawings(&self) -> &[Drawing] {
        &self.drawings
    }

    /// The batch of the drawings at `indices`, augmented when `augment` is given.
    pub fn batch(
        &self,
        indices: &[usize],
        mut augment: Option<(&Augmentation, &mut SketchRng)>,
    ) -> Result<Batch> {
        let n = self.max_seq_len;
        let mut strokes = Vec::with_capacity(indices.len() * (n + 1) * 5);
        let mut lengths = Vec::with_capacity(indices.len());
        for &i in indices {
            let d = self.drawings.get(i).ok_or_else(|| {
                Error::invalid_argument(
                    "batch index",
                    format!("{i} is beyond the {} drawings", self.len()),
                )
            })?;
            let d = match augment.as_mut() {
                Some((a, rng)) => a.apply(d, rng),
                None => d.clone(),
            };
            lengths.push(d.len());
            strokes.extend_from_slice(&START_TOKEN);
            for row in stroke3_to_stroke5_padded(&d, n)? {
                strokes.extend_from_slice(&row);
            }
        }
        Ok(Batch {
            strokes,
            lengths,
            batch_size: indices.len(),
            max_seq_len: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_has_start_token_and_padding() {
        let d = vec![vec![[10.0, 0.0, 0.0], [0.0, 10.0, 1.0]]];
        let ds = Dataset::new(&d, 3, Some(10.0)).unwrap();
        let b = ds.batch(&[0], None).unwrap();
        assert_eq!(b.lengths, vec![2]);
        assert_eq!(
            b.strokes,
            vec![
                0., 0., 1., 0., 0., //
                1., 0., 1., 0., 0., //
                0., 1., 0., 1., 0., //
                0., 0., 0., 0., 1.
            ]
        );
    }

    #[test]
    fn point_drop_keeps_stroke_ends_and_total_offset() {
        let d: Drawing = (0..50)
            .map(|i| [1.0, 2.0, if i % 10 == 9 { 1.0 } else { 0.0 }])
            .collect();
        let a = Augmentation {
            random_scale: 0.0,
            point_drop: 0.5,
        };
        let out = a.apply(&d, &mut SketchRng::new(1));
        assert!(out.len() < d.len());
        assert_eq!(out.iter().filter(|r| r[2] == 1.0).count(), 5);
        let sum: f32 = out.iter().map(|r| r[0]).sum();
        assert!((sum - 50.0).abs() < 1e-4);
    }

    #[test]
    fn scale_factor_is_the_standard_deviation() {
        let d = vec![vec![[1.0, -1.0, 0.0], [1.0, -1.0, 1.0]]];
        assert!((scale_factor(&d).unwrap() - 1.0).abs() < 1e-6);
    }
}

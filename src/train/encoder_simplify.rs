//! Training the encoder on simplified drawings (not in the paper).
//!
//! The human drawings of a data set like aaron_sheep are dense: a woolly body
//! is dozens of short offsets (the data were simplified with RDP at 2 px, and
//! woolly outlines keep many of their points). A smooth outline drawn with a
//! mouse keeps far fewer after the app's RDP, its segments several times
//! longer, and an encoder that has only read dense drawings reads such a sparse
//! one poorly (the model card's *Drawings with few points*). With
//! [`super::TrainConfig::encoder_simplify_px`] = E, the encoder of each
//! training drawing reads it simplified again with RDP at a tolerance ε drawn
//! uniformly from `[0, E]` pixels, while the decoder still reconstructs every
//! row of the original: the ELBO (paper equations 8–10) of the dense drawing
//! under `q(z | a sparser copy)`, so that a sparse drawing encodes near the
//! dense drawings of the same shape and the decoder answers it with a drawing
//! as dense as the data's.

use crate::error::Result;
use crate::model::encoder::STROKE_WIDTH;
use crate::rng::SketchRng;
use crate::stroke::{
    Stroke3, Stroke5, polylines_to_stroke3, rdp_polylines, stroke3_to_polylines,
    stroke3_to_stroke5_padded, stroke5_to_stroke3,
};

/// What the encoder reads: a batch in the layout of [`crate::dataset::Batch`]
/// (row-major `[batch, max_seq_len + 1, 5]`, start token first, normalised
/// offsets) and each drawing's number of real rows, never more than the
/// original's.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderBatch {
    pub strokes: Vec<f32>,
    pub lengths: Vec<usize>,
}

/// Each drawing of the batch `strokes` (`[batch, max_seq_len + 1, 5]`, with
/// `lengths[b]` real rows after the start token, normalised offsets)
/// simplified with RDP at a tolerance drawn uniformly from
/// `[0, max_epsilon]` (normalised units: pixels / scale factor), re-padded to
/// the same layout. Stroke ends and the pen lifts between strokes are kept
/// (RDP keeps each polyline's end points), so [`super::encoder_prefix`] can
/// cut the result at a stroke end as it cuts the original. Draws one number
/// from `rng` for each drawing.
pub fn simplified_batch(
    strokes: &[f32],
    lengths: &[usize],
    max_seq_len: usize,
    max_epsilon: f32,
    rng: &mut SketchRng,
) -> Result<EncoderBatch> {
    let row_count = max_seq_len + 1;
    let mut out = Vec::with_capacity(strokes.len());
    let mut out_lengths = Vec::with_capacity(lengths.len());
    for (b, &len) in lengths.iter().enumerate() {
        let epsilon = rng.uniform_range(0.0, max_epsilon);
        let first = b * row_count;
        // rows 1..=len of drawing b (row 0 is the start token)
        let rows: Vec<Stroke5> = (first + 1..=first + len)
            .map(|r| {
                let s = &strokes[r * STROKE_WIDTH..(r + 1) * STROKE_WIDTH];
                [s[0], s[1], s[2], s[3], s[4]]
            })
            .collect();
        let drawing: Vec<Stroke3> = stroke5_to_stroke3(&rows);
        let simple = polylines_to_stroke3(&rdp_polylines(&stroke3_to_polylines(&drawing), epsilon));
        // RDP never adds points; a drawing it cannot shorten stays as it was,
        // row for row (not rebuilt from absolute positions, which rounds)
        let kept = if simple.is_empty() || simple.len() >= len {
            drawing
        } else {
            simple
        };
        out.extend_from_slice(&strokes[first * STROKE_WIDTH..(first + 1) * STROKE_WIDTH]);
        for row in stroke3_to_stroke5_padded(&kept, max_seq_len)? {
            out.extend_from_slice(&row);
        }
        out_lengths.push(kept.len());
    }
    Ok(EncoderBatch {
        strokes: out,
        lengths: out_lengths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stroke::{END_OF_DRAWING, START_TOKEN};

    fn batch_of(drawings: &[Vec<Stroke3>], n: usize) -> (Vec<f32>, Vec<usize>) {
        let mut strokes = Vec::new();
        for d in drawings {
            strokes.extend_from_slice(&START_TOKEN);
            for r in stroke3_to_stroke5_padded(d, n).unwrap() {
                strokes.extend_from_slice(&r);
            }
        }
        (strokes, drawings.iter().map(Vec::len).collect())
    }

    /// Ten collinear steps then a lifted stroke of three points.
    fn collinear() -> Vec<Stroke3> {
        let mut d: Vec<Stroke3> = (0..10).map(|_| [0.1, 0.0, 0.0]).collect();
        d.push([0.1, 0.0, 1.0]);
        d.extend([[0.0, 0.5, 0.0], [0.1, 0.1, 0.0], [0.1, -0.1, 1.0]]);
        d
    }

    #[test]
    fn collinear_points_go_and_strokes_stay() {
        let (strokes, lengths) = batch_of(&[collinear()], 20);
        let mut rng = SketchRng::new(3);
        // any ε in (0, 1]: the straight run keeps only its ends; the
        // second stroke's bend is 0.1 high, kept only when ε < 0.1
        let e = simplified_batch(&strokes, &lengths, 20, 1.0, &mut rng).unwrap();
        assert_eq!(e.strokes.len(), strokes.len());
        let n = e.lengths[0];
        assert!((4..=5).contains(&n), "found {n} rows");
        let rows: Vec<Stroke5> = (1..=n)
            .map(|r| {
                let s = &e.strokes[r * 5..r * 5 + 5];
                [s[0], s[1], s[2], s[3], s[4]]
            })
            .collect();
        let d = stroke5_to_stroke3(&rows);
        let lifts = d.iter().filter(|r| r[2] > 0.5).count();
        assert_eq!(lifts, 2, "both strokes end with a lift: {d:?}");
        // the first stroke keeps its first point and its end, nothing between
        assert!((d[0][0] - 0.1).abs() < 1e-5 && d[0][2] < 0.5, "{d:?}");
        assert!((d[1][0] - 1.0).abs() < 1e-5 && d[1][2] > 0.5, "{d:?}");
        // the total offset is unchanged
        let (sx, sy) = d.iter().fold((0.0, 0.0), |(x, y), r| (x + r[0], y + r[1]));
        assert!((sx - 1.3).abs() < 1e-5 && (sy - 0.5).abs() < 1e-5);
        // padding rows are end-of-drawing rows
        let last = &e.strokes[20 * 5..21 * 5];
        assert_eq!(last, &END_OF_DRAWING);
    }

    #[test]
    fn zero_tolerance_keeps_every_point_that_bends() {
        let zigzag: Vec<Stroke3> = (0..12)
            .map(|i| {
                [
                    0.2,
                    if i % 2 == 0 { 0.3 } else { -0.3 },
                    (i == 11) as u8 as f32,
                ]
            })
            .collect();
        let (strokes, lengths) = batch_of(&[zigzag.clone(), collinear()], 16);
        let mut rng = SketchRng::new(5);
        let e = simplified_batch(&strokes, &lengths, 16, 0.0, &mut rng).unwrap();
        assert_eq!(e.lengths[0], zigzag.len());
        assert_eq!(&e.strokes[..17 * 5], &strokes[..17 * 5]);
        assert!(e.lengths[1] <= lengths[1], "{:?}", e.lengths);
    }
}

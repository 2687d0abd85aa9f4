//! Training the encoder on the beginnings of drawings (not in the paper).
//!
//! "Finish it" needs a latent for a *whole* drawing that begins like the
//! user's half drawing. The paper's encoder only ever reads whole drawings, so
//! it reads a half sheep as a whole sheep without legs, and the decoder given
//! that latent ends the drawing at once (README *Finishing a drawing*). With
//! [`super::TrainConfig::encoder_prefix`] = p, the encoder of each training
//! drawing reads, with probability p, only its first k of n strokes (k uniform
//! in 1..n), while the decoder still reconstructs all n: the ELBO (paper
//! equations 8–10) of the whole drawing under `q(z | its beginning)`, so that
//! `q` learns to put a beginning's latent where whole drawings that begin so
//! lie.

use crate::model::encoder::STROKE_WIDTH;
use crate::rng::SketchRng;

/// Column of p₂ in a stroke-5 row (Δx, Δy, p₁ pen down, p₂ pen up, p₃ end),
/// "the pen lifts after this point": the end of a stroke.
const PEN_UP: usize = 3;

/// The rows the encoder reads of each drawing of a batch: `lengths[b]`
/// (the whole drawing), or with probability `p` (for drawings of at least
/// two strokes) the rows up to the end of its k-th stroke, k uniform in
/// `1..n` for a drawing of n strokes. `strokes` is the batch's row-major
/// `[batch, max_seq_len + 1, 5]` (start token first, normalised units).
/// Draws from `rng` only when `p` > 0, so runs without it keep their random
/// sequence.
pub fn encoder_lengths(
    strokes: &[f32],
    lengths: &[usize],
    max_seq_len: usize,
    p: f32,
    rng: &mut SketchRng,
) -> Vec<usize> {
    if p <= 0.0 {
        return lengths.to_vec();
    }
    lengths
        .iter()
        .enumerate()
        .map(|(b, &len)| {
            if rng.uniform() >= p {
                return len;
            }
            // rows 1..=len of drawing b (row 0 is the start token)
            let first = b * (max_seq_len + 1) + 1;
            let stroke_ends: Vec<usize> = (0..len)
                .filter(|&r| strokes[(first + r) * STROKE_WIDTH + PEN_UP] > 0.5)
                .map(|r| r + 1)
                .collect();
            // the last stroke's end is the whole drawing: keep 1..n-1 of them
            let whole_strokes = stroke_ends.len();
            if whole_strokes < 2 {
                return len;
            }
            let k = 1 + rng.index(whole_strokes - 1);
            stroke_ends[k - 1]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of two drawings padded to 6 rows: three strokes of 2, 1 and 2
    /// rows (ends at rows 2, 3, 5), and one single-stroke drawing of 3 rows.
    fn batch() -> (Vec<f32>, Vec<usize>) {
        let down = [1.0, 0.0, 1.0, 0.0, 0.0];
        let up = [1.0, 0.0, 0.0, 1.0, 0.0];
        let end = [0.0, 0.0, 0.0, 0.0, 1.0];
        let start = [0.0, 0.0, 1.0, 0.0, 0.0];
        let a = [start, down, up, up, down, up, end];
        let b = [start, down, down, up, end, end, end];
        let rows: Vec<f32> = a.iter().chain(&b).flatten().copied().collect();
        (rows, vec![5, 3])
    }

    #[test]
    fn without_prefixes_the_encoder_reads_whole_drawings() {
        let (rows, lengths) = batch();
        let mut rng = SketchRng::new(1);
        assert_eq!(encoder_lengths(&rows, &lengths, 6, 0.0, &mut rng), lengths);
        assert_eq!(rng.uniform(), SketchRng::new(1).uniform(), "no draws");
    }

    #[test]
    fn prefixes_end_where_a_stroke_ends_and_leave_a_stroke_out() {
        let (rows, lengths) = batch();
        let mut rng = SketchRng::new(2);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let got = encoder_lengths(&rows, &lengths, 6, 1.0, &mut rng);
            assert!(
                got[0] == 2 || got[0] == 3,
                "a prefix of 1 or 2 strokes, found {}",
                got[0]
            );
            assert_eq!(got[1], 3, "a one-stroke drawing is read whole");
            seen.insert(got[0]);
        }
        assert_eq!(seen.len(), 2, "both prefixes drawn");
    }
}

//! How closely one drawing keeps another's layout, as a number: issue #3's
//! question "do reconstructions keep the layout of the input?" asked of a whole
//! split at once instead of by eye.
//!
//! * [`layout_points`]: points spaced evenly along a drawing's pen-down strokes,
//!   in a *unit box*: the bounding box's centre at the origin and its longer
//!   side of length one. Position and size drop out; the aspect ratio and where
//!   the parts sit (a head on the left, legs below a body) stay.
//! * [`chamfer`]: the symmetric Chamfer distance between two point sets,
//!   `½ (mean_a min_b |a − b| + mean_b min_a |a − b|)`, in unit-box lengths
//!   (0 for the same shape).
//! * [`retrieval`]: each reconstruction's own input ranked among all the inputs
//!   by that distance ([`RetrievalScore::pairwise`]: the share of other inputs
//!   farther from a reconstruction than its own). Chance is 0.5 pairwise, `1/n`
//!   for the top 1 and `5/n` for the top 5; a decoder that ignored its latent
//!   scores near chance, one that kept every input's layout scores 1. An empty
//!   reconstruction counts as a miss, so a model that often draws nothing scores
//!   below chance.
//!
//! The distance sees outlines only, not the order or direction of strokes,
//! which is what a person compares when judging layout by eye.

use crate::error::{Error, Result};
use crate::stroke::{Point, Stroke3, scale_to_fit, stroke3_to_polylines};

/// Points [`layout_points`] places along a drawing: enough that consecutive
/// points of a typical sheep outline lie a few hundredths of the box apart, so
/// legs, ears and a head each get several.
pub const LAYOUT_POINTS: usize = 128;

/// How many of the nearest inputs count as a hit for [`RetrievalScore::top5`].
pub const TOP_K: usize = 5;

/// `n` points spaced evenly (by arc length) along the pen-down strokes of a
/// stroke-3 drawing (any units), moved and scaled into the unit box (see the
/// module doc). Pen-up moves are not drawn and get no points. A drawing whose
/// strokes have no length (only dots) gives its dots; an empty one gives none.
pub fn layout_points(drawing: &[Stroke3], n: usize) -> Vec<Point> {
    // fitted into [0, 1]², then moved so the box's centre is the origin
    let lines = scale_to_fit(&stroke3_to_polylines(drawing), 1.0, 1.0, 0.0);
    let unit = |p: &Point| [p[0] - 0.5, p[1] - 0.5];
    // (start, end, length) of every drawn segment, in unit-box lengths
    let segments: Vec<(Point, Point, f64)> = lines
        .iter()
        .flat_map(|l| l.windows(2))
        .map(|w| {
            let (a, e) = (unit(&w[0]), unit(&w[1]));
            (a, e, distance(a, e) as f64)
        })
        .filter(|s| s.2 > 0.0)
        .collect();
    let total: f64 = segments.iter().map(|s| s.2).sum();
    if total <= 0.0 {
        return lines.iter().flatten().map(unit).collect();
    }
    let mut points = Vec::with_capacity(n);
    let (mut k, mut start_of_segment) = (0usize, 0.0f64);
    for i in 0..n {
        // the middle of the i-th of n equal pieces of the total length
        let target = (i as f64 + 0.5) * total / n as f64;
        while k + 1 < segments.len() && start_of_segment + segments[k].2 < target {
            start_of_segment += segments[k].2;
            k += 1;
        }
        let (a, e, len) = segments[k];
        let t = ((target - start_of_segment) / len).clamp(0.0, 1.0) as f32;
        points.push([a[0] + (e[0] - a[0]) * t, a[1] + (e[1] - a[1]) * t]);
    }
    points
}

fn distance(a: Point, b: Point) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Mean over `a` of the distance to the nearest point of `b`.
fn mean_nearest(a: &[Point], b: &[Point]) -> f64 {
    let sum: f64 = a
        .iter()
        .map(|p| {
            b.iter()
                .map(|q| distance(*p, *q))
                .fold(f32::INFINITY, f32::min) as f64
        })
        .sum();
    sum / a.len() as f64
}

/// The symmetric Chamfer distance `½ (mean_a min_b |a − b| + mean_b min_a |a − b|)`
/// between two point sets (units of the points; unit-box lengths for
/// [`layout_points`]). Infinite when either set is empty: an empty drawing
/// resembles nothing.
pub fn chamfer(a: &[Point], b: &[Point]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::INFINITY;
    }
    0.5 * (mean_nearest(a, b) + mean_nearest(b, a))
}

/// How well reconstructions pick out their own inputs, from [`retrieval`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetrievalScore {
    /// Number of (input, reconstruction) pairs.
    pub n: usize,
    /// Mean over reconstructions of the fraction of the other inputs that lie
    /// farther from it than its own input: 0.5 is chance (a reconstruction that
    /// knows nothing of its input), 1 means each is nearest its own.
    pub pairwise: f64,
    /// Fraction of reconstructions nearer their own input than every other input.
    pub top1: f64,
    /// Fraction whose own input is among the [`TOP_K`] nearest inputs.
    pub top5: f64,
    /// Median rank of the own input (1: nearest; `n`: farthest).
    pub median_rank: f64,
    /// Median Chamfer distance from a reconstruction to its own input (unit-box lengths).
    pub median_own_distance: f64,
    /// Median Chamfer distance from a reconstruction to the other inputs (unit-box lengths).
    pub median_other_distance: f64,
    /// Median over reconstructions of the Chamfer distance to the *nearest* input,
    /// its own or another (unit-box lengths): whether what the model draws looks
    /// like some drawing of the set at all, whichever one. For decodings from the
    /// prior this measures how human-like unconditional samples are; compare it
    /// with [`RetrievalScore::median_input_nearest_distance`].
    pub median_nearest_distance: f64,
    /// Median over inputs of the Chamfer distance to the nearest *other* input
    /// (unit-box lengths): how far apart the human drawings themselves lie, the
    /// level a model whose drawings were as human-like as the set would reach.
    /// NaN (JSON `null`) for a single input.
    pub median_input_nearest_distance: f64,
    /// Rank of each reconstruction's own input, in input order.
    pub ranks: Vec<usize>,
}

/// Ranks each reconstruction's own input among all `inputs` by [`chamfer`]
/// distance between their [`layout_points`]. `reconstructions[i]` is the
/// reconstruction of `inputs[i]`; both are point sets from [`layout_points`].
/// The rank of input `i` for reconstruction `i` is `1 + #{j ≠ i : d(r_i, x_j) ≤ d(r_i, x_i)}`,
/// so ties count against it and an empty reconstruction ranks last.
///
/// Cost: about `1.5 n²` Chamfer distances of `LAYOUT_POINTS²` point pairs each
/// (every reconstruction against every input, and every pair of inputs).
pub fn retrieval(reconstructions: &[Vec<Point>], inputs: &[Vec<Point>]) -> Result<RetrievalScore> {
    let n = inputs.len();
    if reconstructions.len() != n {
        return Err(Error::Shape {
            what: "reconstructions (one per input)".into(),
            expected: vec![n],
            found: vec![reconstructions.len()],
        });
    }
    if n == 0 {
        return Err(Error::invalid_argument(
            "inputs",
            "retrieval needs at least one drawing, found none",
        ));
    }
    let mut ranks = Vec::with_capacity(n);
    let mut own = Vec::with_capacity(n);
    let mut other = Vec::with_capacity(n * (n - 1));
    let mut nearest = Vec::with_capacity(n);
    for (i, r) in reconstructions.iter().enumerate() {
        let d: Vec<f64> = inputs.iter().map(|x| chamfer(r, x)).collect();
        let mine = d[i];
        nearest.push(d.iter().copied().fold(f64::INFINITY, f64::min));
        let closer = d
            .iter()
            .enumerate()
            .filter(|&(j, &dj)| j != i && dj <= mine)
            .count();
        ranks.push(1 + closer);
        own.push(mine);
        other.extend(
            d.iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, v)| *v),
        );
    }
    // each input's nearest other input; chamfer is symmetric, so half the pairs do
    let mut input_nearest = vec![f64::INFINITY; n];
    for i in 0..n {
        for j in i + 1..n {
            let d = chamfer(&inputs[i], &inputs[j]);
            input_nearest[i] = input_nearest[i].min(d);
            input_nearest[j] = input_nearest[j].min(d);
        }
    }
    if n == 1 {
        input_nearest.clear();
    }
    let hits = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n as f64;
    let mut rank_values: Vec<f64> = ranks.iter().map(|&r| r as f64).collect();
    let pairwise = if n > 1 {
        rank_values
            .iter()
            .map(|r| (n as f64 - r) / (n - 1) as f64)
            .sum::<f64>()
            / n as f64
    } else {
        1.0
    };
    Ok(RetrievalScore {
        n,
        pairwise,
        top1: hits(1),
        top5: hits(TOP_K),
        median_rank: median(&mut rank_values),
        median_own_distance: median(&mut own),
        median_other_distance: median(&mut other),
        median_nearest_distance: median(&mut nearest),
        median_input_nearest_distance: median(&mut input_nearest),
        ranks,
    })
}

/// Median of the values (mean of the middle two for an even count); NaN for none.
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed square of side `s` drawn from `(x, y)` in pixels, as stroke-3.
    fn square(x: f32, y: f32, s: f32) -> Vec<Stroke3> {
        vec![
            [x, y, 0.0],
            [s, 0.0, 0.0],
            [0.0, s, 0.0],
            [-s, 0.0, 0.0],
            [0.0, -s, 1.0],
        ]
    }

    /// An "L": a vertical stroke and, after a pen-up move, a horizontal one at its foot.
    fn ell() -> Vec<Stroke3> {
        vec![
            [0.0, 0.0, 0.0],
            [0.0, 10.0, 1.0],
            [1.0, 0.0, 0.0],
            [9.0, 0.0, 1.0],
        ]
    }

    #[test]
    fn layout_points_are_evenly_spaced_in_the_unit_box() {
        let p = layout_points(&square(3.0, 4.0, 10.0), 8);
        assert_eq!(p.len(), 8);
        // perimeter 4, eight pieces of 0.5: a point in the middle of each half-side
        assert_eq!(p[0], [-0.25, -0.5]);
        assert_eq!(p[1], [0.25, -0.5]);
        assert_eq!(p[2], [0.5, -0.25]);
        for q in &p {
            assert!(q[0].abs() <= 0.5 && q[1].abs() <= 0.5, "{q:?}");
        }
    }

    #[test]
    fn pen_up_moves_get_no_points() {
        // In the unit box the L's strokes run along x = −0.5 and along y = 0.5 from
        // x = −0.4; the lifted move between them (x from −0.5 to −0.4) is not drawn.
        let p = layout_points(&ell(), 38);
        for q in &p {
            let on_vertical = (q[0] - -0.5).abs() < 1e-6;
            let on_horizontal = (q[1] - 0.5).abs() < 1e-6 && q[0] >= -0.4 - 1e-6;
            assert!(on_vertical || on_horizontal, "{q:?}");
        }
    }

    #[test]
    fn dots_and_empty_drawings() {
        assert!(layout_points(&[], 8).is_empty());
        let dot = layout_points(&[[5.0, 5.0, 1.0]], 8);
        assert_eq!(dot, vec![[0.0, 0.0]]);
        assert_eq!(chamfer(&[], &dot), f64::INFINITY);
    }

    #[test]
    fn chamfer_ignores_position_and_size_but_not_shape_or_placement() {
        let a = layout_points(&square(0.0, 0.0, 10.0), LAYOUT_POINTS);
        let b = layout_points(&square(-40.0, 7.0, 3.0), LAYOUT_POINTS);
        assert!(chamfer(&a, &b) < 1e-6);
        let l = layout_points(&ell(), LAYOUT_POINTS);
        // the L mirrored left-right: the same strokes, the foot pointing the other way
        let mirrored: Vec<Stroke3> = ell().iter().map(|r| [-r[0], r[1], r[2]]).collect();
        let m = layout_points(&mirrored, LAYOUT_POINTS);
        assert!(chamfer(&l, &m) > 0.1, "{}", chamfer(&l, &m));
        assert!(chamfer(&l, &a) > 0.1);
        assert_eq!(chamfer(&l, &m), chamfer(&m, &l));
    }

    #[test]
    fn retrieval_of_perfect_and_swapped_reconstructions() {
        let l = layout_points(&ell(), LAYOUT_POINTS);
        let mirrored: Vec<Stroke3> = ell().iter().map(|r| [-r[0], r[1], r[2]]).collect();
        let m = layout_points(&mirrored, LAYOUT_POINTS);
        let s = layout_points(&square(0.0, 0.0, 1.0), LAYOUT_POINTS);
        let inputs = vec![l.clone(), m.clone(), s.clone()];
        let perfect = retrieval(&inputs, &inputs).unwrap();
        assert_eq!(
            (
                perfect.pairwise,
                perfect.top1,
                perfect.top5,
                perfect.median_rank
            ),
            (1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!(perfect.ranks, vec![1, 1, 1]);
        assert!(perfect.median_own_distance < 1e-6);
        // the L and its mirror image swapped: each is nearer the other input than its own
        let swapped = retrieval(&[m.clone(), l.clone()], &[l, m]).unwrap();
        assert_eq!(
            (swapped.pairwise, swapped.top1, swapped.median_rank),
            (0.0, 0.0, 2.0)
        );
        assert!(swapped.median_own_distance > 0.1);
        // ... yet each is a copy of some input: as near the set as can be
        assert!(swapped.median_nearest_distance < 1e-6);
        // the L and its mirror lie apart, so the inputs' own nearest neighbours do too
        assert!(swapped.median_input_nearest_distance > 0.1);
        assert!(perfect.median_nearest_distance < 1e-6);
        assert!(perfect.median_input_nearest_distance > 0.1);
        // a reconstruction unlike every input is far from the nearest of them
        let dot = vec![layout_points(&[[0.0, 0.0, 1.0]], LAYOUT_POINTS)];
        let lonely = retrieval(&dot, &inputs[..1]).unwrap();
        assert!(lonely.median_nearest_distance > 0.1);
        assert!(lonely.median_input_nearest_distance.is_nan());
        // an empty reconstruction ranks last
        let empty =
            retrieval(&[Vec::new(), inputs[1].clone(), inputs[2].clone()], &inputs).unwrap();
        assert!((empty.top1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(empty.ranks, vec![3, 1, 1]);
        assert!((empty.pairwise - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn retrieval_needs_one_reconstruction_per_input() {
        let s = layout_points(&square(0.0, 0.0, 1.0), 16);
        let e = retrieval(std::slice::from_ref(&s), &[s.clone(), s.clone()]).unwrap_err();
        assert!(
            e.to_string().contains("expected shape [2], found [1]"),
            "{e}"
        );
        let e = retrieval(&[], &[]).unwrap_err();
        assert!(e.to_string().contains("at least one drawing"), "{e}");
    }
}

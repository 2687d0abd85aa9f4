//! Stroke formats of sketch-rnn (Ha & Eck 2017, section 3.1) and their geometry.
//!
//! * **stroke-3**: rows `[dx, dy, pen_lifted]`. `(dx, dy)` moves the pen from the
//!   previous point (the first row from the origin); `pen_lifted = 1` means the
//!   pen leaves the paper *after* reaching this point, ending a stroke. This is
//!   the format of sketch-rnn's `.npz` files.
//! * **stroke-5**: rows `[dx, dy, p_down, p_up, p_end]`, one-hot pen state. The
//!   drawing ends with a row whose `p_end = 1`; padded batches repeat
//!   `[0, 0, 0, 0, 1]` up to `N_max`.
//! * **polylines**: absolute points, one polyline per pen-down stroke.
//!
//! Units: every function here is unit-agnostic and keeps the units of its input.
//! Data files hold *pixels*; the model works in *normalised offsets*
//! (pixels divided by the data set's scale factor, see [`normalise`]).

use crate::error::{Error, Result};

/// One stroke-3 row `[dx, dy, pen_lifted]` (offsets in the drawing's units).
pub type Stroke3 = [f32; 3];
/// One stroke-5 row `[dx, dy, p_down, p_up, p_end]` (offsets in the drawing's units).
pub type Stroke5 = [f32; 5];
/// An absolute point `[x, y]`.
pub type Point = [f32; 2];
/// One pen-down stroke as absolute points.
pub type Polyline = Vec<Point>;

/// The stroke-5 row that ends a drawing and pads a batch.
pub const END_OF_DRAWING: Stroke5 = [0.0, 0.0, 0.0, 0.0, 1.0];
/// The start token `S_0` fed to the decoder before the first point (paper section 3.3).
pub const START_TOKEN: Stroke5 = [0.0, 0.0, 1.0, 0.0, 0.0];
/// Ramer–Douglas–Peucker tolerance sketch-rnn's data sets were simplified with, in pixels.
pub const DEFAULT_RDP_EPSILON_PX: f32 = 2.0;

/// Pen state of a stroke-5 row, read as the arg-max of its three pen fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pen {
    Down,
    Up,
    End,
}

impl Pen {
    /// The pen state of a stroke-5 row (arg-max of `p_down, p_up, p_end`; ties go to the earlier).
    pub fn of(row: &Stroke5) -> Pen {
        if row[4] > row[2] && row[4] > row[3] {
            Pen::End
        } else if row[3] > row[2] {
            Pen::Up
        } else {
            Pen::Down
        }
    }

    /// The one-hot `[p_down, p_up, p_end]`.
    pub fn one_hot(self) -> [f32; 3] {
        match self {
            Pen::Down => [1.0, 0.0, 0.0],
            Pen::Up => [0.0, 1.0, 0.0],
            Pen::End => [0.0, 0.0, 1.0],
        }
    }
}

/// Checks a stroke-3 drawing: finite offsets and `pen_lifted` in {0, 1}.
pub fn validate_stroke3(drawing: &[Stroke3]) -> Result<()> {
    for (index, row) in drawing.iter().enumerate() {
        if !row[0].is_finite() || !row[1].is_finite() {
            return Err(Error::InvalidStroke {
                index,
                reason: format!("offset ({}, {}) is not finite", row[0], row[1]),
            });
        }
        if row[2] != 0.0 && row[2] != 1.0 {
            return Err(Error::InvalidStroke {
                index,
                reason: format!("pen_lifted must be 0 or 1, found {}", row[2]),
            });
        }
    }
    Ok(())
}

/// Stroke-3 to stroke-5, ending with one [`END_OF_DRAWING`] row (length `n + 1`).
pub fn stroke3_to_stroke5(drawing: &[Stroke3]) -> Vec<Stroke5> {
    let mut out = Vec::with_capacity(drawing.len() + 1);
    for r in drawing {
        let up = if r[2] > 0.5 { 1.0 } else { 0.0 };
        out.push([r[0], r[1], 1.0 - up, up, 0.0]);
    }
    out.push(END_OF_DRAWING);
    out
}

/// Stroke-5 to stroke-3: reads rows up to (not including) the first end row.
pub fn stroke5_to_stroke3(rows: &[Stroke5]) -> Vec<Stroke3> {
    rows.iter()
        .take_while(|r| Pen::of(r) != Pen::End)
        .map(|r| [r[0], r[1], if Pen::of(r) == Pen::Up { 1.0 } else { 0.0 }])
        .collect()
}

/// Pads a stroke-3 drawing to exactly `n_max` stroke-5 rows, as sketch-rnn's
/// `to_big_strokes`: the real rows, then [`END_OF_DRAWING`] rows.
pub fn stroke3_to_stroke5_padded(drawing: &[Stroke3], n_max: usize) -> Result<Vec<Stroke5>> {
    if drawing.len() > n_max {
        return Err(Error::TooLarge {
            what: "drawing length".into(),
            limit: n_max,
            found: drawing.len(),
        });
    }
    let mut rows = stroke3_to_stroke5(drawing);
    rows.resize(n_max.max(rows.len()), END_OF_DRAWING);
    rows.truncate(n_max.max(drawing.len()));
    Ok(rows)
}

/// Stroke-3 to absolute polylines (sketch-rnn's `strokes_to_lines`), starting at the origin.
/// A final stroke that never lifts the pen is kept.
pub fn stroke3_to_polylines(drawing: &[Stroke3]) -> Vec<Polyline> {
    let (mut x, mut y) = (0f64, 0f64);
    let mut lines = Vec::new();
    let mut line: Polyline = Vec::new();
    for r in drawing {
        x += r[0] as f64;
        y += r[1] as f64;
        line.push([x as f32, y as f32]);
        if r[2] > 0.5 {
            lines.push(std::mem::take(&mut line));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Absolute polylines to stroke-3 (sketch-rnn's `lines_to_strokes`): the first row is
/// the offset of the first point from the origin; each polyline ends with a lift.
/// Empty polylines are skipped.
pub fn polylines_to_stroke3(lines: &[Polyline]) -> Vec<Stroke3> {
    let mut out = Vec::with_capacity(lines.iter().map(Vec::len).sum());
    let (mut px, mut py) = (0f64, 0f64);
    for line in lines {
        for (i, p) in line.iter().enumerate() {
            let lifted = if i + 1 == line.len() { 1.0 } else { 0.0 };
            let (x, y) = (p[0] as f64, p[1] as f64);
            out.push([(x - px) as f32, (y - py) as f32, lifted]);
            (px, py) = (x, y);
        }
    }
    out
}

/// Distance from `p` to the segment `a`–`b`.
fn point_segment_distance(p: Point, a: Point, b: Point) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    (qx * qx + qy * qy).sqrt()
}

/// Ramer–Douglas–Peucker simplification of one polyline with tolerance `epsilon`
/// (same units as the points). Keeps both endpoints and never adds points.
/// Iterative, so deep recursion on long strokes cannot overflow the stack.
pub fn rdp(line: &[Point], epsilon: f32) -> Polyline {
    if line.len() < 3 {
        return line.to_vec();
    }
    let mut keep = vec![false; line.len()];
    keep[0] = true;
    keep[line.len() - 1] = true;
    let mut stack = vec![(0usize, line.len() - 1)];
    while let Some((start, end)) = stack.pop() {
        let mut best = (0.0f32, 0usize);
        for i in start + 1..end {
            let d = point_segment_distance(line[i], line[start], line[end]);
            if d > best.0 {
                best = (d, i);
            }
        }
        if best.0 > epsilon {
            keep[best.1] = true;
            stack.push((start, best.1));
            stack.push((best.1, end));
        }
    }
    line.iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

/// [`rdp`] on every polyline.
pub fn rdp_polylines(lines: &[Polyline], epsilon: f32) -> Vec<Polyline> {
    lines.iter().map(|l| rdp(l, epsilon)).collect()
}

/// An axis-aligned bounding box, in the units of the points it bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_x: f32,
    pub min_y: f32,
    pub max_x: f32,
    pub max_y: f32,
}

impl BoundingBox {
    /// The box around all points, or `None` for no points.
    pub fn of_polylines(lines: &[Polyline]) -> Option<BoundingBox> {
        let mut points = lines.iter().flatten();
        let first = points.next()?;
        let mut b = BoundingBox {
            min_x: first[0],
            min_y: first[1],
            max_x: first[0],
            max_y: first[1],
        };
        for p in points {
            b.min_x = b.min_x.min(p[0]);
            b.min_y = b.min_y.min(p[1]);
            b.max_x = b.max_x.max(p[0]);
            b.max_y = b.max_y.max(p[1]);
        }
        Some(b)
    }

    /// The box around a stroke-3 drawing drawn from the origin.
    pub fn of_stroke3(drawing: &[Stroke3]) -> Option<BoundingBox> {
        Self::of_polylines(&stroke3_to_polylines(drawing))
    }

    pub fn width(&self) -> f32 {
        self.max_x - self.min_x
    }

    pub fn height(&self) -> f32 {
        self.max_y - self.min_y
    }

    pub fn centre(&self) -> Point {
        [
            (self.min_x + self.max_x) / 2.0,
            (self.min_y + self.max_y) / 2.0,
        ]
    }
}

/// Moves polylines so the centre of their bounding box is at the origin.
pub fn centre(lines: &[Polyline]) -> Vec<Polyline> {
    let Some(b) = BoundingBox::of_polylines(lines) else {
        return lines.to_vec();
    };
    let c = b.centre();
    map_points(lines, |p| [p[0] - c[0], p[1] - c[1]])
}

/// Scales polylines uniformly and centres them so they fit inside a
/// `width × height` box (output units) with `margin` on every side.
/// A drawing of zero extent is placed at the box centre.
pub fn scale_to_fit(lines: &[Polyline], width: f32, height: f32, margin: f32) -> Vec<Polyline> {
    let Some(b) = BoundingBox::of_polylines(lines) else {
        return lines.to_vec();
    };
    let avail_w = (width - 2.0 * margin).max(0.0);
    let avail_h = (height - 2.0 * margin).max(0.0);
    let extent = b.width().max(b.height());
    let s = if extent > 0.0 {
        (avail_w / b.width().max(f32::MIN_POSITIVE))
            .min(avail_h / b.height().max(f32::MIN_POSITIVE))
    } else {
        1.0
    };
    let c = b.centre();
    map_points(lines, |p| {
        [
            (p[0] - c[0]) * s + width / 2.0,
            (p[1] - c[1]) * s + height / 2.0,
        ]
    })
}

fn map_points(lines: &[Polyline], f: impl Fn(Point) -> Point) -> Vec<Polyline> {
    lines
        .iter()
        .map(|l| l.iter().map(|p| f(*p)).collect())
        .collect()
}

/// Pixels to normalised offsets: divides `dx, dy` by `scale_factor` (the data
/// set's standard deviation of offsets, paper section 3.1). Pen states are kept.
pub fn normalise(drawing: &[Stroke3], scale_factor: f32) -> Vec<Stroke3> {
    drawing
        .iter()
        .map(|r| [r[0] / scale_factor, r[1] / scale_factor, r[2]])
        .collect()
}

/// Normalised offsets back to pixels: multiplies `dx, dy` by `scale_factor`.
pub fn denormalise(drawing: &[Stroke3], scale_factor: f32) -> Vec<Stroke3> {
    normalise(drawing, 1.0 / scale_factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stroke5_padding_matches_to_big_strokes() {
        let d = [[1.0, 2.0, 0.0], [3.0, 4.0, 1.0]];
        let p = stroke3_to_stroke5_padded(&d, 4).unwrap();
        assert_eq!(
            p,
            vec![
                [1.0, 2.0, 1.0, 0.0, 0.0],
                [3.0, 4.0, 0.0, 1.0, 0.0],
                END_OF_DRAWING,
                END_OF_DRAWING
            ]
        );
        assert!(stroke3_to_stroke5_padded(&d, 1).is_err());
    }

    #[test]
    fn rdp_removes_collinear_points() {
        let line = vec![[0.0, 0.0], [1.0, 0.1], [2.0, 0.0], [3.0, 5.0]];
        assert_eq!(rdp(&line, 0.5), vec![[0.0, 0.0], [2.0, 0.0], [3.0, 5.0]]);
    }

    #[test]
    fn scale_to_fit_fills_the_box() {
        let lines = vec![vec![[0.0, 0.0], [10.0, 5.0]]];
        let f = scale_to_fit(&lines, 100.0, 100.0, 10.0);
        assert_eq!(f[0][0], [10.0, 30.0]);
        assert_eq!(f[0][1], [90.0, 70.0]);
    }

    #[test]
    fn invalid_pen_is_rejected() {
        assert!(validate_stroke3(&[[0.0, 0.0, 0.5]]).is_err());
        assert!(validate_stroke3(&[[f32::NAN, 0.0, 0.0]]).is_err());
    }
}

//! Quick, Draw! `.ndjson` files: one JSON object per line, with the drawing as
//! strokes of absolute coordinates in pixels.
//!
//! * "raw": `drawing: [[[x...], [y...], [t...]], ...]` (t in milliseconds, ignored)
//! * "simplified": `drawing: [[[x...], [y...]], ...]` (already scaled to 0–255 and simplified)
//!
//! Both become stroke-3 after Ramer–Douglas–Peucker simplification, keeping the
//! `word` and `recognized` fields so a user can filter.

use serde::{Deserialize, Serialize};

use crate::dataset::npz::Drawing;
use crate::error::{Error, Result, check_size};
use crate::stroke::{Polyline, polylines_to_stroke3, rdp_polylines, stroke3_to_polylines};

/// Longest ndjson line accepted, in bytes (raw Quick, Draw! lines are a few tens of kB).
pub const MAX_NDJSON_LINE_BYTES: usize = 4 << 20;

/// One Quick, Draw! drawing, converted to stroke-3 (pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct QuickDrawSketch {
    /// The category the player was asked to draw.
    pub word: String,
    /// Whether Quick, Draw!'s classifier recognised it (`None` when the line has no field).
    pub recognized: Option<bool>,
    /// The drawing, stroke-3 in pixels.
    pub strokes: Drawing,
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    word: String,
    #[serde(default)]
    recognized: Option<bool>,
    drawing: Vec<Vec<Vec<f64>>>,
}

#[derive(Serialize)]
struct OutLine<'a> {
    word: &'a str,
    recognized: bool,
    drawing: Vec<[Vec<f32>; 2]>,
}

/// Parses an `.ndjson` file (raw or simplified), simplifying each stroke with RDP
/// at `rdp_epsilon_px` pixels. Blank lines are skipped; a malformed line is an error naming it.
pub fn read_ndjson(bytes: &[u8], rdp_epsilon_px: f32) -> Result<Vec<QuickDrawSketch>> {
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let err = |reason: String| Error::Ndjson {
            line: line_no,
            reason,
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        check_size("ndjson line", raw.len(), MAX_NDJSON_LINE_BYTES)
            .map_err(|e| err(e.to_string()))?;
        let line: Line = serde_json::from_slice(raw).map_err(|e| err(e.to_string()))?;
        let mut polylines: Vec<Polyline> = Vec::with_capacity(line.drawing.len());
        for (s, stroke) in line.drawing.iter().enumerate() {
            if stroke.len() != 2 && stroke.len() != 3 {
                return Err(err(format!(
                    "stroke {s} has {} coordinate arrays, expected [xs, ys] or [xs, ys, ts]",
                    stroke.len()
                )));
            }
            let (xs, ys) = (&stroke[0], &stroke[1]);
            if xs.len() != ys.len() || stroke.get(2).is_some_and(|t| t.len() != xs.len()) {
                return Err(err(format!(
                    "stroke {s} has coordinate arrays of different lengths"
                )));
            }
            if xs.iter().chain(ys).any(|v| !v.is_finite()) {
                return Err(err(format!("stroke {s} has a non-finite coordinate")));
            }
            if !xs.is_empty() {
                polylines.push(
                    xs.iter()
                        .zip(ys)
                        .map(|(&x, &y)| [x as f32, y as f32])
                        .collect(),
                );
            }
        }
        if polylines.is_empty() {
            return Err(err("the drawing has no points".into()));
        }
        let simplified = rdp_polylines(&polylines, rdp_epsilon_px);
        out.push(QuickDrawSketch {
            word: line.word,
            recognized: line.recognized,
            strokes: polylines_to_stroke3(&simplified),
        });
    }
    Ok(out)
}

/// Writes drawings as "simplified"-style ndjson lines (absolute pixel coordinates,
/// drawn from the origin), one per drawing, all labelled `word`.
pub fn write_ndjson(drawings: &[Drawing], word: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (i, d) in drawings.iter().enumerate() {
        let line = OutLine {
            word,
            recognized: true,
            drawing: stroke3_to_polylines(d)
                .into_iter()
                .map(|l| {
                    [
                        l.iter().map(|p| p[0]).collect(),
                        l.iter().map(|p| p[1]).collect(),
                    ]
                })
                .collect(),
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| Error::Ndjson {
            line: i + 1,
            reason: e.to_string(),
        })?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_simplified_lines_parse() {
        let text = br#"{"word":"cat","recognized":true,"drawing":[[[0,10,20],[0,0,0],[0,5,9]],[[5],[5],[12]]]}
{"word":"dog","recognized":false,"drawing":[[[0,3,7],[0,4,0]]]}
"#;
        let d = read_ndjson(text, 2.0).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].word, "cat");
        // the collinear middle point is simplified away
        assert_eq!(
            d[0].strokes,
            vec![[0.0, 0.0, 0.0], [20.0, 0.0, 1.0], [-15.0, 5.0, 1.0]]
        );
        assert_eq!(d[1].recognized, Some(false));
        assert_eq!(d[1].strokes.len(), 3);
    }
}

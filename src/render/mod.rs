//! Pictures of drawings: SVG everywhere ([`svg`]), PNG natively ([`png`]).
//!
//! Drawings are stroke-3 in any units; each is scaled to fit its cell, so a
//! grid shows shapes, not sizes.

#[cfg(not(target_arch = "wasm32"))]
pub mod png;
pub mod svg;

use crate::stroke::{Polyline, Stroke3, scale_to_fit, stroke3_to_polylines};

/// Default cell size of a grid, in output pixels.
pub const DEFAULT_CELL_PX: f32 = 160.0;
/// Margin inside each cell, as a fraction of the cell.
pub const CELL_MARGIN: f32 = 0.08;

/// One drawing to show, with its ink colour (CSS colour, e.g. `#222`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ink<'a> {
    pub strokes: &'a [Stroke3],
    pub colour: &'a str,
}

/// One cell per drawing, in black ink.
pub fn black_cells(drawings: &[Vec<Stroke3>]) -> Vec<Vec<Ink<'_>>> {
    drawings
        .iter()
        .map(|d| {
            vec![Ink {
                strokes: d,
                colour: "#222",
            }]
        })
        .collect()
}

/// A drawing placed in a grid: polylines in output pixels and their colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub lines: Vec<Polyline>,
    pub colour: String,
}

/// Lays drawings out on a grid of `cols` columns of `cell × cell` pixels.
/// Each cell holds a list of inks drawn in order from one shared origin (so a
/// completion continues its prefix), fitted together. Returns the image size.
pub fn layout(cells: &[Vec<Ink>], cols: usize, cell: f32) -> (Vec<Placed>, f32, f32) {
    let cols = cols.max(1);
    let rows = cells.len().div_ceil(cols).max(1);
    let mut placed = Vec::new();
    for (i, inks) in cells.iter().enumerate() {
        // Concatenate the inks so later ones continue from where earlier ones ended.
        let mut all: Vec<Stroke3> = Vec::new();
        let mut spans = Vec::new();
        for ink in inks {
            // Lift the pen at the junction so inks never join.
            if let Some(last) = all.last_mut() {
                last[2] = 1.0;
            }
            let start = stroke3_to_polylines(&all).len();
            all.extend_from_slice(ink.strokes);
            spans.push((start, ink.colour));
        }
        let lines = stroke3_to_polylines(&all);
        let margin = cell * CELL_MARGIN;
        let fitted = scale_to_fit(&lines, cell, cell, margin);
        let (ox, oy) = ((i % cols) as f32 * cell, (i / cols) as f32 * cell);
        for (k, (start, colour)) in spans.iter().enumerate() {
            let end = spans.get(k + 1).map(|s| s.0).unwrap_or(fitted.len());
            let lines = fitted[(*start).min(end)..end]
                .iter()
                .map(|l| l.iter().map(|p| [p[0] + ox, p[1] + oy]).collect())
                .collect();
            placed.push(Placed {
                lines,
                colour: colour.to_string(),
            });
        }
    }
    (
        placed,
        cols.min(cells.len().max(1)) as f32 * cell,
        rows as f32 * cell,
    )
}

//! SVG output of one drawing or a grid of drawings.

use std::fmt::Write;

use crate::render::{DEFAULT_CELL_PX, Ink, layout};
use crate::stroke::Stroke3;

/// Stroke width in output pixels.
pub const LINE_WIDTH_PX: f32 = 2.0;

/// An SVG of a grid of cells (each a list of inks), `cols` wide, `cell` pixels per cell.
pub fn grid_svg(cells: &[Vec<Ink>], cols: usize, cell: f32) -> String {
    let (placed, w, h) = layout(cells, cols, cell);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for p in placed {
        let colour: String = p
            .colour
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '#')
            .collect();
        for line in &p.lines {
            if line.len() == 1 {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.2}" cy="{:.2}" r="{}" fill="{colour}"/>"#,
                    line[0][0],
                    line[0][1],
                    LINE_WIDTH_PX / 2.0
                );
                continue;
            }
            let mut d = String::new();
            for (i, pt) in line.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.2},{:.2} ",
                    if i == 0 { "M" } else { "L" },
                    pt[0],
                    pt[1]
                );
            }
            let _ = writeln!(
                s,
                r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="{LINE_WIDTH_PX}" stroke-linecap="round" stroke-linejoin="round"/>"#,
                d.trim_end()
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// An SVG of one drawing (stroke-3, any units), `size` pixels square, in black.
pub fn drawing_svg(drawing: &[Stroke3], size: f32) -> String {
    grid_svg(
        &[vec![Ink {
            strokes: drawing,
            colour: "#222",
        }]],
        1,
        size,
    )
}

/// An SVG grid of drawings in black with the default cell size.
pub fn drawings_svg(drawings: &[Vec<Stroke3>], cols: usize) -> String {
    let cells: Vec<Vec<Ink>> = drawings
        .iter()
        .map(|d| {
            vec![Ink {
                strokes: d,
                colour: "#222",
            }]
        })
        .collect();
    grid_svg(&cells, cols, DEFAULT_CELL_PX)
}

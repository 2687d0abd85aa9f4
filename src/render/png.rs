//! PNG output (native only), rasterised with tiny-skia.

use tiny_skia::{Color, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::error::{Error, Result};
use crate::render::svg::LINE_WIDTH_PX;
use crate::render::{Ink, layout};

fn parse_colour(c: &str) -> Color {
    let hex = c.trim_start_matches('#');
    let v = |s: &str| u8::from_str_radix(s, 16).unwrap_or(0x22);
    match hex.len() {
        3 => {
            let d = |i: usize| v(&hex[i..i + 1]) * 17;
            Color::from_rgba8(d(0), d(1), d(2), 255)
        }
        6 => Color::from_rgba8(v(&hex[0..2]), v(&hex[2..4]), v(&hex[4..6]), 255),
        _ => Color::from_rgba8(0x22, 0x22, 0x22, 255),
    }
}

/// A PNG of a grid of cells (as [`crate::render::svg::grid_svg`]).
pub fn grid_png(cells: &[Vec<Ink>], cols: usize, cell: f32) -> Result<Vec<u8>> {
    let (placed, w, h) = layout(cells, cols, cell);
    let mut pixmap = Pixmap::new(w.ceil() as u32, h.ceil() as u32)
        .ok_or_else(|| Error::invalid_argument("image size", format!("{w}×{h} pixels")))?;
    pixmap.fill(Color::WHITE);
    let stroke = Stroke {
        width: LINE_WIDTH_PX,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    };
    for p in placed {
        let mut paint = Paint::default();
        paint.set_color(parse_colour(&p.colour));
        paint.anti_alias = true;
        for line in &p.lines {
            let mut pb = PathBuilder::new();
            pb.move_to(line[0][0], line[0][1]);
            if line.len() == 1 {
                pb.line_to(line[0][0] + 0.01, line[0][1]);
            }
            for pt in &line[1..] {
                pb.line_to(pt[0], pt[1]);
            }
            if let Some(path) = pb.finish() {
                pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
            }
        }
    }
    pixmap
        .encode_png()
        .map_err(|e| Error::invalid_argument("png", e.to_string()))
}

//! `sketch-rnn plot`: loss curves from a training run's `metrics.jsonl` as SVG.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

const W: f64 = 720.0;
const H: f64 = 360.0;
const PAD: f64 = 48.0;
/// Training losses are smoothed with a moving average over this many steps.
const SMOOTHING: usize = 25;

struct Series {
    label: &'static str,
    colour: &'static str,
    points: Vec<(f64, f64)>,
}

/// Reads `metrics.jsonl` and writes an SVG chart of training L_R (smoothed),
/// validation L_R and validation KL against the step.
pub fn plot(metrics: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics)
        .with_context(|| format!("reading {}", metrics.display()))?;
    let (mut train, mut valid, mut kl) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", metrics.display(), i + 1))?;
        let (Some(step), Some(ls), Some(lp)) =
            (v["step"].as_f64(), v["ls"].as_f64(), v["lp"].as_f64())
        else {
            continue;
        };
        match v["split"].as_str() {
            Some("train") => train.push((step, ls + lp)),
            Some("valid") => {
                valid.push((step, ls + lp));
                kl.push((step, v["kl"].as_f64().unwrap_or(0.0)));
            }
            _ => {}
        }
    }
    if train.is_empty() {
        bail!("{}: no training steps logged", metrics.display());
    }
    train.sort_by(|a, b| a.0.total_cmp(&b.0));
    train.dedup_by(|a, b| a.0 == b.0);
    let smoothed: Vec<(f64, f64)> = (0..train.len())
        .map(|i| {
            let lo = i.saturating_sub(SMOOTHING - 1);
            let n = (i - lo + 1) as f64;
            (
                train[i].0,
                train[lo..=i].iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect();
    let series = [
        Series {
            label: "train L_R (moving average)",
            colour: "#888",
            points: smoothed,
        },
        Series {
            label: "valid L_R = L_s + L_p",
            colour: "#1f5fbf",
            points: valid,
        },
        Series {
            label: "valid KL",
            colour: "#c0392b",
            points: kl,
        },
    ];
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD - (y - y0) / (y1 - y0) * (H - 2.0 * PAD);
    let mut s = String::new();
    writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#)?;
    writeln!(
        s,
        r#"<path d="M{PAD},{PAD} L{PAD},{} L{},{}" fill="none" stroke="black"/>"#,
        H - PAD,
        W - PAD,
        H - PAD
    )?;
    for k in 0..=4 {
        let y = y0 + (y1 - y0) * k as f64 / 4.0;
        writeln!(s, r#"<text x="4" y="{:.1}">{y:.3}</text>"#, sy(y) + 4.0)?;
        let x = x0 + (x1 - x0) * k as f64 / 4.0;
        writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{x:.0}</text>"#,
            sx(x),
            H - PAD + 16.0
        )?;
    }
    writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">step</text>"#,
        W / 2.0,
        H - 8.0
    )?;
    for (i, ser) in series.iter().enumerate() {
        if ser.points.is_empty() {
            continue;
        }
        let d: Vec<String> = ser
            .points
            .iter()
            .enumerate()
            .map(|(k, &(x, y))| {
                format!(
                    "{}{:.1},{:.1}",
                    if k == 0 { "M" } else { "L" },
                    sx(x),
                    sy(y)
                )
            })
            .collect();
        writeln!(
            s,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.5"/>"#,
            d.join(" "),
            ser.colour
        )?;
        let ly = PAD + 16.0 * i as f64;
        writeln!(
            s,
            r#"<text x="{}" y="{ly}" fill="{}">{}</text>"#,
            W - PAD - 200.0,
            ser.colour,
            ser.label
        )?;
    }
    s.push_str("</svg>\n");
    std::fs::write(out, s).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

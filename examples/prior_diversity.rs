//! Are new drawings from a model's fitted latent prior as varied as human
//! drawings, or all alike? Median Chamfer distance (`shape_distance`, unit-box
//! outlines) between pairs of 150 test drawings, of 150 new drawings from the
//! model's fitted prior (`sketch-rnn fit-prior`), and of 150 from N(0, I);
//! τ 0.3, seed 1. A prior that collapsed onto one typical drawing would give a
//! far smaller figure than the human one.
//!
//! ```sh
//! cargo run --release --example prior_diversity -- www/models/sheep.safetensors ../shared/data/aaron_sheep.npz
//! ```
use candle_core::Device;
use sketch_rnn::dataset::read_npz;
use sketch_rnn::sample;
use sketch_rnn::shape_distance::{LAYOUT_POINTS, chamfer, layout_points};
use sketch_rnn::stroke::Point;
use sketch_rnn::weights::ModelFile;

/// Median distance over all pairs of `sets`.
fn median_pairwise(sets: &[Vec<Point>]) -> f64 {
    let mut d = vec![];
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            d.push(chamfer(&sets[i], &sets[j]));
        }
    }
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model_path), Some(data_path)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: prior_diversity MODEL DATA.npz");
    };
    let file = ModelFile::from_bytes(&std::fs::read(model_path)?)?;
    let model = file.build(&Device::Cpu)?;
    let splits = read_npz(&std::fs::read(data_path)?)?;
    let n = 150;
    let inputs: Vec<_> = splits
        .test
        .iter()
        .take(n)
        .map(|d| layout_points(d, LAYOUT_POINTS))
        .collect();
    println!(
        "test drawings: median pairwise {:.4}",
        median_pairwise(&inputs)
    );
    if file.info.latent_prior.is_none() {
        anyhow::bail!("{model_path} has no fitted prior: run sketch-rnn fit-prior first");
    }
    for (name, fitted) in [
        ("fitted prior", file.info.latent_prior.as_ref()),
        ("N(0, I)", None),
    ] {
        let ds = sample::sample_prior(&model, fitted, n, 0.3, 250, 1.0, 1)?;
        let pts: Vec<_> = ds.iter().map(|d| layout_points(d, LAYOUT_POINTS)).collect();
        println!("{name}: median pairwise {:.4}", median_pairwise(&pts));
    }
    Ok(())
}

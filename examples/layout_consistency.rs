//! Where reconstructions lose their input's layout: in the encoder, or in the
//! decoder's free-running sampling? For the first N test drawings (default
//! 300) it decodes each drawing's noisy latent twice with different point
//! seeds, and its posterior mean μ twice, at temperature τ (default 0.2), and
//! prints layout scores (`shape_distance::retrieval`, pairwise: 0.5 chance, 1
//! each nearest its own):
//!
//! * `reconstruction vs input`: what `reconstruct --score` measures;
//! * `z = μ vs input`: the same without latent noise;
//! * `second decoding vs first`: the second decoding of each latent ranked
//!   among the first decodings of all the latents. If the latent fixed the
//!   drawing this would be near 1; it bounds how well any reconstruction can
//!   pick out its input;
//! * `z = μ, second vs first`: the same for μ.
//!
//! ```sh
//! cargo run --release --example layout_consistency -- MODEL DATA.npz [N] [TEMPERATURE]
//! ```
use candle_core::Device;
use sketch_rnn::dataset::read_npz;
use sketch_rnn::rng::SketchRng;
use sketch_rnn::sample;
use sketch_rnn::shape_distance::{LAYOUT_POINTS, layout_points, retrieval};
use sketch_rnn::stroke::{self, Point, Stroke3};
use sketch_rnn::weights::ModelFile;

/// Seed of the latent noise; decoding `k` of a set uses point seed `base + k`.
const SEED: u64 = 1;
const FIRST: u64 = 1000;
const SECOND: u64 = 5000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model_path), Some(data_path)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: layout_consistency MODEL DATA.npz [N] [TEMPERATURE]");
    };
    let n: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(300);
    let t: f32 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(0.2);
    let file = ModelFile::from_bytes(&std::fs::read(model_path)?)?;
    let model = file.build(&Device::Cpu)?;
    if !model.hparams.conditional() {
        anyhow::bail!("{model_path}: a decoder-only model has no latent");
    }
    let (scale, n_max) = (file.info.scale_factor, file.info.max_seq_len);
    let test: Vec<Vec<Stroke3>> = read_npz(&std::fs::read(data_path)?)?
        .test
        .into_iter()
        .filter(|d| !d.is_empty() && d.len() <= n_max)
        .take(n)
        .collect();
    let inputs: Vec<Vec<Point>> = test
        .iter()
        .map(|d| layout_points(d, LAYOUT_POINTS))
        .collect();
    let mut rng = SketchRng::new(SEED);
    let (mut noisy, mut means) = (Vec::new(), Vec::new());
    for d in &test {
        let mut rows = stroke::stroke3_to_stroke5(&stroke::normalise(d, scale));
        rows.pop();
        let (mu, sigma) = model.encode(&rows)?;
        noisy.push(sample::noisy_latent(&mu, &sigma, 1.0, &mut rng)?);
        means.push(mu);
    }
    let decode = |zs: &[Vec<f32>], base: u64| -> anyhow::Result<Vec<Vec<Point>>> {
        zs.iter()
            .enumerate()
            .map(|(k, z)| {
                let rows = sample::generate(&model, Some(z), t, n_max, base + k as u64)?;
                Ok(layout_points(
                    &stroke::stroke5_to_stroke3(&rows),
                    LAYOUT_POINTS,
                ))
            })
            .collect()
    };
    let (a, b) = (decode(&noisy, FIRST)?, decode(&noisy, SECOND)?);
    let (ma, mb) = (decode(&means, FIRST)?, decode(&means, SECOND)?);
    let score = |x: &[Vec<Point>], y: &[Vec<Point>]| retrieval(x, y).map(|r| r.pairwise);
    println!("{} test drawings, τ {t}", test.len());
    println!("reconstruction vs input    {:.3}", score(&a, &inputs)?);
    println!("z = μ vs input             {:.3}", score(&ma, &inputs)?);
    println!("second decoding vs first   {:.3}", score(&b, &a)?);
    println!("z = μ, second vs first     {:.3}", score(&mb, &ma)?);
    Ok(())
}

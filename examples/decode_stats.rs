//! How drawings decoded freely (not teacher-forced) behave at each temperature,
//! beside the data: the share that never end within N_max, mean rows, strokes,
//! and the share of steps shorter than `TINY_STEP` normalised units (a stroke of
//! tiny jitter is the usual failure at low temperature). Reconstructions of the
//! test split (noisy latent, as the app encodes) and, for VAEs and decoder-only
//! models alike, samples from the prior.
//!
//! ```sh
//! cargo run --release --example decode_stats -- MODEL DATA.npz [N]
//! ```
//!
//! MODEL: `.safetensors`, `.gen.json` or `.vae.json`; DATA: a sketch-rnn npz
//! whose first N test drawings (default 100) are encoded.
use candle_core::Device;
use sketch_rnn::dataset::read_npz;
use sketch_rnn::rng::SketchRng;
use sketch_rnn::sample;
use sketch_rnn::stroke::{self, Stroke3};
use sketch_rnn::weights::ModelFile;

/// Offsets shorter than this (normalised units) count as tiny steps.
const TINY_STEP: f32 = 0.1;
const TEMPERATURES: [f32; 9] = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0];
/// Seed of the latent noise and prior draws; drawing `k` samples with `SEED + k`.
const SEED: u64 = 7;

#[derive(Default)]
struct Stats {
    drawings: usize,
    unended: usize,
    rows: usize,
    strokes: usize,
    tiny: usize,
}

impl Stats {
    fn add(&mut self, rows: &[Stroke3], ended: bool) {
        self.drawings += 1;
        self.unended += usize::from(!ended);
        self.rows += rows.len();
        self.strokes += rows.iter().filter(|r| r[2] > 0.5).count();
        self.tiny += rows.iter().filter(|r| r[0].hypot(r[1]) < TINY_STEP).count();
    }

    fn line(&self, what: &str) -> String {
        let n = self.drawings.max(1) as f64;
        format!(
            "{what:<16} never end {:>4.0}%  rows {:>6.1}  strokes {:>5.1}  tiny steps {:>5.1}%",
            100.0 * self.unended as f64 / n,
            self.rows as f64 / n,
            self.strokes as f64 / n,
            100.0 * self.tiny as f64 / self.rows.max(1) as f64
        )
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model_path), Some(data_path)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: decode_stats MODEL DATA.npz [N]");
    };
    let n: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let file = ModelFile::from_bytes(&std::fs::read(model_path)?)?;
    let model = file.build(&Device::Cpu)?;
    let (scale, n_max) = (file.info.scale_factor, file.info.max_seq_len);
    let splits = read_npz(&std::fs::read(data_path)?)?;
    let test: Vec<Vec<Stroke3>> = splits
        .test
        .iter()
        .filter(|d| !d.is_empty() && d.len() <= n_max)
        .take(n)
        .map(|d| stroke::normalise(d, scale))
        .collect();
    let mut data = Stats::default();
    for d in &test {
        data.add(d, true);
    }
    println!("{}", data.line("data"));
    let z_size = model.hparams.z_size;
    for t in TEMPERATURES {
        let mut recon = Stats::default();
        let mut prior = Stats::default();
        let mut rng = SketchRng::new(SEED);
        for (k, d) in test.iter().enumerate() {
            let seed = SEED + k as u64;
            if model.hparams.conditional() {
                let rows = stroke::stroke3_to_stroke5(d);
                let (mu, sigma) = model.encode(&rows[..rows.len() - 1])?;
                let z = sample::noisy_latent(&mu, &sigma, 1.0, &mut rng)?;
                let drawn = sample::generate(&model, Some(&z), t, n_max, seed)?;
                recon.add(&stroke::stroke5_to_stroke3(&drawn), drawn.len() < n_max);
            }
            let z: Vec<f32> = (0..z_size).map(|_| rng.normal()).collect();
            let z = model.hparams.conditional().then_some(&z[..]);
            let drawn = sample::generate(&model, z, t, n_max, seed)?;
            prior.add(&stroke::stroke5_to_stroke3(&drawn), drawn.len() < n_max);
        }
        if model.hparams.conditional() {
            println!("{}", recon.line(&format!("τ {t:.2} recon")));
        }
        println!("{}", prior.line(&format!("τ {t:.2} prior")));
    }
    Ok(())
}

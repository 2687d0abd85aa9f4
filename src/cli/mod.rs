//! Command-line interface (native only).

mod plot;
mod serve;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Parser, Subcommand};

use sketch_rnn::dataset::{self, ndjson, npz};
use sketch_rnn::model::{FittedPrior, Mixture, SketchRnn};
use sketch_rnn::render::{self, Ink};
use sketch_rnn::rng::SketchRng;
use sketch_rnn::sample;
use sketch_rnn::session::{FinishFrom, Session};
use sketch_rnn::shape_distance;
use sketch_rnn::stroke::{self, Stroke5};
use sketch_rnn::train::checkpoint;
use sketch_rnn::weights::{ModelFile, magenta, native};

#[derive(Parser)]
#[command(
    name = "sketch-rnn",
    version,
    about = "sketch-rnn: read sketch data, sample and trace models, convert formats"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the browser app (www/ and the wasm in pkg/) on 127.0.0.1.
    Serve {
        /// Address to listen on; 127.0.0.1 keeps it private to this machine.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Also serve this folder of model files at /local-models/ (e.g. ../shared/models/magenta).
        #[arg(long)]
        models: Option<PathBuf>,
        /// The app's folder.
        #[arg(long, default_value = "www")]
        www: PathBuf,
        /// wasm-bindgen output (tools/build-wasm.sh).
        #[arg(long, default_value = "pkg")]
        pkg: PathBuf,
    },
    /// Describe a model (.safetensors, .gen.json, .vae.json) or data file (.npz, .ndjson).
    Info { file: PathBuf },
    /// Draw N sketches from a model and write them as SVG and PNG grids.
    Sample {
        #[arg(long)]
        model: PathBuf,
        /// Number of drawings.
        #[arg(long, short, default_value_t = 16)]
        n: usize,
        /// Sampling temperature τ (0 < τ ≤ 5).
        #[arg(long, short, default_value_t = 0.4)]
        temperature: f32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Grid columns.
        #[arg(long, default_value_t = 4)]
        cols: usize,
        /// Draw latents from N(0, I) even if the model has a fitted prior.
        #[arg(long)]
        standard_prior: bool,
        /// Output path without extension; writes PREFIX.svg and PREFIX.png.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Encode drawings of a data split and decode them again: originals (black)
    /// beside the model's reconstructions (blue), as SVG and PNG grids, and with
    /// --score how well the reconstructions keep their inputs' layout.
    #[command(group(clap::ArgGroup::new("output").required(true).multiple(true).args(["out", "score"])))]
    Reconstruct {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value = "test")]
        split: String,
        /// Number of drawings (the first n of the split that fit the model's N_max).
        #[arg(long, short, default_value_t = 8)]
        n: usize,
        #[arg(long, short, default_value_t = 0.2)]
        temperature: f32,
        /// Scale of the latent noise: z = μ + σ·ε·noise (0 decodes from μ).
        #[arg(long, default_value_t = 1.0)]
        noise: f32,
        /// Decode each drawing from a draw of the model's prior (its fitted prior
        /// where it has one, else N(0, I)) instead of its own latent: what a model
        /// that ignored its input would score (a control for --score).
        #[arg(long)]
        from_prior: bool,
        /// With --from-prior: draw from N(0, I) even if the model has a fitted prior.
        #[arg(long, requires = "from_prior")]
        standard_prior: bool,
        /// Decode each latent this many times and keep the decoding nearest its
        /// input, as the app's Redraw does (`Session::redraw`; drawing k from
        /// seed SEED + k). 1: a single decoding.
        #[arg(long, default_value_t = 1, conflicts_with = "from_prior")]
        candidates: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output path without extension; writes PREFIX.svg and PREFIX.png.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Print, as JSON, how often each reconstruction is nearer its own input than
        /// the other inputs (Chamfer distance of outlines in a unit box; see
        /// `shape_distance`): top-1 and top-5 retrieval, median rank and distances,
        /// and how near each drawing lies to the nearest input of any (with
        /// --from-prior: how human-like unconditional samples are).
        #[arg(long)]
        score: bool,
    },
    /// Print the per-step mixture parameters the model computes for an input, as JSON.
    Trace {
        #[arg(long)]
        model: PathBuf,
        /// JSON array of stroke-5 rows in normalised units, starting with [0,0,1,0,0].
        #[arg(long)]
        input: PathBuf,
        /// For a VAE: the latent z as a JSON array.
        #[arg(long, conflicts_with = "strokes_to_encode")]
        z: Option<String>,
        /// For a VAE: a JSON array of stroke-5 rows (normalised, no start token) to encode; z = μ.
        #[arg(long)]
        strokes_to_encode: Option<PathBuf>,
    },
    /// Fit the Gaussian new drawings take their latent from to the latents of
    /// a data split (the aggregate posterior; see `model::latent_prior`) and
    /// write the model with it. VAE models only.
    FitPrior {
        #[arg(long)]
        model: PathBuf,
        /// sketch-rnn .npz files (the data the model was trained on).
        #[arg(long, required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        #[arg(long, default_value = "train")]
        split: String,
        /// The model with the prior (.safetensors, f32).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Train a model on sketch-rnn .npz files.
    Train(Box<train::TrainArgs>),
    /// Draw loss curves from a training run's metrics.jsonl to an SVG.
    Plot {
        /// The run's metrics.jsonl.
        metrics: PathBuf,
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Print a model's losses on a data split (per-timestep, normalised units).
    Eval(train::EvalArgs),
    /// Average the weights of several models or training checkpoints of one
    /// architecture (checkpoint averaging) into one .safetensors model.
    Average {
        /// Model files (.safetensors, Magenta .json) or training checkpoints.
        #[arg(required = true, num_args = 1..)]
        inputs: Vec<PathBuf>,
        /// The averaged model (.safetensors, f32).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Widen a model's LSTM decoder by an integer factor without changing what it
    /// predicts (Net2WiderNet: each unit copied, its outgoing weights shared among
    /// the copies), so a larger model can be fine-tuned from a trained smaller one
    /// with `train --init-from`. Prints the widened model's parity with the original.
    Widen {
        /// The model (.safetensors, Magenta .json) or training checkpoint.
        model: PathBuf,
        /// Units of the widened decoder = factor × units of the original.
        #[arg(long)]
        factor: usize,
        /// The widened model (.safetensors, f32).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Convert: .ndjson <-> .npz, and Magenta .json <-> .safetensors (by extension).
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// Model -> .safetensors: store weights as f32, f16, or int8 with per-row
        /// scales (smaller downloads); prints the weight and mixture parity.
        #[arg(long, default_value = "f32")]
        quantize: native::Quantization,
        /// ndjson -> npz: only drawings whose word is this.
        #[arg(long)]
        word: Option<String>,
        /// ndjson -> npz: only drawings Quick, Draw! recognised.
        #[arg(long)]
        recognized_only: bool,
        /// ndjson -> npz: drawings put in each of valid and test (the rest train).
        #[arg(long, default_value_t = 0)]
        holdout: usize,
        /// npz -> ndjson: the split to write.
        #[arg(long, default_value = "train")]
        split: String,
    },
}

pub fn main() -> ExitCode {
    quit_quietly_on_closed_pipe();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `println!` to a pipe whose reader has gone
/// (`sketch-rnn info M | head`) panics with "failed printing to stdout".
/// Restores the default action, as Unix tools behave: the process ends
/// quietly when nobody reads its output any more.
fn quit_quietly_on_closed_pipe() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: sets the disposition of one signal to its default, before any
    // thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info { file } => info(&file),
        Command::Serve {
            addr,
            models,
            www,
            pkg,
        } => serve::run(&www, &pkg, models.as_deref(), addr),
        Command::Train(a) => {
            train::set_threads(a.threads);
            sketch_rnn::train::retain_freed_memory();
            train::train(*a)
        }
        Command::Eval(a) => train::eval(a),
        Command::Average { inputs, out } => average(&inputs, &out),
        Command::Widen { model, factor, out } => widen(&model, factor, &out),
        Command::Plot { metrics, out } => plot::plot(&metrics, &out),
        Command::Reconstruct {
            model,
            data,
            split,
            n,
            temperature,
            noise,
            from_prior,
            standard_prior,
            candidates,
            seed,
            out,
            score,
        } => reconstruct(&ReconstructArgs {
            model_path: &model,
            data: &data,
            split: &split,
            n,
            temperature,
            noise,
            from_prior,
            standard_prior,
            candidates,
            seed,
            out: out.as_deref(),
            score,
        }),
        Command::Sample {
            model,
            n,
            temperature,
            seed,
            cols,
            standard_prior,
            out,
        } => sample_cmd(&model, n, temperature, seed, cols, standard_prior, &out),
        Command::FitPrior {
            model,
            data,
            split,
            out,
        } => fit_prior(&model, &data, &split, &out),
        Command::Trace {
            model,
            input,
            z,
            strokes_to_encode,
        } => trace(&model, &input, z.as_deref(), strokes_to_encode.as_deref()),
        Command::Convert {
            input,
            output,
            quantize,
            word,
            recognized_only,
            holdout,
            split,
        } => convert(
            &input,
            &output,
            quantize,
            word.as_deref(),
            recognized_only,
            holdout,
            &split,
        ),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn name(path: &Path) -> String {
    path.display().to_string()
}

/// Loads a model file of either format and builds it on the CPU.
pub fn load_model(path: &Path) -> Result<(ModelFile, SketchRnn)> {
    let file = ModelFile::from_bytes(&read(path)?).map_err(|e| e.in_file(name(path)))?;
    let model = file
        .build(&Device::Cpu)
        .map_err(|e| e.in_file(name(path)))?;
    Ok((file, model))
}

fn average(inputs: &[PathBuf], out: &Path) -> Result<()> {
    let mut models = Vec::with_capacity(inputs.len());
    for (k, path) in inputs.iter().enumerate() {
        let (file, step) = model_or_checkpoint(path)?;
        eprintln!("model {k}: {}", described(path, step));
        models.push(file);
    }
    let mean = ModelFile::average(&models)?;
    // Building checks every averaged weight fits the architecture and is finite.
    mean.build(&Device::Cpu)?;
    write(out, &native::write(&mean)?)?;
    eprintln!(
        "wrote the mean of {} models to {}",
        models.len(),
        out.display()
    );
    Ok(())
}

fn fit_prior(model_path: &Path, data: &[PathBuf], split: &str, out: &Path) -> Result<()> {
    let (mut file, model) = load_model(model_path)?;
    if !model.hparams.conditional() {
        bail!(
            "{}: a decoder-only model has no latent to fit a prior to",
            model_path.display()
        );
    }
    let mut drawings = Vec::new();
    for path in data {
        let splits = npz::read_npz(&read(path)?).map_err(|e| e.in_file(name(path)))?;
        drawings.extend_from_slice(splits.split(split)?);
    }
    let prior = FittedPrior::fit_to_drawings(
        &model,
        &drawings,
        file.info.scale_factor,
        file.info.max_seq_len,
    )?;
    eprintln!(
        "fitted to {} drawings: |mean| {:.3}, mean variance per dimension {:.3} (N(0, I): 0 and 1)",
        prior.drawings,
        prior.mean.iter().map(|v| v * v).sum::<f32>().sqrt(),
        prior.mean_variance(),
    );
    file.info.latent_prior = Some(prior);
    file.build(&Device::Cpu)?;
    write(out, &native::write(&file)?)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// A model file, or the model of a training checkpoint with its step.
fn model_or_checkpoint(path: &Path) -> Result<(ModelFile, Option<u64>)> {
    let bytes = read(path)?;
    if checkpoint::is_checkpoint(&bytes) {
        let (file, step) = checkpoint::model_of(&bytes).map_err(|e| e.in_file(name(path)))?;
        Ok((file, Some(step)))
    } else {
        let file = ModelFile::from_bytes(&bytes).map_err(|e| e.in_file(name(path)))?;
        Ok((file, None))
    }
}

/// `path`, and the step when it is a checkpoint.
fn described(path: &Path, step: Option<u64>) -> String {
    match step {
        Some(step) => format!("{} (checkpoint, step {step})", path.display()),
        None => path.display().to_string(),
    }
}

fn widen(input: &Path, factor: usize, out: &Path) -> Result<()> {
    let (file, step) = model_or_checkpoint(input)?;
    eprintln!("widening {}", described(input, step));
    let wide = sketch_rnn::train::widen::widen_decoder(&file, factor)
        .map_err(|e| e.in_file(name(input)))?;
    let (a, b) = (file.build(&Device::Cpu)?, wide.build(&Device::Cpu)?);
    let z = vec![0.0f32; a.hparams.z_size];
    let z = a.hparams.conditional().then_some(&z[..]);
    let p =
        sketch_rnn::weights::mixture_parity(&a, &b, z, &sketch_rnn::weights::parity_input(100))?;
    write(out, &native::write(&wide)?)?;
    eprintln!(
        "wrote {} ({} → {} decoder units); parity with the original at z = 0: \
         mixture parameters {:.1e}, ln p {:.1e} nats",
        out.display(),
        file.info.hparams.dec_size,
        wide.info.hparams.dec_size,
        p.max_param,
        p.max_log_density
    );
    Ok(())
}

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn info(path: &Path) -> Result<()> {
    let lname = lower_name(path);
    let bytes = read(path)?;
    if lname.ends_with(".npz") {
        let s = npz::read_npz(&bytes).map_err(|e| e.in_file(name(path)))?;
        println!("{}: sketch-rnn npz", path.display());
        for split in npz::SPLIT_NAMES {
            let d = s.split(split)?;
            let lens: Vec<usize> = d.iter().map(Vec::len).collect();
            println!(
                "  {split:5}: {:6} drawings, rows min {} / mean {:.1} / max {}",
                d.len(),
                lens.iter().min().unwrap_or(&0),
                lens.iter().sum::<usize>() as f64 / lens.len().max(1) as f64,
                lens.iter().max().unwrap_or(&0)
            );
        }
        if !s.train.is_empty() {
            println!(
                "  scale factor (train offsets' standard deviation): {:.4} px",
                dataset::scale_factor(&s.train)?
            );
        }
    } else if lname.ends_with(".ndjson") {
        let d = ndjson::read_ndjson(&bytes, stroke::DEFAULT_RDP_EPSILON_PX)
            .map_err(|e| e.in_file(name(path)))?;
        let mut words = std::collections::BTreeMap::<&str, (usize, usize)>::new();
        for s in &d {
            let e = words.entry(&s.word).or_default();
            e.0 += 1;
            e.1 += usize::from(s.recognized == Some(true));
        }
        println!(
            "{}: Quick, Draw! ndjson, {} drawings",
            path.display(),
            d.len()
        );
        for (w, (n, r)) in words {
            println!("  {w}: {n} drawings, {r} recognised");
        }
    } else {
        let file = ModelFile::from_bytes(&bytes).map_err(|e| e.in_file(name(path)))?;
        file.build(&Device::Cpu)
            .map_err(|e| e.in_file(name(path)))?;
        let i = &file.info;
        println!("{}: sketch-rnn model '{}'", path.display(), i.name);
        println!("  {}", serde_json::to_string(&i.hparams)?);
        println!(
            "  scale factor {} px per unit, max_seq_len {}",
            i.scale_factor, i.max_seq_len
        );
        match &i.latent_prior {
            Some(p) => println!(
                "  latent prior: fitted to {} drawings, mean variance per dimension {:.3}",
                p.drawings,
                p.mean_variance()
            ),
            None if i.hparams.conditional() => println!("  latent prior: N(0, I)"),
            None => {}
        }
        if i.hparams.conditional() {
            let from = FinishFrom::for_model(i);
            println!(
                "  encoder trained on prefixes with probability {}: Finish it draws from {}",
                i.encoder_prefix,
                match from {
                    FinishFrom::Encoding { .. } => "the drawing's own encoding",
                    FinishFrom::Search(_) => "the decoder's posterior (a search)",
                }
            );
        }
        let mut names: Vec<_> = file.tensors.iter().collect();
        names.sort_by_key(|(n, _)| n.as_str());
        let total: usize = names.iter().map(|(_, t)| t.elem_count()).sum();
        println!("  {} tensors, {} parameters", names.len(), total);
        for (n, t) in names {
            println!("    {n}: {:?}", t.dims());
        }
    }
    Ok(())
}

fn sample_cmd(
    model_path: &Path,
    n: usize,
    temperature: f32,
    seed: u64,
    cols: usize,
    standard_prior: bool,
    out: &Path,
) -> Result<()> {
    let (file, model) = load_model(model_path)?;
    let fitted = file.info.latent_prior.as_ref().filter(|_| !standard_prior);
    let drawings = sample::sample_prior(
        &model,
        fitted,
        n,
        temperature,
        file.info.max_seq_len.max(250),
        file.info.scale_factor,
        seed,
    )?;
    let cells = render::black_cells(&drawings);
    let svg = render::svg::grid_svg(&cells, cols, render::DEFAULT_CELL_PX);
    let png = render::png::grid_png(&cells, cols, render::DEFAULT_CELL_PX)?;
    write(&out.with_extension("svg"), svg.as_bytes())?;
    write(&out.with_extension("png"), &png)?;
    eprintln!(
        "wrote {n} drawings of '{}' at temperature {temperature} to {}.svg/.png",
        file.info.name,
        out.display()
    );
    Ok(())
}

fn read_rows(path: &Path) -> Result<Vec<Stroke5>> {
    let rows: Vec<Vec<f32>> = serde_json::from_slice(&read(path)?)
        .with_context(|| format!("{}: expected a JSON array of stroke-5 rows", path.display()))?;
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| {
            <[f32; 5]>::try_from(r.as_slice()).map_err(|_| {
                anyhow::anyhow!(
                    "{}: row {i} has {} values, expected 5",
                    path.display(),
                    r.len()
                )
            })
        })
        .collect()
}

#[derive(serde::Serialize)]
struct TraceOut {
    steps: Vec<Mixture>,
}

fn trace(model_path: &Path, input: &Path, z: Option<&str>, encode: Option<&Path>) -> Result<()> {
    let (_, model) = load_model(model_path)?;
    let rows = read_rows(input)?;
    if rows.is_empty() {
        bail!("{}: the input has no rows", input.display());
    }
    let z: Option<Vec<f32>> = match (z, encode) {
        (Some(text), _) => {
            Some(serde_json::from_str(text).context("--z must be a JSON array of numbers")?)
        }
        (None, Some(p)) => Some(model.encode(&read_rows(p)?)?.0),
        (None, None) if model.hparams.conditional() => {
            bail!("this model is a VAE: give --z or --strokes-to-encode")
        }
        (None, None) => None,
    };
    let mut state = model.initial_state(z.as_deref())?;
    let mut steps = Vec::with_capacity(rows.len());
    for row in &rows {
        let (s, raw) = model.step(&state, row)?;
        state = s;
        steps.push(Mixture::from_raw(&raw, model.hparams.num_mixtures, 1.0)?);
    }
    serde_json::to_writer(std::io::stdout().lock(), &TraceOut { steps })?;
    println!();
    Ok(())
}

fn convert(
    input: &Path,
    output: &Path,
    quantize: native::Quantization,
    word: Option<&str>,
    recognized_only: bool,
    holdout: usize,
    split: &str,
) -> Result<()> {
    let (i, o) = (lower_name(input), lower_name(output));
    let bytes = read(input)?;
    if i.ends_with(".ndjson") && o.ends_with(".npz") {
        let all = ndjson::read_ndjson(&bytes, stroke::DEFAULT_RDP_EPSILON_PX)
            .map_err(|e| e.in_file(name(input)))?;
        let kept: Vec<_> = all
            .into_iter()
            .filter(|s| {
                word.is_none_or(|w| s.word == w) && (!recognized_only || s.recognized == Some(true))
            })
            .map(|s| s.strokes)
            .collect();
        if kept.len() < 2 * holdout + 1 {
            bail!(
                "{} drawings left after filtering, fewer than 2 × holdout + 1",
                kept.len()
            );
        }
        let (valid, rest) = kept.split_at(holdout);
        let (test, train) = rest.split_at(holdout);
        let splits = npz::SketchSplits {
            train: train.to_vec(),
            valid: valid.to_vec(),
            test: test.to_vec(),
        };
        write(output, &npz::write_npz(&splits)?)?;
        eprintln!(
            "wrote {} / {} / {} drawings to {}",
            train.len(),
            valid.len(),
            test.len(),
            output.display()
        );
    } else if i.ends_with(".npz") && o.ends_with(".ndjson") {
        let s = npz::read_npz(&bytes).map_err(|e| e.in_file(name(input)))?;
        write(
            output,
            &ndjson::write_ndjson(s.split(split)?, word.unwrap_or("sketch"))?,
        )?;
    } else if (i.ends_with(".json") || i.ends_with(".safetensors")) && o.ends_with(".safetensors") {
        let file = ModelFile::from_bytes(&bytes).map_err(|e| e.in_file(name(input)))?;
        let original = file
            .build(&Device::Cpu)
            .map_err(|e| e.in_file(name(input)))?;
        let (out, max_weight_error) = native::write_quantized(&file, quantize)?;
        let parity = conversion_parity(&original, &native::read(&out)?)?;
        write(output, &out)?;
        eprintln!(
            "wrote {} ({} bytes, {quantize:?}): max weight change {max_weight_error:.2e}; {parity}",
            output.display(),
            out.len(),
        );
    } else if i.ends_with(".safetensors") && o.ends_with(".json") {
        let file = native::read(&bytes).map_err(|e| e.in_file(name(input)))?;
        let (json, report) = magenta::write(&file)?;
        let original = file
            .build(&Device::Cpu)
            .map_err(|e| e.in_file(name(input)))?;
        let parity = conversion_parity(&original, &magenta::read(&json)?)?;
        write(output, &json)?;
        let mut position = String::new();
        if report.position_units_per_axis > 0 {
            position += &format!(
                "; the decoder's pen position input rewritten as {} summing units per axis",
                report.position_units_per_axis
            );
        }
        if report.encoder_position_units_per_axis > 0 {
            position += &format!(
                "; the encoder's running sums rewritten as {} summing units per axis and direction",
                report.encoder_position_units_per_axis
            );
        }
        eprintln!(
            "wrote {}: {} weights clipped to ±{}, max quantisation error {:.2e}{position}; {parity}",
            output.display(),
            report.clipped,
            magenta::MAGENTA_MAX_WEIGHT,
            report.max_quantisation_error,
        );
    } else {
        bail!(
            "cannot convert {} to {}: supported are .ndjson <-> .npz and Magenta .json <-> .safetensors",
            input.display(),
            output.display()
        );
    }
    Ok(())
}

/// How far a converted model file (as written, read back) predicts from the
/// original, for `convert`'s report: on a fixed 100-row drawing-like input,
/// from a prior latent (seed 1), and how far apart its encodings of that input are.
fn conversion_parity(original: &SketchRnn, converted: &ModelFile) -> Result<String> {
    let converted = converted.build(&Device::Cpu)?;
    let z = sample::prior_latent(original.hparams.z_size, &mut SketchRng::new(1));
    let rows = sketch_rnn::weights::parity_input(100);
    let parity = sketch_rnn::weights::mixture_parity(original, &converted, z.as_deref(), &rows)?;
    let encoding = match sketch_rnn::weights::encoding_parity(original, &converted, &rows[1..])? {
        Some(d) => format!("; encoding that input: max |Δμ|, |Δσ| {d:.2e}"),
        None => String::new(),
    };
    Ok(format!(
        "over {} steps: max mixture-parameter difference {:.2e}, max |Δ ln pdf| at the next point {:.2e} nats{encoding}",
        rows.len(),
        parity.max_param,
        parity.max_log_density
    ))
}

/// What `sketch-rnn reconstruct` was asked for.
struct ReconstructArgs<'a> {
    model_path: &'a Path,
    data: &'a Path,
    split: &'a str,
    n: usize,
    temperature: f32,
    noise: f32,
    from_prior: bool,
    standard_prior: bool,
    candidates: usize,
    seed: u64,
    out: Option<&'a Path>,
    score: bool,
}

/// The JSON line `reconstruct --score` prints.
#[derive(serde::Serialize)]
struct ReconstructScore<'a> {
    model: String,
    split: &'a str,
    latent: &'a str,
    temperature: f32,
    noise: f32,
    candidates: usize,
    seed: u64,
    layout_points: usize,
    #[serde(flatten)]
    retrieval: shape_distance::RetrievalScore,
}

fn reconstruct(a: &ReconstructArgs) -> Result<()> {
    if a.candidates == 0 {
        bail!("--candidates must be at least 1 (one decoding of each latent), found 0");
    }
    let (file, model) = load_model(a.model_path)?;
    if !model.hparams.conditional() {
        bail!(
            "{}: an unconditional model cannot encode drawings",
            a.model_path.display()
        );
    }
    let s = npz::read_npz(&read(a.data)?).map_err(|e| e.in_file(name(a.data)))?;
    let originals: Vec<_> = s
        .split(a.split)?
        .iter()
        .filter(|d| !d.is_empty() && d.len() <= file.info.max_seq_len)
        .take(a.n)
        .cloned()
        .collect();
    let recon = if a.candidates > 1 {
        // the app's Redraw: the nearest of several decodings of each latent
        let session = Session::from_model(model, file.info.clone())?;
        let mut recon = Vec::with_capacity(originals.len());
        for (k, d) in originals.iter().enumerate() {
            let seed = a.seed.wrapping_add(k as u64);
            let kept = session
                .redraw(
                    d,
                    a.noise,
                    a.temperature,
                    file.info.max_seq_len,
                    a.candidates,
                    seed,
                )
                .map_err(|e| e.in_file(name(a.data)))?;
            recon.push(kept.drawing);
        }
        recon
    } else {
        single_decodings(a, &file, &model, &originals)?
    };
    if let Some(out) = a.out {
        let mut cells: Vec<Vec<Ink>> = Vec::new();
        for (o, r) in originals.iter().zip(&recon) {
            cells.push(vec![Ink {
                strokes: o,
                colour: "#222",
            }]);
            cells.push(vec![Ink {
                strokes: r,
                colour: "#1f5fbf",
            }]);
        }
        write(
            &out.with_extension("svg"),
            render::svg::grid_svg(&cells, 4, render::DEFAULT_CELL_PX).as_bytes(),
        )?;
        write(
            &out.with_extension("png"),
            &render::png::grid_png(&cells, 4, render::DEFAULT_CELL_PX)?,
        )?;
        eprintln!(
            "wrote {} originals and reconstructions to {}.svg/.png",
            originals.len(),
            out.display()
        );
    }
    if a.score {
        let points = |ds: &[Vec<stroke::Stroke3>]| -> Vec<Vec<stroke::Point>> {
            ds.iter()
                .map(|d| shape_distance::layout_points(d, shape_distance::LAYOUT_POINTS))
                .collect()
        };
        let retrieval = shape_distance::retrieval(&points(&recon), &points(&originals))
            .map_err(|e| e.in_file(name(a.data)))?;
        let line = ReconstructScore {
            model: name(a.model_path),
            split: a.split,
            latent: if a.from_prior { "prior" } else { "posterior" },
            temperature: a.temperature,
            noise: a.noise,
            candidates: a.candidates,
            seed: a.seed,
            layout_points: shape_distance::LAYOUT_POINTS,
            retrieval,
        };
        println!("{}", serde_json::to_string(&line)?);
    }
    Ok(())
}

/// One decoding of each drawing's noisy latent (or, with `--from-prior`, of a
/// prior draw), drawing k from point seed SEED + k; stroke-3, model pixels.
fn single_decodings(
    a: &ReconstructArgs,
    file: &ModelFile,
    model: &SketchRnn,
    originals: &[Vec<stroke::Stroke3>],
) -> Result<Vec<Vec<stroke::Stroke3>>> {
    let mut rng = SketchRng::new(a.seed);
    let mut recon = Vec::with_capacity(originals.len());
    for (k, d) in originals.iter().enumerate() {
        let z = if a.from_prior {
            let fitted = file
                .info
                .latent_prior
                .as_ref()
                .filter(|_| !a.standard_prior);
            sample::new_drawing_latent(model.hparams.z_size, fitted, &mut rng).unwrap_or_default()
        } else {
            let rows = stroke::stroke3_to_stroke5(&stroke::normalise(d, file.info.scale_factor));
            let (mu, sigma) = model.encode(&rows[..rows.len() - 1])?;
            sample::noisy_latent(&mu, &sigma, a.noise, &mut rng)?
        };
        let drawn = sample::generate(
            model,
            Some(&z),
            a.temperature,
            file.info.max_seq_len,
            a.seed.wrapping_add(k as u64),
        )?;
        recon.push(stroke::denormalise(
            &stroke::stroke5_to_stroke3(&drawn),
            file.info.scale_factor,
        ));
    }
    Ok(recon)
}

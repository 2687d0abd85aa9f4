//! `sketch-rnn train` and `sketch-rnn eval`: the training loop, its files, and
//! what the user watches (progress bar, metrics log, sample grids).
//!
//! Files in `--out DIR`:
//! * `checkpoint.safetensors`: the latest state (written atomically: temp file,
//!   fsync, rename); `--resume` continues from it.
//! * `model.safetensors`: the model with the best validation loss so far.
//! * `metrics.jsonl`: one JSON object per logged training step and evaluation.
//! * `snapshots/step_NNNNNN.safetensors` (with `--keep-snapshots N`): the model
//!   at each of the last N checkpoints, for `sketch-rnn average`.
//! * `samples/step_NNNNNN.png`: unconditional samples as training goes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candle_core::Device;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use sketch_rnn::dataset::{Drawing, read_npz};
use sketch_rnn::render;
use sketch_rnn::sample;
use sketch_rnn::train::{EvalLatent, TrainConfig, Trainer, checkpoint, evaluate_with_latent};
use sketch_rnn::weights::{ModelFile, native};

#[derive(Args)]
pub struct TrainArgs {
    /// sketch-rnn .npz files; several train one multi-category model.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Hyperparameter preset: paper (Magenta's defaults) or small (laptop CPU).
    #[arg(long, default_value = "small")]
    preset: String,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long, conflicts_with = "init_from")]
    resume: bool,
    /// Start a new run from this model's weights (fine-tuning): a model file
    /// (ours or Magenta's .vae.json/.gen.json) or a training checkpoint. The
    /// architecture comes from it (architecture flags must agree with it), and so
    /// do its recurrent dropout (unless --dropout-keep) and the data's units (its
    /// scale factor); step, schedules and the optimiser start afresh from the
    /// preset and flags.
    #[arg(long, value_name = "MODEL")]
    init_from: Option<PathBuf>,
    /// Stop after this many steps in total.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Evaluate on the validation split every N steps.
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    /// Write a checkpoint every N steps.
    #[arg(long, default_value_t = 25)]
    save_every: u64,
    /// Render a sample grid every N steps (0: never).
    #[arg(long, default_value_t = 200)]
    sample_every: u64,
    /// Keep the model weights of the last N checkpoints as
    /// OUT/snapshots/step_NNNNNN.safetensors (0: none), to average them
    /// afterwards: `sketch-rnn average OUT/snapshots/*.safetensors -o MODEL`.
    #[arg(long, default_value_t = 0, value_name = "N")]
    keep_snapshots: usize,
    /// Threads for tensor operations.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Model name stored in the file.
    #[arg(long, default_value = "sketch")]
    name: String,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    max_seq_len: Option<usize>,
    #[arg(long)]
    enc_size: Option<usize>,
    #[arg(long)]
    dec_size: Option<usize>,
    /// Latent size N_z; 0 trains an unconditional (decoder-only) model.
    #[arg(long)]
    z_size: Option<usize>,
    #[arg(long)]
    num_mixtures: Option<usize>,
    /// Decoder cell: lstm, layer_norm or hyper.
    #[arg(long)]
    cell: Option<String>,
    #[arg(long)]
    dropout_keep: Option<f32>,
    /// The decoder also reads the pen's absolute position (not in the paper;
    /// Magenta's format cannot hold such a model). With --init-from a model
    /// that does not read it, the new input starts with zero weights, so
    /// training starts from exactly that model's outputs.
    #[arg(long)]
    position_input: bool,
    /// The encoder also reads the running sum of offsets, the pen position (not
    /// in the paper; export to Magenta's format sums it in extra units). With
    /// --init-from a model that does not read it, the new input starts with
    /// zero weights.
    #[arg(long)]
    encoder_position_input: bool,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    lr_decay: Option<f64>,
    #[arg(long)]
    min_lr: Option<f64>,
    /// Ramp the learning rate up linearly over this many steps (for --init-from).
    #[arg(long)]
    warmup_steps: Option<u64>,
    #[arg(long)]
    kl_weight: Option<f64>,
    #[arg(long)]
    kl_weight_start: Option<f64>,
    #[arg(long)]
    kl_decay_rate: Option<f64>,
    #[arg(long)]
    kl_tolerance: Option<f64>,
    #[arg(long)]
    grad_clip: Option<f64>,
    #[arg(long)]
    random_scale: Option<f32>,
    #[arg(long)]
    point_drop: Option<f32>,
    /// Scheduled sampling: probability that a decoder input is the model's own
    /// sample instead of the human point (0: teacher forcing, as in the paper).
    #[arg(long, value_name = "P")]
    scheduled_sampling: Option<f32>,
    /// Temperature of scheduled sampling's samples.
    #[arg(long, value_name = "T")]
    scheduled_sampling_temperature: Option<f32>,
    /// With scheduled sampling, train the decoder to bring the drawing back to
    /// the human path after one of its own points (targets corrected for the
    /// drift) instead of repeating the human offsets.
    #[arg(long)]
    scheduled_sampling_correct_drift: bool,
    /// Probability that the encoder reads only the first strokes (k of n, k
    /// uniform in 1..n) of a training drawing while the decoder reconstructs
    /// all of it, so that a half drawing encodes to a whole drawing's latent
    /// (0: whole drawings, as in the paper).
    #[arg(long, value_name = "P")]
    encoder_prefix: Option<f32>,
    /// The encoder reads each training drawing simplified again with RDP at a
    /// tolerance drawn from [0, PX] pixels while the decoder reconstructs all
    /// of it, so that sparse drawings (few points, long segments) encode like
    /// dense ones of the same shape (0: the drawing as it is, as in the paper).
    #[arg(long, value_name = "PX")]
    encoder_simplify: Option<f32>,
}

#[derive(Args)]
pub struct EvalArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// train, valid or test.
    #[arg(long, default_value = "test")]
    split: String,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Normalise the split by its own scale factor (the standard deviation of its
    /// offsets) instead of the model's training one. Magenta and `train` use the
    /// training set's; some implementations normalise every set they load by its own.
    #[arg(long)]
    own_scale: bool,
    /// Decode each drawing from its own latent (`posterior`, z = μ + σε, the
    /// paper's L_R), from the posterior's mean without noise (`mean`, z = μ), or
    /// from a draw of the prior N(0, I) (`prior`). How much L_R rises under
    /// `prior` shows how much the decoder uses the encoder's latent.
    #[arg(long, value_enum, default_value_t = LatentArg::Posterior)]
    latent: LatentArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LatentArg {
    Posterior,
    Mean,
    Prior,
}

impl LatentArg {
    /// The flag's value, as `eval` reports it.
    fn name(self) -> &'static str {
        match self {
            LatentArg::Posterior => "posterior",
            LatentArg::Mean => "mean",
            LatentArg::Prior => "prior",
        }
    }
}

/// Sets the number of threads candle (through rayon) uses. Must run before any tensor work.
pub fn set_threads(n: Option<usize>) {
    if let Some(n) = n {
        // SAFETY: called at start-up, before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}

/// The run's configuration: the preset, then `base`'s architecture (when
/// starting from a model; not its N_max, which is the data's), then the flags.
fn config_of(a: &TrainArgs, base: Option<&ModelFile>) -> Result<TrainConfig> {
    let mut c = TrainConfig::preset(&a.preset)?;
    if let Some(m) = base {
        c.hparams = m.info.hparams.clone();
    }
    let h = &mut c.hparams;
    macro_rules! set {
        ($field:expr, $opt:expr) => {
            if let Some(v) = $opt {
                $field = v;
            }
        };
    }
    set!(c.seed, a.seed);
    set!(c.batch_size, a.batch_size);
    set!(c.max_seq_len, a.max_seq_len);
    set!(h.enc_size, a.enc_size);
    set!(h.dec_size, a.dec_size);
    set!(h.z_size, a.z_size);
    set!(h.num_mixtures, a.num_mixtures);
    set!(h.recurrent_dropout_keep, a.dropout_keep);
    if let Some(cell) = &a.cell {
        h.cell = cell.parse()?;
    }
    h.position_input |= a.position_input;
    h.encoder_position_input |= a.encoder_position_input;
    set!(c.learning_rate, a.lr);
    set!(c.learning_rate_decay, a.lr_decay);
    set!(c.min_learning_rate, a.min_lr);
    set!(c.warmup_steps, a.warmup_steps);
    set!(c.kl_weight, a.kl_weight);
    set!(c.kl_weight_start, a.kl_weight_start);
    set!(c.kl_decay_rate, a.kl_decay_rate);
    set!(c.kl_tolerance, a.kl_tolerance);
    set!(c.grad_clip, a.grad_clip);
    set!(c.random_scale, a.random_scale);
    set!(c.point_drop, a.point_drop);
    set!(c.scheduled_sampling, a.scheduled_sampling);
    set!(c.encoder_prefix, a.encoder_prefix);
    set!(c.encoder_simplify_px, a.encoder_simplify);
    set!(
        c.scheduled_sampling_temperature,
        a.scheduled_sampling_temperature
    );
    if a.scheduled_sampling_correct_drift {
        c.scheduled_sampling_correct_drift = true;
    }
    c.validate()?;
    Ok(c)
}

/// Concatenated splits of several npz files.
fn load_splits(files: &[PathBuf]) -> Result<(Vec<Drawing>, Vec<Drawing>, Vec<Drawing>)> {
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let s = read_npz(&bytes).map_err(|e| e.in_file(f.display().to_string()))?;
        train.extend(s.train);
        valid.extend(s.valid);
        test.extend(s.test);
    }
    Ok((train, valid, test))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// fsync, rename, then fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    {
        let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// On `--resume`, rewrites the metrics log (atomically) without what the
/// stopped run logged after its checkpoint at `step`: those steps run again, so
/// keeping them would log them twice. A line cut off by the kill goes too. The
/// log then reads as one uninterrupted run's.
fn drop_lines_after(metrics: &Path, step: u64) -> Result<()> {
    let text = match std::fs::read_to_string(metrics) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", metrics.display())),
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .flat_map(|l| [l, "\n"])
        .collect();
    if kept.len() != text.len() {
        write_atomic(metrics, kept.as_bytes())?;
    }
    Ok(())
}

/// The file name of the snapshot of step `step` in `snapshots/`.
fn snapshot_name(step: u64) -> String {
    format!("step_{step:06}.safetensors")
}

/// The snapshots in `dir` as (step, path), oldest first; other files are ignored.
fn snapshots_in(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step_"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes the snapshots in `dir` that `keep(rank, step)` rejects; rank 0 is the newest.
fn remove_snapshots(dir: &Path, keep: impl Fn(usize, u64) -> bool) -> Result<()> {
    for (i, (step, path)) in snapshots_in(dir)?.into_iter().rev().enumerate() {
        if !keep(i, step) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

fn sample_grid(tr: &Trainer, path: &Path) -> Result<()> {
    let drawings = sample::sample_prior(
        &tr.model,
        None,
        16,
        0.4,
        tr.config.max_seq_len,
        tr.info.scale_factor,
        1234,
    )?;
    std::fs::write(
        path,
        render::png::grid_png(&render::black_cells(&drawings), 8, 96.0)?,
    )?;
    Ok(())
}

pub fn train(a: TrainArgs) -> Result<()> {
    std::fs::create_dir_all(a.out.join("samples"))?;
    let (train_d, valid_d, _) = load_splits(&a.data)?;
    let device = Device::Cpu;
    let ckpt = a.out.join("checkpoint.safetensors");
    let snapshots = a.out.join("snapshots");
    let mut tr = if a.resume {
        let bytes = std::fs::read(&ckpt)
            .with_context(|| format!("--resume: reading {}", ckpt.display()))?;
        let tr = checkpoint::load(&bytes, &train_d, &device)
            .map_err(|e| e.in_file(ckpt.display().to_string()))?;
        eprintln!("resuming at step {} from {}", tr.step, ckpt.display());
        drop_lines_after(&a.out.join("metrics.jsonl"), tr.step)?;
        // Snapshots of steps after the checkpoint belong to the stopped run's lost
        // steps; the resumed run writes its own.
        let resumed_at = tr.step;
        remove_snapshots(&snapshots, |_, step| step <= resumed_at)?;
        tr
    } else {
        if ckpt.exists() {
            bail!(
                "{} exists: pass --resume to continue it, or choose another --out",
                ckpt.display()
            );
        }
        // Another run's snapshots would be averaged with this run's by
        // `sketch-rnn average OUT/snapshots/*.safetensors`.
        if let Some((_, stale)) = snapshots_in(&snapshots)?.first() {
            bail!(
                "{} is a snapshot of another run: remove {} or choose another --out",
                stale.display(),
                snapshots.display()
            );
        }
        match &a.init_from {
            Some(path) => {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let mut from = if checkpoint::is_checkpoint(&bytes) {
                    checkpoint::model_of(&bytes).map(|(m, _)| m)
                } else {
                    ModelFile::from_bytes(&bytes)
                }
                .map_err(|e| e.in_file(path.display().to_string()))?;
                if a.position_input && !from.info.hparams.position_input {
                    eprintln!("adding the pen position input, with zero weights");
                    from = sketch_rnn::train::widen::add_position_input(&from)
                        .map_err(|e| e.in_file(path.display().to_string()))?;
                }
                if a.encoder_position_input && !from.info.hparams.encoder_position_input {
                    eprintln!("adding the encoder's position input, with zero weights");
                    from = sketch_rnn::train::widen::add_encoder_position_input(&from)
                        .map_err(|e| e.in_file(path.display().to_string()))?;
                }
                let mut config = config_of(&a, Some(&from))?;
                config.init_from = Some(path.display().to_string());
                eprintln!(
                    "starting from the weights of {} ('{}')",
                    path.display(),
                    from.info.name
                );
                Trainer::from_model(config, &a.name, &from, &train_d, &device)
                    .map_err(|e| e.in_file(path.display().to_string()))?
            }
            None => Trainer::new(config_of(&a, None)?, &a.name, &train_d, &device)?,
        }
    };
    std::fs::write(
        a.out.join("config.json"),
        serde_json::to_vec_pretty(&tr.config)?,
    )?;
    let valid = if valid_d.is_empty() {
        None
    } else {
        Some(tr.dataset(&valid_d)?)
    };
    eprintln!(
        "training '{}' on {} drawings (scale factor {:.3} px), {} validation; {}",
        tr.info.name,
        tr.train.len(),
        tr.info.scale_factor,
        valid.as_ref().map_or(0, |v| v.len()),
        serde_json::to_string(&tr.config.hparams)?
    );
    let mut metrics = OpenOptions::new()
        .create(true)
        .append(true)
        .open(a.out.join("metrics.jsonl"))?;
    let bar = ProgressBar::new(a.steps);
    bar.set_style(ProgressStyle::with_template(
        "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
    )?);
    bar.set_position(tr.step);
    let started = Instant::now();
    let first = tr.step;
    while tr.step < a.steps {
        let t0 = Instant::now();
        let r = tr.train_step()?;
        let secs = t0.elapsed().as_secs_f64();
        let rate = (tr.step - first) as f64 / started.elapsed().as_secs_f64();
        bar.set_position(tr.step);
        bar.set_message(format!(
            "Ls {:.3} Lp {:.3} KL {:.3} | {:.2} s/step",
            r.losses.ls,
            r.losses.lp,
            r.losses.kl,
            1.0 / rate
        ));
        writeln!(
            metrics,
            "{}",
            json!({"step": r.step, "split": "train", "ls": r.losses.ls, "lp": r.losses.lp, "kl": r.losses.kl,
                   "cost": r.cost, "lr": r.learning_rate, "kl_weight": r.kl_weight, "applied": r.applied, "seconds": secs})
        )?;
        if !r.applied {
            bar.println(format!("step {}: non-finite loss, update skipped", r.step));
        }
        let evaluate_now = tr.step % a.eval_every == 0 || tr.step == a.steps;
        let mut new_best = false;
        if let (true, Some(v)) = (evaluate_now, &valid) {
            let l = tr.evaluate(v)?;
            let score = l.reconstruction() + tr.config.kl_weight * l.kl.max(tr.config.kl_tolerance);
            let best = tr.best_valid.is_none_or(|b| score < b);
            writeln!(
                metrics,
                "{}",
                json!({"step": tr.step, "split": "valid", "ls": l.ls, "lp": l.lp, "kl": l.kl, "lr_total": l.reconstruction(), "best": best})
            )?;
            bar.println(format!(
                "step {}: valid L_R {:.4} (L_s {:.4}, L_p {:.4}) KL {:.4}{}",
                tr.step,
                l.reconstruction(),
                l.ls,
                l.lp,
                l.kl,
                if best { "  best so far, saved" } else { "" }
            ));
            if best {
                tr.best_valid = Some(score);
                new_best = true;
            }
        }
        let save_now = tr.step % a.save_every == 0 || tr.step == a.steps || evaluate_now;
        let snapshot_now = save_now && a.keep_snapshots > 0;
        if new_best || snapshot_now {
            // Serialised once for the best model and the snapshot when a step is both.
            let bytes = native::write(&tr.model_file()?)?;
            if new_best {
                write_atomic(&a.out.join("model.safetensors"), &bytes)?;
            }
            // The snapshot before the checkpoint: a run killed between the two
            // redoes this step on --resume and writes the same snapshot again.
            if snapshot_now {
                std::fs::create_dir_all(&snapshots)?;
                write_atomic(&snapshots.join(snapshot_name(tr.step)), &bytes)?;
                remove_snapshots(&snapshots, |newest_first, _| {
                    newest_first < a.keep_snapshots
                })?;
            }
        }
        if save_now {
            write_atomic(&ckpt, &checkpoint::save(&tr)?)?;
        }
        if a.sample_every > 0 && tr.step % a.sample_every == 0 {
            sample_grid(&tr, &a.out.join(format!("samples/step_{:06}.png", tr.step)))?;
        }
    }
    bar.finish();
    if valid.is_none() {
        write_atomic(
            &a.out.join("model.safetensors"),
            &native::write(&tr.model_file()?)?,
        )?;
    }
    eprintln!(
        "done: {} steps, {} skipped, in {:.0} s",
        tr.step,
        tr.skipped_steps,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let (model_file, model) = super::load_model(&a.model)?;
    let (train, valid, test) = load_splits(&a.data)?;
    let drawings = match a.split.as_str() {
        "train" => train,
        "valid" => valid,
        "test" => test,
        other => bail!("--split must be train, valid or test, found '{other}'"),
    };
    let scale = (!a.own_scale).then_some(model_file.info.scale_factor);
    let ds = sketch_rnn::dataset::Dataset::new(&drawings, model_file.info.max_seq_len, scale)?;
    let latent = match a.latent {
        LatentArg::Posterior => EvalLatent::Posterior,
        LatentArg::Mean | LatentArg::Prior if !model.hparams.conditional() => bail!(
            "{}: --latent {} needs a conditional (VAE) model; this one has no latent",
            a.model.display(),
            a.latent.name()
        ),
        LatentArg::Mean => EvalLatent::Mean,
        LatentArg::Prior => EvalLatent::Prior,
    };
    let l = evaluate_with_latent(&model, &ds, a.batch_size, latent)?;
    println!(
        "{}",
        json!({"model": a.model.display().to_string(), "split": a.split, "drawings": ds.len(),
               "scale_factor": ds.scale_factor(),
               "latent": a.latent.name(),
               "lr_total": l.reconstruction(), "ls": l.ls, "lp": l.lp, "kl": l.kl})
    );
    Ok(())
}

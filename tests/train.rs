//! The trainer: the loss drops, a run killed with SIGKILL and resumed gives the
//! same losses as one never interrupted, and `eval` of the saved model equals
//! the trainer's own validation figure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use candle_core::Device;
use sketch_rnn::dataset::{Drawing, read_npz};
use sketch_rnn::model::{CellKind, HParams};
use sketch_rnn::train::{TrainConfig, Trainer, checkpoint};
use sketch_rnn::weights::ModelFile;

mod common;

use common::bin;

/// Sheep drawings of at most 60 rows (a slice of the data), or synthetic loops without ../shared.
fn drawings() -> (Vec<Drawing>, Option<PathBuf>) {
    if let Some(shared) = common::shared_dir() {
        let path = shared.join("data/aaron_sheep.npz");
        let s = read_npz(&std::fs::read(&path).unwrap()).unwrap();
        let short: Vec<Drawing> = s
            .train
            .into_iter()
            .filter(|d| d.len() <= 60)
            .take(400)
            .collect();
        return (short, Some(path));
    }
    let synthetic = (0..200)
        .map(|k| {
            (0..30 + k % 20)
                .map(|i| {
                    let a = i as f32 * 0.4 + k as f32 * 0.1;
                    [
                        12.0 * a.cos(),
                        12.0 * a.sin(),
                        if i % 10 == 9 { 1.0 } else { 0.0 },
                    ]
                })
                .collect()
        })
        .collect();
    (synthetic, None)
}

fn tiny(cell: CellKind) -> TrainConfig {
    let mut c = TrainConfig::small();
    c.hparams = HParams {
        enc_size: 16,
        dec_size: 32,
        z_size: 8,
        num_mixtures: 20,
        cell,
        recurrent_dropout_keep: 0.9,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    };
    c.batch_size = 16;
    c.max_seq_len = 60;
    c.learning_rate = 5e-3;
    c
}

#[test]
fn loss_drops_in_a_few_dozen_steps_for_every_cell() {
    let (data, _) = drawings();
    for cell in [CellKind::Lstm, CellKind::LayerNorm, CellKind::Hyper] {
        let mut tr = Trainer::new(tiny(cell), "t", &data, &Device::Cpu).unwrap();
        let valid = tr.dataset(&data[..64]).unwrap();
        let before = tr.evaluate(&valid).unwrap().reconstruction();
        let mut costs = Vec::new();
        for _ in 0..40 {
            let r = tr.train_step().unwrap();
            assert!(r.applied);
            costs.push(r.losses.reconstruction());
        }
        let after = tr.evaluate(&valid).unwrap().reconstruction();
        let first: f64 = costs[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = costs[35..].iter().sum::<f64>() / 5.0;
        assert!(
            after < before - 0.1,
            "{cell:?}: validation L_R {before} -> {after}"
        );
        assert!(last < first, "{cell:?}: training L_R {first} -> {last}");
    }
}

#[test]
fn checkpoint_round_trip_continues_identically() {
    let (data, _) = drawings();
    let mut a = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    let reference: Vec<f64> = (0..8).map(|_| a.train_step().unwrap().cost).collect();
    let mut b = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    let mut resumed: Vec<f64> = (0..4).map(|_| b.train_step().unwrap().cost).collect();
    let bytes = checkpoint::save(&b).unwrap();
    drop(b);
    let mut c = checkpoint::load(&bytes, &data, &Device::Cpu).unwrap();
    assert_eq!(c.step, 4);
    resumed.extend((0..4).map(|_| c.train_step().unwrap().cost));
    assert_eq!(reference, resumed);
}

/// The tiny configuration with scheduled sampling at `p` and no recurrent
/// dropout (so only the mixing draws from the generator).
fn sampling(p: f32, correct_drift: bool) -> TrainConfig {
    let mut c = tiny(CellKind::Lstm);
    c.hparams.recurrent_dropout_keep = 1.0;
    c.scheduled_sampling = p;
    c.scheduled_sampling_correct_drift = correct_drift;
    c
}

/// Scheduled sampling changes what the decoder reads and nothing else: the
/// encoder still reads the human drawing (the same L_KL from the same noise),
/// while the decoder's loss on the human targets changes.
#[test]
fn scheduled_sampling_feeds_the_decoder_its_own_samples_not_the_encoder() {
    let (data, _) = drawings();
    let first_step = |p: f32| {
        let mut tr = Trainer::new(sampling(p, false), "t", &data, &Device::Cpu).unwrap();
        tr.train_step().unwrap().losses
    };
    let (teacher, own) = (first_step(0.0), first_step(1.0));
    assert_eq!(teacher.kl, own.kl);
    assert!(
        (teacher.ls - own.ls).abs() > 1e-4,
        "L_s {} vs {}",
        teacher.ls,
        own.ls
    );
}

/// With scheduled sampling a run still learns, and a checkpoint (which keeps
/// the probability and the generator) continues it identically.
#[test]
fn scheduled_sampling_learns_and_resumes_identically() {
    let (data, _) = drawings();
    let mut c = tiny(CellKind::Lstm);
    c.scheduled_sampling = 0.5;
    let mut a = Trainer::new(c.clone(), "t", &data, &Device::Cpu).unwrap();
    let valid = a.dataset(&data[..64]).unwrap();
    let before = a.evaluate(&valid).unwrap().reconstruction();
    let reference: Vec<f64> = (0..40).map(|_| a.train_step().unwrap().cost).collect();
    let after = a.evaluate(&valid).unwrap().reconstruction();
    assert!(after < before - 0.1, "validation L_R {before} -> {after}");
    let mut b = Trainer::new(c, "t", &data, &Device::Cpu).unwrap();
    let mut resumed: Vec<f64> = (0..20).map(|_| b.train_step().unwrap().cost).collect();
    let bytes = checkpoint::save(&b).unwrap();
    drop(b);
    let mut r = checkpoint::load(&bytes, &data, &Device::Cpu).unwrap();
    assert_eq!(r.config.scheduled_sampling, 0.5);
    resumed.extend((0..20).map(|_| r.train_step().unwrap().cost));
    assert_eq!(reference, resumed);
}

/// Drift correction changes only what the decoder predicts: the same samples
/// are drawn (same generator), the encoder's L_KL is the same, the decoder's
/// L_s on the corrected targets differs; a checkpoint keeps the setting.
#[test]
fn scheduled_sampling_drift_correction_changes_the_targets_and_is_checkpointed() {
    let (data, _) = drawings();
    let trainer =
        |correct: bool| Trainer::new(sampling(0.5, correct), "t", &data, &Device::Cpu).unwrap();
    let (mut human, mut corrected) = (trainer(false), trainer(true));
    let (h, c) = (
        human.train_step().unwrap().losses,
        corrected.train_step().unwrap().losses,
    );
    assert_eq!(h.kl, c.kl);
    assert!((h.ls - c.ls).abs() > 1e-4, "L_s {} vs {}", h.ls, c.ls);
    let r = checkpoint::load(&checkpoint::save(&corrected).unwrap(), &data, &Device::Cpu).unwrap();
    assert!(r.config.scheduled_sampling_correct_drift);
}

/// For an option that changes only what the encoder reads (`set` turns it to
/// a value): at `strong` the same first batch gives another L_KL than at
/// `off` (no recurrent dropout, so only the encoder's input differs); a run
/// at `mid` still learns, and its checkpoint keeps the setting (`get`) and
/// continues the run identically. Returns the resumed trainer.
fn encoder_option_learns_and_resumes(
    set: impl Fn(&mut TrainConfig, f32),
    get: impl Fn(&TrainConfig) -> f32,
    [off, mid, strong]: [f32; 3],
) -> Trainer {
    let (data, _) = drawings();
    let config = |v: f32| {
        let mut c = tiny(CellKind::Lstm);
        c.hparams.recurrent_dropout_keep = 1.0;
        set(&mut c, v);
        c
    };
    let first_step = |v: f32| {
        let mut tr = Trainer::new(config(v), "t", &data, &Device::Cpu).unwrap();
        tr.train_step().unwrap().losses
    };
    let (plain, changed) = (first_step(off), first_step(strong));
    assert!(
        // tiny at initialisation (about 3e-6), so compared relatively
        (plain.kl - changed.kl).abs() > 5e-3 * plain.kl,
        "L_KL {} vs {}",
        plain.kl,
        changed.kl
    );
    let mut a = Trainer::new(config(mid), "t", &data, &Device::Cpu).unwrap();
    let valid = a.dataset(&data[..64]).unwrap();
    let before = a.evaluate(&valid).unwrap().reconstruction();
    let reference: Vec<f64> = (0..40).map(|_| a.train_step().unwrap().cost).collect();
    let after = a.evaluate(&valid).unwrap().reconstruction();
    assert!(after < before - 0.1, "validation L_R {before} -> {after}");
    let mut b = Trainer::new(config(mid), "t", &data, &Device::Cpu).unwrap();
    let mut resumed: Vec<f64> = (0..20).map(|_| b.train_step().unwrap().cost).collect();
    let bytes = checkpoint::save(&b).unwrap();
    drop(b);
    let mut r = checkpoint::load(&bytes, &data, &Device::Cpu).unwrap();
    assert_eq!(get(&r.config), mid);
    resumed.extend((0..20).map(|_| r.train_step().unwrap().cost));
    assert_eq!(reference, resumed);
    r
}

/// `encoder_prefix`: the encoder reads the beginnings of drawings.
#[test]
fn encoder_prefix_changes_what_the_encoder_reads_and_resumes_identically() {
    let r = encoder_option_learns_and_resumes(
        |c, p| c.encoder_prefix = p,
        |c| c.encoder_prefix,
        [0.0, 0.5, 1.0],
    );
    // The model file records it, so "Finish it" draws from the encoding.
    assert_eq!(r.model_file().unwrap().info.encoder_prefix, 0.5);
    let (data, _) = drawings();
    let whole = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    assert_eq!(whole.model_file().unwrap().info.encoder_prefix, 0.0);
}

#[test]
fn encoder_prefix_must_be_a_probability() {
    let (data, _) = drawings();
    for p in [-0.1, 1.5, f32::NAN] {
        let mut c = tiny(CellKind::Lstm);
        c.encoder_prefix = p;
        let e = Trainer::new(c, "t", &data, &Device::Cpu).err().unwrap();
        assert!(e.to_string().contains("encoder_prefix"), "{e}");
    }
}

/// `encoder_simplify_px`: the encoder reads copies simplified with RDP at up
/// to that many pixels.
#[test]
fn encoder_simplify_changes_what_the_encoder_reads_and_resumes_identically() {
    encoder_option_learns_and_resumes(
        |c, px| c.encoder_simplify_px = px,
        |c| c.encoder_simplify_px,
        [0.0, 20.0, 40.0],
    );
}

#[test]
fn encoder_simplify_must_be_a_tolerance() {
    let (data, _) = drawings();
    for px in [-1.0, f32::INFINITY, f32::NAN] {
        let mut c = tiny(CellKind::Lstm);
        c.encoder_simplify_px = px;
        let e = Trainer::new(c, "t", &data, &Device::Cpu).err().unwrap();
        assert!(e.to_string().contains("encoder_simplify_px"), "{e}");
    }
}

#[test]
fn scheduled_sampling_must_be_a_probability() {
    let (data, _) = drawings();
    for p in [-0.1, 1.5, f32::NAN] {
        let mut c = tiny(CellKind::Lstm);
        c.scheduled_sampling = p;
        let e = Trainer::new(c, "t", &data, &Device::Cpu).err().unwrap();
        assert!(e.to_string().contains("scheduled_sampling"), "{e}");
    }
    let mut c = tiny(CellKind::Lstm);
    c.scheduled_sampling = 0.5;
    c.scheduled_sampling_temperature = 0.0;
    let e = Trainer::new(c, "t", &data, &Device::Cpu).err().unwrap();
    assert!(e.to_string().contains("temperature"), "{e}");
    // drift correction without any samples to correct would do nothing
    let e = Trainer::new(sampling(0.0, true), "t", &data, &Device::Cpu)
        .err()
        .unwrap();
    assert!(e.to_string().contains("correct_drift"), "{e}");
}

/// `checkpoint::model_of` gives the trainer's own model and step, and `average`
/// of two checkpoints of one run is the element-wise mean of their weights.
#[test]
fn checkpoints_give_their_model_and_average_to_the_mean() {
    let (data, _) = drawings();
    let mut tr = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    tr.train_step().unwrap();
    let first = checkpoint::save(&tr).unwrap();
    let own = ModelFile::from_varmap(tr.info.clone(), &tr.varmap).unwrap();
    let values = |f: &ModelFile, name: &str| {
        f.tensors[name]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    // Copied now: the trainer's variables change in place on the next step.
    let own_values: std::collections::HashMap<String, Vec<f32>> = own
        .tensors
        .keys()
        .map(|k| (k.clone(), values(&own, k)))
        .collect();
    tr.train_step().unwrap();
    let second = checkpoint::save(&tr).unwrap();
    assert!(checkpoint::is_checkpoint(&first));
    let (a, step_a) = checkpoint::model_of(&first).unwrap();
    let (b, step_b) = checkpoint::model_of(&second).unwrap();
    assert_eq!((step_a, step_b), (1, 2));
    assert_eq!(a.info, own.info);
    assert_eq!(a.tensors.len(), own.tensors.len());
    for (name, v) in &own_values {
        assert_eq!(&values(&a, name), v, "{name}");
    }
    let mean = ModelFile::average(&[a.clone(), b.clone()]).unwrap();
    let mut moved = 0f32;
    for name in own.tensors.keys() {
        let (x, y, m) = (values(&a, name), values(&b, name), values(&mean, name));
        for ((x, y), m) in x.iter().zip(&y).zip(&m) {
            assert!(
                (m - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + x.abs()),
                "{name}"
            );
            moved = moved.max((x - y).abs());
        }
    }
    assert!(moved > 0.0, "the two checkpoints should differ");
    mean.build(&Device::Cpu).unwrap();
}

/// Regression: a run stopped after logging a step but before checkpointing it
/// logged that step twice once resumed (and a line cut off by SIGKILL broke
/// `plot`). Resuming now drops the log lines after the checkpoint.
#[test]
fn resume_drops_lines_logged_after_the_checkpoint() {
    let data = tiny_npz();
    let out = fresh_dir("relog");
    wait(train_cmd(&data, &out, 6).spawn().unwrap());
    let log = out.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    // what a run killed after logging steps 7 and 8, before checkpointing them, leaves
    text.push_str("{\"step\":7,\"split\":\"train\",\"ls\":9.0,\"lp\":9.0,\"kl\":9.0}\n");
    text.push_str("{\"step\":8,\"split\":\"train\",\"ls\":9.0,\"lp\":9.0,\"kl\":9.0}\n");
    text.push_str("{\"step\":8,\"split\":\"va");
    std::fs::write(&log, text).unwrap();
    wait(train_cmd(&data, &out, 8).arg("--resume").spawn().unwrap());

    let got = train_losses(&out);
    let steps: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, (1..=8).collect::<Vec<u64>>());
    assert!(
        got.iter().all(|(_, l)| l[0] != 9.0),
        "a stale line survived"
    );
    let out_svg = out.join("loss.svg");
    common::assert_success(
        &bin()
            .arg("plot")
            .arg(&log)
            .arg("-o")
            .arg(&out_svg)
            .output()
            .unwrap(),
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// `--keep-snapshots N` keeps the model of each of the last N checkpoints (the
/// newest is the final checkpoint's own model) and `average` takes them; on
/// `--resume`, a snapshot of a step after the checkpoint (left by the stopped
/// run) goes, instead of crowding out the resumed run's own.
#[test]
fn keep_snapshots_keeps_the_models_of_the_last_n_checkpoints() {
    use sketch_rnn::weights::ModelFile;
    let data = tiny_npz();
    let out = fresh_dir("snap");
    let dir = out.join("snapshots");
    let names = || {
        let mut n: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    wait(
        train_cmd(&data, &out, 8)
            .args(["--keep-snapshots", "3"])
            .spawn()
            .unwrap(),
    );
    assert_eq!(
        names(),
        [
            "step_000006.safetensors",
            "step_000007.safetensors",
            "step_000008.safetensors"
        ]
    );
    let read = |p: PathBuf| std::fs::read(p).unwrap();
    let (own, step) = checkpoint::model_of(&read(out.join("checkpoint.safetensors"))).unwrap();
    assert_eq!(step, 8);
    let newest = ModelFile::from_bytes(&read(dir.join("step_000008.safetensors"))).unwrap();
    let oldest = ModelFile::from_bytes(&read(dir.join("step_000006.safetensors"))).unwrap();
    assert_eq!(newest.info, own.info);
    assert_eq!(newest.tensors.len(), own.tensors.len());
    let mut moved = 0f32;
    for (name, t) in &own.tensors {
        assert_eq!(
            common::max_abs_diff(&newest.tensors[name], t),
            0.0,
            "{name}"
        );
        moved = moved.max(common::max_abs_diff(&oldest.tensors[name], t));
    }
    assert!(moved > 0.0, "steps 6 and 8 should differ");

    // what a run killed after a snapshot of step 99 and before its checkpoint leaves
    std::fs::copy(
        dir.join("step_000008.safetensors"),
        dir.join("step_000099.safetensors"),
    )
    .unwrap();
    wait(
        train_cmd(&data, &out, 10)
            .args(["--resume", "--keep-snapshots", "3"])
            .spawn()
            .unwrap(),
    );
    assert_eq!(
        names(),
        [
            "step_000008.safetensors",
            "step_000009.safetensors",
            "step_000010.safetensors"
        ]
    );
    let mean = out.join("mean.safetensors");
    let mut cmd = bin();
    cmd.arg("average");
    for n in names() {
        cmd.arg(dir.join(n));
    }
    common::assert_success(&cmd.arg("-o").arg(&mean).output().unwrap());
    ModelFile::from_bytes(&read(mean))
        .unwrap()
        .build(&Device::Cpu)
        .unwrap();
    let _ = std::fs::remove_dir_all(&out);
}

/// Regression: a new run (no `--resume`) into an OUT folder that held another
/// run's snapshots but no checkpoint kept them beside its own, so averaging
/// `OUT/snapshots/*` mixed two runs.
#[test]
fn new_run_refuses_an_out_folder_with_another_runs_snapshots() {
    let data = tiny_npz();
    let out = fresh_dir("stale");
    std::fs::create_dir_all(out.join("snapshots")).unwrap();
    let stale = out.join("snapshots").join("step_000040.safetensors");
    std::fs::write(&stale, b"another run's model").unwrap();
    let run = train_cmd(&data, &out, 2)
        .args(["--keep-snapshots", "3"])
        .output()
        .unwrap();
    assert!(
        !run.status.success(),
        "a new run should refuse stale snapshots"
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("step_000040.safetensors") && err.contains("another run"),
        "{err}"
    );
    assert!(!out.join("checkpoint.safetensors").exists());
    assert_eq!(std::fs::read(&stale).unwrap(), b"another run's model");
    let _ = std::fs::remove_dir_all(&out);
}

/// A scratch folder for one test, `sketch-rnn-TAG-PID` under the system's temp
/// folder, with anything an earlier run left there removed.
fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sketch-rnn-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn train_cmd(data: &Path, out: &Path, steps: u64) -> Command {
    let mut c = bin();
    c.arg("train").arg("--data").arg(data).arg("--out").arg(out);
    c.args([
        "--steps",
        &steps.to_string(),
        "--eval-every",
        "6",
        "--save-every",
        "1",
        "--sample-every",
        "6",
    ]);
    c.args([
        "--enc-size",
        "16",
        "--dec-size",
        "32",
        "--z-size",
        "8",
        "--batch-size",
        "8",
        "--max-seq-len",
        "250",
    ]);
    c.args(["--threads", "1", "--name", "tiny"]);
    c
}

/// step -> (ls, lp, kl) of every training line in a metrics log.
fn train_losses(out: &Path) -> Vec<(u64, [f64; 3])> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["split"] == "train")
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                [
                    v["ls"].as_f64().unwrap(),
                    v["lp"].as_f64().unwrap(),
                    v["kl"].as_f64().unwrap(),
                ],
            )
        })
        .collect()
}

fn wait(mut child: Child) {
    assert!(child.wait().unwrap().success());
}

fn tiny_npz() -> PathBuf {
    let (data, path) = drawings();
    if let Some(p) = path {
        return p;
    }
    let splits = sketch_rnn::dataset::SketchSplits {
        train: data[..150].to_vec(),
        valid: data[150..].to_vec(),
        test: data[150..].to_vec(),
    };
    let p = std::env::temp_dir().join(format!("sketch-rnn-train-{}.npz", std::process::id()));
    std::fs::write(&p, sketch_rnn::dataset::write_npz(&splits).unwrap()).unwrap();
    p
}

#[test]
fn sigkill_and_resume_gives_the_uninterrupted_loss_sequence() {
    let data = tiny_npz();
    let root = fresh_dir("kill");
    let (straight, killed) = (root.join("straight"), root.join("killed"));
    wait(train_cmd(&data, &straight, 12).spawn().unwrap());

    let mut child = train_cmd(&data, &killed, 12).spawn().unwrap();
    let start = Instant::now();
    // kill once at least 4 steps are logged (so a checkpoint exists mid-run)
    while train_losses_len(&killed) < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "training did not progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_before_kill = train_losses_len(&killed);
    wait(
        train_cmd(&data, &killed, 12)
            .arg("--resume")
            .spawn()
            .unwrap(),
    );

    let reference = train_losses(&straight);
    assert_eq!(reference.len(), 12);
    let got = train_losses(&killed);
    assert_eq!(got.len(), 12, "each step logged once");
    for (step, losses) in &got {
        let (_, want) = reference[(*step - 1) as usize];
        for k in 0..3 {
            assert!(
                (losses[k] - want[k]).abs() <= 1e-9,
                "step {step} (killed after {done_before_kill}): {losses:?} vs {want:?}"
            );
        }
    }
    let last_steps: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(*last_steps.last().unwrap(), 12);
    assert!(killed.join("samples/step_000006.png").exists());
    assert!(
        !killed.join("snapshots").exists(),
        "no snapshots without --keep-snapshots"
    );

    // loss curves render
    let plot = root.join("loss.svg");
    let out = bin()
        .arg("plot")
        .arg(killed.join("metrics.jsonl"))
        .arg("-o")
        .arg(&plot)
        .output()
        .unwrap();
    common::assert_success(&out);
    assert!(
        std::fs::read_to_string(&plot)
            .unwrap()
            .matches("<path")
            .count()
            >= 3
    );

    // eval of the saved best model equals the trainer's own validation figure
    let metrics = std::fs::read_to_string(killed.join("metrics.jsonl")).unwrap();
    let best = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .rfind(|v| v["split"] == "valid" && v["best"] == true)
        .unwrap();
    let model = killed.join("model.safetensors");
    let e = eval_valid(&model, &data, &["--batch-size", "7"]);
    for k in ["ls", "lp", "kl", "lr_total"] {
        let (a, b) = (e[k].as_f64().unwrap(), best[k].as_f64().unwrap());
        assert!((a - b).abs() < 1e-5, "{k}: eval {a}, trainer {b}");
    }

    // --own-scale normalises the split by its own scale factor, not the model's
    let own = eval_valid(&model, &data, &["--own-scale"]);
    let valid = read_npz(&std::fs::read(&data).unwrap()).unwrap().valid;
    let expected = sketch_rnn::dataset::scale_factor(&valid).unwrap() as f64;
    let found = own["scale_factor"].as_f64().unwrap();
    assert!(
        (found - expected).abs() < 1e-4 * expected,
        "own scale {found}, expected {expected}"
    );
    if (found - e["scale_factor"].as_f64().unwrap()).abs() > 1e-3 {
        assert_ne!(own["ls"], e["ls"], "another scale factor, the same L_s");
    }
}

/// `sketch-rnn eval --split valid` of `model` on `data` with `extra` flags: its JSON line.
fn eval_valid(model: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = ["--split", "valid"].iter().chain(extra).copied().collect();
    common::eval_json(model, data, &args)
}

fn train_losses_len(out: &Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|s| s.lines().filter(|l| l.contains("\"train\"")).count())
        .unwrap_or(0)
}

/// `EvalLatent::Mean` decodes every drawing from its posterior mean μ, without
/// noise: the figure equals the losses of a teacher-forced pass given z = μ,
/// differs from the noisy posterior's, and L_KL is the same in both.
#[test]
fn eval_at_the_posterior_mean_decodes_from_mu() {
    use sketch_rnn::model::LatentInput;
    use sketch_rnn::model::loss::reconstruction_loss;
    use sketch_rnn::train::{EvalLatent, evaluate_with_latent};
    let (data, _) = drawings();
    let tr = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    let valid = tr.dataset(&data[..16]).unwrap();
    let (model, m) = (&tr.model, tr.model.hparams.num_mixtures);
    let mean = evaluate_with_latent(model, &valid, 16, EvalLatent::Mean).unwrap();
    let noisy = evaluate_with_latent(model, &valid, 16, EvalLatent::Posterior).unwrap();
    let b = valid.batch(&(0..16).collect::<Vec<_>>(), None).unwrap();
    let mu = model
        .forward(&b.strokes, &b.lengths, None, None)
        .unwrap()
        .mu
        .unwrap();
    let given = model
        .forward_with_latent(&b.strokes, &b.lengths, LatentInput::Given(&mu), None)
        .unwrap();
    let target = model.targets(&b.strokes, 16).unwrap();
    let (ls, lp) = reconstruction_loss(&given.logits, &target, m).unwrap();
    let (ls, lp) = (
        ls.to_scalar::<f32>().unwrap() as f64,
        lp.to_scalar::<f32>().unwrap() as f64,
    );
    assert!((mean.ls - ls).abs() < 1e-5, "{} vs {ls}", mean.ls);
    assert!((mean.lp - lp).abs() < 1e-5, "{} vs {lp}", mean.lp);
    assert!((mean.ls - noisy.ls).abs() > 1e-4, "noise changed nothing");
    assert_eq!(mean.kl, noisy.kl);
}

/// `Trainer::from_model` (fine-tuning) starts from the given model's weights
/// and units, not from a seeded initialisation: at step 0 it evaluates exactly
/// as that model does, keeps its scale factor even on other drawings, takes the
/// new schedule, and trains from there.
#[test]
fn fine_tuning_starts_from_the_given_weights_and_units() {
    let (data, _) = drawings();
    let mut source = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    for _ in 0..3 {
        source.train_step().unwrap();
    }
    let from = source.model_file().unwrap();
    let valid = source.dataset(&data[..32]).unwrap();
    let want = source.evaluate(&valid).unwrap();

    let mut config = tiny(CellKind::Lstm);
    config.seed = 99; // another initialisation, which must not be used
    config.kl_weight = 0.25;
    config.kl_weight_start = 0.25;
    config.learning_rate = 1e-4;
    config.warmup_steps = 2;
    config.hparams.recurrent_dropout_keep = 1.0; // training-only: may differ
    // Other drawings, with another scale factor of their own.
    let others = &data[data.len() / 2..];
    let mut tuned = Trainer::from_model(config, "tuned", &from, others, &Device::Cpu).unwrap();
    assert_eq!(tuned.step, 0);
    assert_eq!(tuned.info.name, "tuned");
    assert_eq!(tuned.info.scale_factor, from.info.scale_factor);
    let own_scale = sketch_rnn::dataset::scale_factor(others).unwrap();
    assert_ne!(own_scale, from.info.scale_factor, "test data too alike");
    let got = tuned.evaluate(&valid).unwrap();
    assert_eq!(got, want, "step 0 must be the given model");

    let r = tuned.train_step().unwrap();
    assert!(r.applied);
    assert_eq!(r.kl_weight, 0.25);
    assert!(
        (r.learning_rate - 0.5e-4).abs() < 1e-12,
        "half way up the warm-up"
    );
    let moved = tuned.model_file().unwrap();
    let changed = from.tensors.iter().any(|(k, t)| {
        let d = (t - &moved.tensors[k]).unwrap().abs().unwrap();
        d.max_all().unwrap().to_scalar::<f32>().unwrap() > 0.0
    });
    assert!(changed, "a step should change the weights");
    // Fine-tuning trains its own copy: the given model is left as it was.
    let rebuilt = from.build(&Device::Cpu).unwrap();
    let check = sketch_rnn::train::evaluate(&rebuilt, &valid, 16).unwrap();
    assert_eq!(check, want);
}

#[test]
fn fine_tuning_refuses_another_architecture() {
    use sketch_rnn::error::Error;
    let (data, _) = drawings();
    let source = Trainer::new(tiny(CellKind::Lstm), "t", &data, &Device::Cpu).unwrap();
    let from = source.model_file().unwrap();
    let mut wider = tiny(CellKind::Lstm);
    wider.hparams.dec_size = 64;
    let e = Trainer::from_model(wider, "t", &from, &data, &Device::Cpu)
        .err()
        .expect("dec_size 64 against a 32-unit model");
    assert!(
        matches!(&e, Error::InvalidArgument { name, reason }
            if name == "init_from" && reason.contains("dec_size: 64") && reason.contains("dec_size: 32")),
        "{e}"
    );
    let mut missing = from.clone();
    let name = missing.tensors.keys().next().unwrap().clone();
    missing.tensors.remove(&name);
    let e = Trainer::from_model(tiny(CellKind::Lstm), "t", &missing, &data, &Device::Cpu)
        .err()
        .expect("a model without one of its tensors");
    assert!(matches!(e, Error::ModelFile(_)), "{e}");
}

/// Asserts that a `train` run succeeded; its `OUT/config.json`.
fn finished_config(run: &std::process::Output, out: &Path) -> serde_json::Value {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap()
}

/// `train --init-from MODEL` fine-tunes a saved model: the run records what it
/// started from, and architecture flags that contradict the model are refused
/// with the model file's name.
#[test]
fn train_init_from_fine_tunes_a_saved_model() {
    let data = tiny_npz();
    let root = fresh_dir("init");
    wait(train_cmd(&data, &root.join("first"), 6).spawn().unwrap());
    let model = root.join("first/model.safetensors");
    let tuned = root.join("tuned");
    let out = train_cmd(&data, &tuned, 6)
        .arg("--init-from")
        .arg(&model)
        .args(["--kl-weight", "0.25", "--kl-weight-start", "0.25"])
        .output()
        .unwrap();
    let config = finished_config(&out, &tuned);
    assert_eq!(config["init_from"], model.display().to_string());
    assert_eq!(config["kl_weight"], 0.25);
    assert_eq!(train_losses(&tuned).len(), 6);

    let out = train_cmd(&data, &root.join("fewer"), 6)
        .arg("--init-from")
        .arg(&model)
        .args(["--num-mixtures", "5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model.safetensors") && err.contains("num_mixtures: 5"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// `train --init-from MODEL --position-input` adds the pen position input to a
/// model without it, with zero weights: the first step (before any update) has
/// the same losses as the same run without the flag, and the saved model reads
/// the position (`W_xh` has two more rows).
#[test]
fn train_init_from_with_position_input_starts_from_the_same_predictions() {
    let data = tiny_npz();
    let root = fresh_dir("position");
    wait(train_cmd(&data, &root.join("first"), 4).spawn().unwrap());
    let model = root.join("first/model.safetensors");
    let run = |name: &str, extra: &[&str]| {
        let out_dir = root.join(name);
        let out = train_cmd(&data, &out_dir, 3)
            .arg("--init-from")
            .arg(&model)
            .args(extra)
            .output()
            .unwrap();
        let config = finished_config(&out, &out_dir);
        (config, train_losses(&out_dir), out_dir)
    };
    let (plain_config, plain, _) = run("plain", &[]);
    let (config, with, dir) = run("with", &["--position-input"]);
    assert_eq!(plain_config["hparams"]["position_input"], false);
    assert_eq!(config["hparams"]["position_input"], true);
    let (first_plain, first_with) = (plain[0].1, with[0].1);
    for (a, b) in first_plain.iter().zip(&first_with) {
        assert!((a - b).abs() < 1e-5, "{first_plain:?} vs {first_with:?}");
    }
    let saved =
        ModelFile::from_bytes(&std::fs::read(dir.join("model.safetensors")).unwrap()).unwrap();
    assert!(saved.info.hparams.position_input);
    let z = saved.info.hparams.z_size;
    assert_eq!(saved.tensors["decoder.cell.w_xh"].dim(0).unwrap(), 7 + z);
    let _ = std::fs::remove_dir_all(&root);
}

/// The warm-up ramps the decayed learning rate up linearly: step k (from 0)
/// gets (k + 1) / warmup_steps of it, and from `warmup_steps` on all of it.
#[test]
fn warmup_ramps_the_learning_rate_up_linearly() {
    let mut c = TrainConfig::small();
    let plain: Vec<f64> = (0..6).map(|k| c.learning_rate_at(k)).collect();
    c.warmup_steps = 4;
    for (k, want) in plain.iter().enumerate() {
        let got = c.learning_rate_at(k as u64);
        let share = ((k + 1) as f64 / 4.0).min(1.0);
        assert!(
            (got - want * share).abs() < 1e-15,
            "step {k}: {got} vs {want}·{share}"
        );
    }
    assert!(c.learning_rate_at(0) < c.learning_rate_at(1));
}

/// `--init-from` also takes Magenta's JSON: a decoder-only QuickDraw sheep model
/// fine-tunes on aaron_sheep, its architecture (decoder 512, no encoder) and its
/// units (its scale factor, not the data's) carried over.
#[test]
fn train_init_from_takes_a_magenta_model() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let magenta = shared.join("models/magenta/sheep.gen.json");
    let out = fresh_dir("initmag");
    let mut cmd = bin();
    cmd.arg("train")
        .arg("--data")
        .arg(shared.join("data/aaron_sheep.npz"))
        .arg("--out")
        .arg(&out)
        .arg("--init-from")
        .arg(&magenta);
    cmd.args(["--batch-size", "2", "--max-seq-len", "60", "--steps", "2"]);
    cmd.args([
        "--eval-every",
        "100",
        "--sample-every",
        "0",
        "--threads",
        "1",
    ]);
    let config = finished_config(&cmd.output().unwrap(), &out);
    assert_eq!(config["hparams"]["dec_size"], 512);
    assert_eq!(config["hparams"]["z_size"], 0);
    assert_eq!(config["max_seq_len"], 60);
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&magenta).unwrap()[..])
        .map(|v: serde_json::Value| v[0].clone())
        .unwrap();
    let (tuned, _) = sketch_rnn::train::checkpoint::model_of(
        &std::fs::read(out.join("checkpoint.safetensors")).unwrap(),
    )
    .unwrap();
    let want = info["scale_factor"].as_f64().unwrap();
    assert!(
        (tuned.info.scale_factor as f64 - want).abs() < 1e-3 * want,
        "{} vs Magenta's {want}",
        tuned.info.scale_factor
    );
    assert_eq!(train_losses(&out).len(), 2);
    let _ = std::fs::remove_dir_all(&out);
}

/// The paper preset is Magenta's recipe (issue #3); the small preset is that
/// recipe for a smaller model on a smaller batch at twice the learning rate
/// (`SMALL_PRESET_LEARNING_RATE`; why, in README *Training*) and nothing else.
#[test]
fn small_preset_is_the_paper_recipe_smaller_at_twice_the_learning_rate() {
    let paper = TrainConfig::preset("paper").unwrap();
    assert_eq!(paper.learning_rate, 1e-3, "Magenta's initial learning rate");
    let small = TrainConfig::preset("small").unwrap();
    assert_eq!(small.learning_rate, 2.0 * paper.learning_rate);
    let sizes = (
        small.hparams.enc_size,
        small.hparams.dec_size,
        small.hparams.z_size,
        small.batch_size,
    );
    assert_eq!(sizes, (128, 256, 64, 64), "issue #3's small configuration");
    let mut as_paper = small.clone();
    as_paper.hparams = paper.hparams.clone();
    as_paper.batch_size = paper.batch_size;
    as_paper.learning_rate = paper.learning_rate;
    assert_eq!(as_paper, paper, "every other hyperparameter is the paper's");
}

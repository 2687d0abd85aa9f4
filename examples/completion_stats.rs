//! How a VAE finishes a half-drawn sketch, by the latent it finishes from.
//! Each of the first N test drawings with at least `MIN_STROKES` strokes is cut
//! after half its strokes; the model finishes the first half from
//!
//! * `prefix latent`: z = μ + λσε of the *prefix's* own encoding (the app's
//!   "Finish it" until 2026-12-01, λ = 0.5);
//! * `prior`: a draw of the model's prior (`Session::prior_latent`: its fitted
//!   prior where it has one, else N(0, I));
//! * `decoder posterior`: `Session::completion_latent` (the app's "Finish it"
//!   since 2026-12-01): candidates from the prefix's encoding and from the
//!   prior, one resampled by how well the decoder explains the prefix from it
//!   (the default search: 4 + 60 candidates), with the model's prior as p(z);
//! * `posterior N(0,I)`: the same with p(z) = N(0, I) even for a model with a
//!   fitted prior (`CompletionSearch::standard_prior`);
//! * `prior-only 128`: the same with 128 candidates, all from the prior;
//! * `search (retried)`: `Session::finishing_latent` from
//!   `FinishFrom::Search`, the app's "Finish it" since 2026-12-07 for models
//!   whose encoder read only whole drawings: the decoder posterior's
//!   candidates drawn by weight without replacement (up to `FINISH_TRIES`)
//!   while the finish adds fewer than `MIN_FINISH_POINTS`;
//! * `encoding (retried)`: `Session::finishing_latent` from
//!   `FinishFrom::Encoding` (λ = `FINISH_NOISE`), the app's "Finish it" for
//!   models trained with `--encoder-prefix`: fresh draws of the prefix's own
//!   noisy latent (up to `FINISH_ENCODING_TRIES`) while the finish adds fewer
//!   than `MIN_FINISH_POINTS`, then the search's as above;
//! * `whole drawing`: the encoding of the *whole* human drawing (not available
//!   to an app; what the decoder can do when the latent knows the ending).
//!
//! It prints the points added, the share of finishes that add under
//! `FEW_POINTS`, and how near prefix + ending lies to the whole human drawing:
//! the median Chamfer distance and the layout score ([`shape_distance`],
//! pairwise rank among all the whole drawings), beside the prefix alone.
//!
//! ```sh
//! cargo run --release --example completion_stats -- MODEL DATA.npz [N] [OUT_PREFIX]
//! ```
//!
//! With OUT_PREFIX it also writes OUT_PREFIX.png: per drawing, the whole human
//! drawing, then each method's finish (prefix black, ending blue).
use sketch_rnn::dataset::read_npz;
use sketch_rnn::session::{CompletionSearch, FINISH_NOISE, FinishFrom, Session};
use sketch_rnn::shape_distance::{LAYOUT_POINTS, layout_points, retrieval};
use sketch_rnn::stroke::Stroke3;

/// Drawings with fewer strokes are skipped (half of them says too little).
const MIN_STROKES: usize = 4;
/// Finishes that add fewer points than this count as "ended at once".
const FEW_POINTS: usize = 5;
/// The app's default temperature and latent noise (www/index.html).
const TEMPERATURE: f32 = 0.25;
const APP_NOISE: f32 = 0.5;
/// Ink of human strokes and of the model's, as in `reconstruct`'s grids.
const BLACK: &str = "#222";
const BLUE: &str = "#1f5fbf";
/// Drawings shown in the PNG.
const SHOWN: usize = 12;

fn strokes(d: &[Stroke3]) -> usize {
    d.iter().filter(|r| r[2] > 0.5).count()
}

/// The rows of the first `k` strokes.
fn first_strokes(d: &[Stroke3], k: usize) -> Vec<Stroke3> {
    let mut out = Vec::new();
    let mut seen = 0;
    for r in d {
        out.push(*r);
        if r[2] > 0.5 {
            seen += 1;
            if seen == k {
                break;
            }
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model_path), Some(data_path)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: completion_stats MODEL DATA.npz [N] [OUT_PREFIX]");
    };
    let n: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(100);
    let out = args.get(4);
    let session = Session::load(&std::fs::read(model_path)?)?;
    let info = session.info();
    anyhow::ensure!(
        info.conditional,
        "completion_stats compares latents: it needs a VAE"
    );
    let splits = read_npz(&std::fs::read(data_path)?)?;
    let whole: Vec<Vec<Stroke3>> = splits
        .test
        .iter()
        .filter(|d| d.len() <= info.max_seq_len && strokes(d) >= MIN_STROKES)
        .take(n)
        .cloned()
        .collect();
    let prefixes: Vec<Vec<Stroke3>> = whole
        .iter()
        .map(|d| first_strokes(d, strokes(d) / 2))
        .collect();
    let searches = [
        ("decoder posterior", CompletionSearch::default()),
        (
            "posterior N(0,I)",
            CompletionSearch {
                standard_prior: true,
                ..CompletionSearch::default()
            },
        ),
        (
            "prior-only 128",
            CompletionSearch {
                from_encoding: 0,
                from_prior: 128,
                ..CompletionSearch::default()
            },
        ),
    ];
    let mut methods: Vec<String> = vec!["prefix latent".into(), "prior".into()];
    methods.extend(searches.iter().map(|s| s.0.to_string()));
    methods.push("search (retried)".into());
    methods.push("encoding (retried)".into());
    methods.push("whole drawing".into());
    let mut finishes: Vec<Vec<Vec<Stroke3>>> = vec![Vec::new(); methods.len()];
    for (k, (d, prefix)) in whole.iter().zip(&prefixes).enumerate() {
        let seed = 1000 + k as u64;
        let mut latents = vec![
            session.sample_latent(&session.encode(prefix)?, APP_NOISE, seed)?,
            session.prior_latent(seed)?,
        ];
        for (_, s) in &searches {
            latents.push(session.completion_latent(prefix, s, seed)?);
        }
        for from in [
            FinishFrom::Search(CompletionSearch::default()),
            FinishFrom::Encoding {
                noise: FINISH_NOISE,
                then: CompletionSearch::default(),
            },
        ] {
            latents.push(session.finishing_latent(prefix, &from, TEMPERATURE, seed)?);
        }
        latents.push(session.sample_latent(&session.encode(d)?, APP_NOISE, seed)?);
        for (m, z) in latents.iter().enumerate() {
            let mut drawing = session.begin(Some(z), prefix, seed)?;
            let budget = info.max_seq_len - prefix.len();
            let ending = session.next_points(&mut drawing, budget.max(1), TEMPERATURE)?;
            finishes[m].push(ending);
        }
    }
    let targets: Vec<_> = whole
        .iter()
        .map(|d| layout_points(d, LAYOUT_POINTS))
        .collect();
    let report = |what: &str, drawn: &[Vec<Stroke3>], added: Option<&[Vec<Stroke3>]>| {
        let points: Vec<_> = drawn
            .iter()
            .map(|d| layout_points(d, LAYOUT_POINTS))
            .collect();
        let score = retrieval(&points, &targets).expect("one finish per drawing");
        let (mean_added, few) = added.map_or((0.0, 1.0), |e| {
            (
                e.iter().map(Vec::len).sum::<usize>() as f64 / e.len() as f64,
                e.iter().filter(|e| e.len() < FEW_POINTS).count() as f64 / e.len() as f64,
            )
        });
        println!(
            "{what:<18} points added {mean_added:>6.1}  under {FEW_POINTS}: {:>5.1}%  \
             median distance to the whole {:.4}  pairwise {:.3}  median rank {}",
            100.0 * few,
            score.median_own_distance,
            score.pairwise,
            score.median_rank
        );
    };
    println!(
        "{} test drawings (≥ {MIN_STROKES} strokes) cut after half their strokes; τ {TEMPERATURE}",
        whole.len()
    );
    let rest: usize = whole
        .iter()
        .zip(&prefixes)
        .map(|(w, p)| w.len() - p.len())
        .sum();
    println!(
        "the human second halves: {:.1} points on average",
        rest as f64 / whole.len() as f64
    );
    report("prefix alone", &prefixes, None);
    let joined = |m: usize| -> Vec<Vec<Stroke3>> {
        prefixes
            .iter()
            .zip(&finishes[m])
            .map(|(p, e)| p.iter().chain(e).copied().collect())
            .collect()
    };
    for (m, what) in methods.iter().enumerate() {
        report(what, &joined(m), Some(&finishes[m]));
    }
    if let Some(out) = out {
        use sketch_rnn::render::{DEFAULT_CELL_PX, Ink, png::grid_png};
        let ink = |strokes, colour| Ink { strokes, colour };
        let mut cells = Vec::new();
        for k in 0..whole.len().min(SHOWN) {
            cells.push(vec![ink(&whole[k][..], BLACK)]);
            for f in &finishes {
                cells.push(vec![ink(&prefixes[k][..], BLACK), ink(&f[k][..], BLUE)]);
            }
        }
        let png = grid_png(&cells, methods.len() + 1, DEFAULT_CELL_PX)?;
        std::fs::write(format!("{out}.png"), png)?;
    }
    Ok(())
}

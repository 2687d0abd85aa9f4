//! The session API the browser app calls through the wasm facade: what it does
//! with the shipped default model and a Magenta decoder-only model, and one
//! test per input check (every hostile input is an error value, not a panic).

mod common;

use sketch_rnn::session::{
    CompletionSearch, FINISH_NOISE, FinishFrom, Latent, MAX_ALTERNATIVES,
    MAX_COMPLETION_CANDIDATES, MAX_DRAWING_POINTS, MAX_GENERATED_POINTS, MAX_NOISE,
    MAX_REDRAW_CANDIDATES, MAX_SEED, MIN_FINISH_POINTS, REDRAW_CANDIDATES, Session,
};
use sketch_rnn::shape_distance::{LAYOUT_POINTS, chamfer, layout_points};
use sketch_rnn::stroke::Stroke3;

/// The embedded default model the app opens on (committed under www/models).
fn sheep() -> Session {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/models/sheep.safetensors"
    ))
    .expect("www/models/sheep.safetensors");
    Session::load(&bytes).expect("the shipped model loads")
}

/// A small closed doodle in model pixels: a square with a tail, two strokes.
fn doodle() -> Vec<Stroke3> {
    vec![
        [0.0, 0.0, 0.0],
        [60.0, 0.0, 0.0],
        [0.0, 60.0, 0.0],
        [-60.0, 0.0, 0.0],
        [0.0, -60.0, 1.0],
        [30.0, 80.0, 0.0],
        [0.0, 40.0, 1.0],
    ]
}

fn assert_invalid<T: std::fmt::Debug>(r: sketch_rnn::Result<T>, needle: &str) {
    let e = r.expect_err("hostile input must be refused");
    let msg = e.to_string();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}"
    );
}

#[test]
fn shipped_model_finishes_a_doodle_from_its_noisy_latent() {
    let s = sheep();
    let info = s.info();
    assert!(info.conditional && info.z_size > 0);
    let latent = s.encode(&doodle()).unwrap();
    assert_eq!(latent.mu.len(), info.z_size);
    assert!(latent.sigma.iter().all(|&v| v > 0.0 && v.is_finite()));
    let z = s.sample_latent(&latent, 1.0, 7).unwrap();
    assert_ne!(z, latent.mu, "noise 1 moves the latent");
    assert_eq!(s.sample_latent(&latent, 0.0, 7).unwrap(), latent.mu);
    let mut d = s.begin(Some(&z), &doodle(), 3).unwrap();
    let mut points = Vec::new();
    while !d.finished() && points.len() < 400 {
        let batch = s.next_points(&mut d, 10, 0.25).unwrap();
        assert!(batch.len() <= 10);
        points.extend(batch);
    }
    assert!(points.len() > 3, "the model adds strokes: {}", points.len());
    assert!(points.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    if d.finished() {
        assert!(s.next_points(&mut d, 5, 0.25).unwrap().is_empty());
    }
}

/// The first `k` strokes of a stroke-3 drawing.
fn first_strokes(d: &[Stroke3], k: usize) -> Vec<Stroke3> {
    let end = d
        .iter()
        .enumerate()
        .filter(|(_, r)| r[2] > 0.5)
        .nth(k - 1)
        .map_or(d.len(), |(i, _)| i + 1);
    d[..end].to_vec()
}

/// Points the model adds to `prefix` from `z` at the app's default τ 0.25.
fn points_added(s: &Session, z: &[f32], prefix: &[Stroke3], seed: u64) -> usize {
    let mut d = s.begin(Some(z), prefix, seed).unwrap();
    let budget = s.info().max_seq_len - prefix.len();
    s.next_points(&mut d, budget, 0.25).unwrap().len()
}

/// The first `n` test sheep of at least four strokes that fit the model, each
/// cut after half its strokes, with the seed `examples/completion_stats.rs`
/// gives it (1000 + k); `None` without `../shared`.
fn half_drawn_test_sheep(s: &Session, n: usize) -> Option<Vec<(Vec<Stroke3>, u64)>> {
    let dir = common::shared_dir()?;
    let bytes = std::fs::read(dir.join("data/aaron_sheep.npz")).unwrap();
    let test = sketch_rnn::dataset::read_npz(&bytes).unwrap().test;
    let max = s.info().max_seq_len;
    let strokes = |d: &[Stroke3]| d.iter().filter(|r| r[2] > 0.5).count();
    Some(
        test.iter()
            .filter(|d| d.len() <= max && strokes(d) >= 4)
            .take(n)
            .enumerate()
            .map(|(k, d)| (first_strokes(d, strokes(d) / 2), 1000 + k as u64))
            .collect(),
    )
}

/// Regression (2026-12-01): "Finish it" on a half-drawn sheep (a body and a
/// head, no legs) added a short mark or nothing. It finished from the prefix's
/// own encoding, and the encoder of the model then shipped, trained on whole
/// drawings only, read a half drawing as a whole one (first 100 half sheep:
/// 6.0 points added on average, 46% under five; the human second halves have
/// 49). The shipped model's encoder was also trained on the beginnings of
/// drawings (`train --encoder-prefix 0.25`), so Finish it draws from the
/// encoding again (`FinishFrom::for_model`), drawn again while the finish adds
/// under `MIN_FINISH_POINTS`, then from the search. On the first 30 test
/// sheep of at least four strokes cut after half their strokes
/// (`examples/completion_stats.rs`, seed 1000 + k, τ 0.25, measured
/// 2026-12-07 on the model whose sixth stage ran 10,000 steps;
/// `cargo test --release --test session finish -- --nocapture`): the first
/// noisy latent adds 47.9 points on average, 3 of 30 under five; Finish it
/// 54.8 points, none under five (the model shipped since 2026-12-08, whose
/// seventh stage trained the encoder on simplified drawings: 45.7 points, 4 of
/// 30; Finish it 59.8, none; all 282: 8.2% and 0%) (all 282: 10.3% and 0%; the same stopped at
/// 4,000 steps, shipped before it, 4 of 30 and none; stage 5's mean 4 of 30
/// and none). Asserted with a margin of one. It must also keep the first
/// latent where that one goes on.
#[test]
fn finish_it_continues_half_drawn_sheep_instead_of_ending_them() {
    let s = sheep();
    let from = s.finish_from();
    assert_eq!(
        from,
        FinishFrom::Encoding {
            noise: FINISH_NOISE,
            then: CompletionSearch::default(),
        },
        "the shipped model's encoder was trained on prefixes"
    );
    let Some(halves) = half_drawn_test_sheep(&s, 30) else {
        return;
    };
    let (mut first_added, mut kept_added) = (Vec::new(), Vec::new());
    for (prefix, seed) in halves {
        let own = s.encode(&prefix).unwrap();
        let first = s.sample_latent(&own, FINISH_NOISE, seed).unwrap();
        let kept = s.finishing_latent(&prefix, &from, 0.25, seed).unwrap();
        let (f, k) = (
            points_added(&s, &first, &prefix, seed),
            points_added(&s, &kept, &prefix, seed),
        );
        if f >= MIN_FINISH_POINTS {
            assert_eq!(
                kept, first,
                "seed {seed}: the first latent went on and is kept"
            );
        }
        first_added.push(f);
        kept_added.push(k);
    }
    const KEPT_FEW_BOUND: usize = 1;
    const FIRST_FEW_BOUND: usize = 2;
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    let few = |v: &[usize]| v.iter().filter(|&&n| n < MIN_FINISH_POINTS).count();
    eprintln!(
        "points added: first {} ({} under {MIN_FINISH_POINTS}), Finish it {} ({})",
        mean(&first_added),
        few(&first_added),
        mean(&kept_added),
        few(&kept_added)
    );
    assert!(
        mean(&kept_added) > 25.0 && few(&kept_added) <= KEPT_FEW_BOUND,
        "Finish it adds {} points on average, {} of 30 under {MIN_FINISH_POINTS}",
        mean(&kept_added),
        few(&kept_added)
    );
    assert!(
        few(&first_added) >= FIRST_FEW_BOUND,
        "the first latent leaves {} of 30 under {MIN_FINISH_POINTS}: the retry checks nothing",
        few(&first_added)
    );
}

/// Regression (2026-12-07): with the decoder-position model shipped that
/// morning, "Finish it" from the decoder's posterior added under five points
/// to a quarter of half-drawn test sheep (24.5% of 282,
/// `examples/completion_stats.rs`): its latents follow their drawings closely
/// enough that many which explain the half end there. `finishing_latent` from
/// the search (`FinishFrom::Search`, Finish it for models whose encoder read
/// whole drawings only) draws the search's candidates again, without
/// replacement, while the finish (same seed and temperature as the app streams
/// it) adds under `MIN_FINISH_POINTS`. On the first 30 half sheep (seed
/// 1000 + k, τ 0.25) that model's first draw left 7 such finishes and the
/// retries none; stage 5's mean (shipped 2026-12-07, evening) 2 and none.
/// Stage 6 stopped at 4,000 steps left none among the first 30, so the test
/// reads the first 100 (measured 2026-12-07, `cargo test --release --test
/// session finish -- --nocapture`): 4 and none (8.2% and 0% of all 282); the
/// model shipped late that night (stage 6 run to 10,000 steps) 8 and none (9.2% and 0% of
/// all 282); the model now shipped (its seventh stage with
/// `--encoder-simplify 12`, 2026-12-08) 5 and none (7.4% and 0% of all 282). Asserted: none, and at least one first draw short so that the
/// retry is exercised. It must also keep the
/// first draw where that one goes on.
#[test]
fn finish_it_draws_again_when_the_finish_would_end_at_once() {
    let s = sheep();
    let Some(halves) = half_drawn_test_sheep(&s, 100) else {
        return;
    };
    let search = CompletionSearch::default();
    let (mut first_short, mut kept_short) = (0, 0);
    for (prefix, seed) in halves {
        let first = s.completion_latent(&prefix, &search, seed).unwrap();
        let kept = s
            .finishing_latent(&prefix, &FinishFrom::Search(search.clone()), 0.25, seed)
            .unwrap();
        let added = |z: &[f32]| {
            let mut drawing = s.begin(Some(z), &prefix, seed).unwrap();
            s.next_points(&mut drawing, MIN_FINISH_POINTS, 0.25)
                .unwrap()
                .len()
        };
        if added(&first) < MIN_FINISH_POINTS {
            first_short += 1;
        } else {
            assert_eq!(
                kept, first,
                "seed {seed}: the first latent went on and is kept"
            );
        }
        if added(&kept) < MIN_FINISH_POINTS {
            kept_short += 1;
        }
    }
    eprintln!(
        "finishes under {MIN_FINISH_POINTS} points: {kept_short} retried, {first_short} first"
    );
    assert!(
        kept_short == 0 && first_short >= 1,
        "finishes under {MIN_FINISH_POINTS} points: {kept_short} retried against {first_short} first"
    );
}

#[test]
fn same_seed_same_points_and_alternatives_differ() {
    let s = sheep();
    let z = s.prior_latent(1).unwrap();
    let run = |seed| {
        let mut d = s.begin(Some(&z), &[], seed).unwrap();
        s.next_points(&mut d, 50, 0.5).unwrap()
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
    let alts = s.alternatives(Some(&z), &doodle(), 4, 0.5, 60, 5).unwrap();
    assert_eq!(alts.len(), 4);
    assert!(alts.iter().all(|a| a.len() <= 60));
    assert_ne!(alts[0], alts[1]);
}

/// Redraw decodes one noisy latent several times and keeps the decoding whose
/// outline lies nearest the user's drawing: here every candidate is decoded
/// again the way the app streams it (`begin` and `next_points` from its seed)
/// and measured, and the kept one must be the nearest, replay point for point
/// from its seed, and come from the latent `sample_latent` gives for the seed.
#[test]
fn redraw_keeps_the_nearest_of_its_decodings_and_replays_from_its_seed() {
    let s = sheep();
    let (noise, temperature, max_points, seed) = (0.5, 0.25, 250, 11);
    let candidates = REDRAW_CANDIDATES;
    let r = s
        .redraw(&doodle(), noise, temperature, max_points, candidates, seed)
        .unwrap();
    let latent = s.encode(&doodle()).unwrap();
    assert_eq!(r.z, s.sample_latent(&latent, noise, seed).unwrap());
    let stream = |point_seed: u64| {
        let mut d = s.begin(Some(&r.z), &[], point_seed).unwrap();
        let mut points = Vec::new();
        while !d.finished() && points.len() < max_points {
            let k = 40.min(max_points - points.len());
            points.extend(s.next_points(&mut d, k, temperature).unwrap());
        }
        points
    };
    let target = layout_points(&doodle(), LAYOUT_POINTS);
    let distances: Vec<f64> = (0..candidates as u64)
        .map(|k| chamfer(&layout_points(&stream(seed + k), LAYOUT_POINTS), &target))
        .collect();
    let nearest = distances.iter().enumerate().fold(
        0,
        |best, (k, d)| if *d < distances[best] { k } else { best },
    );
    assert_eq!(r.candidate, nearest, "distances {distances:?}");
    assert_eq!(r.seed, seed + nearest as u64);
    assert_eq!(r.distance, distances[nearest]);
    assert_eq!(stream(r.seed), r.drawing);
    // the candidates differ, so there was a choice to make
    assert!(distances.iter().any(|d| *d != distances[0]));
    let one = s
        .redraw(&doodle(), noise, temperature, max_points, 1, seed)
        .unwrap();
    assert_eq!((one.candidate, one.seed), (0, seed));
    assert_eq!(one.drawing, stream(seed));
}

#[test]
fn interpolation_ends_at_its_endpoints_and_analogy_is_arithmetic() {
    let s = sheep();
    let (a, b) = (s.prior_latent(1).unwrap(), s.prior_latent(2).unwrap());
    for spherical in [true, false] {
        let zs = s.interpolate(&a, &b, 5, spherical).unwrap();
        assert_eq!(zs.len(), 5);
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
        assert!(close(&zs[0], &a) && close(&zs[4], &b));
    }
    let c = s.prior_latent(3).unwrap();
    let z = s.analogy(&a, &b, &c).unwrap();
    assert!((z[0] - (a[0] - b[0] + c[0])).abs() < 1e-6);
}

#[test]
fn score_prefers_the_models_own_drawings_to_scribbles() {
    let s = sheep();
    let z = s.prior_latent(4).unwrap();
    let mut d = s.begin(Some(&z), &[], 4).unwrap();
    let own = s.next_points(&mut d, 80, 0.1).unwrap();
    let own_score = s.score(Some(&z), &own).unwrap();
    assert_eq!(own_score.per_point.len(), own.len());
    let scribble: Vec<Stroke3> = (0..own.len())
        .map(|i| {
            let a = i as f32 * 2.3;
            [300.0 * a.sin(), 300.0 * a.cos(), (i % 3 == 0) as u8 as f32]
        })
        .collect();
    let bad = s.score(Some(&z), &scribble).unwrap();
    assert!(
        own_score.mean > bad.mean + 1.0,
        "own {} vs scribble {}",
        own_score.mean,
        bad.mean
    );
}

#[test]
fn magenta_decoder_only_model_draws_without_a_latent() {
    let Some(dir) = common::shared_dir() else {
        return;
    };
    let bytes = std::fs::read(dir.join("models/magenta/bird.gen.json")).unwrap();
    let s = Session::load(&bytes).unwrap();
    let info = s.info();
    assert!(!info.conditional);
    assert_eq!(info.typical_size_px, sketch_rnn::session::QUICKDRAW_BOX_PX);
    let mut d = s.begin(None, &doodle(), 1).unwrap();
    assert!(!s.next_points(&mut d, 20, 0.3).unwrap().is_empty());
    assert_invalid(s.encode(&doodle()), "unconditional");
    assert_invalid(s.prior_latent(1), "decoder-only");
    assert_invalid(s.begin(Some(&[0.0; 4]), &[], 1), "decoder-only");
    let search = CompletionSearch::default();
    assert_invalid(s.completion_latent(&doodle(), &search, 1), "decoder-only");
    assert!(!info.finishes_from_encoding);
    let own = FinishFrom::Encoding {
        noise: 0.5,
        then: search,
    };
    assert_invalid(s.finishing_latent(&doodle(), &own, 0.25, 1), "decoder-only");
    assert_invalid(s.redraw(&doodle(), 0.5, 0.25, 10, 2, 1), "VAE");
}

// One test per input check.

#[test]
fn garbage_model_bytes_are_refused() {
    assert!(Session::load(b"definitely not a model").is_err());
    assert!(Session::load(&[]).is_err());
    let mut truncated = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/models/sheep.safetensors"
    ))
    .unwrap();
    truncated.truncate(truncated.len() / 2);
    assert!(Session::load(&truncated).is_err());
}

#[test]
fn empty_drawing_is_refused() {
    assert_invalid(sheep().encode(&[]), "no points");
    assert_invalid(sheep().redraw(&[], 0.5, 0.25, 10, 2, 1), "no points");
}

#[test]
fn huge_drawing_is_refused() {
    let big: Vec<Stroke3> = (0..100_000).map(|_| [1.0, 1.0, 0.0]).collect();
    assert_invalid(sheep().encode(&big), &MAX_DRAWING_POINTS.to_string());
    assert_invalid(sheep().begin(None, &big, 1).map(|_| ()), "latent");
}

#[test]
fn non_finite_and_huge_offsets_are_refused() {
    let s = sheep();
    assert_invalid(s.encode(&[[f32::NAN, 0.0, 0.0]]), "not finite");
    assert_invalid(s.encode(&[[0.0, f32::INFINITY, 0.0]]), "not finite");
    assert_invalid(s.encode(&[[1e9, 0.0, 0.0]]), "exceeds");
    assert_invalid(s.encode(&[[1.0, 0.0, 0.5]]), "pen_lifted");
}

#[test]
fn bad_temperature_is_refused() {
    let s = sheep();
    let z = s.prior_latent(1).unwrap();
    let mut d = s.begin(Some(&z), &[], 1).unwrap();
    for t in [f32::NAN, 0.0, -1.0, f32::INFINITY, 100.0] {
        assert_invalid(s.next_points(&mut d, 1, t), "temperature");
    }
    assert_invalid(
        s.alternatives(Some(&z), &[], 2, f32::NAN, 10, 1),
        "temperature",
    );
    assert_invalid(s.redraw(&doodle(), 0.5, 0.0, 10, 2, 1), "temperature");
}

#[test]
fn bad_counts_are_refused() {
    let s = sheep();
    let z = s.prior_latent(1).unwrap();
    let mut d = s.begin(Some(&z), &[], 1).unwrap();
    assert_invalid(s.next_points(&mut d, 0, 0.5), "k");
    assert_invalid(s.next_points(&mut d, MAX_GENERATED_POINTS + 1, 0.5), "k");
    assert_invalid(s.alternatives(Some(&z), &[], 0, 0.5, 10, 1), "n");
    assert_invalid(
        s.alternatives(Some(&z), &[], MAX_ALTERNATIVES + 1, 0.5, 10, 1),
        "n",
    );
    assert_invalid(s.alternatives(Some(&z), &[], 2, 0.5, 0, 1), "max_points");
    assert_invalid(s.interpolate(&z, &z, 1, true), "steps");
    assert_invalid(s.redraw(&doodle(), 0.5, 0.5, 10, 0, 1), "candidates");
    assert_invalid(
        s.redraw(&doodle(), 0.5, 0.5, 10, MAX_REDRAW_CANDIDATES + 1, 1),
        "candidates",
    );
    assert_invalid(s.redraw(&doodle(), 0.5, 0.5, 0, 2, 1), "max_points");
}

#[test]
fn bad_completion_searches_are_refused() {
    let s = sheep();
    let none = CompletionSearch {
        from_encoding: 0,
        from_prior: 0,
        ..CompletionSearch::default()
    };
    assert_invalid(s.completion_latent(&doodle(), &none, 1), "candidates");
    let too_many = CompletionSearch {
        from_encoding: 1,
        from_prior: MAX_COMPLETION_CANDIDATES,
        ..CompletionSearch::default()
    };
    assert_invalid(s.completion_latent(&doodle(), &too_many, 1), "candidates");
    for noise in [0.0, -1.0, f32::NAN] {
        let flat = CompletionSearch {
            encoding_noise: noise,
            ..CompletionSearch::default()
        };
        assert_invalid(s.completion_latent(&doodle(), &flat, 1), "noise");
    }
    let search = CompletionSearch::default();
    assert_invalid(s.completion_latent(&[], &search, 1), "prefix");
    assert_invalid(
        s.completion_latent(&doodle(), &search, MAX_SEED + 1),
        "seed",
    );
    let from = FinishFrom::Search(search);
    for t in [f32::NAN, -1.0] {
        assert_invalid(s.finishing_latent(&doodle(), &from, t, 1), "temperature");
    }
    assert_invalid(
        s.finishing_latent(&doodle(), &from, 0.25, MAX_SEED + 1),
        "seed",
    );
    let own = |noise| FinishFrom::Encoding {
        noise,
        then: CompletionSearch::default(),
    };
    for noise in [f32::NAN, -0.5, MAX_NOISE + 1.0] {
        assert_invalid(s.finishing_latent(&doodle(), &own(noise), 0.25, 1), "noise");
    }
    let own = own(0.5);
    assert_invalid(s.finishing_latent(&[], &own, 0.25, 1), "prefix");
}

#[test]
fn bad_latents_are_refused() {
    let s = sheep();
    let n = s.info().z_size;
    assert_invalid(s.begin(None, &[], 1).map(|_| ()), "VAE");
    assert_invalid(s.begin(Some(&[0.0; 3]), &[], 1).map(|_| ()), "latent z");
    let mut nan = vec![0.0; n];
    nan[1] = f32::NAN;
    assert_invalid(s.begin(Some(&nan), &[], 1).map(|_| ()), "finite");
    let z = vec![0.0; n];
    assert_invalid(s.interpolate(&z, &nan, 3, true), "latent b");
    assert_invalid(s.analogy(&z, &z, &[0.0; 2]), "latent c");
    let neg = Latent {
        mu: z.clone(),
        sigma: vec![-1.0; n],
    };
    assert_invalid(s.sample_latent(&neg, 1.0, 1), "sigma");
}

#[test]
fn bad_noise_and_seed_are_refused() {
    let s = sheep();
    let latent = s.encode(&doodle()).unwrap();
    for noise in [f32::NAN, -0.1, MAX_NOISE + 1.0] {
        assert_invalid(s.sample_latent(&latent, noise, 1), "noise");
    }
    assert_invalid(s.prior_latent(MAX_SEED + 1), "seed");
    assert_invalid(s.redraw(&doodle(), f32::NAN, 0.5, 10, 2, 1), "noise");
    assert_invalid(s.redraw(&doodle(), 0.5, 0.5, 10, 2, MAX_SEED + 1), "seed");
}

/// New drawings ("from imagination", Morph's far end) take their latent from
/// the shipped model's fitted prior, not N(0, I): the model's latents spread
/// about 0.38 per dimension over the training set, around a mean 1.2 from the
/// origin (`sketch-rnn fit-prior`, 2026-12-08, the model with both position
/// inputs, `--encoder-prefix 0.25`, a sixth stage of 10,000 steps without
/// dropout or augmentation and a seventh with `--encoder-simplify 12`: |mean|
/// 1.215, mean variance 0.378, largest 0.898; without the seventh stage 0.809,
/// 0.378 and 0.891; stopped at 4,000 steps of the sixth 0.700 and 0.433; the models shipped before
/// it: 0.853 and 0.534, 1.735 and 0.663, 0.861 and 0.216), so
/// many draws of N(0, I) land where the decoder saw few drawings.
/// 4,000 draws must reproduce the stored mean (to 0.06 per dimension, about 4
/// standard errors of a dimension whose variance is at most 0.90) and a mean
/// variance of 0.378 ± 0.05; draws of N(0, I) would give 0 and 1.
#[test]
fn new_drawings_take_their_latent_from_the_shipped_models_fitted_prior() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/models/sheep.safetensors"
    ))
    .unwrap();
    let prior = sketch_rnn::weights::ModelFile::from_bytes(&bytes)
        .unwrap()
        .info
        .latent_prior
        .expect("the shipped model has a fitted latent prior");
    let s = sheep();
    assert!(s.info().fitted_prior);
    let n = 4_000;
    let zs: Vec<Vec<f32>> = (0..n).map(|k| s.prior_latent(k).unwrap()).collect();
    let z_size = s.info().z_size;
    assert_eq!(prior.z_size(), z_size);
    let mut mean_variance = 0.0;
    for i in 0..z_size {
        let mean = zs.iter().map(|z| z[i] as f64).sum::<f64>() / n as f64;
        assert!(
            (mean - prior.mean[i] as f64).abs() < 0.06,
            "dimension {i}: mean of draws {mean}, fitted {}",
            prior.mean[i]
        );
        mean_variance += zs.iter().map(|z| (z[i] as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    }
    mean_variance /= z_size as f64;
    assert!(
        (mean_variance - 0.378).abs() < 0.05,
        "mean variance per dimension {mean_variance}, fitted 0.378"
    );
}

/// A model file records `train --encoder-prefix` (`ModelInfo::encoder_prefix`,
/// kept through our format); "Finish it" then draws from the prefix's own
/// encoding, and from the search for a model whose encoder read only whole
/// drawings.
#[test]
fn finish_it_draws_from_the_encoding_of_models_trained_on_prefixes() {
    use sketch_rnn::weights::{ModelFile, native};
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/models/sheep.safetensors"
    ))
    .unwrap();
    let with_prefix = |p: f32| {
        let mut file = ModelFile::from_bytes(&bytes).unwrap();
        file.info.encoder_prefix = p;
        let written = native::write(&file).unwrap();
        assert_eq!(
            ModelFile::from_bytes(&written).unwrap().info.encoder_prefix,
            p
        );
        Session::load(&written).unwrap()
    };
    let whole = with_prefix(0.0);
    assert_eq!(
        whole.finish_from(),
        FinishFrom::Search(CompletionSearch::default())
    );
    assert!(!whole.info().finishes_from_encoding);
    let prefixes = with_prefix(0.25);
    assert_eq!(
        prefixes.finish_from(),
        FinishFrom::Encoding {
            noise: FINISH_NOISE,
            then: CompletionSearch::default(),
        }
    );
    assert!(prefixes.info().finishes_from_encoding);
    // The first candidate is the first noisy latent `sample_latent` draws
    // from the same seed, kept when its finish goes on.
    let prefix = doodle();
    let own = prefixes.encode(&prefix).unwrap();
    let mut kept_first = 0;
    for seed in 1..=8 {
        let z = prefixes
            .finishing_latent(&prefix, &prefixes.finish_from(), 0.25, seed)
            .unwrap();
        let first = prefixes.sample_latent(&own, FINISH_NOISE, seed).unwrap();
        let goes_on = |z: &[f32]| {
            let mut drawing = prefixes.begin(Some(z), &prefix, seed).unwrap();
            prefixes
                .next_points(&mut drawing, MIN_FINISH_POINTS, 0.25)
                .unwrap()
                .len()
                >= MIN_FINISH_POINTS
        };
        if goes_on(&first) {
            assert_eq!(
                z, first,
                "seed {seed}: the first latent went on and is kept"
            );
            kept_first += 1;
        } else {
            // Redrawn, unless every try ends at once (then the first is kept).
            assert!(
                goes_on(&z) || z == first,
                "seed {seed}: a latent that ends at once is redrawn"
            );
        }
    }
    assert!(
        kept_first > 0,
        "no first latent went on: the test checks nothing"
    );
}

//! How much "Redraw" gains by keeping the nearest of several decodings
//! ([`Session::redraw`]). For the first N test drawings (default 300) it
//! redraws each from its noisy latent (λ 1, the VAE's own sampling, as
//! `sketch-rnn reconstruct`) at temperature τ (default 0.2), once with one
//! candidate and once with K (default `REDRAW_CANDIDATES`), drawing `i` from
//! seed `i`, and prints the layout scores of both sets against the inputs
//! (`shape_distance::retrieval`, pairwise: 0.5 chance, 1 each nearest its own)
//! and the median Chamfer distance to the own input (unit-box lengths). The
//! single decoding is the kept one's candidate 0: the same latent and seed.
//!
//! With NOISE it uses that λ instead of 1 (the app uses 0.5, τ 0.25). With
//! SIMPLIFY_PX each input is first simplified again with RDP at that tolerance
//! (data pixels), as a drawing with few points, long straight segments, reaches
//! the model from the app; the scores still compare with the unsimplified
//! drawings.
//!
//! ```sh
//! cargo run --release --example redraw_candidates -- MODEL DATA.npz [N] [K] [TEMPERATURE] [NOISE] [SIMPLIFY_PX]
//! ```
use sketch_rnn::dataset::read_npz;
use sketch_rnn::session::{REDRAW_CANDIDATES, Session};
use sketch_rnn::shape_distance::{LAYOUT_POINTS, layout_points, retrieval};
use sketch_rnn::stroke::{
    Point, Stroke3, polylines_to_stroke3, rdp_polylines, stroke3_to_polylines,
};

/// Default λ of the latent noise: the VAE's own posterior sample.
const NOISE: f32 = 1.0;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model_path), Some(data_path)) = (args.get(1), args.get(2)) else {
        anyhow::bail!(
            "usage: redraw_candidates MODEL DATA.npz [N] [K] [TEMPERATURE] [NOISE] [SIMPLIFY_PX]"
        );
    };
    let n: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(300);
    let k: usize = args
        .get(4)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(REDRAW_CANDIDATES);
    let t: f32 = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0.2);
    let noise: f32 = args.get(6).map(|s| s.parse()).transpose()?.unwrap_or(NOISE);
    let simplify: Option<f32> = args.get(7).map(|s| s.parse()).transpose()?;
    let session = Session::load(&std::fs::read(model_path)?)?;
    let n_max = session.info().max_seq_len;
    let test: Vec<Vec<Stroke3>> = read_npz(&std::fs::read(data_path)?)?
        .test
        .into_iter()
        .filter(|d| !d.is_empty() && d.len() <= n_max)
        .take(n)
        .collect();
    let points = |d: &[Stroke3]| layout_points(d, LAYOUT_POINTS);
    let inputs: Vec<Vec<Point>> = test.iter().map(|d| points(d)).collect();
    let given: Vec<Vec<Stroke3>> = match simplify {
        Some(px) => test
            .iter()
            .map(|d| polylines_to_stroke3(&rdp_polylines(&stroke3_to_polylines(d), px)))
            .collect(),
        None => test.clone(),
    };
    let rows =
        |ds: &[Vec<Stroke3>]| ds.iter().map(Vec::len).sum::<usize>() as f32 / ds.len() as f32;
    let (mut single, mut kept, mut picked) = (Vec::new(), Vec::new(), vec![0usize; k]);
    for (i, d) in given.iter().enumerate() {
        let one = session.redraw(d, noise, t, n_max, 1, i as u64)?;
        let best = session.redraw(d, noise, t, n_max, k, i as u64)?;
        single.push(points(&one.drawing));
        kept.push(points(&best.drawing));
        picked[best.candidate] += 1;
    }
    println!(
        "{} test drawings, τ {t}, λ {noise}, RDP {simplify:?} px: {:.1} rows given, {:.1} in the data",
        test.len(),
        rows(&given),
        rows(&test)
    );
    for (what, set) in [
        ("one decoding", &single),
        (&*format!("nearest of {k}"), &kept),
    ] {
        let r = retrieval(set, &inputs)?;
        println!(
            "{what:<16} pairwise {:.3}  top-1 {:.3}  median distance to own input {:.4}",
            r.pairwise, r.top1, r.median_own_distance
        );
    }
    println!("kept candidate counts: {picked:?}");
    Ok(())
}

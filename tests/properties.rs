//! Property tests of the stroke formats, RDP, and the npz/pickle readers.

use proptest::prelude::*;
use sketch_rnn::dataset::npz::{SketchSplits, read_npz, write_npz};
use sketch_rnn::dataset::pickle::read_object_array;
use sketch_rnn::stroke::*;

/// Stroke-3 drawings as in the data files: integer pixel offsets, pen 0/1, last row lifted.
fn drawing() -> impl Strategy<Value = Vec<Stroke3>> {
    prop::collection::vec(
        (-300i16..300, -300i16..300, prop::bool::weighted(0.2)),
        1..80,
    )
    .prop_map(|rows| {
        let n = rows.len();
        rows.into_iter()
            .enumerate()
            .map(|(i, (x, y, up))| [x as f32, y as f32, if up || i + 1 == n { 1.0 } else { 0.0 }])
            .collect()
    })
}

fn polyline() -> impl Strategy<Value = Polyline> {
    prop::collection::vec((-500.0f32..500.0, -500.0f32..500.0), 0..60)
        .prop_map(|v| v.into_iter().map(|(x, y)| [x, y]).collect())
}

proptest! {
    #[test]
    fn stroke3_stroke5_round_trip(d in drawing()) {
        let s5 = stroke3_to_stroke5(&d);
        prop_assert_eq!(s5.len(), d.len() + 1);
        prop_assert_eq!(Pen::of(s5.last().unwrap()), Pen::End);
        prop_assert_eq!(stroke5_to_stroke3(&s5), d.clone());
        let padded = stroke3_to_stroke5_padded(&d, 100).unwrap();
        prop_assert_eq!(padded.len(), 100);
        prop_assert_eq!(stroke5_to_stroke3(&padded), d);
    }

    #[test]
    fn stroke3_polylines_round_trip(d in drawing()) {
        let lines = stroke3_to_polylines(&d);
        prop_assert_eq!(lines.iter().map(Vec::len).sum::<usize>(), d.len());
        prop_assert_eq!(lines.len(), d.iter().filter(|r| r[2] == 1.0).count());
        prop_assert_eq!(polylines_to_stroke3(&lines), d);
    }

    #[test]
    fn rdp_keeps_endpoints_and_never_adds_points(line in polyline(), eps in 0.0f32..20.0) {
        let s = rdp(&line, eps);
        prop_assert!(s.len() <= line.len());
        if !line.is_empty() {
            prop_assert_eq!(s.first(), line.first());
            prop_assert_eq!(s.last(), line.last());
        }
        // the result is a subsequence of the input
        let mut it = line.iter();
        for p in &s {
            prop_assert!(it.any(|q| q == p));
        }
        // a zero tolerance never removes a point that is off the line
        prop_assert!(rdp(&s, eps).len() <= s.len());
    }

    #[test]
    fn scale_to_fit_stays_inside_the_box(d in drawing(), w in 10.0f32..500.0, h in 10.0f32..500.0) {
        let lines = scale_to_fit(&stroke3_to_polylines(&d), w, h, 2.0);
        for p in lines.iter().flatten() {
            prop_assert!(p[0] >= 2.0 - 1e-3 && p[0] <= w - 2.0 + 1e-3, "{p:?}");
            prop_assert!(p[1] >= 2.0 - 1e-3 && p[1] <= h - 2.0 + 1e-3, "{p:?}");
        }
    }

    #[test]
    fn npz_round_trip(train in prop::collection::vec(drawing(), 0..5), test in prop::collection::vec(drawing(), 0..3)) {
        let s = SketchSplits { train, valid: vec![], test };
        prop_assert_eq!(read_npz(&write_npz(&s).unwrap()).unwrap(), s);
    }

    #[test]
    fn pickle_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_object_array(&bytes);
    }

    #[test]
    fn pickle_reader_survives_corrupted_real_pickles(d in drawing(), at in 0usize..10_000, byte in any::<u8>()) {
        let s = SketchSplits { train: vec![d.clone(), d], valid: vec![], test: vec![] };
        let npy = sketch_rnn::dataset::npz::write_npy_drawings(&s.train);
        let mut pickle = npy[80..].to_vec();
        let i = at % pickle.len();
        pickle[i] = byte;
        let _ = read_object_array(&pickle);
        let _ = read_object_array(&pickle[..i]);
    }
}

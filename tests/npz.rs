//! The npz reader and writer against the shared data sets and synthetic variants.
//!
//! Expected values were printed with numpy:
//! `d = np.load('../shared/data/aaron_sheep.npz', allow_pickle=True, encoding='latin1')`,
//! `len(d['train']), d['train'][0][:5].tolist(), d['train'][0].sum(axis=0).tolist()`.

use std::io::Read;
use std::path::PathBuf;

use sketch_rnn::dataset::npz::{read_npz, write_npy_drawings, write_npz};

fn shared(rel: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!(
                "skipping: {} not found (get it as the README says)",
                p.display()
            );
            None
        }
    }
}

fn member(npz: &[u8], name: &str) -> Vec<u8> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(npz)).unwrap();
    let mut out = Vec::new();
    z.by_name(name).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn aaron_sheep_has_7400_300_300_and_the_first_drawing_exactly() {
    let Some(bytes) = shared("data/aaron_sheep.npz") else {
        return;
    };
    let s = read_npz(&bytes).unwrap();
    assert_eq!(
        (s.train.len(), s.valid.len(), s.test.len()),
        (7400, 300, 300)
    );
    let first = &s.train[0];
    assert_eq!(first.len(), 156);
    assert_eq!(
        &first[..5],
        &[
            [2., -4., 0.],
            [9., -9., 0.],
            [16., -7., 0.],
            [10., 0., 0.],
            [14., 7., 0.]
        ]
    );
    assert_eq!(&first[154..], &[[-3., -7., 0.], [-17., -11., 1.]]);
    let sum = first
        .iter()
        .fold([0f32; 3], |a, r| [a[0] + r[0], a[1] + r[1], a[2] + r[2]]);
    assert_eq!(sum, [125., 110., 9.]);
}

#[test]
fn short_kanji_reads() {
    let Some(bytes) = shared("data/short_kanji.npz") else {
        return;
    };
    let s = read_npz(&bytes).unwrap();
    assert_eq!(
        (s.train.len(), s.valid.len(), s.test.len()),
        (10000, 600, 500)
    );
    assert_eq!(
        &s.train[0][..3],
        &[[-1., 25., 0.], [-47., 118., 0.], [-39., 68., 1.]]
    );
}

/// npz -> ours -> npz reproduces every `.npy` member of the original byte for byte.
#[test]
fn rewriting_shared_npz_is_byte_identical() {
    for file in ["data/aaron_sheep.npz", "data/short_kanji.npz"] {
        let Some(bytes) = shared(file) else { return };
        let s = read_npz(&bytes).unwrap();
        for split in ["train", "valid", "test"] {
            let ours = write_npy_drawings(s.split(split).unwrap());
            let theirs = member(&bytes, &format!("{split}.npy"));
            assert!(
                ours == theirs,
                "{file} {split}.npy differs after a round trip"
            );
        }
        let again = read_npz(&write_npz(&s).unwrap()).unwrap();
        assert_eq!(again, s);
    }
}

#[test]
fn variants_real_files_use_are_read() {
    let expected: Vec<Vec<[f32; 3]>> = (0..3)
        .map(|k| {
            (0..k + 2)
                .map(|i| {
                    [
                        (k + i) as f32,
                        -(i as f32),
                        if i == k + 1 { 1.0 } else { 0.0 },
                    ]
                })
                .collect()
        })
        .collect();
    for f in [
        "variant_f64_protocol4.npz",
        "variant_i16_protocol2_codecs.npz",
        "variant_i32_protocol3_stored.npz",
        "variant_f32_protocol5.npz",
    ] {
        let bytes = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(f),
        )
        .unwrap();
        let s = read_npz(&bytes).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(s.train, expected, "{f}");
        assert_eq!(s.test, expected, "{f}");
    }
}

//! Hostile and malformed inputs: one case per error variant (and a few extra
//! for size limits), each asserting the variant, never a panic.

use std::io::Write;

use candle_core::{Device, Tensor};
use sketch_rnn::dataset::{Dataset, ndjson, npz};
use sketch_rnn::error::Error;
use sketch_rnn::model::{CellKind, HParams, SketchRnn};
use sketch_rnn::sample;
use sketch_rnn::weights::{ModelFile, ModelInfo, magenta, native};

fn zip_with(member: &str, bytes: &[u8]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(member, zip::write::SimpleFileOptions::default())
        .unwrap();
    z.write_all(bytes).unwrap();
    z.finish().unwrap().into_inner()
}

fn npy_object(pickle: &[u8]) -> Vec<u8> {
    let mut header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".to_string();
    while (10 + header.len() + 1) % 16 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(pickle);
    out
}

fn tiny_hparams() -> HParams {
    HParams {
        enc_size: 8,
        dec_size: 8,
        z_size: 4,
        num_mixtures: 20,
        cell: CellKind::Lstm,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    }
}

fn tiny_model() -> (candle_nn::VarMap, SketchRnn) {
    let vm = candle_nn::VarMap::new();
    let m = SketchRnn::init(&tiny_hparams(), &vm, &Device::Cpu, 1).unwrap();
    (vm, m)
}

fn tiny_file() -> ModelFile {
    let (vm, _) = tiny_model();
    ModelFile::from_varmap(
        ModelInfo {
            name: "tiny".into(),
            scale_factor: 10.0,
            max_seq_len: 50,
            hparams: tiny_hparams(),
            typical_size_px: None,
            latent_prior: None,
            encoder_prefix: 0.0,
        },
        &vm,
    )
    .unwrap()
}

fn gen_json() -> serde_json::Value {
    let mut hp = tiny_hparams();
    hp.z_size = 0;
    let vm = candle_nn::VarMap::new();
    SketchRnn::init(&hp, &vm, &Device::Cpu, 2).unwrap();
    let file = ModelFile::from_varmap(
        ModelInfo {
            name: "gen".into(),
            scale_factor: 10.0,
            max_seq_len: 50,
            hparams: hp,
            typical_size_px: None,
            latent_prior: None,
            encoder_prefix: 0.0,
        },
        &vm,
    )
    .unwrap();
    serde_json::from_slice(&magenta::write(&file).unwrap().0).unwrap()
}

type Case = (
    &'static str,
    Box<dyn Fn() -> Result<(), Error>>,
    fn(&Error) -> bool,
);

#[test]
fn every_error_variant_from_hostile_input() {
    let cases: Vec<Case> = vec![
        (
            "truncated zip",
            Box::new(|| {
                let full = npz::write_npz(&npz::SketchSplits::default()).unwrap();
                npz::read_npz(&full[..full.len() / 2]).map(drop)
            }),
            |e| matches!(e, Error::Zip(_)),
        ),
        (
            "npy without magic",
            Box::new(|| npz::read_npz(&zip_with("train.npy", b"not an npy file at all")).map(drop)),
            |e| matches!(e, Error::Npy { .. }),
        ),
        (
            "pickle calling os.system is refused, never run",
            Box::new(|| {
                let p = b"\x80\x02cos\nsystem\nq\x00X\x05\x00\x00\x00touch\x85R.";
                npz::read_npy_drawings("train.npy", &npy_object(p)).map(drop)
            }),
            |e| matches!(e, Error::Npy { reason, .. } if reason.contains("os.system is not allowed")),
        ),
        (
            "pickle opcode outside the allow-list",
            Box::new(|| sketch_rnn::dataset::pickle::read_object_array(b"\x80\x02\x81.").map(drop)),
            |e| matches!(e, Error::Pickle { reason, .. } if reason.contains("0x81")),
        ),
        (
            "pickle claiming a 4 GB string is refused before allocating",
            Box::new(|| {
                sketch_rnn::dataset::pickle::read_object_array(b"\x80\x02B\xff\xff\xff\xff")
                    .map(drop)
            }),
            |e| matches!(e, Error::Pickle { reason, .. } if reason.contains("truncated")),
        ),
        (
            "a million nested tuples neither overflow the stack nor get accepted",
            Box::new(|| {
                let mut p = b"\x80\x02)".to_vec();
                p.extend(std::iter::repeat_n(0x85u8, 1_000_000));
                p.push(b'.');
                sketch_rnn::dataset::pickle::read_object_array(&p).map(drop)
            }),
            |e| matches!(e, Error::Pickle { reason, .. } if reason.contains("tuple")),
        ),
        (
            "element of complex dtype",
            Box::new(|| {
                let p = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87R(K\x01K\x01\x85cnumpy\ndtype\nq\x04U\x02O8K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]h\x01h\x02K\x00\x85U\x01b\x87R(K\x01K\x01K\x03\x86h\x04U\x03c16K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x00tbatb.";
                sketch_rnn::dataset::pickle::read_object_array(p).map(drop)
            }),
            |e| matches!(e, Error::Dtype { found, .. } if found == "c16"),
        ),
        (
            "outer array that is not an object array",
            Box::new(|| {
                let mut npy = npy_object(b"");
                let at = npy.windows(4).position(|w| w == b"'|O'").unwrap();
                npy[at..at + 4].copy_from_slice(b"'<i2");
                npz::read_npy_drawings("train.npy", &npy).map(drop)
            }),
            |e| matches!(e, Error::Dtype { .. }),
        ),
        (
            "drawing longer than N_max",
            Box::new(|| {
                sketch_rnn::stroke::stroke3_to_stroke5_padded(&[[0.0, 0.0, 1.0]; 300], 250)
                    .map(drop)
            }),
            |e| {
                matches!(
                    e,
                    Error::TooLarge {
                        limit: 250,
                        found: 300,
                        ..
                    }
                )
            },
        ),
        (
            "Magenta blob longer than its shape",
            Box::new(|| {
                let mut j = gen_json();
                j[2][1] = serde_json::Value::String("AAAA".repeat(10_000));
                ModelFile::from_bytes(j.to_string().as_bytes()).map(drop)
            }),
            |e| matches!(e, Error::TooLarge { .. }),
        ),
        (
            "Magenta output layer of the wrong width",
            Box::new(|| {
                let mut j = gen_json();
                j[1][0] = serde_json::json!([8, 124]);
                ModelFile::from_bytes(j.to_string().as_bytes()).map(drop)
            }),
            |e| matches!(e, Error::Shape { .. }),
        ),
        (
            "Magenta absurd shape",
            Box::new(|| {
                let mut j = gen_json();
                j[1][3] = serde_json::json!([1_000_000, 4_000_000]);
                ModelFile::from_bytes(j.to_string().as_bytes()).map(drop)
            }),
            |e| matches!(e, Error::Magenta(m) if m.contains("dimension")),
        ),
        (
            "Magenta wrong blob count for its mode",
            Box::new(|| {
                let mut j = gen_json();
                j[0]["mode"] = serde_json::json!(0); // a VAE needs 17 blobs
                ModelFile::from_bytes(j.to_string().as_bytes()).map(drop)
            }),
            |e| matches!(e, Error::Magenta(m) if m.contains("17")),
        ),
        (
            "NaN weight",
            Box::new(|| {
                let mut f = tiny_file();
                let t = f.tensors.get_mut("decoder.output.bias").unwrap();
                *t = t.affine(0.0, f64::NAN).unwrap();
                ModelFile::from_bytes(&native::write(&f).unwrap())?
                    .build(&Device::Cpu)
                    .map(drop)
            }),
            |e| matches!(e, Error::NonFinite { what } if what.contains("decoder.output.bias")),
        ),
        (
            "fitted latent prior of the wrong size for the model",
            Box::new(|| {
                let mut f = tiny_file();
                // N_z is 4: a mean of 4 and a packed triangle of 10 would fit
                f.info.latent_prior = Some(sketch_rnn::model::FittedPrior {
                    mean: vec![0.0; 3],
                    scale_tril: vec![1.0; 6],
                    drawings: 10,
                });
                ModelFile::from_bytes(&native::write(&f).unwrap())?
                    .build(&Device::Cpu)
                    .map(drop)
            }),
            |e| matches!(e, Error::Shape { what, .. } if what.contains("latent prior")),
        ),
        (
            "fitted latent prior whose Cholesky factor is singular",
            Box::new(|| {
                let mut f = tiny_file();
                let mut scale_tril = vec![0.0; 10];
                for i in 0..4 {
                    scale_tril[i * (i + 1) / 2 + i] = 1.0;
                }
                scale_tril[2] = 0.0; // L[1][1]
                f.info.latent_prior = Some(sketch_rnn::model::FittedPrior {
                    mean: vec![0.0; 4],
                    scale_tril,
                    drawings: 10,
                });
                ModelFile::from_bytes(&native::write(&f).unwrap())?
                    .build(&Device::Cpu)
                    .map(drop)
            }),
            |e| matches!(e, Error::ModelFile(m) if m.contains("diagonal must be positive")),
        ),
        (
            "safetensors that is not a sketch-rnn model",
            Box::new(|| {
                let mut f = native::write(&tiny_file()).unwrap();
                let at = f.windows(10).position(|w| w == b"sketch-rnn").unwrap();
                f[at..at + 10].copy_from_slice(b"other-fmt!");
                native::read(&f).map(drop)
            }),
            |e| matches!(e, Error::ModelFile(m) if m.contains("not a sketch-rnn model")),
        ),
        (
            "garbage model bytes",
            Box::new(|| ModelFile::from_bytes(b"\x00\x01garbage").map(drop)),
            |e| matches!(e, Error::ModelFile(_)),
        ),
        (
            "ndjson stroke with xs and ys of different lengths",
            Box::new(|| {
                ndjson::read_ndjson(b"{\"word\":\"cat\",\"drawing\":[[[1,2,3],[1,2]]]}\n", 2.0)
                    .map(drop)
            }),
            |e| matches!(e, Error::Ndjson { line: 1, .. }),
        ),
        (
            "encoding an empty drawing",
            Box::new(|| tiny_model().1.encode(&[]).map(drop)),
            |e| matches!(e, Error::EmptyDrawing(_)),
        ),
        (
            "data set with no usable drawing",
            Box::new(|| Dataset::new(&[vec![]], 10, None).map(drop)),
            |e| matches!(e, Error::EmptyDrawing(_)),
        ),
        (
            "NaN in a prefix",
            Box::new(|| {
                let (_, m) = tiny_model();
                sample::start(&m, Some(&[0.0; 4]), &[[f32::NAN, 0.0, 1.0, 0.0, 0.0]], 1).map(drop)
            }),
            |e| matches!(e, Error::InvalidStroke { index: 0, .. }),
        ),
        (
            "NaN temperature",
            Box::new(|| {
                let (_, m) = tiny_model();
                sample::generate(&m, Some(&[0.0; 4]), f32::NAN, 10, 1).map(drop)
            }),
            |e| matches!(e, Error::InvalidArgument { name, .. } if name == "temperature"),
        ),
        (
            "tensor shape mismatch inside candle",
            Box::new(|| {
                let (_, m) = tiny_model();
                let h = Tensor::zeros((1, 3), candle_core::DType::F32, &Device::Cpu)?;
                m.decoder.mixture_logits(&h).map(drop)
            }),
            |e| matches!(e, Error::Candle(_)),
        ),
        (
            "decoder input that is not stroke-5",
            Box::new(|| {
                let (_, m) = tiny_model();
                let s = m.initial_state(Some(&[0.0; 4]))?;
                let x = Tensor::zeros((1, 7), candle_core::DType::F32, &Device::Cpu)?;
                m.decoder.step(&s, &x, None).map(drop)
            }),
            |e| matches!(e, Error::Shape { .. }),
        ),
        (
            "errors name their file",
            Box::new(|| {
                npz::read_npz(b"PK\x03\x04 truncated")
                    .map_err(|e| e.in_file("sheep.npz"))
                    .map(drop)
            }),
            |e| {
                matches!(e, Error::InFile { file, .. } if file == "sheep.npz")
                    && e.to_string().starts_with("sheep.npz: ")
            },
        ),
    ];
    for (name, run, expected) in cases {
        match run() {
            Ok(()) => panic!("{name}: accepted"),
            Err(e) => assert!(expected(&e), "{name}: unexpected error {e:?}"),
        }
    }
}

//! Widening a decoder (`sketch_rnn::train::widen`, Net2WiderNet): the widened
//! model predicts what the original predicts, step by step, for conditional and
//! unconditional models and factors 2 and 3; every misuse is an error.
//! Tolerance: mixture parameters within 1e-4 (relative to max(1, |value|)) and
//! log densities within 1e-3 nats; only the summation order changes, so the
//! measured differences are float rounding (about 1e-6).

use candle_core::Device;
use sketch_rnn::model::{CellKind, HParams};
use sketch_rnn::train::widen::{add_encoder_position_input, add_position_input, widen_decoder};
use sketch_rnn::weights::{ModelFile, ModelInfo, mixture_parity, parity_input};

mod common;

fn hparams(z_size: usize, cell: CellKind) -> HParams {
    HParams {
        enc_size: 6,
        dec_size: 8,
        z_size,
        num_mixtures: 3,
        cell,
        recurrent_dropout_keep: 1.0,
        latent_tanh: false,
        position_input: false,
        encoder_position_input: false,
    }
}

fn file(hp: &HParams, seed: u64) -> ModelFile {
    let (vm, _) = common::random_model(hp, seed, 0.3);
    let info = ModelInfo {
        name: "widen-test".into(),
        scale_factor: 1.0,
        max_seq_len: 60,
        hparams: hp.clone(),
        typical_size_px: None,
        latent_prior: None,
        encoder_prefix: 0.0,
    };
    ModelFile::from_varmap(info, &vm).unwrap()
}

#[test]
fn widened_decoder_predicts_what_the_original_predicts() {
    for (z_size, factor) in [(4, 2), (4, 3), (0, 2)] {
        let original = file(&hparams(z_size, CellKind::Lstm), 11);
        let wide = widen_decoder(&original, factor).unwrap();
        assert_eq!(wide.info.hparams.dec_size, 8 * factor);
        assert_eq!(
            wide.tensors["decoder.cell.w_hh"].dims(),
            &[8 * factor, 4 * 8 * factor]
        );
        let a = original.build(&Device::Cpu).unwrap();
        let b = wide.build(&Device::Cpu).unwrap();
        let z: Vec<f32> = (0..z_size).map(|i| 0.4 - 0.2 * i as f32).collect();
        let z = (z_size > 0).then_some(&z[..]);
        let p = mixture_parity(&a, &b, z, &parity_input(50)).unwrap();
        eprintln!("z_size {z_size}, factor {factor}: {p:?}");
        assert!(
            p.max_param < 1e-4,
            "z_size {z_size}, factor {factor}: {p:?}"
        );
        assert!(
            p.max_log_density < 1e-3,
            "z_size {z_size}, factor {factor}: {p:?}"
        );
        // The encoder is untouched.
        if z_size > 0 {
            let d = common::max_abs_diff(
                &original.tensors["encoder.mu.weight"],
                &wide.tensors["encoder.mu.weight"],
            );
            assert_eq!(d, 0.0);
        }
    }
}

#[test]
fn widening_a_perturbed_copy_is_detected_by_the_parity_check() {
    // The check above can fail: halving only one copy's outgoing weights in the
    // output layer changes the predictions.
    let original = file(&hparams(4, CellKind::Lstm), 12);
    let mut wide = widen_decoder(&original, 2).unwrap();
    let out = &wide.tensors["decoder.output.weight"];
    let doubled = (out.narrow(0, 0, 8).unwrap() * 2.0).unwrap();
    let broken = candle_core::Tensor::cat(&[&doubled, &out.narrow(0, 8, 8).unwrap()], 0).unwrap();
    wide.tensors.insert("decoder.output.weight".into(), broken);
    let a = original.build(&Device::Cpu).unwrap();
    let b = wide.build(&Device::Cpu).unwrap();
    let z = [0.4f32, 0.2, 0.0, -0.2];
    let p = mixture_parity(&a, &b, Some(&z), &parity_input(50)).unwrap();
    assert!(p.max_param > 1e-2, "{p:?}");
}

#[test]
fn widening_needs_a_plain_lstm() {
    let f = file(&hparams(4, CellKind::LayerNorm), 13);
    let e = widen_decoder(&f, 2).unwrap_err().to_string();
    assert!(e.contains("plain LSTM") && e.contains("LayerNorm"), "{e}");
}

#[test]
fn widening_needs_a_factor_of_at_least_two_within_the_size_limit() {
    let f = file(&hparams(4, CellKind::Lstm), 14);
    for factor in [0, 1, 10_000] {
        let e = widen_decoder(&f, factor).unwrap_err().to_string();
        assert!(e.contains("factor") && e.contains("at least 2"), "{e}");
    }
}

#[test]
fn widening_names_a_missing_tensor() {
    let mut f = file(&hparams(4, CellKind::Lstm), 15);
    f.tensors.remove("decoder.output.weight");
    let e = widen_decoder(&f, 2).unwrap_err().to_string();
    assert!(e.contains("decoder.output.weight"), "{e}");
}

#[test]
fn adding_the_position_input_keeps_the_predictions() {
    for (z_size, cell) in [
        (4, CellKind::Lstm),
        (0, CellKind::Lstm),
        (4, CellKind::LayerNorm),
    ] {
        let original = file(&hparams(z_size, cell), 16);
        let with = add_position_input(&original).unwrap();
        assert!(with.info.hparams.position_input);
        assert_eq!(
            with.tensors["decoder.cell.w_xh"].dims(),
            &[5 + 2 + z_size, 4 * 8]
        );
        let a = original.build(&Device::Cpu).unwrap();
        let b = with.build(&Device::Cpu).unwrap();
        let z: Vec<f32> = (0..z_size).map(|i| 0.4 - 0.2 * i as f32).collect();
        let z = (z_size > 0).then_some(&z[..]);
        let p = mixture_parity(&a, &b, z, &parity_input(50)).unwrap();
        assert!(p.max_param < 1e-5, "z_size {z_size}, {cell:?}: {p:?}");
    }
}

#[test]
fn the_position_rows_are_read_once_they_are_not_zero() {
    // The check above can fail: the added rows change the predictions as soon
    // as training moves them.
    let original = file(&hparams(4, CellKind::Lstm), 17);
    let mut with = add_position_input(&original).unwrap();
    let w = &with.tensors["decoder.cell.w_xh"];
    let moved = candle_core::Tensor::cat(
        &[
            &w.narrow(0, 0, 5).unwrap(),
            &(w.narrow(0, 5, 2).unwrap() + 0.5).unwrap(),
            &w.narrow(0, 7, 4).unwrap(),
        ],
        0,
    )
    .unwrap();
    with.tensors.insert("decoder.cell.w_xh".into(), moved);
    let a = original.build(&Device::Cpu).unwrap();
    let b = with.build(&Device::Cpu).unwrap();
    let z = [0.4f32, 0.2, 0.0, -0.2];
    let p = mixture_parity(&a, &b, Some(&z), &parity_input(50)).unwrap();
    assert!(p.max_param > 1e-2, "{p:?}");
}

#[test]
fn adding_the_position_input_refuses_a_hyper_decoder_and_a_second_time() {
    let hyper = file(&hparams(4, CellKind::Hyper), 18);
    let e = add_position_input(&hyper).unwrap_err().to_string();
    assert!(e.contains("Hyper"), "{e}");
    let once = add_position_input(&file(&hparams(4, CellKind::Lstm), 19)).unwrap();
    let e = add_position_input(&once).unwrap_err().to_string();
    assert!(e.contains("already reads the pen position"), "{e}");
}

/// The encoding of a drawing by `model` (z = μ, and σ), for the encoder tests.
fn encoding(model: &ModelFile) -> (Vec<f32>, Vec<f32>) {
    let drawing: Vec<[f32; 5]> = parity_input(30)[1..].to_vec();
    model.build(&Device::Cpu).unwrap().encode(&drawing).unwrap()
}

#[test]
fn adding_the_encoder_position_input_keeps_the_encoding() {
    let original = file(&hparams(4, CellKind::Lstm), 20);
    let with = add_encoder_position_input(&original).unwrap();
    assert!(with.info.hparams.encoder_position_input);
    for direction in ["forward", "backward"] {
        assert_eq!(
            with.tensors[&format!("encoder.{direction}.w_xh")].dims(),
            &[5 + 2, 4 * 6]
        );
    }
    let ((mu_a, sigma_a), (mu_b, sigma_b)) = (encoding(&original), encoding(&with));
    for (a, b) in mu_a.iter().chain(&sigma_a).zip(mu_b.iter().chain(&sigma_b)) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn the_encoder_position_rows_are_read_once_they_are_not_zero() {
    // The check above can fail: in each direction the added rows change the
    // encoding as soon as training moves them.
    let original = file(&hparams(4, CellKind::Lstm), 21);
    let with = add_encoder_position_input(&original).unwrap();
    for direction in ["forward", "backward"] {
        let name = format!("encoder.{direction}.w_xh");
        let w = &with.tensors[&name];
        let moved = candle_core::Tensor::cat(
            &[
                &w.narrow(0, 0, 5).unwrap(),
                &(w.narrow(0, 5, 2).unwrap() + 0.5).unwrap(),
            ],
            0,
        )
        .unwrap();
        let mut one = with.clone();
        one.tensors.insert(name, moved);
        let (mu_a, _) = encoding(&original);
        let (mu_b, _) = encoding(&one);
        let differ = mu_a
            .iter()
            .zip(&mu_b)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(differ > 1e-5, "{direction}: {differ}");
    }
}

#[test]
fn adding_the_encoder_position_input_refuses_a_decoder_only_model_and_a_second_time() {
    let e = add_encoder_position_input(&file(&hparams(0, CellKind::Lstm), 22))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no encoder"), "{e}");
    let once = add_encoder_position_input(&file(&hparams(4, CellKind::Lstm), 23)).unwrap();
    let e = add_encoder_position_input(&once).unwrap_err().to_string();
    assert!(e.contains("already reads the pen position"), "{e}");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The hand-written backward pass equals candle's autograd through the differentiable path
//! with the same rules written as detach algebra, for every family and rule set (f64), at
//! every residual-stream level and position; query blocking does not change it.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor, Var};
use common::{tiny_model_dir, weight_files, FAMILIES};
use xmrc_lens::model::config::ModelConfig;
use xmrc_lens::model::decoder::{Decoder, DiffInput, GradientRules, Kernels, Seed};
use xmrc_lens::model::weights::load_var_builder;

fn load(family: &str) -> Decoder {
    load_as(family, DType::F64)
}

fn load_as(family: &str, dtype: DType) -> Decoder {
    let dir = tiny_model_dir(family);
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let vb = load_var_builder(&weight_files(&dir), dtype, &Device::Cpu).unwrap();
    Decoder::new(&config, vb).unwrap()
}

/// Longer than the tiny models' 16-token windows, so windowed layers are exercised.
fn prompt() -> Vec<u32> {
    (0..27u32).map(|i| 40 + (i * 53) % 900).collect()
}

/// Gradients of `sum(weight * logit)` at every probe, by autograd.
fn autograd(decoder: &Decoder, ids: &[u32], seeds: &[Seed], rules: GradientRules) -> Vec<Tensor> {
    let c = decoder.config();
    let vars: Vec<Var> = (0..=c.num_layers)
        .map(|_| Var::zeros((1, ids.len(), c.hidden_size), DType::F64, &Device::Cpu).unwrap())
        .collect();
    let mut input = DiffInput::single(ids);
    input.probes = Some(vars.iter().map(|v| v.as_tensor().clone()).collect());
    input.rules = rules;
    let out = decoder.forward_diff(&input).unwrap();
    let mut target = Tensor::zeros((), DType::F64, &Device::Cpu).unwrap();
    for s in seeds {
        let logit = out.logits.i((0, s.position, s.token as usize)).unwrap();
        target = (target + (logit * s.weight).unwrap()).unwrap();
    }
    let grads = target.backward().unwrap();
    vars.iter()
        .map(|v| grads.get(v.as_tensor()).unwrap().squeeze(0).unwrap())
        .collect()
}

fn max_rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        .max(1e-12);
    let diff = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    diff / scale
}

#[test]
fn hand_written_backward_equals_autograd_for_every_family_and_rule_set() {
    let ids = prompt();
    let t = ids.len();
    for family in FAMILIES {
        let decoder = load(family);
        let rec = decoder.record(&ids).unwrap();
        let step = vec![Seed {
            position: t - 1,
            token: 77,
            weight: 1.0,
        }];
        let sequence: Vec<Seed> = [(t - 3, 5u32, 1.0), (t - 2, 901, 1.0), (t - 1, 33, 0.5)]
            .iter()
            .map(|&(position, token, weight)| Seed {
                position,
                token,
                weight,
            })
            .collect();
        for rules in GradientRules::ALL {
            for seeds in [&step, &sequence] {
                let expected = autograd(&decoder, &ids, seeds, rules);
                for block in [256, 5] {
                    let got = decoder.backward(&rec, seeds, rules, block, None).unwrap();
                    assert_eq!(got.grads.len(), expected.len());
                    // candle's own GELU backward uses 6-digit constants (0.797885 for
                    // sqrt(2/π)): about 1e-7 off the exact derivative ours uses.
                    let tolerance = if family == "gemma2" && rules == GradientRules::Gradient {
                        1e-6
                    } else {
                        1e-9
                    };
                    for (level, (g, e)) in got.grads.iter().zip(&expected).enumerate() {
                        let d = max_rel_diff(g, e);
                        assert!(
                            d < tolerance,
                            "{family} {rules} level {level} block {block} seeds {}: relative difference {d:e}",
                            seeds.len()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn fused_cpu_kernels_equal_the_tensor_ops() {
    // The CPU default (fused softmax, softmax backward and MLP gate kernels) against the
    // tensor-op path other devices run, in f64 and f32, windows and blocks included.
    let ids = prompt();
    let t = ids.len();
    let seeds = [
        Seed {
            position: t - 2,
            token: 901,
            weight: 1.0,
        },
        Seed {
            position: t - 1,
            token: 77,
            weight: 0.5,
        },
    ];
    for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        for family in FAMILIES {
            let decoder = load_as(family, dtype);
            let rec = decoder.record(&ids).unwrap();
            for rules in GradientRules::ALL {
                for block in [256, 5] {
                    let run = |kernels| {
                        decoder
                            .backward_using(&rec, &seeds, rules, block, None, kernels)
                            .unwrap()
                    };
                    let (fused, ops) = (run(Kernels::FusedCpu), run(Kernels::TensorOps));
                    assert!((fused.target - ops.target).abs() < 1e-9);
                    for (level, (a, b)) in fused.grads.iter().zip(&ops.grads).enumerate() {
                        let a = a.to_dtype(DType::F64).unwrap();
                        let d = max_rel_diff(&a, &b.to_dtype(DType::F64).unwrap());
                        assert!(
                            d < tolerance,
                            "{family} {dtype:?} {rules} block {block} level {level}: {d:e}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_rules_change_the_gradient() {
    // Guards the test above against rules that silently do nothing on either side.
    let ids = prompt();
    let decoder = load("gemma2");
    let seeds = [Seed {
        position: ids.len() - 1,
        token: 77,
        weight: 1.0,
    }];
    let plain = autograd(&decoder, &ids, &seeds, GradientRules::Gradient);
    let lrp = autograd(&decoder, &ids, &seeds, GradientRules::AttnLrp);
    let cp = autograd(&decoder, &ids, &seeds, GradientRules::CpLrp);
    assert!(max_rel_diff(&lrp[0], &plain[0]) > 1e-2);
    assert!(max_rel_diff(&cp[0], &lrp[0]) > 1e-2);
}

#[test]
fn recorded_hidden_states_and_logits_match_the_differentiable_path() {
    let ids = prompt();
    for family in FAMILIES {
        let decoder = load(family);
        let rec = decoder.record(&ids).unwrap();
        let out = decoder.forward_diff(&DiffInput::single(&ids)).unwrap();
        for (i, (a, b)) in rec
            .hidden_states()
            .iter()
            .zip(&out.hidden_states)
            .enumerate()
        {
            let d = max_rel_diff(a, &b.squeeze(0).unwrap());
            assert!(d < 1e-9, "{family} hidden state {i}: {d:e}");
        }
        let positions: Vec<usize> = (0..ids.len()).collect();
        let logits = decoder.logits_at(&rec, &positions).unwrap();
        let reference = out.logits.squeeze(0).unwrap().to_dtype(DType::F32).unwrap();
        let d = max_rel_diff(
            &logits.to_dtype(DType::F64).unwrap(),
            &reference.to_dtype(DType::F64).unwrap(),
        );
        assert!(d < 1e-6, "{family} logits: {d:e}");
    }
}

#[test]
fn logits_of_the_last_positions_only_equal_the_full_ones() {
    let ids = prompt();
    let decoder = load("qwen2");
    let full = decoder.forward_diff(&DiffInput::single(&ids)).unwrap();
    let mut input = DiffInput::single(&ids);
    input.logits_last = Some(3);
    let last = decoder.forward_diff(&input).unwrap();
    assert_eq!(last.logits.dims(), &[1, 3, decoder.config().vocab_size]);
    let expected = full.logits.narrow(1, ids.len() - 3, 3).unwrap();
    assert!(max_rel_diff(&last.logits, &expected) < 1e-12);
    assert_eq!(last.hidden_states.len(), full.hidden_states.len());
    let top = last.hidden_states.len() - 1;
    assert!(max_rel_diff(&last.hidden_states[top], &full.hidden_states[top]) < 1e-12);
}

/// A recording extended past a recorded prefix equals the recording of the whole input, and
/// so does the backward from it; the recorded prefill gives forward_fast's logits and cache.
#[test]
fn an_extended_recording_equals_one_recording_of_the_whole_input() {
    let ids = prompt();
    for family in FAMILIES {
        for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let decoder = load_as(family, dtype);
            let whole = decoder.record(&ids).unwrap();
            // Split inside and past the 16-token window, and one token from the end.
            for split in [5, 20, ids.len() - 1] {
                let mut cache = decoder.new_cache();
                let (logits, prefix) = decoder
                    .record_prefill(&ids[..split], &mut cache, None)
                    .unwrap();
                let mut fast_cache = decoder.new_cache();
                let fast = decoder
                    .forward_fast(&ids[..split], &mut fast_cache)
                    .unwrap();
                let d = max_rel_diff(
                    &logits.to_dtype(DType::F64).unwrap(),
                    &fast.to_dtype(DType::F64).unwrap(),
                );
                assert!(d < tolerance, "{family} {dtype:?} prefill logits {d:e}");
                // Decoding on from either cache gives the same next logits.
                let next = ids[split];
                let a = decoder.forward_fast(&[next], &mut cache).unwrap();
                let b = decoder.forward_fast(&[next], &mut fast_cache).unwrap();
                let d = max_rel_diff(
                    &a.to_dtype(DType::F64).unwrap(),
                    &b.to_dtype(DType::F64).unwrap(),
                );
                assert!(
                    d < tolerance,
                    "{family} {dtype:?} decode after the prefill {d:e}"
                );

                let extended = decoder.record_extend(prefix, &ids[split..], None).unwrap();
                assert_eq!(extended.ids, ids);
                assert_eq!(extended.levels.len(), whole.levels.len());
                for (level, (a, b)) in extended.levels.iter().zip(&whole.levels).enumerate() {
                    let d = max_rel_diff(
                        &a.to_dtype(DType::F64).unwrap(),
                        &b.to_dtype(DType::F64).unwrap(),
                    );
                    assert!(
                        d < tolerance,
                        "{family} {dtype:?} split {split} level {level}: {d:e}"
                    );
                }
                let seeds = [Seed {
                    position: ids.len() - 1,
                    token: 77,
                    weight: 1.0,
                }];
                let expected = decoder
                    .backward(&whole, &seeds, GradientRules::AttnLrp, 5, None)
                    .unwrap();
                let got = decoder
                    .backward(&extended, &seeds, GradientRules::AttnLrp, 5, None)
                    .unwrap();
                for (level, (a, b)) in got.grads.iter().zip(&expected.grads).enumerate() {
                    let d = max_rel_diff(
                        &a.to_dtype(DType::F64).unwrap(),
                        &b.to_dtype(DType::F64).unwrap(),
                    );
                    assert!(
                        d < tolerance * 10.0,
                        "{family} {dtype:?} split {split} gradient level {level}: {d:e}"
                    );
                }
            }
        }
    }
}

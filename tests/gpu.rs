#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The numeric tests on a CUDA GPU, behind a switch (`scripts/gpu-check.sh` runs them):
//!
//! ```sh
//! XMRC_LENS_GPU=1 cargo test --release --features cuda --test gpu -- --nocapture --test-threads=1
//! ```
//!
//! A test runs only when `XMRC_LENS_GPU=1` is set, the build has the `cuda` feature and CUDA
//! device 0 answers; otherwise it prints `note: gpu test NAME skipped: WHY` and passes, so the
//! CPU CI builds and passes this file unchanged. `XMRC_LENS_GPU=cpu` is a dry run of the same
//! code with the CPU as the device under test (every comparison then runs CPU against CPU; only
//! the bf16 one differs from f32), for checking the tests themselves without a GPU.
//!
//! What is checked on the device:
//! - the four tiny families in f32 against the transformers fixtures, as tests/engine_parity.rs
//!   does on the CPU (logits within 1e-4, hidden states cosine >= 0.99999, greedy ids, padded
//!   batches), and against the CPU (logits within 1e-4, relevance per level r >= 0.9999);
//! - AttnLRP and CP-LRP against the LXT fixtures, as tests/attribution_lxt.rs (r >= 0.999,
//!   top-5 tokens, conservation within 1 %; Gemma-2's conservation bounds);
//! - the tiny GGUF files, as tests/gguf.rs (F32 file against its safetensors twin, Q8_0 against
//!   transformers within 1e-4, the SentencePiece model's logits);
//! - the real model (`XMRC_LENS_REAL_MODEL`, else a note): f32 against the transformers/LXT
//!   fixtures as tests/real_model.rs, f32 against the CPU in f32 (logits within 1e-4,
//!   relevance r >= 0.9999 per level), and bf16 against the CPU in f32 (relevance r >= 0.99 per
//!   level, greedy ids equal up to the first step where the f32 top-2 gap is below
//!   `BF16_NEAR_TIE`, logit and MRD differences printed).
//!
//! Lines starting with `gpu-check:` carry the figures; the script copies them into its report.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use common::{
    cosine, json_f64s, json_ids, load_decoder_on, max_abs_diff, pearson, real_model, top2,
    weight_files, FAMILIES,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use xmrc_lens::attribution::mrd::{part_mrd, token_mrd, MrdOptions};
use xmrc_lens::attribution::relevance::{attribute, Relevance, RelevanceOptions, TargetMode};
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::hf::tokenizer::Tokenizer;
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::config::ModelConfig;
use xmrc_lens::model::decoder::{Decoder, DiffInput, GradientRules};
use xmrc_lens::model::device::{DTypeChoice, DeviceChoice};
use xmrc_lens::model::generate::{generate, GenerateOptions};
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;

/// tests/engine_parity.rs's bars.
const LOGIT_TOLERANCE: f32 = 1e-4;
const HIDDEN_COSINE: f64 = 0.99999;
/// The issue's bars: f32 on the device equals f32 on the CPU.
const DEVICE_LOGITS: f32 = 1e-4;
const DEVICE_PEARSON: f64 = 0.9999;
/// bf16 relevance against f32, per level.
const BF16_PEARSON: f64 = 0.99;
/// A greedy step whose f32 top-2 gap is below this is a near-tie for bf16: bf16 ids must equal
/// f32's only before the first such step. About twice the largest bf16 logit error of the CPU
/// dry run on the real model (0.55 over the whole vocabulary, 0.24-0.55 per prompt).
const BF16_NEAR_TIE: f32 = 1.0;
/// Greedy steps compared on the real model (as its fixture).
const GREEDY_STEPS: usize = 32;

/// The device the tests run on, and the choice that gives it to `LoadedModel`.
struct Target {
    device: Device,
    choice: DeviceChoice,
}

impl Target {
    fn name(&self) -> &'static str {
        if self.device.is_cuda() {
            "cuda"
        } else {
            "cpu (dry run)"
        }
    }
}

fn skip(test: &str, why: &str) {
    eprintln!("note: gpu test {test} skipped: {why}");
}

/// The device under test: CUDA device 0 when `XMRC_LENS_GPU=1`, the build has `cuda` and the
/// device answers; the CPU for the dry run `XMRC_LENS_GPU=cpu`; else `None`, with a note.
fn target(test: &str) -> Option<Target> {
    match std::env::var("XMRC_LENS_GPU").unwrap_or_default().trim() {
        "1" => {}
        "cpu" => {
            eprintln!("note: gpu test {test}: dry run on the CPU (XMRC_LENS_GPU=cpu)");
            return Some(Target {
                device: Device::Cpu,
                choice: DeviceChoice::Cpu,
            });
        }
        _ => {
            skip(
                test,
                "XMRC_LENS_GPU=1 is not set (the GPU tests run only when asked for)",
            );
            return None;
        }
    }
    if !cfg!(feature = "cuda") {
        skip(
            test,
            "this build has no `cuda` feature (cargo test --release --features cuda --test gpu)",
        );
        return None;
    }
    match Device::new_cuda(0) {
        Ok(device) => {
            // candle's f32 GEMMs in full f32 unless told otherwise (no TF32).
            eprintln!(
                "note: gpu test {test} on cuda:0 (TF32 for f32 GEMMs: {})",
                candle_core::cuda::gemm_reduced_precision_f32()
            );
            Some(Target {
                device,
                choice: DeviceChoice::Cuda(0),
            })
        }
        Err(error) => {
            skip(test, &format!("no CUDA device answers ({error})"));
            None
        }
    }
}

/// A path of the repository: `XMRC_LENS_REPO` when set (test binaries built elsewhere and run
/// from a copy of the tree), else the folder this file was compiled in.
fn repo(rel: &str) -> PathBuf {
    match std::env::var_os("XMRC_LENS_REPO").filter(|v| !v.is_empty()) {
        Some(root) => PathBuf::from(root).join(rel),
        None => common::repo_path(rel),
    }
}

fn tiny_dir(family: &str) -> PathBuf {
    repo(&format!("tests/fixtures/models/tiny-{family}"))
}

fn read_json(rel: &str) -> Value {
    let path = repo(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn vec1(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32).unwrap().to_vec1().unwrap()
}

/// `[1, T, V]` (any dtype) as T rows of f32.
fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.squeeze(0)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn last_logits(decoder: &Decoder, ids: &[u32]) -> Vec<f32> {
    let mut cache = decoder.new_cache();
    vec1(&decoder.forward_fast(ids, &mut cache).unwrap())
}

/// `steps` greedy ids after `prompt` on the fast path (no stop rule), with the top-2 gap of
/// every step's logits; also the logits of the prompt's last position.
fn greedy_with_gaps(decoder: &Decoder, prompt: &[u32], steps: usize) -> Greedy {
    let mut cache = decoder.new_cache();
    let first = vec1(&decoder.forward_fast(prompt, &mut cache).unwrap());
    let (mut ids, mut gaps) = (Vec::new(), Vec::new());
    let mut logits = first.clone();
    for _ in 0..steps {
        let (id, gap) = top2(&logits);
        ids.push(id);
        gaps.push(gap);
        logits = vec1(&decoder.forward_fast(&[id], &mut cache).unwrap());
    }
    Greedy {
        first_logits: first,
        ids,
        gaps,
    }
}

struct Greedy {
    first_logits: Vec<f32>,
    ids: Vec<u32>,
    gaps: Vec<f32>,
}

/// Pearson r per level between two relevance matrices over the prompt tokens without the last
/// position (which dominates every level from layer 1 up). Where the reference is zero there
/// (the top level of a step target), the other must be zero too: `None` for such a level.
fn level_pearsons(label: &str, ours: &[Vec<f32>], reference: &[Vec<f32>]) -> Vec<Option<f64>> {
    assert_eq!(ours.len(), reference.len(), "{label}: levels");
    ours.iter()
        .zip(reference)
        .enumerate()
        .map(|(level, (a, b))| {
            assert_eq!(a.len(), b.len(), "{label} level {level}: tokens");
            let t = a.len() - 1;
            let a: Vec<f64> = a[..t].iter().map(|&x| f64::from(x)).collect();
            let b: Vec<f64> = b[..t].iter().map(|&x| f64::from(x)).collect();
            if b.iter().all(|&x| x == 0.0) {
                assert!(
                    a.iter().all(|&x| x.abs() < 1e-5),
                    "{label} level {level}: relevance where the reference has none"
                );
                return None;
            }
            Some(pearson(&a, &b))
        })
        .collect()
}

/// The lowest r of [`level_pearsons`], asserted to be at least `bar` on every level.
fn assert_levels(label: &str, ours: &[Vec<f32>], reference: &[Vec<f32>], bar: f64) -> f64 {
    let mut lowest = 1f64;
    for (level, r) in level_pearsons(label, ours, reference)
        .into_iter()
        .enumerate()
    {
        let Some(r) = r else { continue };
        assert!(r >= bar, "{label} level {level}: Pearson {r} < {bar}");
        lowest = lowest.min(r);
    }
    lowest
}

fn relevance(decoder: &Decoder, ids: &[u32], target: u32, rules: GradientRules) -> Relevance {
    let options = RelevanceOptions {
        rules,
        ..RelevanceOptions::default()
    };
    attribute(decoder, ids, &[target], &options, None)
        .unwrap()
        .relevance
}

// ---------------------------------------------------------------------------------------
// Tiny families against the transformers fixtures (tests/engine_parity.rs on the device).

#[derive(Deserialize)]
struct EngineFixture {
    prompts: Vec<EnginePrompt>,
    batches: Vec<EngineBatch>,
}

#[derive(Deserialize)]
struct EnginePrompt {
    name: String,
    input_ids: Vec<u32>,
    top50: TopK,
    last_logits: Vec<f32>,
    hidden_mean: Vec<Vec<f32>>,
    hidden_last: Vec<Vec<f32>>,
    greedy_ids: Vec<u32>,
}

#[derive(Deserialize)]
struct TopK {
    ids: Vec<Vec<u32>>,
    values: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct EngineBatch {
    padding_side: String,
    input_ids: Vec<Vec<u32>>,
    attention_mask: Vec<Vec<u8>>,
    position_ids: Vec<Vec<u32>>,
    last_logits: Vec<Vec<f32>>,
}

fn engine_fixture(family: &str) -> EngineFixture {
    serde_json::from_value(read_json(&format!("tests/fixtures/engine/{family}.json"))).unwrap()
}

/// The fixture's top-50 logits at each position against ours at the same ids; the worst |Δ|.
fn check_positions(label: &str, logits: &[Vec<f32>], top: &TopK) -> f32 {
    assert_eq!(logits.len(), top.ids.len(), "{label}: positions");
    let mut worst = 0f32;
    for (pos, (row, (ids, values))) in logits
        .iter()
        .zip(top.ids.iter().zip(&top.values))
        .enumerate()
    {
        let ours: Vec<f32> = ids.iter().map(|&i| row[i as usize]).collect();
        let diff = max_abs_diff(&ours, values);
        assert!(
            diff <= LOGIT_TOLERANCE,
            "{label} position {pos}: max |Δlogit| = {diff}"
        );
        worst = worst.max(diff);
    }
    worst
}

fn engine_family(family: &str) {
    let test = format!("{family}_f32_matches_transformers");
    let Some(target) = target(&test) else { return };
    let f = engine_fixture(family);
    let dir = tiny_dir(family);
    let (config, decoder) = load_decoder_on(&dir, DType::F32, &target.device);
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    let (mut worst_logit, mut min_cos) = (0f32, 1f64);
    for p in &f.prompts {
        let label = format!("{family}/{} on {}", p.name, target.name());
        // Differentiable path: every position, the last logits, the hidden states.
        let out = decoder
            .forward_diff(&DiffInput::single(&p.input_ids))
            .unwrap();
        let logits = rows(&out.logits);
        worst_logit = worst_logit.max(check_positions(&label, &logits, &p.top50));
        let diff = max_abs_diff(logits.last().unwrap(), &p.last_logits);
        assert!(
            diff <= LOGIT_TOLERANCE,
            "{label} differentiable: last logits max |Δ| = {diff}"
        );
        worst_logit = worst_logit.max(diff);
        assert_eq!(out.hidden_states.len(), config.num_layers + 1, "{label}");
        for (layer, h) in out.hidden_states.iter().enumerate() {
            let h = h.squeeze(0).unwrap();
            let mean = vec1(&h.mean(0).unwrap());
            let last = vec1(&h.get(p.input_ids.len() - 1).unwrap());
            for (ours, theirs, what) in [
                (mean, &p.hidden_mean[layer], "mean"),
                (last, &p.hidden_last[layer], "last"),
            ] {
                let c = cosine(&ours, theirs);
                assert!(c >= HIDDEN_COSINE, "{label} hidden {layer} {what}: cos {c}");
                min_cos = min_cos.min(c);
            }
        }
        // Greedy on the differentiable path: whole-prompt forwards.
        let mut ids = p.input_ids.clone();
        for _ in 0..p.greedy_ids.len() {
            let out = decoder.forward_diff(&DiffInput::single(&ids)).unwrap();
            ids.push(top2(rows(&out.logits).last().unwrap()).0);
        }
        assert_eq!(
            &ids[p.input_ids.len()..],
            p.greedy_ids.as_slice(),
            "{label} differentiable: greedy ids"
        );
        // Fast path: prefill, token by token through the KV cache, generation.
        let diff = max_abs_diff(&last_logits(&decoder, &p.input_ids), &p.last_logits);
        assert!(
            diff <= LOGIT_TOLERANCE,
            "{label} fast prefill: max |Δ| = {diff}"
        );
        worst_logit = worst_logit.max(diff);
        let mut cache = decoder.new_cache();
        let per_token: Vec<Vec<f32>> = p
            .input_ids
            .iter()
            .map(|&id| vec1(&decoder.forward_fast(&[id], &mut cache).unwrap()))
            .collect();
        worst_logit = worst_logit.max(check_positions(
            &format!("{label} token by token"),
            &per_token,
            &p.top50,
        ));
        let options = GenerateOptions {
            max_new_tokens: p.greedy_ids.len(),
            stop_at_newline: false,
            ..GenerateOptions::default()
        };
        let g = generate(
            &decoder,
            &tokenizer,
            &p.input_ids,
            &options,
            None,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(g.ids, p.greedy_ids, "{label} fast: greedy ids");
    }
    // Padded batches, with the fixture's positions and with ours from the mask.
    for b in &f.batches {
        for explicit in [true, false] {
            let input = DiffInput {
                ids: b.input_ids.clone(),
                attention_mask: Some(b.attention_mask.clone()),
                position_ids: explicit.then(|| b.position_ids.clone()),
                probes: None,
                rules: GradientRules::Gradient,
                logits_last: None,
            };
            let out = decoder.forward_diff(&input).unwrap();
            let logits: Vec<Vec<Vec<f32>>> = out.logits.to_vec3().unwrap();
            for (row, mask) in b.attention_mask.iter().enumerate() {
                let last = mask.iter().rposition(|&m| m != 0).unwrap();
                let diff = max_abs_diff(&logits[row][last], &b.last_logits[row]);
                assert!(
                    diff <= LOGIT_TOLERANCE,
                    "{family} {}-padded batch row {row} (explicit positions: {explicit}) on {}: max |Δ| = {diff}",
                    b.padding_side,
                    target.name()
                );
                worst_logit = worst_logit.max(diff);
            }
        }
    }
    println!(
        "gpu-check: {family} f32 on {} vs transformers: logits max |Δ| {worst_logit:.2e} (bar 1e-4), 1 - min hidden cosine {:.1e}, greedy ids equal",
        target.name(),
        1.0 - min_cos
    );
}

#[test]
fn llama_f32_matches_transformers() {
    engine_family("llama");
}

#[test]
fn qwen2_f32_matches_transformers() {
    engine_family("qwen2");
}

#[test]
fn mistral_f32_matches_transformers() {
    engine_family("mistral");
}

#[test]
fn gemma2_f32_matches_transformers() {
    engine_family("gemma2");
}

/// Every tiny family in f32: the device against the CPU on the engine fixtures' prompts
/// (logits of both paths, AttnLRP and CP-LRP relevance per level).
#[test]
fn tiny_families_f32_equal_the_cpu() {
    let Some(target) = target("tiny_families_f32_equal_the_cpu") else {
        return;
    };
    for family in FAMILIES {
        let dir = tiny_dir(family);
        let (_, cpu) = load_decoder_on(&dir, DType::F32, &Device::Cpu);
        let (_, dev) = load_decoder_on(&dir, DType::F32, &target.device);
        let (mut worst_logit, mut lowest_r) = (0f32, 1f64);
        for p in &engine_fixture(family).prompts {
            let label = format!("{family}/{} {} vs cpu", p.name, target.name());
            let input = DiffInput::single(&p.input_ids);
            let a = rows(&dev.forward_diff(&input).unwrap().logits);
            let b = rows(&cpu.forward_diff(&input).unwrap().logits);
            for (pos, (x, y)) in a.iter().zip(&b).enumerate() {
                let diff = max_abs_diff(x, y);
                assert!(
                    diff <= DEVICE_LOGITS,
                    "{label} differentiable position {pos}: max |Δ| {diff}"
                );
                worst_logit = worst_logit.max(diff);
            }
            let diff = max_abs_diff(
                &last_logits(&dev, &p.input_ids),
                &last_logits(&cpu, &p.input_ids),
            );
            assert!(diff <= DEVICE_LOGITS, "{label} fast: max |Δ| {diff}");
            worst_logit = worst_logit.max(diff);
            let answer = p.greedy_ids[0];
            for rules in [GradientRules::AttnLrp, GradientRules::CpLrp] {
                let ours = relevance(&dev, &p.input_ids, answer, rules);
                let theirs = relevance(&cpu, &p.input_ids, answer, rules);
                let r = assert_levels(
                    &format!("{label} {rules}"),
                    &ours.raw,
                    &theirs.raw,
                    DEVICE_PEARSON,
                );
                lowest_r = lowest_r.min(r);
            }
        }
        println!(
            "gpu-check: {family} f32 {} vs cpu f32: logits max |Δ| {worst_logit:.2e} (bar 1e-4), lowest relevance r {lowest_r:.7} (bar 0.9999)",
            target.name()
        );
    }
}

// ---------------------------------------------------------------------------------------
// AttnLRP and CP-LRP against LXT (tests/attribution_lxt.rs on the device).

fn top5(v: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[j].abs().total_cmp(&v[i].abs()));
    idx.truncate(5);
    idx
}

/// The tiny model with every `*.bias` tensor set to zero, on `device`.
fn zero_bias_decoder(family: &str, device: &Device) -> Decoder {
    let dir = tiny_dir(family);
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let mut tensors = HashMap::new();
    for file in weight_files(&dir) {
        for (name, t) in candle_core::safetensors::load(&file, &Device::Cpu).unwrap() {
            let t = if name.ends_with(".bias") {
                t.zeros_like().unwrap()
            } else {
                t
            };
            tensors.insert(name, t.to_device(device).unwrap());
        }
    }
    Decoder::new(
        &config,
        VarBuilder::from_tensors(tensors, DType::F32, device),
    )
    .unwrap()
}

/// Every case of the family's LXT fixture on the device; returns the cases checked.
fn lxt_family(target: &Target, family: &str) -> usize {
    let fx = read_json(&format!("tests/fixtures/attribution/{family}.json"));
    let (_, decoder) = load_decoder_on(&tiny_dir(family), DType::F32, &target.device);
    let zeroed = (family == "qwen2").then(|| zero_bias_decoder(family, &target.device));
    let (mut checked, mut worst_r, mut worst_c) = (0, 1f64, 0f64);
    for run in fx["runs"].as_array().unwrap() {
        let rules: GradientRules = run["rules"].as_str().unwrap().parse().unwrap();
        let zero_bias = run["zero_bias"].as_bool().unwrap();
        let model = if zero_bias {
            zeroed.as_ref().unwrap()
        } else {
            &decoder
        };
        for case in run["cases"].as_array().unwrap() {
            let ids = json_ids(&case["input_ids"]);
            let answer = json_ids(&case["answer_ids"]);
            let mode: TargetMode = case["target"].as_str().unwrap().parse().unwrap();
            let name = format!(
                "{family} {rules} zero_bias={zero_bias} {} {mode} on {}",
                case["prompt"].as_str().unwrap(),
                target.name()
            );
            let options = RelevanceOptions {
                rules,
                target: mode,
                ..RelevanceOptions::default()
            };
            let ours = attribute(model, &ids, &answer, &options, None)
                .unwrap()
                .relevance;
            let theirs_logit = case["target_logit"].as_f64().unwrap();
            assert!(
                (ours.target_logit - theirs_logit).abs() < 1e-4 * theirs_logit.abs().max(1.0),
                "{name}: target {} vs LXT {theirs_logit}",
                ours.target_logit
            );
            let t = ids.len();
            for (level, (row, theirs)) in ours
                .raw
                .iter()
                .zip(case["relevance"].as_array().unwrap())
                .enumerate()
            {
                let a: Vec<f64> = row[..t - 1].iter().map(|&x| f64::from(x)).collect();
                let b = &json_f64s(theirs)[..t - 1];
                if b.iter().all(|&x| x == 0.0) {
                    assert!(
                        a.iter().all(|&x| x.abs() < 1e-6),
                        "{name} level {level}: {a:?}"
                    );
                    continue;
                }
                let r = pearson(&a, b);
                worst_r = worst_r.min(r);
                assert!(r >= 0.999, "{name} level {level}: Pearson {r}");
                assert_eq!(top5(&a), top5(b), "{name} level {level}: top-5 tokens");
            }
            for (level, (ours_c, theirs_c)) in ours
                .conservation
                .iter()
                .zip(json_f64s(&case["conservation"]))
                .enumerate()
            {
                let gap = (ours_c / theirs_c - 1.0).abs();
                worst_c = worst_c.max(gap);
                assert!(
                    gap < 0.01,
                    "{name} level {level}: conservation {ours_c} vs LXT {theirs_c}"
                );
            }
            checked += 1;
        }
    }
    println!(
        "gpu-check: {family} LXT fixture on {}: {checked} cases, lowest r {worst_r:.6} (bar 0.999), worst conservation gap {worst_c:.2e} (bar 1e-2)",
        target.name()
    );
    checked
}

/// Spread of the conservation ratios around 1 over the levels below the top.
fn deviation(decoder: &Decoder, rules: GradientRules, ids: &[u32], answer: u32) -> f64 {
    let rel = relevance(decoder, ids, answer, rules);
    let last = rel.conservation.len() - 1;
    assert!(
        (rel.conservation[last] - 1.0).abs() < 1e-4,
        "top level must conserve exactly"
    );
    rel.conservation[..last]
        .iter()
        .map(|c| (c - 1.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn relevance_matches_lxt() {
    let Some(target) = target("relevance_matches_lxt") else {
        return;
    };
    assert_eq!(lxt_family(&target, "llama"), 12);
    assert_eq!(lxt_family(&target, "qwen2"), 20);
    assert_eq!(lxt_family(&target, "mistral"), 12);
    // Gemma-2 (no LXT reference): CP-LRP conserves, AttnLRP within LXT's range elsewhere.
    let (_, gemma) = load_decoder_on(&tiny_dir("gemma2"), DType::F32, &target.device);
    let ids: Vec<u32> = (0..30u32).map(|i| 20 + (i * 41) % 1000).collect();
    let cp = deviation(&gemma, GradientRules::CpLrp, &ids, 17);
    let attn = deviation(&gemma, GradientRules::AttnLrp, &ids, 17);
    assert!(cp < 1e-3, "gemma2 CP-LRP conservation deviation {cp}");
    assert!(attn < 0.7, "gemma2 AttnLRP conservation deviation {attn}");
    println!(
        "gpu-check: gemma2 conservation on {}: CP-LRP deviation {cp:.2e} (bar 1e-3), AttnLRP {attn:.3} (bar 0.7)",
        target.name()
    );
}

// ---------------------------------------------------------------------------------------
// The tiny GGUF files (tests/gguf.rs on the device).

fn load_gguf(target: &Target, path: &Path, chat: ChatMode) -> LoadedModel {
    LoadedModel::load(&ModelSpec {
        model: ModelRef::GgufFile(path.to_path_buf()),
        device: target.choice,
        dtype: DTypeChoice::F32,
        chat,
    })
    .unwrap()
}

#[test]
fn gguf_files_match_their_references() {
    let Some(target) = target("gguf_files_match_their_references") else {
        return;
    };
    for family in FAMILIES {
        let gguf = |kind: &str| {
            repo(&format!(
                "tests/fixtures/models/gguf/tiny-{family}.{kind}.gguf"
            ))
        };
        let f = read_json(&format!("tests/fixtures/gguf/{family}.json"));
        let entry = |kind: &str| {
            f["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["file"].as_str().unwrap().contains(&format!(".{kind}.")))
                .unwrap()
                .clone()
        };
        let (_, twin) = load_decoder_on(&tiny_dir(family), DType::F32, &target.device);
        let f32_model = load_gguf(&target, &gguf("f32"), ChatMode::Auto);
        let q8_model = load_gguf(&target, &gguf("q8_0"), ChatMode::Auto);
        let (mut worst_f32, mut worst_q8) = (0f32, 0f32);
        for prompt in entry("f32")["prompts"].as_array().unwrap() {
            let input = json_ids(&prompt["input_ids"]);
            let diff = max_abs_diff(
                &last_logits(&f32_model.decoder, &input),
                &last_logits(&twin, &input),
            );
            worst_f32 = worst_f32.max(diff);
        }
        for prompt in entry("q8_0")["prompts"].as_array().unwrap() {
            let input = json_ids(&prompt["input_ids"]);
            let theirs: Vec<f32> = json_f64s(&prompt["last_logits"])
                .into_iter()
                .map(|x| x as f32)
                .collect();
            let diff = max_abs_diff(&last_logits(&q8_model.decoder, &input), &theirs);
            worst_q8 = worst_q8.max(diff);
        }
        // As tests/gguf.rs: Llama's precomputed RoPE factors round differently (1e-5); the
        // other families load the same numbers as their twin.
        let f32_bar = if family == "llama" { 1e-5 } else { 0.0 };
        assert!(
            worst_f32 <= f32_bar,
            "{family}: F32 GGUF vs safetensors on {} differs by {worst_f32}",
            target.name()
        );
        assert!(
            worst_q8 <= 1e-4,
            "{family}: Q8_0 GGUF on {} vs transformers differs by {worst_q8}",
            target.name()
        );
        println!(
            "gpu-check: {family} GGUF on {}: F32 file vs safetensors twin max |Δlogit| {worst_f32:.2e} (bar {f32_bar:.0e}), Q8_0 vs transformers {worst_q8:.2e} (bar 1e-4)",
            target.name()
        );
    }
    let f = read_json("tests/fixtures/gguf/spm-tokenizer.json");
    let model = load_gguf(
        &target,
        &repo("tests/fixtures/models/gguf/tiny-spm-tokenizer.gguf"),
        ChatMode::Off,
    );
    let check = &f["model_check"];
    let theirs: Vec<f32> = json_f64s(&check["last_logits"])
        .into_iter()
        .map(|x| x as f32)
        .collect();
    let diff = max_abs_diff(
        &last_logits(&model.decoder, &json_ids(&check["input_ids"])),
        &theirs,
    );
    assert!(
        diff <= 1e-4,
        "SPM model logits on {} differ by {diff}",
        target.name()
    );
    println!(
        "gpu-check: SentencePiece GGUF model on {}: logits vs transformers max |Δ| {diff:.2e} (bar 1e-4)",
        target.name()
    );
}

// ---------------------------------------------------------------------------------------
// The real model (tests/real_model.rs on the device; the device against the CPU).

fn real_fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| read_json("tests/fixtures/real/smollm2.json"))
}

fn real_prompts() -> &'static [Value] {
    let prompts = real_fixture()["prompts"].as_array().unwrap();
    assert!(prompts.len() >= 8);
    prompts
}

fn load_real(path: &Path, device: DeviceChoice, dtype: DTypeChoice) -> LoadedModel {
    LoadedModel::load(&ModelSpec {
        model: ModelRef::GgufFile(path.to_path_buf()),
        device,
        dtype,
        chat: ChatMode::Auto,
    })
    .unwrap()
}

/// One fixture prompt computed on the CPU in f32: the reference of the device tests.
struct CpuPrompt {
    name: String,
    ids: Vec<u32>,
    target: u32,
    greedy: Greedy,
    relevance: Relevance,
}

/// The CPU f32 references of every real prompt, computed once per test process.
fn cpu_reference(path: &Path) -> &'static [CpuPrompt] {
    static REFERENCE: OnceLock<Vec<CpuPrompt>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let model = load_real(path, DeviceChoice::Cpu, DTypeChoice::F32);
        real_prompts()
            .iter()
            .map(|p| {
                let ids = json_ids(&p["input_ids"]);
                let target = p["relevance"]["target_id"].as_u64().unwrap() as u32;
                CpuPrompt {
                    name: p["name"].as_str().unwrap().to_string(),
                    greedy: greedy_with_gaps(&model.decoder, &ids, GREEDY_STEPS),
                    relevance: relevance(&model.decoder, &ids, target, GradientRules::AttnLrp),
                    ids,
                    target,
                }
            })
            .collect()
    })
}

#[test]
fn real_model_f32_matches_transformers_and_lxt() {
    let test = "real_model_f32_matches_transformers_and_lxt";
    let Some(target) = target(test) else { return };
    let Some(path) = real_model(test) else { return };
    let model = load_real(&path, target.choice, DTypeChoice::F32);
    let (mut worst_logit, mut worst_cos, mut worst_r) = (0f64, 1f64, 1f64);
    for p in real_prompts() {
        let name = format!("{} on {}", p["name"].as_str().unwrap(), target.name());
        let input = json_ids(&p["input_ids"]);
        // Top-50 logits of the last position within 1e-3.
        let greedy = greedy_with_gaps(&model.decoder, &input, GREEDY_STEPS);
        for pair in p["top_logits"].as_array().unwrap() {
            let id = pair[0].as_u64().unwrap() as usize;
            let theirs = pair[1].as_f64().unwrap();
            let diff = (f64::from(greedy.first_logits[id]) - theirs).abs();
            worst_logit = worst_logit.max(diff);
            assert!(diff <= 1e-3, "{name}: logit of {id} off by {diff}");
        }
        // Hidden states: cosine >= 0.9999 per level (mean over positions, last vector).
        let out = model
            .decoder
            .forward_diff(&DiffInput::single(&input))
            .unwrap();
        for (level, h) in out.hidden_states.iter().enumerate() {
            let h = h.squeeze(0).unwrap();
            let mean = vec1(&h.mean(0).unwrap());
            let last = vec1(&h.get(input.len() - 1).unwrap());
            for (ours, key) in [(mean, "hidden_mean"), (last, "hidden_last")] {
                let theirs: Vec<f32> = json_f64s(&p[key][level])
                    .iter()
                    .map(|&x| x as f32)
                    .collect();
                let c = cosine(&ours, &theirs);
                worst_cos = worst_cos.min(c);
                assert!(c >= 0.9999, "{name} level {level} {key}: cosine {c}");
            }
        }
        // Greedy ids: equal, a divergence allowed only at a reference near-tie (gap < 1e-3).
        let expected = json_ids(&p["greedy"]["ids"]);
        let gaps = json_f64s(&p["greedy"]["top2_gap"]);
        if let Some(step) = expected
            .iter()
            .zip(&greedy.ids)
            .position(|(want, got)| want != got)
        {
            assert!(
                gaps[step] < 1e-3,
                "{name}: step {step} generated {}, transformers {} (top-2 gap {})",
                greedy.ids[step],
                expected[step],
                gaps[step]
            );
            eprintln!(
                "note: {name}: greedy ids part at step {step}, a near-tie (top-2 gap {:.1e})",
                gaps[step]
            );
        }
        // AttnLRP relevance against LXT: r >= 0.999 per level.
        let rel = &p["relevance"];
        let ours = relevance(
            &model.decoder,
            &input,
            rel["target_id"].as_u64().unwrap() as u32,
            GradientRules::AttnLrp,
        );
        let theirs_logit = rel["target_logit"].as_f64().unwrap();
        assert!(
            (ours.target_logit - theirs_logit).abs() < 1e-3,
            "{name}: target logit {} vs {theirs_logit}",
            ours.target_logit
        );
        let theirs: Vec<Vec<f32>> = rel["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| json_f64s(l).into_iter().map(|x| x as f32).collect())
            .collect();
        worst_r = worst_r.min(assert_levels(&name, &ours.raw, &theirs, 0.999));
    }
    println!(
        "gpu-check: real model f32 on {} vs transformers/LXT: top-50 logits max |Δ| {worst_logit:.2e} (bar 1e-3), lowest hidden cosine {worst_cos:.7} (bar 0.9999), lowest relevance r {worst_r:.6} (bar 0.999)",
        target.name()
    );
}

#[test]
fn real_model_f32_equals_the_cpu() {
    let test = "real_model_f32_equals_the_cpu";
    let Some(target) = target(test) else { return };
    let Some(path) = real_model(test) else { return };
    let reference = cpu_reference(&path);
    let model = load_real(&path, target.choice, DTypeChoice::F32);
    let (mut worst_logit, mut worst_r, mut worst_target) = (0f32, 1f64, 0f64);
    for cpu in reference {
        let name = format!("{} f32 {} vs cpu f32", cpu.name, target.name());
        let greedy = greedy_with_gaps(&model.decoder, &cpu.ids, GREEDY_STEPS);
        let diff = max_abs_diff(&greedy.first_logits, &cpu.greedy.first_logits);
        worst_logit = worst_logit.max(diff);
        assert!(
            diff <= DEVICE_LOGITS,
            "{name}: last-position logits max |Δ| {diff} (bar {DEVICE_LOGITS})"
        );
        // Greedy ids equal up to a near-tie of the reference (gap below 1e-3).
        if let Some(step) = cpu
            .greedy
            .ids
            .iter()
            .zip(&greedy.ids)
            .position(|(a, b)| a != b)
        {
            assert!(
                cpu.greedy.gaps[step] < 1e-3,
                "{name}: greedy ids part at step {step} (cpu top-2 gap {})",
                cpu.greedy.gaps[step]
            );
            eprintln!(
                "note: {name}: greedy ids part at step {step}, a near-tie (gap {:.1e})",
                cpu.greedy.gaps[step]
            );
        }
        let ours = relevance(&model.decoder, &cpu.ids, cpu.target, GradientRules::AttnLrp);
        worst_target = worst_target.max((ours.target_logit - cpu.relevance.target_logit).abs());
        worst_r = worst_r.min(assert_levels(
            &name,
            &ours.raw,
            &cpu.relevance.raw,
            DEVICE_PEARSON,
        ));
    }
    println!(
        "gpu-check: real model f32 on {} vs cpu f32: last logits max |Δ| {worst_logit:.2e} (bar 1e-4), target logit max |Δ| {worst_target:.2e}, lowest relevance r {worst_r:.7} (bar 0.9999)",
        target.name()
    );
}

/// Token MRDs of two relevance matrices: share equal, mean and largest |Δ|, and the prompt's
/// MRD (largest over its tokens) on each side.
fn mrd_difference(
    a: &[Vec<f32>],
    b: &[Vec<f32>],
) -> (f64, f64, usize, Option<usize>, Option<usize>) {
    let options = MrdOptions::default();
    let ta = token_mrd(a, &options).unwrap();
    let tb = token_mrd(b, &options).unwrap();
    let diffs: Vec<usize> = ta
        .iter()
        .zip(&tb)
        .filter_map(|(x, y)| Some(x.as_ref()?.abs_diff(*y.as_ref()?)))
        .collect();
    let equal = ta.iter().zip(&tb).filter(|(x, y)| x == y).count() as f64 / ta.len() as f64;
    let mean = diffs.iter().sum::<usize>() as f64 / diffs.len().max(1) as f64;
    let max = diffs.iter().copied().max().unwrap_or(0);
    let prompt = |t: &[Option<usize>]| t.iter().flatten().copied().max();
    (equal, mean, max, prompt(&ta), prompt(&tb))
}

/// Part MRDs of the prompt rebuilt from XQuAD (when the data are here and the rebuilt tokens
/// are the fixture's), as "part a/b" pairs: the device's and the CPU's.
fn part_mrds(
    model: &LoadedModel,
    p: &Value,
    ids: &[u32],
    ours: &[Vec<f32>],
    theirs: &[Vec<f32>],
) -> Option<String> {
    use xmrc_lens::data::loader::LoadOptions;
    use xmrc_lens::data::prompt::{build_prompt, tokenize_prompt, PromptOptions};
    use xmrc_lens::data::source::{load, DataSource};
    static DATA: OnceLock<Option<xmrc_lens::data::Dataset>> = OnceLock::new();
    let data = DATA
        .get_or_init(|| {
            common::xquad_dir()
                .map(|dir| load(&DataSource::Dir(dir), &LoadOptions::default()).unwrap())
        })
        .as_ref()?;
    let opts = PromptOptions {
        setting: Setting {
            scenario: p["scenario"].as_str()?.parse().ok()?,
            lang: p["lang"].as_str()?.parse().ok()?,
            shots: p["shots"].as_u64()? as u8,
            format: p["format"].as_str()?.parse().ok()?,
        },
        ..PromptOptions::default()
    };
    let index = p["sample"].as_u64()? as usize;
    let prompt = build_prompt(data, index, &opts, model.chat_template.as_ref()).ok()?;
    let tokens = tokenize_prompt(&prompt, &model.tokenizer).ok()?;
    if tokens.iter().map(|t| t.id).ne(ids.iter().copied()) {
        return None;
    }
    let labels: Vec<_> = tokens.iter().map(|t| t.part).collect();
    let options = MrdOptions::default();
    let a = part_mrd(ours, &labels, &options).ok()?;
    let b = part_mrd(theirs, &labels, &options).ok()?;
    let show = |m: Option<usize>| m.map_or("-".to_string(), |m| m.to_string());
    Some(
        a.parts
            .iter()
            .zip(&b.parts)
            .filter(|(x, _)| x.tokens > 0)
            .map(|(x, y)| format!("{} {}/{}", x.part, show(x.mrd), show(y.mrd)))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[test]
fn real_model_bf16_against_cpu_f32() {
    let test = "real_model_bf16_against_cpu_f32";
    let Some(target) = target(test) else { return };
    let Some(path) = real_model(test) else { return };
    let reference = cpu_reference(&path);
    let model = load_real(&path, target.choice, DTypeChoice::Bf16);
    assert_eq!(model.dtype, DType::BF16);
    let (mut worst_logit, mut worst_r) = (0f32, 1f64);
    let mut failures = Vec::new();
    for (cpu, p) in reference.iter().zip(real_prompts()) {
        let name = format!("{} bf16 {} vs cpu f32", cpu.name, target.name());
        let greedy = greedy_with_gaps(&model.decoder, &cpu.ids, GREEDY_STEPS);
        let logit_diff = max_abs_diff(&greedy.first_logits, &cpu.greedy.first_logits);
        worst_logit = worst_logit.max(logit_diff);
        // Greedy ids: equal before the first step whose f32 top-2 gap is a near-tie for bf16.
        let tie = cpu
            .greedy
            .gaps
            .iter()
            .position(|&g| g < BF16_NEAR_TIE)
            .unwrap_or(GREEDY_STEPS);
        let parted = cpu
            .greedy
            .ids
            .iter()
            .zip(&greedy.ids)
            .position(|(a, b)| a != b);
        if parted.is_some_and(|step| step < tie) {
            failures.push(format!(
                "{name}: greedy ids part at step {} before the first f32 near-tie (step {tie}); f32 gap there {:.3}",
                parted.unwrap_or(0),
                cpu.greedy.gaps[parted.unwrap_or(0)]
            ));
        }
        // Relevance at the f32 target, per level.
        let ours = relevance(&model.decoder, &cpu.ids, cpu.target, GradientRules::AttnLrp);
        let rs = level_pearsons(&name, &ours.raw, &cpu.relevance.raw);
        let lowest = rs.iter().flatten().copied().fold(1f64, f64::min);
        worst_r = worst_r.min(lowest);
        for (level, r) in rs.iter().enumerate() {
            if let Some(r) = r.filter(|&r| r.is_nan() || r < BF16_PEARSON) {
                failures.push(format!(
                    "{name} level {level}: Pearson {r:.4} < {BF16_PEARSON}"
                ));
            }
        }
        let (equal, mean, max, mrd_a, mrd_b) = mrd_difference(&ours.raw, &cpu.relevance.raw);
        let parts = part_mrds(&model, p, &cpu.ids, &ours.raw, &cpu.relevance.raw)
            .map_or(String::new(), |s| format!("; part MRD bf16/f32: {s}"));
        println!(
            "gpu-check: real model {name}: logits max |Δ| {logit_diff:.3}, top-1 {}, greedy ids equal for {} of {GREEDY_STEPS} steps (first f32 gap < {BF16_NEAR_TIE} at step {tie}), target logit {:.3} vs {:.3}, lowest level r {lowest:.5}; token MRD equal {:.1} %, mean |Δ| {mean:.2}, max |Δ| {max}, prompt MRD {} vs {}{parts}",
            if top2(&greedy.first_logits).0 == top2(&cpu.greedy.first_logits).0 { "equal" } else { "differs" },
            parted.unwrap_or(GREEDY_STEPS),
            ours.target_logit,
            cpu.relevance.target_logit,
            equal * 100.0,
            mrd_a.map_or("-".into(), |m| m.to_string()),
            mrd_b.map_or("-".into(), |m| m.to_string()),
        );
    }
    println!(
        "gpu-check: real model bf16 on {} vs cpu f32: last logits max |Δ| {worst_logit:.3}, lowest relevance r {worst_r:.5} (bar 0.99)",
        target.name()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Our decoder against Hugging Face transformers: fixtures computed by
//! `scripts/make_engine_fixtures.py` (f32, eager attention) on the committed tiny models of
//! `scripts/make_tiny_models.py`. For every family and both paths: logits within 1e-4,
//! hidden states with cosine >= 0.99999 per layer, identical greedy ids; batches with left
//! and right padding equal their rows; the tokenizer gives transformers' ids.

mod common;

use common::{cosine, load_decoder, max_abs_diff, repo_path, tiny_model_dir, FAMILIES};
use serde::Deserialize;
use xmrc_lens::hf::tokenizer::Tokenizer;
use xmrc_lens::model::decoder::{Decoder, DiffInput};
use xmrc_lens::model::generate::{generate, rank, GenerateOptions};

const LOGIT_TOLERANCE: f32 = 1e-4;
const HIDDEN_COSINE: f64 = 0.99999;

#[derive(Deserialize)]
struct Fixture {
    family: String,
    num_hidden_layers: usize,
    vocab_size: usize,
    prompts: Vec<PromptFixture>,
    batches: Vec<BatchFixture>,
}

#[derive(Deserialize)]
struct PromptFixture {
    name: String,
    text: String,
    add_special_tokens: bool,
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
struct BatchFixture {
    padding_side: String,
    input_ids: Vec<Vec<u32>>,
    attention_mask: Vec<Vec<u8>>,
    position_ids: Vec<Vec<u32>>,
    last_logits: Vec<Vec<f32>>,
}

fn fixture(family: &str) -> Fixture {
    let path = repo_path(&format!("tests/fixtures/engine/{family}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f: Fixture = serde_json::from_str(&text).unwrap();
    assert_eq!(f.family, family);
    f
}

/// The fixture's top-50 logits at each position against ours at the same ids.
fn check_positions(label: &str, logits: &[Vec<f32>], top: &TopK) {
    assert_eq!(logits.len(), top.ids.len(), "{label}: positions");
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
    }
}

fn rows(t: &candle_core::Tensor) -> Vec<Vec<f32>> {
    t.squeeze(0).unwrap().to_vec2().unwrap()
}

/// Worst agreement seen, printed per family (`cargo test --test engine_parity -- --nocapture`).
#[derive(Default)]
struct Worst {
    diff_logit: f32,
    fast_logit: f32,
    min_cosine: f64,
}

fn diff_path(family: &str, decoder: &Decoder, p: &PromptFixture, layers: usize, worst: &mut Worst) {
    let label = format!("{family}/{} differentiable", p.name);
    let out = decoder
        .forward_diff(&DiffInput::single(&p.input_ids))
        .unwrap();
    let logits = rows(&out.logits);
    check_positions(&label, &logits, &p.top50);
    let diff = max_abs_diff(logits.last().unwrap(), &p.last_logits);
    assert!(
        diff <= LOGIT_TOLERANCE,
        "{label}: last logits max |Δ| = {diff}"
    );
    worst.diff_logit = worst.diff_logit.max(diff);

    assert_eq!(
        out.hidden_states.len(),
        layers + 1,
        "{label}: L+1 hidden states"
    );
    for (layer, h) in out.hidden_states.iter().enumerate() {
        let h = h.squeeze(0).unwrap();
        let mean: Vec<f32> = h.mean(0).unwrap().to_vec1().unwrap();
        let last: Vec<f32> = h.get(p.input_ids.len() - 1).unwrap().to_vec1().unwrap();
        let c_mean = cosine(&mean, &p.hidden_mean[layer]);
        let c_last = cosine(&last, &p.hidden_last[layer]);
        assert!(
            c_mean >= HIDDEN_COSINE,
            "{label} hidden {layer} mean: cos {c_mean}"
        );
        assert!(
            c_last >= HIDDEN_COSINE,
            "{label} hidden {layer} last: cos {c_last}"
        );
        worst.min_cosine = worst.min_cosine.min(c_mean).min(c_last);
    }

    // Greedy on the differentiable path: whole-prompt forwards, argmax of the last position.
    let mut ids = p.input_ids.clone();
    for _ in 0..p.greedy_ids.len() {
        let out = decoder.forward_diff(&DiffInput::single(&ids)).unwrap();
        let last = rows(&out.logits).pop().unwrap();
        ids.push(rank(&last, 1)[0].0);
    }
    assert_eq!(
        &ids[p.input_ids.len()..],
        p.greedy_ids.as_slice(),
        "{label}: greedy ids"
    );
}

fn fast_path(
    family: &str,
    decoder: &Decoder,
    tokenizer: &Tokenizer,
    p: &PromptFixture,
    worst: &mut Worst,
) {
    let label = format!("{family}/{} fast", p.name);
    // Whole prompt at once (prefill) ...
    let mut cache = decoder.new_cache();
    let last: Vec<f32> = decoder
        .forward_fast(&p.input_ids, &mut cache)
        .unwrap()
        .to_vec1()
        .unwrap();
    let diff = max_abs_diff(&last, &p.last_logits);
    assert!(diff <= LOGIT_TOLERANCE, "{label} prefill: max |Δ| = {diff}");
    worst.fast_logit = worst.fast_logit.max(diff);
    // ... and one token at a time through the KV cache (windows applied in decode steps).
    let mut cache = decoder.new_cache();
    let per_token: Vec<Vec<f32>> = p
        .input_ids
        .iter()
        .map(|&id| {
            decoder
                .forward_fast(&[id], &mut cache)
                .unwrap()
                .to_vec1()
                .unwrap()
        })
        .collect();
    check_positions(&format!("{label} token by token"), &per_token, &p.top50);

    let options = GenerateOptions {
        max_new_tokens: p.greedy_ids.len(),
        stop_at_newline: false,
        ..GenerateOptions::default()
    };
    let g = generate(
        decoder,
        tokenizer,
        &p.input_ids,
        &options,
        None,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(g.ids, p.greedy_ids, "{label}: greedy ids");
}

fn batches(family: &str, decoder: &Decoder, f: &Fixture) {
    assert!(f.batches.iter().any(|b| b.padding_side == "left"));
    assert!(f.batches.iter().any(|b| b.padding_side == "right"));
    for b in &f.batches {
        let label = format!("{family} {}-padded batch", b.padding_side);
        // With the fixture's position ids, and with ours derived from the mask.
        for explicit in [true, false] {
            let input = DiffInput {
                ids: b.input_ids.clone(),
                attention_mask: Some(b.attention_mask.clone()),
                position_ids: explicit.then(|| b.position_ids.clone()),
                probes: None,
                rules: xmrc_lens::model::decoder::GradientRules::Gradient,
                logits_last: None,
            };
            let out = decoder.forward_diff(&input).unwrap();
            let logits: Vec<Vec<Vec<f32>>> = out.logits.to_vec3().unwrap();
            for (row, mask) in b.attention_mask.iter().enumerate() {
                let last = mask.iter().rposition(|&m| m != 0).unwrap();
                let diff = max_abs_diff(&logits[row][last], &b.last_logits[row]);
                assert!(
                    diff <= LOGIT_TOLERANCE,
                    "{label} row {row} (explicit positions: {explicit}): max |Δ| = {diff}"
                );
            }
        }
    }
}

fn check_family(family: &str) {
    let f = fixture(family);
    let dir = tiny_model_dir(family);
    let (config, decoder) = load_decoder(&dir);
    assert_eq!(config.num_layers, f.num_hidden_layers);
    assert_eq!(config.vocab_size, f.vocab_size);
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    assert!(f.prompts.len() >= 3);
    let mut worst = Worst {
        min_cosine: 1.0,
        ..Worst::default()
    };
    for p in &f.prompts {
        let ids = tokenizer.encode(&p.text, p.add_special_tokens).unwrap().ids;
        assert_eq!(
            ids, p.input_ids,
            "{family}/{}: tokenizer ids differ from transformers'",
            p.name
        );
        let distinct: std::collections::BTreeSet<_> = p.greedy_ids.iter().collect();
        assert!(
            distinct.len() > 2,
            "{family}/{}: greedy output is near-constant",
            p.name
        );
        diff_path(family, &decoder, p, f.num_hidden_layers, &mut worst);
        fast_path(family, &decoder, &tokenizer, p, &mut worst);
    }
    batches(family, &decoder, &f);
    println!(
        "{family}: last-logit max |Δ| differentiable {:.2e}, fast {:.2e}; 1 - min hidden cosine {:.1e}",
        worst.diff_logit, worst.fast_logit, 1.0 - worst.min_cosine
    );
}

#[test]
fn llama_matches_transformers() {
    check_family("llama");
}

#[test]
fn qwen2_matches_transformers() {
    check_family("qwen2");
}

#[test]
fn mistral_matches_transformers() {
    check_family("mistral");
}

#[test]
fn gemma2_matches_transformers() {
    check_family("gemma2");
}

#[test]
fn sharded_weights_load_as_the_single_file() {
    let (_, single) = load_decoder(&tiny_model_dir("llama"));
    let (_, sharded) = load_decoder(&tiny_model_dir("llama-sharded"));
    let ids: Vec<u32> = (5..40).collect();
    let a = single
        .forward_diff(&DiffInput::single(&ids))
        .unwrap()
        .logits;
    let b = sharded
        .forward_diff(&DiffInput::single(&ids))
        .unwrap()
        .logits;
    assert_eq!(common::max_abs_tensor_diff(&a, &b), 0.0);
}

#[test]
fn every_family_has_a_fixture() {
    for family in FAMILIES {
        assert!(
            repo_path(&format!("tests/fixtures/engine/{family}.json")).is_file(),
            "{family}"
        );
    }
}

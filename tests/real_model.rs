#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real instruct model (SmolLM2-135M-Instruct, Q4_1 GGUF, fetched by
//! scripts/fetch_real_model.sh; `XMRC_LENS_REAL_MODEL`) against transformers 5.23 reading the
//! same file (`from_pretrained(dir, gguf_file=...)`) and LXT 2.1 on it
//! (tests/fixtures/real/smollm2.json, scripts/make_real_model_fixtures.py), on 8 prompts the
//! project builds (en-en, en-x de/zh/ar/hi, x-x de/zh; 0- and 2-shot; v1 and v2), chat-templated:
//!
//! - the chat-templated text is identical, and so are its tokens, except where transformers'
//!   GGUF tokenizer ignores the file's `smollm` pre-tokenizer (a run of spaces before a digit):
//!   there the ids follow SmolLM2's own tokenizer and llama.cpp
//!   (tests/fixtures/real/smollm2-tokens.json, scripts/make_real_model_tokenizer_fixture.py);
//! - the last position's top-50 logits within 1e-3 (f32);
//! - every level's hidden states (mean over positions and last vector): cosine >= 0.9999;
//! - 32 greedy ids without a stop rule identical, a divergence allowed only at a step whose
//!   reference top-2 gap is below 1e-3 (the test says so when it happens);
//! - AttnLRP relevance at the step target: Pearson r >= 0.999 per level over the prompt
//!   tokens without the last position.
//!
//! Each test prints a note and passes when the model is not there (CI always fetches it).

mod common;

use common::{cosine, pearson, real_model, repo_path, xquad_dir};
use serde_json::Value;
use std::path::Path;
use xmrc_lens::attribution::relevance::{attribute, RelevanceOptions};
use xmrc_lens::data::loader::LoadOptions;
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::data::prompt::{build_prompt, tokenize_prompt, PromptOptions};
use xmrc_lens::data::source::{load, DataSource};
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::decoder::DiffInput;
use xmrc_lens::model::device::{DTypeChoice, DeviceChoice};
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;

fn fixture() -> Value {
    let path = repo_path("tests/fixtures/real/smollm2.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

use common::{json_f64s as floats, json_ids as ids};

fn load_model(path: &Path) -> LoadedModel {
    LoadedModel::load(&ModelSpec {
        model: ModelRef::GgufFile(path.to_path_buf()),
        device: DeviceChoice::Cpu,
        dtype: DTypeChoice::F32,
        chat: ChatMode::Auto,
    })
    .unwrap()
}

fn token_case<'a>(tokens: &'a Value, name: &str) -> &'a Value {
    tokens["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn prompts(f: &Value) -> &Vec<Value> {
    let prompts = f["prompts"].as_array().unwrap();
    assert!(prompts.len() >= 8);
    prompts
}

#[test]
fn chat_template_and_tokens_match_transformers() {
    let Some(path) = real_model("chat_template_and_tokens_match_transformers") else {
        return;
    };
    let f = fixture();
    let model = load_model(&path);
    assert!(model.is_chat(), "the instruct model has a chat template");
    let template = model.chat_template.as_ref().unwrap();
    assert_eq!(template.source(), f["chat_template"].as_str().unwrap());
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/fixtures/real/smollm2-tokens.json")).unwrap(),
    )
    .unwrap();
    // The probes: digits after spaces, years, numbers with separators.
    for case in tokens["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ours = model.tokenizer.encode(text, false).unwrap().ids;
        assert_eq!(ours, ids(&case["smollm_ids"]), "{text:?}");
    }
    let data = xquad_dir().map(|dir| load(&DataSource::Dir(dir), &LoadOptions::default()).unwrap());
    for p in prompts(&f) {
        let name = p["name"].as_str().unwrap();
        let turn = template
            .render_user_turn(p["user_content"].as_str().unwrap(), None)
            .unwrap();
        assert_eq!(turn.text, p["chat_text"].as_str().unwrap(), "{name}");
        let encoded = model.tokenizer.encode(&turn.text, false).unwrap();
        // Where transformers' GGUF tokenizer ignores the smollm pre-tokenizer (spaces before
        // a digit), the model's own rule is the truth (tests/fixtures/real/smollm2-tokens.json).
        let case = token_case(&tokens, name);
        let expected = ids(&case["smollm_ids"]);
        assert_eq!(encoded.ids, expected, "{name}: token ids");
        if case["agree"].as_bool().unwrap() {
            assert_eq!(
                encoded.ids,
                ids(&p["input_ids"]),
                "{name}: token ids (transformers)"
            );
        } else {
            eprintln!("note: {name}: transformers' GGUF tokenizer splits spaces before digits differently (its pre-tokenizer ignores `smollm`); xmrc-lens follows SmolLM2 and llama.cpp");
        }
        // The same prompt built by the project from XQuAD, when the data are here.
        let Some(data) = &data else { continue };
        let opts = PromptOptions {
            setting: Setting {
                scenario: p["scenario"].as_str().unwrap().parse().unwrap(),
                lang: p["lang"].as_str().unwrap().parse().unwrap(),
                shots: p["shots"].as_u64().unwrap() as u8,
                format: p["format"].as_str().unwrap().parse().unwrap(),
            },
            ..PromptOptions::default()
        };
        let index = p["sample"].as_u64().unwrap() as usize;
        let prompt = build_prompt(data, index, &opts, Some(template)).unwrap();
        assert_eq!(
            prompt.text,
            p["chat_text"].as_str().unwrap(),
            "{name}: built prompt"
        );
        let built_tokens = tokenize_prompt(&prompt, &model.tokenizer).unwrap();
        let built: Vec<u32> = built_tokens.iter().map(|t| t.id).collect();
        assert_eq!(built, expected, "{name}: built prompt tokens");
    }
    if data.is_none() {
        eprintln!("note: no XQuAD folder; the prompts were not rebuilt from the data");
    }
}

#[test]
fn logits_and_hidden_states_match_transformers() {
    let Some(path) = real_model("logits_and_hidden_states_match_transformers") else {
        return;
    };
    let f = fixture();
    let model = load_model(&path);
    let (mut worst_logit, mut worst_cos) = (0f64, 1f64);
    for p in prompts(&f) {
        let name = p["name"].as_str().unwrap();
        let input = ids(&p["input_ids"]);
        let mut cache = model.decoder.new_cache();
        let last: Vec<f32> = model
            .decoder
            .forward_fast(&input, &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        for pair in p["top_logits"].as_array().unwrap() {
            let id = pair[0].as_u64().unwrap() as usize;
            let theirs = pair[1].as_f64().unwrap();
            let diff = (f64::from(last[id]) - theirs).abs();
            worst_logit = worst_logit.max(diff);
            assert!(
                diff <= 1e-3,
                "{name}: logit of {id}: {} vs {theirs}",
                last[id]
            );
        }
        let out = model
            .decoder
            .forward_diff(&DiffInput::single(&input))
            .unwrap();
        let levels = out.hidden_states.len();
        assert_eq!(levels, p["hidden_mean"].as_array().unwrap().len(), "{name}");
        for (level, h) in out.hidden_states.iter().enumerate() {
            let h = h.squeeze(0).unwrap();
            let mean: Vec<f32> = h.mean(0).unwrap().to_vec1().unwrap();
            let last: Vec<f32> = h.get(input.len() - 1).unwrap().to_vec1().unwrap();
            for (ours, key) in [(mean, "hidden_mean"), (last, "hidden_last")] {
                let theirs: Vec<f32> = floats(&p[key][level]).iter().map(|&x| x as f32).collect();
                let c = cosine(&ours, &theirs);
                worst_cos = worst_cos.min(c);
                assert!(c >= 0.9999, "{name} level {level} {key}: cosine {c}");
            }
        }
    }
    eprintln!(
        "real model: top-50 logits max |Δ| {worst_logit:.2e}, lowest hidden-state cosine {worst_cos:.7}"
    );
}

#[test]
fn greedy_ids_match_transformers() {
    let Some(path) = real_model("greedy_ids_match_transformers") else {
        return;
    };
    let f = fixture();
    let model = load_model(&path);
    for p in prompts(&f) {
        let name = p["name"].as_str().unwrap();
        let expected = ids(&p["greedy"]["ids"]);
        let gaps = floats(&p["greedy"]["top2_gap"]);
        let mut cache = model.decoder.new_cache();
        let mut logits: Vec<f32> = model
            .decoder
            .forward_fast(&ids(&p["input_ids"]), &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        for (step, &want) in expected.iter().enumerate() {
            let got = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
                .unwrap();
            if got != want {
                assert!(
                    gaps[step] < 1e-3,
                    "{name}: step {step} generated {got}, transformers {want} (top-2 gap {})",
                    gaps[step]
                );
                eprintln!(
                    "note: {name}: greedy ids part at step {step}, a near-tie (top-2 gap {:.1e})",
                    gaps[step]
                );
                break;
            }
            logits = model
                .decoder
                .forward_fast(&[want], &mut cache)
                .unwrap()
                .to_vec1()
                .unwrap();
        }
    }
}

#[test]
fn relevance_matches_lxt() {
    let Some(path) = real_model("relevance_matches_lxt") else {
        return;
    };
    let f = fixture();
    let model = load_model(&path);
    let mut worst = 1f64;
    for p in prompts(&f) {
        let name = p["name"].as_str().unwrap();
        let input = ids(&p["input_ids"]);
        let rel = &p["relevance"];
        let target = rel["target_id"].as_u64().unwrap() as u32;
        let ours = attribute(
            &model.decoder,
            &input,
            &[target],
            &RelevanceOptions::default(),
            None,
        )
        .unwrap()
        .relevance;
        let theirs_logit = rel["target_logit"].as_f64().unwrap();
        assert!(
            (ours.target_logit - theirs_logit).abs() < 1e-3,
            "{name}: target logit {} vs {theirs_logit}",
            ours.target_logit
        );
        let t = input.len();
        for (level, (row, theirs)) in ours
            .raw
            .iter()
            .zip(rel["levels"].as_array().unwrap())
            .enumerate()
        {
            let a: Vec<f64> = row[..t - 1].iter().map(|&x| x as f64).collect();
            let b = &floats(theirs)[..t - 1];
            if b.iter().all(|&x| x == 0.0) {
                assert!(a.iter().all(|&x| x.abs() < 1e-5), "{name} level {level}");
                continue;
            }
            let r = pearson(&a, b);
            worst = worst.min(r);
            assert!(r >= 0.999, "{name} level {level}: Pearson {r}");
        }
    }
    eprintln!("real model: lowest relevance Pearson r over levels and prompts {worst:.6}");
}

/// METHOD's step target on the real instruct model: the first token of the answer span,
/// never the `Answer` marker or a lead-in. Over the 36 generations of the eval fixture (the
/// model's own greedy answers) and constructed replies with a marker and a lead-in line.
#[test]
fn step_target_is_a_token_of_the_extracted_answer() {
    use xmrc_lens::attribution::target::{answer_target, TargetBasis, TargetChoice};
    use xmrc_lens::eval::extract::extract_answer;
    let Some(path) = real_model("step_target_is_a_token_of_the_extracted_answer") else {
        return;
    };
    let model = load_model(&path);
    let tok = &model.tokenizer;
    let eval: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/fixtures/real/smollm2-eval.json")).unwrap(),
    )
    .unwrap();
    let mut generations: Vec<Vec<u32>> = Vec::new();
    for s in eval["samples"].as_array().unwrap() {
        for u in s["units"].as_array().unwrap() {
            generations.push(ids(&u["generated_ids"]));
        }
    }
    for reply in [
        "Answer: Denver Broncos\n",
        "Answer:\nDenver Broncos",
        "The answer to this question is:\n**Santa Clara**",
        "Answer: Answer: 1876",
        // A character split over two tokens: the span starts at its first byte.
        "Answer: ¿Qué pasa?",
    ] {
        generations.push(tok.encode(reply, false).unwrap().ids);
    }
    let mut with_prefix = 0;
    for ids in &generations {
        let text = tok.decode(ids).unwrap();
        let answer = extract_answer(&text);
        let target = answer_target(tok, ids, &text, TargetChoice::AnswerSpan, 100).unwrap();
        if answer.is_empty() {
            assert_eq!(target.basis, TargetBasis::NoAnswerSpan, "{text:?}");
            continue;
        }
        assert_eq!(target.basis, TargetBasis::AnswerSpan, "{text:?}");
        let first = tok.decode(&target.span_ids[..1]).unwrap();
        // A first token that holds only some bytes of a character decodes to U+FFFD.
        let whole = first.replace('\u{FFFD}', "");
        assert!(
            !first.trim().is_empty() && answer.contains(whole.trim()),
            "{text:?}: step target {first:?} is not in the answer {answer:?}"
        );
        assert!(!first.contains("Answer"), "{text:?}: explains the marker");
        let span = tok.decode(&target.span_ids).unwrap();
        assert!(
            span.contains(&answer),
            "{text:?}: span {span:?} vs {answer:?}"
        );
        let prefix = tok.decode(&target.prefix_ids()).unwrap();
        assert!(
            !prefix.contains('\u{FFFD}'),
            "{text:?}: the prefix {prefix:?} holds part of the answer's first character"
        );
        with_prefix += usize::from(!target.prefix.is_empty());
        // The old target, asked for, is the first generated token.
        let old = answer_target(tok, ids, &text, TargetChoice::FirstGenerated, 100).unwrap();
        assert_eq!(old.step_id(), Some(ids[0]));
        assert_eq!(&old.span_ids, ids);
        assert_eq!(old.basis, TargetBasis::FirstGenerated);
    }
    eprintln!(
        "real model: {} generations, {with_prefix} with an answer prefix teacher-forced",
        generations.len()
    );
    assert!(with_prefix >= 4);
}

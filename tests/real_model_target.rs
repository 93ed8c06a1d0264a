#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The answer-span target on the real instruct model (SmolLM2-135M-Instruct, Q4_1 GGUF,
//! `XMRC_LENS_REAL_MODEL`) against transformers 5.23 reading the same file and LXT 2.1 on it
//! (tests/fixtures/real/smollm2-target.json, scripts/make_real_model_target_fixture.py), on 6
//! chat-templated 0-shot units: 4 where the model writes an answer prefix before the answer
//! (the `Answer:` marker, or a lead-in line), 2 where it writes none. For each unit,
//! `xmrc-lens trace --device cpu --dtype f32` gives:
//!
//! - the same prompt ids, answer prefix and answer span as when the fixture was written;
//! - AttnLRP relevance at the step target (the first span token, the prefix teacher-forced),
//!   over prompt + prefix columns: Pearson r >= 0.999 per level over all columns but the last,
//!   the target logit within 1e-3;
//! - the sentence oracle (remove ablation): the same sentences and removed-token counts,
//!   `base_step`, `base_sequence` and every sentence's step and sequence drop within 1e-3.
//!
//! Needs the real model and the real XQuAD (`XMRC_LENS_DATA` or ../shared/xquad); prints a
//! note and passes without them.

mod common;

use common::{
    bin, json_f64s as floats, json_ids as ids, pearson, real_model, repo_path, xquad_dir,
};
use serde_json::Value;
use std::path::Path;

const TOL: f64 = 1e-3;

fn fixture() -> Value {
    let path = repo_path("tests/fixtures/real/smollm2-target.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `xmrc-lens trace` of one fixture unit, as its JSON.
fn trace(model: &Path, data: &Path, unit: &Value, out: &Path) -> Value {
    let text = |k: &str| unit[k].as_str().unwrap().to_string();
    let num = |k: &str| unit[k].as_u64().unwrap().to_string();
    bin()
        .arg("trace")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(data)
        .args(["--sample", &num("sample"), "--scenario", &text("scenario")])
        .args(["--lang", &text("lang"), "--shots", &num("shots")])
        .args(["--format", &text("format")])
        .args(["--device", "cpu", "--dtype", "f32", "--no-similarity"])
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn close(name: &str, what: &str, ours: f64, theirs: f64, worst: &mut f64) {
    let diff = (ours - theirs).abs();
    *worst = worst.max(diff);
    assert!(
        diff <= TOL,
        "{name}: {what}: xmrc-lens {ours} vs transformers {theirs}"
    );
}

#[test]
fn answer_span_relevance_and_oracle_match_transformers() {
    let Some(model) = real_model("answer_span_relevance_and_oracle_match_transformers") else {
        return;
    };
    let Some(data) = xquad_dir() else {
        eprintln!(
            "note: answer_span_relevance_and_oracle_match_transformers skipped: no XQuAD folder"
        );
        return;
    };
    let f = fixture();
    let units = f["units"].as_array().unwrap();
    let with_prefix = units
        .iter()
        .filter(|u| !u["prefix_ids"].as_array().unwrap().is_empty())
        .count();
    assert!(with_prefix >= 4 && units.len() - with_prefix >= 2);
    let dir = tempfile::tempdir().unwrap();
    let (mut worst_r, mut worst_logit, mut worst_drop, mut worst_base) = (1f64, 0f64, 0f64, 0f64);
    for unit in units {
        let name = unit["name"].as_str().unwrap();
        let t = trace(
            &model,
            &data,
            unit,
            &dir.path().join(format!("{name}.json")),
        );

        // The same prompt, generation and target.
        let prompt: Vec<u32> = t["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tok| tok["id"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(prompt, ids(&unit["input_ids"]), "{name}: prompt ids");
        let target = &t["target"];
        assert_eq!(target["basis"], "answer-span", "{name}");
        let prefix: Vec<u32> = target["prefix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tok| tok["id"].as_u64().unwrap() as u32)
            .collect();
        assert_eq!(prefix, ids(&unit["prefix_ids"]), "{name}: answer prefix");
        assert_eq!(
            ids(&target["span_ids"]),
            ids(&unit["span_ids"]),
            "{name}: answer span"
        );

        // Relevance: levels x (prompt + prefix), step target = first span token.
        let rel = &t["relevance"];
        assert_eq!(rel["target"], "step", "{name}");
        assert_eq!(
            ids(&rel["target_tokens"]),
            ids(&unit["span_ids"])[..1],
            "{name}: relevance target"
        );
        let theirs = &unit["relevance"];
        close(
            name,
            "target logit",
            rel["target_logit"].as_f64().unwrap(),
            theirs["target_logit"].as_f64().unwrap(),
            &mut worst_logit,
        );
        let cols = prompt.len() + prefix.len();
        let levels = theirs["levels"].as_array().unwrap();
        let raw = rel["raw"].as_array().unwrap();
        assert_eq!(raw.len(), levels.len(), "{name}: levels");
        for (level, (row, want)) in raw.iter().zip(levels).enumerate() {
            let (a, b) = (floats(row), floats(want));
            assert_eq!((a.len(), b.len()), (cols, cols), "{name} level {level}");
            let (a, b) = (&a[..cols - 1], &b[..cols - 1]);
            if b.iter().all(|&x| x == 0.0) {
                assert!(a.iter().all(|&x| x.abs() < 1e-5), "{name} level {level}");
                continue;
            }
            let r = pearson(a, b);
            worst_r = worst_r.min(r);
            assert!(r >= 0.999, "{name} level {level}: Pearson {r}");
        }

        // The oracle: the same sentences and ablations, the same log-probability drops.
        let oracle = &t["oracle"];
        let want = &unit["oracle"];
        for key in ["base_step", "base_sequence"] {
            close(
                name,
                key,
                oracle[key].as_f64().unwrap(),
                want[key].as_f64().unwrap(),
                &mut worst_base,
            );
        }
        let ours = oracle["sentences"].as_array().unwrap();
        let sentences = want["sentences"].as_array().unwrap();
        assert_eq!(ours.len(), sentences.len(), "{name}: sentences");
        for (s, w) in ours.iter().zip(sentences) {
            let i = w["index"].as_u64().unwrap();
            assert_eq!(s["index"].as_u64().unwrap(), i, "{name}");
            let range = &s["prompt_range"];
            assert_eq!(
                [&range["start"], &range["end"]],
                [&w["prompt_range"][0], &w["prompt_range"][1]],
                "{name} sentence {i}: prompt range"
            );
            assert_eq!(
                s["tokens"].as_u64().unwrap() as usize,
                w["removed"].as_array().unwrap().len(),
                "{name} sentence {i}: tokens removed"
            );
            for key in ["step_drop", "sequence_drop"] {
                close(
                    name,
                    &format!("sentence {i} {key}"),
                    s[key].as_f64().unwrap(),
                    w[key].as_f64().unwrap(),
                    &mut worst_drop,
                );
            }
        }
        eprintln!(
            "{name}: prefix {} tokens, span {} tokens, {} sentences: agree",
            prefix.len(),
            unit["span_ids"].as_array().unwrap().len(),
            ours.len()
        );
    }
    eprintln!(
        "real model target ({} units, {with_prefix} with an answer prefix): lowest relevance \
         Pearson r {worst_r:.9} (1 - r = {:.1e}), target logit max |Δ| {worst_logit:.2e}, \
         oracle base max |Δ| {worst_base:.2e}, drop max |Δ| {worst_drop:.2e}",
        units.len(),
        1.0 - worst_r
    );
}

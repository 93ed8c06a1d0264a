#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real binary loads each tiny model folder and answers a sample, end to end.

mod common;

use common::{bin, repo_path, tiny_model_dir, FAMILIES};
use predicates::prelude::*;
use serde_json::Value;

#[test]
fn generate_answers_a_sample_with_every_family() {
    for family in FAMILIES {
        let out = bin()
            .args([
                "generate",
                "--json",
                "--max-new-tokens",
                "5",
                "--lang",
                "zh",
                "--model",
            ])
            .arg(tiny_model_dir(family))
            .arg("--data")
            .arg(repo_path("tests/fixtures/xquad-mini"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["family"], family);
        assert_eq!(v["chat"], true);
        assert_eq!(v["dtype"], "f32");
        assert!(v["prompt_tokens"].as_u64().unwrap() > 100);
        let g = &v["generation"];
        let n = g["ids"].as_array().unwrap().len();
        assert!(
            n <= 5 && g["steps"].as_array().unwrap().len() == n,
            "{family}: {g}"
        );
        assert!(g["timings"]["prefill_tokens_per_s"].as_f64().unwrap() > 0.0);
        assert_eq!(
            v["scores"].as_array().unwrap().len(),
            2,
            "squad and mlqa scores"
        );
        assert!(!v["gold"].as_array().unwrap().is_empty());
    }
}

#[test]
fn generate_free_text_raw_with_steps() {
    bin()
        .args([
            "generate",
            "--no-chat",
            "--steps",
            "--max-new-tokens",
            "3",
            "--text",
            "Die Hauptstadt ist",
        ])
        .arg("--model")
        .arg(tiny_model_dir("mistral"))
        .assert()
        .success()
        .stdout(predicate::str::contains("raw text"))
        .stdout(predicate::str::contains("generated:"))
        .stdout(predicate::str::contains("   2 "));
}

#[test]
fn generate_explains_bad_model_options() {
    bin()
        .args(["generate", "--text", "x", "--model"])
        .arg(repo_path("tests/fixtures/xquad-mini"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("config.json"));
    bin()
        .args(["generate", "--text", "x", "--device", "tpu", "--model"])
        .arg(tiny_model_dir("llama"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("cpu"));
    // The tiny models ship no chat-less variant: --chat on a folder without a template fails
    // with advice, shown here on a copy whose tokenizer_config lacks the template.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(tiny_model_dir("qwen2")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let cfg_path = dir.path().join("tokenizer_config.json");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("chat_template");
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    bin()
        .args(["generate", "--chat", "--text", "x", "--model"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--no-chat"));
}

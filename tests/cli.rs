//! End-to-end runs of the real `xmrc-lens` binary on the committed fixtures (and on the real
//! XQuAD data when `XMRC_LENS_DATA` points at it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn mini() -> PathBuf {
    fixtures().join("xquad-mini")
}

/// The binary with a clean environment: no data folder from the caller, offline hub.
fn bin() -> Command {
    let mut cmd = Command::cargo_bin("xmrc-lens").unwrap();
    cmd.env_remove("XMRC_LENS_DATA")
        .env("HF_HUB_OFFLINE", "1")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn samples_lists_german_questions() {
    bin()
        .args(["samples", "--lang", "de", "--limit", "3", "--data"])
        .arg(mini())
        .assert()
        .success()
        .stdout(predicate::str::contains("velmora-founded"))
        .stdout(predicate::str::contains("Wann wurde Velmora gegründet?"))
        .stdout(predicate::str::contains("1372"));
}

#[test]
fn samples_json_is_one_object_per_line() {
    let out = bin()
        .args([
            "samples", "--lang", "zh", "--limit", "4", "--json", "--data",
        ])
        .arg(mini())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["lang"], "zh");
    assert_eq!(rows[0]["index"], 0);
    assert!(rows[3]["answers"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn data_folder_comes_from_the_environment() {
    bin()
        .env("XMRC_LENS_DATA", mini())
        .args(["samples", "--limit", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("velmora-founded"));
}

#[test]
fn offline_without_data_names_both_ways_out() {
    let empty_home = tempfile::tempdir().unwrap();
    bin()
        .env("HF_HOME", empty_home.path())
        .args(["samples", "--limit", "1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--data"))
        .stderr(predicate::str::contains("XMRC_LENS_DATA"));
}

#[test]
fn prompt_shows_parts_and_paper_wording() {
    bin()
        .args([
            "prompt",
            "--sample",
            "0",
            "--scenario",
            "en-x",
            "--lang",
            "de",
            "--shots",
            "2",
        ])
        .args(["--format", "v1", "--data"])
        .arg(mini())
        .assert()
        .success()
        .stdout(predicate::str::contains("── Task ──"))
        .stdout(predicate::str::contains("── Demo 1 ──"))
        .stdout(predicate::str::contains("── Context ──"))
        .stdout(predicate::str::contains(
            "Below is a reading comprehension task.",
        ))
        .stdout(predicate::str::contains(
            "── Markup ──\nQuestion: \n── Question ──\nWann wurde Velmora gegründet?\n",
        ))
        .stdout(predicate::str::contains(
            "Please provide a direct answer in English",
        ));
}

#[test]
fn prompt_x_x_names_the_language_and_plain_is_exact_text() {
    let out = bin()
        .args([
            "prompt",
            "--sample",
            "velmora-founded",
            "--scenario",
            "x-x",
            "--lang",
            "de",
        ])
        .args(["--format", "v2", "--plain", "--data"])
        .arg(mini())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("in German without extra output"), "{text}");
    assert!(
        !text.contains("── "),
        "plain output must carry no part headers"
    );
    assert!(
        text.starts_with("Context: "),
        "v2 0-shot starts with the context: {text}"
    );
}

#[test]
fn prompt_json_with_a_chat_model_folder_lists_tokens_with_parts() {
    let model = fixtures().join("tokenizers/chatml");
    let out = bin()
        .args([
            "prompt",
            "--sample",
            "1",
            "--scenario",
            "en-x",
            "--lang",
            "zh",
            "--json",
        ])
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(mini())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chat"], true);
    let text = v["text"].as_str().unwrap();
    assert!(text.starts_with("<|im_start|>system\n"), "{text}");
    let tokens = v["tokens"].as_array().unwrap();
    assert!(!tokens.is_empty());
    let parts: std::collections::BTreeSet<&str> =
        tokens.iter().map(|t| t["part"].as_str().unwrap()).collect();
    // The template's default system prompt is system; its role markers are markup.
    for part in ["system", "context", "question", "markup"] {
        assert!(parts.contains(part), "no token labelled {part}: {parts:?}");
    }
}

#[test]
fn prompt_rejects_bad_input_with_a_message() {
    bin()
        .args(["prompt", "--sample", "999", "--data"])
        .arg(mini())
        .assert()
        .failure()
        .stderr(predicate::str::contains("out of range"));
    bin()
        .args(["prompt", "--lang", "fr", "--data"])
        .arg(mini())
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown language 'fr'"));
    bin()
        .args(["prompt", "--shots", "3", "--data"])
        .arg(mini())
        .assert()
        .failure()
        .stderr(predicate::str::contains("shots"));
    bin()
        .args(["prompt", "--chat", "--data"])
        .arg(mini())
        .assert()
        .failure()
        .stderr(predicate::str::contains("chat template"));
}

#[test]
fn score_writes_both_normalisers_and_prints_means() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pred.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","prediction":"The Eiffel Tower","answers":["Eiffel Tower"],"lang":"en"}"#,
            "\n",
            r#"{"id":"b","prediction":"«Berlin»","answers":["Berlin"],"lang":"de"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = bin().arg("score").arg(&input).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["squad"]["em"], 100.0);
    // «» is not ASCII punctuation: the SQuAD script keeps it, MLQA drops it.
    assert_eq!(lines[1]["squad"]["em"], 0.0);
    assert_eq!(lines[1]["mlqa"]["em"], 100.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("squad") && stderr.contains("mlqa"),
        "{stderr}"
    );
}

#[test]
fn score_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(
        &input,
        "{\"prediction\":\"x\",\"answers\":[\"x\"],\"lang\":\"en\"}\n{not json\n",
    )
    .unwrap();
    bin()
        .arg("score")
        .arg(&input)
        .assert()
        .failure()
        .stderr(predicate::str::contains("line 2"));
}

/// The real data set, when the environment provides it (CI does).
fn real_data() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("XMRC_LENS_DATA")?);
    dir.join("xquad.en.json").exists().then_some(dir)
}

#[test]
fn real_xquad_samples_and_prompt() {
    let Some(dir) = real_data() else {
        eprintln!("XMRC_LENS_DATA not set: skipping the real-data CLI test");
        return;
    };
    bin()
        .args(["samples", "--lang", "de", "--limit", "5", "--data"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("1190 samples"));
    bin()
        .args([
            "prompt",
            "--sample",
            "0",
            "--scenario",
            "en-x",
            "--lang",
            "de",
            "--shots",
            "2",
        ])
        .args(["--format", "v1", "--data"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("Your task starts here:"));
}

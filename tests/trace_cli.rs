#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xmrc-lens trace`, the real binary end to end: a complete SampleTrace for every family,
//! free text, atomic `--out`, `--dump hidden`, the reference pool, and Ctrl-C leaving no file.

mod common;

use common::{bin, repo_path, tiny_model_dir, FAMILIES};
use serde_json::Value;

fn trace(args: &[&str], family: &str, data: &std::path::Path) -> Value {
    let out = bin()
        .arg("trace")
        .args(args)
        .arg("--model")
        .arg(tiny_model_dir(family))
        .arg("--data")
        .arg(data)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[trace] relevance"),
        "progress on stderr: {stderr}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every documented part of a sample trace is there and consistent.
fn check_complete(v: &Value, family: &str, layers: usize) {
    assert_eq!(v["version"], 4);
    assert_eq!(v["model"]["family"], family);
    assert_eq!(v["model"]["layers"], layers);
    // The language lens: every level through the head at the step target's position.
    let lens = &v["lens"];
    assert_eq!(
        lens["levels"].as_array().unwrap().len(),
        layers + 1,
        "{family}"
    );
    assert!(lens["decision_level"].as_u64().unwrap() as usize <= layers);
    assert_eq!(lens["generated"], v["target"]["span_ids"][0], "{family}");
    assert!(v["timings"]["lens_ms"].as_f64().is_some());
    let tokens = v["tokens"].as_array().unwrap();
    // Relevance has a column per prompt token and per answer-prefix token.
    let target = &v["target"];
    assert_eq!(target["choice"], "answer-span", "{target}");
    let prefix = target["prefix"].as_array().unwrap();
    assert!(prefix.iter().all(|p| p["part"] == "answer_prefix"));
    assert!(
        !target["span_ids"].as_array().unwrap().is_empty(),
        "{target}"
    );
    let t = tokens.len() + prefix.len();
    assert!(t > 50, "{family}: {t} tokens");
    assert_eq!(v["top_logits"].as_array().unwrap().len(), 20);
    assert_eq!(v["greedy_ids"], v["generation"]["ids"]);
    assert_eq!(v["scores"].as_array().unwrap().len(), 2);
    assert_eq!(v["labels"]["generation"]["judge"]["kind"], "rules");
    let rel = &v["relevance"];
    assert_eq!(rel["rules"], "attn-lrp");
    let raw = rel["raw"].as_array().unwrap();
    assert_eq!(raw.len(), layers + 1);
    assert!(raw.iter().all(|row| row.as_array().unwrap().len() == t));
    let display = rel["display"].as_array().unwrap();
    for row in display {
        let max = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap().abs())
            .fold(0.0, f64::max);
        assert!(max <= 1.0 + 1e-6 && max > 0.0);
    }
    assert_eq!(rel["token_mrd"].as_array().unwrap().len(), t);
    assert_eq!(rel["part_mrd"]["counted_layers"], layers - 1);
    let conservation = rel["conservation"].as_array().unwrap();
    assert!((conservation[layers].as_f64().unwrap() - 1.0).abs() < 1e-3);
    let sim = &v["similarity"]["series"]["cosine"];
    for part in ["question", "context", "last"] {
        assert_eq!(sim[part].as_array().unwrap().len(), layers + 1, "{part}");
    }
    let oracle = &v["oracle"];
    assert!(
        oracle["sentences"].as_array().unwrap().len() >= 2,
        "{oracle}"
    );
    assert!(oracle["forwards"].as_u64().unwrap() >= 1);
    for stage in [
        "prompt_ms",
        "generate_ms",
        "relevance_ms",
        "similarity_ms",
        "oracle_ms",
    ] {
        assert!(v["timings"][stage].as_f64().unwrap() >= 0.0, "{stage}");
    }
}

#[test]
fn trace_prints_a_complete_sample_trace_for_every_family() {
    let data = repo_path("tests/fixtures/xquad-mini");
    for family in FAMILIES {
        let v = trace(&["--lang", "de", "--max-new-tokens", "4"], family, &data);
        check_complete(&v, family, 4);
    }
}

#[test]
fn trace_on_the_real_xquad_when_available() {
    let Some(data) = std::env::var_os("XMRC_LENS_DATA") else {
        eprintln!("XMRC_LENS_DATA not set: real-data trace skipped");
        return;
    };
    let data = std::path::PathBuf::from(data);
    for (family, lang) in [
        ("qwen2", "zh"),
        ("gemma2", "ar"),
        ("llama", "th"),
        ("mistral", "ru"),
    ] {
        let v = trace(
            &[
                "--lang",
                lang,
                "--shots",
                "2",
                "--sample",
                "7",
                "--max-new-tokens",
                "3",
            ],
            family,
            &data,
        );
        check_complete(&v, family, 4);
        assert!(v["oracle"]["gold_sentence"].is_number(), "{family} {lang}");
    }
}

#[test]
fn sequence_target_cp_lrp_and_the_reference_pool() {
    let data = repo_path("tests/fixtures/xquad-mini");
    let v = trace(
        &[
            "--lang",
            "es",
            "--target",
            "sequence",
            "--rules",
            "cp-lrp",
            "--max-new-tokens",
            "3",
            "--stop",
            "none",
            "--reference-pool",
            "3",
            "--no-oracle",
        ],
        "llama",
        &data,
    );
    assert_eq!(v["relevance"]["target"], "sequence");
    assert_eq!(v["relevance"]["rules"], "cp-lrp");
    assert_eq!(v["relevance"]["target_tokens"].as_array().unwrap().len(), 3);
    assert!(v["oracle"].is_null());
    assert_eq!(v["similarity"]["reference_samples"], 3);
    assert_eq!(
        v["similarity"]["ratio"]["context"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn free_text_with_hidden_dump_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("prompt.txt");
    std::fs::write(
        &text,
        "Die Stadt liegt am Fluss. Wo liegt die Stadt? Antwort:",
    )
    .unwrap();
    let out = dir.path().join("trace.json");
    bin()
        .args([
            "trace",
            "--max-new-tokens",
            "3",
            "--dump",
            "hidden",
            "--text",
        ])
        .arg(&text)
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(tiny_model_dir("qwen2"))
        .assert()
        .success();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(v["prompt"].is_null() && v["scores"].is_null() && v["oracle"].is_null());
    assert!(
        v["text"].as_str().unwrap().starts_with("Die Stadt"),
        "no template: {}",
        v["text"]
    );
    let dump = v["hidden_dump"].as_array().unwrap();
    assert_eq!(dump.len(), 5);
    assert_eq!(dump[0]["mean"].as_array().unwrap().len(), 64);
    assert_eq!(dump[4]["last"].as_array().unwrap().len(), 64);
    assert_eq!(v["relevance"]["raw"].as_array().unwrap().len(), 5);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn ctrl_c_cancels_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trace.json");
    let args: Vec<std::ffi::OsString> = [
        "trace",
        "--stop",
        "none",
        "--max-new-tokens",
        "100000",
        "--lang",
        "de",
        "--model",
    ]
    .iter()
    .map(Into::into)
    .chain([
        tiny_model_dir("llama").into_os_string(),
        "--data".into(),
        repo_path("tests/fixtures/xquad-mini").into_os_string(),
        "--out".into(),
        out.clone().into_os_string(),
    ])
    .collect();
    let (success, rest) = common::interrupt_when(&args, "[trace] generate");
    assert!(!success, "a cancelled trace must fail: {rest}");
    assert!(rest.contains("cancel"), "{rest}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn the_oracle_on_the_generation_cache_equals_batched_full_forwards() {
    let data = repo_path("tests/fixtures/xquad-mini");
    let common = [
        "--lang",
        "ru",
        "--shots",
        "2",
        "--max-new-tokens",
        "3",
        "--stop",
        "none",
    ];
    let cached = trace(&common, "mistral", &data);
    let mut batched_args = common.to_vec();
    batched_args.push("--oracle-batched");
    let batched = trace(&batched_args, "mistral", &data);
    let (a, b) = (&cached["oracle"], &batched["oracle"]);
    let tokens_run = a["tokens_run"].as_u64().unwrap();
    assert!(tokens_run < a["naive_tokens"].as_u64().unwrap() / 2, "{a}");
    assert!(b["tokens_run"].is_null());
    let (sa, sb) = (
        a["sentences"].as_array().unwrap(),
        b["sentences"].as_array().unwrap(),
    );
    assert_eq!(sa.len(), sb.len());
    for (x, y) in sa.iter().zip(sb) {
        for key in ["step_drop", "sequence_drop"] {
            let (x, y) = (x[key].as_f64().unwrap(), y[key].as_f64().unwrap());
            assert!((x - y).abs() < 1e-3, "{key}: {x} vs {y}");
        }
    }
    assert_eq!(a["gold_sentence"], b["gold_sentence"]);
}

#[test]
fn an_llm_judge_labels_the_answer_and_says_who_it_is() {
    let data = repo_path("tests/fixtures/xquad-mini");
    let judge = tiny_model_dir("qwen2");
    let v = trace(
        &[
            "--lang",
            "vi",
            "--max-new-tokens",
            "2",
            "--no-oracle",
            "--judge",
            judge.to_str().unwrap(),
        ],
        "gemma2",
        &data,
    );
    let label = &v["labels"]["judge"];
    assert_eq!(label["judge"]["kind"], "llm", "{label}");
    assert!(label["judge"]["model"]
        .as_str()
        .unwrap()
        .contains("tiny-qwen2"));
    assert_eq!(v["labels"]["generation"]["judge"]["kind"], "rules");
    assert!(v["timings"]["judge_ms"].as_f64().unwrap() > 0.0);
}

//! `xmrc-lens bench` end to end on the tiny presets, and the synthetic model folders it builds
//! loading through the engine. No timing is asserted: only that every figure is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn bench(cache: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("xmrc-lens")
        .unwrap()
        .arg("bench")
        .arg("--cache-dir")
        .arg(cache)
        .args(["--device", "cpu", "--threads", "1"])
        .args(args)
        .env_remove("XMRC_LENS_PYTHON")
        .assert()
}

fn json_line(stdout: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "--json-only prints one line: {text}");
    serde_json::from_str(lines[0]).unwrap()
}

fn positive(report: &Value, key: &str) -> f64 {
    let value = report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {report}"));
    assert!(value > 0.0 && value.is_finite(), "{key} = {value}");
    value
}

#[test]
fn tiny_bench_prints_every_figure_as_json() {
    let cache = tempfile::tempdir().unwrap();
    for preset in ["tiny", "tiny-llama"] {
        let out = bench(
            cache.path(),
            &[
                "--preset",
                preset,
                "--tokens",
                "64",
                "--new-tokens",
                "4",
                "--json-only",
            ],
        )
        .success();
        let report = json_line(&out.get_output().stdout);
        assert_eq!(report["preset"], preset);
        assert_eq!(report["impl"], "xmrc-lens");
        assert_eq!(report["tokens"], 64);
        assert_eq!(report["new_tokens"], 4);
        assert_eq!(report["device"], "cpu");
        assert_eq!(report["dtype"], "f32");
        assert_eq!(report["threads"], 1);
        for key in [
            "load_s",
            "prefill_fast_s",
            "prefill_fast_tok_s",
            "decode_s",
            "decode_tok_s",
            "trace_s",
            "trace_tok_s",
            "trace_over_prefill",
            "peak_rss_gen_mb",
            "peak_rss_mb",
            "prompt_tokens_built",
        ] {
            positive(&report, key);
        }
        assert!(positive(&report, "peak_rss_mb") >= positive(&report, "peak_rss_gen_mb"));
        let dir = PathBuf::from(report["model_dir"].as_str().unwrap());
        assert!(dir.starts_with(cache.path()), "{}", dir.display());
        assert!(dir.join("config.json").is_file());
        assert!(report.get("transformers").is_none());
    }
}

#[test]
fn human_output_has_the_table_then_the_json_line() {
    let cache = tempfile::tempdir().unwrap();
    let out = bench(
        cache.path(),
        &[
            "--preset",
            "tiny",
            "--tokens",
            "16",
            "--new-tokens",
            "2",
            "--skip-trace",
        ],
    )
    .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("prefill, fast path (tok/s)"), "{text}");
    assert!(text.contains("decode (greedy, KV cache) (tok/s)"), "{text}");
    let last = text.lines().last().unwrap();
    let report: Value = serde_json::from_str(last).unwrap();
    // Skipped: present as null, not invented.
    assert!(report["trace_s"].is_null());
    positive(&report, "decode_tok_s");
}

#[test]
fn build_only_prints_a_reusable_folder() {
    let cache = tempfile::tempdir().unwrap();
    let first = bench(cache.path(), &["--preset", "tiny", "--build-only"]).success();
    let dir = String::from_utf8_lossy(&first.get_output().stdout)
        .trim()
        .to_string();
    let dir = PathBuf::from(dir);
    for file in [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let second = bench(cache.path(), &["--preset", "tiny", "--build-only"]).success();
    let stderr = String::from_utf8_lossy(&second.get_output().stderr);
    assert!(stderr.contains("reusing"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&second.get_output().stdout).trim(),
        dir.to_string_lossy()
    );
}

#[test]
fn a_missing_python_is_an_error_that_names_the_fix() {
    let cache = tempfile::tempdir().unwrap();
    let out = bench(
        cache.path(),
        &[
            "--preset",
            "tiny",
            "--tokens",
            "16",
            "--new-tokens",
            "1",
            "--skip-trace",
            "--compare-transformers",
            "--python",
            "/nonexistent/python3",
        ],
    )
    .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("--python"), "{stderr}");
    assert!(stderr.contains("XMRC_LENS_PYTHON"), "{stderr}");
}

#[test]
fn unknown_preset_lists_the_presets() {
    let cache = tempfile::tempdir().unwrap();
    let out = bench(cache.path(), &["--preset", "gpt2", "--build-only"]).failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(
        stderr.contains("qwen2.5-0.5b") && stderr.contains("llama-3.1-8b"),
        "{stderr}"
    );
}

#[test]
fn synthetic_folders_load_as_models_with_their_dimensions() {
    use xmrc_lens::model::chat_mode::ChatMode;
    use xmrc_lens::model::config::Family;
    use xmrc_lens::model::load::LoadedModel;
    use xmrc_lens::model::spec::ModelSpec;
    use xmrc_lens::synth::model::{write_model, Preset, WeightDtype, WriteOptions};

    for (preset, family) in [
        (Preset::Tiny, Family::Qwen2),
        (Preset::TinyLlama, Family::Llama),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let arch = preset.arch();
        // Sharded, to load through an index as well.
        let opts = WriteOptions {
            max_shard_bytes: 300_000,
            ..WriteOptions::new(WeightDtype::F32, 5)
        };
        write_model(dir.path(), preset.name(), &arch, &opts, &mut |_| {}).unwrap();
        assert!(dir.path().join("model.safetensors.index.json").is_file());
        let spec =
            ModelSpec::parse(dir.path().to_str().unwrap(), "cpu", "f32", ChatMode::Auto).unwrap();
        let model = LoadedModel::load(&spec).unwrap();
        let config = &model.config;
        assert_eq!(config.family, family);
        assert_eq!(config.num_layers, arch.num_layers);
        assert_eq!(config.hidden_size, arch.hidden_size);
        assert_eq!(config.num_kv_heads, arch.num_kv_heads);
        assert_eq!(config.vocab_size, arch.vocab_size);
        assert_eq!(config.qkv_bias, arch.qkv_bias);
        assert_eq!(config.tie_word_embeddings, arch.tie_word_embeddings);
        assert_eq!(config.rope_scaling.is_some(), arch.rope_scaling.is_some());
        assert!(
            model.is_chat(),
            "the synthetic tokenizer ships a chat template"
        );
        assert!(!model.stop_ids.is_empty());
        let mut cache = model.decoder.new_cache();
        let logits = model
            .decoder
            .forward_fast(&[5, 6, 7, 8], &mut cache)
            .unwrap();
        assert_eq!(logits.dims(), &[arch.vocab_size]);
        let values: Vec<f32> = logits.to_vec1().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
        // Random weights, not constant ones: the logits differ across the vocabulary.
        let spread = values.iter().cloned().fold(f32::MIN, f32::max)
            - values.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 1e-4, "{spread}");
    }
}

#[test]
fn ui_bench_times_frames_of_a_recorded_trace() {
    let cache = tempfile::tempdir().unwrap();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/traces/demo-de-0.json");
    let out = bench(
        cache.path(),
        &[
            "--ui",
            "--ui-trace",
            trace.to_str().unwrap(),
            "--frames",
            "50",
            "--size",
            "150x40",
            "--json-only",
        ],
    )
    .success();
    let report = json_line(&out.get_output().stdout);
    assert_eq!(report["frames"], 50);
    assert_eq!(report["size"], "150x40");
    assert_eq!(report["levels"], 13);
    let mean = positive(&report, "mean_ms");
    let p99 = positive(&report, "p99_ms");
    assert!(p99 >= mean * 0.5 && positive(&report, "max_ms") >= p99);
}

#[test]
fn ui_bench_refuses_a_bad_size_and_a_non_trace() {
    let cache = tempfile::tempdir().unwrap();
    bench(cache.path(), &["--ui", "--size", "200"])
        .failure()
        .stderr(predicates::str::contains("WIDTHxHEIGHT"));
    let not_a_trace = cache.path().join("x.json");
    std::fs::write(&not_a_trace, "{}").unwrap();
    bench(
        cache.path(),
        &["--ui", "--ui-trace", not_a_trace.to_str().unwrap()],
    )
    .failure()
    .stderr(predicates::str::contains("not a trace JSON"));
}

#[test]
fn explorer_latency_times_key_presses_through_the_explorer_path() {
    let cache = tempfile::tempdir().unwrap();
    let out = bench(
        cache.path(),
        &[
            "--preset",
            "tiny-llama",
            "--explorer-latency",
            "--presses",
            "2",
            "--json-only",
        ],
    )
    .success();
    let report = json_line(&out.get_output().stdout);
    assert_eq!(report["bench"], "explorer-latency");
    positive(&report, "load_ms");
    positive(&report, "first_trace_ms");
    let presses = report["presses"].as_array().unwrap();
    assert_eq!(presses.len(), 2);
    // "Next sample" from the start-up selection (sample 0), one sample at a time.
    for (i, press) in presses.iter().enumerate() {
        assert_eq!(press["sample"], i + 1);
        let full = positive(press, "full_trace_ms");
        assert!(press["prompt_tokens"].as_u64().unwrap() > 0, "{press}");
        if press["answer_tokens"].as_u64().unwrap() > 0 {
            let first = positive(press, "first_token_ms");
            assert!(first <= full, "{press}");
        }
        // The trace's own stages fit in the wait the key press measured.
        let stages = press["stages"]["total_ms"].as_f64().unwrap();
        assert!(stages <= full, "{press}");
    }
    positive(&report, "mean_full_trace_ms");
}

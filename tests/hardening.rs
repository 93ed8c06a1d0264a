#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Bad inputs from the hardening review (`../shared/research/bad-input-review.md`), each run
//! through the real binary: no command loses or half-writes a user's file, options are
//! checked before any work, and messages say what to do.

mod common;

use common::{bin, tiny_model_dir};
use predicates::prelude::*;
use std::path::Path;

const GOOD_LINE: &str =
    r#"{"prediction": "Denver Broncos", "answers": ["Denver Broncos"], "lang": "en"}"#;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn score_never_empties_an_existing_output_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("existing.jsonl");
    write(&out, "PRECIOUS\n");
    let bad = dir.path().join("nonjson.jsonl");
    write(&bad, "this is not json\n");
    bin()
        .arg("score")
        .arg(&bad)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("line 1"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "PRECIOUS\n");
}

#[test]
fn score_refuses_an_output_that_is_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write(&input, &format!("{GOOD_LINE}\n"));
    bin()
        .current_dir(dir.path())
        .args(["score", "in.jsonl", "--out", "./in.jsonl"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("both an input and the output"));
    assert_eq!(
        std::fs::read_to_string(&input).unwrap(),
        format!("{GOOD_LINE}\n")
    );
}

#[test]
fn score_leaves_no_half_written_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mid_bad.jsonl");
    write(&input, &format!("{GOOD_LINE}\n{GOOD_LINE}\nnot json\n"));
    let out = dir.path().join("out.jsonl");
    bin()
        .arg("score")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("line 3"));
    assert!(!out.exists(), "a failed score wrote {}", out.display());
    // Nothing else is left behind in the folder either (no temporary file).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // And a good run writes the whole file.
    write(&input, &format!("{GOOD_LINE}\n{GOOD_LINE}\n"));
    bin()
        .arg("score")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
}

#[test]
fn trace_checks_its_options_and_output_before_loading_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model_dir("qwen2");
    let data = common::repo_path("tests/fixtures/xquad-mini");
    let run = |extra: &[&str]| {
        bin()
            .arg("trace")
            .arg("--model")
            .arg(&model)
            .arg("--data")
            .arg(&data)
            .args(["--sample", "0", "--scenario", "en-en", "--shots", "0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .assert()
            .failure()
    };
    let unwritable = dir.path().join("no/such/folder/t.json");
    let cases: [(&[&str], &str); 4] = [
        (&["--out", unwritable.to_str().unwrap()], "no/such/folder"),
        (&["--mrd-layers", "0"], "--mrd-layers"),
        (&["--mrd-threshold", "2"], "--mrd-threshold"),
        (&["--mrd-threshold", "NaN"], "--mrd-threshold"),
    ];
    for (extra, named) in cases {
        let out = run(extra);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains(named), "{extra:?}: {stderr}");
        // Refused up front: the model was never loaded.
        assert!(
            !stderr.contains("[trace] loading"),
            "{extra:?} loaded the model first: {stderr}"
        );
    }
}

/// A stand-in hub on localhost that answers 404 to everything and keeps each request's
/// `Authorization` header.
fn stand_in_hub() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        log.lock().unwrap().push(v.trim().to_string());
                    }
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (endpoint, seen)
}

#[test]
fn a_hub_token_never_reaches_the_log_at_any_level() {
    let (endpoint, seen) = stand_in_hub();
    let home = tempfile::tempdir().unwrap();
    for rust_log in [
        "trace",
        "ureq=trace,ureq_proto=trace",
        "trace,ureq_proto::util=trace",
    ] {
        let out = bin()
            .env_remove("HF_HUB_OFFLINE")
            .env("HF_HOME", home.path())
            .env("HF_ENDPOINT", &endpoint)
            .env("HF_TOKEN", "secret123")
            .env("RUST_LOG", rust_log)
            .arg("trace")
            .args(["--model", "org/name", "--data"])
            .arg(common::repo_path("tests/fixtures/xquad-mini"))
            .args(["--sample", "0", "--scenario", "en-en", "--shots", "0"])
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(stderr.contains("404"), "{rust_log}: {stderr}");
        // ureq's request dump spells the header out, 16 bytes a line: neither the header
        // name nor the token may appear.
        let lower = stderr.to_ascii_lowercase();
        assert!(
            !lower.contains("secret123") && !lower.contains("authorization"),
            "{rust_log}: {stderr}"
        );
        assert!(
            !stderr.contains('\x1b'),
            "colour escapes in a file: {stderr}"
        );
    }
    // The token was sent, so there was something to leak.
    assert!(seen.lock().unwrap().iter().any(|a| a.contains("secret123")));
}

/// A copy of the tiny Qwen2 model folder, its config.json edited by `edit`.
fn tiny_copy(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    let src = tiny_model_dir("qwen2");
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&src, dir.path());
    let config_path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&config_path, config.to_string()).unwrap();
    dir
}

/// `trace` of mini sample 0 (en-en, 0-shot) on `model`, with `extra` options.
fn trace_on(model: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .arg("trace")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(common::repo_path("tests/fixtures/xquad-mini"))
        .args(["--sample", "0", "--scenario", "en-en", "--shots", "0"])
        .args(["--no-oracle", "--no-similarity", "--no-relevance"])
        .args(extra)
        .assert()
}

#[test]
fn the_context_window_is_checked_and_generation_stops_at_it() {
    // A window of 0 is no window.
    let zero = tiny_copy(|c| c["max_position_embeddings"] = 0.into());
    trace_on(zero.path(), &[])
        .failure()
        .stderr(predicate::str::contains("max_position_embeddings is 0"));
    // The prompt's length, then a window shorter than the prompt: refused, both named.
    let out = trace_on(&tiny_model_dir("qwen2"), &["--max-new-tokens", "1"]).success();
    let trace: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let prompt_len = trace["tokens"].as_array().unwrap().len();
    let short = tiny_copy(|c| c["max_position_embeddings"] = 64.into());
    trace_on(short.path(), &[]).failure().stderr(
        predicate::str::contains(format!("the prompt has {prompt_len} tokens"))
            .and(predicate::str::contains("context window of 64")),
    );
    // Room for 3 more positions: 4 tokens (the last one is never fed back), then the window.
    let tight = tiny_copy(|c| c["max_position_embeddings"] = (prompt_len + 3).into());
    let out = trace_on(tight.path(), &["--max-new-tokens", "40", "--stop", "none"]).success();
    let trace: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(trace["generation"]["ids"].as_array().unwrap().len(), 4);
    assert_eq!(trace["generation"]["stop"]["kind"], "context_window");
}

#[test]
fn integer_weights_are_refused_with_the_tensors_name() {
    let dir = tiny_copy(|_| {});
    // Rewrite one tensor's dtype in the header (same width: F32 -> I32), as an integer
    // checkpoint would have it.
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + header_len].to_vec()).unwrap();
    let at = header.find(r#""dtype":"F32""#).unwrap();
    let name_start = header[..at].rfind("\":{").unwrap();
    let name = &header[header[..name_start].rfind('"').unwrap() + 1..name_start];
    let patched = format!("{}\"dtype\":\"I32\"{}", &header[..at], &header[at + 13..]);
    assert_eq!(patched.len(), header.len());
    let mut out = bytes[..8].to_vec();
    out.extend_from_slice(patched.as_bytes());
    out.extend_from_slice(&bytes[8 + header_len..]);
    std::fs::write(&path, out).unwrap();
    trace_on(dir.path(), &[]).failure().stderr(
        predicate::str::contains(format!("tensor {name}")).and(predicate::str::contains("is I32")),
    );
}

#[test]
fn a_truncated_weight_file_says_it_is_incomplete() {
    let dir = tiny_copy(|_| {});
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    trace_on(dir.path(), &[]).failure().stderr(
        predicate::str::contains("is incomplete")
            .and(predicate::str::contains("download it again")),
    );
}

#[test]
fn a_template_that_raises_suggests_no_chat() {
    let dir = tiny_copy(|_| {});
    std::fs::write(
        dir.path().join("chat_template.jinja"),
        "{{ raise_exception('this template refuses') }}",
    )
    .unwrap();
    trace_on(dir.path(), &["--chat"]).failure().stderr(
        predicate::str::contains("this template refuses")
            .and(predicate::str::contains("--no-chat")),
    );
}

#[test]
fn differing_ids_name_the_flag_that_helps() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&common::repo_path("tests/fixtures/xquad-mini"), dir.path());
    // Rename one German question id.
    let de = dir.path().join("xquad.de.json");
    let text = std::fs::read_to_string(&de).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = v["data"][0]["paragraphs"][0]["qas"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        &de,
        text.replacen(&format!("\"{id}\""), "\"renamed-id\"", 1),
    )
    .unwrap();
    bin()
        .arg("samples")
        .arg("--data")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--intersect-ids"));
}

/// The committed results fixture (and its pool sidecar) copied into `dir`.
fn results_copy(dir: &Path) -> std::path::PathBuf {
    for name in ["results.1.jsonl", "results.1.jsonl.pool.json"] {
        std::fs::copy(
            common::repo_path(&format!("tests/fixtures/results/{name}")),
            dir.join(name),
        )
        .unwrap();
    }
    dir.join("results.1.jsonl")
}

#[test]
fn report_out_must_be_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_copy(dir.path());
    let file = dir.path().join("report.txt");
    write(&file, "mine\n");
    bin()
        .arg("report")
        .arg(&results)
        .arg("--out")
        .arg(&file)
        .assert()
        .failure()
        .stderr(predicate::str::contains("--out names a folder"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine\n");
}

#[test]
fn a_damaged_pool_sidecar_says_deleting_it_is_safe() {
    let dir = tempfile::tempdir().unwrap();
    let results = results_copy(dir.path());
    write(&dir.path().join("results.1.jsonl.pool.json"), "{ not json");
    bin()
        .arg("report")
        .arg(&results)
        .arg("--out")
        .arg(dir.path().join("report"))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("Deleting it is safe")
                .and(predicate::str::contains("one forward per unit")),
        );
}

#[test]
fn eval_keep_going_skips_a_model_that_cannot_load_and_runs_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.jsonl");
    // A folder that exists but holds no loadable model (its architecture is unknown).
    let broken = tiny_copy(|c| c["architectures"] = serde_json::json!(["NoSuchForCausalLM"]));
    let missing = broken.path().to_path_buf();
    let tiny = tiny_model_dir("qwen2");
    let models = format!("{},{}", missing.display(), tiny.display());
    let assert = bin()
        .arg("eval")
        .args(["--models", &models, "--data"])
        .arg(common::repo_path("tests/fixtures/xquad-mini"))
        .args(["--samples", "2", "--scenarios", "en-en", "--shots", "0"])
        .args(["--max-new-tokens", "2", "--keep-going", "--out"])
        .arg(&out)
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains(&format!("model {} did not load", missing.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 unit(s) failed, 1 model(s) did not load"),
        "{stderr}"
    );
    let read = xmrc_lens::batch::results_file::read_results(&out).unwrap();
    assert_eq!(read.units.len(), 2, "the loadable model's units ran");
    assert!(read
        .units
        .iter()
        .all(|u| u.key.model == tiny.display().to_string()));
}

#[test]
fn a_set_cancel_flag_stops_the_oracle_between_rows_and_layers() {
    use std::sync::atomic::AtomicBool;
    use xmrc_lens::attribution::oracle::{OracleCancelled, PrefixCachedScorer, SequenceScorer};
    use xmrc_lens::model::decoder::Cancelled;
    let (_, decoder) = common::load_decoder(&tiny_model_dir("qwen2"));
    let base: Vec<u32> = (1..40).collect();
    let mut ablated = base.clone();
    ablated[20] = 7;
    let rows = vec![base.clone(), ablated];
    let set = AtomicBool::new(true);
    let unset = AtomicBool::new(false);
    // Not cancelled: every row is scored.
    let scorer = PrefixCachedScorer::new(&decoder, &base)
        .unwrap()
        .with_cancel(Some(&unset));
    assert_eq!(scorer.score_batch(&rows, &[5, 6]).unwrap().len(), 2);
    // Cancelled: the next row is not started.
    let scorer = PrefixCachedScorer::new(&decoder, &base)
        .unwrap()
        .with_cancel(Some(&set));
    let err = scorer.score_batch(&rows, &[5, 6]).unwrap_err();
    assert!(err.downcast_ref::<OracleCancelled>().is_some(), "{err:#}");
    // Inside a forward: the flag is read before every layer.
    let mut cache = decoder.new_cache();
    let err = decoder
        .forward_fast_tail_until(&base, &mut cache, 1, Some(&set))
        .unwrap_err();
    assert!(err.downcast_ref::<Cancelled>().is_some(), "{err:#}");
}

#[test]
fn the_cancel_latency_bench_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "bench",
            "--preset",
            "demo",
            "--cancel-latency",
            "--json-only",
        ])
        .arg("--cache-dir")
        .arg(dir.path())
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["bench"], "cancel-latency");
    assert_eq!(report["cancels"].as_array().unwrap().len(), 6);
    assert!(report["worst_ms"].as_f64().is_some());
}

#[test]
fn a_folder_missing_languages_loads_with_load_langs() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["en", "de", "zh"] {
        std::fs::copy(
            common::repo_path(&format!("tests/fixtures/xquad-mini/xquad.{lang}.json")),
            dir.path().join(format!("xquad.{lang}.json")),
        )
        .unwrap();
    }
    bin()
        .arg("samples")
        .arg("--data")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--load-langs"));
    let out = bin()
        .arg("samples")
        .arg("--data")
        .arg(dir.path())
        .args(["--load-langs", "de,zh"])
        .assert()
        .success();
    assert!(!out.get_output().stdout.is_empty());
}

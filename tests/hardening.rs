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

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xmrc-lens eval`, the real binary end to end on a tiny model: one line per unit, resume
//! after a torn line, pool repair, refused settings, shards that add up to the whole run,
//! Ctrl-C, and the plan of `--dry-run`.

mod common;

use common::{bin, repo_path, tiny_model_dir};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use xmrc_lens::batch::results_file::{read_pool, read_results};
use xmrc_lens::batch::{PoolKey, UnitKey, UnitRecord};
use xmrc_lens::data::prompt::{Format, Scenario};
use xmrc_lens::data::Lang;

/// 3 samples x (en-en + en-x de, zh + x-x de, zh), 0-shot, every analysis.
fn eval_args(out: &Path) -> Vec<String> {
    let model = tiny_model_dir("llama");
    [
        "eval",
        "--models",
        model.to_str().unwrap(),
        "--data",
        repo_path("tests/fixtures/xquad-mini").to_str().unwrap(),
        "--samples",
        "3",
        "--langs",
        "de,zh",
        "--shots",
        "0",
        "--analyses",
        "all",
        "--max-new-tokens",
        "12",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_ok(args: &[String]) -> String {
    let out = bin().args(args).assert().success().get_output().clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn units(path: &Path) -> BTreeMap<UnitKey, UnitRecord> {
    let content = read_results(path).unwrap();
    assert!(content.torn.is_none());
    let mut map = BTreeMap::new();
    for u in content.units {
        assert!(map.insert(u.key.clone(), u).is_none(), "a unit twice");
    }
    map
}

fn same_outcomes(a: &BTreeMap<UnitKey, UnitRecord>, b: &BTreeMap<UnitKey, UnitRecord>) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (key, unit) in a {
        assert_eq!(unit.outcome_differs(&b[key]), None, "{key}");
        assert_eq!(unit.similarity, b[key].similarity, "{key}");
    }
}

struct Whole {
    _dir: tempfile::TempDir,
    out: PathBuf,
    units: BTreeMap<UnitKey, UnitRecord>,
}

fn whole_run() -> Whole {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let stderr = run_ok(&eval_args(&out));
    assert!(
        stderr.contains("15 unit(s) planned, 0 already done"),
        "{stderr}"
    );
    assert!(stderr.contains("eval overhead"), "{stderr}");
    let units = units(&out);
    Whole {
        _dir: dir,
        out,
        units,
    }
}

#[test]
fn one_line_per_unit_with_every_analysis_and_a_pool_per_setting() {
    let w = whole_run();
    assert_eq!(w.units.len(), 15);
    let lines = std::fs::read_to_string(&w.out).unwrap();
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["kind"], "run");
    assert_eq!(first["settings"]["max_new_tokens"], 12);
    for (key, unit) in &w.units {
        assert_eq!(unit.key.setting.shots, 0);
        assert!(unit.mrd.is_some(), "{key}");
        assert!(unit.oracle.is_some(), "{key}");
        assert_eq!(
            unit.similarity.is_some(),
            key.setting.scenario != Scenario::EnEn,
            "{key}"
        );
        if let Some(sim) = &unit.similarity {
            assert_eq!(sim.question.len(), 5, "4 layers + embeddings");
        }
        let gold_lang = if key.setting.scenario == Scenario::XX {
            key.setting.lang
        } else {
            Lang::En
        };
        assert_eq!(unit.answer_lang, gold_lang);
    }
    let pools = read_pool(&w.out).unwrap().unwrap();
    assert_eq!(pools.pools.len(), 2);
    for scenario in [Scenario::EnX, Scenario::XX] {
        let pool = pools
            .get(&PoolKey {
                model: tiny_model_dir("llama").to_str().unwrap().to_string(),
                scenario,
                shots: 0,
                format: Format::V1,
            })
            .unwrap();
        assert_eq!(pool.len(Lang::De), 3);
        assert_eq!(pool.len(Lang::Zh), 3);
        assert!(pool.within(Lang::De).is_some());
    }

    // Nothing left to do: the model is not even loaded.
    let stderr = run_ok(&eval_args(&w.out));
    assert!(stderr.contains("0 unit(s) run, 15 already"), "{stderr}");
    assert!(!stderr.contains("loading"), "{stderr}");
}

#[test]
fn resume_after_a_crash_drops_the_torn_line_and_repairs_the_pool() {
    let w = whole_run();
    let text = std::fs::read_to_string(&w.out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Keep the header and 9 units, then half of the 10th line as a crash would leave it.
    let mut crashed = lines[..10].join("\n");
    crashed.push('\n');
    crashed.push_str(&lines[10][..lines[10].len() / 2]);
    std::fs::write(&w.out, crashed).unwrap();
    // The sidecar was last written before the crash: take it away altogether.
    let pool_file = xmrc_lens::batch::pool_path(&w.out);
    let whole_pool = read_pool(&w.out).unwrap().unwrap();
    std::fs::remove_file(&pool_file).unwrap();

    let stderr = run_ok(&eval_args(&w.out));
    assert!(
        stderr.contains("15 unit(s) planned, 9 already done"),
        "{stderr}"
    );
    assert!(stderr.contains("6 unit(s) run"), "{stderr}");
    assert!(stderr.contains("pooled state(s) recomputed"), "{stderr}");
    same_outcomes(&units(&w.out), &w.units);
    let repaired = read_pool(&w.out).unwrap().unwrap();
    for entry in &whole_pool.pools {
        let p = repaired.get(&entry.key).unwrap();
        for lang in [Lang::De, Lang::Zh] {
            let (a, b) = (entry.pool.within(lang).unwrap(), p.within(lang).unwrap());
            for (x, y) in a.question.iter().zip(&b.question) {
                assert!((x - y).abs() < 1e-9, "{x} vs {y}");
            }
        }
    }
}

#[test]
fn other_settings_are_refused_with_the_difference() {
    let w = whole_run();
    let mut args = eval_args(&w.out);
    let at = args.iter().position(|a| a == "12").unwrap();
    args[at] = "8".into();
    let out = bin().args(&args).assert().failure().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_new_tokens: 12 vs 8"), "{stderr}");
    assert!(stderr.contains("another --out"), "{stderr}");
}

#[test]
fn shards_add_up_to_the_whole_run() {
    let w = whole_run();
    let dir = tempfile::tempdir().unwrap();
    let mut merged = BTreeMap::new();
    let mut samples_seen = BTreeSet::new();
    for i in 0..2 {
        let out = dir.path().join(format!("r{i}.jsonl"));
        let mut args = eval_args(&out);
        args.extend(["--shard".to_string(), format!("{i}/2")]);
        run_ok(&args);
        let part = units(&out);
        let samples: BTreeSet<String> = part.keys().map(|k| k.sample.clone()).collect();
        assert!(samples.is_disjoint(&samples_seen), "a sample in two shards");
        samples_seen.extend(samples);
        merged.extend(part);
    }
    same_outcomes(&merged, &w.units);
}

#[test]
fn dry_run_prints_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = eval_args(&dir.path().join("r.jsonl"));
    args.push("--dry-run".into());
    let out = bin().args(&args).assert().success().get_output().clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("15 unit(s) in this run: 3 sample(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("\tx-x\tzh\t3\t0 done"), "{stdout}");
    assert!(!dir.path().join("r.jsonl").exists());
}

#[test]
fn ctrl_c_stops_after_a_unit_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let mut args = eval_args(&out);
    // More units, so the interrupt lands mid-run.
    let at = args.iter().position(|a| a == "3").unwrap();
    args[at] = "all".into();
    let os_args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let (success, rest) = common::interrupt_when(&os_args, "[eval] 2/");
    assert!(!success, "an interrupted run must fail: {rest}");
    assert!(
        rest.contains("run the same command again to resume"),
        "{rest}"
    );
    let saved = read_results(&out).unwrap();
    assert!(saved.torn.is_none());
    let n = saved.units.len();
    assert!((2..70).contains(&n), "{n} units saved");
    let stderr = run_ok(&args);
    assert!(
        stderr.contains(&format!("70 unit(s) planned, {n} already done")),
        "{stderr}"
    );
    assert_eq!(units(&out).len(), 70);
}

#[test]
fn batched_answers_equal_one_prompt_at_a_time() {
    let w = whole_run();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("batched.jsonl");
    let mut args = eval_args(&out);
    args.extend(["--batch".to_string(), "4".to_string()]);
    run_ok(&args);
    same_outcomes(&units(&out), &w.units);
}

/// The real pipeline end to end: `eval` shards on a tiny model, then `report` on them.
#[test]
fn report_reads_what_eval_shards_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("r{i}.jsonl"));
        let mut args = eval_args(&out);
        args.extend(["--shard".to_string(), format!("{i}/2")]);
        run_ok(&args);
        files.push(out);
    }
    let report_dir = dir.path().join("report");
    let out = bin()
        .arg("report")
        .args(&files)
        .arg("--out")
        .arg(&report_dir)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("15 units after merging"), "{md}");
    let model = tiny_model_dir("llama").to_str().unwrap().to_string();
    for heading in ["### Summary", "### Mean part MRD", "S(en,x)"] {
        assert!(md.contains(heading), "{heading} missing: {md}");
    }
    assert!(md.contains(&format!("| {model} | 0 | v1 |")), "{md}");
    // Both shards' pools were merged: every S(en,x) has a denominator of 3 samples.
    let sim = std::fs::read_to_string(report_dir.join("similarity.csv")).unwrap();
    assert!(sim.lines().count() > 1);
    assert!(
        sim.lines().skip(1).all(|l| !l.ends_with(',')),
        "S(en,x) missing: {sim}"
    );
    assert!(stdout.contains("report.md"), "{stdout}");
    let plots: Vec<String> = std::fs::read_dir(&report_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    assert!(
        plots.iter().any(|n| n.starts_with("similarity_")),
        "{plots:?}"
    );
    assert!(plots.iter().any(|n| n.starts_with("mrd_")), "{plots:?}");
}

//! `xmrc-lens report`: merging shards, the tables' figures (checked by hand against the
//! fixture's design in `report::synthetic`), the written files and the command line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{bin, repo_path};
use std::path::{Path, PathBuf};
use xmrc_lens::eval::normalize::Normalizer;
use xmrc_lens::report::aggregate::Incorrect;
use xmrc_lens::report::merge::{self, Merged};
use xmrc_lens::report::synthetic;
use xmrc_lens::report::table::{Cell, Table};
use xmrc_lens::report::{self as rep, ReportOptions};

fn fixture_dir() -> PathBuf {
    repo_path("tests/fixtures/results")
}

fn shards() -> Vec<PathBuf> {
    vec![
        fixture_dir().join("results.1.jsonl"),
        fixture_dir().join("results.2.jsonl"),
    ]
}

fn options(paper: bool) -> ReportOptions {
    ReportOptions {
        normalizer: Normalizer::Squad,
        judge: None,
        paper,
        plots: false,
    }
}

fn load(paths: &[PathBuf]) -> Merged {
    merge::load(paths, false).unwrap()
}

fn table<'a>(report: &'a rep::Report, id: &str) -> &'a Table {
    report.tables.iter().find(|t| t.id == id).unwrap()
}

fn num(cell: &Cell) -> f64 {
    match cell {
        Cell::Num(Some(v)) => *v,
        Cell::Count(n) => *n as f64,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(cell: &Cell) -> &str {
    match cell {
        Cell::Text(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

/// The row of a table whose leading cells are `lead` (as text).
fn row<'a>(t: &'a Table, lead: &[&str]) -> &'a [Cell] {
    t.rows
        .iter()
        .find(|r| {
            lead.iter().zip(r.iter()).all(|(want, c)| match c {
                Cell::Text(s) => s == want,
                Cell::Count(n) => n.to_string() == *want,
                _ => false,
            })
        })
        .unwrap_or_else(|| panic!("no row {lead:?} in {}", t.id))
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

/// Copies the fixture shards (with sidecars) into a temporary folder.
fn copy_fixture(dir: &Path) -> Vec<PathBuf> {
    shards()
        .iter()
        .map(|src| {
            let dst = dir.join(src.file_name().unwrap());
            std::fs::copy(src, &dst).unwrap();
            let pool = xmrc_lens::batch::pool_path(src);
            std::fs::copy(&pool, xmrc_lens::batch::pool_path(&dst)).unwrap();
            dst
        })
        .collect()
}

#[test]
fn the_committed_fixture_is_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = synthetic::write_fixture(dir.path()).unwrap();
    if std::env::var_os("XMRC_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(fixture_dir()).unwrap();
        synthetic::write_fixture(&fixture_dir()).unwrap();
    }
    for (fresh, committed) in fresh.iter().zip(shards()) {
        for (a, b) in [
            (fresh.clone(), committed.clone()),
            (
                xmrc_lens::batch::pool_path(fresh),
                xmrc_lens::batch::pool_path(&committed),
            ),
        ] {
            assert_eq!(
                std::fs::read(&a).unwrap(),
                std::fs::read(&b).unwrap(),
                "{} is stale: rerun with XMRC_UPDATE_FIXTURES=1",
                b.display()
            );
        }
    }
}

#[test]
fn markdown_tables_match_the_snapshot() {
    let merged = load(&shards());
    let report = rep::build(&merged, &options(true)).unwrap();
    // Paths differ between machines.
    let md = report.markdown.replace(
        &fixture_dir().display().to_string(),
        "tests/fixtures/results",
    );
    insta::assert_snapshot!("report_fixture", md);
}

#[test]
fn summary_figures_are_the_hand_computed_ones() {
    let report = rep::build(&load(&shards()), &options(false)).unwrap();
    let model = synthetic::FIXTURE_MODEL;
    let s = row(table(&report, "summary"), &[model, "2", "v1"]);
    // en-en: (100 + 100 + 80 + 60) / 4.
    close(num(&s[3]), 85.0);
    // en-x per language: de (80 + 0 + 60 + 100) / 4 = 60, zh (60 + 0 + 0 + 100) / 4 = 40,
    // ar (100 + 30 + 20 + 75) / 4 = 56.25; mean 52.0833.
    close(num(&s[4]), (60.0 + 40.0 + 56.25) / 3.0);
    // x-x: de 75, zh 50, ar 32.5.
    close(num(&s[5]), 52.5);
    close(num(&s[6]), (60.0 + 40.0 + 56.25) / 3.0 / 85.0);
    close(num(&s[7]), 52.5 / 85.0);
    // Error rates divide by the incorrect responses (EM = 0, i.e. F1 < 100 in the fixture):
    // de 3 (F1 80, 0, 60), zh 3 (60, 0, 0), ar 3 (30, 20, 75), en-en 2 (80, 60).
    // Language errors where en-x F1 is 0: de 1/3, zh 2/3, ar 0/3.
    close(num(&s[8]), (100.0 / 3.0 + 200.0 / 3.0 + 0.0) / 3.0);
    // Generation errors: zh blank + refusal (2/3), ar gibberish (1/3), de none.
    close(num(&s[9]), (0.0 + 200.0 / 3.0 + 100.0 / 3.0) / 3.0);
    // en-en: none among its 2 incorrect responses.
    close(num(&s[10]), 0.0);
    // The same over all responses, in the "(all)" columns: de 1/4, zh 2/4, ar 0/4; zh 2/4,
    // ar 1/4.
    let summary = table(&report, "summary");
    assert_eq!(summary.columns[11], "mean language error % (all)");
    close(num(&s[11]), 25.0);
    close(num(&s[12]), 25.0);
    close(num(&s[13]), 0.0);
    // EM: 100 only where F1 is 100: en-en 2/4.
    let em = row(table(&report, "summary_em"), &[model, "2", "v1"]);
    close(num(&em[3]), 50.0);
    // v2 halves en-x F1.
    let v2 = row(table(&report, "summary"), &[model, "2", "v2"]);
    close(num(&v2[4]), (60.0 + 40.0 + 56.25) / 6.0);
    // v2: every en-x answer is incorrect (F1 <= 50), so its rates equal the all-response ones.
    close(num(&v2[8]), 25.0);
    close(num(&v2[9]), 25.0);

    let g = row(table(&report, "gibberish"), &[model, "2", "v1"]);
    // en-en, de, zh, ar, then the same over all responses: ar 1 of 3 incorrect, 1 of 4.
    close(num(&g[6]), 100.0 / 3.0);
    close(num(&g[10]), 25.0);
    let n = row(table(&report, "incorrect"), &[model, "2", "v1"]);
    assert_eq!(
        n[3..].iter().map(num).collect::<Vec<_>>(),
        vec![2.0, 3.0, 3.0, 3.0]
    );
    let o = row(table(&report, "oracle"), &[model, "2", "v1"]);
    // Step correct where F1 >= 50: en-en 4/4; de 3/4, zh 2/4, ar 2/4.
    close(num(&o[3]), 100.0);
    close(num(&o[4]), (75.0 + 50.0 + 50.0) / 3.0);
    // Sequence correct where F1 > 0: de 3/4, zh 2/4, ar 4/4.
    close(num(&o[6]), 75.0);
}

#[test]
fn error_tables_follow_the_incorrect_rule_and_name_it() {
    let merged = load(&shards());
    let model = synthetic::FIXTURE_MODEL;
    let em0 = rep::build(&merged, &options(true)).unwrap();
    let rule = "EM = 0 under the squad normaliser: the paper's W set";
    for id in [
        "summary",
        "incorrect",
        "language_error",
        "generation_error",
        "gibberish",
        "refusal",
        "blank",
        "paper_comparison",
    ] {
        let caption = &table(&em0, id).caption;
        assert!(caption.contains(rule), "{id}: {caption}");
        if id != "language_error" && id != "incorrect" {
            assert!(
                caption.contains("judged by the rule-based classifier"),
                "{id}: {caption}"
            );
        }
    }

    // F1 < 50: v1 en-en (F1 100, 100, 80, 60) has no incorrect response, so no rate: "–" in
    // markdown, an empty CSV cell, never 0; over all responses it is 0.
    let f1 = rep::build_with(&merged, &options(true), Incorrect::F1Below(50.0)).unwrap();
    let gen = table(&f1, "generation_error");
    assert!(
        gen.caption.contains("F1 < 50 under the squad normaliser"),
        "{}",
        gen.caption
    );
    assert!(
        gen.caption.contains("--incorrect f1-below:50"),
        "{}",
        gen.caption
    );
    let r = row(gen, &[model, "2", "v1"]);
    assert_eq!(r[3], Cell::Num(None));
    assert_eq!(gen.columns[7], "en-en (all)");
    close(num(&r[7]), 0.0);
    // zh: the two 0-F1 answers are incorrect, one blank and one refusal: 100 %.
    close(num(&r[5]), 100.0);
    let line = gen
        .csv()
        .lines()
        .find(|l| l.starts_with(&format!("{model},2,v1,")))
        .unwrap()
        .to_string();
    assert_eq!(line, format!("{model},2,v1,,0,100,50,0,0,50,25"));
    assert!(
        gen.markdown()
            .contains(&format!("| {model} | 2 | v1 | – | 0.00 | 100.00 | 50.00 |")),
        "{}",
        gen.markdown()
    );
    let n = row(table(&f1, "incorrect"), &[model, "2", "v1"]);
    assert_eq!(
        n[3..].iter().map(num).collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0, 2.0]
    );
    // The comparison says that the rule is not the paper's, and compares "–" where we have
    // no rate.
    let paper = f1.paper.as_deref().unwrap();
    assert!(
        paper.contains("--incorrect em0 to compare like with like"),
        "{paper}"
    );
    assert!(
        paper.contains("| generation error % of incorrect en-en | 0.85 | – | – |"),
        "{paper}"
    );
    // Under EM = 0, the comparison's rates are the per-language tables' (over the incorrect
    // responses), not the all-response ones: zh 2 of 3.
    let em0_paper = em0.paper.as_deref().unwrap();
    assert!(
        em0_paper.contains("| language error % of incorrect en-zh | 0.36 | 66.67 | 66.31 |"),
        "{em0_paper}"
    );
    assert!(!em0_paper.contains("compare like with like"), "{em0_paper}");
}

#[test]
fn mrd_groups_and_means_are_the_hand_computed_ones() {
    let report = rep::build(&load(&shards()), &options(false)).unwrap();
    let t = table(&report, "mrd");
    let model = synthetic::FIXTURE_MODEL;
    // Samples 0 and 3 are balanced, 1 and 2 en-superior; context MRD = 1 + k*k/2 (integer
    // division) + lang index (en 0, de 1, zh 2, ar 3).
    let de = row(t, &[model, "2", "v1", "balanced"]);
    assert_eq!(num(&de[4]), 2.0, "samples");
    let de = t
        .rows
        .iter()
        .find(|r| text(&r[3]) == "balanced" && text(&r[5]) == "de" && text(&r[2]) == "v1")
        .unwrap();
    let col = |name: &str| t.columns.iter().position(|c| c == name).unwrap();
    // Context: samples 0 and 3 -> (1 + 0 + 1 + 1 + 4 + 1) / 2 = 4.
    close(num(&de[col("context")]), 4.0);
    // Question: 7 - k % 2: samples 0 and 3 -> (7 + 6) / 2.
    close(num(&de[col("question")]), 6.5);
    let sup = t
        .rows
        .iter()
        .find(|r| text(&r[3]) == "en-superior" && text(&r[5]) == "ar" && text(&r[2]) == "v1")
        .unwrap();
    // Samples 1 and 2 in ar: (1 + 0 + 3 + 1 + 2 + 3) / 2 = 5.
    close(num(&sup[col("context")]), 5.0);
    assert!(t.caption.contains("2 balanced of 4"), "{}", t.caption);
}

#[test]
fn s_en_x_divides_by_the_merged_pool() {
    let report = rep::build(&load(&shards()), &options(false)).unwrap();
    let t = table(&report, "similarity");
    let model = synthetic::FIXTURE_MODEL;
    let r = t
        .rows
        .iter()
        .find(|r| {
            text(&r[0]) == model
                && text(&r[2]) == "v1"
                && text(&r[3]) == "en-x"
                && text(&r[4]) == "de"
                && text(&r[5]) == "question"
                && num(&r[6]) == 2.0
        })
        .unwrap();
    // Numerator: mean over k = 0..3 of 0.3 + 0.05 k + 0.04 * 2 + 0.02 * 1 = 0.475.
    close(num(&r[8]), 0.475);
    // Denominator: unit vectors at 0, 30, 60, 90 degrees, split over the two shards' pools:
    // (3 cos 30 + 2 cos 60 + cos 90) / 6.
    let within = (3.0 * 30f64.to_radians().cos() + 2.0 * 0.5) / 6.0;
    assert!((num(&r[9]) - within).abs() < 1e-6, "{}", num(&r[9]));
    assert!(
        (num(&r[10]) - 0.475 / within).abs() < 1e-5,
        "{}",
        num(&r[10])
    );
    // The pools of one shard alone hold two samples: another denominator.
    let one = rep::build(&load(&shards()[..1]), &options(false)).unwrap();
    let r1 = row(
        table(&one, "similarity"),
        &[model, "2", "v1", "en-x", "de", "question"],
    );
    // (The pooled vectors are f32.)
    assert!((num(&r1[9]) - 30f64.to_radians().cos()).abs() < 1e-6);
}

#[test]
fn files_are_written_and_well_formed() {
    let out = tempfile::tempdir().unwrap();
    let report = rep::build(&load(&shards()), &options(true)).unwrap();
    let written = rep::write(&report, out.path(), true).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "report.md",
        "summary.csv",
        "f1_en_x.csv",
        "language_error.csv",
        "oracle.csv",
        "mrd.csv",
        "similarity.csv",
        "paper_comparison.csv",
        "mrd_meta-llama-llama-3-1-8b-instruct_2shot_v1.png",
        "mrd_meta-llama-llama-3-1-8b-instruct_2shot_v1.svg",
        "similarity_meta-llama-llama-3-1-8b-instruct_2shot_v1.png",
        "similarity_meta-llama-llama-3-1-8b-instruct_2shot_v2_x-x.svg",
        "lens.csv",
        "lens_decisions.csv",
        "lens_meta-llama-llama-3-1-8b-instruct_2shot_v1_en-x.png",
        "lens_meta-llama-llama-3-1-8b-instruct_2shot_v1_en-en.svg",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    // The lens plot names its languages and its curves.
    let lens_svg = std::fs::read_to_string(
        out.path()
            .join("lens_meta-llama-llama-3-1-8b-instruct_2shot_v1_en-x.svg"),
    )
    .unwrap();
    for text in ["P_en", "P_x", "de (n = 4)", "zh (n = 4)", "de (n = 3)"] {
        assert!(lens_svg.contains(text), "{text} not in the lens plot");
    }
    for path in &written {
        let bytes = std::fs::read(path).unwrap();
        assert!(!bytes.is_empty(), "{} is empty", path.display());
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => {
                let text = String::from_utf8(bytes).unwrap();
                let mut lines = text.lines();
                let columns = lines.next().unwrap().split(',').count();
                for line in lines {
                    // The fixture has no quoted fields.
                    assert_eq!(
                        line.split(',').count(),
                        columns,
                        "{}: {line}",
                        path.display()
                    );
                }
            }
            Some("png") => {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
                assert!(bytes.len() > 10_000, "{} is nearly empty", path.display());
            }
            Some("svg") => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.trim_start().starts_with("<svg"), "{}", path.display());
                assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
                assert!(text.contains("<text"), "{}: no labels", path.display());
            }
            _ => {}
        }
    }
}

#[test]
fn identical_duplicates_count_once_and_their_pool_is_skipped() {
    let mut paths = shards();
    paths.push(shards()[0].clone());
    let merged = load(&paths);
    assert_eq!(merged.units.len(), 56);
    assert_eq!(merged.duplicates, 28);
    let pool = merged.inputs[2].pool.unwrap();
    // Two formats x two scenarios.
    assert_eq!((pool.merged, pool.skipped), (0, 4));
    let report = rep::build(&merged, &options(false)).unwrap();
    let single = rep::build(&load(&shards()), &options(false)).unwrap();
    assert_eq!(
        table(&report, "similarity").csv(),
        table(&single, "similarity").csv()
    );
    assert!(report.markdown.contains("28 duplicates dropped"));
}

#[test]
fn conflicting_duplicates_are_refused_with_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let paths = copy_fixture(dir.path());
    let other = dir.path().join("other.jsonl");
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    // Another answer for the first unit line.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replace("\"answer\":\"answer 100\"", "\"answer\":\"another\"");
    std::fs::write(&other, lines.join("\n") + "\n").unwrap();
    let err = merge::load(&[paths[0].clone(), other.clone()], false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("conflicting duplicates"), "{msg}");
    assert!(msg.contains("answer differs"), "{msg}");
    assert!(
        msg.contains("results.1.jsonl") && msg.contains("other.jsonl"),
        "{msg}"
    );
    assert!(msg.contains("q0000"), "{msg}");
}

#[test]
fn a_partly_overlapping_pool_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let paths = copy_fixture(dir.path());
    // Shard 1's units, but a pool holding samples of both shards.
    let (_, both) = synthetic::fixture_shard(1..3).unwrap();
    let overlap = dir.path().join("overlap.jsonl");
    std::fs::copy(&paths[1], &overlap).unwrap();
    xmrc_lens::batch::results_file::write_pool(&overlap, &both).unwrap();
    let err = merge::load(&[paths[0].clone(), overlap], false).unwrap_err();
    assert!(format!("{err:#}").contains("overlap partly"), "{err:#}");
}

#[test]
fn other_settings_need_allow_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let paths = copy_fixture(dir.path());
    let text = std::fs::read_to_string(&paths[1]).unwrap();
    std::fs::write(&paths[1], text.replacen("\"seed\":0", "\"seed\":7", 1)).unwrap();
    let err = merge::load(&paths, false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("seed: 0 vs 7") && msg.contains("--allow-mixed"),
        "{msg}"
    );
    let merged = merge::load(&paths, true).unwrap();
    assert_eq!(merged.mixed_settings.len(), 1);
}

#[test]
fn the_binary_reports_the_fixture_beside_the_paper() {
    let out = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut paths = copy_fixture(dir.path());
    // A torn last line is dropped with a warning.
    let mut text = std::fs::read_to_string(&paths[1]).unwrap();
    text.push_str("{\"kind\":\"unit\",\"key\":{\"model\"");
    std::fs::write(&paths[1], text).unwrap();
    paths.push(paths[0].clone());
    let assert = bin()
        .arg("report")
        .args(&paths)
        .arg("--out")
        .arg(out.path())
        .arg("--paper")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("torn last line"), "{stderr}");
    assert!(stderr.contains("28 duplicate units"), "{stderr}");
    // The paper's LLaMA-3.1-Instruct-8B: en-en F1 77.89 (Table 2), ours 85.
    assert!(stdout.contains("LLaMA-3.1-Instruct-8B"), "{stdout}");
    assert!(
        stdout.contains("| F1 en-en | 77.89 | 85.00 | 7.11 |"),
        "{stdout}"
    );
    assert!(stdout.contains("format v1 compared"), "{stdout}");
    assert!(stdout.contains("wrote "), "{stdout}");
    assert!(out.path().join("report.md").is_file());
    assert!(out
        .path()
        .join("similarity_meta-llama-llama-3-1-8b-instruct_2shot_v1.png")
        .is_file());
}

#[test]
fn the_binary_takes_the_incorrect_rule() {
    let out = tempfile::tempdir().unwrap();
    bin()
        .arg("report")
        .args(shards())
        .arg("--out")
        .arg(out.path())
        .args(["--incorrect", "f1-below:50", "--no-plots"])
        .assert()
        .success();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains("F1 < 50 under the squad normaliser, by --incorrect f1-below:50"),
        "{md}"
    );
    let csv = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    // v1 en-en has no incorrect response under F1 < 50: its generation-error cell is empty.
    let v1 = csv.lines().find(|l| l.contains(",2,v1,")).unwrap();
    let cells: Vec<&str> = v1.split(',').collect();
    assert_eq!(cells[10], "", "{v1}");
    assert_eq!(cells[13], "0", "{v1}");
    bin()
        .arg("report")
        .args(shards())
        .arg("--out")
        .arg(out.path())
        .args(["--incorrect", "f1-below:150"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("f1-below:T"));
}

#[test]
fn the_binary_names_a_missing_file() {
    let out = tempfile::tempdir().unwrap();
    bin()
        .arg("report")
        .arg("no/such/results.jsonl")
        .arg("--out")
        .arg(out.path())
        .assert()
        .failure()
        .stderr(predicates::str::contains("no/such/results.jsonl"));
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! xmrc-lens scores against the Python reference (`scripts/reference_scores.py`, which follows
//! the official SQuAD v1.1 and MLQA scripts), plus properties every score must have.

use proptest::prelude::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use xmrc_lens::data::Lang;
use xmrc_lens::eval::jsonl::{score_jsonl, ScoreFileOptions};
use xmrc_lens::eval::normalize::{normalize, Normalizer};
use xmrc_lens::eval::score::{score, score_both};

const TOLERANCE: f64 = 1e-9;

#[derive(Deserialize)]
struct Case {
    id: String,
    lang: Lang,
    prediction: String,
    answers: Vec<String>,
}

#[derive(Deserialize, Clone, Copy)]
struct Metrics {
    f1: f64,
    em: f64,
}

#[derive(Deserialize)]
struct Expected {
    id: String,
    squad: Metrics,
    mlqa: Metrics,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/scoring")
        .join(name)
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1))
        })
        .collect()
}

fn expected_by_id() -> HashMap<String, Expected> {
    read_jsonl::<Expected>("expected.jsonl")
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect()
}

fn mismatch(id: &str, normalizer: Normalizer, got: (f64, f64), want: Metrics) -> Option<String> {
    let (f1, em) = got;
    let off = (f1 - want.f1).abs() >= TOLERANCE || (em - want.em).abs() >= TOLERANCE;
    off.then(|| {
        format!(
            "{id} [{normalizer}]: got F1 {f1} EM {em}, reference F1 {} EM {}",
            want.f1, want.em
        )
    })
}

#[test]
fn fixtures_cover_every_language() {
    let cases: Vec<Case> = read_jsonl("cases.jsonl");
    assert!(cases.len() >= 72, "only {} cases", cases.len());
    for lang in Lang::ALL {
        let n = cases.iter().filter(|c| c.lang == lang).count();
        assert!(n >= 6, "{lang}: only {n} cases");
    }
    let expected = expected_by_id();
    assert_eq!(
        expected.len(),
        cases.len(),
        "run scripts/reference_scores.py"
    );
}

#[test]
fn scores_match_the_python_reference() {
    let cases: Vec<Case> = read_jsonl("cases.jsonl");
    let expected = expected_by_id();
    let mut problems = Vec::new();
    for case in &cases {
        let Some(want) = expected.get(&case.id) else {
            problems.push(format!("{}: missing from expected.jsonl", case.id));
            continue;
        };
        let [squad, mlqa] = score_both(&case.prediction, &case.answers, case.lang);
        problems.extend(mismatch(
            &case.id,
            Normalizer::Squad,
            (squad.f1, squad.em),
            want.squad,
        ));
        problems.extend(mismatch(
            &case.id,
            Normalizer::Mlqa,
            (mlqa.f1, mlqa.em),
            want.mlqa,
        ));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_jsonl_engine_agrees_with_the_reference() {
    let input = std::fs::read(fixture("cases.jsonl")).unwrap();
    let mut output = Vec::new();
    let summary = score_jsonl(input.as_slice(), &mut output, &ScoreFileOptions::default()).unwrap();
    let expected = expected_by_id();
    assert_eq!(summary.overall.count, expected.len());
    let mut problems = Vec::new();
    let mut squad_f1_sum = 0.0;
    for line in String::from_utf8(output).unwrap().lines() {
        let scored: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = scored["id"].as_str().unwrap();
        assert!(scored["note"].is_string(), "{id}: extra field lost");
        let want = &expected[id];
        for (normalizer, want) in [
            (Normalizer::Squad, want.squad),
            (Normalizer::Mlqa, want.mlqa),
        ] {
            let got = &scored[normalizer.name()];
            let got = (got["f1"].as_f64().unwrap(), got["em"].as_f64().unwrap());
            problems.extend(mismatch(id, normalizer, got, want));
        }
        squad_f1_sum += want.squad.f1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let mean = squad_f1_sum / expected.len() as f64;
    assert!((summary.overall.squad.f1 - mean).abs() < TOLERANCE);
}

fn any_lang() -> impl Strategy<Value = Lang> {
    prop::sample::select(Lang::ALL.to_vec())
}

fn any_normalizer() -> impl Strategy<Value = Normalizer> {
    prop::sample::select(Normalizer::ALL.to_vec())
}

/// Text that mixes the characters the normalisers treat specially with arbitrary ones.
fn answer_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "the", "a", "an", "der", "los", "của", "ال", " ", "\u{a0}", "\u{3000}", "\u{1f}", ",", "«",
        "»", "。", "।", "Σ", "İ", "I", "\u{301}", "\u{307}", "北", "京", "年", "ก", "ุ", "1876",
        "Paris", "-", "_",
    ]);
    let piece = prop_oneof![
        pieces.prop_map(String::from),
        any::<char>().prop_map(String::from)
    ];
    prop::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn f1_is_within_bounds(p in answer_text(), g in answer_text(), n in any_normalizer(), l in any_lang()) {
        let s = score(&p, &[&g], n, l);
        prop_assert!((0.0..=100.0).contains(&s.f1), "{s:?}");
        prop_assert!(s.em == 0.0 || s.em == 100.0, "{s:?}");
    }

    #[test]
    fn exact_match_implies_full_f1(p in answer_text(), g in answer_text(), n in any_normalizer(), l in any_lang()) {
        let s = score(&p, &[&g], n, l);
        // The scripts give F1 0 to two answers that both normalise to nothing.
        if s.em == 100.0 && !normalize(&p, n, l).is_empty() {
            prop_assert_eq!(s.f1, 100.0);
        }
    }

    #[test]
    fn f1_is_symmetric_for_one_gold(p in answer_text(), g in answer_text(), n in any_normalizer(), l in any_lang()) {
        let forward = score(&p, &[&g], n, l).f1;
        let backward = score(&g, &[&p], n, l).f1;
        prop_assert!((forward - backward).abs() < TOLERANCE, "{forward} vs {backward}");
    }

    #[test]
    fn squad_normalisation_is_idempotent(t in answer_text(), l in any_lang()) {
        let once = normalize(&t, Normalizer::Squad, l);
        prop_assert_eq!(normalize(&once, Normalizer::Squad, l), once);
    }

    #[test]
    fn a_prediction_matches_itself(p in answer_text(), n in any_normalizer(), l in any_lang()) {
        let s = score(&p, &[&p], n, l);
        if !normalize(&p, n, l).is_empty() {
            prop_assert_eq!((s.f1, s.em), (100.0, 100.0));
        } else {
            prop_assert_eq!((s.f1, s.em), (0.0, 100.0));
        }
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Data loading end to end: the invented mini sets, every broken case, MLQA-style
//! intersection, parquet against JSON, the HF cache offline, and (when `XMRC_LENS_DATA`
//! names it) the real XQuAD folder.

mod common;

use proptest::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use xmrc_lens::data::hub::{
    load_hub_from_cache, load_hub_with, parquet_file_name, read_parquet_lang,
};
use xmrc_lens::data::loader::{
    load_dir, load_dir_report, parse_squad, read_squad_file, DataError, IdPolicy, LoadOptions,
    DATA_DIR_ENV,
};
use xmrc_lens::data::source::{load, resolve_source, DataSource};
use xmrc_lens::data::{Dataset, Lang};
use xmrc_lens::hf::hub::HubSettings;

/// Serialises the tests that read or change `XMRC_LENS_DATA`.
static ENV_LOCK: Mutex<()> = Mutex::new(());

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn mini() -> PathBuf {
    fixtures().join("xquad-mini")
}

fn broken(case: &str) -> PathBuf {
    fixtures().join("broken").join(case)
}

fn parquet_dir() -> PathBuf {
    fixtures().join("parquet")
}

fn load_error(dir: &Path) -> (DataError, String) {
    let err = load_dir(dir, &LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    (err, msg)
}

fn ids(data: &Dataset) -> Vec<&str> {
    data.samples.iter().map(|s| s.id.as_str()).collect()
}

const MINI_IDS: [&str; 14] = [
    "velmora-founded",
    "velmora-river",
    "velmora-population",
    "townhall-architect",
    "townhall-tower",
    "bridge-arches",
    "bridge-ferry",
    "bridge-inspection",
    "bridge-winter",
    "festival-month",
    "festival-place",
    "observatory-altitude",
    "observatory-mirror",
    "observatory-site",
];

// ------------------------------------------------------------------------------------------
// The mini set.

#[test]
fn mini_set_loads_with_counts_titles_articles_and_offsets() {
    let data = load_dir(&mini(), &LoadOptions::default()).unwrap();
    assert_eq!(data.langs, Lang::ALL.to_vec());
    assert_eq!(ids(&data), MINI_IDS);
    assert!(data.source.contains("xquad-mini"), "{}", data.source);

    let articles: Vec<usize> = data.samples.iter().map(|s| s.article).collect();
    assert_eq!(articles, [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3]);
    let titles: Vec<&str> = data.samples.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles[0], "Velmora");
    assert_eq!(titles[5], "Korren_Bridge");
    assert_eq!(titles[13], "Aster_Observatory");

    for lang in Lang::ALL {
        let contexts: HashSet<&str> = data
            .samples
            .iter()
            .map(|s| s.entry(lang).unwrap().context.as_str())
            .collect();
        assert_eq!(contexts.len(), 6, "{lang}: 6 paragraphs");
    }
    // Offsets are code points in each language's own context.
    common::assert_answers_at_offsets(&data);
    for sample in &data.samples {
        assert_eq!(sample.entries.len(), 12);
    }
    let architect = &data.samples[3];
    assert_eq!(
        architect.entry(Lang::De).unwrap().answers[0].text,
        "Jonas Ødegård"
    );
    assert_eq!(
        architect.entry(Lang::Hi).unwrap().answers[0].text,
        "योनास ओडेगार्ड"
    );
    // A multi-byte context: the code-point offset differs from the byte offset.
    let zh = data.samples[4].entry(Lang::Zh).unwrap();
    assert_eq!(zh.answers[0].text, "46米");
    assert_ne!(zh.context.find("46米"), Some(zh.answers[0].start));
    assert_eq!(data.samples[11].entry(Lang::En).unwrap().answers.len(), 2);
}

#[test]
fn requested_languages_are_loaded_with_english() {
    let opts = LoadOptions {
        langs: Some(vec![Lang::Th, Lang::De]),
        ..LoadOptions::default()
    };
    let data = load_dir(&mini(), &opts).unwrap();
    assert_eq!(data.langs, [Lang::En, Lang::De, Lang::Th]);
    assert!(data.samples.iter().all(|s| s.entries.keys().copied().eq([
        Lang::En,
        Lang::De,
        Lang::Th
    ])));
}

#[test]
fn load_through_a_dir_source() {
    let data = load(&DataSource::Dir(mini()), &LoadOptions::default()).unwrap();
    assert_eq!(data.len(), 14);
}

// ------------------------------------------------------------------------------------------
// Broken folders: each gives its own error naming file and item.

#[test]
fn malformed_json_names_file_line_and_column() {
    let (err, msg) = load_error(&broken("malformed-json"));
    let DataError::Json {
        path, line, column, ..
    } = &err
    else {
        panic!("expected a JSON error, got {err}");
    };
    assert!(path.ends_with("malformed-json/de.json"), "{msg}");
    assert!(*line > 1 && *column > 0, "{msg}");
    assert!(
        msg.contains(&format!(
            "de.json:{line}:{column}: not valid SQuAD-v1.1 JSON: EOF"
        )),
        "{msg}"
    );
}

#[test]
fn missing_languages_name_the_expected_files_and_the_folder() {
    let dir = broken("missing-language");
    let (err, msg) = load_error(&dir);
    assert!(matches!(err, DataError::MissingLang { .. }), "{msg}");
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(msg.contains("es (expected xquad.es.json)"), "{msg}");
    assert!(msg.contains("tr (expected xquad.tr.json)"), "{msg}");
    assert!(!msg.contains("de (expected"), "{msg}");
    // Asking for what is there loads it.
    let opts = LoadOptions {
        langs: Some(vec![Lang::De]),
        ..LoadOptions::default()
    };
    assert_eq!(load_dir(&dir, &opts).unwrap().langs, [Lang::En, Lang::De]);
    let opts = LoadOptions {
        langs: Some(vec![Lang::Ru]),
        ..LoadOptions::default()
    };
    let msg = load_dir(&dir, &opts).unwrap_err().to_string();
    assert!(msg.contains("ru (expected xquad.ru.json)"), "{msg}");
}

#[test]
fn english_is_required() {
    let (err, msg) = load_error(&broken("no-english"));
    assert!(matches!(err, DataError::MissingEnglish { .. }), "{msg}");
    assert!(
        msg.contains("no-english has no English file (expected en.json)"),
        "{msg}"
    );
}

#[test]
fn differing_ids_name_both_files_the_position_and_both_ids() {
    let (err, msg) = load_error(&broken("ids-differ"));
    assert!(matches!(err, DataError::IdMismatch { .. }), "{msg}");
    assert!(
        msg.contains("ids-differ/en.json and "),
        "first file named: {msg}"
    );
    assert!(
        msg.contains("ids-differ/de.json differ at question #3: 'townhall-architect' vs 'townhall-architekt'"),
        "{msg}"
    );
}

#[test]
fn offset_mismatch_names_file_id_offset_and_both_texts() {
    let good = read_squad_file(&mini().join("xquad.de.json")).unwrap();
    let arches = good.iter().find(|r| r.id == "bridge-arches").unwrap();
    let start = arches.entry.answers[0].start + 3;
    let found: String = arches.entry.context.chars().skip(start).take(6).collect();

    let (err, msg) = load_error(&broken("offset-mismatch"));
    assert!(matches!(err, DataError::OffsetMismatch(_)), "{msg}");
    assert!(
        msg.contains(&format!(
            "offset-mismatch/de.json: question bridge-arches: answer_start {start} does not point at the answer: expected \"sieben\" but the context has \"{found}\" there"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("occurs at code point {}", start - 3)),
        "{msg}"
    );
}

#[test]
fn question_without_answer_is_named() {
    let (err, msg) = load_error(&broken("no-answers"));
    assert!(matches!(err, DataError::NoAnswers { .. }), "{msg}");
    assert!(
        msg.contains("no-answers/en.json: question festival-place has no answer"),
        "{msg}"
    );
}

#[test]
fn duplicate_id_names_both_positions() {
    let (err, msg) = load_error(&broken("duplicate-id"));
    assert!(matches!(err, DataError::DuplicateId { .. }), "{msg}");
    assert!(
        msg.contains("duplicate-id/de.json: question id observatory-altitude appears twice (questions #11 and #13)"),
        "{msg}"
    );
}

#[test]
fn two_files_for_one_language_are_both_named() {
    let (err, msg) = load_error(&broken("two-files-one-lang"));
    assert!(
        matches!(err, DataError::DuplicateLang { lang: Lang::De, .. }),
        "{msg}"
    );
    assert!(msg.contains("mini.de.json and "), "{msg}");
    assert!(msg.contains("two-files-one-lang/xquad.de.json"), "{msg}");
}

#[test]
fn folders_that_are_not_data_folders() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "hello").unwrap();
    let (err, msg) = load_error(empty.path());
    assert!(matches!(err, DataError::NoDataFiles { .. }), "{msg}");
    assert!(msg.contains("xquad.<lang>.json"), "{msg}");

    let (err, msg) = load_error(&empty.path().join("nowhere"));
    assert!(matches!(err, DataError::Io { .. }), "{msg}");
    assert!(msg.contains("nowhere"), "{msg}");

    let (err, msg) = load_error(&empty.path().join("notes.txt"));
    assert!(matches!(err, DataError::NotADirectory { .. }), "{msg}");
}

// ------------------------------------------------------------------------------------------
// MLQA-style folders.

#[test]
fn mlqa_intersection_keeps_shared_ids_in_english_order() {
    let dir = fixtures().join("mlqa-mini");
    let opts = LoadOptions {
        langs: None,
        id_policy: IdPolicy::Intersect,
    };
    let loaded = load_dir_report(&dir, &opts).unwrap();
    let data = &loaded.dataset;
    // The cross-lingual file (context en, question de) is not a language of its own.
    assert_eq!(data.langs, [Lang::En, Lang::De, Lang::Zh]);
    assert_eq!(
        ids(data),
        ["velmora-founded", "bridge-arches", "bridge-ferry"]
    );
    // 7 distinct ids across the three files, 3 shared.
    assert_eq!(loaded.dropped, 4);
    let sample = &data.samples[1];
    assert_eq!(sample.entry(Lang::De).unwrap().answers[0].text, "sieben");
    assert_eq!(sample.entry(Lang::Zh).unwrap().answers[0].text, "七个");
    assert_eq!(sample.title, "Korren_Bridge");

    let msg = load_dir(&dir, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("--intersect-ids"), "{msg}");
    let opts = LoadOptions {
        langs: Some(vec![Lang::Ar]),
        id_policy: IdPolicy::Intersect,
    };
    let msg = load_dir(&dir, &opts).unwrap_err().to_string();
    assert!(
        msg.contains("ar (expected dev-context-ar-question-ar.json)"),
        "{msg}"
    );
}

// ------------------------------------------------------------------------------------------
// Parquet and the HF cache.

fn fixture_parquet(lang: Lang) -> PathBuf {
    parquet_dir().join(parquet_file_name(lang))
}

#[test]
fn parquet_matches_json_for_every_language() {
    for lang in Lang::ALL {
        let json = read_squad_file(&mini().join(format!("xquad.{lang}.json"))).unwrap();
        let parquet = read_parquet_lang(&fixture_parquet(lang), lang).unwrap();
        assert_eq!(parquet.len(), json.len(), "{lang}");
        for (p, j) in parquet.iter().zip(&json) {
            assert_eq!(p.id, j.id, "{lang}");
            assert_eq!(p.entry, j.entry, "{lang} {}", j.id);
        }
        // Without titles, articles are the runs of one context: the 6 paragraphs.
        let articles: Vec<usize> = parquet.iter().map(|r| r.article).collect();
        assert_eq!(
            articles,
            [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5],
            "{lang}"
        );
        assert_eq!(parquet[13].title, "article 5");
    }
}

#[test]
fn parquet_variants_list_of_structs_and_title_column() {
    let variants = parquet_dir().join("variants");
    let list = read_parquet_lang(
        &variants
            .join("list-of-structs")
            .join(parquet_file_name(Lang::De)),
        Lang::De,
    )
    .unwrap();
    assert_eq!(
        list,
        read_parquet_lang(&fixture_parquet(Lang::De), Lang::De).unwrap()
    );

    let titled = read_parquet_lang(
        &variants
            .join("with-title")
            .join(parquet_file_name(Lang::En)),
        Lang::En,
    )
    .unwrap();
    let json = read_squad_file(&mini().join("xquad.en.json")).unwrap();
    assert_eq!(
        titled, json,
        "a title column restores the JSON articles and titles"
    );
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Lays out `<hub>/datasets--google--xquad/{refs/main, snapshots/<commit>/...}` as
/// huggingface_hub does, with the fixture parquet files of `langs`.
fn make_cache(hub: &Path, langs: &[Lang], ref_text: &str) {
    let repo = hub.join("datasets--google--xquad");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), ref_text).unwrap();
    for lang in langs {
        let target = repo
            .join("snapshots")
            .join(COMMIT)
            .join(parquet_file_name(*lang));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(fixture_parquet(*lang), target).unwrap();
    }
}

fn same_content(a: &Dataset, b: &Dataset) {
    assert_eq!(a.langs, b.langs);
    assert_eq!(ids(a), ids(b));
    for (x, y) in a.samples.iter().zip(&b.samples) {
        assert_eq!(x.entries, y.entries, "{}", x.id);
    }
}

#[test]
fn hub_cache_loads_offline_like_the_json_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = tmp.path().join("hub");
    make_cache(&hub, &Lang::ALL, COMMIT);

    let from_cache = load_hub_from_cache(&hub, "google/xquad", None, &[]).unwrap();
    let from_json = load_dir(&mini(), &LoadOptions::default()).unwrap();
    same_content(&from_cache, &from_json);
    assert_eq!(from_cache.source, "hub google/xquad");
    assert_eq!(from_cache.samples[13].article, 5);

    // A revision given as the commit itself, and a subset of languages.
    let subset = load_hub_from_cache(&hub, "google/xquad", Some(COMMIT), &[Lang::Vi]).unwrap();
    assert_eq!(subset.langs, [Lang::En, Lang::Vi]);
    assert_eq!(subset.source, format!("hub google/xquad@{COMMIT}"));

    // HF_HOME + HF_HUB_OFFLINE, as the environment would give them.
    let settings =
        HubSettings::from_values(Some(tmp.path().into()), None, Some("1"), None, None).unwrap();
    assert_eq!(settings.cache_dir, hub);
    let via_env = load_hub_with(
        &settings,
        "google/xquad",
        None,
        &[Lang::Ar],
        IdPolicy::Identical,
    )
    .unwrap();
    assert_eq!(via_env.langs, [Lang::En, Lang::Ar]);
}

#[test]
fn hub_ref_file_with_trailing_newline_still_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(tmp.path(), &[Lang::En, Lang::Tr], &format!("{COMMIT}\n"));
    let data = load_hub_from_cache(tmp.path(), "google/xquad", None, &[Lang::Tr]).unwrap();
    assert_eq!(data.len(), 14);
}

#[test]
fn offline_with_nothing_cached_names_both_ways_out() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load_hub_from_cache(tmp.path(), "google/xquad", None, &[]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Offline { .. }), "{msg}");
    assert!(msg.contains("12 files are not in the cache"), "{msg}");
    assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
    assert!(
        msg.contains("xquad.en/validation-00000-of-00001.parquet"),
        "{msg}"
    );
    assert!(
        msg.contains("xquad.es/validation-00000-of-00001.parquet and 9 more"),
        "{msg}"
    );
    assert!(msg.contains("offline mode (HF_HUB_OFFLINE)"), "{msg}");
    assert!(msg.contains("--data DIR"), "{msg}");
    assert!(msg.contains("XMRC_LENS_DATA"), "{msg}");
    assert!(msg.contains("xquad.<lang>.json"), "{msg}");
    assert!(msg.contains("go online once"), "{msg}");

    // Partly cached: only the missing files are named.
    make_cache(tmp.path(), &[Lang::En], COMMIT);
    let msg = load_hub_from_cache(tmp.path(), "google/xquad", None, &[Lang::De, Lang::Zh])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("2 files are not in the cache"), "{msg}");
    assert!(!msg.contains("xquad.en/"), "{msg}");
}

#[test]
fn unreachable_hub_uses_the_cache_and_names_both_ways_out() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(tmp.path(), &[Lang::En], COMMIT);
    // Nothing listens on port 9 of this machine: the connection is refused at once.
    let settings = HubSettings {
        cache_dir: tmp.path().to_path_buf(),
        offline: false,
        token: Some("hf_not_a_real_token".to_string()),
        endpoint: Some("http://127.0.0.1:9".to_string()),
        progress: None,
    };
    let cached_only = load_hub_with(
        &settings,
        "google/xquad",
        None,
        &[Lang::En],
        IdPolicy::Identical,
    );
    assert_eq!(
        cached_only.unwrap().len(),
        14,
        "cached files need no network"
    );

    let err = load_hub_with(
        &settings,
        "google/xquad",
        None,
        &[Lang::Ro, Lang::Th],
        IdPolicy::Identical,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Offline { .. }), "{msg}");
    // Every file the hub did not deliver is reported, not only the first.
    assert!(msg.contains("2 files are not in the cache"), "{msg}");
    assert!(
        msg.contains("xquad.ro/validation-00000-of-00001.parquet, xquad.th/"),
        "{msg}"
    );
    assert!(msg.contains("the hub did not deliver them"), "{msg}");
    assert!(
        msg.contains("--data DIR") && msg.contains("XMRC_LENS_DATA"),
        "{msg}"
    );
    assert!(
        !msg.contains("hf_not_a_real_token"),
        "the token is never shown: {msg}"
    );
}

#[test]
fn corrupt_parquet_in_cache_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    make_cache(tmp.path(), &[Lang::En], COMMIT);
    let de = tmp
        .path()
        .join("datasets--google--xquad/snapshots")
        .join(COMMIT)
        .join(parquet_file_name(Lang::De));
    std::fs::create_dir_all(de.parent().unwrap()).unwrap();
    std::fs::write(&de, b"PAR1 not really parquet").unwrap();
    let err = load_hub_from_cache(tmp.path(), "google/xquad", None, &[Lang::De]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::Parquet { .. }), "{msg}");
    assert!(
        msg.contains("xquad.de/validation-00000-of-00001.parquet"),
        "{msg}"
    );
}

// ------------------------------------------------------------------------------------------
// Source resolution from the environment.

#[test]
fn env_var_names_the_data_folder_unless_data_is_given() {
    let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let saved = std::env::var_os(DATA_DIR_ENV);
    std::env::set_var(DATA_DIR_ENV, mini());
    let from_env = resolve_source(None);
    let from_cli = resolve_source(Some(Path::new("/somewhere/else")));
    std::env::remove_var(DATA_DIR_ENV);
    let unset = resolve_source(None);
    if let Some(value) = saved {
        std::env::set_var(DATA_DIR_ENV, value);
    }
    assert_eq!(from_env, DataSource::Dir(mini()));
    assert_eq!(from_cli, DataSource::Dir(PathBuf::from("/somewhere/else")));
    assert_eq!(
        unset,
        DataSource::Hub {
            repo: "google/xquad".to_string(),
            revision: None
        }
    );
    assert_eq!(load(&from_env, &LoadOptions::default()).unwrap().len(), 14);
}

// ------------------------------------------------------------------------------------------
// No panic on any input.

fn squad_json(context: &str, text: &str, start: usize) -> String {
    serde_json::json!({"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": context, "qas": [{"id": "q1", "question": "?",
            "answers": [{"answer_start": start, "text": text}]}]}]}]})
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic_the_json_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_squad(&bytes, Path::new("random.json"));
    }

    #[test]
    fn mutated_fixture_never_panics(position in 0usize..4000, byte in any::<u8>(), cut in 0usize..4000) {
        let mut bytes = std::fs::read(mini().join("xquad.ru.json")).unwrap();
        let at = position % bytes.len();
        bytes[at] = byte;
        bytes.truncate(bytes.len() - cut % 64);
        let _ = parse_squad(&bytes, Path::new("xquad.ru.json"));
    }

    #[test]
    fn answer_spans_are_checked_in_code_points(
        context in "[a-zé中ดें ]{0,40}",
        start in 0usize..50,
        len in 0usize..10,
    ) {
        let span: String = context.chars().skip(start).take(len).collect();
        let exact = squad_json(&context, &span, start);
        let result = parse_squad(exact.as_bytes(), Path::new("p.json"));
        // An empty span past the end of the context reads as "" and so matches.
        prop_assert!(result.is_ok(), "{:?}", result.err());
        let wrong = format!("{span}#");
        let bad = squad_json(&context, &wrong, start);
        let is_mismatch = matches!(
            parse_squad(bad.as_bytes(), Path::new("p.json")),
            Err(DataError::OffsetMismatch(_))
        );
        prop_assert!(is_mismatch);
    }
}

#[test]
fn random_and_mutated_parquet_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.parquet");
    let original = std::fs::read(fixture_parquet(Lang::El)).unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // xorshift: deterministic, no extra dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..64 {
        let mut bytes = original.clone();
        for _ in 0..(1 + round % 8) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        if round % 5 == 0 {
            bytes.truncate((next() as usize) % bytes.len());
        }
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_parquet_lang(&path, Lang::El);
    }
    let noise: Vec<u8> = (0..300).map(|_| next() as u8).collect();
    std::fs::write(&path, noise).unwrap();
    assert!(matches!(
        read_parquet_lang(&path, Lang::El),
        Err(DataError::Parquet { .. })
    ));
}

// ------------------------------------------------------------------------------------------
// The real XQuAD folder, when the environment names it.

#[test]
fn real_xquad_folder_when_available() {
    let dir = {
        let _guard = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty())
    };
    let Some(dir) = dir else {
        eprintln!("note: {DATA_DIR_ENV} is not set; skipping the checks on the real XQuAD data");
        return;
    };
    let data = load_dir(Path::new(&dir), &LoadOptions::default()).unwrap();
    assert_eq!(data.len(), 1190);
    assert_eq!(data.langs, Lang::ALL.to_vec());
    let articles: HashSet<usize> = data.samples.iter().map(|s| s.article).collect();
    assert_eq!(articles.len(), 48);
    let titles: HashSet<&str> = data.samples.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles.len(), 48);
    for lang in Lang::ALL {
        let contexts: HashSet<&str> = data
            .samples
            .iter()
            .map(|s| s.entry(lang).unwrap().context.as_str())
            .collect();
        assert_eq!(contexts.len(), 240, "{lang}");
    }
    // Identical ids were required by the default policy; all are distinct.
    let distinct: HashSet<&str> = ids(&data).into_iter().collect();
    assert_eq!(distinct.len(), 1190);
}

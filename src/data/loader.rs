//! Parallel data sets from SQuAD-v1.1 JSON folders (XQuAD, MLQA), the checks every source
//! shares (answer offsets, ids, alignment across languages), and the choice of source.
//!
//! Every file is checked before anything is returned: a wrong `answer_start` would silently
//! corrupt attributions and scores later, so it is an error here, with the file and question.

use super::{Answer, Dataset, Entry, Lang, Sample};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Environment variable naming a local data folder (used when `--data` is not given).
pub const DATA_DIR_ENV: &str = "XMRC_LENS_DATA";

/// How question ids must line up across the language files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdPolicy {
    /// XQuAD: every language has the same ids in the same order; any difference is an error.
    #[default]
    Identical,
    /// MLQA-style: keep the ids present in every loaded language, in English order.
    Intersect,
}

/// What to load from a source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Languages to load (English is always added). `None`: every language found
    /// (all 12 for an XQuAD-named folder).
    pub langs: Option<Vec<Lang>>,
    pub id_policy: IdPolicy,
}

/// Everything that can go wrong while loading data. Each message names the file or
/// place and the item, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a folder; --data / {DATA_DIR_ENV} must name a folder of SQuAD JSON files (xquad.<lang>.json)")]
    NotADirectory { path: PathBuf },
    #[error("folder {dir} holds no data file; expected SQuAD-v1.1 JSON files named xquad.<lang>.json, <lang>.json or dev-context-<lang>-question-<lang>.json (lang one of {})", Lang::ALL.map(Lang::code).join(", "))]
    NoDataFiles { dir: PathBuf },
    #[error("{path}:{line}:{column}: not valid SQuAD-v1.1 JSON: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{place} has no English file (expected {expected}); English is always needed, the en-en and en-x scenarios read it")]
    MissingEnglish { place: String, expected: String },
    #[error("folder {dir} has no file for {}; add the file(s), or load only the languages that are there with --load-langs (for example --load-langs de,zh; English is always loaded)", list_missing(.missing))]
    MissingLang {
        dir: PathBuf,
        /// Each missing language with the file name that was expected for it.
        missing: Vec<(Lang, String)>,
    },
    #[error(
        "two files for language {lang}: {first} and {second}; keep only one of them in the folder"
    )]
    DuplicateLang {
        lang: Lang,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(transparent)]
    OffsetMismatch(Box<OffsetMismatch>),
    #[error("{path}: question {id} has no answer; SQuAD v1.1 data needs at least one answer per question (unanswerable SQuAD-v2 questions are not supported)")]
    NoAnswers { path: PathBuf, id: String },
    #[error("{path}: question id {id} appears twice (questions #{first} and #{second}); ids must be unique within a file")]
    DuplicateId {
        path: PathBuf,
        id: String,
        first: usize,
        second: usize,
    },
    #[error("{first} and {second} differ at question #{position}: {} vs {}; XQuAD files list the same ids in the same order (for MLQA-style data, keep only the ids every language has: pass --intersect-ids)", show_id(.first_id), show_id(.second_id))]
    IdMismatch {
        first: PathBuf,
        second: PathBuf,
        position: usize,
        /// `None`: that file ends before `position`.
        first_id: Option<String>,
        second_id: Option<String>,
    },
    #[error("no question id is present in every loaded language ({}) of {place}; load fewer languages with --load-langs", .langs.iter().map(|l| l.code()).collect::<Vec<_>>().join(", "))]
    NoCommonIds { place: String, langs: Vec<Lang> },
    #[error("{path} holds no question")]
    EmptyFile { path: PathBuf },
    #[error("{path}: cannot read parquet: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("cannot load {repo} from the Hugging Face hub: {} not in the cache {cache} ({}) and {reason}.\nEither point --data DIR or the environment variable {DATA_DIR_ENV} at a folder of xquad.<lang>.json files, or go online once (HF_HUB_OFFLINE unset) so the hub files land in the cache.", count_files(.missing.len()), list_files(.missing))]
    Offline {
        repo: String,
        cache: PathBuf,
        /// Repository file names that could not be found.
        missing: Vec<String>,
        /// Why the hub was not asked or did not answer.
        reason: String,
    },
    #[error("Hugging Face hub, {repo}, file {file}: {message}")]
    Hub {
        repo: String,
        file: String,
        message: String,
    },
    #[error("cannot locate the Hugging Face cache: neither HF_HOME nor HOME is set; set HF_HOME, or use --data DIR / {DATA_DIR_ENV}")]
    NoCacheDir,
}

impl From<crate::hf::hub::NoCacheDir> for DataError {
    fn from(_: crate::hf::hub::NoCacheDir) -> Self {
        DataError::NoCacheDir
    }
}

/// An `answer_start` that does not point at its answer text (boxed in [`DataError`] to keep
/// the error small).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: question {id}: answer_start {start} does not point at the answer: expected \"{expected}\" but the context has \"{found}\" there{}", offset_hint(*.context_chars, *.occurs_at))]
pub struct OffsetMismatch {
    pub path: PathBuf,
    pub id: String,
    pub start: usize,
    pub expected: String,
    /// Short excerpt of what the context holds at `start`.
    pub found: String,
    pub context_chars: usize,
    /// Code-point offset where the answer text first occurs in the context, if anywhere.
    pub occurs_at: Option<usize>,
}

fn list_missing(missing: &[(Lang, String)]) -> String {
    missing
        .iter()
        .map(|(lang, file)| format!("{lang} (expected {file})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_id(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("'{id}'"),
        None => "(end of file)".to_string(),
    }
}

fn count_files(n: usize) -> String {
    if n == 1 {
        "1 file is".to_string()
    } else {
        format!("{n} files are")
    }
}

/// Names up to three files, then how many more.
fn list_files(files: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut out = files
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        out.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    out
}

fn offset_hint(context_chars: usize, occurs_at: Option<usize>) -> String {
    match occurs_at {
        Some(at) => format!(
            " (the text occurs at code point {at}; answer_start counts Unicode code points)"
        ),
        None => {
            format!(" (the context has {context_chars} code points and does not contain the text)")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Records: one question as one language's file has it, and the checks on them.

/// One question of one language's file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    /// Index of the article the paragraph belongs to, within this file.
    pub article: usize,
    pub title: String,
    pub entry: Entry,
}

/// One language's file, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LangRecords {
    pub lang: Lang,
    pub path: PathBuf,
    pub records: Vec<Record>,
}

/// Checks what SQuAD v1.1 promises of one file: every question has an answer, ids are
/// unique, and every `answer_start` (code points) points at its text.
pub fn validate_records(path: &Path, records: &[Record]) -> Result<(), DataError> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for (position, record) in records.iter().enumerate() {
        if let Some(first) = seen.insert(&record.id, position) {
            return Err(DataError::DuplicateId {
                path: path.to_path_buf(),
                id: record.id.clone(),
                first,
                second: position,
            });
        }
        if record.entry.answers.is_empty() {
            return Err(DataError::NoAnswers {
                path: path.to_path_buf(),
                id: record.id.clone(),
            });
        }
        for answer in &record.entry.answers {
            check_answer(path, &record.id, &record.entry.context, answer)?;
        }
    }
    Ok(())
}

/// Longest excerpt shown in an offset error.
const EXCERPT_CHARS: usize = 60;

fn check_answer(path: &Path, id: &str, context: &str, answer: &Answer) -> Result<(), DataError> {
    let wanted = answer.text.chars().count();
    let mut found = context.chars().skip(answer.start).take(wanted);
    let mut expected = answer.text.chars();
    // Compare char by char so nothing is allocated on the (common) happy path.
    let matches = loop {
        match (found.next(), expected.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => break true,
            _ => break false,
        }
    };
    if matches {
        return Ok(());
    }
    let occurs_at = context
        .find(answer.text.as_str())
        .filter(|_| !answer.text.is_empty())
        .map(|byte| context[..byte].chars().count());
    Err(DataError::OffsetMismatch(Box::new(OffsetMismatch {
        path: path.to_path_buf(),
        id: id.to_string(),
        start: answer.start,
        expected: excerpt(answer.text.chars()),
        found: excerpt(context.chars().skip(answer.start).take(wanted)),
        context_chars: context.chars().count(),
        occurs_at,
    })))
}

fn excerpt(chars: impl Iterator<Item = char>) -> String {
    let mut out: String = chars.take(EXCERPT_CHARS + 1).collect();
    if out.chars().count() > EXCERPT_CHARS {
        out = out.chars().take(EXCERPT_CHARS).collect();
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// SQuAD-v1.1 JSON.

#[derive(Deserialize)]
struct SquadFile {
    data: Vec<SquadArticle>,
}

#[derive(Deserialize)]
struct SquadArticle {
    #[serde(default)]
    title: String,
    paragraphs: Vec<SquadParagraph>,
}

#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQuestion>,
}

#[derive(Deserialize)]
struct SquadQuestion {
    id: String,
    question: String,
    // Missing answers become a precise `NoAnswers` error instead of a serde message.
    #[serde(default)]
    answers: Vec<SquadAnswer>,
}

#[derive(Deserialize)]
struct SquadAnswer {
    answer_start: usize,
    text: String,
}

/// Parses and checks one SQuAD-v1.1 JSON file held in memory; `path` names it in errors.
pub fn parse_squad(bytes: &[u8], path: &Path) -> Result<Vec<Record>, DataError> {
    // Files saved by some Windows editors start with a byte-order mark serde_json rejects.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let file: SquadFile = serde_json::from_slice(bytes).map_err(|e| json_error(path, &e))?;
    let mut records = Vec::new();
    for (article, squad_article) in file.data.into_iter().enumerate() {
        for paragraph in squad_article.paragraphs {
            for qa in paragraph.qas {
                records.push(Record {
                    id: qa.id,
                    article,
                    title: squad_article.title.clone(),
                    entry: Entry {
                        context: paragraph.context.clone(),
                        question: qa.question,
                        answers: qa
                            .answers
                            .into_iter()
                            .map(|a| Answer {
                                text: a.text,
                                start: a.answer_start,
                            })
                            .collect(),
                    },
                });
            }
        }
    }
    validate_records(path, &records)?;
    Ok(records)
}

fn json_error(path: &Path, error: &serde_json::Error) -> DataError {
    let full = error.to_string();
    // serde_json appends the position, which the error shows as path:line:column already.
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
    DataError::Json {
        path: path.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message,
    }
}

/// Reads, parses and checks one SQuAD-v1.1 JSON file.
pub fn read_squad_file(path: &Path) -> Result<Vec<Record>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_squad(&bytes, path)
}

// ---------------------------------------------------------------------------------------------
// File names in a data folder.

/// How a folder names its files; decides which name a missing language is expected under.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NameStyle {
    /// `xquad.<lang>.json`
    Xquad,
    /// `<prefix>.<lang>.json`
    Prefixed(String),
    /// `<lang>.json`
    Bare,
    /// `<split>-context-<lang>-question-<lang>.json` (MLQA)
    Mlqa(String),
}

impl NameStyle {
    fn file_name(&self, lang: Lang) -> String {
        let code = lang.code();
        match self {
            NameStyle::Xquad => format!("xquad.{code}.json"),
            NameStyle::Prefixed(prefix) => format!("{prefix}.{code}.json"),
            NameStyle::Bare => format!("{code}.json"),
            NameStyle::Mlqa(split) => format!("{split}-context-{code}-question-{code}.json"),
        }
    }
}

fn lang_from_code(code: &str) -> Option<Lang> {
    Lang::ALL
        .into_iter()
        .find(|l| l.code().eq_ignore_ascii_case(code))
}

/// The language and naming style of a data file name; `None` for any other file
/// (including MLQA's cross-lingual files, whose context and question languages differ).
fn classify_file_name(name: &str) -> Option<(Lang, NameStyle)> {
    let stem = name.strip_suffix(".json")?;
    for split in ["dev", "test"] {
        if let Some(rest) = stem
            .strip_prefix(split)
            .and_then(|r| r.strip_prefix("-context-"))
        {
            let (context_lang, question_lang) = rest.split_once("-question-")?;
            let lang = lang_from_code(context_lang)?;
            return (lang_from_code(question_lang)? == lang)
                .then(|| (lang, NameStyle::Mlqa(split.to_string())));
        }
    }
    match stem.rsplit_once('.') {
        Some((prefix, code)) => {
            let lang = lang_from_code(code)?;
            let style = if prefix == "xquad" {
                NameStyle::Xquad
            } else {
                NameStyle::Prefixed(prefix.to_string())
            };
            Some((lang, style))
        }
        None => Some((lang_from_code(stem)?, NameStyle::Bare)),
    }
}

struct DataFile {
    lang: Lang,
    path: PathBuf,
    style: NameStyle,
}

/// The data files of a folder, one per language, sorted by language.
fn scan_dir(dir: &Path) -> Result<Vec<DataFile>, DataError> {
    if !dir.is_dir() {
        if dir.exists() {
            return Err(DataError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        return Err(DataError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    let io_error = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            names.push((name.to_string(), path));
        }
    }
    // Sorted so that errors (and which duplicate is named first) do not depend on the
    // order the file system lists entries in.
    names.sort();
    let mut files: Vec<DataFile> = Vec::new();
    for (name, path) in names {
        let Some((lang, style)) = classify_file_name(&name) else {
            tracing::debug!("ignoring {}: not a per-language data file", path.display());
            continue;
        };
        if let Some(existing) = files.iter().find(|f| f.lang == lang) {
            return Err(DataError::DuplicateLang {
                lang,
                first: existing.path.clone(),
                second: path,
            });
        }
        files.push(DataFile { lang, path, style });
    }
    files.sort_by_key(|f| f.lang);
    Ok(files)
}

/// The languages to load from the files found, or the error naming what is missing.
fn select_files(
    dir: &Path,
    mut files: Vec<DataFile>,
    wanted: Option<&[Lang]>,
) -> Result<Vec<DataFile>, DataError> {
    let style = files
        .iter()
        .find(|f| f.lang == Lang::En)
        .or(files.first())
        .map(|f| f.style.clone())
        .ok_or_else(|| DataError::NoDataFiles {
            dir: dir.to_path_buf(),
        })?;
    let required: Vec<Lang> = match wanted {
        Some(langs) => with_english(langs),
        // An XQuAD folder is a complete set: a missing language is a broken copy.
        None if files.iter().any(|f| f.style == NameStyle::Xquad) => Lang::ALL.to_vec(),
        None => with_english(&files.iter().map(|f| f.lang).collect::<Vec<_>>()),
    };
    if !files.iter().any(|f| f.lang == Lang::En) {
        return Err(DataError::MissingEnglish {
            place: format!("folder {}", dir.display()),
            expected: style.file_name(Lang::En),
        });
    }
    let missing: Vec<(Lang, String)> = required
        .iter()
        .filter(|l| !files.iter().any(|f| f.lang == **l))
        .map(|l| (*l, style.file_name(*l)))
        .collect();
    if !missing.is_empty() {
        return Err(DataError::MissingLang {
            dir: dir.to_path_buf(),
            missing,
        });
    }
    files.retain(|f| required.contains(&f.lang));
    Ok(files)
}

/// `langs` plus English, deduplicated, in [`Lang::ALL`] order.
pub fn with_english(langs: &[Lang]) -> Vec<Lang> {
    Lang::ALL
        .into_iter()
        .filter(|l| *l == Lang::En || langs.contains(l))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Alignment across languages.

/// A loaded data set and how many ids the `Intersect` policy dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub dataset: Dataset,
    /// Ids present in some but not all loaded languages (always 0 under `Identical`).
    pub dropped: usize,
}

/// Lines the languages up by question id. Sample order, article index and title come from
/// the English file. `place` names the source in errors and in `Dataset::source`.
pub fn align(
    mut files: Vec<LangRecords>,
    policy: IdPolicy,
    place: &str,
) -> Result<Loaded, DataError> {
    files.sort_by_key(|f| f.lang);
    let Some(english_at) = files.iter().position(|f| f.lang == Lang::En) else {
        return Err(DataError::MissingEnglish {
            place: place.to_string(),
            expected: "a file for language en".to_string(),
        });
    };
    let english = files.remove(english_at);
    if english.records.is_empty() {
        return Err(DataError::EmptyFile { path: english.path });
    }
    let langs: Vec<Lang> = with_english(&files.iter().map(|f| f.lang).collect::<Vec<_>>());
    let (samples, dropped) = match policy {
        IdPolicy::Identical => (align_identical(english, files)?, 0),
        IdPolicy::Intersect => align_intersect(english, files, place, &langs)?,
    };
    if dropped > 0 {
        tracing::info!(
            "{place}: kept {} ids present in every language, dropped {dropped}",
            samples.len()
        );
    }
    Ok(Loaded {
        dataset: Dataset {
            source: place.to_string(),
            langs,
            samples,
        },
        dropped,
    })
}

fn align_identical(
    english: LangRecords,
    others: Vec<LangRecords>,
) -> Result<Vec<Sample>, DataError> {
    for other in &others {
        let length = english.records.len().max(other.records.len());
        for position in 0..length {
            let first_id = english.records.get(position).map(|r| &r.id);
            let second_id = other.records.get(position).map(|r| &r.id);
            if first_id != second_id {
                return Err(DataError::IdMismatch {
                    first: english.path.clone(),
                    second: other.path.clone(),
                    position,
                    first_id: first_id.cloned(),
                    second_id: second_id.cloned(),
                });
            }
        }
    }
    let mut others: Vec<(Lang, std::vec::IntoIter<Record>)> = others
        .into_iter()
        .map(|f| (f.lang, f.records.into_iter()))
        .collect();
    let mut samples = Vec::with_capacity(english.records.len());
    for record in english.records {
        let mut sample = sample_from(Lang::En, record);
        for (lang, records) in &mut others {
            // Same length and ids were checked above, so every iterator yields in step.
            if let Some(r) = records.next() {
                sample.entries.insert(*lang, r.entry);
            }
        }
        samples.push(sample);
    }
    Ok(samples)
}

fn align_intersect(
    english: LangRecords,
    others: Vec<LangRecords>,
    place: &str,
    langs: &[Lang],
) -> Result<(Vec<Sample>, usize), DataError> {
    let mut all_ids: HashSet<String> = english.records.iter().map(|r| r.id.clone()).collect();
    let mut by_lang: Vec<(Lang, HashMap<String, Entry>)> = Vec::with_capacity(others.len());
    for file in others {
        let entries: HashMap<String, Entry> =
            file.records.into_iter().map(|r| (r.id, r.entry)).collect();
        all_ids.extend(entries.keys().cloned());
        by_lang.push((file.lang, entries));
    }
    let mut samples = Vec::new();
    for record in english.records {
        if !by_lang.iter().all(|(_, e)| e.contains_key(&record.id)) {
            continue;
        }
        let id = record.id.clone();
        let mut sample = sample_from(Lang::En, record);
        for (lang, entries) in &mut by_lang {
            if let Some(entry) = entries.remove(&id) {
                sample.entries.insert(*lang, entry);
            }
        }
        samples.push(sample);
    }
    if samples.is_empty() {
        return Err(DataError::NoCommonIds {
            place: place.to_string(),
            langs: langs.to_vec(),
        });
    }
    let dropped = all_ids.len() - samples.len();
    Ok((samples, dropped))
}

fn sample_from(lang: Lang, record: Record) -> Sample {
    Sample {
        id: record.id,
        article: record.article,
        title: record.title,
        entries: BTreeMap::from([(lang, record.entry)]),
        custom: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Folders.

/// Loads a folder with one SQuAD-v1.1 JSON file per language.
pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<Dataset, DataError> {
    load_dir_report(dir, opts).map(|loaded| loaded.dataset)
}

/// [`load_dir`], also telling how many ids the `Intersect` policy dropped.
pub fn load_dir_report(dir: &Path, opts: &LoadOptions) -> Result<Loaded, DataError> {
    let files = select_files(dir, scan_dir(dir)?, opts.langs.as_deref())?;
    let mut parsed = Vec::with_capacity(files.len());
    for file in files {
        let records = read_squad_file(&file.path)?;
        if records.is_empty() {
            return Err(DataError::EmptyFile { path: file.path });
        }
        parsed.push(LangRecords {
            lang: file.lang,
            path: file.path,
            records,
        });
    }
    align(
        parsed,
        opts.id_policy,
        &format!("local folder {}", dir.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, context: &str, text: &str, start: usize) -> Record {
        Record {
            id: id.to_string(),
            article: 0,
            title: "t".to_string(),
            entry: Entry {
                context: context.to_string(),
                question: "q?".to_string(),
                answers: vec![Answer {
                    text: text.to_string(),
                    start,
                }],
            },
        }
    }

    #[test]
    fn file_names_are_classified() {
        let en = Some((Lang::En, NameStyle::Xquad));
        assert_eq!(classify_file_name("xquad.en.json"), en);
        assert_eq!(
            classify_file_name("de.json"),
            Some((Lang::De, NameStyle::Bare))
        );
        assert_eq!(
            classify_file_name("my.set.zh.json"),
            Some((Lang::Zh, NameStyle::Prefixed("my.set".to_string())))
        );
        assert_eq!(
            classify_file_name("test-context-ar-question-ar.json"),
            Some((Lang::Ar, NameStyle::Mlqa("test".to_string())))
        );
        assert_eq!(classify_file_name("dev-context-en-question-de.json"), None);
        assert_eq!(classify_file_name("xquad.fr.json"), None);
        assert_eq!(classify_file_name("xquad.en.json.bak"), None);
        assert_eq!(classify_file_name("README.json"), None);
        assert_eq!(
            NameStyle::Mlqa("dev".to_string()).file_name(Lang::Hi),
            "dev-context-hi-question-hi.json"
        );
    }

    #[test]
    fn offsets_count_code_points_not_bytes() {
        let context = "Ødegård baute 1372 das Rathaus.";
        let ok = record("a", context, "1372", 14);
        assert!(validate_records(Path::new("x.json"), &[ok]).is_ok());
        // The byte offset of "1372" is 16: wrong under SQuAD's code-point rule.
        let bytes = record("a", context, "1372", 16);
        let err = validate_records(Path::new("x.json"), &[bytes]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.json: question a: answer_start 16"), "{msg}");
        assert!(msg.contains("expected \"1372\""), "{msg}");
        assert!(msg.contains("has \"72 d\" there"), "{msg}");
        assert!(msg.contains("occurs at code point 14"), "{msg}");
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let json = r#"{"data":[{"title":"T","paragraphs":[{"context":"ab","qas":[{"id":"q","question":"?","answers":[{"answer_start":1,"text":"b"}]}]}]}]}"#;
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), json.as_bytes()].concat();
        let records = parse_squad(&with_bom, Path::new("bom.json")).unwrap();
        assert_eq!(records[0].entry.answers[0].start, 1);
    }

    #[test]
    fn answer_past_the_end_is_an_error_not_a_panic() {
        let err = validate_records(Path::new("x.json"), &[record("a", "short", "gone", 999)])
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("has \"\" there"), "{msg}");
        assert!(
            msg.contains("5 code points and does not contain the text"),
            "{msg}"
        );
    }

    #[test]
    fn long_excerpts_are_cut() {
        let context = "x".repeat(200);
        let text = "y".repeat(100);
        let err =
            validate_records(Path::new("x.json"), &[record("a", &context, &text, 0)]).unwrap_err();
        let DataError::OffsetMismatch(mismatch) = err else {
            panic!("unexpected error {err}");
        };
        assert_eq!(mismatch.found.chars().count(), EXCERPT_CHARS + 1);
        assert!(mismatch.expected.ends_with('…'));
    }

    #[test]
    fn intersect_keeps_english_order_and_counts_dropped() {
        let file = |lang, ids: &[&str]| LangRecords {
            lang,
            path: PathBuf::from(format!("{lang}.json")),
            records: ids.iter().map(|id| record(id, "c", "c", 0)).collect(),
        };
        let files = vec![
            file(Lang::De, &["d", "b", "a", "x"]),
            file(Lang::En, &["a", "b", "c", "d"]),
        ];
        let loaded = align(files.clone(), IdPolicy::Intersect, "test").unwrap();
        let ids: Vec<&str> = loaded
            .dataset
            .samples
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert_eq!(loaded.dropped, 2, "c (English only) and x (German only)");
        assert_eq!(loaded.dataset.langs, [Lang::En, Lang::De]);
        let err = align(files, IdPolicy::Identical, "test").unwrap_err();
        assert!(
            err.to_string().contains("at question #0: 'a' vs 'd'"),
            "{err}"
        );
    }

    #[test]
    fn shorter_file_is_an_id_mismatch_at_its_end() {
        let file = |lang, ids: &[&str]| LangRecords {
            lang,
            path: PathBuf::from(format!("{lang}.json")),
            records: ids.iter().map(|id| record(id, "c", "c", 0)).collect(),
        };
        let err = align(
            vec![file(Lang::En, &["a", "b"]), file(Lang::Ru, &["a"])],
            IdPolicy::Identical,
            "test",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("en.json and ru.json differ at question #1: 'b' vs (end of file)"),
            "{msg}"
        );
    }
}

//! XQuAD from the Hugging Face hub (`google/xquad`, one parquet file per language) through
//! the standard HF cache, so a download made by any HF tool is reused and vice versa.
//!
//! The parquet files carry no article titles. When a file has no `title` column, articles
//! are approximated by runs of identical consecutive contexts (that is, paragraphs) and
//! titled "article N"; demonstrations drawn "from other articles" are then from other
//! paragraphs. A local JSON folder (`--data`) keeps the real articles and titles.

use super::loader::{align, validate_records, DataError, IdPolicy, LangRecords, Record};
use super::{Answer, Dataset, Entry, Lang};
use crate::hf::hub::{cached_snapshot, HubSettings, DEFAULT_REVISION};
use hf_hub::api::sync::ApiError;
use hf_hub::{Repo, RepoType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use std::path::{Path, PathBuf};

/// The hub dataset XQuAD is published as.
pub const XQUAD_REPO: &str = "google/xquad";

/// Path of a language's file inside the hub repository.
pub fn parquet_file_name(lang: Lang) -> String {
    format!("xquad.{}/validation-00000-of-00001.parquet", lang.code())
}

/// Loads `langs` (English is always added; empty: all 12) of a hub dataset laid out like
/// `google/xquad`, honouring `HF_HOME`, `HF_HUB_OFFLINE` and `HF_TOKEN`.
pub fn load_hub(
    repo_id: &str,
    revision: Option<&str>,
    langs: &[Lang],
) -> Result<Dataset, DataError> {
    load_hub_with(
        &HubSettings::from_env()?,
        repo_id,
        revision,
        langs,
        IdPolicy::Identical,
    )
}

/// Loads from a pre-filled HF cache folder (the `hub` folder) without touching the network.
pub fn load_hub_from_cache(
    cache_dir: &Path,
    repo_id: &str,
    revision: Option<&str>,
    langs: &[Lang],
) -> Result<Dataset, DataError> {
    load_hub_with(
        &HubSettings::offline_at(cache_dir),
        repo_id,
        revision,
        langs,
        IdPolicy::Identical,
    )
}

/// [`load_hub`] with explicit settings and id policy.
pub fn load_hub_with(
    settings: &HubSettings,
    repo_id: &str,
    revision: Option<&str>,
    langs: &[Lang],
    policy: IdPolicy,
) -> Result<Dataset, DataError> {
    let langs = if langs.is_empty() {
        Lang::ALL.to_vec()
    } else {
        super::loader::with_english(langs)
    };
    let paths = if settings.offline {
        cached_files(settings, repo_id, revision, &langs)?
    } else {
        fetch_files(settings, repo_id, revision, &langs)?
    };
    let mut files = Vec::with_capacity(paths.len());
    for (lang, path) in paths {
        let records = read_parquet_lang(&path, lang)?;
        files.push(LangRecords {
            lang,
            path,
            records,
        });
    }
    let place = match revision {
        Some(rev) => format!("hub {repo_id}@{rev}"),
        None => format!("hub {repo_id}"),
    };
    align(files, policy, &place).map(|loaded| loaded.dataset)
}

/// The cached file of a repository, or `None`.
fn find_cached(
    cache_dir: &Path,
    repo_id: &str,
    revision: Option<&str>,
    file: &str,
) -> Option<PathBuf> {
    let revision = revision.unwrap_or(DEFAULT_REVISION);
    let repo = Repo::with_revision(repo_id.to_string(), RepoType::Dataset, revision.to_string());
    let path = cached_snapshot(cache_dir, &repo)?.join(file);
    path.is_file().then_some(path)
}

fn cached_files(
    settings: &HubSettings,
    repo_id: &str,
    revision: Option<&str>,
    langs: &[Lang],
) -> Result<Vec<(Lang, PathBuf)>, DataError> {
    let mut found = Vec::with_capacity(langs.len());
    let mut missing = Vec::new();
    for lang in langs {
        let file = parquet_file_name(*lang);
        match find_cached(&settings.cache_dir, repo_id, revision, &file) {
            Some(path) => found.push((*lang, path)),
            None => missing.push(file),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    Err(DataError::Offline {
        repo: repo_id.to_string(),
        cache: settings.cache_dir.clone(),
        missing,
        reason: "offline mode (HF_HUB_OFFLINE) does not ask the hub".to_string(),
    })
}

fn fetch_files(
    settings: &HubSettings,
    repo_id: &str,
    revision: Option<&str>,
    langs: &[Lang],
) -> Result<Vec<(Lang, PathBuf)>, DataError> {
    let hub_error = |file: &str, error: ApiError| DataError::Hub {
        repo: repo_id.to_string(),
        file: file.to_string(),
        message: error.to_string(),
    };
    let api = settings.api(false).map_err(|e| hub_error("(none)", e))?;
    let repo = api.repo(Repo::with_revision(
        repo_id.to_string(),
        RepoType::Dataset,
        revision.unwrap_or(DEFAULT_REVISION).to_string(),
    ));
    let mut found = Vec::with_capacity(langs.len());
    let mut missing = Vec::new();
    let mut failure = None;
    for lang in langs {
        let file = parquet_file_name(*lang);
        if let Some(path) = find_cached(&settings.cache_dir, repo_id, revision, &file) {
            found.push((*lang, path));
            continue;
        }
        // After one failure the hub is not asked again: an unreachable host could make every
        // further attempt wait for its own timeout.
        if failure.is_some() {
            missing.push(file);
            continue;
        }
        tracing::info!(
            "downloading {file} of {repo_id} into {}",
            settings.cache_dir.display()
        );
        match repo.get(&file) {
            Ok(path) => found.push((*lang, path)),
            // No answer, or a refusal (404, 401): the same way out as being offline.
            Err(ApiError::RequestError(error)) => {
                failure.get_or_insert_with(|| error.to_string());
                missing.push(file);
            }
            Err(other) => return Err(hub_error(&file, other)),
        }
    }
    match failure {
        None => Ok(found),
        Some(error) => Err(DataError::Offline {
            repo: repo_id.to_string(),
            cache: settings.cache_dir.clone(),
            missing,
            reason: format!("the hub did not deliver them ({error})"),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Parquet rows.

/// Reads and checks one language's parquet file (columns `id`, `context`, `question`,
/// `answers`, optionally `title`). `answers` may be a struct of lists (how HF stores a
/// `Sequence` feature) or a list of structs.
pub fn read_parquet_lang(path: &Path, lang: Lang) -> Result<Vec<Record>, DataError> {
    let parquet_error = |message: String| DataError::Parquet {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The decoder is third-party code fed with downloaded bytes; a corrupt file must end in
    // an error naming it, not in a crash of the whole tool.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_rows(file)))
        .map_err(|_| {
            parquet_error(format!(
                "the {} file is corrupt (the decoder gave up); delete it so it is downloaded again",
                lang.english_name()
            ))
        })?;
    let rows = decoded.map_err(parquet_error)?;
    let records = rows_to_records(rows);
    validate_records(path, &records)?;
    Ok(records)
}

/// One parquet row in the shape the loader needs.
struct RawRow {
    id: String,
    context: String,
    question: String,
    title: Option<String>,
    answers: Vec<Answer>,
}

fn decode_rows(file: std::fs::File) -> Result<Vec<RawRow>, String> {
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let rows = reader.get_row_iter(None).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (index, row) in rows.enumerate() {
        let row = row.map_err(|e| format!("row {index}: {e}"))?;
        out.push(raw_row(row).map_err(|e| format!("row {index}: {e}"))?);
    }
    Ok(out)
}

fn raw_row(row: Row) -> Result<RawRow, String> {
    let (mut id, mut context, mut question, mut title, mut answers) =
        (None, None, None, None, None);
    for (name, field) in row.into_columns() {
        match name.as_str() {
            "id" => id = Some(string_field(&name, field)?),
            "context" => context = Some(string_field(&name, field)?),
            "question" => question = Some(string_field(&name, field)?),
            "title" => title = Some(string_field(&name, field)?),
            "answers" => answers = Some(answers_field(field)?),
            _ => {}
        }
    }
    let need = |value: Option<String>, column: &str| {
        value.ok_or_else(|| {
            format!("column '{column}' is missing (expected id, context, question, answers)")
        })
    };
    Ok(RawRow {
        id: need(id, "id")?,
        context: need(context, "context")?,
        question: need(question, "question")?,
        title,
        answers: answers
            .ok_or("column 'answers' is missing (expected id, context, question, answers)")?,
    })
}

fn string_field(column: &str, field: Field) -> Result<String, String> {
    match field {
        Field::Str(s) => Ok(s),
        Field::Bytes(bytes) => String::from_utf8(bytes.data().to_vec())
            .map_err(|_| format!("column '{column}' is not valid UTF-8")),
        other => Err(format!(
            "column '{column}' holds {other}, expected a string"
        )),
    }
}

fn answers_field(field: Field) -> Result<Vec<Answer>, String> {
    match field {
        Field::Null => Ok(Vec::new()),
        // HF's `Sequence({text, answer_start})`: struct<text: list<string>, answer_start: list<int>>.
        Field::Group(row) => {
            let (mut texts, mut starts) = (None, None);
            for (name, value) in row.into_columns() {
                match name.as_str() {
                    "text" => texts = Some(list_items(value, "answers.text")?),
                    "answer_start" => starts = Some(list_items(value, "answers.answer_start")?),
                    _ => {}
                }
            }
            let texts = texts.ok_or("'answers' has no 'text' field")?;
            let starts = starts.ok_or("'answers' has no 'answer_start' field")?;
            if texts.len() != starts.len() {
                return Err(format!(
                    "'answers' has {} texts but {} answer_start values",
                    texts.len(),
                    starts.len()
                ));
            }
            texts
                .into_iter()
                .zip(starts)
                .map(|(text, start)| answer(text, start))
                .collect()
        }
        // A plain list of {text, answer_start} structs.
        Field::ListInternal(list) => list
            .elements()
            .iter()
            .map(|element| match element {
                Field::Group(item) => {
                    let (mut text, mut start) = (None, None);
                    for (name, value) in item.get_column_iter() {
                        match name.as_str() {
                            "text" => text = Some(value.clone()),
                            "answer_start" => start = Some(value.clone()),
                            _ => {}
                        }
                    }
                    answer(
                        text.ok_or("an answer has no 'text'")?,
                        start.ok_or("an answer has no 'answer_start'")?,
                    )
                }
                other => Err(format!(
                    "'answers' holds {other}, expected {{text, answer_start}}"
                )),
            })
            .collect(),
        other => Err(format!(
            "column 'answers' holds {other}, expected a struct of lists or a list of structs"
        )),
    }
}

fn list_items(field: Field, what: &str) -> Result<Vec<Field>, String> {
    match field {
        Field::ListInternal(list) => Ok(list.elements().to_vec()),
        Field::Null => Ok(Vec::new()),
        other => Err(format!("'{what}' holds {other}, expected a list")),
    }
}

fn answer(text: Field, start: Field) -> Result<Answer, String> {
    let text = string_field("answers.text", text)?;
    let start = match start {
        Field::Byte(v) => i64::from(v),
        Field::Short(v) => i64::from(v),
        Field::Int(v) => i64::from(v),
        Field::Long(v) => v,
        Field::UByte(v) => i64::from(v),
        Field::UShort(v) => i64::from(v),
        Field::UInt(v) => i64::from(v),
        Field::ULong(v) => i64::try_from(v).unwrap_or(i64::MAX),
        other => return Err(format!("answer_start holds {other}, expected an integer")),
    };
    let start = usize::try_from(start)
        .map_err(|_| format!("answer_start {start} of answer \"{text}\" is negative"))?;
    Ok(Answer { text, start })
}

/// Groups rows into articles: by `title` when the file has one, else by runs of the same
/// context (see the module docs).
fn rows_to_records(rows: Vec<RawRow>) -> Vec<Record> {
    let mut records: Vec<Record> = Vec::with_capacity(rows.len());
    let mut article = 0;
    for row in rows {
        if let Some(previous) = records.last() {
            let same_article = match &row.title {
                Some(title) => *title == previous.title,
                None => row.context == previous.entry.context,
            };
            if !same_article {
                article += 1;
            }
        }
        records.push(Record {
            id: row.id,
            article,
            title: row.title.unwrap_or_else(|| format!("article {article}")),
            entry: Entry {
                context: row.context,
                question: row.question,
                answers: row.answers,
            },
        });
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articles_follow_context_runs_without_titles() {
        let row = |id: &str, context: &str| RawRow {
            id: id.to_string(),
            context: context.to_string(),
            question: "q".to_string(),
            title: None,
            answers: Vec::new(),
        };
        let records = rows_to_records(vec![row("a", "one"), row("b", "one"), row("c", "two")]);
        let articles: Vec<(usize, &str)> = records
            .iter()
            .map(|r| (r.article, r.title.as_str()))
            .collect();
        assert_eq!(
            articles,
            [(0, "article 0"), (0, "article 0"), (1, "article 1")]
        );
    }

    #[test]
    fn negative_and_non_integer_starts_are_errors() {
        let err = answer(Field::Str("x".into()), Field::Int(-3)).unwrap_err();
        assert!(err.contains("answer_start -3"), "{err}");
        let err = answer(Field::Str("x".into()), Field::Str("3".into())).unwrap_err();
        assert!(err.contains("expected an integer"), "{err}");
        assert_eq!(
            answer(Field::Str("x".into()), Field::Long(7)).unwrap(),
            Answer {
                text: "x".into(),
                start: 7
            }
        );
    }
}

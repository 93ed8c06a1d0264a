//! The paper's published figures beside ours (`report --paper`).
//!
//! `assets/paper_results.csv` holds the figures of the paper's Tables 2, 3, 6, 7 and 8 as
//! printed (2-shot unless `shots` is empty), one per line with the table it came from;
//! `assets/paper_models.csv` maps the paper's model names to Hugging Face hub ids. Both are
//! compiled in, so the comparison works from any folder.

use super::aggregate::{ErrorKind, Incorrect, RowStats};
use super::table::{Cell, Table};
use super::tables::Labelling;
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::Scenario;
use crate::data::Lang;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;

const RESULTS_CSV: &str = include_str!("../../assets/paper_results.csv");
const MODELS_CSV: &str = include_str!("../../assets/paper_models.csv");

/// The paper's shot count for the figures compared.
const PAPER_SHOTS: u8 = 2;

/// One published figure.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperValue {
    pub table: String,
    pub model: String,
    pub metric: String,
    pub scenario: String,
    /// A language code, or `mean`.
    pub lang: String,
    pub shots: Option<u8>,
    pub value: f64,
}

/// A paper model and the names it goes by.
#[derive(Clone, Debug, PartialEq)]
pub struct PaperModel {
    pub name: String,
    pub hub_id: Option<String>,
    pub aliases: Vec<String>,
}

fn lines(csv: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    csv.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| (n + 1, l.split(',').map(str::trim).collect()))
}

pub fn paper_values() -> Result<Vec<PaperValue>> {
    lines(RESULTS_CSV)
        .map(|(n, f)| {
            let [table, model, metric, scenario, lang, shots, value] = f[..] else {
                bail!("paper_results.csv:{n}: expected 7 fields, got {}", f.len());
            };
            Ok(PaperValue {
                table: table.into(),
                model: model.into(),
                metric: metric.into(),
                scenario: scenario.into(),
                lang: lang.into(),
                shots: if shots.is_empty() {
                    None
                } else {
                    Some(
                        shots
                            .parse()
                            .with_context(|| format!("paper_results.csv:{n}"))?,
                    )
                },
                value: value
                    .parse()
                    .with_context(|| format!("paper_results.csv:{n}: value"))?,
            })
        })
        .collect()
}

pub fn paper_models() -> Result<Vec<PaperModel>> {
    lines(MODELS_CSV)
        .map(|(n, f)| {
            let [name, hub, aliases] = f[..] else {
                bail!("paper_models.csv:{n}: expected 3 fields, got {}", f.len());
            };
            Ok(PaperModel {
                name: name.into(),
                hub_id: (!hub.is_empty()).then(|| hub.to_string()),
                aliases: aliases
                    .split('|')
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect(),
            })
        })
        .collect()
}

fn last_component(name: &str) -> &str {
    name.trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
}

/// The paper model a results model name (hub id or local folder) stands for.
pub fn match_model<'a>(name: &str, models: &'a [PaperModel]) -> Option<&'a PaperModel> {
    let ours = [name.trim_end_matches('/'), last_component(name)];
    models.iter().find(|m| {
        m.hub_id.iter().chain(&m.aliases).any(|id| {
            ours.iter()
                .any(|o| o.eq_ignore_ascii_case(id) || o.eq_ignore_ascii_case(last_component(id)))
        }) || ours.iter().any(|o| o.eq_ignore_ascii_case(&m.name))
    })
}

/// Our figure for a paper (metric, scenario, lang), as the paper counts it: error rates among
/// the incorrect responses, as the paper's are.
fn ours(row: &RowStats, metric: &str, scenario: &str, lang: &str) -> Option<f64> {
    let f1 = |c: &super::aggregate::CellStats| c.f1.get();
    let lang_of = || lang.parse::<Lang>().ok();
    let rate = |kind| move |c: &super::aggregate::CellStats| c.error_rate(kind);
    let (language, generation) = (ErrorKind::Language, ErrorKind::Generation);
    match (metric, scenario, lang) {
        ("f1", "en-en", _) => row.en_en.f1.get(),
        ("f1", "en-x", "mean") => row.mean_en_x(f1),
        ("f1", "x-x", "mean") => row.mean_x_x(f1),
        ("f1", "en-x", _) => row.en_x.get(&lang_of()?)?.f1.get(),
        ("f1", "x-x", _) => row.x_x.get(&lang_of()?)?.f1.get(),
        ("f1_ratio", "en-x", _) => Some(row.mean_en_x(f1)? / row.en_en.f1.get()?),
        ("f1_ratio", "x-x", _) => Some(row.mean_x_x(f1)? / row.en_en.f1.get()?),
        ("language_error", "en-x", "mean") => row.mean_en_x(rate(language)),
        ("generation_error", "en-x", "mean") => row.mean_en_x(rate(generation)),
        ("generation_error", "en-en", _) => row.en_en.error_rate(generation),
        ("language_error", "en-x", _) => row.en_x.get(&lang_of()?)?.error_rate(language),
        ("generation_error", "en-x", _) => row.en_x.get(&lang_of()?)?.error_rate(generation),
        _ => None,
    }
}

fn label(metric: &str, scenario: &str, lang: &str) -> String {
    let what = match metric {
        "f1" => "F1",
        "f1_ratio" => "F1 ratio to en-en",
        "language_error" => "language error % of incorrect",
        "generation_error" => "generation error % of incorrect",
        other => other,
    };
    let where_ = match (scenario, lang) {
        ("en-en", _) => "en-en".to_string(),
        (s, "mean") => format!("mean {s}"),
        ("x-x", l) => format!("{l}-{l}"),
        (_, l) => format!("en-{l}"),
    };
    format!("{what} {where_}")
}

/// The comparison table and notes (models not in the paper, the format chosen).
pub struct Comparison {
    pub table: Table,
    pub notes: Vec<String>,
}

/// Paper figures (Tables 2, 6, 7 and 8) beside ours for every results model the paper has.
/// Error rates on both sides divide by the incorrect responses (`incorrect` on ours).
pub fn compare(rows: &[RowStats], how: &Labelling, incorrect: Incorrect) -> Result<Comparison> {
    let values = paper_values()?;
    let models = paper_models()?;
    let mut notes = Vec::new();
    if incorrect != Incorrect::Em0 && !rows.is_empty() {
        notes.push(format!(
            "our error rates count {} as incorrect (--incorrect {incorrect}); the paper's \
             incorrect responses are EM = 0: rerun with --incorrect em0 to compare like with \
             like",
            incorrect.rule()
        ));
    }
    let mut by_model: BTreeMap<&str, Vec<&RowStats>> = BTreeMap::new();
    for row in rows {
        by_model
            .entry(row.key.model.as_str())
            .or_default()
            .push(row);
    }
    let mut table = Table::new(
        "paper_comparison",
        "Beside the paper (2-shot; paper Tables 2, 6, 7 and 8)",
        format!(
            "The paper's published 2-shot figures beside ours and ours minus the paper's. Where \
             the results hold both formats, the one with the higher mean en-x F1 is compared \
             (the paper's rule). The paper's Table 3 is left out: it reports an estimated \
             oracle F1, our oracle table the share of samples whose gold sentence ranks \
             first. Error rates on both sides are shares of the incorrect responses (the \
             paper's W set; the paper's generation errors judged by Qwen-2.5-72B-Instruct, its \
             language by Lingua). Ours divide by {}, {}; the all-response rates of our error \
             tables are not compared. {}.",
            how.denominator(),
            how.judge,
            how.scores
        ),
        [
            "model",
            "paper model",
            "format",
            "figure",
            "paper",
            "ours",
            "difference",
        ]
        .map(String::from)
        .to_vec(),
    );
    for (name, model_rows) in by_model {
        let Some(paper) = match_model(name, &models) else {
            notes.push(format!("{name}: not among the paper's models"));
            continue;
        };
        let candidates: Vec<&RowStats> = model_rows
            .into_iter()
            .filter(|r| r.key.shots == PAPER_SHOTS && r.key.target == TargetMode::Step)
            .collect();
        let best = candidates.iter().copied().max_by(|a, b| {
            let f = |r: &RowStats| r.mean_en_x(|c| c.f1.get()).unwrap_or(f64::NEG_INFINITY);
            f(a).total_cmp(&f(b))
        });
        let Some(best) = best else {
            notes.push(format!(
                "{name} ({}): no 2-shot results to compare with the paper's 2-shot figures",
                paper.name
            ));
            continue;
        };
        if candidates.len() > 1 {
            notes.push(format!(
                "{name}: format {} compared (higher mean en-x F1 of {})",
                best.key.format,
                candidates
                    .iter()
                    .map(|r| r.key.format.name())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        let wanted = values.iter().filter(|v| {
            v.model == paper.name && ["2", "6a", "6b", "7", "8"].contains(&v.table.as_str())
        });
        for v in wanted {
            // Tables 6a and 8 repeat Table 2's en-en figures.
            if (v.table == "6a" || v.table == "8") && v.scenario == Scenario::EnEn.name() {
                continue;
            }
            let our = ours(best, &v.metric, &v.scenario, &v.lang);
            table.rows.push(vec![
                Cell::text(name),
                Cell::text(&paper.name),
                Cell::text(best.key.format.name()),
                Cell::text(label(&v.metric, &v.scenario, &v.lang)),
                Cell::Num(Some(v.value)),
                Cell::Num(our),
                Cell::Num(our.map(|o| o - v.value)),
            ]);
        }
    }
    Ok(Comparison { table, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_csvs_parse_and_hold_every_table() {
        let values = paper_values().unwrap();
        let count = |t: &str| values.iter().filter(|v| v.table == t).count();
        assert_eq!(count("2"), 16 * 8);
        assert_eq!(count("6a"), 16 * 12);
        assert_eq!(count("6b"), 16 * 11);
        assert_eq!(count("7"), 17 * 11);
        assert_eq!(count("8"), 17 * 12);
        assert_eq!(count("3"), 5 * 4);
        let models = paper_models().unwrap();
        // Every model of the figures has a mapping line.
        for v in &values {
            assert!(models.iter().any(|m| m.name == v.model), "{}", v.model);
        }
    }

    #[test]
    fn hub_ids_and_local_folders_match_case_insensitively() {
        let models = paper_models().unwrap();
        let name = |n: &str| match_model(n, &models).map(|m| m.name.as_str());
        assert_eq!(
            name("meta-llama/Llama-3.1-8B-Instruct"),
            Some("LLaMA-3.1-Instruct-8B")
        );
        assert_eq!(
            name("/models/qwen2.5-7b-instruct/"),
            Some("Qwen-2.5-Instruct-7B")
        );
        assert_eq!(name("meta-llama/Llama-3.1-8B"), Some("LLaMA-3.1-8B"));
        assert_eq!(name("google/gemma-2-9b-it"), Some("Gemma-2-IT-9B"));
        assert_eq!(name("HuggingFaceTB/SmolLM2-135M"), None);
    }
}

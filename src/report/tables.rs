//! The tables in the paper's shapes, from the aggregated rows.

use super::aggregate::{languages, CellStats, ErrorKind, RowKey, RowStats};
use super::lens::LensSeries;
use super::mrd_groups::{GroupMrd, PARTS};
use super::similarity::SimSeries;
use super::table::{Cell, Table};
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::Scenario;
use crate::data::Lang;
use crate::similarity::SimPart;

/// What every caption says about how the figures were made.
#[derive(Clone, Debug)]
pub struct Labelling {
    /// e.g. "F1/EM under the squad normaliser".
    pub scores: String,
    /// e.g. "generation errors judged by the rule-based classifier".
    pub judge: String,
    /// The rule for incorrect responses, e.g. "EM = 0 under the squad normaliser: the
    /// paper's W set".
    pub incorrect: String,
}

impl Labelling {
    /// The error rates' denominator in words.
    pub fn denominator(&self) -> String {
        format!(
            "the incorrect responses of each setting ({})",
            self.incorrect
        )
    }
}

/// Leading columns naming a row; the relevance target only when some row is not `step`.
pub struct RowLabels {
    with_target: bool,
}

impl RowLabels {
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a RowKey>) -> RowLabels {
        RowLabels {
            with_target: keys.into_iter().any(|k| k.target != TargetMode::Step),
        }
    }

    pub fn columns(&self) -> Vec<String> {
        let mut c = vec!["model".to_string(), "shots".into(), "format".into()];
        if self.with_target {
            c.push("target".into());
        }
        c
    }

    pub fn cells(&self, key: &RowKey) -> Vec<Cell> {
        let mut c = vec![
            Cell::text(&key.model),
            Cell::Count(usize::from(key.shots)),
            Cell::text(key.format.name()),
        ];
        if self.with_target {
            c.push(Cell::text(key.target.name()));
        }
        c
    }
}

fn columns(labels: &RowLabels, rest: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut c = labels.columns();
    c.extend(rest);
    c
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// Paper Table 2: scores, their ratios to en-en, and the mean error rates (over the incorrect
/// responses, then the same over all responses in columns marked "(all)").
pub fn summary(rows: &[RowStats], labels: &RowLabels, how: &Labelling, em: bool) -> Table {
    let metric = if em { "EM" } else { "F1" };
    let score = |c: &CellStats| if em { c.em.get() } else { c.f1.get() };
    let mut t = Table::new(
        if em { "summary_em" } else { "summary" },
        &format!("Summary ({metric}; paper Table 2)"),
        format!(
            "{metric} x100 on en-en, its mean over the en-x and over the x-x languages (the mean \
             of the per-language means), their ratios to en-en, and en-x error rates (%): \
             language error and generation error (each the mean of the per-language rates, over \
             the languages that have a rate) and en-en generation error. Error rates divide by \
             {}; \"–\" where there is none. Columns marked (all) divide the same errors by all \
             responses instead. {}; {}; language detected by Lingua.",
            how.denominator(),
            how.scores,
            how.judge
        ),
        columns(
            labels,
            [
                "en-en",
                "mean en-x",
                "mean x-x",
                "en-x / en-en",
                "x-x / en-en",
                "mean language error %",
                "mean generation error %",
                "en-en generation error %",
                "mean language error % (all)",
                "mean generation error % (all)",
                "en-en generation error % (all)",
            ]
            .map(String::from),
        ),
    );
    for row in rows {
        let en = score(&row.en_en);
        let (x, xx) = (row.mean_en_x(score), row.mean_x_x(score));
        let mut cells = labels.cells(&row.key);
        cells.extend(
            [
                en,
                x,
                xx,
                ratio(x, en),
                ratio(xx, en),
                row.mean_en_x(|c| c.error_rate(ErrorKind::Language)),
                row.mean_en_x(|c| c.error_rate(ErrorKind::Generation)),
                row.en_en.error_rate(ErrorKind::Generation),
                row.mean_en_x(|c| c.error_rate_all(ErrorKind::Language)),
                row.mean_en_x(|c| c.error_rate_all(ErrorKind::Generation)),
                row.en_en.error_rate_all(ErrorKind::Generation),
            ]
            .map(Cell::Num),
        );
        t.rows.push(cells);
    }
    t
}

/// A figure of a cell, as a table cell.
type Figure<'a> = &'a dyn Fn(&CellStats) -> Cell;

/// Paper Table 6 (and Tables 7-9 with another figure): one column per language, for each
/// block of figures (a column-name suffix and the figure); "–" where a row lacks a language.
#[allow(clippy::too_many_arguments)]
fn per_language(
    rows: &[RowStats],
    labels: &RowLabels,
    id: &str,
    title: &str,
    caption: String,
    scenario: Scenario,
    with_en_en: bool,
    blocks: &[(&str, Figure)],
) -> Table {
    let langs = languages(rows, scenario);
    let mut settings = Vec::new();
    if with_en_en {
        settings.push("en-en".to_string());
    }
    settings.extend(langs.iter().map(|l| match scenario {
        Scenario::XX => format!("{l}-{l}"),
        _ => format!("en-{l}"),
    }));
    let names = blocks
        .iter()
        .flat_map(|(suffix, _)| settings.iter().map(move |s| format!("{s}{suffix}")));
    let mut t = Table::new(id, title, caption, columns(labels, names));
    for row in rows {
        let cells_of = match scenario {
            Scenario::XX => &row.x_x,
            _ => &row.en_x,
        };
        let mut cells = labels.cells(&row.key);
        for (_, figure) in blocks {
            if with_en_en {
                cells.push(figure(&row.en_en));
            }
            cells.extend(
                langs
                    .iter()
                    .map(|l| cells_of.get(l).map_or(Cell::Num(None), figure)),
            );
        }
        t.rows.push(cells);
    }
    t
}

/// Paper Table 6a/6b (F1) and their EM twins.
pub fn scores_per_language(
    rows: &[RowStats],
    labels: &RowLabels,
    how: &Labelling,
    em: bool,
) -> Vec<Table> {
    let metric = if em { "EM" } else { "F1" };
    let score = move |c: &CellStats| Cell::Num(if em { c.em.get() } else { c.f1.get() });
    let stem = if em { "em" } else { "f1" };
    vec![
        per_language(
            rows,
            labels,
            &format!("{stem}_en_x"),
            &format!("{metric} per language, en-x (paper Table 6a)"),
            format!(
                "{metric} x100 per language, en-en and en-x. {}.",
                how.scores
            ),
            Scenario::EnX,
            true,
            &[("", &score)],
        ),
        per_language(
            rows,
            labels,
            &format!("{stem}_x_x"),
            &format!("{metric} per language, x-x (paper Table 6b)"),
            format!("{metric} x100 per language, x-x. {}.", how.scores),
            Scenario::XX,
            false,
            &[("", &score)],
        ),
    ]
}

/// The error rates' denominators: incorrect responses per setting (en-en and en-x).
pub fn incorrect_counts(rows: &[RowStats], labels: &RowLabels, how: &Labelling) -> Table {
    per_language(
        rows,
        labels,
        "incorrect",
        "Incorrect responses (the error rates' denominators)",
        format!(
            "Responses counted as incorrect ({}) per setting: the denominator of every error \
             rate. A setting with none has no rate (\"–\").",
            how.incorrect
        ),
        Scenario::EnX,
        true,
        &[("", &|c: &CellStats| Cell::Count(c.incorrect))],
    )
}

/// Paper Tables 7, 8 and 9a-c: rates among the incorrect responses, then among all responses
/// in columns marked "(all)".
pub fn errors_per_language(rows: &[RowStats], labels: &RowLabels, how: &Labelling) -> Vec<Table> {
    let judge = &how.judge;
    let denominator = format!(
        "Divided by {}; \"–\" where a setting has none. Columns marked (all) divide the same \
         errors by all responses instead",
        how.denominator()
    );
    let table = |id: &str, title: &str, what: String, with_en_en: bool, kind: ErrorKind| {
        per_language(
            rows,
            labels,
            id,
            title,
            format!("{what} {denominator}."),
            Scenario::EnX,
            with_en_en,
            &[
                ("", &|c: &CellStats| Cell::Num(c.error_rate(kind))),
                (" (all)", &|c: &CellStats| Cell::Num(c.error_rate_all(kind))),
            ],
        )
    };
    vec![
        table(
            "language_error",
            "Language error per language (paper Table 7)",
            "Language error rate (%) on en-x: the answer is detected (Lingua) as the question's \
             language while the gold is English."
                .to_string(),
            false,
            ErrorKind::Language,
        ),
        table(
            "generation_error",
            "Generation failure per language (paper Table 8)",
            format!("Generation failure rate (%): blank, refusal or gibberish; {judge}."),
            true,
            ErrorKind::Generation,
        ),
        table(
            "gibberish",
            "Gibberish per language (paper Table 9a)",
            format!("Gibberish rate (%); {judge}."),
            true,
            ErrorKind::Gibberish,
        ),
        table(
            "refusal",
            "Refusal per language (paper Table 9b)",
            format!("Refusal rate (%); {judge}."),
            true,
            ErrorKind::Refusal,
        ),
        table(
            "blank",
            "Blank answers per language (paper Table 9c)",
            format!("Blank answer rate (%); {judge}."),
            true,
            ErrorKind::Blank,
        ),
    ]
}

/// Paper Table 3, for the rows that ran the oracle.
pub fn oracle(rows: &[RowStats], labels: &RowLabels) -> Option<Table> {
    let with: Vec<&RowStats> = rows
        .iter()
        .filter(|r| {
            r.en_en.oracle_step.percent().is_some()
                || r.en_x.values().any(|c| c.oracle_step.percent().is_some())
        })
        .collect();
    if with.is_empty() {
        return None;
    }
    let mut t = Table::new(
        "oracle",
        "Oracle retrieval accuracy (paper Table 3)",
        "Share (%) of units whose gold sentence has the largest log-probability drop when \
         ablated, with the first answer token (step) or the whole answer (sequence) as target; \
         en-x is the mean over languages. Units without a known gold sentence are left out."
            .to_string(),
        columns(
            labels,
            ["step en-en", "step en-x", "sequence en-en", "sequence en-x"].map(String::from),
        ),
    );
    for row in with {
        let mut cells = labels.cells(&row.key);
        cells.extend(
            [
                row.en_en.oracle_step.percent(),
                row.mean_en_x(|c| c.oracle_step.percent()),
                row.en_en.oracle_sequence.percent(),
                row.mean_en_x(|c| c.oracle_sequence.percent()),
            ]
            .map(Cell::Num),
        );
        t.rows.push(cells);
    }
    Some(t)
}

/// Paper Figure 3 data: one line per row, group and language.
pub fn mrd(groups: &[GroupMrd], labels: &RowLabels, how: &Labelling) -> Option<Table> {
    if groups.is_empty() {
        return None;
    }
    let mut names = vec![
        "group".to_string(),
        "samples".into(),
        "lang".into(),
        "units".into(),
    ];
    names.extend(PARTS.iter().map(|p| p.name().to_string()));
    let sizes: Vec<String> = groups
        .iter()
        .map(|g| format!("{}: {} {} of {}", g.row, g.samples, g.group, g.classified))
        .collect();
    let mut t = Table::new(
        "mrd",
        "Mean part MRD of balanced and en-superior samples (paper Figure 3)",
        format!(
            "Mean MRD (layer) of each prompt part over the group's samples; en = the en-en \
             units, other languages = the en-x units. Balanced: F1 > 50 in en-en and every en-x \
             language of the sample; en-superior: en-en F1 above the sample's mean en-x F1 by \
             more than 50. {}. Samples per group: {}.",
            how.scores,
            sizes.join("; ")
        ),
        columns(labels, names),
    );
    for g in groups {
        for lang in &g.langs {
            let mut cells = labels.cells(&g.row);
            cells.push(Cell::text(g.group.name()));
            cells.push(Cell::Count(g.samples));
            cells.push(Cell::text(lang.lang.code()));
            cells.push(Cell::Count(lang.units));
            cells.extend(lang.parts.iter().map(|v| Cell::Num(*v)));
            t.rows.push(cells);
        }
    }
    Some(t)
}

/// Levels shown in markdown: the first, the quartiles and the last.
pub fn shown_levels(levels: usize) -> Vec<usize> {
    let last = levels.saturating_sub(1);
    let mut l: Vec<usize> = [0, last / 4, last / 2, (3 * last) / 4, last].to_vec();
    l.dedup();
    l
}

/// Paper Figures 4-6 data, in markdown: a few levels per part and language.
pub fn similarity_markdown(series: &[SimSeries], labels: &RowLabels) -> Option<Table> {
    let levels = series.iter().map(SimSeries::levels).max()?;
    let shown = shown_levels(levels);
    let mut names = vec![
        "scenario".to_string(),
        "lang".into(),
        "samples".into(),
        "part".into(),
        "value".into(),
    ];
    names.extend(shown.iter().map(|l| format!("level {l}")));
    let no_pool = series.iter().filter(|s| s.ratio.is_none()).count();
    let mut t = Table::new(
        "similarity_levels",
        "Cross-lingual hidden-state similarity (paper Figures 4-6)",
        format!(
            "S(en,x) = mean_k Sim(e_k, x_k) / mean_(i != j) Sim(x_i, x_j) at a few levels \
             (0 = embeddings); `value` says whether a row is S(en,x) (`s_en_x`) or, where no pool of at \
             least two samples of the language was found, the raw mean cosine to the en-en \
             run ({no_pool} of {} rows). Every level is in similarity.csv and the plots.",
            series.len()
        ),
        columns(labels, names),
    );
    for s in series {
        for part in SimPart::ALL {
            let mut cells = labels.cells(&s.row);
            cells.push(Cell::text(s.scenario.name()));
            cells.push(Cell::text(s.lang.code()));
            cells.push(Cell::Count(s.samples));
            cells.push(Cell::text(part.name()));
            cells.push(Cell::text(if s.ratio.is_some() {
                "s_en_x"
            } else {
                "cosine"
            }));
            cells.extend(shown.iter().map(|&l| Cell::Num(s.shown(part, l))));
            t.rows.push(cells);
        }
    }
    Some(t)
}

/// Every level, tidy: one line per row, scenario, language, part and level.
pub fn similarity_csv(series: &[SimSeries], labels: &RowLabels) -> Option<Table> {
    if series.is_empty() {
        return None;
    }
    let names = [
        "scenario",
        "lang",
        "part",
        "level",
        "samples",
        "mean_cosine",
        "within",
        "s_en_x",
    ]
    .map(String::from);
    let mut t = Table::new(
        "similarity",
        "similarity",
        String::new(),
        columns(labels, names),
    );
    for s in series {
        for part in SimPart::ALL {
            for level in 0..s.levels() {
                let mut cells = labels.cells(&s.row);
                cells.push(Cell::text(s.scenario.name()));
                cells.push(Cell::text(s.lang.code()));
                cells.push(Cell::text(part.name()));
                cells.push(Cell::Count(level));
                cells.push(Cell::Count(s.samples));
                cells.push(Cell::Num(s.mean.get(part).get(level).copied()));
                cells.push(Cell::Num(
                    s.within
                        .as_ref()
                        .and_then(|w| w.get(part).get(level).copied()),
                ));
                cells.push(Cell::Num(
                    s.ratio
                        .as_ref()
                        .and_then(|r| r.get(part).get(level).copied().flatten()),
                ));
                t.rows.push(cells);
            }
        }
    }
    Some(t)
}

/// The language lens's decision levels and end points, per row, scenario and language.
pub fn lens_decisions(series: &[LensSeries], labels: &RowLabels) -> Option<Table> {
    let levels = series.iter().map(LensSeries::levels).max()?;
    let names = [
        "scenario",
        "lang",
        "units",
        "decision mean",
        "decision median",
        "decision min",
        "decision max",
        "P_en last",
        "P_x last",
        "same first token",
        "answer starts as en gold",
    ]
    .map(String::from);
    let mut t = Table::new(
        "lens_decisions",
        "Language lens: decision levels",
        format!(
            "The decision level is the lowest level from which the final top-1 token stays \
             top-1 (levels 0..{last}, 0 = embeddings). P_en / P_x: mean probability at the last \
             level of the first token of the English / language-x gold answer, over the units \
             that have it; `same first token` counts units whose two gold answers begin with \
             the same token (no P_x for them); `answer starts as en gold`: units whose \
             generated token is the English gold's first token. Every level is in lens.csv and \
             the lens plots.",
            last = levels - 1
        ),
        columns(labels, names),
    );
    for s in series {
        let mut cells = labels.cells(&s.row);
        cells.push(Cell::text(s.scenario.name()));
        cells.push(Cell::text(s.lang.code()));
        cells.push(Cell::Count(s.samples));
        cells.push(Cell::Num(s.mean_decision()));
        cells.push(Cell::Num(s.median_decision().map(|d| d as f64)));
        cells.push(Cell::Num(s.decision_levels.first().map(|&d| d as f64)));
        cells.push(Cell::Num(s.decision_levels.last().map(|&d| d as f64)));
        cells.push(Cell::Num(
            (s.p_en_samples > 0)
                .then(|| s.p_en.last().copied())
                .flatten(),
        ));
        cells.push(Cell::Num(
            (s.p_x_samples > 0).then(|| s.p_x.last().copied()).flatten(),
        ));
        cells.push(Cell::Count(s.same_first_token));
        cells.push(Cell::Count(s.generated_is_en_gold));
        t.rows.push(cells);
    }
    Some(t)
}

/// Mean `P_en` / `P_x` at every level, tidy: one line per row, scenario, language and level.
pub fn lens_csv(series: &[LensSeries], labels: &RowLabels) -> Option<Table> {
    if series.is_empty() {
        return None;
    }
    let names = [
        "scenario",
        "lang",
        "level",
        "units",
        "p_en",
        "p_en_units",
        "p_x",
        "p_x_units",
    ]
    .map(String::from);
    let mut t = Table::new("lens", "lens", String::new(), columns(labels, names));
    for s in series {
        for level in 0..s.levels() {
            let mut cells = labels.cells(&s.row);
            cells.push(Cell::text(s.scenario.name()));
            cells.push(Cell::text(s.lang.code()));
            cells.push(Cell::Count(level));
            cells.push(Cell::Count(s.samples));
            cells.push(Cell::Num(s.p_en.get(level).copied()));
            cells.push(Cell::Count(s.p_en_samples));
            cells.push(Cell::Num(s.p_x.get(level).copied()));
            cells.push(Cell::Count(s.p_x_samples));
            t.rows.push(cells);
        }
    }
    Some(t)
}

/// Units per row and scenario, for the report's header.
pub fn unit_counts(rows: &[RowStats], labels: &RowLabels) -> Table {
    let mut t = Table::new(
        "units",
        "Units",
        "Units per row and scenario after merging (duplicates counted once).".to_string(),
        columns(
            labels,
            ["en-en", "en-x", "x-x", "en-x languages", "x-x languages"].map(String::from),
        ),
    );
    for row in rows {
        let langs = |m: &std::collections::BTreeMap<Lang, CellStats>| {
            m.keys().map(|l| l.code()).collect::<Vec<_>>().join(" ")
        };
        let mut cells = labels.cells(&row.key);
        cells.extend([
            Cell::Count(row.en_en.units),
            Cell::Count(row.en_x.values().map(|c| c.units).sum()),
            Cell::Count(row.x_x.values().map(|c| c.units).sum()),
            Cell::text(langs(&row.en_x)),
            Cell::text(langs(&row.x_x)),
        ]);
        t.rows.push(cells);
    }
    t
}

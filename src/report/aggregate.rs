//! Per-row counts and means: a row is one model under one prompt setting (shots, format and
//! the relevance target), the unit of every table of the paper.

use crate::attribution::relevance::TargetMode;
use crate::batch::record::F1Em;
use crate::batch::UnitRecord;
use crate::data::prompt::{Format, Scenario};
use crate::data::Lang;
use crate::eval::gen_error::{GenerationError, GenerationLabel};
use crate::eval::normalize::Normalizer;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// One row of the tables.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey {
    pub model: String,
    pub shots: u8,
    pub format: Format,
    pub target: TargetMode,
}

impl RowKey {
    pub fn of(unit: &UnitRecord) -> RowKey {
        RowKey {
            model: unit.key.model.clone(),
            shots: unit.key.setting.shots,
            format: unit.key.setting.format,
            target: unit.key.target,
        }
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {}-shot {}", self.model, self.shots, self.format)?;
        if self.target != TargetMode::Step {
            write!(f, " · {}", self.target)?;
        }
        Ok(())
    }
}

/// Which judge's generation-error labels the tables count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JudgeChoice {
    /// The rule-based classifier (`labels.generation`, always present).
    Rules,
    /// The LLM judge (`labels.judge`), present when `eval` was run with a judge.
    Llm,
}

/// The judge in use and how to name it in captions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeInfo {
    pub choice: JudgeChoice,
    pub description: String,
}

/// `requested`, or by default the LLM judge when every unit has its label.
pub fn resolve_judge(units: &[UnitRecord], requested: Option<JudgeChoice>) -> Result<JudgeInfo> {
    let judged = units.iter().filter(|u| u.labels.judge.is_some()).count();
    let every = !units.is_empty() && judged == units.len();
    let choice = match requested {
        Some(JudgeChoice::Llm) if !every => bail!(
            "--judge llm: {} of {} units have no LLM-judge label; run eval with a judge, or \
             report with --judge rules",
            units.len() - judged,
            units.len()
        ),
        Some(choice) => choice,
        None if every => JudgeChoice::Llm,
        None => JudgeChoice::Rules,
    };
    let description = match choice {
        JudgeChoice::Rules => "the rule-based classifier".to_string(),
        JudgeChoice::Llm => {
            let names: BTreeSet<String> = units
                .iter()
                .filter_map(|u| u.labels.judge.as_ref().map(|j| j.judge.to_string()))
                .collect();
            format!(
                "the LLM judge ({})",
                names.into_iter().collect::<Vec<_>>().join(", ")
            )
        }
    };
    Ok(JudgeInfo {
        choice,
        description,
    })
}

/// The generation label the chosen judge gave.
pub fn generation_label(unit: &UnitRecord, judge: JudgeChoice) -> &GenerationLabel {
    match (judge, &unit.labels.judge) {
        (JudgeChoice::Llm, Some(label)) => label,
        _ => &unit.labels.generation,
    }
}

/// A running mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    pub fn add(&mut self, value: f64) {
        self.sum += value;
        self.n += 1;
    }

    pub fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    pub fn count(&self) -> usize {
        self.n
    }
}

/// Share of units with a property, among the units where it is defined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    hits: usize,
    n: usize,
}

impl Rate {
    pub fn add(&mut self, value: Option<bool>) {
        if let Some(hit) = value {
            self.n += 1;
            self.hits += usize::from(hit);
        }
    }

    /// Units with the property.
    pub fn hits(&self) -> usize {
        self.hits
    }

    /// Units where the property is defined: the denominator.
    pub fn denominator(&self) -> usize {
        self.n
    }

    /// In percent; `None` when the denominator is 0.
    pub fn percent(&self) -> Option<f64> {
        (self.n > 0).then(|| 100.0 * self.hits as f64 / self.n as f64)
    }
}

/// Which responses count as incorrect: the paper's W set, the denominator of every error
/// rate (METHOD, "Generation and scoring").
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Incorrect {
    /// EM = 0 under the normaliser in use (the default; the paper's W set).
    #[default]
    Em0,
    /// F1 (x100, under the normaliser in use) below the threshold.
    F1Below(f64),
}

impl Incorrect {
    /// Whether a response with these scores is incorrect.
    pub fn is_incorrect(self, score: F1Em) -> bool {
        match self {
            Incorrect::Em0 => score.em <= 0.0,
            Incorrect::F1Below(threshold) => score.f1 < threshold,
        }
    }

    /// The rule in words, e.g. "EM = 0" or "F1 < 50".
    pub fn rule(self) -> String {
        match self {
            Incorrect::Em0 => "EM = 0".to_string(),
            Incorrect::F1Below(t) => format!("F1 < {t}"),
        }
    }
}

impl fmt::Display for Incorrect {
    /// The command-line spelling (`em0`, `f1-below:50`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incorrect::Em0 => write!(f, "em0"),
            Incorrect::F1Below(t) => write!(f, "f1-below:{t}"),
        }
    }
}

impl FromStr for Incorrect {
    type Err = String;

    /// `em0`, or `f1-below:T` with 0 < T <= 100 (F1 x100).
    fn from_str(s: &str) -> Result<Incorrect, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("em0") {
            return Ok(Incorrect::Em0);
        }
        let wrong = || {
            format!(
                "`{s}`: expected `em0` (EM = 0) or `f1-below:T` (F1 < T, F1 x100, 0 < T <= 100), \
                 e.g. `f1-below:50`"
            )
        };
        let threshold = s
            .strip_prefix("f1-below:")
            .ok_or_else(wrong)?
            .trim()
            .parse::<f64>()
            .map_err(|_| wrong())?;
        if threshold.is_nan() || threshold <= 0.0 || threshold > 100.0 {
            return Err(wrong());
        }
        Ok(Incorrect::F1Below(threshold))
    }
}

/// One kind of error a rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The answer in the question's language (en-x only).
    Language,
    /// Blank, refusal or gibberish.
    Generation,
    Blank,
    Refusal,
    Gibberish,
}

/// Error counts over one denominator (the incorrect responses, or all of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorRates {
    /// Among the responses where a language error is defined (en-x).
    pub language: Rate,
    pub generation: Rate,
    pub blank: Rate,
    pub refusal: Rate,
    pub gibberish: Rate,
}

impl ErrorRates {
    /// Counts one response.
    pub fn add(&mut self, language_error: Option<bool>, error: Option<GenerationError>) {
        self.language.add(language_error);
        self.generation.add(Some(error.is_some()));
        self.blank.add(Some(error == Some(GenerationError::Blank)));
        self.refusal
            .add(Some(error == Some(GenerationError::Refusal)));
        self.gibberish
            .add(Some(error == Some(GenerationError::Gibberish)));
    }

    pub fn get(&self, kind: ErrorKind) -> &Rate {
        match kind {
            ErrorKind::Language => &self.language,
            ErrorKind::Generation => &self.generation,
            ErrorKind::Blank => &self.blank,
            ErrorKind::Refusal => &self.refusal,
            ErrorKind::Gibberish => &self.gibberish,
        }
    }
}

/// Everything counted over the units of one row, scenario and language.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CellStats {
    pub units: usize,
    /// Units whose response is incorrect under the report's [`Incorrect`] rule.
    pub incorrect: usize,
    pub f1: Mean,
    pub em: Mean,
    /// Error rates among the incorrect responses (the paper's W set): the reported ones.
    /// No incorrect response, no rate.
    pub errors: ErrorRates,
    /// The same errors among all responses, shown only in columns marked "(all)".
    pub errors_all: ErrorRates,
    pub oracle_step: Rate,
    pub oracle_sequence: Rate,
}

impl CellStats {
    fn add(
        &mut self,
        unit: &UnitRecord,
        normalizer: Normalizer,
        judge: JudgeChoice,
        incorrect: Incorrect,
    ) {
        let score = match normalizer {
            Normalizer::Squad => unit.scores.squad,
            Normalizer::Mlqa => unit.scores.mlqa,
        };
        self.units += 1;
        self.f1.add(score.f1);
        self.em.add(score.em);
        let error = generation_label(unit, judge).error;
        let language_error = unit.labels.language_error;
        self.errors_all.add(language_error, error);
        if incorrect.is_incorrect(score) {
            self.incorrect += 1;
            self.errors.add(language_error, error);
        }
        if let Some(oracle) = &unit.oracle {
            self.oracle_step.add(oracle.step_correct);
            self.oracle_sequence.add(oracle.sequence_correct);
        }
    }

    /// An error rate (%) among the incorrect responses; `None` without any.
    pub fn error_rate(&self, kind: ErrorKind) -> Option<f64> {
        self.errors.get(kind).percent()
    }

    /// The same error's rate (%) among all responses.
    pub fn error_rate_all(&self, kind: ErrorKind) -> Option<f64> {
        self.errors_all.get(kind).percent()
    }
}

/// The cells of one row.
#[derive(Clone, Debug, PartialEq)]
pub struct RowStats {
    pub key: RowKey,
    pub en_en: CellStats,
    pub en_x: BTreeMap<Lang, CellStats>,
    pub x_x: BTreeMap<Lang, CellStats>,
}

impl RowStats {
    /// Mean over the en-x languages of a per-language figure.
    pub fn mean_en_x(&self, f: impl Fn(&CellStats) -> Option<f64>) -> Option<f64> {
        mean_of(self.en_x.values().filter_map(f))
    }

    pub fn mean_x_x(&self, f: impl Fn(&CellStats) -> Option<f64>) -> Option<f64> {
        mean_of(self.x_x.values().filter_map(f))
    }

    pub fn units(&self) -> usize {
        self.en_en.units
            + self.en_x.values().map(|c| c.units).sum::<usize>()
            + self.x_x.values().map(|c| c.units).sum::<usize>()
    }
}

/// Mean of the values; None when there are none.
pub fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut mean = Mean::default();
    values.for_each(|v| mean.add(v));
    mean.get()
}

/// The rows, in key order; error rates divide by the responses `incorrect` calls incorrect.
pub fn rows(
    units: &[UnitRecord],
    normalizer: Normalizer,
    judge: JudgeChoice,
    incorrect: Incorrect,
) -> Vec<RowStats> {
    let mut rows: BTreeMap<RowKey, RowStats> = BTreeMap::new();
    for unit in units {
        let key = RowKey::of(unit);
        let row = rows.entry(key.clone()).or_insert_with(|| RowStats {
            key,
            en_en: CellStats::default(),
            en_x: BTreeMap::new(),
            x_x: BTreeMap::new(),
        });
        let cell = match unit.key.setting.scenario {
            Scenario::EnEn => &mut row.en_en,
            Scenario::EnX => row.en_x.entry(unit.key.setting.lang).or_default(),
            Scenario::XX => row.x_x.entry(unit.key.setting.lang).or_default(),
        };
        cell.add(unit, normalizer, judge, incorrect);
    }
    rows.into_values().collect()
}

/// The languages of a scenario over all rows, in XQuAD order.
pub fn languages(rows: &[RowStats], scenario: Scenario) -> Vec<Lang> {
    let set: BTreeSet<Lang> = rows
        .iter()
        .flat_map(|r| match scenario {
            Scenario::EnEn => Vec::new(),
            Scenario::EnX => r.en_x.keys().copied().collect(),
            Scenario::XX => r.x_x.keys().copied().collect(),
        })
        .collect();
    Lang::ALL.into_iter().filter(|l| set.contains(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_only_defined_labels_and_means_need_values() {
        let mut r = Rate::default();
        for v in [Some(true), Some(false), None, Some(false), Some(true)] {
            r.add(v);
        }
        assert_eq!(r.percent(), Some(50.0));
        assert_eq!(Rate::default().percent(), None);
        assert_eq!(Mean::default().get(), None);
        assert_eq!(mean_of([1.0, 2.0, 6.0].into_iter()), Some(3.0));
    }

    /// A unit of the fixture's model with the given scenario, language, scores and labels.
    fn response(
        scenario: Scenario,
        lang: Lang,
        f1: f64,
        em: f64,
        language_error: Option<bool>,
        error: Option<GenerationError>,
    ) -> UnitRecord {
        let (units, _) = crate::report::synthetic::fixture_shard(0..1).unwrap();
        let mut u = units
            .into_iter()
            .find(|u| {
                u.key.setting.format == Format::V1
                    && u.key.setting.scenario == scenario
                    && u.key.setting.lang == lang
            })
            .unwrap();
        let score = F1Em { f1, em };
        u.scores.squad = score;
        u.scores.mlqa = score;
        u.labels.language_error = language_error;
        u.labels.generation.error = error;
        u
    }

    fn one_row(units: &[UnitRecord], incorrect: Incorrect) -> RowStats {
        let rows = rows(units, Normalizer::Squad, JudgeChoice::Rules, incorrect);
        assert_eq!(rows.len(), 1);
        rows.into_iter().next().unwrap()
    }

    #[test]
    fn the_incorrect_rule_parses_and_prints_its_command_line_spelling() {
        assert_eq!("em0".parse::<Incorrect>(), Ok(Incorrect::Em0));
        assert_eq!(
            "f1-below:50".parse::<Incorrect>(),
            Ok(Incorrect::F1Below(50.0))
        );
        assert_eq!(
            "f1-below:12.5".parse::<Incorrect>(),
            Ok(Incorrect::F1Below(12.5))
        );
        assert_eq!(Incorrect::default(), Incorrect::Em0);
        assert_eq!(Incorrect::Em0.to_string(), "em0");
        assert_eq!(Incorrect::F1Below(50.0).to_string(), "f1-below:50");
        assert_eq!(Incorrect::F1Below(12.5).rule(), "F1 < 12.5");
        assert_eq!(Incorrect::Em0.rule(), "EM = 0");
        for bad in [
            "f1-below:0",
            "f1-below:101",
            "f1-below:-5",
            "f1-below:NaN",
            "f1-below:",
            "f1-below:x",
            "f1<50",
            "em",
            "",
        ] {
            let err = bad.parse::<Incorrect>().unwrap_err();
            assert!(err.contains("f1-below:T"), "{bad}: {err}");
        }
        // EM = 0 and F1 below the threshold, both under the normaliser in use.
        let s = |f1, em| F1Em { f1, em };
        assert!(Incorrect::Em0.is_incorrect(s(80.0, 0.0)));
        assert!(!Incorrect::Em0.is_incorrect(s(100.0, 100.0)));
        assert!(Incorrect::F1Below(50.0).is_incorrect(s(49.9, 0.0)));
        assert!(!Incorrect::F1Below(50.0).is_incorrect(s(50.0, 0.0)));
    }

    /// A hand-computed example: five en-de responses, three of them incorrect (EM = 0).
    #[test]
    fn error_rates_divide_by_the_incorrect_responses() {
        use GenerationError::{Blank, Gibberish};
        let units = [
            // Correct, but flagged as a language error: outside W, not counted.
            response(Scenario::EnX, Lang::De, 100.0, 100.0, Some(true), None),
            response(Scenario::EnX, Lang::De, 100.0, 100.0, Some(false), None),
            // Incorrect: a language error, a blank, a wrong English answer.
            response(Scenario::EnX, Lang::De, 40.0, 0.0, Some(true), None),
            response(Scenario::EnX, Lang::De, 0.0, 0.0, Some(false), Some(Blank)),
            response(Scenario::EnX, Lang::De, 0.0, 0.0, Some(false), None),
        ];
        let row = one_row(&units, Incorrect::Em0);
        let de = &row.en_x[&Lang::De];
        assert_eq!((de.units, de.incorrect), (5, 3));
        let pct = |k| de.error_rate(k).unwrap();
        assert!((pct(ErrorKind::Language) - 100.0 / 3.0).abs() < 1e-12);
        assert!((pct(ErrorKind::Generation) - 100.0 / 3.0).abs() < 1e-12);
        assert!((pct(ErrorKind::Blank) - 100.0 / 3.0).abs() < 1e-12);
        assert_eq!(pct(ErrorKind::Refusal), 0.0);
        assert_eq!(pct(ErrorKind::Gibberish), 0.0);
        assert_eq!(de.errors.language.denominator(), 3);
        // Over all responses: 2 language errors of 5, 1 blank of 5.
        assert_eq!(de.error_rate_all(ErrorKind::Language), Some(40.0));
        assert_eq!(de.error_rate_all(ErrorKind::Generation), Some(20.0));

        // F1 below 50: the 40-F1 answer stays incorrect, so the same three.
        let row = one_row(&units, Incorrect::F1Below(50.0));
        assert_eq!(row.en_x[&Lang::De].incorrect, 3);
        // F1 below 30: only the two 0-F1 answers are incorrect: no language error among them.
        let row = one_row(&units, Incorrect::F1Below(30.0));
        let de = &row.en_x[&Lang::De];
        assert_eq!(de.incorrect, 2);
        assert_eq!(de.error_rate(ErrorKind::Language), Some(0.0));
        assert_eq!(de.error_rate(ErrorKind::Blank), Some(50.0));
        assert_eq!(de.error_rate_all(ErrorKind::Language), Some(40.0));

        // A gibberish answer with a positive F1 is incorrect only under the F1 rule.
        let units = [response(
            Scenario::EnX,
            Lang::De,
            20.0,
            0.0,
            Some(false),
            Some(Gibberish),
        )];
        let row = one_row(&units, Incorrect::F1Below(10.0));
        assert_eq!(row.en_x[&Lang::De].error_rate(ErrorKind::Gibberish), None);
        let row = one_row(&units, Incorrect::Em0);
        assert_eq!(
            row.en_x[&Lang::De].error_rate(ErrorKind::Gibberish),
            Some(100.0)
        );
    }

    #[test]
    fn a_setting_without_incorrect_responses_has_no_rate() {
        let units = [
            response(Scenario::EnEn, Lang::En, 100.0, 100.0, None, None),
            response(Scenario::EnEn, Lang::En, 100.0, 100.0, None, None),
            response(Scenario::EnX, Lang::De, 100.0, 100.0, Some(true), None),
        ];
        let row = one_row(&units, Incorrect::Em0);
        for cell in [&row.en_en, &row.en_x[&Lang::De]] {
            assert_eq!(cell.incorrect, 0);
            for kind in [
                ErrorKind::Language,
                ErrorKind::Generation,
                ErrorKind::Blank,
                ErrorKind::Refusal,
                ErrorKind::Gibberish,
            ] {
                // "–", never 0.
                assert_eq!(cell.error_rate(kind), None, "{kind:?}");
            }
            assert_eq!(cell.error_rate_all(ErrorKind::Generation), Some(0.0));
        }
        // The language error of the correct en-de answer shows only over all responses.
        assert_eq!(
            row.en_x[&Lang::De].error_rate_all(ErrorKind::Language),
            Some(100.0)
        );
        // en-en has no language error at all, even over all responses.
        assert_eq!(row.en_en.error_rate_all(ErrorKind::Language), None);
        // A mean over languages skips the languages without a rate.
        assert_eq!(row.mean_en_x(|c| c.error_rate(ErrorKind::Language)), None);
    }

    /// The fixture under both rules (its design is in `report::synthetic`).
    #[test]
    fn the_fixture_rates_under_em0_and_an_f1_threshold() {
        let (units, _) = crate::report::synthetic::fixture_shard(0..4).unwrap();
        let v1: Vec<UnitRecord> = units
            .into_iter()
            .filter(|u| u.key.setting.format == Format::V1)
            .collect();
        let close = |a: Option<f64>, b: f64| {
            let a = a.unwrap();
            assert!((a - b).abs() < 1e-9, "{a} != {b}");
        };
        // EM = 0 (F1 < 100 in the fixture): zh F1 60, 0, 0, 100 -> 3 incorrect, two of them
        // language errors, one blank, one refusal.
        let row = one_row(&v1, Incorrect::Em0);
        let zh = &row.en_x[&Lang::Zh];
        assert_eq!(zh.incorrect, 3);
        close(zh.error_rate(ErrorKind::Language), 200.0 / 3.0);
        close(zh.error_rate(ErrorKind::Generation), 200.0 / 3.0);
        close(zh.error_rate(ErrorKind::Blank), 100.0 / 3.0);
        close(zh.error_rate_all(ErrorKind::Language), 50.0);
        // en-en F1 100, 100, 80, 60: 2 incorrect, no generation error.
        assert_eq!(row.en_en.incorrect, 2);
        close(row.en_en.error_rate(ErrorKind::Generation), 0.0);
        // F1 < 50: zh keeps its two 0-F1 answers (both language errors); en-en has none.
        let row = one_row(&v1, Incorrect::F1Below(50.0));
        let zh = &row.en_x[&Lang::Zh];
        assert_eq!(zh.incorrect, 2);
        close(zh.error_rate(ErrorKind::Language), 100.0);
        close(zh.error_rate(ErrorKind::Refusal), 50.0);
        // ar F1 100, 30, 20, 75: 2 incorrect, one gibberish.
        close(row.en_x[&Lang::Ar].error_rate(ErrorKind::Gibberish), 50.0);
        assert_eq!(row.en_en.incorrect, 0);
        assert_eq!(row.en_en.error_rate(ErrorKind::Generation), None);
        close(row.en_en.error_rate_all(ErrorKind::Generation), 0.0);
    }

    #[test]
    fn the_llm_judge_is_the_default_only_when_every_unit_has_it() {
        let (mut units, _) = crate::report::synthetic::fixture_shard(0..1).unwrap();
        assert_eq!(
            resolve_judge(&units, None).unwrap().choice,
            JudgeChoice::Rules
        );
        let err = resolve_judge(&units, Some(JudgeChoice::Llm)).unwrap_err();
        assert!(err.to_string().contains("14 of 14 units"), "{err}");
        for u in &mut units {
            u.labels.judge = Some(GenerationLabel {
                error: None,
                judge: crate::eval::gen_error::Judge::Llm {
                    model: "judge-model".into(),
                },
                reason: String::new(),
            });
        }
        let judge = resolve_judge(&units, None).unwrap();
        assert_eq!(judge.choice, JudgeChoice::Llm);
        assert_eq!(judge.description, "the LLM judge (llm:judge-model)");
        assert_eq!(
            resolve_judge(&units, Some(JudgeChoice::Rules))
                .unwrap()
                .choice,
            JudgeChoice::Rules
        );
    }
}

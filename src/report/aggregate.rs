//! Per-row counts and means: a row is one model under one prompt setting (shots, format and
//! the relevance target), the unit of every table of the paper.

use crate::attribution::relevance::TargetMode;
use crate::batch::UnitRecord;
use crate::data::prompt::{Format, Scenario};
use crate::data::Lang;
use crate::eval::gen_error::{GenerationError, GenerationLabel};
use crate::eval::normalize::Normalizer;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

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
            shots: unit.key.shots,
            format: unit.key.format,
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

    /// In percent.
    pub fn percent(&self) -> Option<f64> {
        (self.n > 0).then(|| 100.0 * self.hits as f64 / self.n as f64)
    }
}

/// Everything counted over the units of one row, scenario and language.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CellStats {
    pub units: usize,
    pub f1: Mean,
    pub em: Mean,
    pub language_error: Rate,
    pub generation_error: Rate,
    pub blank: Rate,
    pub refusal: Rate,
    pub gibberish: Rate,
    pub oracle_step: Rate,
    pub oracle_sequence: Rate,
}

impl CellStats {
    fn add(&mut self, unit: &UnitRecord, normalizer: Normalizer, judge: JudgeChoice) {
        let score = match normalizer {
            Normalizer::Squad => unit.scores.squad,
            Normalizer::Mlqa => unit.scores.mlqa,
        };
        self.units += 1;
        self.f1.add(score.f1);
        self.em.add(score.em);
        self.language_error.add(unit.labels.language_error);
        let error = generation_label(unit, judge).error;
        self.generation_error.add(Some(error.is_some()));
        self.blank.add(Some(error == Some(GenerationError::Blank)));
        self.refusal
            .add(Some(error == Some(GenerationError::Refusal)));
        self.gibberish
            .add(Some(error == Some(GenerationError::Gibberish)));
        if let Some(oracle) = &unit.oracle {
            self.oracle_step.add(oracle.step_correct);
            self.oracle_sequence.add(oracle.sequence_correct);
        }
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

/// The rows, in key order.
pub fn rows(units: &[UnitRecord], normalizer: Normalizer, judge: JudgeChoice) -> Vec<RowStats> {
    let mut rows: BTreeMap<RowKey, RowStats> = BTreeMap::new();
    for unit in units {
        let key = RowKey::of(unit);
        let row = rows.entry(key.clone()).or_insert_with(|| RowStats {
            key,
            en_en: CellStats::default(),
            en_x: BTreeMap::new(),
            x_x: BTreeMap::new(),
        });
        let cell = match unit.key.scenario {
            Scenario::EnEn => &mut row.en_en,
            Scenario::EnX => row.en_x.entry(unit.key.lang).or_default(),
            Scenario::XX => row.x_x.entry(unit.key.lang).or_default(),
        };
        cell.add(unit, normalizer, judge);
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

//! Mean part MRD of the "balanced" and "en-superior" samples (the paper's Figure 3).
//!
//! A sample's group comes from its F1 (x100) under one row: balanced when F1 > 50 in every
//! language present (en-en and each en-x unit), en-superior when its en-en F1 exceeds the mean
//! of its en-x F1 by more than 50. A sample needs its en-en unit and at least one en-x unit.

use super::aggregate::{Mean, RowKey};
use crate::batch::UnitRecord;
use crate::data::prompt::{Part, Scenario};
use crate::data::Lang;
use crate::eval::normalize::Normalizer;
use std::collections::BTreeMap;
use std::fmt;

/// The parts whose MRD the figure shows: the paper's parts, not markup or generated text.
pub const PARTS: [Part; 6] = Part::CONTENT;

/// F1 margin (x100) of both groups.
pub const MARGIN: f64 = 50.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Balanced,
    EnSuperior,
}

impl Group {
    pub const ALL: [Group; 2] = [Group::Balanced, Group::EnSuperior];

    pub fn name(self) -> &'static str {
        match self {
            Group::Balanced => "balanced",
            Group::EnSuperior => "en-superior",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Mean MRD per part of one language (en: the en-en units) over a group's samples.
#[derive(Clone, Debug, PartialEq)]
pub struct LangMrd {
    pub lang: Lang,
    /// Units with MRDs behind the means.
    pub units: usize,
    pub parts: [Option<f64>; PARTS.len()],
}

/// One group of one row.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMrd {
    pub row: RowKey,
    pub group: Group,
    pub samples: usize,
    /// Samples of the row that could be classified (en-en and at least one en-x unit).
    pub classified: usize,
    pub langs: Vec<LangMrd>,
}

#[derive(Default)]
struct SampleUnits<'a> {
    en: Option<&'a UnitRecord>,
    x: Vec<&'a UnitRecord>,
}

/// Which groups a sample belongs to (it can be in neither, not in both: balanced needs
/// en-x F1 > 50, en-superior en-x F1 below en-en - 50 <= 50).
pub fn classify(en_f1: f64, x_f1: &[f64]) -> Option<Group> {
    if x_f1.is_empty() {
        return None;
    }
    let mean_x = x_f1.iter().sum::<f64>() / x_f1.len() as f64;
    if en_f1 > MARGIN && x_f1.iter().all(|&f| f > MARGIN) {
        Some(Group::Balanced)
    } else if en_f1 - mean_x > MARGIN {
        Some(Group::EnSuperior)
    } else {
        None
    }
}

/// The groups of every row that has MRDs.
pub fn group_mrds(units: &[UnitRecord], normalizer: Normalizer) -> Vec<GroupMrd> {
    let mut by_row: BTreeMap<RowKey, BTreeMap<&str, SampleUnits>> = BTreeMap::new();
    for unit in units {
        let sample = by_row
            .entry(RowKey::of(unit))
            .or_default()
            .entry(unit.key.sample.as_str())
            .or_default();
        match unit.key.setting.scenario {
            Scenario::EnEn => sample.en = Some(unit),
            Scenario::EnX => sample.x.push(unit),
            Scenario::XX => {}
        }
    }
    let f1 = |u: &UnitRecord| match normalizer {
        Normalizer::Squad => u.scores.squad.f1,
        Normalizer::Mlqa => u.scores.mlqa.f1,
    };
    let mut out = Vec::new();
    for (row, samples) in by_row {
        let has_mrd = samples
            .values()
            .any(|s| s.en.is_some_and(|u| u.mrd.is_some()) || s.x.iter().any(|u| u.mrd.is_some()));
        if !has_mrd {
            continue;
        }
        let mut members: BTreeMap<Group, Vec<&SampleUnits>> = BTreeMap::new();
        let mut classified = 0;
        for s in samples.values() {
            let Some(en) = s.en else { continue };
            if s.x.is_empty() {
                continue;
            }
            classified += 1;
            let x: Vec<f64> = s.x.iter().map(|u| f1(u)).collect();
            if let Some(group) = classify(f1(en), &x) {
                members.entry(group).or_default().push(s);
            }
        }
        for group in Group::ALL {
            let members = members.get(&group).map(Vec::as_slice).unwrap_or_default();
            out.push(GroupMrd {
                row: row.clone(),
                group,
                samples: members.len(),
                classified,
                langs: lang_means(members),
            });
        }
    }
    out
}

fn lang_means(members: &[&SampleUnits]) -> Vec<LangMrd> {
    let mut sums: BTreeMap<Lang, (usize, [Mean; PARTS.len()])> = BTreeMap::new();
    for s in members {
        for unit in s.en.iter().chain(&s.x) {
            let Some(mrd) = &unit.mrd else { continue };
            let (units, means) = sums.entry(unit.key.setting.lang).or_default();
            *units += 1;
            for (mean, part) in means.iter_mut().zip(PARTS) {
                if let Some(depth) = mrd.get(part) {
                    mean.add(depth as f64);
                }
            }
        }
    }
    sums.into_iter()
        .map(|(lang, (units, means))| LangMrd {
            lang,
            units,
            parts: means.map(|m| m.get()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_the_f1_margins() {
        assert_eq!(classify(100.0, &[80.0, 51.0]), Some(Group::Balanced));
        // 50 is not above 50.
        assert_eq!(classify(100.0, &[80.0, 50.0]), None);
        // 100 - mean(0, 30) = 85 > 50.
        assert_eq!(classify(100.0, &[0.0, 30.0]), Some(Group::EnSuperior));
        // 80 - mean(40, 20) = 50: not more than 50.
        assert_eq!(classify(80.0, &[40.0, 20.0]), None);
        assert_eq!(classify(100.0, &[]), None);
    }
}

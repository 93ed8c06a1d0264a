//! The language lens over a run: per row, scenario and language the mean `P_en` and `P_x`
//! per level (METHOD.md, "Language lens") and the decision levels, from each unit's
//! [`LensSummary`].

use super::aggregate::RowKey;
use crate::batch::{LensSummary, UnitRecord};
use crate::data::prompt::Scenario;
use crate::data::Lang;
use std::collections::BTreeMap;

/// One language of one row and scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct LensSeries {
    pub row: RowKey,
    pub scenario: Scenario,
    pub lang: Lang,
    /// Units with a lens.
    pub samples: usize,
    /// Mean `P_en` per level over the units that have it, and how many do.
    pub p_en: Vec<f64>,
    pub p_en_samples: usize,
    /// Mean `P_x` per level over the units that have it (none in en-en, and none where
    /// the two gold answers begin with the same token), and how many do.
    pub p_x: Vec<f64>,
    pub p_x_samples: usize,
    /// Units whose English and language-x gold answers begin with the same token.
    pub same_first_token: usize,
    /// Each unit's decision level, sorted.
    pub decision_levels: Vec<usize>,
    /// Units whose generated token is the English gold's first token.
    pub generated_is_en_gold: usize,
}

impl LensSeries {
    pub fn levels(&self) -> usize {
        self.p_en.len().max(self.p_x.len())
    }

    pub fn mean_decision(&self) -> Option<f64> {
        let n = self.decision_levels.len();
        (n > 0).then(|| self.decision_levels.iter().sum::<usize>() as f64 / n as f64)
    }

    /// The median decision level (the lower middle for an even count).
    pub fn median_decision(&self) -> Option<usize> {
        let n = self.decision_levels.len();
        (n > 0).then(|| self.decision_levels[(n - 1) / 2])
    }
}

#[derive(Default)]
struct Sums {
    samples: usize,
    p_en: Vec<f64>,
    p_en_samples: usize,
    p_x: Vec<f64>,
    p_x_samples: usize,
    same: usize,
    decisions: Vec<usize>,
    generated_is_en_gold: usize,
}

fn add(sum: &mut Vec<f64>, values: &[f32]) {
    if sum.len() < values.len() {
        sum.resize(values.len(), 0.0);
    }
    for (s, v) in sum.iter_mut().zip(values) {
        *s += f64::from(*v);
    }
}

/// Every (row, scenario, language) with a lens, in key order.
pub fn lens_series(units: &[UnitRecord]) -> Vec<LensSeries> {
    let mut sums: BTreeMap<(RowKey, Scenario, Lang), Sums> = BTreeMap::new();
    for unit in units {
        let Some(lens) = &unit.lens else {
            continue;
        };
        let key = (
            RowKey::of(unit),
            unit.key.setting.scenario,
            unit.key.setting.lang,
        );
        let s = sums.entry(key).or_default();
        let lens: &LensSummary = lens;
        s.samples += 1;
        s.decisions.push(lens.decision_level);
        if let Some(p) = lens.p_en.as_deref() {
            add(&mut s.p_en, p);
            s.p_en_samples += 1;
        }
        if let Some(p) = lens.p_x.as_deref() {
            add(&mut s.p_x, p);
            s.p_x_samples += 1;
        }
        s.same += usize::from(lens.same_first_token);
        // The generated token is the English gold's first token when that token is top-1
        // at the last level (the generated token is the last level's top-1).
        if lens.rank_en.as_ref().and_then(|r| r.last()) == Some(&1) {
            s.generated_is_en_gold += 1;
        }
    }
    sums.into_iter()
        .map(|((row, scenario, lang), mut s)| {
            let mean = |sum: Vec<f64>, n: usize| -> Vec<f64> {
                sum.into_iter().map(|v| v / n.max(1) as f64).collect()
            };
            s.decisions.sort_unstable();
            LensSeries {
                row,
                scenario,
                lang,
                samples: s.samples,
                p_en: mean(s.p_en, s.p_en_samples),
                p_en_samples: s.p_en_samples,
                p_x: mean(s.p_x, s.p_x_samples),
                p_x_samples: s.p_x_samples,
                same_first_token: s.same,
                decision_levels: s.decisions,
                generated_is_en_gold: s.generated_is_en_gold,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic::{fixture_lens, fixture_shard, FIXTURE_LANGS};

    #[test]
    fn means_follow_the_fixture_and_same_first_tokens_are_counted_not_averaged() {
        let (units, _) = fixture_shard(0..4).unwrap();
        let series = lens_series(&units);
        let de = series
            .iter()
            .find(|s| {
                s.scenario == Scenario::EnX && s.lang == Lang::De && s.row.format.name() == "v1"
            })
            .unwrap();
        assert_eq!(de.samples, 4);
        // Sample 3 in de begins both gold answers with one token: no P_x for it.
        assert_eq!((de.same_first_token, de.p_x_samples), (1, 3));
        let levels = de.levels();
        for level in [0, levels / 2, levels - 1] {
            let want_en: f64 = (0..4)
                .map(|k| {
                    f64::from(
                        fixture_lens(k, Lang::De, Scenario::EnX, levels)
                            .p_en
                            .unwrap()[level],
                    )
                })
                .sum::<f64>()
                / 4.0;
            assert!((de.p_en[level] - want_en).abs() < 1e-6, "level {level}");
            let want_x: f64 = (0..3)
                .map(|k| {
                    f64::from(
                        fixture_lens(k, Lang::De, Scenario::EnX, levels)
                            .p_x
                            .unwrap()[level],
                    )
                })
                .sum::<f64>()
                / 3.0;
            assert!((de.p_x[level] - want_x).abs() < 1e-6, "level {level}");
        }
        let want: Vec<usize> = {
            let mut d: Vec<usize> = (0..4)
                .map(|k| fixture_lens(k, Lang::De, Scenario::EnX, levels).decision_level)
                .collect();
            d.sort_unstable();
            d
        };
        assert_eq!(de.decision_levels, want);
        assert_eq!(de.median_decision(), Some(want[1]));
        // en-en has P_en only.
        let en = series
            .iter()
            .find(|s| s.scenario == Scenario::EnEn)
            .unwrap();
        assert_eq!((en.p_x_samples, en.p_x.len()), (0, 0));
        assert!(FIXTURE_LANGS.contains(&Lang::De));
    }
}

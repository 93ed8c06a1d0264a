//! `S(en,x)` per level, part and language (the paper's Figures 4-6): the mean over a row's
//! units of their cosine to the en-en run, divided by the merged pool's
//! `mean_{i != j} Sim(x_i, x_j)` of the same model and prompt setting.

use super::aggregate::RowKey;
use crate::batch::{PoolFile, PoolKey, UnitRecord};
use crate::data::prompt::Scenario;
use crate::data::Lang;
use crate::similarity::{PerPart, Ratios, SimPart};
use anyhow::{bail, Result};
use std::collections::BTreeMap;

/// One language of one row and scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSeries {
    pub row: RowKey,
    pub scenario: Scenario,
    pub lang: Lang,
    /// Units behind the mean.
    pub samples: usize,
    /// `mean_k Sim(e_k, x_k)` per part and level.
    pub mean: PerPart<Vec<f64>>,
    /// The denominator, when the pool has at least two samples of the language.
    pub within: Option<PerPart<Vec<f64>>>,
    pub ratio: Option<Ratios>,
}

impl SimSeries {
    pub fn levels(&self) -> usize {
        self.mean.question.len()
    }

    /// `S(en,x)` where the pool allows it, else the raw mean cosine.
    pub fn shown(&self, part: SimPart, level: usize) -> Option<f64> {
        match &self.ratio {
            Some(ratio) => ratio.get(part).get(level).copied().flatten(),
            None => self.mean.get(part).get(level).copied(),
        }
    }
}

struct Sums {
    samples: usize,
    sum: PerPart<Vec<f64>>,
}

/// Every (row, scenario, language) with similarity, in key order.
pub fn similarity_series(units: &[UnitRecord], pools: &PoolFile) -> Result<Vec<SimSeries>> {
    let mut sums: BTreeMap<(RowKey, Scenario, Lang), Sums> = BTreeMap::new();
    for unit in units {
        let Some(sim) = &unit.similarity else {
            continue;
        };
        let key = (
            RowKey::of(unit),
            unit.key.setting.scenario,
            unit.key.setting.lang,
        );
        let entry = sums.entry(key).or_insert_with(|| Sums {
            samples: 0,
            sum: sim.map(|_, v| vec![0.0; v.len()]),
        });
        for part in SimPart::ALL {
            let (acc, add) = (entry.sum.get_mut(part), sim.get(part));
            if acc.len() != add.len() {
                bail!(
                    "{}: {} {part} similarity levels where other units of the model have {}; \
                     the files mix models",
                    unit.key,
                    add.len(),
                    acc.len()
                );
            }
            for (a, v) in acc.iter_mut().zip(add) {
                *a += v;
            }
        }
        entry.samples += 1;
    }
    let mut out = Vec::new();
    for ((row, scenario, lang), s) in sums {
        let n = s.samples as f64;
        let mean = s
            .sum
            .map(|_, v| v.iter().map(|x| x / n).collect::<Vec<_>>());
        let pool = pools.get(&PoolKey {
            model: row.model.clone(),
            scenario,
            shots: row.shots,
            format: row.format,
        });
        let (within, ratio) = match pool {
            Some(pool) => (pool.within(lang), pool.ratio(lang, &mean)?),
            None => (None, None),
        };
        out.push(SimSeries {
            row,
            scenario,
            lang,
            samples: s.samples,
            mean,
            within,
            ratio,
        });
    }
    Ok(out)
}

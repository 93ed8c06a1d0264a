//! Which units a run covers: the selection flags, the unit list in a fixed order, and the
//! deterministic shard split.
//!
//! Order: model, then sample, shots, format, then the scenarios with en-en first, then the
//! languages. A sample's en-en unit thus precedes its en-x units, whose similarity needs the
//! en-en hidden states (computed once and reused).
//!
//! Shards split by *sample*: the k-th selected sample goes to shard `k mod n`, with all its
//! models, scenarios and languages. Each shard therefore computes a sample's en-en states once,
//! and every unit lands in exactly one shard whatever `n` is.

use super::record::UnitKey;
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::Setting;
use crate::data::prompt::{Format, Scenario};
use crate::data::{Dataset, Lang};
use anyhow::{bail, Context, Result};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;

/// `--samples`: all, the first N, a range `a..b` (0-based, b excluded) or a file of ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SampleSelection {
    All,
    First(usize),
    Range(Range<usize>),
    /// One question id per line (blank lines and `#` comments skipped).
    IdsFile(PathBuf),
}

impl FromStr for SampleSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "all" {
            return Ok(SampleSelection::All);
        }
        if let Ok(n) = s.parse::<usize>() {
            return Ok(SampleSelection::First(n));
        }
        if let Some((a, b)) = s.split_once("..") {
            if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                if a >= b {
                    return Err(format!(
                        "empty sample range {s}: the end must exceed the start"
                    ));
                }
                return Ok(SampleSelection::Range(a..b));
            }
        }
        if s.is_empty() {
            return Err("--samples is empty; use all, N, a..b or a file of ids".into());
        }
        Ok(SampleSelection::IdsFile(PathBuf::from(s)))
    }
}

impl SampleSelection {
    /// Positions of the selected samples in `data`, in data order for `all`/N/a..b and in
    /// file order for an ids file.
    pub fn resolve(&self, data: &Dataset) -> Result<Vec<usize>> {
        let n = data.len();
        match self {
            SampleSelection::All => Ok((0..n).collect()),
            SampleSelection::First(k) => Ok((0..(*k).min(n)).collect()),
            SampleSelection::Range(r) => {
                if r.start >= n {
                    bail!(
                        "--samples {}..{}: the data set has {n} samples",
                        r.start,
                        r.end
                    );
                }
                Ok((r.start..r.end.min(n)).collect())
            }
            SampleSelection::IdsFile(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "--samples {}: not all, N or a..b, and not a readable file of ids",
                        path.display()
                    )
                })?;
                let mut out = Vec::new();
                let mut missing = Vec::new();
                for id in text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                {
                    match data.position_of(id) {
                        Some(i) if !out.contains(&i) => out.push(i),
                        Some(_) => {}
                        None => missing.push(id.to_string()),
                    }
                }
                if !missing.is_empty() {
                    let shown: Vec<_> = missing.iter().take(5).cloned().collect();
                    bail!(
                        "{}: {} id(s) not in the data set: {}{}",
                        path.display(),
                        missing.len(),
                        shown.join(", "),
                        if missing.len() > 5 { ", ..." } else { "" }
                    );
                }
                Ok(out)
            }
        }
    }
}

/// `--shard i/n`: this process takes shard i (0-based) of n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Shard { index, count }),
            Some((index, count)) if count > 0 => Err(format!(
                "--shard {index}/{count}: shards are numbered from 0 to {} (a Slurm array \
                 --array=0-{} gives ${{SLURM_ARRAY_TASK_ID}}/{count})",
                count - 1,
                count - 1
            )),
            _ => Err(format!(
                "--shard '{s}': expected i/n with 0 <= i < n, e.g. 0/8"
            )),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Everything the unit list is built from.
#[derive(Clone, Debug)]
pub struct Plan {
    pub models: Vec<String>,
    /// Positions in the data set, in run order.
    pub samples: Vec<usize>,
    pub scenarios: Vec<Scenario>,
    /// Languages x of en-x and x-x (English is skipped there: en-en covers it).
    pub langs: Vec<Lang>,
    pub shots: Vec<u8>,
    pub formats: Vec<Format>,
    pub target: TargetMode,
    pub shard: Option<Shard>,
}

/// One unit to run: its key and the sample's position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub key: UnitKey,
    pub index: usize,
}

impl Plan {
    /// Checks the plan against the data: languages present, shots 0 or 2.
    pub fn check(&self, data: &Dataset) -> Result<()> {
        for &lang in self.langs.iter().chain([Lang::En].iter()) {
            if !data.has_lang(lang) {
                bail!("language {lang} is not in the data set");
            }
        }
        for &shots in &self.shots {
            if shots != 0 && shots != 2 {
                bail!("--shots {shots}: the paper's settings are 0 and 2");
            }
        }
        if self.models.is_empty() {
            bail!("no model to evaluate: give --models");
        }
        Ok(())
    }

    /// The samples of this shard, in run order.
    pub fn shard_samples(&self) -> Vec<usize> {
        self.samples
            .iter()
            .enumerate()
            .filter(|(k, _)| self.shard.is_none_or(|s| k % s.count == s.index))
            .map(|(_, &i)| i)
            .collect()
    }

    /// The units of this shard for one model, in run order.
    pub fn units_for(&self, model: &str, data: &Dataset) -> Vec<Unit> {
        let mut scenarios = self.scenarios.clone();
        scenarios.sort();
        scenarios.dedup();
        let mut units = Vec::new();
        for index in self.shard_samples() {
            let Some(sample) = data.get(index) else {
                continue;
            };
            for &shots in &self.shots {
                for &format in &self.formats {
                    for &scenario in &scenarios {
                        let langs: Vec<Lang> = match scenario {
                            Scenario::EnEn => vec![Lang::En],
                            _ => self
                                .langs
                                .iter()
                                .copied()
                                .filter(|&l| l != Lang::En)
                                .collect(),
                        };
                        for lang in langs {
                            units.push(Unit {
                                key: UnitKey {
                                    model: model.to_string(),
                                    sample: sample.id.clone(),
                                    setting: Setting {
                                        scenario,
                                        lang,
                                        shots,
                                        format,
                                    },
                                    target: self.target,
                                },
                                index,
                            });
                        }
                    }
                }
            }
        }
        units
    }

    /// Every unit of this shard, all models.
    pub fn units(&self, data: &Dataset) -> Vec<Unit> {
        self.models
            .iter()
            .flat_map(|m| self.units_for(m, data))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Answer, Entry, Sample};
    use std::collections::{BTreeMap, HashSet};

    fn data(n: usize) -> Dataset {
        let langs = [Lang::En, Lang::De, Lang::Zh, Lang::Ar];
        let samples = (0..n)
            .map(|i| Sample {
                id: format!("q{i}"),
                article: i / 3,
                title: format!("Article {}", i / 3),
                custom: false,
                entries: langs
                    .iter()
                    .map(|&l| {
                        (
                            l,
                            Entry {
                                context: format!("context {i} {l}"),
                                question: format!("question {i}?"),
                                answers: vec![Answer {
                                    text: "context".into(),
                                    start: 0,
                                }],
                            },
                        )
                    })
                    .collect::<BTreeMap<_, _>>(),
            })
            .collect();
        Dataset {
            source: "test".into(),
            langs: langs.to_vec(),
            samples,
        }
    }

    fn plan(shard: Option<Shard>) -> Plan {
        Plan {
            models: vec!["a".into(), "b".into()],
            samples: (0..7).collect(),
            scenarios: vec![Scenario::XX, Scenario::EnEn, Scenario::EnX],
            langs: vec![Lang::De, Lang::En, Lang::Zh, Lang::Ar],
            shots: vec![0, 2],
            formats: vec![Format::V1, Format::V2],
            target: TargetMode::Step,
            shard,
        }
    }

    #[test]
    fn selections_parse() {
        assert_eq!("all".parse(), Ok(SampleSelection::All));
        assert_eq!("25".parse(), Ok(SampleSelection::First(25)));
        assert_eq!("10..20".parse(), Ok(SampleSelection::Range(10..20)));
        assert!("20..10".parse::<SampleSelection>().is_err());
        assert_eq!(
            "ids.txt".parse(),
            Ok(SampleSelection::IdsFile(PathBuf::from("ids.txt")))
        );
        let d = data(5);
        assert_eq!(SampleSelection::First(9).resolve(&d).unwrap().len(), 5);
        assert_eq!(
            SampleSelection::Range(3..9).resolve(&d).unwrap(),
            vec![3, 4]
        );
        assert!(SampleSelection::Range(7..9).resolve(&d).is_err());
    }

    #[test]
    fn ids_files_resolve_in_file_order_and_name_missing_ids() {
        let d = data(5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(&path, "# chosen\nq3\n\nq1\nq3\n").unwrap();
        let sel = SampleSelection::IdsFile(path.clone());
        assert_eq!(sel.resolve(&d).unwrap(), vec![3, 1]);
        std::fs::write(&path, "q1\nnope\n").unwrap();
        let err = sel.resolve(&d).unwrap_err().to_string();
        assert!(err.contains("1 id(s) not in the data set: nope"), "{err}");
    }

    #[test]
    fn shards_parse() {
        assert_eq!("3/8".parse(), Ok(Shard { index: 3, count: 8 }));
        let err = "8/8".parse::<Shard>().unwrap_err();
        assert!(err.contains("numbered from 0 to 7"), "{err}");
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn en_en_comes_first_and_english_is_not_an_x() {
        let d = data(7);
        let units = plan(None).units_for("a", &d);
        // Per sample: 2 shots x 2 formats x (1 en-en + 3 en-x + 3 x-x).
        assert_eq!(units.len(), 7 * 4 * 7);
        assert_eq!(units[0].key.setting.scenario, Scenario::EnEn);
        assert_eq!(units[0].key.setting.lang, Lang::En);
        assert!(units
            .iter()
            .all(|u| u.key.setting.scenario == Scenario::EnEn || u.key.setting.lang != Lang::En));
        assert_eq!(units[1].key.setting.scenario, Scenario::EnX);
    }

    #[test]
    fn shards_cover_every_unit_exactly_once() {
        let d = data(7);
        let all: Vec<UnitKey> = plan(None).units(&d).into_iter().map(|u| u.key).collect();
        let unique: HashSet<&UnitKey> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        for n in [1, 2, 3, 5, 7, 8, 13] {
            let mut seen: Vec<UnitKey> = Vec::new();
            for i in 0..n {
                let part = plan(Some(Shard { index: i, count: n })).units(&d);
                seen.extend(part.into_iter().map(|u| u.key));
            }
            assert_eq!(seen.len(), all.len(), "n = {n}");
            let seen_set: HashSet<&UnitKey> = seen.iter().collect();
            assert_eq!(seen_set, unique, "n = {n}");
        }
    }

    #[test]
    fn a_sample_stays_in_one_shard() {
        let d = data(7);
        for i in 0..3 {
            let units = plan(Some(Shard { index: i, count: 3 })).units(&d);
            let samples: HashSet<&str> = units.iter().map(|u| u.key.sample.as_str()).collect();
            for j in (0..3).filter(|&j| j != i) {
                let other = plan(Some(Shard { index: j, count: 3 })).units(&d);
                assert!(other
                    .iter()
                    .all(|u| !samples.contains(u.key.sample.as_str())));
            }
        }
    }
}

//! The lines of a results file (`xmrc-lens eval` writes them, `xmrc-lens report` reads them)
//! and the reference-pool sidecar beside it.
//!
//! A results file is JSON Lines. The first line is a [`RunHeader`] (`"kind": "run"`): the
//! settings every unit of the file was computed with, so that a resumed run can refuse other
//! settings. Every other line is one finished [`UnitRecord`] (`"kind": "unit"`): the compact
//! outcome of one `trace_sample` call — answer, scores, labels, part MRD, the per-level cosine
//! to the en-en run and the oracle verdict — never the big matrices.
//!
//! `S(en,x)` also needs `mean_{i != j} Sim(x_i, x_j)` over all samples of a language, which
//! no single line can carry cheaply. The pool's running sums of unit vectors are additive, so
//! `eval` keeps them in a sidecar `<results>.pool.json` ([`PoolFile`]) that `report` adds up
//! over shards.

use crate::attribution::mrd::PartMrd;
use crate::attribution::oracle::{Ablation, OracleResult};
use crate::attribution::relevance::TargetMode;
use crate::attribution::target::{AnswerTarget, TargetChoice};
use crate::data::prompt::Setting;
use crate::data::prompt::{Format, Scenario};
use crate::data::Lang;
use crate::eval::score::Score;
use crate::lens::LensTrace;
use crate::model::decoder::GradientRules;
use crate::pipeline::{Labels, ModelIdentity, SampleTrace, StageTimings, StopMode};
use crate::similarity::{PerPart, ReferencePool};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Version of the results-file layout (header, unit lines and pool sidecar).
/// Version 2 adds what relevance and the oracle explained (`settings.explain`, each unit's
/// `target`); version-1 files still load (they explained the first generated token).
/// Version 3 gives markup its own part MRD (`markup`), so the context, question and task MRDs
/// no longer include their labels; version-2 files still load.
pub const RESULTS_VERSION: u32 = 3;

/// The oldest results version this xmrc-lens reads.
pub const OLDEST_RESULTS_VERSION: u32 = 1;

/// Version-1 files explained the first generated token.
fn explained_first_generated() -> TargetChoice {
    TargetChoice::FirstGenerated
}

/// What identifies one unit of work: the result is a function of the key and the file's
/// [`RunSettings`]. `lang` is `en` for en-en.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnitKey {
    pub model: String,
    /// The XQuAD question id.
    pub sample: String,
    #[serde(flatten)]
    pub setting: Setting,
    /// What relevance explains (part of the key because MRDs depend on it).
    pub target: TargetMode,
}

impl fmt::Display for UnitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} · {} · {} {} · {}-shot {} · {}",
            self.model,
            self.sample,
            self.setting.scenario,
            self.setting.lang,
            self.setting.shots,
            self.setting.format,
            self.target
        )
    }
}

/// Which instruments a run asks for, beyond the answer and its labels (always on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Analyses {
    pub relevance: bool,
    pub similarity: bool,
    pub oracle: bool,
    /// The language lens (absent from files written before it existed: off there).
    #[serde(default)]
    pub lens: bool,
}

impl Analyses {
    /// Names as `--analyses` takes them.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = vec!["answer"];
        for (on, name) in [
            (self.relevance, "relevance"),
            (self.similarity, "similarity"),
            (self.oracle, "oracle"),
            (self.lens, "lens"),
        ] {
            if on {
                names.push(name);
            }
        }
        names
    }
}

impl fmt::Display for Analyses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

impl std::str::FromStr for Analyses {
    type Err = String;

    /// A comma-separated list of answer, relevance, similarity, oracle, lens (or `all`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut analyses = Analyses::default();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "answer" => {}
                "relevance" | "mrd" => analyses.relevance = true,
                "similarity" => analyses.similarity = true,
                "oracle" => analyses.oracle = true,
                "lens" => analyses.lens = true,
                "all" => {
                    analyses = Analyses {
                        relevance: true,
                        similarity: true,
                        oracle: true,
                        lens: true,
                    }
                }
                other => {
                    return Err(format!(
                    "unknown analysis '{other}'; use answer, relevance, similarity, oracle, lens or all"
                ))
                }
            }
        }
        Ok(analyses)
    }
}

/// Everything besides the [`UnitKey`] that shapes a unit's result. A results file holds
/// units of one setting; resuming with another is refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub analyses: Analyses,
    pub max_new_tokens: usize,
    pub stop: StopMode,
    pub rules: GradientRules,
    pub mrd_threshold: f32,
    pub mrd_layers: Option<usize>,
    pub ablation: Ablation,
    /// Seed of the demonstration choice.
    pub seed: u64,
    pub answer_cue: Option<bool>,
    pub system: Option<String>,
    /// The LLM judge asked for generation-error labels, if any.
    pub judge: Option<String>,
    /// The requested device and dtype (what each model got is in its unit lines).
    pub device: String,
    pub dtype: String,
    pub chat: String,
    /// What relevance and the oracle explain (absent in version 1: the first generated token).
    #[serde(default = "explained_first_generated")]
    pub explain: TargetChoice,
}

impl Default for RunSettings {
    /// `eval`'s defaults: answers only, 64 new tokens, the default stop rule, AttnLRP, MRD at
    /// 0.95 over N = L - 1 layers, sentences removed, seed 0, automatic device, dtype and chat.
    fn default() -> Self {
        RunSettings {
            analyses: Analyses::default(),
            max_new_tokens: crate::model::generate::DEFAULT_MAX_NEW_TOKENS,
            stop: StopMode::Default,
            rules: GradientRules::AttnLrp,
            mrd_threshold: 0.95,
            mrd_layers: None,
            ablation: Ablation::Remove,
            seed: 0,
            answer_cue: None,
            system: None,
            judge: None,
            device: "auto".into(),
            dtype: "auto".into(),
            chat: "auto".into(),
            explain: TargetChoice::AnswerSpan,
        }
    }
}

impl RunSettings {
    /// The fields where `self` and `other` differ, as `name: ours vs theirs`.
    pub fn differences(&self, other: &RunSettings) -> Vec<String> {
        let (a, b) = (json_fields(self), json_fields(other));
        a.iter()
            .filter_map(|(name, value)| {
                let theirs = b.get(name).cloned().unwrap_or(serde_json::Value::Null);
                (*value != theirs).then(|| format!("{name}: {value} vs {theirs}"))
            })
            .collect()
    }
}

fn json_fields(settings: &RunSettings) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(settings) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The first line of a results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub version: u32,
    pub settings: RunSettings,
    /// The shard this file holds (`i/n`), when the run was split.
    pub shard: Option<String>,
    /// xmrc-lens version that wrote the file.
    pub tool: String,
}

/// F1 and EM (x100) under one normaliser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct F1Em {
    pub f1: f64,
    pub em: f64,
}

/// Scores under both normalisers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitScores {
    pub squad: F1Em,
    pub mlqa: F1Em,
}

impl UnitScores {
    fn from_scores(scores: &[Score]) -> UnitScores {
        let mut out = UnitScores::default();
        for s in scores {
            let pair = F1Em { f1: s.f1, em: s.em };
            match s.normalizer {
                crate::eval::normalize::Normalizer::Squad => out.squad = pair,
                crate::eval::normalize::Normalizer::Mlqa => out.mlqa = pair,
            }
        }
        out
    }
}

/// The oracle's verdict on one unit (the per-sentence drops stay in `trace`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OracleVerdict {
    pub sentences: usize,
    pub gold_sentence: Option<usize>,
    pub step_rank_of_gold: Option<usize>,
    pub sequence_rank_of_gold: Option<usize>,
    /// None when the gold sentence is unknown (no gold offset in the context).
    pub step_correct: Option<bool>,
    pub sequence_correct: Option<bool>,
}

impl From<&OracleResult> for OracleVerdict {
    fn from(r: &OracleResult) -> Self {
        OracleVerdict {
            sentences: r.sentences.len(),
            gold_sentence: r.gold_sentence,
            step_rank_of_gold: r.step_rank_of_gold,
            sequence_rank_of_gold: r.sequence_rank_of_gold,
            step_correct: r.step_correct,
            sequence_correct: r.sequence_correct,
        }
    }
}

/// One finished unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub key: UnitKey,
    /// Position of the sample in the data set.
    pub index: usize,
    pub title: String,
    pub question_lang: Lang,
    pub answer_lang: Lang,
    /// The answer as scored (after `Answer:`, first line, trimmed).
    pub answer: String,
    /// The raw generation.
    pub generation: String,
    pub gold: Vec<String>,
    pub scores: UnitScores,
    pub labels: Labels,
    /// Part MRDs (with `analyses.relevance`).
    pub mrd: Option<PartMrd>,
    /// Cosine to the en-en run of the same sample per level 0..=L and part (with
    /// `analyses.similarity`, not in en-en).
    pub similarity: Option<PerPart<Vec<f64>>>,
    pub oracle: Option<OracleVerdict>,
    pub model: ModelIdentity,
    pub prompt_tokens: usize,
    pub timings: StageTimings,
    /// The explained tokens: the answer span and its teacher-forced prefix (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<AnswerTarget>,
    /// The language lens's curves and decision level (with `analyses.lens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens: Option<LensSummary>,
}

/// What a unit keeps of the language lens: per level 0..=L the probability and rank of the
/// gold answers' first tokens, the generated token's rank, and the decision level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensSummary {
    pub decision_level: usize,
    pub generated_rank: Vec<usize>,
    /// `P_en` per level and the English gold's first-token rank.
    pub p_en: Option<Vec<f32>>,
    pub rank_en: Option<Vec<usize>>,
    /// `P_x` per level and the language-x gold's first-token rank (absent in en-en and
    /// where the two gold answers begin with the same token: `same_first_token`).
    pub p_x: Option<Vec<f32>>,
    pub rank_x: Option<Vec<usize>>,
    pub same_first_token: bool,
}

impl LensSummary {
    pub fn of(lens: &LensTrace) -> Self {
        LensSummary {
            decision_level: lens.lens.decision_level,
            generated_rank: lens.lens.levels.iter().map(|l| l.generated_rank).collect(),
            p_en: lens.p_en.as_ref().map(|c| c.prob.clone()),
            rank_en: lens.p_en.as_ref().map(|c| c.rank.clone()),
            p_x: lens.p_x.as_ref().map(|c| c.prob.clone()),
            rank_x: lens.p_x.as_ref().map(|c| c.rank.clone()),
            same_first_token: lens.same_first_token,
        }
    }
}

impl UnitRecord {
    /// The compact record of a sample's trace. Fails for a free-text trace (no prompt).
    pub fn from_trace(key: UnitKey, index: usize, title: &str, trace: &SampleTrace) -> Self {
        let (question_lang, answer_lang) = trace
            .prompt
            .as_ref()
            .map_or((key.setting.lang, key.setting.lang), |p| {
                (p.question_lang, p.answer_lang)
            });
        UnitRecord {
            index,
            title: title.to_string(),
            question_lang,
            answer_lang,
            answer: trace.answer.clone(),
            generation: trace.generation.text.clone(),
            gold: trace.gold.clone(),
            scores: UnitScores::from_scores(trace.scores.as_deref().unwrap_or(&[])),
            labels: trace.labels.clone(),
            mrd: trace.relevance.as_ref().map(|r| r.part_mrd.clone()),
            similarity: trace.similarity.as_ref().map(|s| s.series.cosine.clone()),
            oracle: trace.oracle.as_ref().map(OracleVerdict::from),
            model: trace.model.clone(),
            prompt_tokens: trace.tokens.len(),
            timings: trace.timings.clone(),
            target: trace.target.clone(),
            lens: trace.lens.as_ref().map(LensSummary::of),
            key,
        }
    }

    /// The outcome without timings: two runs of the same unit agree on it (greedy decoding
    /// is deterministic on one device), so a difference marks a conflicting duplicate.
    pub fn outcome_differs(&self, other: &UnitRecord) -> Option<&'static str> {
        if self.answer != other.answer || self.generation != other.generation {
            Some("answer")
        } else if self.scores != other.scores {
            Some("scores")
        } else if self.labels.language_error != other.labels.language_error
            || self.labels.generation.error != other.labels.generation.error
        {
            Some("labels")
        } else if self.mrd.is_some() && other.mrd.is_some() && self.mrd != other.mrd {
            Some("mrd")
        } else if self.oracle.is_some() && other.oracle.is_some() && self.oracle != other.oracle {
            Some("oracle")
        } else {
            None
        }
    }
}

/// One line of a results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ResultLine {
    Run(Box<RunHeader>),
    Unit(Box<UnitRecord>),
}

/// Which pool a sample's en-x (or x-x) summary belongs to: one model and prompt setting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PoolKey {
    pub model: String,
    pub scenario: Scenario,
    pub shots: u8,
    pub format: Format,
}

/// One pool of the sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolEntry {
    pub key: PoolKey,
    pub pool: ReferencePool,
}

/// `<results>.pool.json`: the reference pools of the units in the results file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolFile {
    pub version: u32,
    pub pools: Vec<PoolEntry>,
}

impl PoolFile {
    pub fn new() -> Self {
        PoolFile {
            version: RESULTS_VERSION,
            pools: Vec::new(),
        }
    }

    pub fn get(&self, key: &PoolKey) -> Option<&ReferencePool> {
        self.pools.iter().find(|e| &e.key == key).map(|e| &e.pool)
    }

    /// The pool of `key`, created empty when missing.
    pub fn entry(&mut self, key: &PoolKey) -> &mut ReferencePool {
        let at = match self.pools.iter().position(|e| &e.key == key) {
            Some(at) => at,
            None => {
                self.pools.push(PoolEntry {
                    key: key.clone(),
                    pool: ReferencePool::new(),
                });
                self.pools.len() - 1
            }
        };
        &mut self.pools[at].pool
    }

    /// Adds another file's pools (another shard's); a sample in both is an error.
    pub fn merge(&mut self, other: &PoolFile) -> anyhow::Result<()> {
        for entry in &other.pools {
            self.entry(&entry.key)
                .merge(&entry.pool)
                .map_err(|e| anyhow::anyhow!("pool of {:?}: {e}", entry.key))?;
        }
        Ok(())
    }
}

/// Path of the pool sidecar of a results file.
pub fn pool_path(results: &std::path::Path) -> std::path::PathBuf {
    let mut name = results.as_os_str().to_owned();
    name.push(".pool.json");
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyses_parse_and_print() {
        let a: Analyses = "answer,relevance,oracle".parse().unwrap();
        assert_eq!(
            a,
            Analyses {
                relevance: true,
                similarity: false,
                oracle: true,
                lens: false,
            }
        );
        assert_eq!(a.to_string(), "answer,relevance,oracle");
        assert_eq!("all".parse::<Analyses>().unwrap().names().len(), 5);
        assert!("answer,heatmap"
            .parse::<Analyses>()
            .unwrap_err()
            .contains("unknown analysis 'heatmap'"));
    }

    #[test]
    fn unit_keys_order_and_print() {
        let key = UnitKey {
            model: "m".into(),
            sample: "id1".into(),
            setting: Setting {
                scenario: Scenario::EnX,
                lang: Lang::De,
                shots: 2,
                format: Format::V1,
            },
            target: TargetMode::Step,
        };
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(
            json,
            r#"{"model":"m","sample":"id1","scenario":"en-x","lang":"de","shots":2,"format":"v1","target":"step"}"#
        );
        assert_eq!(key.to_string(), "m · id1 · en-x de · 2-shot v1 · step");
        let mut en = key.clone();
        en.setting.scenario = Scenario::EnEn;
        assert!(en < key);
    }

    #[test]
    fn pool_path_appends_a_suffix() {
        assert_eq!(
            pool_path(std::path::Path::new("out/r.jsonl")),
            std::path::PathBuf::from("out/r.jsonl.pool.json")
        );
    }
}

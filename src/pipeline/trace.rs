//! What a trace holds: the serialisable [`SampleTrace`] and its parts.

use crate::attribution::mrd::PartMrd;
use crate::attribution::oracle::OracleResult;
use crate::attribution::relevance::Relevance;
use crate::attribution::target::AnswerTarget;
use crate::data::prompt::{Prompt, PromptToken};
use crate::data::Lang;
use crate::eval::gen_error::GenerationLabel;
use crate::eval::score::Score;
use crate::lens::LensTrace;
use crate::model::generate::{Generation, TopToken};
use crate::model::LoadedModel;
use crate::similarity::pool::HiddenSummary;
use crate::similarity::reference::SampleSimilarity;
use serde::{Deserialize, Serialize};

/// Version of the [`SampleTrace`] JSON layout. Version 2 added `target` (what relevance and
/// the oracle explain); version 3 labels prompt markup (labels, blank lines, the answer cue,
/// chat role markers) as the part `markup` instead of the context, question, task, system or
/// trailer it sat next to. Version 4 adds `lens` (the language lens). Older traces still
/// load, with their own labels and no lens.
pub const TRACE_VERSION: u32 = 4;

/// Logits kept at the last prompt position.
pub const TOP_LOGITS: usize = crate::model::generate::PROMPT_TOP;

/// The model that produced a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub family: String,
    pub architecture: String,
    pub layers: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
    pub device: String,
    pub dtype: String,
    pub chat: bool,
    /// Bytes of the weight files (mapped, not copied, on the CPU; a GGUF file's size, its
    /// weights dequantized in memory).
    #[serde(default)]
    pub weight_bytes: u64,
    /// A GGUF model's file name, tensor types and size; absent for a safetensors folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gguf: Option<crate::model::gguf::GgufSummary>,
}

impl ModelIdentity {
    pub fn of(model: &LoadedModel) -> ModelIdentity {
        let c = &model.config;
        ModelIdentity {
            name: model.name.clone(),
            family: format!("{:?}", c.family).to_lowercase(),
            architecture: c.architecture.clone(),
            layers: c.num_layers,
            hidden_size: c.hidden_size,
            vocab_size: c.vocab_size,
            device: model.describe_device(),
            dtype: format!("{:?}", model.dtype).to_lowercase(),
            chat: model.is_chat(),
            weight_bytes: model
                .files
                .weight_files()
                .iter()
                .filter_map(|w| std::fs::metadata(w).ok())
                .map(|m| m.len())
                .sum(),
            gguf: model.gguf.clone(),
        }
    }
}

/// Labels of the answer: language error (en-x) and generation errors by each judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Language Lingua detects in the extracted answer (None: no letters or undecided).
    pub detected_lang: Option<Lang>,
    /// Gold in the answer language, prediction in the question language; None where the
    /// two languages are the same (no such error exists) or for free text.
    pub language_error: Option<bool>,
    /// The rule-based classifier's label; always present.
    pub generation: GenerationLabel,
    /// The LLM judge's label, when one was asked.
    pub judge: Option<GenerationLabel>,
}

/// Relevance with its display form and MRDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelevanceTrace {
    #[serde(flatten)]
    pub relevance: Relevance,
    /// Each level's row divided by its own max |R| (-1..1).
    pub display: Vec<Vec<f32>>,
    /// Token MRD (None: no relevance on any counted layer) over layers 1..N.
    pub token_mrd: Vec<Option<usize>>,
    pub part_mrd: PartMrd,
}

/// Per level, hidden-state vectors of the traced prompt (`--dump hidden`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiddenDump {
    /// Mean over all prompt positions.
    pub mean: Vec<f32>,
    /// The last prompt position.
    pub last: Vec<f32>,
}

/// Wall time per stage, in milliseconds (absent: the stage did not run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimings {
    pub prompt_ms: f64,
    pub generate_ms: f64,
    pub labels_ms: f64,
    #[serde(default)]
    pub lens_ms: Option<f64>,
    pub relevance_ms: Option<f64>,
    pub similarity_ms: Option<f64>,
    pub oracle_ms: Option<f64>,
    pub judge_ms: Option<f64>,
    pub total_ms: f64,
}

/// Everything known about one traced sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleTrace {
    pub version: u32,
    pub model: ModelIdentity,
    /// The prompt with its part spans, gold answers and options; None for free text.
    pub prompt: Option<Prompt>,
    /// The prompt text traced (also for free text).
    pub text: String,
    pub tokens: Vec<PromptToken>,
    /// Top-20 (id, piece, logit, prob) at the last prompt position.
    pub top_logits: Vec<TopToken>,
    pub generation: Generation,
    /// Greedy ids (= `generation.ids`, repeated for scripts that want them at the top).
    pub greedy_ids: Vec<u32>,
    /// The answer as scored: the text after `Answer:`, first line, trimmed.
    pub answer: String,
    pub gold: Vec<String>,
    /// F1/EM under both normalisers (squad, then mlqa), for samples.
    pub scores: Option<Vec<Score>>,
    pub labels: Labels,
    pub relevance: Option<RelevanceTrace>,
    /// Pooled question/context/last-token vectors per level (input of the similarity).
    pub hidden: Option<HiddenSummary>,
    pub hidden_dump: Option<Vec<HiddenDump>>,
    /// Cosine to the en-en run of the same sample per level, and S(en,x) against the pool.
    pub similarity: Option<SampleSimilarity>,
    pub oracle: Option<OracleResult>,
    /// What relevance and the oracle explained: the answer span and its teacher-forced
    /// prefix (absent in version-1 traces, which explained the first generated token).
    #[serde(default)]
    pub target: Option<AnswerTarget>,
    /// The language lens at the step target's position (absent before version 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens: Option<LensTrace>,
    pub timings: StageTimings,
}

impl SampleTrace {
    /// The tokens relevance has a column for: the prompt's, then the answer prefix fed back
    /// as input.
    pub fn relevance_tokens(&self) -> Vec<PromptToken> {
        let mut tokens = self.tokens.clone();
        if let Some(target) = &self.target {
            tokens.extend(target.prefix.iter().cloned());
        }
        tokens
    }

    /// Per relevance token (`len` of them): does it carry a character of a gold answer as
    /// placed in the prompt? (Answer-prefix tokens never do.)
    pub fn gold_tokens(&self, len: usize) -> Vec<bool> {
        let mut gold = vec![false; len];
        let Some(prompt) = &self.prompt else {
            return gold;
        };
        for answer in &prompt.gold {
            let span = answer.start..answer.start + answer.text.chars().count();
            for (t, tok) in self.tokens.iter().enumerate().take(len) {
                if tok.start < span.end && span.start < tok.end {
                    gold[t] = true;
                }
            }
        }
        gold
    }
}

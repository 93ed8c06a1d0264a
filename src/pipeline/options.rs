//! What a trace is asked for (the input and which instruments run) and what it reports
//! while it runs.

use crate::attribution::mrd::MrdOptions;
use crate::attribution::oracle::OracleOptions;
use crate::attribution::relevance::RelevanceOptions;
use crate::attribution::target::TargetChoice;
use crate::data::prompt::PromptOptions;
use crate::data::Dataset;
use crate::model::generate::{GenStep, DEFAULT_MAX_NEW_TOKENS};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::SampleTrace;

/// What is traced.
pub enum TraceInput<'a> {
    /// An XQuAD sample built into a prompt (scenario, language, shots, format...).
    Sample {
        data: &'a Dataset,
        index: usize,
        options: PromptOptions,
    },
    /// Any text: raw, or as one user turn of the model's chat template with `chat`.
    Text { text: String, chat: bool },
}

/// When generation stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopMode {
    /// EOS / end-of-turn tokens, or the first line break after answer text (the paper's).
    #[default]
    Default,
    /// EOS / end-of-turn tokens only.
    Eos,
    /// Only the token limit.
    None,
}

impl FromStr for StopMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(StopMode::Default),
            "eos" => Ok(StopMode::Eos),
            "none" => Ok(StopMode::None),
            _ => Err(format!("unknown stop mode '{s}'; use default, eos or none")),
        }
    }
}

/// Which instruments run, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceOptions {
    pub max_new_tokens: usize,
    pub stop: StopMode,
    /// Alternatives kept per generated step.
    pub top_k: usize,
    /// AttnLRP relevance and MRD.
    pub relevance: Option<RelevanceOptions>,
    pub mrd: MrdOptions,
    /// Cross-lingual similarity (needs a sample in a scenario other than en-en).
    pub similarity: bool,
    pub oracle: Option<OracleOptions>,
    /// The language lens: every level read through the model's head at the step target's
    /// position (on unless asked off; older option files lack it).
    #[serde(default = "lens_on")]
    pub lens: bool,
    /// Per level, the mean over positions and the last-position hidden vector.
    pub dump_hidden: bool,
    /// What relevance and the oracle explain: the answer span (default) or the first
    /// generated token (the old target).
    pub explain: TargetChoice,
}

fn lens_on() -> bool {
    true
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            max_new_tokens: DEFAULT_MAX_NEW_TOKENS,
            stop: StopMode::Default,
            top_k: 5,
            relevance: Some(RelevanceOptions::default()),
            mrd: MrdOptions::default(),
            similarity: true,
            oracle: Some(OracleOptions::default()),
            lens: true,
            dump_hidden: false,
            explain: TargetChoice::AnswerSpan,
        }
    }
}

/// Progress of a trace, in the order stages run.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    Stage(Stage),
    /// One generated token.
    Token(GenStep),
    /// The trace so far, after the answer is scored and after each later stage finishes
    /// (fields of stages still to run are `None`), so a viewer can fill in as results arrive.
    Partial(Box<SampleTrace>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Prompt,
    Generate,
    Labels,
    Lens,
    Relevance,
    Similarity,
    Oracle,
    Judge,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Stage::Prompt => "prompt",
            Stage::Generate => "generate",
            Stage::Labels => "labels",
            Stage::Lens => "lens",
            Stage::Relevance => "relevance",
            Stage::Similarity => "similarity",
            Stage::Oracle => "oracle",
            Stage::Judge => "judge",
        };
        f.write_str(name)
    }
}

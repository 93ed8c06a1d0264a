//! Which sample and which prompt: the options `prompt` and `generate` share.

use super::data_args::DataArgs;
use crate::batch::runner::PromptBase;
use crate::data::prompt::Setting;
use crate::data::prompt::{Format, PromptOptions, Scenario};
use crate::data::request::find_sample;
use crate::data::{Dataset, Lang};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Sample index (0-based) or question id.
    #[arg(long, default_value = "0")]
    pub sample: String,
    /// en-en, en-x or x-x.
    #[arg(long, default_value = "en-x")]
    pub scenario: Scenario,
    /// The language x (ignored for en-en).
    #[arg(long, default_value = "de")]
    pub lang: Lang,
    /// Number of demonstrations: 0 or 2.
    #[arg(long, default_value_t = 0)]
    pub shots: u8,
    /// Prompt format: v1 (task first) or v2 (task last).
    #[arg(long, default_value = "v1")]
    pub format: Format,
    #[command(flatten)]
    pub extra: PromptExtraArgs,
}

/// Prompt settings beyond the sample and scenario, shared by one-sample commands and `eval`.
#[derive(Debug, Args)]
pub struct PromptExtraArgs {
    /// Seed of the demonstration choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A system text (a system message, or the start of the user turn where the template has no system role).
    #[arg(long)]
    pub system: Option<String>,
    /// End the raw prompt with "Answer:" (default: on for raw prompts, off for chat).
    #[arg(long, overrides_with = "no_answer_cue")]
    pub answer_cue: bool,
    #[arg(long, overrides_with = "answer_cue")]
    pub no_answer_cue: bool,
}

impl PromptExtraArgs {
    pub fn base(&self) -> PromptBase {
        PromptBase {
            seed: self.seed,
            answer_cue: flag(self.answer_cue, self.no_answer_cue),
            system: self.system.clone(),
        }
    }
}

impl SampleArgs {
    /// The prompt options these flags describe.
    pub fn options(&self) -> PromptOptions {
        let base = self.extra.base();
        PromptOptions {
            setting: Setting {
                scenario: self.scenario,
                lang: self.lang,
                shots: self.shots,
                format: self.format,
            },
            seed: base.seed,
            answer_cue: base.answer_cue,
            system: base.system,
        }
    }

    /// Loads the data and finds the sample.
    pub fn load(&self) -> Result<(Dataset, usize)> {
        let data = self.data.load()?;
        let index = find_sample(&data, &self.sample)?;
        Ok((data, index))
    }
}

/// `--x` / `--no-x` pairs: Some(true), Some(false), or None when neither was given.
pub fn flag(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

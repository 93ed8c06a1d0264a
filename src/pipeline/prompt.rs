//! The prompt stage: the input built into a prompt and tokenised.

use super::run::{elapsed_ms, Run};
use super::{Stage, TraceInput};
use crate::data::prompt::{
    build_prompt, tokenize_prompt, Part, Prompt, PromptOptions, PromptToken,
};
use crate::data::Dataset;
use crate::model::LoadedModel;
use anyhow::{bail, Result};
use std::time::Instant;

impl Run<'_, '_> {
    pub(super) fn prompt(&mut self) -> Result<Built> {
        self.stage(Stage::Prompt);
        let t = Instant::now();
        let built = build(self.ctx.model, self.input)?;
        self.ids = built.tokens.iter().map(|t| t.id).collect();
        if self.ids.is_empty() {
            bail!("the prompt has no tokens");
        }
        // Before any forward: a prompt longer than the context window is an error, not garbage.
        self.ctx.model.config.check_fits(self.ids.len())?;
        self.timings.prompt_ms = elapsed_ms(t);
        Ok(built)
    }
}

/// The token ids of a sample's prompt, as `trace_sample` builds them.
pub fn prompt_ids(
    model: &LoadedModel,
    data: &Dataset,
    index: usize,
    options: &PromptOptions,
) -> Result<Vec<u32>> {
    let prompt = build_prompt(data, index, options, model.chat_template.as_ref())?;
    Ok(tokenize_prompt(&prompt, &model.tokenizer)?
        .iter()
        .map(|t| t.id)
        .collect())
}

/// The prompt (None for free text), its text and its tokens.
pub(super) struct Built {
    pub prompt: Option<Prompt>,
    pub text: String,
    pub tokens: Vec<PromptToken>,
}

fn build(model: &LoadedModel, input: &TraceInput) -> Result<Built> {
    match input {
        TraceInput::Sample {
            data,
            index,
            options,
        } => {
            let prompt = build_prompt(data, *index, options, model.chat_template.as_ref())?;
            let tokens = tokenize_prompt(&prompt, &model.tokenizer)?;
            Ok(Built {
                text: prompt.text.clone(),
                prompt: Some(prompt),
                tokens,
            })
        }
        TraceInput::Text { text, chat } => {
            let (text, raw) = match (chat, &model.chat_template) {
                (true, Some(template)) => (template.render_user_turn(text, None)?.text, false),
                (true, None) => bail!(
                    "--chat: the model {} has no chat template to wrap the text in",
                    model.name
                ),
                (false, _) => (text.clone(), true),
            };
            let encoded = model.tokenizer.encode(&text, raw)?;
            let tokens = encoded
                .ids
                .iter()
                .zip(&encoded.offsets)
                .map(|(&id, &(start, end))| PromptToken {
                    id,
                    piece: model.tokenizer.display_piece(id),
                    start,
                    end,
                    part: Part::Task,
                })
                .collect();
            Ok(Built {
                prompt: None,
                text,
                tokens,
            })
        }
    }
}

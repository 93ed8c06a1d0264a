//! The judge stage: an instruct model's generation-error label for the answer (the prompt
//! and the reply's parsing are text rules of `eval::judge`).

use super::run::{elapsed_ms, Run};
use super::{SampleTrace, Stage};
use crate::eval::gen_error::GenerationLabel;
use crate::eval::judge::{judge_prompt, label_from_reply, JUDGE_MAX_NEW_TOKENS};
use crate::model::LoadedModel;
use anyhow::{anyhow, Context, Result};
use std::time::Instant;

impl Run<'_, '_> {
    pub(super) fn judge(&mut self, trace: &mut SampleTrace) -> Result<()> {
        let Some(judge) = self.ctx.judge else {
            return Ok(());
        };
        self.check_cancel()?;
        self.stage(Stage::Judge);
        let t = Instant::now();
        let question = trace
            .prompt
            .as_ref()
            .map(|p| {
                p.text
                    .chars()
                    .skip(p.question.start)
                    .take(p.question.len())
                    .collect()
            })
            .unwrap_or_else(|| trace.text.clone());
        trace.labels.judge = Some(
            judge_with_model(judge, &question, &trace.generation.text)
                .with_context(|| format!("asking the judge {}", judge.name))?,
        );
        trace.timings.judge_ms = Some(elapsed_ms(t));
        Ok(())
    }
}

/// Asks the instruct model `judge` (greedy, at most [`JUDGE_MAX_NEW_TOKENS`] tokens) about one
/// answer. Refuses a model loaded without a chat template: the prompt is a user turn.
pub fn judge_with_model(
    judge: &LoadedModel,
    question: &str,
    raw_answer: &str,
) -> Result<GenerationLabel> {
    let template = judge.chat_template.as_ref().ok_or_else(|| {
        anyhow!(
            "the judge model {} has no chat template (or was loaded without it): the LLM judge \
             needs an instruct model",
            judge.name
        )
    })?;
    let rendered = template.render_user_turn(&judge_prompt(question, raw_answer), None)?;
    // The rendered turn already holds BOS and the role markers.
    let ids = judge.tokenizer.encode(&rendered.text, false)?.ids;
    let mut options = judge.generate_options();
    options.max_new_tokens = JUDGE_MAX_NEW_TOKENS;
    options.top_k = 1;
    let generation = judge.generate(&ids, &options, None, &mut |_| {})?;
    Ok(label_from_reply(&judge.name, &generation.text))
}

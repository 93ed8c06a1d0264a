//! The judge stage: an instruct model's generation-error label for the answer.

use super::run::{elapsed_ms, Run};
use super::{SampleTrace, Stage};
use crate::eval::judge::judge_with_model;
use anyhow::{Context, Result};
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

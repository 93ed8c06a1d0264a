//! What relevance and the oracle explain, and the relevance stage: AttnLRP relevance of the
//! prompt (and the answer prefix) for that target, with its display rows and MRDs.

use super::run::{elapsed_ms, Run};
use super::{RelevanceTrace, SampleTrace, Stage};
use crate::attribution::mrd::{display_rows, part_mrd, token_mrd};
use crate::attribution::relevance::attribute_after;
use crate::attribution::target::{answer_target, AnswerTarget, TargetBasis, TargetChoice};
use crate::data::prompt::Part;
use crate::model::LoadedModel;
use anyhow::Result;
use std::time::Instant;

impl Run<'_, '_> {
    /// What relevance and the oracle explain: the answer span, its prefix teacher-forced
    /// (or the first generated token, when asked; or, when the model stopped at once, the
    /// token it stopped with: the top-1 at the last prompt position).
    pub(super) fn target(&mut self, trace: &mut SampleTrace) -> Result<()> {
        let options = self.options;
        if options.relevance.is_some()
            || options.lens
            || (options.oracle.is_some() && trace.prompt.is_some())
        {
            trace.target = Some(explain_target(
                self.ctx.model,
                &self.ids,
                trace,
                options.explain,
            )?);
        }
        Ok(())
    }

    pub(super) fn relevance(&mut self, trace: &mut SampleTrace) -> Result<()> {
        let options = self.options;
        let (Some(rel_options), Some(target)) = (&options.relevance, &trace.target) else {
            return Ok(());
        };
        self.check_cancel()?;
        self.stage(Stage::Relevance);
        let t = Instant::now();
        let mut input = self.ids.clone();
        input.extend(target.prefix_ids());
        let attribution = attribute_after(
            &self.ctx.model.decoder,
            self.recording.take(),
            &input,
            &target.span_ids,
            rel_options,
            self.ctx.cancel,
        )?;
        let matrix = &attribution.relevance.raw;
        let labels_per_token: Vec<Part> = trace.relevance_tokens().iter().map(|t| t.part).collect();
        trace.relevance = Some(RelevanceTrace {
            display: display_rows(matrix),
            token_mrd: token_mrd(matrix, &options.mrd)?,
            part_mrd: part_mrd(matrix, &labels_per_token, &options.mrd)?,
            relevance: attribution.relevance,
        });
        self.recording = Some(attribution.recording);
        trace.timings.relevance_ms = Some(elapsed_ms(t));
        self.partial(trace);
        Ok(())
    }
}

/// The explained tokens of a trace: the answer span (or the first generated token), or,
/// when nothing was generated, the token the model stopped with.
fn explain_target(
    model: &LoadedModel,
    ids: &[u32],
    trace: &SampleTrace,
    choice: TargetChoice,
) -> Result<AnswerTarget> {
    let generation = &trace.generation;
    if !generation.ids.is_empty() {
        let prompt_chars = trace.text.chars().count();
        return answer_target(
            &model.tokenizer,
            &generation.ids,
            &generation.text,
            choice,
            prompt_chars,
        );
    }
    let rec = model.decoder.record(ids)?;
    let logits = model.decoder.logits_at(&rec, &[ids.len() - 1])?;
    let stop = logits.flatten_all()?.argmax(0)?.to_scalar::<u32>()?;
    Ok(AnswerTarget::bare(
        choice,
        TargetBasis::StopToken,
        vec![stop],
    ))
}

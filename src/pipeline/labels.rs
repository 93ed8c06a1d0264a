//! The labels stage: the answer extracted and scored, its language and generation-error
//! labels; the trace is assembled here and filled in by the later stages.

use super::prompt::Built;
use super::run::{elapsed_ms, Run};
use super::{Labels, ModelIdentity, SampleTrace, Stage, TRACE_VERSION};
use crate::eval::extract::extract_answer;
use crate::eval::gen_error::classify_by_rules;
use crate::eval::langid;
use crate::eval::score::score_both;
use crate::model::generate::Generation;
use anyhow::Result;
use std::time::Instant;

impl Run<'_, '_> {
    pub(super) fn labels(&mut self, built: Built, generation: Generation) -> Result<SampleTrace> {
        let answer = extract_answer(&generation.text);
        self.stage(Stage::Labels);
        let t = Instant::now();
        let gold: Vec<String> = built
            .prompt
            .as_ref()
            .map(|p| p.gold.iter().map(|a| a.text.clone()).collect())
            .unwrap_or_default();
        let scores = built
            .prompt
            .as_ref()
            .map(|p| score_both(&answer, &gold, p.answer_lang).to_vec());
        let language_error = built.prompt.as_ref().and_then(|p| {
            langid::language_error_with_gold(
                &answer,
                gold.first().map_or("", String::as_str),
                p.answer_lang,
                p.question_lang,
            )
        });
        let labels = Labels {
            detected_lang: langid::detect(&answer),
            language_error,
            generation: classify_by_rules(&generation.text, &answer),
            judge: None,
        };
        self.timings.labels_ms = elapsed_ms(t);
        let trace = SampleTrace {
            version: TRACE_VERSION,
            model: ModelIdentity::of(self.ctx.model),
            prompt: built.prompt,
            text: built.text,
            tokens: built.tokens,
            top_logits: generation.prompt_top.clone(),
            greedy_ids: generation.ids.clone(),
            generation,
            answer,
            gold,
            scores,
            labels,
            relevance: None,
            hidden: None,
            hidden_dump: None,
            lens: None,
            similarity: None,
            oracle: None,
            target: None,
            timings: std::mem::take(&mut self.timings),
        };
        self.partial(&trace);
        Ok(trace)
    }
}

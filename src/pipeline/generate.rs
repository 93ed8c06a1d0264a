//! The generate stage: the greedy answer, streamed token by token (or taken as given).

use super::prompt::Built;
use super::run::{elapsed_ms, Run};
use super::{Progress, Stage, StopMode, TraceOptions};
use crate::model::generate::{generate_recording, GenerateOptions, Generation};
use crate::model::LoadedModel;
use anyhow::{bail, Result};
use std::time::Instant;

/// The generation options `trace_sample` uses for `options`.
pub fn generation_options(model: &LoadedModel, options: &TraceOptions) -> GenerateOptions {
    let mut gen_options = model.generate_options();
    gen_options.max_new_tokens = options.max_new_tokens;
    gen_options.top_k = options.top_k.max(1);
    gen_options.stop_at_newline = options.stop == StopMode::Default;
    if options.stop == StopMode::None {
        gen_options.stop_ids.clear();
    }
    gen_options
}

impl Run<'_, '_> {
    pub(super) fn generate(&mut self, built: &Built) -> Result<Generation> {
        self.check_cancel()?;
        self.stage(Stage::Generate);
        let t = Instant::now();
        let model = self.ctx.model;
        // Relevance and the hidden states need the prompt's recorded forward: the
        // generation's prefill records it, so the prompt runs forward once, not twice.
        let record_prefill = self.options.relevance.is_some() || self.needs_states();
        let (generation, cache) = match self.ctx.pregenerated.take() {
            Some(pre) => {
                if pre.cache.len() < self.ids.len() {
                    bail!(
                        "the pregenerated answer's cache holds {} tokens, the prompt {}",
                        pre.cache.len(),
                        self.ids.len()
                    );
                }
                self.pregenerated_ms = pre.generate_ms;
                (pre.generation, pre.cache)
            }
            None => {
                let progress = &mut *self.progress;
                let (generation, cache, recording) = generate_recording(
                    &model.decoder,
                    &model.tokenizer,
                    &self.ids,
                    &generation_options(model, self.options),
                    self.ctx.cancel,
                    &mut |step| progress(Progress::Token(step.clone())),
                    record_prefill,
                )?;
                self.recording = recording;
                (generation, cache)
            }
        };
        // The oracle reuses the prompt's keys and values; nothing else needs the cache.
        self.cache = (self.options.oracle.as_ref().is_some_and(|o| o.prefix_cache)
            && built.prompt.is_some())
        .then_some(cache);
        self.check_cancel()?;
        self.timings.generate_ms = elapsed_ms(t) + self.pregenerated_ms;
        Ok(generation)
    }
}

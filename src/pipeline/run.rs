//! What the stages of one trace share, and the steps every stage takes (cancel checks,
//! progress, timing).

use super::{Progress, SampleTrace, Stage, StageTimings, TraceContext, TraceInput, TraceOptions};
use crate::model::decoder::{KvCache, Recording};
use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One trace in progress: its inputs, and what a stage leaves for later ones. The trace
/// itself exists from the labels stage on and is passed to each later stage.
pub(super) struct Run<'a, 'r> {
    pub ctx: TraceContext<'a>,
    pub input: &'r TraceInput<'r>,
    pub options: &'r TraceOptions,
    pub progress: &'r mut dyn FnMut(Progress),
    started: Instant,
    /// The prompt's token ids (from the prompt stage on).
    pub ids: Vec<u32>,
    /// Times of the stages before the trace exists; they move into it at labels.
    pub timings: StageTimings,
    /// A pregenerated answer's share of its batch's time, counted in the total too.
    pub pregenerated_ms: f64,
    /// The prompt's KV cache, kept only for the oracle's prefix-cached scorer.
    pub cache: Option<KvCache>,
    /// The prompt's recorded forward: the generation's prefill, replaced by relevance's
    /// own; the hidden states are read from it, so the prompt runs forward once.
    pub recording: Option<Recording>,
}

impl<'a, 'r> Run<'a, 'r> {
    pub fn new(
        ctx: TraceContext<'a>,
        input: &'r TraceInput<'r>,
        options: &'r TraceOptions,
        progress: &'r mut dyn FnMut(Progress),
    ) -> Self {
        Run {
            ctx,
            input,
            options,
            progress,
            started: Instant::now(),
            ids: Vec::new(),
            timings: StageTimings::default(),
            pregenerated_ms: 0.0,
            cache: None,
            recording: None,
        }
    }

    pub fn check_cancel(&self) -> Result<()> {
        check_cancel(self.ctx.cancel)
    }

    pub fn report(&mut self, progress: Progress) {
        (self.progress)(progress);
    }

    pub fn stage(&mut self, stage: Stage) {
        self.report(Progress::Stage(stage));
    }

    /// Reports the trace so far, so a viewer can fill in as results arrive.
    pub fn partial(&mut self, trace: &SampleTrace) {
        self.report(Progress::Partial(Box::new(trace.clone())));
    }

    /// Whether the prompt's hidden states are needed: for the similarity of a sample, or
    /// the dump. Answer-only traces skip that forward altogether.
    pub fn needs_states(&self) -> bool {
        matches!(self.input, TraceInput::Sample { .. }) && self.options.similarity
            || self.options.dump_hidden
    }

    /// The trace with its total time (a pregenerated answer's share included).
    pub fn finish(self, mut trace: SampleTrace) -> SampleTrace {
        trace.timings.total_ms = elapsed_ms(self.started) + self.pregenerated_ms;
        trace
    }
}

pub(super) fn check_cancel(cancel: Option<&AtomicBool>) -> Result<()> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        bail!("cancelled");
    }
    Ok(())
}

pub(super) fn elapsed_ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

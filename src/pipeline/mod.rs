//! `trace_sample`: one sample (or any text) through every instrument — prompt, greedy
//! answer and scores, labels, the language lens, AttnLRP relevance and MRD, hidden-state
//! similarity, sentence oracle — into one serialisable [`SampleTrace`]. The TUI worker, `xmrc-lens trace` and
//! `xmrc-lens eval` all call it, so every number a view shows can be reproduced headless.
//!
//! Each stage is one function, in a module of its own, over the trace in progress (`run.rs`:
//! what the stages share); `trace_sample` calls them in order.

mod context;
mod generate;
pub mod judge;
mod labels;
mod lens;
mod memo;
mod options;
mod oracle;
mod pool;
mod prompt;
mod relevance;
mod run;
mod similarity;
mod states;
mod trace;

pub use context::{EnHidden, Pregenerated, TraceContext};
pub use generate::generation_options;
pub use lens::LENS_TOP_K;
pub use memo::{en_en_options, EnSummaryMemo};
pub use options::{Progress, Stage, StopMode, TraceInput, TraceOptions};
pub use pool::{draw_pool, prefill_pool, PoolFill};
pub use prompt::prompt_ids;
pub use states::prompt_summary;
pub use trace::{
    HiddenDump, Labels, ModelIdentity, RelevanceTrace, SampleTrace, StageTimings, TOP_LOGITS,
    TRACE_VERSION,
};

use anyhow::Result;
use run::Run;

/// Traces one input through every instrument `options` asks for. `progress` hears each
/// stage as it starts and each generated token.
pub fn trace_sample(
    ctx: TraceContext,
    input: &TraceInput,
    options: &TraceOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<SampleTrace> {
    let mut run = Run::new(ctx, input, options, progress);
    let built = run.prompt()?;
    let generation = run.generate(&built)?;
    // From here the trace fills in stage by stage; each finished stage is reported.
    let mut trace = run.labels(built, generation)?;
    run.target(&mut trace)?;
    // The lens first: one row per level at one position, ready long before relevance.
    run.lens(&mut trace)?;
    run.relevance(&mut trace)?;
    let states = run.prompt_states(&mut trace)?;
    run.similarity(&mut trace, &states)?;
    // The states are the largest thing a trace holds; the oracle does not need them.
    drop(states);
    run.oracle(&mut trace)?;
    run.judge(&mut trace)?;
    Ok(run.finish(trace))
}

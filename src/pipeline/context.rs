//! What `trace_sample` is given besides the input: the models, the pool, where the en-en
//! summary comes from, an answer generated elsewhere, and the cancel flag.

use super::memo::EnSummaryMemo;
use crate::model::decoder::KvCache;
use crate::model::generate::Generation;
use crate::model::LoadedModel;
use crate::similarity::reference::ReferencePool;
use std::sync::atomic::AtomicBool;

/// Everything `trace_sample` needs besides the input.
pub struct TraceContext<'a> {
    pub model: &'a LoadedModel,
    /// An instruct model asked for generation-error labels (appendix A.2 prompt).
    pub judge: Option<&'a LoadedModel>,
    /// Reference pool for S(en,x); the traced sample's summary is added to it.
    pub pool: Option<&'a mut ReferencePool>,
    /// Where the similarity stage gets the pooled hidden states of the sample's en-en run
    /// with the same shots and format.
    pub en_hidden: EnHidden<'a>,
    /// The answer, already generated for this prompt with [`generation_options`] (a batch
    /// of prompts decoded together); else it is generated here.
    ///
    /// [`generation_options`]: super::generation_options
    pub pregenerated: Option<Pregenerated>,
    pub cancel: Option<&'a AtomicBool>,
}

/// The source of a sample's en-en summary for the similarity stage.
pub enum EnHidden<'a> {
    /// Computed by the stage (one en-en forward).
    Compute,
    /// Looked up in (or computed once into) a memo when the stage runs, after the answer
    /// has streamed, so that the en-en forward never delays the first token. The explorer's
    /// worker and batch runs keep one memo across traces.
    Memo(&'a mut EnSummaryMemo),
}

impl<'a> TraceContext<'a> {
    /// One model on its own: no judge, no pool, nothing precomputed.
    pub fn alone(model: &'a LoadedModel, cancel: Option<&'a AtomicBool>) -> Self {
        TraceContext {
            model,
            judge: None,
            pool: None,
            en_hidden: EnHidden::Compute,
            pregenerated: None,
            cancel,
        }
    }
}

/// A generation made outside `trace_sample`, with the KV cache of its prompt.
pub struct Pregenerated {
    pub generation: Generation,
    pub cache: KvCache,
    /// This prompt's share of the time spent generating (a batch's time over its rows).
    pub generate_ms: f64,
}

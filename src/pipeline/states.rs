//! The prompt's hidden states: read from the recorded forward for the similarity and the
//! dump, and pooled into a summary for samples traced on their own (en-en, pools).

use super::run::Run;
use super::{HiddenDump, SampleTrace};
use crate::data::prompt::{build_prompt, tokenize_prompt, PromptOptions};
use crate::data::Dataset;
use crate::model::decoder::Recording;
use crate::model::LoadedModel;
use crate::similarity::pool::{pool_hidden_states, HiddenSummary};
use anyhow::Result;
use candle_core::{DType, Tensor};
use std::sync::atomic::AtomicBool;

impl Run<'_, '_> {
    /// The prompt's hidden states when the similarity or the dump needs them (else none),
    /// from the recorded forward when there is one; fills the dump when asked.
    pub(super) fn prompt_states(&mut self, trace: &mut SampleTrace) -> Result<Vec<Tensor>> {
        let recording = match self.recording.take() {
            Some(recording) => Some(recording),
            None if self.needs_states() => Some(self.ctx.model.decoder.record(&self.ids)?),
            None => None,
        };
        let states = match &recording {
            Some(rec) => prompt_hidden_states(rec, self.ids.len())?,
            None => Vec::new(),
        };
        drop(recording);
        if self.options.dump_hidden {
            trace.hidden_dump = Some(dump_hidden(&states)?);
        }
        Ok(states)
    }
}

/// The prompt's hidden states, transformers' convention, each `[1, prompt_len, hidden]`.
fn prompt_hidden_states(rec: &Recording, prompt_len: usize) -> Result<Vec<Tensor>> {
    rec.hidden_states()
        .iter()
        .map(|h| Ok(h.narrow(0, 0, prompt_len)?.unsqueeze(0)?))
        .collect()
}

fn dump_hidden(states: &[Tensor]) -> Result<Vec<HiddenDump>> {
    states
        .iter()
        .map(|h| {
            let h = h.squeeze(0)?.to_dtype(DType::F32)?;
            let t = h.dim(0)?;
            Ok(HiddenDump {
                mean: h.mean(0)?.to_vec1()?,
                last: h.get(t - 1)?.to_vec1()?,
            })
        })
        .collect()
}

/// Pooled hidden states of one sample's prompt under `options` (one forward, no generation);
/// `cancel` is checked before every layer.
pub fn prompt_summary(
    model: &LoadedModel,
    data: &Dataset,
    index: usize,
    options: &PromptOptions,
    cancel: Option<&AtomicBool>,
) -> Result<HiddenSummary> {
    let prompt = build_prompt(data, index, options, model.chat_template.as_ref())?;
    let tokens = tokenize_prompt(&prompt, &model.tokenizer)?;
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    model.config.check_fits(ids.len())?;
    let rec = model.decoder.record_until(&ids, cancel)?;
    let states = prompt_hidden_states(&rec, ids.len())?;
    pool_hidden_states(&states, &tokens)
}

//! The similarity stage: the sample's pooled hidden states, and for en-x and x-x their
//! cosine to the sample's en-en run per level and S(en,x) against the reference pool.

use super::memo::en_en_options;
use super::run::{elapsed_ms, Run};
use super::states::prompt_summary;
use super::{EnHidden, SampleTrace, Stage, TraceInput};
use crate::data::prompt::Scenario;
use crate::similarity::pool::{pool_hidden_states, HiddenSummary};
use crate::similarity::reference::ReferencePool;
use anyhow::{Context, Result};
use candle_core::Tensor;
use std::time::Instant;

impl Run<'_, '_> {
    pub(super) fn similarity(&mut self, trace: &mut SampleTrace, states: &[Tensor]) -> Result<()> {
        let TraceInput::Sample {
            data,
            index,
            options: prompt_options,
        } = self.input
        else {
            return Ok(());
        };
        if !self.options.similarity {
            return Ok(());
        }
        self.check_cancel()?;
        let t = Instant::now();
        self.stage(Stage::Similarity);
        let summary = pool_hidden_states(states, &trace.tokens)?;
        if prompt_options.setting.scenario != Scenario::EnEn {
            let (model, cancel) = (self.ctx.model, self.ctx.cancel);
            let computed;
            let en: &HiddenSummary = match &mut self.ctx.en_hidden {
                EnHidden::Memo(memo) => {
                    memo.get_or_compute(model, data, *index, prompt_options, cancel)?
                }
                EnHidden::Compute => {
                    let en_options = en_en_options(prompt_options);
                    computed = prompt_summary(model, data, *index, &en_options, cancel)?;
                    &computed
                }
            };
            let id = data
                .get(*index)
                .map(|s| s.id.clone())
                .context("sample index out of range")?;
            let id = &id;
            let lang = prompt_options.setting.lang;
            // A typed-in sample is compared with the pool but never joins it.
            let custom = data.get(*index).is_some_and(|s| s.custom);
            let view = match self.ctx.pool.as_deref_mut() {
                Some(pool) => {
                    if !custom {
                        pool.add(lang, id, &summary)?;
                    }
                    pool.sample_view(lang, id, en, &summary)?
                }
                None => ReferencePool::new().sample_view(lang, id, en, &summary)?,
            };
            trace.similarity = Some(view);
        }
        trace.hidden = Some(summary);
        trace.timings.similarity_ms = Some(elapsed_ms(t));
        self.partial(trace);
        Ok(())
    }
}

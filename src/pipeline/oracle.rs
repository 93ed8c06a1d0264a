//! The oracle stage: sentences of the context removed one at a time, the answer's
//! likelihood re-scored each time (on the prompt's KV cache when it was kept).

use super::run::{elapsed_ms, Run};
use super::{SampleTrace, Stage};
use crate::attribution::oracle::{run_oracle, Explained, PrefixCachedScorer};
use anyhow::Result;
use std::time::Instant;

impl Run<'_, '_> {
    pub(super) fn oracle(&mut self, trace: &mut SampleTrace) -> Result<()> {
        let options = self.options;
        let (Some(oracle_options), Some(prompt), Some(target)) =
            (&options.oracle, &trace.prompt, &trace.target)
        else {
            return Ok(());
        };
        self.check_cancel()?;
        self.stage(Stage::Oracle);
        let t = Instant::now();
        let (model, cancel) = (self.ctx.model, self.ctx.cancel);
        let explained = Explained {
            prefix: &target.prefix_ids(),
            span: &target.span_ids,
        };
        let result = if let Some(cache) = &self.cache {
            let scorer = PrefixCachedScorer::from_cache(&model.decoder, &self.ids, cache)?
                .with_cancel(cancel);
            let mut result = run_oracle(
                &scorer,
                prompt,
                &trace.tokens,
                explained,
                oracle_options,
                cancel,
            )?;
            result.tokens_run = Some(scorer.tokens_computed());
            result
        } else {
            run_oracle(
                &model.decoder,
                prompt,
                &trace.tokens,
                explained,
                oracle_options,
                cancel,
            )?
        };
        trace.timings.oracle_ms = Some(elapsed_ms(t));
        trace.oracle = Some(result);
        Ok(())
    }
}

//! The en-en summary memo: a sample's pooled en-en hidden states, kept so that its en-x and
//! x-x traces do not each run the en-en forward again.

use super::run::check_cancel;
use super::states::prompt_summary;
use crate::data::prompt::Setting;
use crate::data::prompt::{PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::model::LoadedModel;
use crate::similarity::pool::HiddenSummary;
use anyhow::Result;
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

/// The options of a sample's en-en run: `options` with the scenario set to en-en.
pub fn en_en_options(options: &PromptOptions) -> PromptOptions {
    PromptOptions {
        setting: Setting {
            scenario: Scenario::EnEn,
            ..options.setting
        },
        ..options.clone()
    }
}

/// en-en summaries by sample and en-en prompt options, oldest first, at most `kept` of them.
/// Each is computed exactly as `trace_sample` would, so results never depend on what was
/// traced before. The memo belongs to one model: make a new one when the model changes.
pub struct EnSummaryMemo {
    kept: usize,
    entries: VecDeque<(usize, PromptOptions, HiddenSummary)>,
}

impl Default for EnSummaryMemo {
    fn default() -> Self {
        EnSummaryMemo::new(EnSummaryMemo::KEPT)
    }
}

impl EnSummaryMemo {
    /// Summaries kept by default (each is levels x 3 x hidden floats).
    pub const KEPT: usize = 64;

    /// A memo holding at most `kept` summaries (at least one).
    pub fn new(kept: usize) -> Self {
        EnSummaryMemo {
            kept: kept.max(1),
            entries: VecDeque::new(),
        }
    }

    /// The key of a sample's en-en run under `options` (any scenario): the en-en options
    /// with the language normalised to en, since en-en prompts ignore it (switching the
    /// language of a sample then skips the extra en-en forward).
    fn key(options: &PromptOptions) -> PromptOptions {
        PromptOptions {
            setting: Setting {
                lang: Lang::En,
                ..en_en_options(options).setting
            },
            ..en_en_options(options)
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The remembered en-en summary of sample `index` under `options`, if any.
    pub fn get(&self, index: usize, options: &PromptOptions) -> Option<&HiddenSummary> {
        let key = Self::key(options);
        self.entries
            .iter()
            .find(|(sample, opts, _)| *sample == index && *opts == key)
            .map(|(_, _, summary)| summary)
    }

    /// Remembers `summary` as sample `index`'s en-en summary under `options` (a traced
    /// en-en run's own summary); the oldest entry goes when the memo is full.
    pub fn insert(&mut self, index: usize, options: &PromptOptions, summary: HiddenSummary) {
        let key = Self::key(options);
        self.entries
            .retain(|(sample, opts, _)| !(*sample == index && *opts == key));
        if self.entries.len() == self.kept {
            self.entries.pop_front();
        }
        self.entries.push_back((index, key, summary));
    }

    /// Sample `index`'s en-en summary under `options`: remembered, or computed now (one
    /// forward, `cancel` checked first and before every layer) and remembered.
    pub fn get_or_compute(
        &mut self,
        model: &LoadedModel,
        data: &Dataset,
        index: usize,
        options: &PromptOptions,
        cancel: Option<&AtomicBool>,
    ) -> Result<&HiddenSummary> {
        if self.get(index, options).is_none() {
            check_cancel(cancel)?;
            let summary = prompt_summary(model, data, index, &en_en_options(options), cancel)?;
            self.insert(index, options, summary);
        }
        self.get(index, options)
            .ok_or_else(|| anyhow::anyhow!("the en-en summary memo lost an entry"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::pool::LayerPools;

    fn summary(tag: f32) -> HiddenSummary {
        HiddenSummary {
            layers: vec![LayerPools {
                question: vec![tag],
                context: vec![tag],
                last: vec![tag],
            }],
        }
    }

    fn options(scenario: Scenario, lang: Lang, shots: u8) -> PromptOptions {
        PromptOptions {
            setting: Setting {
                scenario,
                lang,
                shots,
                ..Setting::default()
            },
            ..PromptOptions::default()
        }
    }

    #[test]
    fn one_entry_serves_every_scenario_and_language_of_a_sample() {
        let mut memo = EnSummaryMemo::new(4);
        memo.insert(3, &options(Scenario::EnEn, Lang::En, 2), summary(1.0));
        for scenario in [Scenario::EnEn, Scenario::EnX, Scenario::XX] {
            for lang in [Lang::En, Lang::De, Lang::Zh] {
                assert_eq!(
                    memo.get(3, &options(scenario, lang, 2)),
                    Some(&summary(1.0))
                );
            }
        }
        // Another sample or other shots are other en-en runs.
        assert_eq!(memo.get(4, &options(Scenario::EnX, Lang::De, 2)), None);
        assert_eq!(memo.get(3, &options(Scenario::EnX, Lang::De, 0)), None);
    }

    #[test]
    fn the_oldest_entry_goes_first_and_a_key_is_kept_once() {
        let mut memo = EnSummaryMemo::new(2);
        let o = options(Scenario::EnX, Lang::De, 0);
        memo.insert(0, &o, summary(0.0));
        memo.insert(1, &o, summary(1.0));
        memo.insert(1, &o, summary(1.5));
        assert_eq!(memo.len(), 2);
        assert_eq!(memo.get(1, &o), Some(&summary(1.5)));
        memo.insert(2, &o, summary(2.0));
        assert_eq!(memo.get(0, &o), None);
        assert_eq!(memo.get(1, &o), Some(&summary(1.5)));
        assert_eq!(memo.get(2, &o), Some(&summary(2.0)));
        assert_eq!(EnSummaryMemo::new(0).kept, 1);
    }
}

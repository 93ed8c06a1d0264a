//! The scheduler: per slot, the most wanted trace that is neither cached nor failed goes to
//! the worker, latest-wins; a job no longer wanted is cancelled.

use super::effect::Effect;
use super::reducer::failed;
use super::state::{Explorer, Mode};
use super::worker::{Slot, TraceJob, TraceKey};
use crate::data::Lang;

/// Which languages the screen shows for the current sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The current selection only.
    Current,
    /// Every language too (the sweep table, the similarity overlay), after the current one.
    AllLangs,
}

/// The traces the screen wants, most wanted first.
pub fn wanted(ex: &Explorer, slot: Slot, want: Wanted) -> Vec<TraceKey> {
    let mut keys = vec![ex.key(slot)];
    if want == Wanted::AllLangs {
        let mut langs = vec![Lang::En];
        langs.extend(ex.x_langs());
        for lang in langs {
            let k = ex.key_for(slot, lang);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Submits, per slot, the most wanted trace that is neither cached nor failed; a stale job
/// (no longer wanted) is cancelled. Called after every batch of events.
pub fn schedule(ex: &mut Explorer, want: Wanted) -> Vec<Effect> {
    if ex.mode == Mode::Replay || ex.data.is_empty() {
        return Vec::new();
    }
    let mut effects = Vec::new();
    let slots: Vec<Slot> = ex.slots().collect();
    for slot in slots {
        if failed(ex, slot) {
            continue;
        }
        let wanted = wanted(ex, slot, want);
        // Looking at a cached trace uses it: the wanted keys become the most recent (the one
        // on screen last), so the cache evicts what was looked at longest ago, not what was
        // computed first.
        for key in wanted.iter().rev() {
            ex.cache.get(key);
        }
        let next = wanted
            .iter()
            .find(|k| !ex.cache.contains(k) && !ex.failures.contains_key(k))
            .cloned();
        let submitted = ex.submitted[slot.index()].clone();
        match (next, submitted) {
            (Some(next), Some(current)) if next == current => {}
            (Some(next), _) => {
                let lang = next.setting.lang;
                let job = TraceJob::new(
                    slot,
                    next.sample,
                    ex.prompt_options_for(lang),
                    ex.trace_options(),
                );
                debug_assert_eq!(job.key(), &next);
                ex.submitted[slot.index()] = Some(next);
                effects.push(Effect::Submit(job));
            }
            (None, Some(_)) => {
                ex.submitted[slot.index()] = None;
                effects.push(Effect::Cancel(slot));
            }
            (None, None) => {}
        }
    }
    effects
}

//! What a pane shows for one model, decided here and drawn by the front end: the trace of
//! the selection (finished, else the partial one of its running job), and when a result is
//! not there yet, why (failed, running, waiting for the model, queued, not saved).

use super::state::{Explorer, Live, Mode, ModelState};
use super::worker::{Slot, TraceKey};
use crate::pipeline::{SampleTrace, Stage};

/// Why a pane has no result for its selection yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<'a> {
    /// The trace failed (the error); `R` retries.
    Failed(&'a str),
    /// Replay mode and the session saved nothing for this selection.
    NotSaved,
    /// Its job runs, at this stage (None: starting).
    Running(Option<Stage>),
    /// The slot's model is still loading.
    WaitingForModel,
    /// Its job waits behind others.
    Queued,
}

/// One model's view of the current selection.
pub struct Shown<'a> {
    pub key: TraceKey,
    /// The finished trace, else what the running job has so far.
    pub trace: Option<&'a SampleTrace>,
    /// The running job of this selection, with its streamed tokens.
    pub live: Option<&'a Live>,
    /// Why a result a pane wants is missing (meaningful when it is).
    pub status: Status<'a>,
}

impl Explorer {
    /// What every pane of `slot` shows for the current selection.
    pub fn shown(&self, slot: Slot) -> Shown<'_> {
        self.shown_for(self.key(slot))
    }

    /// [`Explorer::shown`] for any key (the sweep's and the overlay's other languages).
    pub fn shown_for(&self, key: TraceKey) -> Shown<'_> {
        Shown {
            trace: self.trace_for(&key).map(|t| &**t),
            live: self.live_for(&key),
            status: self.status(&key),
            key,
        }
    }

    /// Compare mode's relevance diff (B − A over the aligned tokens), once both models'
    /// traces of the selection have relevance; `Err` says why they cannot be compared.
    pub fn relevance_diff(&self) -> Option<Result<crate::diff::RelevanceDiff, String>> {
        if !self.compare() {
            return None;
        }
        let a = self.trace_for(&self.key(Slot::Primary))?;
        let b = self.trace_for(&self.key(Slot::Compare))?;
        if a.relevance.is_none() || b.relevance.is_none() {
            return None;
        }
        Some(crate::diff::relevance_diff(a, b).map_err(|e| e.to_string()))
    }

    /// Why `key` has no (complete) trace yet.
    pub fn status(&self, key: &TraceKey) -> Status<'_> {
        if let Some(error) = self.failures.get(key) {
            return Status::Failed(error);
        }
        if self.mode == Mode::Replay {
            return Status::NotSaved;
        }
        match self.live_for(key) {
            Some(live) => Status::Running(live.stage),
            None => match self.model(key.slot).map(|m| &m.state) {
                Some(ModelState::Loading { .. }) => Status::WaitingForModel,
                _ => Status::Queued,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explorer::state::ModelSlot;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn the_status_says_why_a_result_is_missing() {
        let data = Arc::new(crate::data::demo::dataset().unwrap());
        let slot = ModelSlot {
            source: "m".into(),
            state: ModelState::Loading {
                since: Instant::now(),
                detail: String::new(),
            },
        };
        let mut ex = Explorer::new(Mode::Live, data, vec![slot]);
        let key = ex.key(Slot::Primary);
        assert_eq!(ex.status(&key), Status::WaitingForModel);
        ex.models[0].state = ModelState::Failed("x".into());
        assert_eq!(ex.status(&key), Status::Queued);
        ex.live[0] = Some(Live {
            key: key.clone(),
            stage: Some(Stage::Relevance),
            tokens: Vec::new(),
            partial: None,
            since: Instant::now(),
        });
        assert_eq!(ex.status(&key), Status::Running(Some(Stage::Relevance)));
        assert!(ex.shown(Slot::Primary).live.is_some());
        ex.failures.insert(key.clone(), "boom".into());
        assert_eq!(ex.status(&key), Status::Failed("boom"));
        ex.failures.clear();
        ex.mode = Mode::Replay;
        assert_eq!(ex.status(&key), Status::NotSaved);
    }
}

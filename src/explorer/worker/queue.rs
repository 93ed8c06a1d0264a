//! The latest-wins queue, pure and single-threaded so it can be tested without threads: at
//! most one pending job per slot, the running job's key and cancel flag, and fair turns.

use super::job::{Slot, TraceJob, TraceKey};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The job being traced and the flag `trace_sample` checks at each stage boundary.
#[derive(Debug)]
pub struct Running {
    pub key: TraceKey,
    pub cancel: Arc<AtomicBool>,
}

impl Running {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct JobQueue {
    pending: [Option<TraceJob>; 2],
    running: Option<Running>,
    /// The slot whose pending job goes first next time: the slots alternate, so scrolling
    /// through samples on one model never starves the other.
    turn: usize,
}

impl JobQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `job` latest-wins. Returns the keys of jobs that will never run (the replaced
    /// pending job); a running job of the slot with another key is told to stop and reports
    /// its own cancellation when it returns. A job identical to the running one is dropped
    /// (it is not restarted), and it also clears the slot's pending job: the user came back.
    pub fn submit(&mut self, job: TraceJob) -> Vec<TraceKey> {
        let slot = job.slot().index();
        let replaced = self.pending[slot].take();
        let mut dropped: Vec<TraceKey> = replaced
            .map(|old| old.key().clone())
            .filter(|old| old != job.key())
            .into_iter()
            .collect();
        match &self.running {
            Some(run) if run.key == *job.key() && !run.is_cancelled() => {}
            Some(run) if run.key.slot == job.slot() => {
                run.cancel();
                self.pending[slot] = Some(job);
            }
            _ => self.pending[slot] = Some(job),
        }
        dropped.sort();
        dropped
    }

    /// Drops the slot's pending job (returned) and stops its running job, if any.
    pub fn cancel(&mut self, slot: Slot) -> Option<TraceKey> {
        self.cancel_running(slot);
        self.pending[slot.index()].take().map(|j| j.key().clone())
    }

    /// Stops the running job if it is for `slot` (its model is being replaced).
    pub fn cancel_running(&mut self, slot: Slot) {
        if let Some(run) = &self.running {
            if run.key.slot == slot {
                run.cancel();
            }
        }
    }

    /// Stops whatever runs (shutdown).
    pub fn cancel_all_running(&mut self) {
        if let Some(run) = &self.running {
            run.cancel();
        }
    }

    /// Removes and returns the slot's pending job (its model failed to load).
    pub fn take_pending(&mut self, slot: Slot) -> Option<TraceJob> {
        self.pending[slot.index()].take()
    }

    /// Removes every pending job (shutdown).
    pub fn drain(&mut self) -> Vec<TraceJob> {
        self.pending.iter_mut().filter_map(Option::take).collect()
    }

    pub fn pending(&self, slot: Slot) -> Option<&TraceKey> {
        self.pending[slot.index()].as_ref().map(TraceJob::key)
    }

    pub fn running(&self) -> Option<&TraceKey> {
        self.running.as_ref().map(|r| &r.key)
    }

    /// Starts the next job whose slot is `ready`, taking turns between slots; None while a
    /// job runs (one at a time: both models share the device) or nothing is ready.
    pub fn start(&mut self, ready: impl Fn(Slot) -> bool) -> Option<(TraceJob, Arc<AtomicBool>)> {
        if self.running.is_some() {
            return None;
        }
        for offset in 0..2 {
            let index = (self.turn + offset) % 2;
            let slot = Slot::ALL[index];
            if self.pending[index].is_some() && ready(slot) {
                let job = self.pending[index].take()?;
                let cancel = Arc::new(AtomicBool::new(false));
                self.running = Some(Running {
                    key: job.key().clone(),
                    cancel: Arc::clone(&cancel),
                });
                self.turn = (index + 1) % 2;
                return Some((job, cancel));
            }
        }
        None
    }

    /// The running job returned; whether it had been told to stop.
    pub fn finish(&mut self) -> bool {
        self.running.take().is_some_and(|r| r.is_cancelled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::prompt::PromptOptions;
    use crate::pipeline::TraceOptions;

    fn job(slot: Slot, sample: usize) -> TraceJob {
        TraceJob::new(
            slot,
            sample,
            PromptOptions::default(),
            TraceOptions::default(),
        )
    }

    fn key(slot: Slot, sample: usize) -> TraceKey {
        job(slot, sample).key().clone()
    }

    #[test]
    fn pending_job_is_replaced() {
        let mut q = JobQueue::new();
        assert!(q.submit(job(Slot::Primary, 1)).is_empty());
        assert_eq!(q.submit(job(Slot::Primary, 2)), vec![key(Slot::Primary, 1)]);
        // Another slot has its own place.
        assert!(q.submit(job(Slot::Compare, 3)).is_empty());
        assert_eq!(q.pending(Slot::Primary), Some(&key(Slot::Primary, 2)));
        assert_eq!(q.pending(Slot::Compare), Some(&key(Slot::Compare, 3)));
        // The same key again replaces silently (new options, same trace).
        assert!(q.submit(job(Slot::Primary, 2)).is_empty());
    }

    #[test]
    fn running_job_of_the_slot_is_cancelled_by_another_key() {
        let mut q = JobQueue::new();
        q.submit(job(Slot::Primary, 1));
        let (started, flag) = q.start(|_| true).unwrap();
        assert_eq!(started.key(), &key(Slot::Primary, 1));
        // Another slot's job leaves it running.
        q.submit(job(Slot::Compare, 1));
        assert!(!flag.load(Ordering::Relaxed));
        // One at a time.
        assert!(q.start(|_| true).is_none());
        // The same key is not restarted.
        assert!(q.submit(job(Slot::Primary, 1)).is_empty());
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(q.pending(Slot::Primary), None);
        // Another key of the slot stops it and waits.
        q.submit(job(Slot::Primary, 2));
        assert!(flag.load(Ordering::Relaxed));
        assert!(q.finish());
        assert_eq!(q.running(), None);
    }

    #[test]
    fn coming_back_to_the_running_key_drops_the_pending_one() {
        let mut q = JobQueue::new();
        q.submit(job(Slot::Primary, 1));
        let (_, flag) = q.start(|_| true).unwrap();
        q.submit(job(Slot::Primary, 2));
        assert!(flag.load(Ordering::Relaxed));
        // Already told to stop: the running one is cancelled, so 1 is queued again.
        assert_eq!(q.submit(job(Slot::Primary, 1)), vec![key(Slot::Primary, 2)]);
        assert_eq!(q.pending(Slot::Primary), Some(&key(Slot::Primary, 1)));
    }

    #[test]
    fn slots_take_turns_and_wait_for_their_model() {
        let mut q = JobQueue::new();
        q.submit(job(Slot::Primary, 1));
        q.submit(job(Slot::Compare, 1));
        // Compare's model is not loaded: primary runs, compare waits.
        let (a, _) = q.start(|s| s == Slot::Primary).unwrap();
        assert_eq!(a.slot(), Slot::Primary);
        q.finish();
        assert!(q.start(|s| s == Slot::Primary).is_none());
        q.submit(job(Slot::Primary, 2));
        // Both ready: compare's turn even though primary has a newer job.
        let (b, _) = q.start(|_| true).unwrap();
        assert_eq!(b.slot(), Slot::Compare);
        assert!(!q.finish());
        let (c, _) = q.start(|_| true).unwrap();
        assert_eq!(c.key(), &key(Slot::Primary, 2));
    }

    #[test]
    fn cancel_and_take() {
        let mut q = JobQueue::new();
        q.submit(job(Slot::Primary, 1));
        let (_, flag) = q.start(|_| true).unwrap();
        q.submit(job(Slot::Primary, 2));
        q.submit(job(Slot::Compare, 5));
        assert_eq!(q.cancel(Slot::Primary), Some(key(Slot::Primary, 2)));
        assert!(flag.load(Ordering::Relaxed));
        assert_eq!(
            q.take_pending(Slot::Compare).map(|j| j.key().clone()),
            Some(key(Slot::Compare, 5))
        );
        assert!(q.drain().is_empty());
    }
}

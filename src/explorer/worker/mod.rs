//! The model worker: one thread owns the models and traces samples latest-wins, so the TUI
//! loop never blocks. It knows nothing of the terminal; results arrive as [`WorkerEvent`]s
//! on a plain `std::sync::mpsc` channel that the app merges into its own event stream.
//!
//! Requests go through a `Mutex` + `Condvar` rather than a channel: latest-wins means a new
//! request must *replace* one still waiting and reach the running job's cancel flag, and a
//! channel can neither take back what was sent nor see what runs. The lock is only held
//! for queue bookkeeping, never while a model runs.

pub mod cache;
pub mod job;
pub mod queue;
mod runner;

pub use cache::TraceCache;
pub use job::{Slot, TraceJob, TraceKey, WorkerEvent};

use crate::data::Dataset;
use crate::model::spec::ModelSpec;
use queue::JobQueue;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// Where a slot's model stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum SlotStatus {
    /// Nothing loaded or asked for: jobs wait.
    #[default]
    Empty,
    Loading,
    Ready,
    /// The last load failed (the full error): jobs fail at once until another load.
    Failed(String),
}

struct State {
    /// The samples jobs index into; replaced (only ever extended) by [`Worker::set_data`].
    data: Arc<Dataset>,
    queue: JobQueue,
    /// A model waiting to be loaded, per slot (latest wins here too).
    loads: [Option<ModelSpec>; 2],
    status: [SlotStatus; 2],
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    /// The state; a panic elsewhere while holding the lock leaves bookkeeping that is still
    /// consistent (every change is a single assignment), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The handle the app keeps. Dropping it stops and joins the thread.
pub struct Worker {
    shared: Arc<Shared>,
    events: Sender<WorkerEvent>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread. Events go to `events`; a closed receiver is not an error
    /// (the worker keeps running until shut down).
    pub fn spawn(data: Arc<Dataset>, events: Sender<WorkerEvent>) -> Worker {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                data,
                queue: JobQueue::default(),
                loads: Default::default(),
                status: Default::default(),
                shutdown: false,
            }),
            wake: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let events = events.clone();
            std::thread::Builder::new()
                .name("xmrc-worker".into())
                .spawn(move || runner::run(&shared, &events))
                .map_err(|e| tracing::error!("the model worker thread could not start: {e}"))
                .ok()
        };
        Worker {
            shared,
            events,
            thread,
        }
    }

    /// Loads `spec` into `slot`, replacing its model; the slot's running job is cancelled
    /// (it ran on the old model), its pending job waits for the new one.
    pub fn load(&self, slot: Slot, spec: ModelSpec) {
        let mut state = self.shared.lock();
        state.loads[slot.index()] = Some(spec);
        state.queue.cancel_running(slot);
        drop(state);
        self.shared.wake.notify_all();
    }

    /// Replaces the data set for jobs that start from now on. Jobs name samples by index,
    /// so the new set must keep every existing sample at its index (the explorer only
    /// appends custom samples); the en-en memo relies on it.
    pub fn set_data(&self, data: Arc<Dataset>) {
        self.shared.lock().data = data;
    }

    /// Queues a trace latest-wins (see [`JobQueue::submit`]).
    pub fn submit(&self, job: TraceJob) {
        let mut state = self.shared.lock();
        let slot = job.slot().index();
        if state.shutdown {
            drop(state);
            self.send(WorkerEvent::Cancelled {
                key: job.key().clone(),
            });
            return;
        }
        if let (SlotStatus::Failed(error), None) = (&state.status[slot], &state.loads[slot]) {
            let error = format!("the {} model failed to load: {error}", job.slot());
            drop(state);
            self.send(WorkerEvent::Failed {
                key: job.key().clone(),
                error,
            });
            return;
        }
        let dropped = state.queue.submit(job);
        drop(state);
        self.shared.wake.notify_all();
        for key in dropped {
            self.send(WorkerEvent::Cancelled { key });
        }
    }

    /// Drops the slot's pending job and stops its running one.
    pub fn cancel(&self, slot: Slot) {
        let dropped = self.shared.lock().queue.cancel(slot);
        if let Some(key) = dropped {
            self.send(WorkerEvent::Cancelled { key });
        }
    }

    pub fn status(&self, slot: Slot) -> SlotStatus {
        self.shared.lock().status[slot.index()].clone()
    }

    /// Stops the running job at its next stage boundary, cancels pending ones and joins the
    /// thread. A model load in progress cannot be interrupted and is waited for.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.shutdown = true;
            state.queue.cancel_all_running();
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the model worker thread panicked");
            }
        }
    }

    fn send(&self, event: WorkerEvent) {
        // The app may have gone; nothing to tell then.
        let _ = self.events.send(event);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

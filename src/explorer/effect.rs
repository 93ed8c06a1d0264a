//! What the explorer asks the outside world to do. Deciding never does anything itself:
//! the driver carries effects out (on the worker or on named threads) and the results come
//! back as events.

use super::launch::Launch;
use super::session::Session;
use super::worker::{Slot, TraceJob};
use crate::data::Dataset;
use crate::model::spec::ModelSpec;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub enum Effect {
    /// Load the data set per the launch (the result comes back as `Event::Data`).
    LoadData(Box<Launch>),
    /// Start the worker over the data set.
    StartWorker(Arc<Dataset>),
    /// Stop the worker (replay mode needs none).
    StopWorker,
    /// Load a model into a slot of the worker.
    LoadModel(Slot, Box<ModelSpec>),
    /// Build the random-weight demo model (its folder comes back as `Event::DemoModel`).
    BuildDemoModel,
    /// Queue a trace (latest-wins per slot: it replaces the slot's queued or running job).
    Submit(TraceJob),
    /// Stop the slot's job.
    Cancel(Slot),
    /// Jobs index into a grown data set (a custom sample was added).
    SetData(Arc<Dataset>),
    /// Write the session (on a background thread; the result comes back as `Event::Saved`).
    Save(SaveRequest),
    /// Write a trace as an HTML page (on a background thread; `Event::Saved` again).
    Export(ExportRequest),
    Quit,
}

/// A trace to export as an HTML page, where, and what to say when it is written.
#[derive(Debug)]
pub struct ExportRequest {
    pub trace: Arc<crate::pipeline::SampleTrace>,
    pub path: PathBuf,
    /// The layer the page's slider starts at.
    pub layer: usize,
    pub done: String,
}

/// A session to write, where, and what to say when it is written.
#[derive(Debug)]
pub struct SaveRequest {
    pub session: Box<Session>,
    pub path: PathBuf,
    /// The footer's message once the file is written.
    pub done: String,
}

//! What reaches the explorer from its helpers (the worker, the start-up threads, the session
//! writer). Terminal input is not here: the front end maps it to commands.

use super::worker::WorkerEvent;
use crate::data::Dataset;
use std::path::PathBuf;
use std::sync::Arc;

pub enum Event {
    Worker(WorkerEvent),
    /// The data set, and whether it is the demo set (with the reason).
    Data(Result<(Arc<Dataset>, Option<String>), String>),
    /// The demo model's folder, built on the fly.
    DemoModel(Result<PathBuf, String>),
    /// What saving the session did (the message for the footer), or why it failed.
    Saved(Result<String, String>),
}

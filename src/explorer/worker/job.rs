//! What the worker is asked to do and what it reports: trace keys, jobs and events.

use crate::attribution::relevance::TargetMode;
use crate::data::prompt::PromptOptions;
use crate::data::prompt::Setting;
use crate::model::generate::GenStep;
use crate::pipeline::{ModelIdentity, SampleTrace, Stage, TraceOptions};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Which of the two models a request is for (the TUI compares a base and an instruct model).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    Primary,
    Compare,
}

impl Slot {
    pub const ALL: [Slot; 2] = [Slot::Primary, Slot::Compare];

    /// Index into per-slot arrays.
    pub fn index(self) -> usize {
        match self {
            Slot::Primary => 0,
            Slot::Compare => 1,
        }
    }

    pub fn other(self) -> Slot {
        match self {
            Slot::Primary => Slot::Compare,
            Slot::Compare => Slot::Primary,
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Slot::Primary => "primary",
            Slot::Compare => "compare",
        })
    }
}

/// What identifies one trace for the app's cache (the model is named by its slot: the app
/// drops a slot's entries when it loads another model there). Like `batch::UnitKey`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TraceKey {
    pub slot: Slot,
    /// Index into the dataset.
    pub sample: usize,
    #[serde(flatten)]
    pub setting: Setting,
    /// What relevance explains; None when relevance is off (MRDs depend on it).
    pub target: Option<TargetMode>,
}

impl fmt::Display for TraceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} · #{} · {} {} · {}-shot {}",
            self.slot,
            self.sample,
            self.setting.scenario,
            self.setting.lang,
            self.setting.shots,
            self.setting.format
        )?;
        match self.target {
            Some(t) => write!(f, " · {t}"),
            None => Ok(()),
        }
    }
}

/// One trace request. The key is derived from the prompt and trace options in [`TraceJob::new`],
/// so the fields stay private: a key that disagreed with its options would poison the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceJob {
    key: TraceKey,
    prompt: PromptOptions,
    options: TraceOptions,
}

impl TraceJob {
    pub fn new(slot: Slot, sample: usize, prompt: PromptOptions, options: TraceOptions) -> Self {
        let key = TraceKey {
            slot,
            sample,
            setting: prompt.setting,
            target: options.relevance.as_ref().map(|r| r.target),
        };
        TraceJob {
            key,
            prompt,
            options,
        }
    }

    pub fn key(&self) -> &TraceKey {
        &self.key
    }

    pub fn slot(&self) -> Slot {
        self.key.slot
    }

    pub fn prompt(&self) -> &PromptOptions {
        &self.prompt
    }

    pub fn options(&self) -> &TraceOptions {
        &self.options
    }
}

/// What the worker reports, in order per slot. Errors carry the whole anyhow chain (`{:#}`).
#[derive(Clone, Debug)]
pub enum WorkerEvent {
    ModelLoading {
        slot: Slot,
        name: String,
    },
    /// Bytes of a model file downloaded so far (hub models not yet in the cache).
    Download {
        slot: Slot,
        progress: crate::model::source::DownloadProgress,
    },
    ModelLoaded {
        slot: Slot,
        identity: ModelIdentity,
        load_ms: f64,
    },
    ModelFailed {
        slot: Slot,
        error: String,
    },
    Started {
        key: TraceKey,
    },
    Stage {
        key: TraceKey,
        stage: Stage,
    },
    Token {
        key: TraceKey,
        step: GenStep,
    },
    /// The trace so far: the scored answer, then after each later stage (see
    /// `Progress::Partial`). `Done` still carries the whole trace.
    Partial {
        key: TraceKey,
        trace: Arc<SampleTrace>,
    },
    Done {
        key: TraceKey,
        trace: Arc<SampleTrace>,
    },
    Failed {
        key: TraceKey,
        error: String,
    },
    Cancelled {
        key: TraceKey,
    },
}

impl WorkerEvent {
    /// The trace this event is about, if any (model events have none).
    pub fn key(&self) -> Option<&TraceKey> {
        match self {
            WorkerEvent::Started { key }
            | WorkerEvent::Stage { key, .. }
            | WorkerEvent::Token { key, .. }
            | WorkerEvent::Partial { key, .. }
            | WorkerEvent::Done { key, .. }
            | WorkerEvent::Failed { key, .. }
            | WorkerEvent::Cancelled { key } => Some(key),
            _ => None,
        }
    }
}

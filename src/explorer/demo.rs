//! The offline demo (a random-weight model on the bundled demo set, `data::demo`) and replay
//! mode (a saved session without models): the two ways the explorer runs without the real
//! thing.

use super::launch::{Launch, ModelChoice};
use super::session::Session;
use super::state::{Explorer, Mode, ModelSlot, ModelState};
use super::worker::{Slot, TraceCache};
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use crate::synth::model::{cached_model, default_cache_dir, Preset, WeightDtype, WriteOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::state::DEMO_MODEL_LABEL as MODEL_LABEL;

/// Builds (or reuses from the cache) the demo model folder.
pub fn build_model() -> Result<PathBuf> {
    let cache = default_cache_dir()?;
    let opts = WriteOptions::new(WeightDtype::F32, 0);
    let (dir, _) = cached_model(&cache, Preset::Demo, &opts, &mut |_| {}).with_context(|| {
        format!(
            "building the demo model in the cache folder {} (XDG_CACHE_HOME, else HOME/.cache)",
            cache.display()
        )
    })?;
    Ok(dir)
}

/// The demo model's folder with the launch's device and dtype.
pub fn model_spec(dir: &Path, launch: &Launch) -> ModelSpec {
    let (device, dtype, chat) = match &launch.model {
        ModelChoice::Given(s) | ModelChoice::Default(s) => (s.device, s.dtype, s.chat),
        ModelChoice::Demo => Default::default(),
    };
    ModelSpec {
        model: ModelRef::Local(dir.to_path_buf()),
        device,
        dtype,
        chat,
    }
}

/// The explorer over a saved session: its samples, traces and bookmarks, no worker.
pub fn replay(session: Session, cache_entries: usize) -> Explorer {
    let models: Vec<ModelSlot> = session
        .models
        .iter()
        .map(|m| ModelSlot {
            source: m.source.clone(),
            state: ModelState::Saved(m.identity.clone()),
        })
        .collect();
    let models = if models.is_empty() {
        vec![ModelSlot {
            source: "(no model saved)".into(),
            state: ModelState::Saved(None),
        }]
    } else {
        models
    };
    let name = session.name.clone();
    let replay = session.into_replay();
    let mut app = Explorer::new(Mode::Replay, Arc::new(replay.data), models);
    app.session_name = name;
    app.custom = replay.custom;
    app.bookmarks = replay.bookmarks;
    app.selection = replay.selection;
    // Every saved trace stays: replay has nothing else to show.
    app.cache = TraceCache::new(cache_entries.max(replay.traces.len()), usize::MAX);
    let mut layers = None;
    for t in replay.traces {
        layers = layers.or(Some(t.trace.model.layers));
        if t.key.slot == Slot::Primary || app.models.len() > 1 {
            app.cache.insert(t.key, t.trace);
        }
    }
    app.layer = layers.unwrap_or(0).div_ceil(2);
    app
}

//! The offline demo (a random-weight model on the bundled demo set) and replay mode (a saved
//! session without models): the two ways the explorer runs without the real thing.

use super::app::{App, Mode, ModelSlot, ModelState};
use super::Launch;
use crate::data::loader::{align, parse_squad, IdPolicy, LangRecords};
use crate::data::{Dataset, Lang};
use crate::explorer::session::Session;
use crate::explorer::worker::{Slot, TraceCache};
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use crate::synth::model::{cached_model, default_cache_dir, Preset, WeightDtype, WriteOptions};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the demo model is named in the header.
pub const MODEL_LABEL: &str = "demo (random weights)";

/// The demo set: a few passages with questions in all 12 languages (`assets/demo`), built
/// into the binary so the demo needs no files.
const DEMO_FILES: [(Lang, &str); 12] = [
    (Lang::Ar, include_str!("../../assets/demo/xquad.ar.json")),
    (Lang::De, include_str!("../../assets/demo/xquad.de.json")),
    (Lang::El, include_str!("../../assets/demo/xquad.el.json")),
    (Lang::En, include_str!("../../assets/demo/xquad.en.json")),
    (Lang::Es, include_str!("../../assets/demo/xquad.es.json")),
    (Lang::Hi, include_str!("../../assets/demo/xquad.hi.json")),
    (Lang::Ro, include_str!("../../assets/demo/xquad.ro.json")),
    (Lang::Ru, include_str!("../../assets/demo/xquad.ru.json")),
    (Lang::Th, include_str!("../../assets/demo/xquad.th.json")),
    (Lang::Tr, include_str!("../../assets/demo/xquad.tr.json")),
    (Lang::Vi, include_str!("../../assets/demo/xquad.vi.json")),
    (Lang::Zh, include_str!("../../assets/demo/xquad.zh.json")),
];

pub fn dataset() -> Result<Dataset> {
    let mut files = Vec::with_capacity(DEMO_FILES.len());
    for (lang, text) in DEMO_FILES {
        let path = PathBuf::from(format!("assets/demo/xquad.{}.json", lang.code()));
        let records = parse_squad(text.as_bytes(), &path)?;
        files.push(LangRecords {
            lang,
            path,
            records,
        });
    }
    let mut data = align(files, IdPolicy::Identical, "demo set")?.dataset;
    data.source = "demo set (bundled)".to_string();
    Ok(data)
}

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
        super::ModelChoice::Given(s) | super::ModelChoice::Default(s) => {
            (s.device, s.dtype, s.chat)
        }
        super::ModelChoice::Demo => Default::default(),
    };
    ModelSpec {
        model: ModelRef::Local(dir.to_path_buf()),
        device,
        dtype,
        chat,
    }
}

/// An app over a saved session: its samples, traces and bookmarks, no worker.
pub fn replay_app(session: Session, cache_entries: usize) -> App {
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
    let mut app = App::new(Mode::Replay, Arc::new(replay.data), models);
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

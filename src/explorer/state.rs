//! The explorer's state: what is selected, what each model is doing, what has arrived. Plain
//! data with no terminal in it: the reducer changes it, the scheduler reads it, the front
//! end draws it.

use super::session::{Bookmark, Selection};
use super::worker::{Slot, TraceCache, TraceKey};
use crate::data::prompt::Setting;
use crate::data::prompt::{PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::model::generate::GenStep;
use crate::pipeline::{ModelIdentity, SampleTrace, Stage, TraceOptions};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// How the explorer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Real models (or folders) and data.
    Live,
    /// No model or data could be had: a random-weight model on the demo set.
    Demo,
    /// A saved session without its models: saved traces only.
    Replay,
}

/// Where a model slot stands, as the app knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// Being fetched or mapped; `detail` says what the startup thread is doing.
    Loading {
        since: Instant,
        detail: String,
    },
    Ready(ModelIdentity),
    Failed(String),
    /// Replay: the model that made the saved traces, if known.
    Saved(Option<ModelIdentity>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelSlot {
    /// Hub id or folder, as given.
    pub source: String,
    pub state: ModelState,
}

impl ModelSlot {
    /// The short name shown in headers: the model's own name when known, else the source.
    pub fn name(&self) -> &str {
        if self.source == DEMO_MODEL_LABEL {
            // Named for what it is, not by the cache folder it was built in.
            return &self.source;
        }
        let full = match &self.state {
            ModelState::Ready(id) | ModelState::Saved(Some(id)) => &id.name,
            _ => &self.source,
        };
        short_model_name(full)
    }

    pub fn identity(&self) -> Option<&ModelIdentity> {
        match &self.state {
            ModelState::Ready(id) | ModelState::Saved(Some(id)) => Some(id),
            _ => None,
        }
    }
}

/// A model folder by its last component ("tiny-qwen2" for /x/models/tiny-qwen2); hub ids
/// (`org/name`) stay whole.
pub fn short_model_name(name: &str) -> &str {
    let is_path = name.starts_with(['/', '.', '~']) || name.matches('/').count() > 1;
    if !is_path {
        return name;
    }
    name.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|last| !last.is_empty())
        .unwrap_or(name)
}

/// A job in flight for one slot, with what has streamed in so far.
#[derive(Clone, Debug)]
pub struct Live {
    pub key: TraceKey,
    pub stage: Option<Stage>,
    pub tokens: Vec<GenStep>,
    /// The trace so far (answer scored, then relevance, similarity...).
    pub partial: Option<Arc<SampleTrace>>,
    pub since: Instant,
}

/// A short message in the footer (saved, warnings), dropped after a while.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    pub at: Instant,
}

/// How the demo model is named in the header (not by the cache folder it was built in).
pub const DEMO_MODEL_LABEL: &str = "demo (random weights)";

/// Bounds of the trace cache unless the user gives others.
pub const CACHE_ENTRIES: usize = 512;
pub const CACHE_BYTES: usize = 512 << 20;

/// Everything the explorer knows and decides, whatever draws it.
pub struct Explorer {
    pub mode: Mode,
    /// Why the demo runs (shown in its banner).
    pub demo_reason: Vec<String>,
    pub data: Arc<Dataset>,
    /// Positions of custom samples in `data`.
    pub custom: Vec<usize>,
    /// Primary, then the compare model when there is one.
    pub models: Vec<ModelSlot>,
    pub selection: Selection,
    /// Prompt options besides the selection (seed, system text, cue).
    pub prompt_base: PromptOptions,
    pub trace_options: TraceOptions,
    /// The selected level (0 = embeddings), shared by the heatmap and the sparklines; it
    /// starts in the middle of the stack when the first model is there.
    pub layer: usize,
    pub cache: TraceCache,
    /// The signal that ended the explorer, if one did.
    pub stopped_by: Option<&'static str>,
    pub live: [Option<Live>; 2],
    /// The job each slot has in the worker (queued or running), as the scheduler sent it.
    pub submitted: [Option<TraceKey>; 2],
    pub failures: HashMap<TraceKey, String>,
    pub bookmarks: Vec<Bookmark>,
    /// Session name `w` saves under.
    pub session_name: String,
    /// The session file this run opened or last saved, as (the path asked for, the path
    /// written): `w` may replace that file, never another.
    pub session_file: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// A fatal error shown full screen (model or data failed to load).
    pub fatal: Option<String>,
    /// The model download in progress (loads run one at a time, so one is enough).
    pub download: Option<crate::model::source::DownloadProgress>,
    /// What the startup is doing while nothing can be shown yet.
    pub startup: Option<String>,
    pub notice: Option<Notice>,
    pub quit: bool,
}

impl Explorer {
    pub fn new(mode: Mode, data: Arc<Dataset>, models: Vec<ModelSlot>) -> Explorer {
        let mut selection = Selection::default();
        selection.setting.lang = data
            .langs
            .iter()
            .copied()
            .find(|l| *l != Lang::En)
            .unwrap_or(Lang::En);
        Explorer {
            mode,
            demo_reason: Vec::new(),
            data,
            custom: Vec::new(),
            models,
            selection,
            prompt_base: PromptOptions::default(),
            trace_options: TraceOptions::default(),
            layer: 0,
            cache: TraceCache::new(CACHE_ENTRIES, CACHE_BYTES),
            stopped_by: None,
            live: [None, None],
            submitted: [None, None],
            failures: HashMap::new(),
            bookmarks: Vec::new(),
            session_name: "session".to_string(),
            session_file: None,
            fatal: None,
            download: None,
            startup: None,
            notice: None,
            quit: false,
        }
    }
    /// A (new) data set; the language tab moves to its first non-English language when
    /// the current one is missing.
    pub fn set_data(&mut self, data: Arc<Dataset>) {
        if self.selection.setting.lang == Lang::En
            || !data.langs.contains(&self.selection.setting.lang)
        {
            self.selection.setting.lang = data
                .langs
                .iter()
                .copied()
                .find(|l| *l != Lang::En)
                .unwrap_or(Lang::En);
        }
        if self.selection.sample >= data.len() {
            self.selection.sample = 0;
        }
        self.data = data;
    }

    /// Whether something runs that a spinner should show.
    pub fn busy(&self) -> bool {
        self.startup.is_some()
            || self.live.iter().any(Option::is_some)
            || self
                .models
                .iter()
                .any(|m| matches!(m.state, ModelState::Loading { .. }))
    }

    /// The slots in use.
    pub fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        Slot::ALL.into_iter().take(self.models.len())
    }

    pub fn compare(&self) -> bool {
        self.models.len() > 1
    }

    pub fn model(&self, slot: Slot) -> Option<&ModelSlot> {
        self.models.get(slot.index())
    }

    /// The prompt options of the current selection, or of `lang` instead.
    pub fn prompt_options_for(&self, lang: Lang) -> PromptOptions {
        PromptOptions {
            setting: Setting {
                lang,
                ..self.selection.setting
            },
            ..self.prompt_base.clone()
        }
    }

    pub fn trace_options(&self) -> TraceOptions {
        let mut options = self.trace_options.clone();
        if let Some(r) = options.relevance.as_mut() {
            r.target = self.selection.target;
        }
        options
    }

    /// The cache key of `slot` for the current selection in `lang`.
    pub fn key_for(&self, slot: Slot, lang: Lang) -> TraceKey {
        let options = self.trace_options();
        TraceKey {
            slot,
            sample: self.selection.sample,
            setting: Setting {
                lang: if self.selection.setting.scenario == Scenario::EnEn {
                    // en-en prompts ignore the language: one trace serves every tab.
                    Lang::En
                } else {
                    lang
                },
                ..self.selection.setting
            },
            target: options.relevance.as_ref().map(|r| r.target),
        }
    }

    pub fn key(&self, slot: Slot) -> TraceKey {
        self.key_for(slot, self.selection.setting.lang)
    }

    /// What to show for `key`: the finished trace, else the partial one of its live job.
    pub fn trace_for(&self, key: &TraceKey) -> Option<&Arc<SampleTrace>> {
        self.cache.peek(key).or_else(|| {
            self.live[key.slot.index()]
                .as_ref()
                .filter(|l| &l.key == key)
                .and_then(|l| l.partial.as_ref())
        })
    }

    /// The live job of `key`, if it is the one running.
    pub fn live_for(&self, key: &TraceKey) -> Option<&Live> {
        self.live[key.slot.index()]
            .as_ref()
            .filter(|l| &l.key == key)
    }

    /// Number of levels (layers + 1) of the slot's model, when known.
    pub fn levels(&self, slot: Slot) -> Option<usize> {
        self.model(slot)
            .and_then(ModelSlot::identity)
            .map(|m| m.layers + 1)
            .or_else(|| self.trace_for(&self.key(slot)).map(|t| t.model.layers + 1))
    }

    /// The languages the data has besides English, in tab order.
    pub fn x_langs(&self) -> Vec<Lang> {
        self.data
            .langs
            .iter()
            .copied()
            .filter(|l| *l != Lang::En)
            .collect()
    }

    pub fn is_custom(&self, sample: usize) -> bool {
        self.custom.contains(&sample)
    }

    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
            at: Instant::now(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::short_model_name;
    #[test]
    fn folders_are_named_by_their_last_component() {
        assert_eq!(short_model_name("/x/models/tiny-qwen2"), "tiny-qwen2");
        assert_eq!(short_model_name("./tiny/"), "tiny");
        assert_eq!(short_model_name("a/b/c"), "c");
        assert_eq!(
            short_model_name("Qwen/Qwen2.5-0.5B-Instruct"),
            "Qwen/Qwen2.5-0.5B-Instruct"
        );
        assert_eq!(short_model_name("/"), "/");
    }
}

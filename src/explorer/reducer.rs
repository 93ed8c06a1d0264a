//! The reducer: commands (what the user asked for) and worker events (what arrived) change
//! the explorer's state and return effects. Pure: no terminal, no model, no thread.

use super::effect::{Effect, ExportRequest, SaveRequest};
use super::restore::session_of;
use super::session::{Bookmark, Session};
use super::state::{Explorer, Live, Mode, ModelState};
use super::worker::{Slot, TraceKey, WorkerEvent};
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::{Format, Scenario};
use crate::data::request::find_sample;
use crate::data::{Answer, Entry, Lang, Sample};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What the user can ask the explorer for, whatever the keys that say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Stop every slot's job.
    CancelAll,
    /// Move the sample by this many places (wrapping around).
    MoveSample(isize),
    /// Move to the next (or previous) language x.
    CycleLang(isize),
    SelectLang(Lang),
    NextScenario,
    ToggleShots,
    ToggleFormat,
    ToggleTarget,
    LayerUp,
    LayerDown,
    LayerFirst,
    LayerLast,
    /// Go to a sample by index or id.
    Jump(String),
    /// Mark the current sample with a note (one per sample).
    Bookmark(String),
    NextBookmark,
    /// Save the session under this name.
    Save(String),
    /// Write the shown trace (the first model's) as a self-contained HTML page.
    Export,
    /// Try again what failed for the current selection.
    Retry,
}

/// One command.
pub fn apply(ex: &mut Explorer, command: Command) -> Vec<Effect> {
    match command {
        Command::Quit => {
            ex.quit = true;
            return vec![Effect::Quit];
        }
        Command::CancelAll => return ex.slots().map(Effect::Cancel).collect(),
        Command::MoveSample(by) => move_sample(ex, by),
        Command::CycleLang(by) => cycle_lang(ex, by),
        Command::SelectLang(lang) => ex.selection.setting.lang = lang,
        Command::NextScenario => {
            ex.selection.setting.scenario = match ex.selection.setting.scenario {
                Scenario::EnEn => Scenario::EnX,
                Scenario::EnX => Scenario::XX,
                Scenario::XX => Scenario::EnEn,
            }
        }
        Command::ToggleShots => {
            ex.selection.setting.shots = if ex.selection.setting.shots == 0 {
                2
            } else {
                0
            }
        }
        Command::ToggleFormat => {
            ex.selection.setting.format = match ex.selection.setting.format {
                Format::V1 => Format::V2,
                Format::V2 => Format::V1,
            }
        }
        Command::ToggleTarget => {
            ex.selection.target = match ex.selection.target {
                TargetMode::Step => TargetMode::Sequence,
                TargetMode::Sequence => TargetMode::Step,
            }
        }
        Command::LayerUp => ex.layer = (ex.layer + 1).min(max_level(ex)),
        Command::LayerDown => ex.layer = ex.layer.saturating_sub(1),
        Command::LayerFirst => ex.layer = 0,
        Command::LayerLast => ex.layer = max_level(ex),
        Command::Jump(target) => jump(ex, target.trim()),
        Command::Bookmark(note) => add_bookmark(ex, note.trim()),
        Command::NextBookmark => next_bookmark(ex),
        Command::Save(name) => return save(ex, name.trim()),
        Command::Export => return export(ex),
        Command::Retry => {
            let keys: Vec<TraceKey> = ex.slots().map(|s| ex.key(s)).collect();
            for k in keys {
                ex.failures.remove(&k);
            }
        }
    }
    Vec::new()
}

/// A worker event: streaming progress, finished traces, model state.
pub fn worker_event(ex: &mut Explorer, event: WorkerEvent) {
    match event {
        WorkerEvent::ModelLoading { slot, .. } => {
            if let Some(m) = ex.models.get_mut(slot.index()) {
                m.state = ModelState::Loading {
                    since: Instant::now(),
                    detail: "loading".into(),
                };
            }
        }
        WorkerEvent::Download { progress, .. } => ex.download = Some(progress),
        WorkerEvent::ModelLoaded { slot, identity, .. } => {
            ex.download = None;
            let first = ex.models.iter().all(|m| m.identity().is_none());
            if first {
                // Start at the middle of the stack, where retrieval usually happens.
                ex.layer = identity.layers.div_ceil(2);
            }
            // Traces of another model in this slot are not this model's (a reopened session's
            // traces of this very model stay).
            ex.cache
                .retain(|k, t| k.slot != slot || t.model.name == identity.name);
            // What failed on the slot's previous model (or for want of one) gets a new try.
            ex.failures.retain(|k, _| k.slot != slot);
            if let Some(m) = ex.models.get_mut(slot.index()) {
                m.state = ModelState::Ready(identity);
            }
        }
        WorkerEvent::ModelFailed { slot, error } => {
            ex.download = None;
            if let Some(m) = ex.models.get_mut(slot.index()) {
                m.state = ModelState::Failed(error);
            }
        }
        WorkerEvent::Started { key } => {
            let slot = key.slot.index();
            ex.live[slot] = Some(Live {
                key,
                stage: None,
                tokens: Vec::new(),
                partial: None,
                since: Instant::now(),
            });
        }
        WorkerEvent::Stage { key, stage } => {
            if let Some(live) = live_mut(ex, &key) {
                live.stage = Some(stage);
            }
        }
        WorkerEvent::Token { key, step } => {
            if let Some(live) = live_mut(ex, &key) {
                live.tokens.push(step);
            }
        }
        WorkerEvent::Partial { key, trace } => {
            if let Some(live) = live_mut(ex, &key) {
                live.partial = Some(trace);
            }
        }
        WorkerEvent::Done { key, trace } => {
            end_live(ex, &key);
            ex.failures.remove(&key);
            ex.cache.insert(key, trace);
        }
        WorkerEvent::Failed { key, error } => {
            end_live(ex, &key);
            ex.failures.insert(key, error);
        }
        WorkerEvent::Cancelled { key } => end_live(ex, &key),
    }
}

fn live_mut<'a>(ex: &'a mut Explorer, key: &TraceKey) -> Option<&'a mut Live> {
    ex.live[key.slot.index()].as_mut().filter(|l| &l.key == key)
}

fn end_live(ex: &mut Explorer, key: &TraceKey) {
    let slot = key.slot.index();
    if ex.live[slot].as_ref().is_some_and(|l| &l.key == key) {
        ex.live[slot] = None;
    }
    if ex.submitted[slot].as_ref() == Some(key) {
        ex.submitted[slot] = None;
    }
}

/// The highest level the models in use have.
pub fn max_level(ex: &Explorer) -> usize {
    ex.slots()
        .filter_map(|s| ex.levels(s))
        .max()
        .unwrap_or(1)
        .saturating_sub(1)
}

fn move_sample(ex: &mut Explorer, by: isize) {
    let n = ex.data.len();
    if n == 0 {
        return;
    }
    let at = ex.selection.sample as isize + by;
    ex.selection.sample = at.rem_euclid(n as isize) as usize;
}

fn cycle_lang(ex: &mut Explorer, by: isize) {
    let langs = ex.x_langs();
    if langs.is_empty() {
        return;
    }
    let i = langs
        .iter()
        .position(|l| *l == ex.selection.setting.lang)
        .unwrap_or(0) as isize;
    ex.selection.setting.lang = langs[(i + by).rem_euclid(langs.len() as isize) as usize];
}

fn jump(ex: &mut Explorer, target: &str) {
    if target.is_empty() {
        return;
    }
    match find_sample(&ex.data, target) {
        Ok(index) => ex.selection.sample = index,
        Err(e) => ex.notify(format!("{e:#}"), true),
    }
}

fn add_bookmark(ex: &mut Explorer, note: &str) {
    let sample = ex.selection.sample;
    let Some(s) = ex.data.get(sample) else {
        return;
    };
    let bookmark = Bookmark {
        sample,
        sample_id: s.id.clone(),
        setting: ex.selection.setting,
        note: note.to_string(),
    };
    ex.bookmarks.retain(|b| b.sample != sample);
    ex.bookmarks.push(bookmark);
    ex.bookmarks.sort_by_key(|b| b.sample);
    ex.notify(format!("bookmarked #{sample}"), false);
}

/// The note already on the current sample's bookmark (the bookmark prompt starts with it).
pub fn bookmark_note(ex: &Explorer) -> Option<&str> {
    ex.bookmarks
        .iter()
        .find(|b| b.sample == ex.selection.sample)
        .map(|b| b.note.as_str())
}

fn next_bookmark(ex: &mut Explorer) {
    let current = ex.selection.sample;
    let next = ex
        .bookmarks
        .iter()
        .find(|b| b.sample > current)
        .or_else(|| ex.bookmarks.first())
        .cloned();
    match next {
        Some(b) => {
            ex.selection.sample = b.sample;
            // The whole setting it was marked in: scenario, language, shots and format.
            ex.selection.setting = b.setting;
        }
        None => ex.notify("no bookmarks yet: b marks a sample", false),
    }
}

/// The session as it stands, to be written under `name` (an empty name is refused).
fn save(ex: &mut Explorer, name: &str) -> Vec<Effect> {
    if name.is_empty() {
        return Vec::new();
    }
    ex.session_name = name.to_string();
    let session = session_of(ex);
    let (path, renamed) = session_save_path(ex, &Session::path_for(name));
    // Only finished traces are saved: say so when one is still running.
    let running = ex.live.iter().flatten().count();
    let note = match running {
        0 => String::new(),
        n => format!(
            " ({n} running trace{} not included: save again when done)",
            if n == 1 { "" } else { "s" }
        ),
    };
    let traces = session.traces.len();
    let done = format!(
        "session saved to {}{renamed} with {traces} trace{}{note}",
        path.display(),
        if traces == 1 { "" } else { "s" }
    );
    vec![Effect::Save(SaveRequest {
        session: Box::new(session),
        path,
        done,
    })]
}

/// `e`: the shown trace of the first model as an HTML page in the working folder, named by
/// sample, scenario and language, never over an existing file; the slider starts at the
/// layer cursor.
fn export(ex: &mut Explorer) -> Vec<Effect> {
    let key = ex.key(Slot::Primary);
    let Some(trace) = ex.cache.peek(&key).cloned() else {
        ex.notify(
            "nothing to export yet: the trace of this selection is not done",
            true,
        );
        return Vec::new();
    };
    let setting = &ex.selection.setting;
    let id = ex
        .data
        .get(ex.selection.sample)
        .map_or_else(|| ex.selection.sample.to_string(), |s| s.id.clone());
    let stem: String = format!(
        "xmrc-lens-{id}-{}-{}",
        setting.scenario,
        setting.lang.code()
    )
    .chars()
    .map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            c
        } else {
            '_'
        }
    })
    .collect();
    let path = free_path(Path::new(&format!("{stem}.html")));
    vec![Effect::Export(ExportRequest {
        done: format!("trace exported to {}", path.display()),
        trace,
        path,
        layer: ex.layer,
    })]
}

/// `wanted`, or `<stem>-N.<ext>` with the first N that is free.
fn free_path(wanted: &Path) -> PathBuf {
    if !wanted.exists() {
        return wanted.to_path_buf();
    }
    let stem = wanted
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = wanted
        .extension()
        .map_or_else(String::new, |e| e.to_string_lossy().into_owned());
    (2..)
        .map(|n| wanted.with_file_name(format!("{stem}-{n}.{ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| wanted.to_path_buf())
}

/// Where `w` writes when asked for `wanted`: the session file this run opened or wrote
/// under that name, else `wanted` if free, else a free `<name>-N.json`; never another
/// session's file. Also returns the footer's note when the name was changed.
fn session_save_path(ex: &mut Explorer, wanted: &Path) -> (PathBuf, String) {
    let same = |a: &Path, b: &Path| a == b || crate::atomic_file::same_file(a, b);
    let path = match &ex.session_file {
        // The name this run used before: its own file again.
        Some((asked, written)) if same(asked, wanted) => written.clone(),
        Some((_, written)) if same(written, wanted) => wanted.to_path_buf(),
        _ => Session::unused_path(wanted),
    };
    ex.session_file = Some((wanted.to_path_buf(), path.clone()));
    let renamed = if path == wanted {
        String::new()
    } else {
        format!(" ({} exists and was kept)", wanted.display())
    };
    (path, renamed)
}

/// Adds a typed sample to the data set (every language gets the text, so every scenario
/// traces it) and selects it; the error says why the form's input was refused.
pub fn add_custom_sample(
    ex: &mut Explorer,
    context: &str,
    question: &str,
    gold: &str,
) -> Result<Vec<Effect>, String> {
    if ex.mode == Mode::Replay {
        return Err("replay mode: no model to trace a new sample".into());
    }
    let (context, question, gold) = (context.trim(), question.trim(), gold.trim());
    if context.is_empty() || question.is_empty() {
        return Err("a context and a question are needed".into());
    }
    let answers = if gold.is_empty() {
        Vec::new()
    } else {
        let byte = context
            .find(gold)
            .ok_or("the gold answer must appear in the context, as in XQuAD")?;
        vec![Answer {
            start: context[..byte].chars().count(),
            text: gold.to_string(),
        }]
    };
    let entry = Entry {
        context: context.to_string(),
        question: question.to_string(),
        answers,
    };
    let mut data = (*ex.data).clone();
    let article = data.samples.iter().map(|s| s.article).max().unwrap_or(0) + 1;
    let n = ex.custom.len() + 1;
    let title: String = question.chars().take(40).collect();
    data.samples.push(Sample {
        id: format!("custom-{n}"),
        article,
        title: format!("custom: {title}"),
        entries: data.langs.iter().map(|l| (*l, entry.clone())).collect(),
        custom: true,
    });
    let index = data.samples.len() - 1;
    let data = Arc::new(data);
    ex.data = Arc::clone(&data);
    ex.custom.push(index);
    ex.selection.sample = index;
    Ok(vec![Effect::SetData(data)])
}

/// The slots whose model failed: the scheduler leaves them alone.
pub fn failed(ex: &Explorer, slot: Slot) -> bool {
    matches!(
        ex.model(slot).map(|m| &m.state),
        Some(ModelState::Failed(_))
    )
}

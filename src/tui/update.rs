//! `update`: actions and worker events in, state changes and effects out. Pure (no terminal,
//! no model), so every behaviour is testable by feeding actions to an `App`.

use super::action::Action;
use super::app::{App, CustomForm, Live, Mode, ModelState, Overlay, Pane, Rows, Screen};
use super::input::{InputOutcome, TextInput};
use super::keymap::Keymap;
use crate::attribution::relevance::TargetMode;
use crate::cli::data_args::find_sample;
use crate::data::prompt::{Format, Scenario};
use crate::data::{Answer, Dataset, Entry, Lang, Sample};
use crate::explorer::session::SESSION_VERSION;
use crate::explorer::session::{
    now_unix, Bookmark, SavedSample, SavedTrace, Session, SessionModel,
};
use crate::explorer::worker::{Slot, TraceJob, TraceKey, WorkerEvent};
use ratatui::crossterm::event::{KeyEvent, MouseEvent, MouseEventKind};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What the runtime must do after an update: the app itself never talks to the worker.
#[derive(Debug)]
pub enum Effect {
    /// Queue a trace (latest-wins per slot: it replaces the slot's queued or running job).
    Submit(TraceJob),
    /// Stop the slot's job.
    Cancel(Slot),
    /// Jobs index into a grown data set (a custom sample was added).
    SetData(Arc<Dataset>),
    /// Write the session (on a background thread; the result comes back as a notice).
    Save(Box<Session>, PathBuf),
    Quit,
}

/// Levels shown by the heatmap's top-k rows.
const TOP_K: usize = 4;

/// A key press: to the open overlay, else through the keymap.
pub fn key(app: &mut App, keymap: &Keymap, key: &KeyEvent) -> Vec<Effect> {
    if let Some(effects) = overlay_key(app, keymap, key) {
        return effects;
    }
    match keymap.action_for(key) {
        Some(action) => update(app, action),
        None => Vec::new(),
    }
}

/// Mouse: the wheel scrolls the focused pane; a click on a language tab selects it, on a
/// pane focuses it. `regions` come from the same layout the last frame was drawn with.
pub fn mouse(app: &mut App, event: &MouseEvent, regions: &super::view::Regions) -> Vec<Effect> {
    if app.overlay.is_some() {
        return Vec::new();
    }
    match event.kind {
        MouseEventKind::ScrollDown => update(app, Action::ScrollDown),
        MouseEventKind::ScrollUp => update(app, Action::ScrollUp),
        MouseEventKind::Down(_) => {
            let (x, y) = (event.column, event.row);
            if let Some(lang) = regions.tab_at(x, y) {
                app.selection.lang = lang;
                return Vec::new();
            }
            if let Some(pane) = regions.pane_at(x, y) {
                app.focus = pane;
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Keys while an overlay is open; None when no overlay takes them.
fn overlay_key(app: &mut App, keymap: &Keymap, key: &KeyEvent) -> Option<Vec<Effect>> {
    let overlay = app.overlay.take()?;
    let (next, effects) = match overlay {
        Overlay::Help { scroll } => match keymap.action_for(key) {
            Some(Action::Quit) => return Some(update(app, Action::Quit)),
            Some(Action::Help | Action::Back) => (None, Vec::new()),
            Some(Action::ScrollDown) => (Some(Overlay::Help { scroll: scroll + 1 }), Vec::new()),
            Some(Action::ScrollUp) => (
                Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                Vec::new(),
            ),
            _ => (Some(Overlay::Help { scroll }), Vec::new()),
        },
        Overlay::Jump(mut input) => match input.handle(key) {
            InputOutcome::Submit => {
                jump(app, input.text.trim());
                (None, Vec::new())
            }
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Jump(input)), Vec::new()),
        },
        Overlay::Bookmark(mut input) => match input.handle(key) {
            InputOutcome::Submit => {
                add_bookmark(app, input.text.trim());
                (None, Vec::new())
            }
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Bookmark(input)), Vec::new()),
        },
        Overlay::Save(mut input) => match input.handle(key) {
            InputOutcome::Submit => {
                let name = input.text.trim().to_string();
                if name.is_empty() {
                    (Some(Overlay::Save(input)), Vec::new())
                } else {
                    app.session_name = name.clone();
                    let session = session_of(app);
                    let path = Session::path_for(&name);
                    (None, vec![Effect::Save(Box::new(session), path)])
                }
            }
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Save(input)), Vec::new()),
        },
        Overlay::Form(mut form) => {
            let focus = form.focus;
            match form.fields[focus].handle(key) {
                InputOutcome::NextField => {
                    form.focus = (focus + 1) % form.fields.len();
                    (Some(Overlay::Form(form)), Vec::new())
                }
                InputOutcome::PrevField => {
                    form.focus = (focus + form.fields.len() - 1) % form.fields.len();
                    (Some(Overlay::Form(form)), Vec::new())
                }
                InputOutcome::Cancel => (None, Vec::new()),
                InputOutcome::Submit => match add_custom_sample(app, &form) {
                    Ok(effects) => (None, effects),
                    Err(error) => {
                        form.error = Some(error);
                        (Some(Overlay::Form(form)), Vec::new())
                    }
                },
                _ => (Some(Overlay::Form(form)), Vec::new()),
            }
        }
    };
    app.overlay = next;
    Some(effects)
}

/// Pasted text goes to the open input, if any.
pub fn paste(app: &mut App, text: &str) {
    match app.overlay.as_mut() {
        Some(Overlay::Jump(i) | Overlay::Bookmark(i) | Overlay::Save(i)) => i.insert_str(text),
        Some(Overlay::Form(form)) => {
            let focus = form.focus;
            form.fields[focus].insert_str(text);
        }
        _ => {}
    }
}

/// One action on the main screens.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let samples = app.data.len();
    match action {
        Action::Quit => {
            app.quit = true;
            return vec![Effect::Quit];
        }
        Action::Help => app.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::Back => {
            if app.screen == Screen::Sweep {
                app.screen = Screen::Main;
            } else {
                return app.slots().map(Effect::Cancel).collect();
            }
        }
        Action::NextSample => move_sample(app, 1),
        Action::PrevSample => move_sample(app, -1),
        Action::NextSamplePage => move_sample(app, 10),
        Action::PrevSamplePage => move_sample(app, -10),
        Action::Jump if samples > 0 => app.overlay = Some(Overlay::Jump(TextInput::single_line())),
        Action::NextLang => cycle_lang(app, 1),
        Action::PrevLang => cycle_lang(app, -1),
        Action::NextScenario => {
            app.selection.scenario = match app.selection.scenario {
                Scenario::EnEn => Scenario::EnX,
                Scenario::EnX => Scenario::XX,
                Scenario::XX => Scenario::EnEn,
            }
        }
        Action::ToggleShots => app.selection.shots = if app.selection.shots == 0 { 2 } else { 0 },
        Action::ToggleFormat => {
            app.selection.format = match app.selection.format {
                Format::V1 => Format::V2,
                Format::V2 => Format::V1,
            }
        }
        Action::ToggleTarget => {
            app.selection.target = match app.selection.target {
                TargetMode::Step => TargetMode::Sequence,
                TargetMode::Sequence => TargetMode::Step,
            }
        }
        Action::LayerUp => app.layer = (app.layer + 1).min(max_level(app)),
        Action::LayerDown => app.layer = app.layer.saturating_sub(1),
        Action::LayerFirst => app.layer = 0,
        Action::LayerLast => app.layer = max_level(app),
        Action::FocusNext => app.focus = shift_focus(app.focus, 1),
        Action::FocusPrev => app.focus = shift_focus(app.focus, Pane::ALL.len() - 1),
        Action::ScrollUp => scroll(app, -1),
        Action::ScrollDown => scroll(app, 1),
        Action::PageUp => scroll(app, -10),
        Action::PageDown => scroll(app, 10),
        Action::ToggleRows => {
            app.rows = match app.rows {
                Rows::TopK(_) => Rows::All,
                Rows::All => Rows::TopK(TOP_K),
            };
            app.scroll.insert(Pane::Relevance, 0);
        }
        Action::ToggleOverlay => app.all_langs = !app.all_langs,
        Action::ToggleShading => app.shading = !app.shading,
        Action::Sweep => {
            app.screen = match app.screen {
                Screen::Main => Screen::Sweep,
                Screen::Sweep => Screen::Main,
            }
        }
        Action::CustomSample if app.mode != Mode::Replay => {
            app.overlay = Some(Overlay::Form(Box::new(CustomForm::new())));
        }
        Action::CustomSample => app.notify("replay mode: no model to trace a new sample", true),
        Action::Bookmark if samples > 0 => {
            let mut input = TextInput::single_line();
            if let Some(b) = app
                .bookmarks
                .iter()
                .find(|b| b.sample == app.selection.sample)
            {
                input.insert_str(&b.note);
            }
            app.overlay = Some(Overlay::Bookmark(input));
        }
        Action::NextBookmark => next_bookmark(app),
        Action::Save => {
            let mut input = TextInput::single_line();
            input.insert_str(&app.session_name);
            app.overlay = Some(Overlay::Save(input));
        }
        Action::Retry => {
            let keys: Vec<TraceKey> = app.slots().map(|s| app.key(s)).collect();
            for k in keys {
                app.failures.remove(&k);
            }
        }
        Action::Jump | Action::Bookmark => {}
    }
    Vec::new()
}

/// A worker event: streaming progress, finished traces, model state.
pub fn worker_event(app: &mut App, event: WorkerEvent) {
    match event {
        WorkerEvent::ModelLoading { slot, .. } => {
            if let Some(m) = app.models.get_mut(slot.index()) {
                m.state = ModelState::Loading {
                    since: Instant::now(),
                    detail: "loading".into(),
                };
            }
        }
        WorkerEvent::ModelLoaded { slot, identity, .. } => {
            app.download = None;
            let first = app.models.iter().all(|m| m.identity().is_none());
            if first {
                // Start at the middle of the stack, where retrieval usually happens.
                app.layer = identity.layers.div_ceil(2);
            }
            // Traces of another model in this slot are not this model's (a reopened session's
            // traces of this very model stay).
            app.cache
                .retain(|k, t| k.slot != slot || t.model.name == identity.name);
            // What failed on the slot's previous model (or for want of one) gets a new try.
            app.failures.retain(|k, _| k.slot != slot);
            if let Some(m) = app.models.get_mut(slot.index()) {
                m.state = ModelState::Ready(identity);
            }
        }
        WorkerEvent::ModelFailed { slot, error } => {
            app.download = None;
            if let Some(m) = app.models.get_mut(slot.index()) {
                m.state = ModelState::Failed(error);
            }
        }
        WorkerEvent::Started { key } => {
            let slot = key.slot.index();
            app.live[slot] = Some(Live {
                key,
                stage: None,
                tokens: Vec::new(),
                partial: None,
                since: Instant::now(),
            });
        }
        WorkerEvent::Stage { key, stage } => {
            if let Some(live) = live_mut(app, &key) {
                live.stage = Some(stage);
            }
        }
        WorkerEvent::Token { key, step } => {
            if let Some(live) = live_mut(app, &key) {
                live.tokens.push(step);
            }
        }
        WorkerEvent::Partial { key, trace } => {
            if let Some(live) = live_mut(app, &key) {
                live.partial = Some(trace);
            }
        }
        WorkerEvent::Done { key, trace } => {
            end_live(app, &key);
            app.failures.remove(&key);
            app.cache.insert(key, trace);
        }
        WorkerEvent::Failed { key, error } => {
            end_live(app, &key);
            app.failures.insert(key, error);
        }
        WorkerEvent::Cancelled { key } => end_live(app, &key),
    }
}

fn live_mut<'a>(app: &'a mut App, key: &TraceKey) -> Option<&'a mut Live> {
    app.live[key.slot.index()]
        .as_mut()
        .filter(|l| &l.key == key)
}

fn end_live(app: &mut App, key: &TraceKey) {
    let slot = key.slot.index();
    if app.live[slot].as_ref().is_some_and(|l| &l.key == key) {
        app.live[slot] = None;
    }
    if app.submitted[slot].as_ref() == Some(key) {
        app.submitted[slot] = None;
    }
}

/// The traces the screen wants, most wanted first: the current selection, then (sweep or
/// language overlay) every language of the sample.
pub fn wanted(app: &App, slot: Slot) -> Vec<TraceKey> {
    let mut keys = vec![app.key(slot)];
    if app.screen == Screen::Sweep || app.all_langs {
        let mut langs = vec![Lang::En];
        langs.extend(app.x_langs());
        for lang in langs {
            let k = app.key_for(slot, lang);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}

/// Submits, per slot, the most wanted trace that is neither cached nor failed; a stale job
/// (no longer wanted) is cancelled. Called after every batch of events.
pub fn schedule(app: &mut App) -> Vec<Effect> {
    if app.mode == Mode::Replay || app.data.is_empty() {
        return Vec::new();
    }
    let mut effects = Vec::new();
    let slots: Vec<Slot> = app.slots().collect();
    for slot in slots {
        if matches!(
            app.model(slot).map(|m| &m.state),
            Some(ModelState::Failed(_))
        ) {
            continue;
        }
        let wanted = wanted(app, slot);
        // Looking at a cached trace uses it: the wanted keys become the most recent (the one
        // on screen last), so the cache evicts what was looked at longest ago, not what was
        // computed first.
        for key in wanted.iter().rev() {
            app.cache.get(key);
        }
        let next = wanted
            .iter()
            .find(|k| !app.cache.contains(k) && !app.failures.contains_key(k))
            .cloned();
        let submitted = app.submitted[slot.index()].clone();
        match (next, submitted) {
            (Some(next), Some(current)) if next == current => {}
            (Some(next), _) => {
                let lang = next.lang;
                let job = TraceJob::new(
                    slot,
                    next.sample,
                    app.prompt_options_for(lang),
                    app.trace_options(),
                );
                debug_assert_eq!(job.key(), &next);
                app.submitted[slot.index()] = Some(next);
                effects.push(Effect::Submit(job));
            }
            (None, Some(_)) => {
                app.submitted[slot.index()] = None;
                effects.push(Effect::Cancel(slot));
            }
            (None, None) => {}
        }
    }
    effects
}

fn max_level(app: &App) -> usize {
    app.slots()
        .filter_map(|s| app.levels(s))
        .max()
        .unwrap_or(1)
        .saturating_sub(1)
}

fn shift_focus(pane: Pane, by: usize) -> Pane {
    let i = Pane::ALL.iter().position(|p| *p == pane).unwrap_or(0);
    Pane::ALL[(i + by) % Pane::ALL.len()]
}

fn scroll(app: &mut App, by: i32) {
    let entry = app.scroll.entry(app.focus).or_insert(0);
    *entry = if by < 0 {
        entry.saturating_sub(by.unsigned_abs() as u16)
    } else {
        entry.saturating_add(by as u16)
    };
}

fn move_sample(app: &mut App, by: isize) {
    let n = app.data.len();
    if n == 0 {
        return;
    }
    let at = app.selection.sample as isize + by;
    app.selection.sample = at.rem_euclid(n as isize) as usize;
    app.scroll.clear();
}

fn cycle_lang(app: &mut App, by: isize) {
    let langs = app.x_langs();
    if langs.is_empty() {
        return;
    }
    let i = langs
        .iter()
        .position(|l| *l == app.selection.lang)
        .unwrap_or(0) as isize;
    app.selection.lang = langs[(i + by).rem_euclid(langs.len() as isize) as usize];
}

fn jump(app: &mut App, target: &str) {
    if target.is_empty() {
        return;
    }
    match find_sample(&app.data, target) {
        Ok(index) => {
            app.selection.sample = index;
            app.scroll.clear();
        }
        Err(e) => app.notify(format!("{e:#}"), true),
    }
}

fn add_bookmark(app: &mut App, note: &str) {
    let sample = app.selection.sample;
    let Some(s) = app.data.get(sample) else {
        return;
    };
    let bookmark = Bookmark {
        sample,
        sample_id: s.id.clone(),
        scenario: app.selection.scenario,
        lang: app.selection.lang,
        note: note.to_string(),
    };
    app.bookmarks.retain(|b| b.sample != sample);
    app.bookmarks.push(bookmark);
    app.bookmarks.sort_by_key(|b| b.sample);
    app.notify(format!("bookmarked #{sample}"), false);
}

fn next_bookmark(app: &mut App) {
    let current = app.selection.sample;
    let next = app
        .bookmarks
        .iter()
        .find(|b| b.sample > current)
        .or_else(|| app.bookmarks.first())
        .cloned();
    match next {
        Some(b) => {
            app.selection.sample = b.sample;
            app.selection.scenario = b.scenario;
            app.selection.lang = b.lang;
            app.scroll.clear();
        }
        None => app.notify("no bookmarks yet: b marks a sample", false),
    }
}

/// Adds the form's sample to the data set (every language gets the typed text, so every
/// scenario traces it) and selects it.
fn add_custom_sample(app: &mut App, form: &CustomForm) -> Result<Vec<Effect>, String> {
    let context = form.fields[0].text.trim().to_string();
    let question = form.fields[1].text.trim().to_string();
    let gold = form.fields[2].text.trim().to_string();
    if context.is_empty() || question.is_empty() {
        return Err("a context and a question are needed".into());
    }
    let answers = if gold.is_empty() {
        Vec::new()
    } else {
        let byte = context
            .find(&gold)
            .ok_or("the gold answer must appear in the context, as in XQuAD")?;
        vec![Answer {
            start: context[..byte].chars().count(),
            text: gold,
        }]
    };
    let entry = Entry {
        context,
        question: question.clone(),
        answers,
    };
    let mut data = (*app.data).clone();
    let article = data.samples.iter().map(|s| s.article).max().unwrap_or(0) + 1;
    let n = app.custom.len() + 1;
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
    app.data = Arc::clone(&data);
    app.custom.push(index);
    app.selection.sample = index;
    app.scroll.clear();
    Ok(vec![Effect::SetData(data)])
}

/// Puts a saved session back over freshly loaded data: samples found by id (custom ones
/// appended), the selection, bookmarks and every saved trace whose sample is there.
pub fn restore_session(app: &mut App, session: &Session) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut data = (*app.data).clone();
    let mut added = false;
    let mut index_of = std::collections::HashMap::new();
    for saved in &session.samples {
        let at = match data.position_of(&saved.sample.id) {
            Some(at) => at,
            None if saved.custom => {
                // Sessions written before samples carried the flag: say it again.
                let mut sample = saved.sample.clone();
                sample.custom = true;
                data.samples.push(sample);
                added = true;
                data.samples.len() - 1
            }
            None => continue,
        };
        if saved.custom && !app.custom.contains(&at) {
            app.custom.push(at);
        }
        index_of.insert(saved.index, at);
    }
    if added {
        let data = Arc::new(data);
        app.data = Arc::clone(&data);
        effects.push(Effect::SetData(data));
    }
    let mut missing = 0;
    for saved in &session.traces {
        match index_of.get(&saved.key.sample) {
            Some(&at) if saved.key.slot.index() < app.models.len() => {
                let mut key = saved.key.clone();
                key.sample = at;
                app.cache.insert(key, Arc::clone(&saved.trace));
            }
            _ => missing += 1,
        }
    }
    app.bookmarks = session
        .bookmarks
        .iter()
        .filter_map(|b| {
            index_of.get(&b.sample).map(|&at| Bookmark {
                sample: at,
                ..b.clone()
            })
        })
        .collect();
    if let Some(&at) = index_of.get(&session.selection.sample) {
        app.selection = crate::explorer::session::Selection {
            sample: at,
            ..session.selection.clone()
        };
    }
    app.session_name = session.name.clone();
    let restored = session.traces.len() - missing;
    app.notify(
        if missing == 0 {
            format!("session '{}': {restored} traces restored", session.name)
        } else {
            format!(
                "session '{}': {restored} traces restored, {missing} of samples this data set lacks",
                session.name
            )
        },
        missing > 0,
    );
    effects
}

/// The session as it stands: every cached trace, the samples they and the bookmarks name.
pub fn session_of(app: &App) -> Session {
    let mut traces: Vec<SavedTrace> = app
        .cache
        .iter()
        .map(|(key, trace)| SavedTrace {
            key: key.clone(),
            trace: Arc::clone(trace),
        })
        .collect();
    traces.sort_by(|a, b| a.key.cmp(&b.key));
    let indices: BTreeSet<usize> = traces
        .iter()
        .map(|t| t.key.sample)
        .chain(app.bookmarks.iter().map(|b| b.sample))
        .chain(app.custom.iter().copied())
        .chain(std::iter::once(app.selection.sample))
        .filter(|i| *i < app.data.len())
        .collect();
    let samples = indices
        .into_iter()
        .filter_map(|index| {
            app.data.get(index).map(|s| SavedSample {
                index,
                custom: app.is_custom(index),
                sample: s.clone(),
            })
        })
        .collect();
    Session {
        version: SESSION_VERSION,
        name: app.session_name.clone(),
        saved_at: now_unix(),
        data_source: app.data.source.clone(),
        models: app
            .slots()
            .filter_map(|slot| {
                app.model(slot).map(|m| SessionModel {
                    slot,
                    source: m.source.clone(),
                    identity: m.identity().cloned(),
                })
            })
            .collect(),
        selection: app.selection.clone(),
        bookmarks: app.bookmarks.clone(),
        samples,
        traces,
    }
}

#[cfg(test)]
mod tests;

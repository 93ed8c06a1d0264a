//! `update` and `schedule` driven by actions and worker events, no terminal, no model.

use super::*;
use crate::attribution::relevance::TargetMode;
use crate::data::demo;
use crate::data::prompt::{Format, Scenario};
use crate::data::Lang;
use crate::explorer::session::Session;
use crate::explorer::worker::{Slot, TraceKey, WorkerEvent};
use crate::explorer::{restore, Explorer, ModelSlot, ModelState};
use crate::pipeline::Stage;
use std::sync::Arc;
use std::time::Instant;

fn worker_event(app: &mut App, event: WorkerEvent) {
    reducer::worker_event(&mut app.core, event);
}

fn add_bookmark(app: &mut App, note: &str) {
    command(app, Command::Bookmark(note.into()));
}

fn jump(app: &mut App, target: &str) {
    command(app, Command::Jump(target.into()));
}

fn add_custom_sample(app: &mut App, form: &CustomForm) -> Result<Vec<Effect>, String> {
    let [context, question, gold] = &form.fields;
    reducer::add_custom_sample(&mut app.core, &context.text, &question.text, &gold.text)
}

fn wanted(app: &App, slot: Slot) -> Vec<TraceKey> {
    let want = if app.wants_all_langs() {
        Wanted::AllLangs
    } else {
        Wanted::Current
    };
    scheduler::wanted(&app.core, slot, want)
}

fn session_of(app: &App) -> Session {
    restore::session_of(&app.core)
}

fn restore_session(app: &mut App, session: &Session) -> Vec<Effect> {
    restore::restore_session(&mut app.core, session)
}

fn app(models: usize) -> App {
    let data = Arc::new(demo::dataset().unwrap());
    let slots = (0..models)
        .map(|i| ModelSlot {
            source: format!("m{i}"),
            state: ModelState::Loading {
                since: Instant::now(),
                detail: String::new(),
            },
        })
        .collect();
    App::new(Explorer::new(Mode::Live, data, slots))
}

fn submitted(effects: &[Effect]) -> Vec<TraceKey> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Submit(job) => Some(job.key().clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_current_selection_is_submitted_once() {
    let mut app = app(1);
    let first = schedule(&mut app);
    assert_eq!(submitted(&first), [app.core.key(Slot::Primary)]);
    assert!(
        schedule(&mut app).is_empty(),
        "no resubmission while it runs"
    );
}

#[test]
fn moving_on_replaces_the_job_latest_wins() {
    let mut app = app(1);
    schedule(&mut app);
    update(&mut app, Action::NextSample);
    update(&mut app, Action::NextSample);
    let effects = schedule(&mut app);
    let keys = submitted(&effects);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].sample, 2);
}

#[test]
fn cached_selections_submit_nothing_and_cancel_the_stale_job() {
    let mut app = app(1);
    schedule(&mut app);
    let key0 = app.core.key(Slot::Primary);
    update(&mut app, Action::NextSample);
    schedule(&mut app);
    // Sample 0 finished earlier: going back is instant and the running job is stale.
    app.core
        .cache
        .insert(key0.clone(), Arc::new(fixture_trace()));
    update(&mut app, Action::PrevSample);
    let effects = schedule(&mut app);
    assert!(submitted(&effects).is_empty());
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Cancel(Slot::Primary))));
}

#[test]
fn sweep_wants_every_language_after_the_current_one() {
    let mut app = app(1);
    update(&mut app, Action::Sweep);
    let wanted = wanted(&app, Slot::Primary);
    assert_eq!(wanted[0], app.core.key(Slot::Primary));
    assert_eq!(wanted.len(), app.core.data.langs.len());
}

#[test]
fn compare_mode_schedules_both_slots() {
    let mut app = app(2);
    let keys = submitted(&schedule(&mut app));
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].slot, Slot::Primary);
    assert_eq!(keys[1].slot, Slot::Compare);
}

#[test]
fn streaming_events_fill_the_live_job_then_the_cache() {
    let mut app = app(1);
    schedule(&mut app);
    let key = app.core.key(Slot::Primary);
    worker_event(&mut app, WorkerEvent::Started { key: key.clone() });
    worker_event(
        &mut app,
        WorkerEvent::Stage {
            key: key.clone(),
            stage: Stage::Generate,
        },
    );
    assert_eq!(
        app.core.live_for(&key).unwrap().stage,
        Some(Stage::Generate)
    );
    let trace = Arc::new(fixture_trace());
    worker_event(
        &mut app,
        WorkerEvent::Partial {
            key: key.clone(),
            trace: trace.clone(),
        },
    );
    assert!(
        app.core.trace_for(&key).is_some(),
        "partial traces are shown"
    );
    worker_event(
        &mut app,
        WorkerEvent::Done {
            key: key.clone(),
            trace,
        },
    );
    assert!(app.core.live[0].is_none());
    assert!(app.core.cache.contains(&key));
    assert!(app.core.submitted[0].is_none());
}

#[test]
fn failures_are_not_retried_until_asked() {
    let mut app = app(1);
    schedule(&mut app);
    let key = app.core.key(Slot::Primary);
    fail(&mut app, &key, "boom");
    assert!(submitted(&schedule(&mut app)).is_empty());
    update(&mut app, Action::Retry);
    assert_eq!(submitted(&schedule(&mut app)), [key]);
}

#[test]
fn a_newly_loaded_model_retries_what_failed_without_one() {
    let mut app = app(1);
    schedule(&mut app);
    let key = app.core.key(Slot::Primary);
    fail(&mut app, &key, "the primary model failed to load");
    load_fixture_model(&mut app);
    assert_eq!(submitted(&schedule(&mut app)), [key]);
}

#[test]
fn options_cycle_and_change_the_key() {
    let mut app = app(1);
    let before = app.core.key(Slot::Primary);
    update(&mut app, Action::NextScenario);
    assert_eq!(app.core.selection.setting.scenario, Scenario::XX);
    update(&mut app, Action::NextScenario);
    assert_eq!(app.core.selection.setting.scenario, Scenario::EnEn);
    assert_eq!(
        app.core.key(Slot::Primary).setting.lang,
        Lang::En,
        "en-en keys ignore the tab"
    );
    update(&mut app, Action::NextScenario);
    update(&mut app, Action::ToggleShots);
    update(&mut app, Action::ToggleFormat);
    update(&mut app, Action::ToggleTarget);
    let after = app.core.key(Slot::Primary);
    assert_eq!(after.setting.shots, 2);
    assert_eq!(after.setting.format, Format::V2);
    assert_eq!(after.target, Some(TargetMode::Sequence));
    assert_ne!(before, after);
}

#[test]
fn languages_and_samples_wrap_around() {
    let mut app = app(1);
    update(&mut app, Action::PrevSample);
    assert_eq!(app.core.selection.sample, app.core.data.len() - 1);
    let langs = app.core.x_langs();
    update(&mut app, Action::PrevLang);
    assert_eq!(app.core.selection.setting.lang, *langs.last().unwrap());
    update(&mut app, Action::NextLang);
    assert_eq!(app.core.selection.setting.lang, langs[0]);
}

#[test]
fn the_layer_cursor_stays_in_the_model() {
    let mut app = app(1);
    load_fixture_model(&mut app);
    let layers = fixture_trace().model.layers;
    update(&mut app, Action::LayerLast);
    assert_eq!(app.core.layer, layers);
    update(&mut app, Action::LayerUp);
    assert_eq!(app.core.layer, layers);
    update(&mut app, Action::LayerFirst);
    update(&mut app, Action::LayerDown);
    assert_eq!(app.core.layer, 0);
}

#[test]
fn bookmarks_keep_one_note_per_sample_and_cycle() {
    let mut app = app(1);
    add_bookmark(&mut app, "first");
    add_bookmark(&mut app, "again");
    assert_eq!(app.core.bookmarks.len(), 1);
    assert_eq!(app.core.bookmarks[0].note, "again");
    app.core.selection.sample = 3;
    add_bookmark(&mut app, "three");
    app.core.selection.sample = 5;
    update(&mut app, Action::NextBookmark);
    assert_eq!(app.core.selection.sample, 0, "wraps to the first");
    update(&mut app, Action::NextBookmark);
    assert_eq!(app.core.selection.sample, 3);
}

#[test]
fn jump_takes_an_index_or_an_id_and_reports_a_miss() {
    let mut app = app(1);
    let id = app.core.data.samples[4].id.clone();
    jump(&mut app, "2");
    assert_eq!(app.core.selection.sample, 2);
    jump(&mut app, &id);
    assert_eq!(app.core.selection.sample, 4);
    jump(&mut app, "no-such-id");
    assert_eq!(app.core.selection.sample, 4);
    assert!(app.core.notice.as_ref().unwrap().error);
}

#[test]
fn a_custom_sample_joins_the_data_in_every_language() {
    let mut app = app(1);
    let n = app.core.data.len();
    let mut form = CustomForm::new();
    form.fields[0].insert_str("Die Hauptstadt von Kenia ist Nairobi.");
    form.fields[1].insert_str("Was ist die Hauptstadt von Kenia?");
    form.fields[2].insert_str("Nairobi");
    let effects = add_custom_sample(&mut app, &form).unwrap();
    assert!(matches!(effects[0], Effect::SetData(_)));
    assert_eq!(app.core.data.len(), n + 1);
    assert_eq!(app.core.selection.sample, n);
    assert!(app.core.is_custom(n));
    let sample = &app.core.data.samples[n];
    assert_eq!(sample.entries.len(), app.core.data.langs.len());
    assert_eq!(sample.entries[&Lang::En].answers[0].start, 29);
    // A gold answer not in the context is refused with a reason.
    form.fields[2] = TextInput::single_line();
    form.fields[2].insert_str("Mombasa");
    assert!(add_custom_sample(&mut app, &form)
        .unwrap_err()
        .contains("context"));
}

#[test]
fn the_session_holds_traces_bookmarks_and_their_samples() {
    let mut app = app(1);
    let key = app.core.key(Slot::Primary);
    app.core
        .cache
        .insert(key.clone(), Arc::new(fixture_trace()));
    app.core.selection.sample = 2;
    add_bookmark(&mut app, "note");
    let session = session_of(&app);
    assert_eq!(session.traces.len(), 1);
    assert_eq!(session.traces[0].key, key);
    let indices: Vec<usize> = session.samples.iter().map(|s| s.index).collect();
    assert_eq!(indices, [0, 2]);
    // And it reopens as a replay of the same traces.
    let text = serde_json::to_string(&session).unwrap();
    let replay = Session::parse(&text).unwrap().into_replay();
    assert_eq!(replay.traces.len(), 1);
    assert_eq!(replay.bookmarks[0].note, "note");
}

#[test]
fn a_session_reopens_over_fresh_data_with_its_custom_samples() {
    let mut before = app(1);
    let mut form = CustomForm::new();
    form.fields[0].insert_str("Nairobi is the capital of Kenya.");
    form.fields[1].insert_str("What is the capital of Kenya?");
    add_custom_sample(&mut before, &form).unwrap();
    let custom = before.core.selection.sample;
    let key = before.core.key(Slot::Primary);
    before
        .core
        .cache
        .insert(key.clone(), Arc::new(fixture_trace()));
    add_bookmark(&mut before, "mine");
    before.core.session_name = "kenya".into();
    let session = session_of(&before);

    let mut after = app(1);
    let effects = restore_session(&mut after, &session);
    assert!(
        matches!(effects[..], [Effect::SetData(_)]),
        "the custom sample is added"
    );
    assert_eq!(after.core.data.len(), before.core.data.len());
    assert_eq!(after.core.selection.sample, custom);
    assert!(after.core.is_custom(custom));
    assert!(after.core.cache.contains(&key));
    assert_eq!(after.core.bookmarks[0].note, "mine");
    assert_eq!(after.core.session_name, "kenya");
    // Nothing to compute: the restored trace is the current selection's.
    assert!(submitted(&schedule(&mut after)).is_empty());
}

#[test]
fn a_click_on_a_language_tab_selects_it_and_the_wheel_scrolls() {
    use crate::tui::view::Regions;
    use ratatui::crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use ratatui::layout::Rect;
    let mut app = app(1);
    let regions = Regions {
        tabs: vec![(Rect::new(10, 1, 4, 1), Lang::Zh)],
        panes: vec![(Rect::new(0, 3, 40, 20), Pane::Oracle)],
    };
    let at = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    mouse(
        &mut app,
        &at(MouseEventKind::Down(MouseButton::Left), 12, 1),
        &regions,
    );
    assert_eq!(app.core.selection.setting.lang, Lang::Zh);
    mouse(
        &mut app,
        &at(MouseEventKind::Down(MouseButton::Left), 5, 10),
        &regions,
    );
    assert_eq!(app.focus, Pane::Oracle);
    mouse(&mut app, &at(MouseEventKind::ScrollDown, 5, 10), &regions);
    mouse(&mut app, &at(MouseEventKind::ScrollDown, 5, 10), &regions);
    assert_eq!(app.scroll_of(Pane::Oracle), 2);
    // Overlays take no clicks.
    update(&mut app, Action::Help);
    mouse(
        &mut app,
        &at(MouseEventKind::Down(MouseButton::Left), 12, 1),
        &regions,
    );
    assert_eq!(app.core.selection.setting.lang, Lang::Zh);
}

#[test]
fn overlays_take_the_keys_until_closed() {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let keymap = Keymap::default_map().unwrap();
    let press = |c: KeyCode| KeyEvent::new(c, KeyModifiers::NONE);
    let mut app = app(1);
    key(&mut app, &keymap, &press(KeyCode::Char('g')));
    assert!(matches!(app.overlay, Some(Overlay::Jump(_))));
    // '3' is typed into the prompt, not taken as "next sample".
    key(&mut app, &keymap, &press(KeyCode::Char('3')));
    assert_eq!(app.core.selection.sample, 0);
    key(&mut app, &keymap, &press(KeyCode::Enter));
    assert_eq!(app.core.selection.sample, 3);
    assert!(app.overlay.is_none());
    key(&mut app, &keymap, &press(KeyCode::Char('w')));
    let effects = key(&mut app, &keymap, &press(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::Save(request)] if request.path.ends_with("session.json"))
    );
    // `e` before the selection's trace is done: nothing to write, and the footer says so.
    let effects = key(&mut app, &keymap, &press(KeyCode::Char('e')));
    assert!(effects.is_empty());
    assert!(app
        .core
        .notice
        .as_ref()
        .is_some_and(|n| n.error && n.text.contains("nothing to export")));
    key(&mut app, &keymap, &press(KeyCode::Char('?')));
    key(&mut app, &keymap, &press(KeyCode::Esc));
    assert!(app.overlay.is_none());
    let effects = key(&mut app, &keymap, &press(KeyCode::Char('q')));
    assert!(matches!(effects[..], [Effect::Quit]));
    assert!(app.core.quit);
}

/// The worker reports `key` failed.
fn fail(app: &mut App, key: &TraceKey, error: &str) {
    worker_event(
        app,
        WorkerEvent::Failed {
            key: key.clone(),
            error: error.into(),
        },
    );
}

/// The primary slot's model (the fixture trace's) has loaded.
fn load_fixture_model(app: &mut App) {
    worker_event(
        app,
        WorkerEvent::ModelLoaded {
            slot: Slot::Primary,
            identity: fixture_trace().model,
            load_ms: 1.0,
        },
    );
}

/// A recorded trace of the demo model (see tests/fixtures/traces).
fn fixture_trace() -> crate::pipeline::SampleTrace {
    let text = include_str!("../../../tests/fixtures/traces/demo-de-0.json");
    serde_json::from_str(text).unwrap()
}

/// The app's own path keeps the cache least-recently-used: a trace looked at again outlives
/// one computed after it but not looked at since.
#[test]
fn looking_at_a_cached_trace_keeps_it_longest() {
    let mut app = app(1);
    app.core.cache = crate::explorer::worker::cache::TraceCache::new(2, usize::MAX);
    let key = |app: &App| app.core.key(Slot::Primary);
    let k0 = key(&app);
    app.core.cache.insert(k0.clone(), Arc::new(fixture_trace()));
    update(&mut app, Action::NextSample);
    let k1 = key(&app);
    app.core.cache.insert(k1.clone(), Arc::new(fixture_trace()));
    // Back to sample 0: it is on screen again, so it is the most recently used.
    update(&mut app, Action::PrevSample);
    schedule(&mut app);
    update(&mut app, Action::NextSample);
    update(&mut app, Action::NextSample);
    let k2 = key(&app);
    app.core.cache.insert(k2.clone(), Arc::new(fixture_trace()));
    assert!(app.core.cache.contains(&k0), "sample 0 was looked at last");
    assert!(
        !app.core.cache.contains(&k1),
        "sample 1 was the least recently used"
    );
    assert!(app.core.cache.contains(&k2));
}

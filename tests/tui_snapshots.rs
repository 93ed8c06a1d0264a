//! Whole-app snapshots of the explorer: the app driven by actions and worker events with
//! recorded traces (tests/fixtures/traces, from scripts/record_tui_fixtures.sh), drawn into
//! ratatui's TestBackend. The widget tests check colours; these check what is where.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::Arc;
use xmrc_lens::data::demo;
use xmrc_lens::explorer::reducer;
use xmrc_lens::explorer::session::Session;
use xmrc_lens::explorer::worker::{Slot, WorkerEvent};
use xmrc_lens::explorer::{Event, Launch, Mode, ModelChoice, Phase};
use xmrc_lens::pipeline::SampleTrace;
use xmrc_lens::tui::action::Action;
use xmrc_lens::tui::app::App;
use xmrc_lens::tui::keymap::Keymap;
use xmrc_lens::tui::update::update;
use xmrc_lens::tui::view;

const WIDTH: u16 = 140;
const HEIGHT: u16 = 40;

fn fixture(name: &str) -> SampleTrace {
    let path = common::repo_path(&format!("tests/fixtures/traces/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The explorer over the demo set as the binary starts it (see `common::started_app`),
/// models still loading.
fn app(models: &[&str]) -> App {
    common::started_app(models, Arc::new(demo::dataset().unwrap())).0
}

/// The model is loaded and the trace of the current selection arrives for `slot`.
fn finish(app: &mut App, slot: Slot, trace: SampleTrace) {
    worker_event(
        app,
        WorkerEvent::ModelLoaded {
            slot,
            identity: trace.model.clone(),
            load_ms: 1.0,
        },
    );
    let key = app.core.key(slot);
    worker_event(
        app,
        WorkerEvent::Done {
            key,
            trace: Arc::new(trace),
        },
    );
}

fn worker_event(app: &mut App, event: WorkerEvent) {
    reducer::worker_event(&mut app.core, event);
}

fn render(app: &App, width: u16, height: u16) -> String {
    let keymap = Keymap::default_map().unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| {
            view::draw(f, app, &keymap);
        })
        .unwrap();
    terminal.backend().to_string()
}

#[test]
fn loading() {
    let mut app = app(&["Qwen/Qwen2.5-0.5B-Instruct"]);
    app.core.startup = Some("loading the data set".into());
    insta::assert_snapshot!(render(&app, WIDTH, HEIGHT));
}

#[test]
fn model_download_progress() {
    let mut app = app(&["Qwen/Qwen2.5-0.5B-Instruct"]);
    worker_event(
        &mut app,
        WorkerEvent::Download {
            slot: Slot::Primary,
            progress: xmrc_lens::model::source::DownloadProgress {
                file: "model.safetensors".into(),
                done: 600_000_000,
                total: 988_000_000,
            },
        },
    );
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(
        screen.contains("model.safetensors ██████░░░░ 61% 600/988 MB"),
        "{screen}"
    );
    assert!(screen.contains("waiting for the model"));
    insta::assert_snapshot!(screen);
}

#[test]
fn main_view_with_a_finished_trace() {
    let mut app = app(&["demo"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("◆ MRD"), "legend");
    assert!(screen.contains("◆"), "MRD markers");
    insta::assert_snapshot!(screen);
}

#[test]
fn streaming_answer_before_the_trace() {
    let mut app = app(&["demo"]);
    let trace = fixture("demo-de-0");
    worker_event(
        &mut app,
        WorkerEvent::ModelLoaded {
            slot: Slot::Primary,
            identity: trace.model.clone(),
            load_ms: 1.0,
        },
    );
    let key = app.core.key(Slot::Primary);
    worker_event(&mut app, WorkerEvent::Started { key: key.clone() });
    for step in trace.generation.steps.iter().take(3) {
        worker_event(
            &mut app,
            WorkerEvent::Token {
                key: key.clone(),
                step: step.clone(),
            },
        );
    }
    let screen = render(&app, WIDTH, HEIGHT);
    let streamed: String = trace.generation.steps[..3]
        .iter()
        .map(|s| s.piece.as_str())
        .collect();
    assert!(screen.contains(streamed.trim()), "{streamed:?} streams in");
    insta::assert_snapshot!(screen);
}

#[test]
fn compare_mode() {
    let mut app = app(&["demo", "demo-b"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    finish(&mut app, Slot::Compare, fixture("demo-b-de-0"));
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("Diff B − A"));
    insta::assert_snapshot!(screen);
}

/// `d` in compare mode: B's heatmap becomes relevance B − A over the aligned tokens; both
/// demo models got the same chat prompt, so every token but the markup aligns.
#[test]
fn compare_mode_relevance_diff() {
    let mut app = app(&["demo", "demo-b"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    finish(&mut app, Slot::Compare, fixture("demo-b-de-0"));
    update(&mut app, Action::ToggleDiff);
    let screen = render(&app, WIDTH, HEIGHT);
    let diff = app.core.relevance_diff().unwrap().unwrap();
    assert!(diff
        .unaligned_a
        .iter()
        .all(|t| t.part == xmrc_lens::data::prompt::Part::Markup));
    assert!(
        screen.contains(&format!("Relevance B − A · {} aligned", diff.aligned.len())),
        "{screen}"
    );
    assert!(screen.contains("only A"), "the unaligned tokens are listed");
    insta::assert_snapshot!(screen);
}

#[test]
fn language_sweep() {
    let mut app = app(&["demo"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    for lang in ["zh", "ar", "hi"] {
        let trace = fixture(&format!("demo-{lang}-0"));
        let key = app.core.key_for(Slot::Primary, lang.parse().unwrap());
        worker_event(
            &mut app,
            WorkerEvent::Done {
                key,
                trace: Arc::new(trace),
            },
        );
    }
    update(&mut app, Action::Sweep);
    insta::assert_snapshot!(render(&app, WIDTH, HEIGHT));
}

#[test]
fn all_languages_similarity_overlay() {
    let mut app = app(&["demo"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    for lang in ["zh", "ar", "hi"] {
        let key = app.core.key_for(Slot::Primary, lang.parse().unwrap());
        let trace = Arc::new(fixture(&format!("demo-{lang}-0")));
        worker_event(&mut app, WorkerEvent::Done { key, trace });
    }
    update(&mut app, Action::ToggleOverlay);
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("all languages"));
    assert!(screen.contains("still tracing"));
}

#[test]
fn help_overlay() {
    let mut app = app(&["demo"]);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    update(&mut app, Action::Help);
    insta::assert_snapshot!(render(&app, WIDTH, HEIGHT));
}

#[test]
fn error_view() {
    let (mut app, mut startup) =
        common::started_app(&["org/missing-model"], Arc::new(demo::dataset().unwrap()));
    // A given model that fails is an error, never replaced by the demo.
    let effects = startup.handle(
        &mut app.core,
        Event::Worker(WorkerEvent::ModelFailed {
            slot: Slot::Primary,
            error: "config.json: unsupported architecture Phi3ForCausalLM; supported: LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM, Gemma2ForCausalLM".into(),
        }),
    );
    assert!(effects.is_empty());
    assert_eq!(startup.phase(), Phase::Fatal);
    insta::assert_snapshot!(render(&app, WIDTH, HEIGHT));
}

#[test]
fn too_small_terminal() {
    let app = app(&["demo"]);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Please enlarge the terminal"));
    insta::assert_snapshot!(screen);
    // Any size, however silly, draws without a panic.
    for (w, h) in [(1, 1), (2, 1), (119, 36), (120, 35), (300, 100)] {
        render(&app, w, h);
    }
}

#[test]
fn demo_banner() {
    // The default model cannot be had: the start-up machine falls back to the demo model.
    let launch = Launch {
        model: ModelChoice::Default(xmrc_lens::model::spec::ModelSpec::new(
            "Qwen/Qwen2.5-0.5B-Instruct".parse().unwrap(),
        )),
        compare: None,
        data: Default::default(),
        demo_data: false,
        data_given: false,
        session: None,
        cache_entries: 512,
        cache_bytes: 512 << 20,
    };
    let (mut app, mut startup) = common::started_with(launch, Arc::new(demo::dataset().unwrap()));
    let effects = startup.handle(
        &mut app.core,
        Event::Worker(WorkerEvent::ModelFailed {
            slot: Slot::Primary,
            error: "no network".into(),
        }),
    );
    assert!(matches!(
        effects[..],
        [xmrc_lens::explorer::Effect::BuildDemoModel]
    ));
    assert_eq!(app.core.mode, Mode::Demo);
    finish(&mut app, Slot::Primary, fixture("demo-de-0"));
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("DEMO"));
    assert!(screen.contains("meaningless"));
    insta::assert_snapshot!(screen);
}

#[test]
fn replay_mode() {
    let mut live = app(&["demo"]);
    finish(&mut live, Slot::Primary, fixture("demo-de-0"));
    live.core.session_name = "lighthouse".into();
    let session = xmrc_lens::explorer::restore::session_of(&live.core);
    let text = serde_json::to_string(&session).unwrap();
    let launch_cache = 64;
    // The state the start-up machine replays a session with.
    let core = xmrc_lens::explorer::demo::replay(Session::parse(&text).unwrap(), launch_cache);
    let mut app = App::new(core);
    app.frozen_clock = true;
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("REPLAY"));
    insta::assert_snapshot!(screen);
}

#[test]
fn a_custom_sample_form() {
    let mut app = app(&["demo"]);
    update(&mut app, Action::CustomSample);
    let screen = render(&app, WIDTH, HEIGHT);
    assert!(screen.contains("Custom sample"));
    assert!(screen.contains("Gold answer (optional)"));
}

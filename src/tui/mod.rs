//! The explorer: a ratatui front end over the engine. The loop reads one stream of events
//! (keys, mouse, ticks, worker results, startup steps), updates the app state through
//! `update`, and draws once when something changed; models run on the worker thread and
//! data load on a startup thread, never here.

pub mod action;
pub mod app;
pub mod bench;
pub mod capture;
pub mod demo;
pub mod input;
pub mod keymap;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;
pub mod widgets;

use crate::cli::DataArgs;
use crate::data::Dataset;
use crate::explorer::session::Session;
use crate::explorer::worker::{Slot, Worker, WorkerEvent};
use crate::model::spec::ModelSpec;
use anyhow::{Context, Result};
use app::{App, Mode, ModelSlot, ModelState};
use keymap::Keymap;
use ratatui::crossterm::event::{self as term_event, Event as TermEvent};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};
use update::Effect;

/// Spinner frame period; frames are only drawn when something changed.
const TICK: Duration = Duration::from_millis(120);

/// Which model the explorer opens.
#[derive(Clone, Debug)]
pub enum ModelChoice {
    /// `--model`: a failure is shown as an error, never replaced.
    Given(ModelSpec),
    /// No `--model`: the default, or the demo model when it cannot be had.
    Default(ModelSpec),
    /// `--demo`.
    Demo,
}

/// Everything `explore` was asked for.
#[derive(Clone, Debug)]
pub struct Launch {
    pub model: ModelChoice,
    pub compare: Option<ModelSpec>,
    pub data: DataArgs,
    /// `--demo`: the bundled demo set whatever else is there.
    pub demo_data: bool,
    /// `--data` or XMRC_LENS_DATA: a failure is an error, not a reason for the demo set.
    pub data_given: bool,
    pub session: Option<PathBuf>,
    pub cache_entries: usize,
    pub cache_bytes: usize,
}

impl Launch {
    /// A session reopens with its own data source unless `--data`/`--demo` say otherwise;
    /// returns what was taken, for the footer. A folder that is gone makes the data load
    /// fail, and the session then opens in replay mode.
    fn take_data_from(&mut self, session: &Session) -> Option<String> {
        if self.data_given || self.demo_data {
            return None;
        }
        let source = session.data_source.as_str();
        if let Some(dir) = source.strip_prefix("local folder ") {
            self.data.data = Some(PathBuf::from(dir));
            self.data_given = true;
        } else if let Some(repo) = source.strip_prefix("hub ") {
            self.data.hub_dataset = repo.to_string();
        } else if source == "demo set" {
            self.demo_data = true;
        } else {
            return None;
        }
        Some(format!("data: the session's {source}"))
    }

    /// A session reopens with its own models unless others are given on the command line.
    /// A saved model that can no longer be named (its folder is gone) is not an error: the
    /// reason is returned and the session opens in replay mode.
    fn take_models_from(&mut self, session: &Session) -> Result<Option<String>> {
        match self.take_saved_models(session) {
            Ok(()) => Ok(None),
            Err(e) => Ok(Some(format!("{e:#}"))),
        }
    }

    fn take_saved_models(&mut self, session: &Session) -> Result<()> {
        let template = match &self.model {
            ModelChoice::Given(spec) | ModelChoice::Default(spec) => spec.clone(),
            ModelChoice::Demo => return Ok(()),
        };
        let spec_of = |source: &str| -> Result<ModelSpec> {
            Ok(ModelSpec {
                model: source
                    .parse()
                    .with_context(|| format!("the session's model {source}"))?,
                ..template.clone()
            })
        };
        let saved = |slot: Slot| session.models.iter().find(|m| m.slot == slot);
        if let (ModelChoice::Default(_), Some(m)) = (&self.model, saved(Slot::Primary)) {
            self.model = if m.source == demo::MODEL_LABEL {
                ModelChoice::Demo
            } else {
                ModelChoice::Given(spec_of(&m.source)?)
            };
        }
        if self.compare.is_none() {
            if let Some(m) = saved(Slot::Compare) {
                self.compare = Some(spec_of(&m.source)?);
            }
        }
        Ok(())
    }
}

/// One stream of everything the loop reacts to.
pub enum Event {
    Term(TermEvent),
    Tick,
    Worker(WorkerEvent),
    /// The data set, and whether it is the demo set (with the reason).
    Data(Result<(Arc<Dataset>, Option<String>), String>),
    /// The demo model's folder, built on the fly.
    DemoModel(Result<PathBuf, String>),
    /// What saving the session did (the message for the footer), or why it failed.
    Saved(Result<String, String>),
    /// SIGTERM, SIGINT, SIGHUP or SIGQUIT arrived (its name): leave the terminal as found.
    Signal(&'static str),
    /// Bytes of a model file downloaded so far.
    Download(crate::model::source::DownloadProgress),
}

/// Where the explorer's log went when its usual place (the cache folder) was not writable,
/// set once by `main` before the explorer starts; shown in the footer at start.
pub static LOG_NOTE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Opens the explorer and runs it until the user quits.
pub fn run(mut launch: Launch) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the explorer needs a terminal (stdin and stdout a TTY); without one, use \
             `xmrc-lens trace` for one sample or `xmrc-lens eval` for many"
        );
    }
    let session = match &launch.session {
        Some(path) => Some(Session::load(path)?),
        None => None,
    };
    let mut replay_reason = None;
    let mut data_note = None;
    if let Some(session) = &session {
        replay_reason = launch.take_models_from(session)?;
        data_note = launch.take_data_from(session);
    }
    let (keymap, warning) = Keymap::load();
    let (tx, rx) = mpsc::channel::<Event>();
    let mut runtime = Runtime::start(&launch, session, tx.clone(), replay_reason)?;
    runtime.data_note = data_note;
    // `w` may replace the session file this run opened.
    runtime.app.session_file = launch.session.clone().map(|p| (p.clone(), p));
    if let Some(w) = warning {
        runtime.app.notify(w, true);
    }
    if let Some(note) = LOG_NOTE.get() {
        runtime.app.notify(note.clone(), true);
    }
    let sink_tx = tx.clone();
    crate::model::source::set_download_sink(Some(Arc::new(move |p| {
        let _ = sink_tx.send(Event::Download(p));
    })));
    let signals = spawn_signals(tx.clone()).context("listening for termination signals")?;
    let mut term = terminal::enter().context("opening the terminal")?;
    spawn_input(tx.clone());
    spawn_ticker(tx);
    let result = runtime.event_loop(&mut term, &keymap, &rx);
    terminal::leave();
    signals.close();
    runtime.stop();
    crate::model::source::set_download_sink(None);
    result?;
    // The terminal is back: now say why the explorer ended, and end non-zero.
    if let Some(signal) = runtime.app.stopped_by {
        anyhow::bail!("stopped by {signal}; the terminal was restored");
    }
    if let Some(message) = &runtime.app.fatal {
        anyhow::bail!("xmrc-lens cannot continue:\n{message}");
    }
    Ok(())
}

/// SIGTERM, SIGINT, SIGHUP and SIGQUIT become events, so the loop ends and the terminal is
/// restored instead of the process dying in the alternate screen with the cursor hidden.
fn spawn_signals(tx: Sender<Event>) -> Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("xmrc-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let name = match signal {
                    SIGTERM => "SIGTERM",
                    SIGINT => "SIGINT",
                    SIGHUP => "SIGHUP",
                    _ => "SIGQUIT",
                };
                if tx.send(Event::Signal(name)).is_err() {
                    break;
                }
            }
        })?;
    Ok(handle)
}

/// The app, the worker and what the startup still has to do.
pub struct Runtime {
    pub app: App,
    worker: Option<Worker>,
    /// The session being reopened: restored once the data are there, replayed if its
    /// models or data cannot be had.
    session: Option<Session>,
    launch: Launch,
    tx: Sender<Event>,
    regions: view::Regions,
    /// Where a reopened session's data came from, said once the session is restored.
    data_note: Option<String>,
}

impl Runtime {
    fn start(
        launch: &Launch,
        session: Option<Session>,
        tx: Sender<Event>,
        replay_reason: Option<String>,
    ) -> Result<Runtime> {
        let empty = Arc::new(Dataset {
            source: String::new(),
            langs: Vec::new(),
            samples: Vec::new(),
        });
        let mut models = vec![ModelSlot {
            source: match &launch.model {
                ModelChoice::Given(s) | ModelChoice::Default(s) => s.model.to_string(),
                ModelChoice::Demo => demo::MODEL_LABEL.to_string(),
            },
            state: ModelState::Loading {
                since: Instant::now(),
                detail: "waiting for the data set".into(),
            },
        }];
        if let Some(c) = &launch.compare {
            models.push(ModelSlot {
                source: c.model.to_string(),
                state: ModelState::Loading {
                    since: Instant::now(),
                    detail: "waiting for the data set".into(),
                },
            });
        }
        let mut app = App::new(Mode::Live, empty, models);
        app.cache =
            crate::explorer::worker::TraceCache::new(launch.cache_entries, launch.cache_bytes);
        let mut runtime = Runtime {
            app,
            worker: None,
            session: None,
            launch: launch.clone(),
            tx: tx.clone(),
            regions: view::Regions::default(),
            data_note: None,
        };
        if let Some(session) = session {
            if session.models.is_empty() {
                runtime.app = demo::replay_app(session, launch.cache_entries);
                return Ok(runtime);
            }
            if let Some(why) = replay_reason {
                runtime.app = demo::replay_app(session, launch.cache_entries);
                runtime
                    .app
                    .notify(format!("replay mode: {}", first_line(&why)), true);
                return Ok(runtime);
            }
            runtime.session = Some(session);
        }
        runtime.app.startup = Some("loading the data set".into());
        let data_launch = launch.clone();
        std::thread::spawn(move || {
            let result = load_data(&data_launch).map_err(|e| format!("{e:#}"));
            let _ = tx.send(Event::Data(result));
        });
        Ok(runtime)
    }

    fn event_loop(
        &mut self,
        term: &mut terminal::Term,
        keymap: &Keymap,
        rx: &Receiver<Event>,
    ) -> Result<()> {
        let mut dirty = true;
        loop {
            if dirty {
                let app = &self.app;
                let mut regions = view::Regions::default();
                term.draw(|frame| regions = view::draw(frame, app, keymap))?;
                self.regions = regions;
                dirty = false;
            }
            let first = match rx.recv_timeout(TICK * 4) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            // Drain everything pending, then draw once.
            let mut events = vec![first];
            events.extend(rx.try_iter());
            for event in events {
                dirty |= self.handle(event, keymap);
            }
            let effects = update::schedule(&mut self.app);
            self.apply(effects);
            if self.app.quit {
                return Ok(());
            }
        }
    }

    /// Applies one event; true when the screen may have changed.
    pub fn handle(&mut self, event: Event, keymap: &Keymap) -> bool {
        let effects = match event {
            Event::Term(TermEvent::Key(key)) => update::key(&mut self.app, keymap, &key),
            Event::Term(TermEvent::Mouse(mouse)) => {
                update::mouse(&mut self.app, &mouse, &self.regions)
            }
            Event::Term(TermEvent::Paste(text)) => {
                update::paste(&mut self.app, &text);
                Vec::new()
            }
            Event::Term(TermEvent::Resize(..)) => Vec::new(),
            Event::Signal(name) => {
                self.app.stopped_by = Some(name);
                self.app.quit = true;
                return true;
            }
            Event::Term(_) => return false,
            Event::Tick => {
                self.app.tick = self.app.tick.wrapping_add(1);
                if let Some(n) = &self.app.notice {
                    if n.at.elapsed() > Duration::from_secs(6) {
                        self.app.notice = None;
                        return true;
                    }
                }
                return self.app.busy();
            }
            Event::Worker(event) => {
                self.worker_event(event);
                Vec::new()
            }
            Event::Data(result) => {
                self.data_ready(result);
                Vec::new()
            }
            Event::DemoModel(result) => {
                match result {
                    Ok(dir) => self.load_model(Slot::Primary, demo::model_spec(&dir, &self.launch)),
                    Err(e) => self.app.fatal = Some(view::error::demo_model_failed(&e)),
                }
                Vec::new()
            }
            Event::Download(progress) => {
                self.app.download = Some(progress);
                Vec::new()
            }
            Event::Saved(result) => {
                match result {
                    Ok(message) => self.app.notify(message, false),
                    Err(e) => self.app.notify(e, true),
                }
                Vec::new()
            }
        };
        self.apply(effects);
        true
    }

    /// The reopened session cannot run live: show what it saved instead.
    fn replay_session(&mut self, why: &str) -> bool {
        let Some(session) = self.session.take() else {
            return false;
        };
        if let Some(worker) = self.worker.take() {
            std::thread::spawn(move || worker.shutdown());
        }
        self.app = demo::replay_app(session, self.launch.cache_entries);
        self.app.notify(format!("replay mode: {why}"), true);
        true
    }

    fn worker_event(&mut self, event: WorkerEvent) {
        if let WorkerEvent::ModelFailed { slot, error } = &event {
            if self.replay_session(&format!(
                "the {slot} model could not be loaded ({})",
                first_line(error)
            )) {
                return;
            }
        }
        if let WorkerEvent::ModelFailed {
            slot: Slot::Primary,
            error,
        } = &event
        {
            // (The demo data set may already be in use; the demo model is not yet.)
            let demo_model = self.app.models[0].source == demo::MODEL_LABEL;
            if matches!(self.launch.model, ModelChoice::Default(_)) && !demo_model {
                // The default model cannot be had (offline, nothing cached): demo instead.
                self.app.mode = Mode::Demo;
                self.app.demo_reason.push(format!(
                    "the default model could not be loaded ({})",
                    first_line(error)
                ));
                self.app.models[0] = ModelSlot {
                    source: demo::MODEL_LABEL.into(),
                    state: ModelState::Loading {
                        since: Instant::now(),
                        detail: "building the random-weight demo model".into(),
                    },
                };
                self.build_demo_model();
                return;
            }
            self.app.fatal = Some(view::error::model_failed(&self.app.models[0].source, error));
        }
        update::worker_event(&mut self.app, event);
    }

    fn data_ready(&mut self, result: Result<(Arc<Dataset>, Option<String>), String>) {
        self.app.startup = None;
        let (data, demo_reason) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if !self.replay_session(&format!(
                    "the data set could not be loaded ({})",
                    first_line(&e)
                )) {
                    self.app.fatal = Some(view::error::data_failed(&e));
                }
                return;
            }
        };
        self.app.set_data(data.clone());
        let restore = match &self.session {
            Some(session) => update::restore_session(&mut self.app, session),
            None => Vec::new(),
        };
        if let Some(note) = self.data_note.take() {
            let (text, error) = match &self.app.notice {
                Some(n) => (format!("{} · {note}", n.text), n.error),
                None => (note, false),
            };
            self.app.notify(text, error);
        }
        // A restored custom sample grew the data: the worker gets the grown set.
        let data = Arc::clone(&self.app.data);
        if let Some(reason) = demo_reason {
            self.app.mode = Mode::Demo;
            self.app.demo_reason.push(reason);
        }
        let (events_tx, events_rx) = mpsc::channel::<WorkerEvent>();
        let forward = self.tx.clone();
        std::thread::spawn(move || {
            for event in events_rx {
                if forward.send(Event::Worker(event)).is_err() {
                    break;
                }
            }
        });
        self.worker = Some(Worker::spawn(data, events_tx));
        match self.launch.model.clone() {
            ModelChoice::Given(spec) | ModelChoice::Default(spec) => {
                self.load_model(Slot::Primary, spec)
            }
            ModelChoice::Demo => {
                self.app.mode = Mode::Demo;
                self.app.demo_reason.push(
                    if self.session.is_some() {
                        "a demo session reopened"
                    } else {
                        "started with --demo"
                    }
                    .into(),
                );
                self.build_demo_model();
            }
        }
        if let Some(spec) = self.launch.compare.clone() {
            self.load_model(Slot::Compare, spec);
        }
        self.apply(
            restore
                .into_iter()
                .filter(|e| !matches!(e, Effect::SetData(_)))
                .collect(),
        );
    }

    fn load_model(&mut self, slot: Slot, spec: ModelSpec) {
        if let Some(m) = self.app.models.get_mut(slot.index()) {
            m.state = ModelState::Loading {
                since: Instant::now(),
                detail: "loading".into(),
            };
        }
        if let Some(worker) = &self.worker {
            worker.load(slot, spec);
        }
    }

    fn build_demo_model(&self) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let result = demo::build_model().map_err(|e| format!("{e:#}"));
            let _ = tx.send(Event::DemoModel(result));
        });
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Submit(job) => {
                    if let Some(w) = &self.worker {
                        w.submit(job);
                    }
                }
                Effect::Cancel(slot) => {
                    if let Some(w) = &self.worker {
                        w.cancel(slot);
                    }
                }
                Effect::SetData(data) => {
                    if let Some(w) = &self.worker {
                        w.set_data(data);
                    }
                }
                Effect::Save(session, wanted) => {
                    let tx = self.tx.clone();
                    let (path, renamed) = self.session_save_path(&wanted);
                    // Only finished traces are saved: say so when one is still running.
                    let running = self.app.live.iter().flatten().count();
                    let note = match running {
                        0 => String::new(),
                        n => format!(
                            " ({n} running trace{} not included: save again when done)",
                            if n == 1 { "" } else { "s" }
                        ),
                    };
                    std::thread::spawn(move || {
                        let traces = session.traces.len();
                        let result = session
                            .save(&path)
                            .map(|()| {
                                format!(
                                    "session saved to {}{renamed} with {traces} trace{}{note}",
                                    path.display(),
                                    if traces == 1 { "" } else { "s" }
                                )
                            })
                            // The cause first: a long path must not push it out of the footer.
                            .map_err(|e| {
                                format!(
                                    "session not saved: {} ({})",
                                    e.root_cause(),
                                    path.display()
                                )
                            });
                        let _ = tx.send(Event::Saved(result));
                    });
                }
                Effect::Quit => self.app.quit = true,
            }
        }
    }

    /// Where `w` writes when asked for `wanted`: the session file this run opened or wrote
    /// under that name, else `wanted` if free, else a free `<name>-N.json`; never another
    /// session's file. Also returns the footer's note when the name was changed.
    fn session_save_path(&mut self, wanted: &std::path::Path) -> (PathBuf, String) {
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a == b || crate::atomic_file::same_file(a, b)
        };
        let path = match &self.app.session_file {
            // The name this run used before: its own file again.
            Some((asked, written)) if same(asked, wanted) => written.clone(),
            Some((_, written)) if same(written, wanted) => wanted.to_path_buf(),
            _ => Session::unused_path(wanted),
        };
        self.app.session_file = Some((wanted.to_path_buf(), path.clone()));
        let renamed = if path == wanted {
            String::new()
        } else {
            format!(" ({} exists and was kept)", wanted.display())
        };
        (path, renamed)
    }

    /// Stops the worker, waiting a little for its current stage; a long stage (or a model
    /// still loading) is not waited for: the process is about to exit anyway.
    fn stop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let (done_tx, done_rx) = mpsc::channel();
            std::thread::spawn(move || {
                worker.shutdown();
                let _ = done_tx.send(());
            });
            let _ = done_rx.recv_timeout(Duration::from_secs(2));
        }
    }
}

/// The data set per the launch options, or the demo set when the hub cannot be reached and
/// nothing was asked for explicitly.
fn load_data(launch: &Launch) -> Result<(Arc<Dataset>, Option<String>)> {
    if launch.demo_data {
        return Ok((Arc::new(demo::dataset()?), None));
    }
    match launch.data.load() {
        Ok(data) if !data.is_empty() => Ok((Arc::new(data), None)),
        Ok(_) => anyhow::bail!("the data set has no samples"),
        Err(e) if !launch.data_given => {
            let reason = format!(
                "XQuAD could not be loaded ({})",
                first_line(&format!("{e:#}"))
            );
            Ok((Arc::new(demo::dataset()?), Some(reason)))
        }
        Err(e) => Err(e),
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(100).collect();
    if line.chars().count() > 100 {
        short.push('…');
    }
    short
}

/// Terminal events on their own thread: `read` blocks, the loop must not.
fn spawn_input(tx: Sender<Event>) {
    std::thread::spawn(move || {
        while let Ok(event) = term_event::read() {
            if tx.send(Event::Term(event)).is_err() {
                break;
            }
        }
    });
}

fn spawn_ticker(tx: Sender<Event>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(TICK);
        if tx.send(Event::Tick).is_err() {
            break;
        }
    });
}

//! The explorer's terminal front end: a ratatui loop over the explorer's core
//! (`crate::explorer`). It reads one stream of events (keys, mouse, ticks, signals and the
//! explorer's own events), maps input to view changes and explorer commands (`update`),
//! hands everything else to the start-up state machine, and draws once when something
//! changed; models run on the worker thread and data load on a named start-up thread,
//! never here.

pub mod action;
pub mod app;
pub mod bench;
pub mod capture;
pub mod input;
pub mod keymap;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;
pub mod widgets;

use crate::explorer::driver::{spawn_named, Driver, Emit};
use crate::explorer::session::Session;
use crate::explorer::{self, Launch, StartUp};
use anyhow::{Context, Result};
use app::App;
use keymap::Keymap;
use ratatui::crossterm::event::{self as term_event, Event as TermEvent};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Spinner frame period; frames are only drawn when something changed.
const TICK: Duration = Duration::from_millis(120);

/// One stream of everything the loop reacts to.
pub enum Event {
    Term(TermEvent),
    Tick,
    /// From the explorer's helpers: the worker, the start-up threads, the session writer
    /// (boxed: a worker event is far larger than a key press).
    Explorer(Box<explorer::Event>),
    /// SIGTERM, SIGINT, SIGHUP or SIGQUIT arrived (its name): leave the terminal as found.
    Signal(&'static str),
}

/// Where the explorer's log went when its usual place (the cache folder) was not writable,
/// set once by `main` before the explorer starts; shown in the footer at start.
pub static LOG_NOTE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Opens the explorer and runs it until the user quits.
pub fn run(launch: Launch) -> Result<()> {
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
    let (keymap, warning) = Keymap::load();
    let (tx, rx) = mpsc::channel::<Event>();
    let mut runtime = Runtime::start(launch, session, &tx);
    if let Some(w) = warning {
        runtime.app.core.notify(w, true);
    }
    if let Some(note) = LOG_NOTE.get() {
        runtime.app.core.notify(note.clone(), true);
    }
    let signals = spawn_signals(tx.clone()).context("listening for termination signals")?;
    let mut term = terminal::enter().context("opening the terminal")?;
    spawn_input(tx.clone());
    spawn_ticker(tx);
    let result = runtime.event_loop(&mut term, &keymap, &rx);
    terminal::leave();
    signals.close();
    runtime.driver.stop();
    result?;
    // The terminal is back: now say why the explorer ended, and end non-zero.
    if let Some(signal) = runtime.app.core.stopped_by {
        anyhow::bail!("stopped by {signal}; the terminal was restored");
    }
    if let Some(message) = &runtime.app.core.fatal {
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

/// The app, the start-up state machine and the driver that carries out their effects.
pub struct Runtime {
    pub app: App,
    pub startup: StartUp,
    driver: Driver,
    regions: view::Regions,
}

impl Runtime {
    /// Begins start-up; the explorer's events go to `tx`.
    pub fn start(launch: Launch, session: Option<Session>, tx: &Sender<Event>) -> Runtime {
        let tx = tx.clone();
        let emit: Emit = Arc::new(move |event| tx.send(Event::Explorer(Box::new(event))).is_ok());
        let (startup, core, effects) = StartUp::begin(launch, session);
        let mut runtime = Runtime {
            app: App::new(core),
            startup,
            driver: Driver::new(emit),
            regions: view::Regions::default(),
        };
        runtime.driver.run(effects);
        runtime
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
            self.driver.run(effects);
            if self.app.core.quit {
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
                self.app.core.stopped_by = Some(name);
                self.app.core.quit = true;
                return true;
            }
            Event::Term(_) => return false,
            Event::Tick => {
                self.app.tick = self.app.tick.wrapping_add(1);
                if let Some(n) = &self.app.core.notice {
                    if n.at.elapsed() > Duration::from_secs(6) {
                        self.app.core.notice = None;
                        return true;
                    }
                }
                return self.app.core.busy();
            }
            Event::Explorer(event) => self.startup.handle(&mut self.app.core, *event),
        };
        self.driver.run(effects);
        true
    }
}

/// Terminal events on their own thread: `read` blocks, the loop must not.
fn spawn_input(tx: Sender<Event>) {
    spawn_named("xmrc-input", move || {
        while let Ok(event) = term_event::read() {
            if tx.send(Event::Term(event)).is_err() {
                break;
            }
        }
    });
}

fn spawn_ticker(tx: Sender<Event>) {
    spawn_named("xmrc-ticker", move || loop {
        std::thread::sleep(TICK);
        if tx.send(Event::Tick).is_err() {
            break;
        }
    });
}

//! The driver carries out the explorer's effects: it owns the worker and the helper threads
//! (each named, so a stack dump says who is who), and every result comes back through one
//! `emit` callback as an [`Event`].

use super::effect::{Effect, ExportRequest, SaveRequest};
use super::event::Event;
use super::launch::Launch;
use super::startup::load_data;
use super::worker::{Worker, WorkerEvent};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// Where the driver's events go; false once nobody listens any more.
pub type Emit = Arc<dyn Fn(Event) -> bool + Send + Sync>;

/// How long `stop` waits for the worker's current stage before leaving it to the exit.
const STOP_WAIT: Duration = Duration::from_secs(2);

pub struct Driver {
    worker: Option<Worker>,
    emit: Emit,
}

impl Driver {
    pub fn new(emit: Emit) -> Driver {
        Driver { worker: None, emit }
    }

    /// Carries out `effects` in order.
    pub fn run(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.run_one(effect);
        }
    }

    fn run_one(&mut self, effect: Effect) {
        match effect {
            Effect::LoadData(launch) => self.load_data(*launch),
            Effect::StartWorker(data) => self.start_worker(data),
            Effect::StopWorker => {
                if let Some(worker) = self.worker.take() {
                    spawn_named("xmrc-worker-stop", move || worker.shutdown());
                }
            }
            Effect::LoadModel(slot, spec) => {
                if let Some(w) = &self.worker {
                    w.load(slot, *spec);
                }
            }
            Effect::BuildDemoModel => {
                let emit = Arc::clone(&self.emit);
                spawn_named("xmrc-demo-model", move || {
                    let result = super::demo::build_model().map_err(|e| format!("{e:#}"));
                    emit(Event::DemoModel(result));
                });
            }
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
            Effect::Save(request) => self.save(request),
            Effect::Export(request) => self.export(request),
            Effect::Quit => {}
        }
    }

    fn load_data(&self, launch: Launch) {
        let emit = Arc::clone(&self.emit);
        spawn_named("xmrc-data", move || {
            let result = load_data(&launch).map_err(|e| format!("{e:#}"));
            emit(Event::Data(result));
        });
    }

    /// The worker, with a thread that forwards its events as the explorer's.
    fn start_worker(&mut self, data: Arc<crate::data::Dataset>) {
        let (events_tx, events_rx) = mpsc::channel::<WorkerEvent>();
        let emit = Arc::clone(&self.emit);
        spawn_named("xmrc-worker-events", move || {
            for event in events_rx {
                if !emit(Event::Worker(event)) {
                    break;
                }
            }
        });
        if let Some(old) = self.worker.replace(Worker::spawn(data, events_tx)) {
            spawn_named("xmrc-worker-stop", move || old.shutdown());
        }
    }

    fn save(&self, request: SaveRequest) {
        let emit = Arc::clone(&self.emit);
        spawn_named("xmrc-save", move || {
            let SaveRequest {
                session,
                path,
                done,
            } = request;
            let result = session
                .save(&path)
                .map(|()| done)
                // The cause first: a long path must not push it out of the footer.
                .map_err(|e| format!("session not saved: {} ({})", e.root_cause(), path.display()));
            emit(Event::Saved(result));
        });
    }

    fn export(&self, request: ExportRequest) {
        let emit = Arc::clone(&self.emit);
        spawn_named("xmrc-export", move || {
            let ExportRequest {
                trace,
                path,
                layer,
                done,
            } = request;
            let options = crate::export::ExportOptions {
                layer: Some(layer),
                ..crate::export::ExportOptions::default()
            };
            let result = crate::export::html(&trace, &options)
                .and_then(|page| {
                    crate::atomic_file::write_atomically(&path, |w| {
                        Ok(w.write_all(page.as_bytes())?)
                    })
                })
                .map(|()| done)
                .map_err(|e| {
                    format!(
                        "trace not exported: {} ({})",
                        e.root_cause(),
                        path.display()
                    )
                });
            emit(Event::Saved(result));
        });
    }

    /// Stops the worker, waiting a little for its current stage; a long stage (or a model
    /// still loading) is not waited for: the process is about to exit anyway.
    pub fn stop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let (done_tx, done_rx) = mpsc::channel();
            spawn_named("xmrc-worker-stop", move || {
                worker.shutdown();
                let _ = done_tx.send(());
            });
            let _ = done_rx.recv_timeout(STOP_WAIT);
        }
    }
}

/// A helper thread with a name; one that cannot start is logged (its result never comes,
/// which the explorer shows as a step that does not finish rather than a crash).
pub fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::error!("the {name} thread could not start: {e}");
    }
}

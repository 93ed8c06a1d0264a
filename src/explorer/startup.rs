//! Start-up as one state machine: the data set first, then the models, with the fallbacks a
//! user expects: the default model -> the demo model when it cannot be had, the hub data ->
//! the demo set, a reopened session -> replay mode when its models or data are gone. It stays
//! after start-up, since a model can fail later (a compare model, a reload).

use super::demo;
use super::effect::Effect;
use super::event::Event;
use super::launch::{Launch, ModelChoice};
use super::messages::{data_failed, demo_model_failed, first_line, model_failed};
use super::reducer;
use super::session::Session;
use super::state::{Explorer, Mode, ModelSlot, ModelState};
use super::worker::{Slot, TraceCache, WorkerEvent};
use crate::data::Dataset;
use crate::model::spec::ModelSpec;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Where start-up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The data set is loading; the models wait for it.
    LoadingData,
    /// The data are there and the worker runs (models loading or loaded).
    Running,
    /// A saved session without its models or data: saved traces only, no worker.
    Replay,
    /// Nothing can be shown: the explorer's `fatal` says why.
    Fatal,
}

/// The start-up state machine. `begin` makes the first state; `handle` takes every event
/// that is not a key press.
pub struct StartUp {
    launch: Launch,
    phase: Phase,
    /// The session being reopened: restored once the data are there, replayed if its
    /// models or data cannot be had.
    session: Option<Session>,
    /// Where a reopened session's data came from, said once the session is restored.
    data_note: Option<String>,
}

impl StartUp {
    /// The explorer's first state and what to start; `session` is the one `--session` named.
    pub fn begin(mut launch: Launch, session: Option<Session>) -> (StartUp, Explorer, Vec<Effect>) {
        let mut replay_reason = None;
        let mut data_note = None;
        if let Some(session) = &session {
            replay_reason = launch.take_models_from(session);
            data_note = launch.take_data_from(session);
        }
        let empty = Arc::new(Dataset {
            source: String::new(),
            langs: Vec::new(),
            samples: Vec::new(),
        });
        let waiting = || ModelState::Loading {
            since: Instant::now(),
            detail: "waiting for the data set".into(),
        };
        let mut models = vec![ModelSlot {
            source: match &launch.model {
                ModelChoice::Given(s) | ModelChoice::Default(s) => s.model.to_string(),
                ModelChoice::Demo => demo::MODEL_LABEL.to_string(),
            },
            state: waiting(),
        }];
        if let Some(c) = &launch.compare {
            models.push(ModelSlot {
                source: c.model.to_string(),
                state: waiting(),
            });
        }
        let mut ex = Explorer::new(Mode::Live, empty, models);
        ex.cache = TraceCache::new(launch.cache_entries, launch.cache_bytes);
        let mut machine = StartUp {
            launch,
            phase: Phase::LoadingData,
            session: None,
            data_note,
        };
        if let Some(session) = session {
            if session.models.is_empty() {
                machine.session = Some(session);
                machine.replay(&mut ex, None);
                return (machine, ex, Vec::new());
            }
            if let Some(why) = replay_reason {
                machine.session = Some(session);
                machine.replay(&mut ex, Some(&why));
                return (machine, ex, Vec::new());
            }
            machine.session = Some(session);
        }
        ex.session_file = machine.session_file();
        ex.startup = Some("loading the data set".into());
        let effects = vec![Effect::LoadData(Box::new(machine.launch.clone()))];
        (machine, ex, effects)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn launch(&self) -> &Launch {
        &self.launch
    }

    /// `w` may replace the session file this run opened.
    fn session_file(&self) -> Option<(PathBuf, PathBuf)> {
        self.launch.session.clone().map(|p| (p.clone(), p))
    }

    /// One event from the explorer's helpers.
    pub fn handle(&mut self, ex: &mut Explorer, event: Event) -> Vec<Effect> {
        match event {
            Event::Data(result) => self.data_ready(ex, result),
            Event::DemoModel(Ok(dir)) => {
                let spec = demo::model_spec(&dir, &self.launch);
                vec![load_model(ex, Slot::Primary, spec)]
            }
            Event::DemoModel(Err(e)) => {
                self.fail(ex, demo_model_failed(&e));
                Vec::new()
            }
            Event::Saved(Ok(message)) => {
                ex.notify(message, false);
                Vec::new()
            }
            Event::Saved(Err(e)) => {
                ex.notify(e, true);
                Vec::new()
            }
            Event::Worker(event) => self.worker_event(ex, event),
        }
    }

    fn fail(&mut self, ex: &mut Explorer, message: String) {
        ex.fatal = Some(message);
        self.phase = Phase::Fatal;
    }

    /// The reopened session cannot run live: show what it saved instead. False when no
    /// session is being reopened.
    fn replay(&mut self, ex: &mut Explorer, why: Option<&str>) -> bool {
        let Some(session) = self.session.take() else {
            return false;
        };
        *ex = demo::replay(session, self.launch.cache_entries);
        ex.session_file = self.session_file();
        if let Some(why) = why {
            ex.notify(format!("replay mode: {}", first_line(why)), true);
        }
        self.phase = Phase::Replay;
        true
    }

    fn worker_event(&mut self, ex: &mut Explorer, event: WorkerEvent) -> Vec<Effect> {
        if let WorkerEvent::ModelFailed { slot, error } = &event {
            let why = format!(
                "the {slot} model could not be loaded ({})",
                first_line(error)
            );
            if self.replay(ex, Some(&why)) {
                return vec![Effect::StopWorker];
            }
            if *slot == Slot::Primary {
                // (The demo data set may already be in use; the demo model is not yet.)
                let demo_model = ex.models[0].source == demo::MODEL_LABEL;
                if matches!(self.launch.model, ModelChoice::Default(_)) && !demo_model {
                    // The default model cannot be had (offline, nothing cached): demo instead.
                    ex.mode = Mode::Demo;
                    ex.demo_reason.push(format!(
                        "the default model could not be loaded ({})",
                        first_line(error)
                    ));
                    ex.models[0] = ModelSlot {
                        source: demo::MODEL_LABEL.into(),
                        state: ModelState::Loading {
                            since: Instant::now(),
                            detail: "building the random-weight demo model".into(),
                        },
                    };
                    return vec![Effect::BuildDemoModel];
                }
                let message = model_failed(&ex.models[0].source, error);
                self.fail(ex, message);
            }
        }
        reducer::worker_event(ex, event);
        Vec::new()
    }

    fn data_ready(
        &mut self,
        ex: &mut Explorer,
        result: Result<(Arc<Dataset>, Option<String>), String>,
    ) -> Vec<Effect> {
        ex.startup = None;
        let (data, demo_reason) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let why = format!("the data set could not be loaded ({})", first_line(&e));
                if !self.replay(ex, Some(&why)) {
                    self.fail(ex, data_failed(&e));
                }
                return Vec::new();
            }
        };
        ex.set_data(data);
        if let Some(session) = &self.session {
            // A restored custom sample grows the data: the worker starts with the grown set.
            super::restore::restore_session(ex, session);
        }
        if let Some(note) = self.data_note.take() {
            let (text, error) = match &ex.notice {
                Some(n) => (format!("{} · {note}", n.text), n.error),
                None => (note, false),
            };
            ex.notify(text, error);
        }
        if let Some(reason) = demo_reason {
            ex.mode = Mode::Demo;
            ex.demo_reason.push(reason);
        }
        self.phase = Phase::Running;
        let mut effects = vec![Effect::StartWorker(Arc::clone(&ex.data))];
        match self.launch.model.clone() {
            ModelChoice::Given(spec) | ModelChoice::Default(spec) => {
                effects.push(load_model(ex, Slot::Primary, spec));
            }
            ModelChoice::Demo => {
                ex.mode = Mode::Demo;
                ex.demo_reason.push(
                    if self.session.is_some() {
                        "a demo session reopened"
                    } else {
                        "started with --demo"
                    }
                    .into(),
                );
                effects.push(Effect::BuildDemoModel);
            }
        }
        if let Some(spec) = self.launch.compare.clone() {
            effects.push(load_model(ex, Slot::Compare, spec));
        }
        effects
    }
}

/// Marks the slot loading and asks the worker for the model.
fn load_model(ex: &mut Explorer, slot: Slot, spec: ModelSpec) -> Effect {
    if let Some(m) = ex.models.get_mut(slot.index()) {
        m.state = ModelState::Loading {
            since: Instant::now(),
            detail: "loading".into(),
        };
    }
    Effect::LoadModel(slot, Box::new(spec))
}

/// The data set per the launch options, or the demo set when the hub cannot be reached and
/// nothing was asked for explicitly. (Runs on the start-up thread.)
pub fn load_data(launch: &Launch) -> Result<(Arc<Dataset>, Option<String>)> {
    if launch.demo_data {
        return Ok((Arc::new(crate::data::demo::dataset()?), None));
    }
    match launch.data.load() {
        Ok(data) if !data.is_empty() => Ok((Arc::new(data), None)),
        Ok(_) => anyhow::bail!("the data set has no samples"),
        Err(e) if !launch.data_given => {
            let reason = format!(
                "XQuAD could not be loaded ({})",
                first_line(&format!("{e:#}"))
            );
            Ok((Arc::new(crate::data::demo::dataset()?), Some(reason)))
        }
        Err(e) => Err(e),
    }
}

/// The fallback policy without a terminal: each test feeds the machine the events the
/// driver would bring and checks the phase, the state and the effects it asks for.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::demo::dataset;
    use crate::data::request::DataRequest;
    use crate::explorer::restore::session_of;
    use crate::model::source::ModelRef;

    fn spec(name: &str) -> ModelSpec {
        ModelSpec::new(name.parse().unwrap())
    }

    fn launch(model: ModelChoice) -> Launch {
        Launch {
            model,
            compare: None,
            data: DataRequest::default(),
            demo_data: false,
            data_given: false,
            session: None,
            cache_entries: 8,
            cache_bytes: 1 << 20,
        }
    }

    fn demo_data() -> Event {
        Event::Data(Ok((Arc::new(dataset().unwrap()), None)))
    }

    fn failed(slot: Slot, error: &str) -> Event {
        Event::Worker(WorkerEvent::ModelFailed {
            slot,
            error: error.into(),
        })
    }

    /// A session of `models` (primary first) over the demo set.
    fn session(models: &[&str]) -> Session {
        let slots = models
            .iter()
            .map(|m| ModelSlot {
                source: m.to_string(),
                state: ModelState::Failed(String::new()),
            })
            .collect();
        let mut ex = Explorer::new(Mode::Live, Arc::new(dataset().unwrap()), slots);
        ex.session_name = "saved".into();
        session_of(&ex)
    }

    #[test]
    fn the_data_come_first_then_the_models() {
        let mut l = launch(ModelChoice::Given(spec("org/a")));
        l.compare = Some(spec("org/b"));
        let (mut machine, mut ex, effects) = StartUp::begin(l, None);
        assert_eq!(machine.phase(), Phase::LoadingData);
        assert!(matches!(effects[..], [Effect::LoadData(_)]));
        assert_eq!(ex.startup.as_deref(), Some("loading the data set"));
        let effects = machine.handle(&mut ex, demo_data());
        assert_eq!(machine.phase(), Phase::Running);
        assert!(ex.startup.is_none());
        assert!(matches!(
            &effects[..],
            [
                Effect::StartWorker(_),
                Effect::LoadModel(Slot::Primary, a),
                Effect::LoadModel(Slot::Compare, b),
            ] if a.model.to_string() == "org/a" && b.model.to_string() == "org/b"
        ));
        assert_eq!(ex.mode, Mode::Live);
    }

    #[test]
    fn a_given_model_that_fails_is_fatal_never_replaced() {
        let (mut machine, mut ex, _) =
            StartUp::begin(launch(ModelChoice::Given(spec("org/a"))), None);
        machine.handle(&mut ex, demo_data());
        let effects = machine.handle(&mut ex, failed(Slot::Primary, "no config.json\nmore"));
        assert!(effects.is_empty());
        assert_eq!(machine.phase(), Phase::Fatal);
        let fatal = ex.fatal.as_deref().unwrap();
        assert!(
            fatal.contains("The model org/a could not be loaded"),
            "{fatal}"
        );
        assert!(matches!(ex.models[0].state, ModelState::Failed(_)));
        assert_eq!(ex.mode, Mode::Live);
    }

    #[test]
    fn the_default_model_falls_back_to_the_demo_model() {
        let (mut machine, mut ex, _) =
            StartUp::begin(launch(ModelChoice::Default(spec("org/default"))), None);
        machine.handle(&mut ex, demo_data());
        let effects = machine.handle(&mut ex, failed(Slot::Primary, "offline\nand more"));
        assert!(matches!(effects[..], [Effect::BuildDemoModel]));
        assert_eq!(machine.phase(), Phase::Running);
        assert_eq!(ex.mode, Mode::Demo);
        assert_eq!(
            ex.demo_reason,
            ["the default model could not be loaded (offline)"]
        );
        assert_eq!(ex.models[0].source, demo::MODEL_LABEL);
        let dir = std::path::PathBuf::from("/cache/demo");
        let effects = machine.handle(&mut ex, Event::DemoModel(Ok(dir.clone())));
        assert!(matches!(
            &effects[..],
            [Effect::LoadModel(Slot::Primary, s)] if s.model == ModelRef::Local(dir.clone())
        ));
        // The demo model failing in turn is the end: no second fallback.
        let effects = machine.handle(&mut ex, failed(Slot::Primary, "disk full"));
        assert!(effects.is_empty());
        assert_eq!(machine.phase(), Phase::Fatal);
    }

    #[test]
    fn a_demo_model_that_cannot_be_built_is_fatal() {
        let (mut machine, mut ex, _) = StartUp::begin(launch(ModelChoice::Demo), None);
        let effects = machine.handle(&mut ex, demo_data());
        assert!(matches!(
            effects[..],
            [Effect::StartWorker(_), Effect::BuildDemoModel]
        ));
        assert_eq!(ex.demo_reason, ["started with --demo"]);
        machine.handle(&mut ex, Event::DemoModel(Err("read-only cache".into())));
        assert_eq!(machine.phase(), Phase::Fatal);
        assert!(ex.fatal.as_deref().unwrap().contains("read-only cache"));
    }

    #[test]
    fn hub_data_fall_back_to_the_demo_set_unless_data_were_asked_for() {
        let mut l = launch(ModelChoice::Given(spec("org/a")));
        l.data.data = Some("/no/such/xquad/folder".into());
        let (data, reason) = load_data(&l).unwrap();
        assert_eq!(data.source, "demo set (bundled)");
        assert!(reason.unwrap().starts_with("XQuAD could not be loaded"));
        l.data_given = true;
        assert!(load_data(&l).is_err(), "--data that fails is an error");
        // The machine shows the demo banner with the reason.
        let (mut machine, mut ex, _) =
            StartUp::begin(launch(ModelChoice::Given(spec("org/a"))), None);
        let data = Event::Data(Ok((Arc::new(dataset().unwrap()), Some("offline".into()))));
        machine.handle(&mut ex, data);
        assert_eq!(ex.mode, Mode::Demo);
        assert_eq!(ex.demo_reason, ["offline"]);
    }

    #[test]
    fn data_that_fail_without_a_session_are_fatal() {
        let (mut machine, mut ex, _) =
            StartUp::begin(launch(ModelChoice::Given(spec("org/a"))), None);
        let effects = machine.handle(&mut ex, Event::Data(Err("no xquad.en.json".into())));
        assert!(effects.is_empty());
        assert_eq!(machine.phase(), Phase::Fatal);
        assert!(ex.startup.is_none());
        assert!(ex.fatal.as_deref().unwrap().contains("no xquad.en.json"));
    }

    #[test]
    fn a_session_without_models_opens_in_replay() {
        let (machine, ex, effects) = StartUp::begin(
            launch(ModelChoice::Given(spec("org/a"))),
            Some(session(&[])),
        );
        assert!(effects.is_empty(), "no data load, no worker");
        assert_eq!(machine.phase(), Phase::Replay);
        assert_eq!(ex.mode, Mode::Replay);
        assert_eq!(ex.session_name, "saved");
    }

    #[test]
    fn a_session_replays_when_its_data_or_models_cannot_be_had() {
        // Its data are gone.
        let (mut machine, mut ex, effects) = StartUp::begin(
            launch(ModelChoice::Default(spec("org/d"))),
            Some(session(&["org/s"])),
        );
        assert!(matches!(effects[..], [Effect::LoadData(_)]));
        machine.handle(&mut ex, Event::Data(Err("folder gone".into())));
        assert_eq!(machine.phase(), Phase::Replay);
        assert_eq!(ex.mode, Mode::Replay);
        let notice = &ex.notice.as_ref().unwrap().text;
        assert!(
            notice.contains("the data set could not be loaded (folder gone)"),
            "{notice}"
        );
        // Its model fails: the worker stops and the saved traces are shown.
        let (mut machine, mut ex, _) = StartUp::begin(
            launch(ModelChoice::Default(spec("org/d"))),
            Some(session(&["org/s"])),
        );
        let effects = machine.handle(&mut ex, demo_data());
        assert!(
            matches!(&effects[..], [Effect::StartWorker(_), Effect::LoadModel(Slot::Primary, s)]
                if s.model.to_string() == "org/s"),
            "the session's own model, not the default"
        );
        let effects = machine.handle(&mut ex, failed(Slot::Primary, "gone"));
        assert!(matches!(effects[..], [Effect::StopWorker]));
        assert_eq!(machine.phase(), Phase::Replay);
        assert_eq!(ex.mode, Mode::Replay);
    }

    #[test]
    fn a_session_whose_model_cannot_be_named_replays_at_once() {
        let (machine, ex, effects) = StartUp::begin(
            launch(ModelChoice::Default(spec("org/d"))),
            Some(session(&["not a model id"])),
        );
        assert!(effects.is_empty());
        assert_eq!(machine.phase(), Phase::Replay);
        assert!(ex.notice.as_ref().unwrap().text.starts_with("replay mode:"));
    }

    #[test]
    fn a_session_reopens_with_its_own_data_source() {
        let mut saved = session(&["org/s"]);
        saved.data_source = "demo set".into();
        let (machine, _, effects) =
            StartUp::begin(launch(ModelChoice::Default(spec("org/d"))), Some(saved));
        assert!(machine.launch().demo_data);
        assert!(matches!(&effects[..], [Effect::LoadData(l)] if l.demo_data));
    }
}

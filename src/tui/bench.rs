//! Frame time of the explorer on cached data: key action, `update`, and a full `draw` into
//! an off-screen buffer, as the loop does for every key press.

use super::action::Action;
use super::app::App;
use super::keymap::Keymap;
use super::{update, view};
use crate::data::Dataset;
use crate::explorer::worker::Slot;
use crate::explorer::{Explorer, Mode, ModelSlot, ModelState};
use crate::pipeline::SampleTrace;
use anyhow::Result;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The actions cycled through, each answered from cached data: the layer cursor, rows,
/// focus, scrolling, shading, the language overlay and a language step and back.
pub const ACTIONS: [Action; 12] = [
    Action::LayerUp,
    Action::LayerUp,
    Action::LayerDown,
    Action::ToggleRows,
    Action::ScrollDown,
    Action::ScrollUp,
    Action::FocusNext,
    Action::ToggleShading,
    Action::ToggleRows,
    Action::NextLang,
    Action::PrevLang,
    Action::ToggleShading,
];

/// Mean and 99th percentile of frame times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameStats {
    pub frames: usize,
    pub mean: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl FrameStats {
    pub fn of(mut times: Vec<Duration>) -> FrameStats {
        times.sort();
        let frames = times.len();
        let total: Duration = times.iter().sum();
        let at = |q: f64| {
            times
                .get(((frames as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        FrameStats {
            frames,
            mean: total.checked_div(frames.max(1) as u32).unwrap_or_default(),
            p99: at(0.99),
            max: times.last().copied().unwrap_or_default(),
        }
    }
}

/// An app showing `trace` as the finished trace of the current selection.
pub fn app_with_trace(data: Arc<Dataset>, trace: SampleTrace) -> App {
    let mut app = App::new(Explorer::new(
        Mode::Live,
        data,
        vec![ModelSlot {
            source: trace.model.name.clone(),
            state: ModelState::Ready(trace.model.clone()),
        }],
    ));
    if let Some(prompt) = &trace.prompt {
        app.core.selection.setting.scenario = prompt.options.setting.scenario;
        app.core.selection.setting.lang = prompt.options.setting.lang;
        app.core.selection.setting.shots = prompt.options.setting.shots;
        app.core.selection.setting.format = prompt.options.setting.format;
        if let Some(i) = app.core.data.position_of(&prompt.sample_id) {
            app.core.selection.sample = i;
        }
    }
    if let Some(rel) = &trace.relevance {
        app.core.selection.target = rel.relevance.target;
    }
    app.core.layer = trace.model.layers.div_ceil(2);
    let key = app.core.key(Slot::Primary);
    app.core.cache.insert(key, Arc::new(trace));
    app
}

/// Times `frames` key presses (cycling [`ACTIONS`]) at `width` x `height`.
pub fn frame_times(
    app: &mut App,
    keymap: &Keymap,
    frames: usize,
    width: u16,
    height: u16,
) -> Result<Vec<Duration>> {
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    // One untimed frame: the first draw allocates the buffers.
    terminal.draw(|f| {
        view::draw(f, app, keymap);
    })?;
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        let action = ACTIONS[i % ACTIONS.len()];
        let start = Instant::now();
        let _ = update::update(app, action);
        terminal.draw(|f| {
            view::draw(f, app, keymap);
        })?;
        times.push(start.elapsed());
    }
    Ok(times)
}

/// One "next sample" key press on a live model: how long until the first streamed answer
/// token and until the finished trace (everything the panes show) reached the app.
#[derive(Clone, Debug)]
pub struct KeyLatency {
    pub sample: usize,
    pub first_token: Option<Duration>,
    pub full_trace: Duration,
    pub prompt_tokens: usize,
    pub answer_tokens: usize,
    /// The trace's own stage times and its prefill's, to tell where the wait went.
    pub stages: crate::pipeline::StageTimings,
    pub prefill_ms: f64,
}

/// What [`next_sample_latency`] measured: the model's load, the first trace after start-up,
/// and each key press.
pub struct LatencyRun {
    pub load: Duration,
    pub first_trace: Duration,
    pub presses: Vec<KeyLatency>,
    /// The selection's scenario, language and shots, as the explorer starts.
    pub selection: String,
}

/// Runs the explorer's own path without a terminal: its worker loads `spec`, the app
/// schedules the start-up trace; then `presses` times the "next sample" action, `update` and
/// `schedule` as the loop runs them, with the effects handed to the worker. Each press is
/// timed from the action to the first `Token` event and to the `Done` event of the new
/// selection. Nothing is prefetched between presses (the next sample is never cached).
pub fn next_sample_latency(
    data: Arc<Dataset>,
    spec: crate::model::spec::ModelSpec,
    presses: usize,
) -> Result<LatencyRun> {
    use crate::explorer::reducer::worker_event;
    use crate::explorer::worker::{Worker, WorkerEvent};
    use crate::explorer::Effect;
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = Worker::spawn(Arc::clone(&data), tx);
    let mut app = App::new(Explorer::new(
        Mode::Live,
        data,
        vec![ModelSlot {
            source: spec.model.to_string(),
            state: ModelState::Loading {
                since: Instant::now(),
                detail: "loading".into(),
            },
        }],
    ));
    let started = Instant::now();
    worker.load(Slot::Primary, spec);
    let load = loop {
        let event = rx.recv()?;
        let outcome = match &event {
            WorkerEvent::ModelLoaded { .. } => Some(Ok(started.elapsed())),
            WorkerEvent::ModelFailed { error, .. } => Some(Err(anyhow::anyhow!("{error}"))),
            _ => None,
        };
        worker_event(&mut app.core, event);
        if let Some(outcome) = outcome {
            break outcome?;
        }
    };
    let selection = format!(
        "{} {} {}-shot",
        app.core.selection.setting.scenario,
        app.core.selection.setting.lang,
        app.core.selection.setting.shots
    );
    let submit = |app: &mut App, effects: Vec<Effect>| {
        for effect in effects {
            match effect {
                Effect::Submit(job) => worker.submit(job),
                Effect::Cancel(slot) => worker.cancel(slot),
                _ => {}
            }
        }
        app.core.key(Slot::Primary)
    };
    let wait = |app: &mut App, key: &crate::explorer::worker::TraceKey, since: Instant| {
        let mut first_token = None;
        loop {
            let event = rx.recv()?;
            let done = match &event {
                WorkerEvent::Token { key: k, .. } if k == key && first_token.is_none() => {
                    first_token = Some(since.elapsed());
                    None
                }
                WorkerEvent::Done { key: k, trace } if k == key => {
                    Some(Ok((since.elapsed(), Arc::clone(trace))))
                }
                WorkerEvent::Failed { key: k, error } if k == key => {
                    Some(Err(anyhow::anyhow!("the trace failed: {error}")))
                }
                WorkerEvent::Cancelled { key: k } if k == key => {
                    Some(Err(anyhow::anyhow!("the trace was cancelled")))
                }
                _ => None,
            };
            worker_event(&mut app.core, event);
            if let Some(done) = done {
                let (elapsed, trace) = done?;
                return Ok::<_, anyhow::Error>((first_token, elapsed, trace));
            }
        }
    };
    let since = Instant::now();
    let effects = update::schedule(&mut app);
    let key = submit(&mut app, effects);
    let (_, first_trace, _) = wait(&mut app, &key, since)?;
    let mut measured = Vec::with_capacity(presses);
    for _ in 0..presses {
        let since = Instant::now();
        let mut effects = update::update(&mut app, Action::NextSample);
        effects.extend(update::schedule(&mut app));
        let key = submit(&mut app, effects);
        let (first_token, full_trace, trace) = wait(&mut app, &key, since)?;
        measured.push(KeyLatency {
            sample: key.sample,
            first_token,
            full_trace,
            prompt_tokens: trace.tokens.len(),
            answer_tokens: trace.generation.steps.len(),
            stages: trace.timings.clone(),
            prefill_ms: trace.generation.timings.prefill_ms,
        });
    }
    worker.shutdown();
    Ok(LatencyRun {
        load,
        first_trace,
        presses: measured,
        selection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_times() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = FrameStats::of(times);
        assert_eq!(s.frames, 100);
        assert_eq!(s.mean, Duration::from_micros(50_500));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(FrameStats::of(Vec::new()).frames, 0);
    }
}

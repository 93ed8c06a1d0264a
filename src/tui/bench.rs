//! Frame time of the explorer on cached data: key action, `update`, and a full `draw` into
//! an off-screen buffer, as the loop does for every key press.

use super::action::Action;
use super::app::{App, Mode, ModelSlot, ModelState};
use super::keymap::Keymap;
use super::{update, view};
use crate::data::Dataset;
use crate::pipeline::SampleTrace;
use crate::worker::Slot;
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
    let mut app = App::new(
        Mode::Live,
        data,
        vec![ModelSlot {
            source: trace.model.name.clone(),
            state: ModelState::Ready(trace.model.clone()),
        }],
    );
    if let Some(prompt) = &trace.prompt {
        app.selection.scenario = prompt.options.scenario;
        app.selection.lang = prompt.options.lang;
        app.selection.shots = prompt.options.shots;
        app.selection.format = prompt.options.format;
        if let Some(i) = app.data.position_of(&prompt.sample_id) {
            app.selection.sample = i;
        }
    }
    if let Some(rel) = &trace.relevance {
        app.selection.target = rel.relevance.target;
    }
    app.layer = trace.model.layers.div_ceil(2);
    let key = app.key(Slot::Primary);
    app.cache.insert(key, Arc::new(trace));
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

//! Views: one function per screen region, each over the app's finished data. `draw` lays out
//! the screen and returns the regions the mouse can hit.
//!
//! ```text
//! ┌ header: models · sample · scenario · language tabs · shots/format/target · jobs ┐
//! ├ banner (demo / replay) ─────────────────────────────────────────────────────────┤
//! │ Prompt                  │ Answer                                                 │
//! │                         ├──────────────────────────────────┬─────────────────────┤
//! │                         │ Relevance heatmap                │ MRD bars            │
//! ├─────────────────────────┤                                  │                     │
//! │ Similarity sparklines   │                                  ├─────────────────────┤
//! ├─────────────────────────┤                                  │ Oracle bars         │
//! │ Language lens           │                                  │                     │
//! └ footer: key hints / notice ─────────────────────────────────────────────────────┘
//! ```
//! Compare mode gives each model its own answer, heatmap, MRD and oracle column; the
//! similarity and lens curves are overlaid and a diff line sums up the differences.

pub mod answer;
pub mod error;
pub mod footer;
pub mod header;
pub mod help;
pub mod lens;
pub mod overlay;
pub mod panes;
pub mod prompt;
pub mod sweep;

use super::app::{App, Overlay, Pane, Screen};
use super::keymap::Keymap;
use super::theme;
use crate::data::Lang;
use crate::explorer::worker::Slot;
use crate::explorer::Mode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use ratatui::Frame;

/// The smallest screen the explorer lays out.
pub const MIN_WIDTH: u16 = 120;
pub const MIN_HEIGHT: u16 = 36;

/// Where the last frame put what the mouse can hit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Regions {
    pub tabs: Vec<(Rect, Lang)>,
    pub panes: Vec<(Rect, Pane)>,
}

impl Regions {
    pub fn tab_at(&self, x: u16, y: u16) -> Option<Lang> {
        self.tabs
            .iter()
            .find(|(r, _)| r.contains((x, y).into()))
            .map(|(_, l)| *l)
    }

    pub fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        self.panes
            .iter()
            .find(|(r, _)| r.contains((x, y).into()))
            .map(|(_, p)| *p)
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App, keymap: &Keymap) -> Regions {
    let area = frame.area();
    let mut regions = Regions::default();
    // A fatal error shows at any size (short form when small); it never hides behind the
    // "enlarge the terminal" notice.
    let small = area.width < MIN_WIDTH || area.height < MIN_HEIGHT;
    if let Some(message) = &app.core.fatal {
        if small {
            error::fatal_compact(frame, area, message);
        } else {
            error::fatal(frame, area, message, app);
        }
        return regions;
    }
    if small {
        error::too_small(frame, area);
        return regions;
    }
    let banner = banner_line(app);
    let [header_area, banner_area, body, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(u16::from(banner.is_some())),
        Constraint::Min(10),
        Constraint::Length(1),
    ])
    .areas(area);
    regions.tabs = header::draw(frame, header_area, app);
    if let Some(line) = banner {
        frame.render_widget(Paragraph::new(line), banner_area);
    }
    if let Some(what) = &app.core.startup {
        panes::waiting(frame, body, "Starting", what, app.tick);
    } else if app.core.data.is_empty() {
        panes::waiting(frame, body, "No samples", "the data set is empty", app.tick);
    } else {
        match app.screen {
            Screen::Main if app.core.compare() => compare_body(frame, body, app, &mut regions),
            Screen::Main => main_body(frame, body, app, &mut regions),
            Screen::Sweep => sweep::draw(frame, body, app),
        }
    }
    footer::draw(frame, footer_area, app, keymap);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => {
            let mut overlay = help::HelpOverlay::new(keymap, *scroll);
            if let Some(line) = &app.help_path {
                overlay = overlay.path_line(line.clone());
            }
            frame.render_widget(overlay, area);
        }
        Some(other) => overlay::draw(frame, area, other),
        None => {}
    }
    regions
}

fn main_body(frame: &mut Frame, body: Rect, app: &App, regions: &mut Regions) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    let [prompt_area, sim_area, lens_area] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(8),
        Constraint::Length(lens_height(app)),
    ])
    .areas(left);
    let [answer_area, lower] =
        Layout::vertical([Constraint::Length(10), Constraint::Min(8)]).areas(right);
    let [heat_area, side] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(34)]).areas(lower);
    let [mrd_area, oracle_area] =
        Layout::vertical([Constraint::Length(10), Constraint::Min(5)]).areas(side);
    prompt::draw(frame, prompt_area, app);
    panes::similarity(frame, sim_area, app);
    lens::draw(frame, lens_area, app);
    answer::draw(frame, answer_area, app, Slot::Primary);
    panes::relevance(frame, heat_area, app, Slot::Primary);
    panes::mrd(frame, mrd_area, app, Slot::Primary);
    panes::oracle(frame, oracle_area, app, Slot::Primary);
    regions.panes = vec![
        (prompt_area, Pane::Prompt),
        (sim_area, Pane::Similarity),
        (lens_area, Pane::Lens),
        (answer_area, Pane::Answer),
        (heat_area, Pane::Relevance),
        (mrd_area, Pane::Relevance),
        (oracle_area, Pane::Oracle),
    ];
}

fn compare_body(frame: &mut Frame, body: Rect, app: &App, regions: &mut Regions) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(34), Constraint::Percentage(66)]).areas(body);
    let [prompt_area, sim_area, lens_area, diff_area] = Layout::vertical([
        Constraint::Min(4),
        Constraint::Length(11),
        Constraint::Length(lens_height(app)),
        Constraint::Length(5),
    ])
    .areas(left);
    prompt::draw(frame, prompt_area, app);
    panes::similarity(frame, sim_area, app);
    lens::draw(frame, lens_area, app);
    panes::diff(frame, diff_area, app);
    regions.panes = vec![
        (prompt_area, Pane::Prompt),
        (sim_area, Pane::Similarity),
        (lens_area, Pane::Lens),
    ];
    let columns: [Rect; 2] =
        Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(right);
    for (slot, column) in Slot::ALL.into_iter().zip(columns) {
        let [answer_area, heat_area, mrd_area, oracle_area] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Min(6),
            Constraint::Length(9),
            Constraint::Length(7),
        ])
        .areas(column);
        answer::draw(frame, answer_area, app, slot);
        panes::relevance(frame, heat_area, app, slot);
        panes::mrd(frame, mrd_area, app, slot);
        panes::oracle(frame, oracle_area, app, slot);
        regions.panes.extend([
            (answer_area, Pane::Answer),
            (heat_area, Pane::Relevance),
            (mrd_area, Pane::Relevance),
            (oracle_area, Pane::Oracle),
        ]);
    }
}

/// The lens pane's height: per model two text lines and three curves, a note and borders.
fn lens_height(app: &App) -> u16 {
    if app.core.compare() {
        13
    } else {
        9
    }
}

/// The demo or replay banner; None in live mode.
fn banner_line(app: &App) -> Option<Line<'static>> {
    let (label, text, colour) = match app.core.mode {
        Mode::Live => return None,
        Mode::Demo => (
            " DEMO ",
            format!(
                " random-weight model on the bundled demo set: answers and relevance are meaningless, the mechanics are real. {}",
                app.core.demo_reason.join("; ")
            ),
            theme::BAD,
        ),
        Mode::Replay => (
            " REPLAY ",
            format!(
                " session '{}' without its models: {} saved traces are browsable, nothing new is computed",
                app.core.session_name,
                app.core.cache.len()
            ),
            theme::ACCENT,
        ),
    };
    Some(Line::from(vec![
        Span::styled(
            label,
            Style::new()
                .bg(colour)
                .fg(ratatui::style::Color::Black)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled(text, Style::new().fg(colour)),
    ]))
}

/// A pane's frame: rounded border, title, accent when focused.
pub fn pane_block(title: impl Into<Line<'static>>, focused: bool) -> Block<'static> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme::border(focused))
        .title(title.into().style(theme::title()))
}

/// The spinner glyph of frame `tick`.
pub fn spinner(tick: u64) -> &'static str {
    const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    FRAMES[(tick % FRAMES.len() as u64) as usize]
}

//! The explorer's view state: the screen, focus, overlays, scrolls and what the panes
//! show. What the explorer knows and decides is `explorer::Explorer` (`app.core`); nothing
//! here touches a model.

use super::input::TextInput;
use crate::explorer::Explorer;
use std::collections::HashMap;
use std::time::Instant;

/// The panes that take focus (scrolling goes to the focused one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Prompt,
    Answer,
    Relevance,
    Similarity,
    Lens,
    Oracle,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Prompt,
        Pane::Answer,
        Pane::Relevance,
        Pane::Similarity,
        Pane::Lens,
        Pane::Oracle,
    ];
}

/// The main screen or the language sweep table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Main,
    Sweep,
}

/// Heatmap rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// The k most relevant tokens of each part (the paper's Figure 9).
    TopK(usize),
    /// Every prompt token, scrollable.
    All,
}

/// The custom sample form: context, question, optional gold answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomForm {
    pub fields: [TextInput; 3],
    pub focus: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

impl CustomForm {
    pub const LABELS: [&'static str; 3] = ["Context", "Question", "Gold answer (optional)"];

    pub fn new() -> Self {
        CustomForm {
            fields: [
                TextInput::multiline(),
                TextInput::single_line(),
                TextInput::single_line(),
            ],
            focus: 0,
            error: None,
        }
    }
}

/// A modal layer over the screen; it takes the keys while open.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    /// "Jump to index or id".
    Jump(TextInput),
    /// The note of a new bookmark.
    Bookmark(TextInput),
    /// The session name to save under.
    Save(TextInput),
    Form(Box<CustomForm>),
}

/// The explorer as the terminal shows it: its core plus the view's own state.
pub struct App {
    pub core: Explorer,
    pub screen: Screen,
    pub overlay: Option<Overlay>,
    pub focus: Pane,
    pub rows: Rows,
    /// Similarity pane: all languages overlaid instead of the current one.
    pub all_langs: bool,
    /// Relevance shading over the prompt text.
    pub shading: bool,
    /// Compare mode: the second model's heatmap shows relevance B − A.
    pub diff_view: bool,
    pub scroll: HashMap<Pane, u16>,
    /// The help overlay's line about the user keymap file (None: the real path; tests fix it).
    pub help_path: Option<String>,
    /// Shows every elapsed time as 0 (snapshot tests).
    pub frozen_clock: bool,
    /// Animation frame of spinners.
    pub tick: u64,
}

impl App {
    pub fn new(core: Explorer) -> App {
        App {
            core,
            screen: Screen::Main,
            overlay: None,
            focus: Pane::Prompt,
            rows: Rows::TopK(4),
            all_langs: false,
            shading: true,
            diff_view: false,
            scroll: HashMap::new(),
            help_path: None,
            frozen_clock: false,
            tick: 0,
        }
    }

    /// Whether the screen shows every language of the sample (the sweep table or the
    /// similarity overlay), so the scheduler traces them all.
    pub fn wants_all_langs(&self) -> bool {
        self.screen == Screen::Sweep || self.all_langs
    }

    /// Seconds since `since`, for the "running for" figures.
    pub fn seconds_since(&self, since: Instant) -> f32 {
        if self.frozen_clock {
            0.0
        } else {
            since.elapsed().as_secs_f32()
        }
    }

    pub fn scroll_of(&self, pane: Pane) -> u16 {
        self.scroll.get(&pane).copied().unwrap_or(0)
    }
}

//! What a key (or mouse gesture) asks the app to do. Named in `assets/keymap.toml` by their
//! kebab-case names; the keymap gives each a description for the footer and the help.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every user intent the app understands. `update` turns one into state changes and effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Quit,
    /// Shows or hides the help overlay.
    Help,
    /// Closes the open overlay, or cancels the running jobs when none is open.
    Back,
    NextSample,
    PrevSample,
    /// Ten samples on / back.
    NextSamplePage,
    PrevSamplePage,
    /// Opens the "jump to index or id" prompt.
    Jump,
    NextLang,
    PrevLang,
    NextScenario,
    ToggleShots,
    ToggleFormat,
    /// Relevance target: first generated token (step) or the whole answer (sequence).
    ToggleTarget,
    LayerUp,
    LayerDown,
    LayerFirst,
    LayerLast,
    FocusNext,
    FocusPrev,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    /// Heatmap rows: top-k tokens of each part, or every prompt token.
    ToggleRows,
    /// Compare mode: the second model's heatmap shows its relevance minus the first's.
    ToggleDiff,
    /// Similarity pane: en vs the current language, or all 11 languages overlaid.
    ToggleOverlay,
    /// Relevance overlay on the prompt text on/off.
    ToggleShading,
    /// The language sweep table of the current sample.
    Sweep,
    /// Opens the custom sample form.
    CustomSample,
    /// Bookmarks the current sample with a note.
    Bookmark,
    /// Jumps to the next bookmarked sample.
    NextBookmark,
    /// Saves the session.
    Save,
    /// Writes the shown trace as a self-contained HTML page.
    Export,
    /// Traces the current selection again (after a failure).
    Retry,
}

impl Action {
    /// Every action, in the order the help lists them.
    pub const ALL: [Action; 35] = [
        Action::NextSample,
        Action::PrevSample,
        Action::NextSamplePage,
        Action::PrevSamplePage,
        Action::Jump,
        Action::NextLang,
        Action::PrevLang,
        Action::NextScenario,
        Action::ToggleShots,
        Action::ToggleFormat,
        Action::ToggleTarget,
        Action::LayerUp,
        Action::LayerDown,
        Action::LayerFirst,
        Action::LayerLast,
        Action::FocusNext,
        Action::FocusPrev,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::PageUp,
        Action::PageDown,
        Action::ToggleRows,
        Action::ToggleDiff,
        Action::ToggleOverlay,
        Action::ToggleShading,
        Action::Sweep,
        Action::CustomSample,
        Action::Bookmark,
        Action::NextBookmark,
        Action::Save,
        Action::Export,
        Action::Retry,
        Action::Help,
        Action::Back,
        Action::Quit,
    ];

    /// The keymap name ("next-sample").
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

//! `update`: terminal input in, view changes and explorer commands out. The view's own
//! state (focus, scrolls, overlays) changes here; everything the explorer decides goes
//! through `explorer::reducer` as a [`Command`]. Pure (no terminal, no model), so every
//! behaviour is testable by feeding actions to an `App`.

use super::action::Action;
use super::app::{App, CustomForm, Overlay, Pane, Rows, Screen};
use super::input::{InputOutcome, TextInput};
use super::keymap::Keymap;
use crate::explorer::reducer::{self, bookmark_note, Command};
use crate::explorer::scheduler::{self, Wanted};
use crate::explorer::{Effect, Mode};
use ratatui::crossterm::event::{KeyEvent, MouseEvent, MouseEventKind};

/// Levels shown by the heatmap's top-k rows.
const TOP_K: usize = 4;

/// A key press: to the open overlay, else through the keymap.
pub fn key(app: &mut App, keymap: &Keymap, key: &KeyEvent) -> Vec<Effect> {
    if let Some(effects) = overlay_key(app, keymap, key) {
        return effects;
    }
    match keymap.action_for(key) {
        Some(action) => update(app, action),
        None => Vec::new(),
    }
}

/// Mouse: the wheel scrolls the focused pane; a click on a language tab selects it, on a
/// pane focuses it. `regions` come from the same layout the last frame was drawn with.
pub fn mouse(app: &mut App, event: &MouseEvent, regions: &super::view::Regions) -> Vec<Effect> {
    if app.overlay.is_some() {
        return Vec::new();
    }
    match event.kind {
        MouseEventKind::ScrollDown => update(app, Action::ScrollDown),
        MouseEventKind::ScrollUp => update(app, Action::ScrollUp),
        MouseEventKind::Down(_) => {
            let (x, y) = (event.column, event.row);
            if let Some(lang) = regions.tab_at(x, y) {
                return command(app, Command::SelectLang(lang));
            }
            if let Some(pane) = regions.pane_at(x, y) {
                app.focus = pane;
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Keys while an overlay is open; None when no overlay takes them.
fn overlay_key(app: &mut App, keymap: &Keymap, key: &KeyEvent) -> Option<Vec<Effect>> {
    let overlay = app.overlay.take()?;
    let (next, effects) = match overlay {
        Overlay::Help { scroll } => match keymap.action_for(key) {
            Some(Action::Quit) => return Some(update(app, Action::Quit)),
            Some(Action::Help | Action::Back) => (None, Vec::new()),
            Some(Action::ScrollDown) => (Some(Overlay::Help { scroll: scroll + 1 }), Vec::new()),
            Some(Action::ScrollUp) => (
                Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                Vec::new(),
            ),
            _ => (Some(Overlay::Help { scroll }), Vec::new()),
        },
        Overlay::Jump(mut input) => match input.handle(key) {
            InputOutcome::Submit => (None, command(app, Command::Jump(input.text))),
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Jump(input)), Vec::new()),
        },
        Overlay::Bookmark(mut input) => match input.handle(key) {
            InputOutcome::Submit => (None, command(app, Command::Bookmark(input.text))),
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Bookmark(input)), Vec::new()),
        },
        Overlay::Save(mut input) => match input.handle(key) {
            InputOutcome::Submit if input.text.trim().is_empty() => {
                (Some(Overlay::Save(input)), Vec::new())
            }
            InputOutcome::Submit => (None, command(app, Command::Save(input.text))),
            InputOutcome::Cancel => (None, Vec::new()),
            _ => (Some(Overlay::Save(input)), Vec::new()),
        },
        Overlay::Form(mut form) => {
            let focus = form.focus;
            match form.fields[focus].handle(key) {
                InputOutcome::NextField => {
                    form.focus = (focus + 1) % form.fields.len();
                    (Some(Overlay::Form(form)), Vec::new())
                }
                InputOutcome::PrevField => {
                    form.focus = (focus + form.fields.len() - 1) % form.fields.len();
                    (Some(Overlay::Form(form)), Vec::new())
                }
                InputOutcome::Cancel => (None, Vec::new()),
                InputOutcome::Submit => match reducer::add_custom_sample(
                    &mut app.core,
                    &form.fields[0].text,
                    &form.fields[1].text,
                    &form.fields[2].text,
                ) {
                    Ok(effects) => {
                        app.scroll.clear();
                        (None, effects)
                    }
                    Err(error) => {
                        form.error = Some(error);
                        (Some(Overlay::Form(form)), Vec::new())
                    }
                },
                _ => (Some(Overlay::Form(form)), Vec::new()),
            }
        }
    };
    app.overlay = next;
    Some(effects)
}

/// Pasted text goes to the open input, if any.
pub fn paste(app: &mut App, text: &str) {
    match app.overlay.as_mut() {
        Some(Overlay::Jump(i) | Overlay::Bookmark(i) | Overlay::Save(i)) => i.insert_str(text),
        Some(Overlay::Form(form)) => {
            let focus = form.focus;
            form.fields[focus].insert_str(text);
        }
        _ => {}
    }
}

/// One action on the main screens: the view's own changes here, the rest as commands.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let samples = app.core.data.len();
    let to = |c: Command| Some(c);
    let cmd = match action {
        Action::Quit => to(Command::Quit),
        Action::Back if app.screen == Screen::Sweep => {
            app.screen = Screen::Main;
            None
        }
        Action::Back => to(Command::CancelAll),
        Action::NextSample => to(Command::MoveSample(1)),
        Action::PrevSample => to(Command::MoveSample(-1)),
        Action::NextSamplePage => to(Command::MoveSample(10)),
        Action::PrevSamplePage => to(Command::MoveSample(-10)),
        Action::NextLang => to(Command::CycleLang(1)),
        Action::PrevLang => to(Command::CycleLang(-1)),
        Action::NextScenario => to(Command::NextScenario),
        Action::ToggleShots => to(Command::ToggleShots),
        Action::ToggleFormat => to(Command::ToggleFormat),
        Action::ToggleTarget => to(Command::ToggleTarget),
        Action::LayerUp => to(Command::LayerUp),
        Action::LayerDown => to(Command::LayerDown),
        Action::LayerFirst => to(Command::LayerFirst),
        Action::LayerLast => to(Command::LayerLast),
        Action::NextBookmark => to(Command::NextBookmark),
        Action::Export => to(Command::Export),
        Action::Retry => to(Command::Retry),
        Action::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            None
        }
        Action::Jump if samples > 0 => {
            app.overlay = Some(Overlay::Jump(TextInput::single_line()));
            None
        }
        Action::FocusNext => {
            app.focus = shift_focus(app.focus, 1);
            None
        }
        Action::FocusPrev => {
            app.focus = shift_focus(app.focus, Pane::ALL.len() - 1);
            None
        }
        Action::ScrollUp => {
            scroll(app, -1);
            None
        }
        Action::ScrollDown => {
            scroll(app, 1);
            None
        }
        Action::PageUp => {
            scroll(app, -10);
            None
        }
        Action::PageDown => {
            scroll(app, 10);
            None
        }
        Action::ToggleRows => {
            app.rows = match app.rows {
                Rows::TopK(_) => Rows::All,
                Rows::All => Rows::TopK(TOP_K),
            };
            app.scroll.insert(Pane::Relevance, 0);
            None
        }
        Action::ToggleDiff => {
            app.diff_view = !app.diff_view;
            app.scroll.insert(Pane::Relevance, 0);
            None
        }
        Action::ToggleOverlay => {
            app.all_langs = !app.all_langs;
            None
        }
        Action::ToggleShading => {
            app.shading = !app.shading;
            None
        }
        Action::Sweep => {
            app.screen = match app.screen {
                Screen::Main => Screen::Sweep,
                Screen::Sweep => Screen::Main,
            };
            None
        }
        Action::CustomSample if app.core.mode != Mode::Replay => {
            app.overlay = Some(Overlay::Form(Box::new(CustomForm::new())));
            None
        }
        Action::CustomSample => {
            app.core
                .notify("replay mode: no model to trace a new sample", true);
            None
        }
        Action::Bookmark if samples > 0 => {
            let mut input = TextInput::single_line();
            if let Some(note) = bookmark_note(&app.core) {
                input.insert_str(note);
            }
            app.overlay = Some(Overlay::Bookmark(input));
            None
        }
        Action::Save => {
            let mut input = TextInput::single_line();
            input.insert_str(&app.core.session_name);
            app.overlay = Some(Overlay::Save(input));
            None
        }
        Action::Jump | Action::Bookmark => None,
    };
    match cmd {
        Some(c) => command(app, c),
        None => Vec::new(),
    }
}

/// Submits what the screen wants traced (see `explorer::scheduler`): the view says whether
/// it shows every language of the sample.
pub fn schedule(app: &mut App) -> Vec<Effect> {
    let want = if app.wants_all_langs() {
        Wanted::AllLangs
    } else {
        Wanted::Current
    };
    scheduler::schedule(&mut app.core, want)
}

/// Applies an explorer command; a new sample starts every pane at the top.
fn command(app: &mut App, command: Command) -> Vec<Effect> {
    let sample = app.core.selection.sample;
    let effects = reducer::apply(&mut app.core, command);
    if app.core.selection.sample != sample {
        app.scroll.clear();
    }
    effects
}

fn shift_focus(pane: Pane, by: usize) -> Pane {
    let i = Pane::ALL.iter().position(|p| *p == pane).unwrap_or(0);
    Pane::ALL[(i + by) % Pane::ALL.len()]
}

fn scroll(app: &mut App, by: i32) {
    let entry = app.scroll.entry(app.focus).or_insert(0);
    *entry = if by < 0 {
        entry.saturating_sub(by.unsigned_abs() as u16)
    } else {
        entry.saturating_add(by as u16)
    };
}

#[cfg(test)]
mod tests;

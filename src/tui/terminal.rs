//! Entering and leaving the terminal: raw mode, alternate screen, mouse and paste. Left on
//! quit, on error and on panic (a hook restores the screen before the panic message prints).

use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::execute;
use ratatui::DefaultTerminal;
use std::io::stdout;

pub type Term = DefaultTerminal;

/// Raw mode and the alternate screen (ratatui's `init`, whose panic hook restores them),
/// plus mouse capture and bracketed paste, undone by our own hook and [`leave`].
pub fn enter() -> std::io::Result<Term> {
    let terminal = ratatui::try_init()?;
    // ratatui's hook restores the screen on any panic; only one on this (the drawing) thread
    // ends the explorer. A worker's panic is caught and reported as a failed trace, so it
    // must neither restore the screen under the running app nor print over it: it is logged.
    let ui_thread = std::thread::current().id();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
            previous(info);
        } else {
            tracing::error!("panic on a background thread: {info}");
        }
    }));
    if let Err(e) = execute!(stdout(), EnableMouseCapture, EnableBracketedPaste) {
        leave();
        return Err(e);
    }
    Ok(terminal)
}

/// Back to the normal screen. Safe to call twice.
pub fn leave() {
    let _ = execute!(stdout(), DisableMouseCapture, DisableBracketedPaste);
    ratatui::restore();
}

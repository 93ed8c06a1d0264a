//! Full-screen views that replace the main one: a fatal error with what to do, and the
//! "enlarge the terminal" notice.

use super::{MIN_HEIGHT, MIN_WIDTH};
use crate::tui::app::App;
use crate::tui::theme;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub fn too_small(frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(Span::styled(
            "Please enlarge the terminal",
            Style::new().fg(theme::ACCENT).add_modifier(Modifier::BOLD),
        )),
        Line::from(format!(
            "xmrc-lens needs at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.",
            area.width, area.height
        )),
        Line::from("q quits."),
    ];
    let top = area.height.saturating_sub(3) / 2;
    let area = Rect {
        y: area.y + top,
        height: area.height.saturating_sub(top),
        ..area
    };
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// The cause in full and what the user can do about it.
pub fn fatal(frame: &mut Frame, area: Rect, message: &str, app: &App) {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(theme::BAD))
        .title(Span::styled(
            " xmrc-lens cannot continue ",
            Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
        ));
    let mut lines: Vec<Line> = message.lines().map(|l| Line::from(l.to_string())).collect();
    lines.push(Line::default());
    if !app.cache.is_empty() {
        lines.push(Line::from(format!(
            "{} finished traces are still in memory: w saves them as a session.",
            app.cache.len()
        )));
    }
    lines.push(Line::from(Span::styled("q quits.", theme::dim())));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// The fatal error in a terminal too small for the full view: the cause first (the lines
/// after "Cause:", else the message's first lines), wrapped, then how to quit.
pub fn fatal_compact(frame: &mut Frame, area: Rect, message: &str) {
    let cause: Vec<&str> = match message.split_once("Cause:") {
        Some((_, rest)) => rest
            .lines()
            .map(str::trim)
            .skip_while(|l| l.is_empty())
            .take_while(|l| !l.is_empty())
            .collect(),
        None => message.lines().collect(),
    };
    let mut lines = vec![Line::from(Span::styled(
        "xmrc-lens cannot continue:",
        Style::new().fg(theme::BAD).add_modifier(Modifier::BOLD),
    ))];
    lines.extend(cause.into_iter().map(|l| Line::from(l.to_string())));
    lines.push(Line::from(Span::styled(
        "q quits (the full text is printed on exit).",
        theme::dim(),
    )));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}

/// The error view's text for a model that failed to load.
pub fn model_failed(source: &str, error: &str) -> String {
    format!(
        "The model {source} could not be loaded.\n\nCause:\n  {}\n\nWhat to do:\n  • a hub id needs the network once (then it is cached under HF_HOME); gated models need HF_TOKEN\n  • a folder needs config.json, tokenizer.json and *.safetensors (supported: Llama, Qwen2, Mistral, Gemma2)\n  • run without --model for the default model, or with --demo for the offline demo\n  • `xmrc-lens generate --model {source} ...` shows the same error on the command line",
        error.replace('\n', "\n  ")
    )
}

/// The error view's text for the offline demo model that could not be built.
pub fn demo_model_failed(error: &str) -> String {
    let var = |name: &str| {
        std::env::var_os(name)
            .map_or_else(|| "unset".to_string(), |v| v.to_string_lossy().into_owned())
    };
    format!(
        "The offline demo model could not be built.\n\nCause:\n  {}\n\nWhat to do:\n  • the demo model (8 MB) is built under $XDG_CACHE_HOME/xmrc-lens/bench, else $HOME/.cache/xmrc-lens/bench: set XDG_CACHE_HOME to a writable folder (now: {}; HOME: {})\n  • or pass --model with a local model folder (no cache needed)",
        error.replace('\n', "\n  "),
        var("XDG_CACHE_HOME"),
        var("HOME")
    )
}

/// The error view's text for a data set that failed to load.
pub fn data_failed(error: &str) -> String {
    format!(
        "The data set could not be loaded.\n\nCause:\n  {}\n\nWhat to do:\n  • --data DIR needs xquad.<lang>.json files in SQuAD v1.1 format (xquad.en.json always; all 12 languages unless --load-langs names fewer)\n  • without --data (and XMRC_LENS_DATA unset) the hub set google/xquad is used, else the bundled demo set\n  • `xmrc-lens samples --data DIR` shows the same error on the command line",
        error.replace('\n', "\n  ")
    )
}

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
    if !app.core.cache.is_empty() {
        lines.push(Line::from(format!(
            "{} finished traces are still in memory: w saves them as a session.",
            app.core.cache.len()
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

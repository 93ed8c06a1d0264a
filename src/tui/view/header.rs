//! Header: models (device, dtype, size), the sample, and the selection line with clickable
//! language tabs and the jobs in flight.

use super::spinner;
use crate::data::prompt::Scenario;
use crate::data::Lang;
use crate::explorer::worker::Slot;
use crate::explorer::{ModelSlot, ModelState};
use crate::tui::app::App;
use crate::tui::theme;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

/// Draws both header lines; returns where each language tab is.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) -> Vec<(Rect, Lang)> {
    let mut top = vec![Span::styled(" xmrc-lens ", theme::title())];
    for (i, model) in app.core.models.iter().enumerate() {
        top.push(Span::styled(
            if i == 0 { "│ " } else { " vs " },
            theme::dim(),
        ));
        top.extend(model_spans(model, app));
    }
    top.push(Span::styled(" │ ", theme::dim()));
    top.extend(sample_spans(app));
    frame.render_widget(
        Paragraph::new(Line::from(top)),
        area.rows().next().unwrap_or(area),
    );

    let second = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    let (line, tabs) = selection_line(app, second);
    frame.render_widget(Paragraph::new(line), second);
    tabs
}

fn model_spans(model: &ModelSlot, app: &App) -> Vec<Span<'static>> {
    let name = Span::styled(
        model.name().to_string(),
        Style::new().add_modifier(Modifier::BOLD),
    );
    match &model.state {
        ModelState::Ready(id) | ModelState::Saved(Some(id)) => vec![
            name,
            Span::styled(
                format!(
                    " {} {} · {}L{}{}",
                    id.device,
                    id.dtype,
                    id.layers,
                    if id.chat { " · chat" } else { "" },
                    match (&id.gguf, id.weight_bytes) {
                        (Some(g), _) => format!(
                            " · GGUF {} · {:.0} MB file",
                            g.main_type(),
                            g.bytes as f64 / 1e6
                        ),
                        (None, 0) => String::new(),
                        (None, bytes) => format!(" · {:.0} MB", bytes as f64 / 1e6),
                    }
                ),
                theme::dim(),
            ),
        ],
        ModelState::Loading { since, detail } => {
            let mut spans = vec![
                name,
                Span::styled(
                    format!(
                        " {} {detail} {:.0}s",
                        spinner(app.tick),
                        app.seconds_since(*since)
                    ),
                    Style::new().fg(theme::ACCENT),
                ),
            ];
            let first_loading = app
                .core
                .models
                .iter()
                .find(|m| matches!(m.state, ModelState::Loading { .. }))
                .is_some_and(|m| std::ptr::eq(m, model));
            if let Some(d) = app.core.download.as_ref().filter(|_| first_loading) {
                spans.push(Span::raw(" "));
                spans.extend(download_gauge(d));
            }
            spans
        }
        ModelState::Failed(_) => vec![name, Span::styled(" failed", Style::new().fg(theme::BAD))],
        ModelState::Saved(None) => vec![name],
    }
}

/// `model.safetensors [██████░░░░] 61% 603/988 MB`.
pub fn download_gauge(d: &crate::model::source::DownloadProgress) -> Vec<Span<'static>> {
    const CELLS: u64 = 10;
    let fraction = if d.total > 0 {
        (d.done.min(d.total) as f64 / d.total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let filled = (fraction * CELLS as f64).round() as u64;
    let mb = |b: u64| b as f64 / 1e6;
    vec![
        Span::styled(format!("{} ", d.file), theme::dim()),
        Span::styled("█".repeat(filled as usize), Style::new().fg(theme::ACCENT)),
        Span::styled("░".repeat((CELLS - filled) as usize), theme::dim()),
        Span::raw(format!(
            " {:.0}% {:.0}/{:.0} MB",
            fraction * 100.0,
            mb(d.done),
            mb(d.total)
        )),
    ]
}

fn sample_spans(app: &App) -> Vec<Span<'static>> {
    let n = app.core.data.len();
    let Some(sample) = app.core.data.get(app.core.selection.sample) else {
        return vec![Span::styled("no sample", theme::dim())];
    };
    let mut spans = vec![
        Span::styled(
            format!("#{}/{}", app.core.selection.sample, n),
            Style::new().fg(theme::ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" {} ", sample.title)),
        Span::styled(format!("({})", sample.id), theme::dim()),
    ];
    if app.core.is_custom(app.core.selection.sample) {
        spans.push(Span::styled(" custom", Style::new().fg(theme::GOLD)));
    }
    if let Some(b) = app
        .core
        .bookmarks
        .iter()
        .find(|b| b.sample == app.core.selection.sample)
    {
        spans.push(Span::styled(
            format!(" ★ {}", b.note),
            Style::new().fg(theme::GOLD),
        ));
    }
    spans
}

/// Scenario, language tabs, shots, format, target, layer and jobs; tab positions for the
/// mouse are measured as the line is built.
fn selection_line(app: &App, area: Rect) -> (Line<'static>, Vec<(Rect, Lang)>) {
    let sel = &app.core.selection;
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut x = area.x;
    let mut push = |spans: &mut Vec<Span<'static>>, span: Span<'static>| -> Rect {
        let width = span.content.width() as u16;
        let rect = Rect::new(x, area.y, width, 1);
        x = x.saturating_add(width);
        spans.push(span);
        rect
    };
    push(
        &mut spans,
        Span::styled(
            format!(" {} ", sel.setting.scenario),
            Style::new()
                .fg(ratatui::style::Color::Black)
                .bg(theme::ACCENT)
                .add_modifier(Modifier::BOLD),
        ),
    );
    push(&mut spans, Span::raw(" "));
    let mut tabs = Vec::new();
    for lang in app.core.x_langs() {
        let selected = lang == sel.setting.lang;
        let in_use = sel.setting.scenario != Scenario::EnEn;
        let style = match (selected, in_use) {
            (true, true) => Style::new()
                .fg(theme::ACCENT)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            (true, false) => Style::new().add_modifier(Modifier::UNDERLINED),
            _ => theme::dim(),
        };
        let rect = push(
            &mut spans,
            Span::styled(format!(" {} ", lang.code()), style),
        );
        tabs.push((rect, lang));
    }
    push(&mut spans, Span::styled(" │ ", theme::dim()));
    let options = format!(
        "{}-shot · {} · target {} · layer {}",
        sel.setting.shots,
        sel.setting.format,
        sel.target.name(),
        app.core.layer
    );
    push(&mut spans, Span::raw(options));
    for slot in app.core.slots() {
        if let Some(job) = jobs_text(app, slot) {
            push(&mut spans, Span::styled(" │ ", theme::dim()));
            push(
                &mut spans,
                Span::styled(job, Style::new().fg(theme::ACCENT)),
            );
        }
    }
    (Line::from(spans), tabs)
}

/// "⠋ A relevance de 2.1s" for a slot's running job.
fn jobs_text(app: &App, slot: Slot) -> Option<String> {
    let live = app.core.live[slot.index()].as_ref()?;
    let stage = live
        .stage
        .map(|s| s.to_string())
        .unwrap_or_else(|| "starting".into());
    let who = if app.core.compare() {
        match slot {
            Slot::Primary => "A ",
            Slot::Compare => "B ",
        }
    } else {
        ""
    };
    Some(format!(
        "{} {who}{stage} #{} {} {:.1}s",
        spinner(app.tick),
        live.key.sample,
        live.key.setting.lang.code(),
        app.seconds_since(live.since)
    ))
}

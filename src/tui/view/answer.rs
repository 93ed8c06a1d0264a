//! The answer pane: gold answers, the answer streaming in token by token, F1/EM with their
//! normaliser, the language and generation-error labels with their judge, and the first
//! step's top-k candidates.

use super::{pane_block, spinner};
use crate::explorer::worker::Slot;
use crate::model::generate::TopToken;
use crate::pipeline::SampleTrace;
use crate::tui::app::{App, Pane};
use crate::tui::theme;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    let key = app.core.key(slot);
    let title = if app.core.compare() {
        format!(
            " Answer · {} ",
            app.core.model(slot).map(|m| m.name()).unwrap_or("?")
        )
    } else {
        " Answer ".to_string()
    };
    let block = pane_block(title, app.focus == Pane::Answer);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // What it shows is `Explorer::shown` (explorer/shown.rs).
    let shown = app.core.shown(slot);
    let lines = match (shown.trace, shown.live) {
        (Some(trace), _) => trace_lines(trace),
        (None, Some(live)) => {
            let text: String = live.tokens.iter().map(|s| s.piece.as_str()).collect();
            let mut lines = gold_lines(app);
            lines.push(Line::from(vec![
                Span::styled("Answer ", theme::dim()),
                Span::styled(text, Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(
                    format!(" {}", spinner(app.tick)),
                    Style::new().fg(theme::ACCENT),
                ),
            ]));
            if let Some(first) = live.tokens.first() {
                lines.push(top_line(&first.top));
            }
            lines
        }
        (None, None) => {
            let mut lines = gold_lines(app);
            lines.push(super::panes::status_line(app, &key, "answer"));
            lines
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// Gold answers of the selection, from the data set (before the trace brings its own).
fn gold_lines(app: &App) -> Vec<Line<'static>> {
    let langs = app.core.selection.setting.langs();
    let golds: Vec<String> = app
        .core
        .data
        .get(app.core.selection.sample)
        .and_then(|s| s.entry(langs.answer))
        .map(|e| e.answers.iter().map(|a| a.text.clone()).collect())
        .unwrap_or_default();
    vec![gold_line(&golds)]
}

fn gold_line(golds: &[String]) -> Line<'static> {
    let text = if golds.is_empty() {
        "(none)".to_string()
    } else {
        golds.join(" | ")
    };
    Line::from(vec![
        Span::styled("Gold   ", theme::dim()),
        Span::styled(text, Style::new().fg(theme::GOLD)),
    ])
}

pub fn trace_lines(trace: &SampleTrace) -> Vec<Line<'static>> {
    let mut lines = vec![gold_line(&trace.gold)];
    let shown = if trace.answer.is_empty() {
        "(empty)".to_string()
    } else {
        trace.answer.clone()
    };
    lines.push(Line::from(vec![
        Span::styled("Answer ", theme::dim()),
        Span::styled(shown, Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(
            format!(
                "  ({} tokens, {:?})",
                trace.generation.ids.len(),
                trace.generation.stop
            ),
            theme::dim(),
        ),
    ]));
    if let Some(scores) = &trace.scores {
        let mut spans = Vec::new();
        for (i, s) in scores.iter().enumerate() {
            let colour = if s.f1 >= 50.0 {
                theme::GOOD
            } else {
                theme::BAD
            };
            if i > 0 {
                spans.push(Span::styled("  ·  ", theme::dim()));
            }
            spans.push(Span::styled(
                format!("F1 {:.1}", s.f1),
                Style::new().fg(colour).add_modifier(if i == 0 {
                    Modifier::BOLD
                } else {
                    Modifier::empty()
                }),
            ));
            spans.push(Span::raw(format!(" EM {:.0}", s.em)));
            spans.push(Span::styled(format!(" ({})", s.normalizer), theme::dim()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(label_line(trace));
    lines.push(top_line(&trace.top_logits));
    lines
}

fn label_line(trace: &SampleTrace) -> Line<'static> {
    let labels = &trace.labels;
    let mut spans = vec![Span::styled("Labels ", theme::dim())];
    match labels.language_error {
        Some(true) => spans.push(Span::styled(
            format!(
                "language error (answer in {})",
                labels.detected_lang.map(|l| l.code()).unwrap_or("?")
            ),
            Style::new().fg(theme::BAD),
        )),
        Some(false) => spans.push(Span::styled("language ok", Style::new().fg(theme::GOOD))),
        None => spans.push(Span::styled("language n/a", theme::dim())),
    }
    for label in std::iter::once(&labels.generation).chain(labels.judge.as_ref()) {
        spans.push(Span::styled(" · ", theme::dim()));
        match label.error {
            Some(e) => spans.push(Span::styled(e.to_string(), Style::new().fg(theme::BAD))),
            None => spans.push(Span::styled(
                "no generation error",
                Style::new().fg(theme::GOOD),
            )),
        }
        spans.push(Span::styled(format!(" [{}]", label.judge), theme::dim()));
    }
    Line::from(spans)
}

/// The first step's candidates with their probabilities.
fn top_line(top: &[TopToken]) -> Line<'static> {
    let mut spans = vec![Span::styled("Top-k  ", theme::dim())];
    for (i, t) in top.iter().take(5).enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme::dim()));
        }
        spans.push(Span::styled(
            format!("{:?}", t.piece),
            if i == 0 {
                Style::new().fg(theme::ACCENT)
            } else {
                Style::new()
            },
        ));
        spans.push(Span::styled(format!(" {:.2}", t.prob), theme::dim()));
    }
    Line::from(spans)
}

//! The language sweep: the current sample in every language at once (answer, F1, errors,
//! question/context MRD, similarity peak, the language lens's decision layer), filled in as
//! traces arrive.

use super::{pane_block, spinner};
use crate::data::prompt::Part;
use crate::data::Lang;
use crate::explorer::worker::Slot;
use crate::similarity::SimPart;
use crate::tui::app::App;
use crate::tui::theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let slots: Vec<Slot> = app.core.slots().collect();
    let columns = slots.len().max(1) as u32;
    let areas =
        ratatui::layout::Layout::horizontal(slots.iter().map(|_| Constraint::Ratio(1, columns)))
            .split(area);
    for (slot, area) in slots.into_iter().zip(areas.iter()) {
        table(frame, *area, app, slot);
    }
}

fn table(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    let model = app
        .core
        .model(slot)
        .map(|m| m.name().to_string())
        .unwrap_or_default();
    let title = format!(
        " Language sweep · #{} · {} · {} ",
        app.core.selection.sample, app.core.selection.setting.scenario, model
    );
    let header = Row::new(
        [
            "lang",
            "answer",
            "F1",
            "EM",
            "lang err",
            "gen err",
            "MRD q",
            "MRD ctx",
            "sim peak ctx",
            "decision",
        ]
        .map(|h| Cell::from(h).style(theme::title())),
    );
    let mut langs = vec![Lang::En];
    langs.extend(app.core.x_langs());
    let rows: Vec<Row> = langs
        .into_iter()
        .map(|lang| {
            let key = app.core.key_for(slot, lang);
            let selected = lang == app.core.selection.setting.lang;
            let code = Cell::from(lang.code()).style(if selected {
                Style::new().fg(theme::ACCENT).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            });
            match app.core.cache.peek(&key) {
                Some(t) => {
                    let f1 = t.scores.as_ref().and_then(|s| s.first());
                    let f1_cell = match f1 {
                        Some(s) => Cell::from(format!("{:.1}", s.f1)).style(Style::new().fg(
                            if s.f1 >= 50.0 {
                                theme::GOOD
                            } else {
                                theme::BAD
                            },
                        )),
                        None => Cell::from("–"),
                    };
                    let lang_err = match t.labels.language_error {
                        Some(true) => Cell::from("yes").style(Style::new().fg(theme::BAD)),
                        Some(false) => Cell::from("no"),
                        None => Cell::from("–").style(theme::dim()),
                    };
                    let gen = t
                        .labels
                        .judge
                        .as_ref()
                        .unwrap_or(&t.labels.generation)
                        .error
                        .map_or("–".to_string(), |e| e.to_string());
                    let mrd = |part: Part| {
                        t.relevance
                            .as_ref()
                            .and_then(|r| r.part_mrd.get(part))
                            .map_or("–".to_string(), |m| m.to_string())
                    };
                    let peak = t
                        .similarity
                        .as_ref()
                        .map(|s| {
                            let level = *s.series.peak.get(SimPart::Context);
                            let value = s.series.cosine.get(SimPart::Context).get(level);
                            format!("L{level} {:.2}", value.copied().unwrap_or(f64::NAN))
                        })
                        .unwrap_or_else(|| "–".into());
                    let decision = t
                        .lens
                        .as_ref()
                        .map_or("–".to_string(), |l| format!("L{}", l.lens.decision_level));
                    Row::new(vec![
                        code,
                        Cell::from(t.answer.clone()),
                        f1_cell,
                        Cell::from(f1.map_or("–".to_string(), |s| format!("{:.0}", s.em))),
                        lang_err,
                        Cell::from(gen),
                        Cell::from(mrd(Part::Question)),
                        Cell::from(mrd(Part::Context)),
                        Cell::from(peak),
                        Cell::from(decision),
                    ])
                }
                None => {
                    let status = match (app.core.live_for(&key), app.core.failures.get(&key)) {
                        (Some(live), _) => Line::from(Span::styled(
                            format!(
                                "{} {}",
                                spinner(app.tick),
                                live.stage.map(|s| s.to_string()).unwrap_or_default()
                            ),
                            Style::new().fg(theme::ACCENT),
                        )),
                        (None, Some(e)) => Line::from(Span::styled(
                            format!("failed: {e}"),
                            Style::new().fg(theme::BAD),
                        )),
                        (None, None) => Line::from(Span::styled("queued", theme::dim())),
                    };
                    Row::new(vec![code, Cell::from(status)])
                }
            }
        })
        .collect();
    let widths = [
        Constraint::Length(4),
        Constraint::Min(12),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(pane_block(title, true));
    frame.render_widget(table, area);
}

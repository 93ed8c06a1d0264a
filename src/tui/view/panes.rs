//! The analysis panes: relevance heatmap, MRD bars, similarity sparklines, oracle bars, the
//! compare diff line, and the waiting/status lines they show until their data arrive.

use super::{pane_block, spinner};
use crate::attribution::mrd::{heatmap_rows, token_column};
use crate::data::prompt::Part;
use crate::explorer::shown::Status;
use crate::explorer::worker::{Slot, TraceKey};
use crate::pipeline::SampleTrace;
use crate::similarity::SimPart;
use crate::tui::app::{App, Pane, Rows};
use crate::tui::theme;
use crate::tui::widgets::bars::{Bar, LabelledBars};
use crate::tui::widgets::heatmap::{HeatRow, Heatmap, HeatmapLegend, MRD_MARKER};
use crate::tui::widgets::sparklines::{
    language_chart, series_palette, LayerSparklines, NamedSeries, Series,
};
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// A centred "working on it" box for the whole body.
pub fn waiting(frame: &mut Frame, area: Rect, title: &str, what: &str, tick: u64) {
    let block = pane_block(format!(" {title} "), false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let y = inner.y + inner.height / 2;
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(spinner(tick), Style::new().fg(theme::ACCENT)),
            Span::raw(format!(" {what}")),
        ]))
        .alignment(Alignment::Center),
        Rect {
            y,
            height: 1,
            ..inner
        },
    );
}

/// Why a pane is still empty (decided by `Explorer::status`, explorer/shown.rs).
pub fn status_line(app: &App, key: &TraceKey, what: &str) -> Line<'static> {
    match app.core.status(key) {
        Status::Failed(error) => Line::from(Span::styled(
            format!("failed: {error} (R retries)"),
            Style::new().fg(theme::BAD),
        )),
        Status::NotSaved => Line::from(Span::styled(
            format!("no {what} saved for this selection (replay)"),
            theme::dim(),
        )),
        Status::Running(stage) => Line::from(vec![
            Span::styled(spinner(app.tick), Style::new().fg(theme::ACCENT)),
            Span::raw(format!(
                " {what}: {}",
                match stage {
                    Some(stage) => format!("{stage} running"),
                    None => "starting".into(),
                }
            )),
        ]),
        Status::WaitingForModel => Line::from(vec![
            Span::styled(spinner(app.tick), Style::new().fg(theme::ACCENT)),
            Span::raw(" waiting for the model"),
        ]),
        Status::Queued => Line::from(vec![
            Span::styled(spinner(app.tick), theme::dim()),
            Span::styled(format!(" {what}: queued"), theme::dim()),
        ]),
    }
}

/// The trace of the selection (`Explorer::shown_for`, explorer/shown.rs) when it has the
/// results `has` asks for; else the pane draws a status line.
pub(super) fn with_trace<'a>(
    app: &'a App,
    key: &TraceKey,
    has: impl Fn(&SampleTrace) -> bool,
) -> Option<&'a SampleTrace> {
    app.core.shown_for(key.clone()).trace.filter(|t| has(t))
}

/// "A" or "B" in compare mode.
pub(super) fn slot_letter(slot: Slot) -> &'static str {
    match slot {
        Slot::Primary => "A",
        Slot::Compare => "B",
    }
}

/// S(en,x) at the cursor layer, or why it is not there yet.
fn ratio_line(app: &App, sim: &crate::similarity::SampleSimilarity) -> String {
    match &sim.ratio {
        Some(r) => {
            let at = |part: SimPart| {
                r.get(part)
                    .get(app.core.layer)
                    .copied()
                    .flatten()
                    .map_or("–".to_string(), |v| format!("{v:.2}"))
            };
            format!(
                "S(en,{}) @L{}: q {} · ctx {} · last {} ({} reference samples)",
                app.core.selection.setting.lang.code(),
                app.core.layer,
                at(SimPart::Question),
                at(SimPart::Context),
                at(SimPart::Last),
                sim.reference_samples
            )
        }
        None => format!(
            "S(en,x) needs 2 other samples of {} in the pool ({} so far)",
            app.core.selection.setting.lang.code(),
            sim.reference_samples
        ),
    }
}

fn slot_title(app: &App, slot: Slot, title: &str) -> String {
    if app.core.compare() {
        format!(" {title} · {} ", slot_letter(slot))
    } else {
        format!(" {title} ")
    }
}

/// Tokens x layers heatmap with MRD markers, layer cursor and legend.
pub fn relevance(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    if app.diff_view && slot == Slot::Compare && app.core.compare() {
        relevance_diff(frame, area, app);
        return;
    }
    let key = app.core.key(slot);
    let rows_label = match app.rows {
        Rows::TopK(k) => format!("top-{k} tokens per part"),
        Rows::All => "all tokens".into(),
    };
    let ready = with_trace(app, &key, |t| t.relevance.is_some());
    // What the relevance explains: the step target's piece and how it was chosen.
    let explains = ready
        .and_then(|t| t.target.as_ref())
        .map(|target| {
            let piece = target
                .step_id()
                .and_then(|id| t_piece(ready, id))
                .unwrap_or_default();
            format!(" · explains {piece} ({})", target.basis.label())
        })
        .unwrap_or_default();
    let title = slot_title(
        app,
        slot,
        &format!(
            "Relevance · {}{explains} · {rows_label}",
            app.core.selection.target.name()
        ),
    );
    let block = pane_block(title, app.focus == Pane::Relevance);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(trace) = ready else {
        frame.render_widget(Paragraph::new(status_line(app, &key, "relevance")), inner);
        return;
    };
    let Some(rel) = &trace.relevance else {
        return;
    };
    let [map_area, legend_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    // The prompt's tokens, then the answer prefix fed back as input.
    let tokens = trace.relevance_tokens();
    let parts: Vec<Part> = tokens.iter().map(|t| t.part).collect();
    let gold = trace.gold_tokens(tokens.len());
    // The gold answer's tokens are always shown, so one sees whether relevance found them.
    let top_k = match app.rows {
        Rows::TopK(k) => Some(k),
        Rows::All => None,
    };
    let chosen = heatmap_rows(&rel.display, &parts, &gold, top_k);
    let columns: Vec<Vec<f32>> = chosen
        .iter()
        .map(|&t| token_column(&rel.display, t))
        .collect();
    let rows: Vec<HeatRow> = chosen
        .iter()
        .zip(&columns)
        .map(|(&t, values)| HeatRow {
            label: tokens.get(t).map_or("", |tok| tok.piece.as_str()),
            color: parts.get(t).map(|p| theme::part_color(*p)),
            values,
            mrd: rel.token_mrd.get(t).copied().flatten(),
            gold: gold[t],
        })
        .collect();
    let decision = trace.lens.as_ref().map(|l| l.lens.decision_level);
    let heatmap = Heatmap::new(&rows)
        .cursor(Some(app.core.layer))
        .decision(decision)
        .scroll(usize::from(app.scroll_of(Pane::Relevance)));
    frame.render_widget(heatmap, map_area);
    let legend_title = format!("layer {} ", app.core.layer);
    frame.render_widget(
        HeatmapLegend::new()
            .title(Some(legend_title.as_str()))
            .decision(decision.is_some()),
        legend_area,
    );
}

/// The readable piece of a generated token of `trace`, quoted.
fn t_piece(trace: Option<&crate::pipeline::SampleTrace>, id: u32) -> Option<String> {
    let trace = trace?;
    trace
        .generation
        .steps
        .iter()
        .find(|s| s.id == id)
        .map(|s| format!("«{}»", s.piece))
        .or_else(|| Some(format!("#{id}")))
}

/// Compare mode with `d`: relevance B − A (`Explorer::relevance_diff`) over the aligned
/// tokens, each level scaled by its own largest |Δr| (red: B relies on the token more),
/// labels carrying the token MRD difference; the tokens only one prompt has are counted in
/// the title and listed in the diff pane.
fn relevance_diff(frame: &mut Frame, area: Rect, app: &App) {
    let diff = app.core.relevance_diff();
    let title = match &diff {
        Some(Ok(d)) => format!(
            " Relevance B − A · {} aligned · only A {} · only B {} ",
            d.aligned.len(),
            d.unaligned_a.len(),
            d.unaligned_b.len()
        ),
        _ => " Relevance B − A ".to_string(),
    };
    let block = pane_block(title, app.focus == Pane::Relevance);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let diff = match diff {
        Some(Ok(diff)) => diff,
        Some(Err(why)) => {
            frame.render_widget(
                Paragraph::new(Span::styled(why, Style::new().fg(theme::BAD)))
                    .wrap(Wrap { trim: true }),
                inner,
            );
            return;
        }
        None => {
            frame.render_widget(
                Paragraph::new(Span::styled(
                    "waiting for both models' relevance",
                    theme::dim(),
                )),
                inner,
            );
            return;
        }
    };
    let scaled: Vec<Vec<f32>> = diff
        .delta
        .iter()
        .map(|row| {
            let max = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            row.iter()
                .map(|&v| if max > 0.0 { (v / max) as f32 } else { 0.0 })
                .collect()
        })
        .collect();
    let parts: Vec<Part> = diff.aligned.iter().map(|p| p.part).collect();
    let top_k = match app.rows {
        Rows::TopK(k) => Some(k),
        Rows::All => None,
    };
    let chosen = heatmap_rows(&scaled, &parts, &[], top_k);
    let labels: Vec<String> = chosen
        .iter()
        .map(|&k| match diff.token_mrd_delta.get(k).copied().flatten() {
            Some(d) if d != 0 => format!("{} {d:+}", diff.aligned[k].piece),
            _ => diff.aligned[k].piece.clone(),
        })
        .collect();
    let columns: Vec<Vec<f32>> = chosen.iter().map(|&k| token_column(&scaled, k)).collect();
    let rows: Vec<HeatRow> = chosen
        .iter()
        .zip(&columns)
        .zip(&labels)
        .map(|((&k, values), label)| HeatRow {
            label,
            color: Some(theme::part_color(parts[k])),
            values,
            mrd: None,
            gold: false,
        })
        .collect();
    let [map_area, note] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        Heatmap::new(&rows)
            .cursor(Some(app.core.layer))
            .scroll(usize::from(app.scroll_of(Pane::Relevance))),
        map_area,
    );
    frame.render_widget(
        Paragraph::new(Span::styled(
            "Δr = r_B − r_A per token, each layer / its max |Δr| · label ±n: token MRD B − A",
            theme::dim(),
        )),
        note,
    );
}

/// Part MRDs as bars over the N counted layers.
pub fn mrd(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    let key = app.core.key(slot);
    let title = slot_title(app, slot, "MRD by part");
    let block = pane_block(title, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(rel) =
        with_trace(app, &key, |t| t.relevance.is_some()).and_then(|t| t.relevance.as_ref())
    else {
        frame.render_widget(Paragraph::new(status_line(app, &key, "MRD")), inner);
        return;
    };
    let n = rel.part_mrd.counted_layers;
    let shown: Vec<_> = rel
        .part_mrd
        .parts
        .iter()
        .filter(|p| p.tokens > 0 && p.part != Part::Trailer)
        .collect();
    let bars: Vec<Bar> = shown
        .iter()
        .map(|p| {
            Bar::new(p.part.label(), p.mrd.map_or(0.0, |m| m as f32))
                .label_color(theme::part_color(p.part))
                .text(
                    p.mrd
                        .map_or_else(|| "–".to_string(), |m| format!("{m}/{n}")),
                )
                .style(Style::new().fg(theme::part_color(p.part)))
        })
        .collect();
    let [bars_area, note] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(LabelledBars::new(&bars).max(Some(n as f32)), bars_area);
    frame.render_widget(
        Paragraph::new(Span::styled(
            format!("N = {n} · {MRD_MARKER} = token MRD"),
            theme::dim(),
        )),
        note,
    );
}

/// Per-layer cosine to the en-en run (question, context, last token), or all languages.
pub fn similarity(frame: &mut Frame, area: Rect, app: &App) {
    let title = if app.all_langs {
        " Similarity to en-en · all languages (context) ".to_string()
    } else {
        format!(
            " Similarity en vs {} · per layer ",
            app.core.selection.setting.lang.code()
        )
    };
    let block = pane_block(title, app.focus == Pane::Similarity);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.core.selection.setting.scenario == crate::data::prompt::Scenario::EnEn {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "en-en is the reference itself: pick en-x or x-x (s) to compare languages",
                theme::dim(),
            ))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    if app.all_langs {
        all_languages(frame, inner, app);
        return;
    }
    let slots: Vec<Slot> = app.core.slots().collect();
    // Owned first: the widget borrows labels and values.
    let mut owned: Vec<(String, ratatui::style::Color, Vec<f32>)> = Vec::new();
    let mut ratio_text = Vec::new();
    for slot in &slots {
        let key = app.core.key(*slot);
        let Some(sim) =
            with_trace(app, &key, |t| t.similarity.is_some()).and_then(|t| t.similarity.as_ref())
        else {
            continue;
        };
        for (i, part) in SimPart::ALL.into_iter().enumerate() {
            let name = if app.core.compare() {
                format!("{} {}", slot_letter(*slot), part.name())
            } else {
                part.name().to_string()
            };
            let values = sim
                .series
                .cosine
                .get(part)
                .iter()
                .map(|v| *v as f32)
                .collect();
            owned.push((name, series_palette(i + 3 * slot.index()), values));
        }
        ratio_text.push(ratio_line(app, sim));
    }
    let series: Vec<Series> = owned
        .iter()
        .map(|(label, color, values)| Series {
            label,
            color: *color,
            values,
        })
        .collect();
    if series.is_empty() {
        let key = app.core.key(Slot::Primary);
        frame.render_widget(Paragraph::new(status_line(app, &key, "similarity")), inner);
        return;
    }
    let [spark_area, ratio_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);
    frame.render_widget(
        LayerSparklines::new(&series).cursor(Some(app.core.layer)),
        spark_area,
    );
    frame.render_widget(
        Paragraph::new(Span::styled(ratio_text.join("  |  "), theme::dim())),
        ratio_area,
    );
}

/// The paper's Figure 4 view: context cosine per layer for every language traced so far.
fn all_languages(frame: &mut Frame, area: Rect, app: &App) {
    let mut series: Vec<NamedSeries> = Vec::new();
    let mut missing = 0;
    for (i, lang) in app.core.x_langs().into_iter().enumerate() {
        let key = app.core.key_for(Slot::Primary, lang);
        match app
            .core
            .cache
            .peek(&key)
            .and_then(|t| t.similarity.as_ref())
        {
            Some(sim) => series.push((
                lang.code().to_string(),
                series_palette(i),
                sim.series
                    .cosine
                    .context
                    .iter()
                    .enumerate()
                    .map(|(l, v)| (l as f64, *v))
                    .collect::<Vec<(f64, f64)>>(),
            )),
            None => missing += 1,
        }
    }
    if series.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(spinner(app.tick), Style::new().fg(theme::ACCENT)),
                Span::raw(" tracing the sample in every language…"),
            ])),
            area,
        );
        return;
    }
    let [chart_area, note] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    frame.render_widget(
        language_chart(&series, [-1.0, 1.0], Some(app.core.layer)),
        chart_area,
    );
    let text = if missing > 0 {
        format!("{} languages · {missing} still tracing", series.len())
    } else {
        format!("{} languages", series.len())
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme::dim())), note);
}

/// One bar pair per context sentence: the drop of the answer's log-probability when the
/// sentence is ablated (first step, whole sequence); the gold sentence starred.
pub fn oracle(frame: &mut Frame, area: Rect, app: &App, slot: Slot) {
    let key = app.core.key(slot);
    let block = pane_block(
        slot_title(app, slot, "Oracle · sentence ablation"),
        app.focus == Pane::Oracle,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(result) =
        with_trace(app, &key, |t| t.oracle.is_some()).and_then(|t| t.oracle.as_ref())
    else {
        frame.render_widget(Paragraph::new(status_line(app, &key, "oracle")), inner);
        return;
    };
    let verdict = |c: Option<bool>| match c {
        Some(true) => Span::styled("✓", Style::new().fg(theme::GOOD)),
        Some(false) => Span::styled("✗", Style::new().fg(theme::BAD)),
        None => Span::styled("n/a", theme::dim()),
    };
    let summary = Line::from(vec![
        Span::styled("gold top? step ", theme::dim()),
        verdict(result.step_correct),
        Span::styled(" seq ", theme::dim()),
        verdict(result.sequence_correct),
        Span::styled(
            format!(
                " · gold sentence {}",
                result
                    .gold_sentence
                    .map_or("–".to_string(), |g| format!("s{g}"))
            ),
            theme::dim(),
        ),
    ]);
    let max = result
        .sentences
        .iter()
        .flat_map(|s| [s.step_drop.abs(), s.sequence_drop.abs()])
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let labels: Vec<(String, String)> = result
        .sentences
        .iter()
        .map(|s| (format!("s{} step", s.index), format!("s{} seq", s.index)))
        .collect();
    let bars: Vec<Bar> = result
        .sentences
        .iter()
        .zip(&labels)
        .flat_map(|(s, (step_label, seq_label))| {
            let gold = s.contains_gold || result.gold_sentence == Some(s.index);
            let colour = if gold {
                theme::GOLD
            } else {
                theme::part_color(Part::Context)
            };
            let mut step = Bar::new(step_label, s.step_drop)
                .label_color(colour)
                .text(format!("{:+.2}", s.step_drop))
                .style(Style::new().fg(colour));
            if gold {
                step = step.marker("★");
            }
            let seq = Bar::new(seq_label, s.sequence_drop)
                .label_color(colour)
                .text(format!("{:+.2}", s.sequence_drop))
                .style(Style::new().fg(colour).add_modifier(Modifier::DIM));
            [step, seq]
        })
        .skip(usize::from(app.scroll_of(Pane::Oracle)))
        .collect();
    let [summary_area, bars_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    frame.render_widget(Paragraph::new(summary), summary_area);
    frame.render_widget(LabelledBars::new(&bars).max(Some(max)), bars_area);
}

/// Compare mode: what differs between the two models on this selection.
pub fn diff(frame: &mut Frame, area: Rect, app: &App) {
    let block = pane_block(" Diff B − A ", false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let a = app.core.trace_for(&app.core.key(Slot::Primary));
    let b = app.core.trace_for(&app.core.key(Slot::Compare));
    let (Some(a), Some(b)) = (a, b) else {
        frame.render_widget(
            Paragraph::new(Span::styled("waiting for both answers", theme::dim())),
            inner,
        );
        return;
    };
    let f1 = |t: &SampleTrace| t.scores.as_ref().and_then(|s| s.first()).map(|s| s.f1);
    let mut spans = vec![Span::styled("ΔF1 ", theme::dim())];
    match (f1(a), f1(b)) {
        (Some(x), Some(y)) => {
            let d = y - x;
            spans.push(Span::styled(
                format!("{d:+.1}"),
                Style::new().fg(if d >= 0.0 { theme::GOOD } else { theme::BAD }),
            ));
        }
        _ => spans.push(Span::raw("–")),
    }
    let mut mrd_spans = vec![Span::styled("ΔMRD ", theme::dim())];
    match (&a.relevance, &b.relevance) {
        (Some(ra), Some(rb)) => {
            for part in Part::CONTENT {
                if let (Some(x), Some(y)) = (ra.part_mrd.get(part), rb.part_mrd.get(part)) {
                    mrd_spans.push(Span::styled(
                        format!("{} ", part.name()),
                        Style::new().fg(theme::part_color(part)),
                    ));
                    mrd_spans.push(Span::raw(format!("{:+} ", y as i64 - x as i64)));
                }
            }
        }
        _ => mrd_spans.push(Span::styled("waiting for relevance", theme::dim())),
    }
    // The tokens only one prompt has (template markup, system text): listed, not hidden.
    let mut lines = vec![Line::from(
        spans
            .into_iter()
            .chain([Span::raw("  ")])
            .chain(mrd_spans)
            .collect::<Vec<_>>(),
    )];
    match app.core.relevance_diff() {
        Some(Ok(d)) => {
            for (side, tokens) in [("A", &d.unaligned_a), ("B", &d.unaligned_b)] {
                let list: Vec<&str> = tokens.iter().map(|t| t.piece.as_str()).collect();
                lines.push(Line::from(vec![
                    Span::styled(format!("only {side} ({}) ", tokens.len()), theme::dim()),
                    Span::raw(list.join(" ")),
                ]));
            }
        }
        Some(Err(why)) => lines.push(Line::from(Span::styled(why, Style::new().fg(theme::BAD)))),
        None => lines.push(Line::from(Span::styled(
            "alignment: waiting for relevance",
            theme::dim(),
        ))),
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

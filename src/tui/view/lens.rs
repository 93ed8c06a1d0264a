//! The language lens pane (METHOD.md, "Language lens"): at the layer cursor, the top tokens
//! the model's head reads from that level, with their script; the generated token's
//! probability, rank, entropy and KL there; and over all levels the curves of the generated
//! token and of the English (`P_en`) and language-x (`P_x`) gold answers' first tokens, on
//! the layer axis the heatmap and the similarity share, with the decision layer.

use super::pane_block;
use super::panes::{slot_letter, status_line, with_trace};
use crate::explorer::worker::Slot;
use crate::lens::LensTrace;
use crate::tui::app::{App, Pane};
use crate::tui::theme;
use crate::tui::widgets::heatmap::DECISION_MARKER;
use crate::tui::widgets::sparklines::{series_palette, LayerSparklines, Series};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let level = app.core.layer;
    let block = pane_block(
        format!(" Language lens · L{level} "),
        app.focus == Pane::Lens,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let slots: Vec<Slot> = app.core.slots().collect();
    let compare = app.core.compare();
    let mut text: Vec<Line> = Vec::new();
    let mut owned: Vec<(String, Color, Vec<f32>)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for slot in &slots {
        let key = app.core.key(*slot);
        let letter = if compare {
            format!("{} ", slot_letter(*slot))
        } else {
            String::new()
        };
        let Some(lens) = with_trace(app, &key, |t| t.lens.is_some()).and_then(|t| t.lens.as_ref())
        else {
            let mut line = status_line(app, &key, "lens");
            line.spans.insert(0, Span::raw(letter));
            text.push(line);
            continue;
        };
        text.push(top_line(&letter, lens, level));
        text.push(generated_line(&letter, lens, level));
        let base = 3 * slot.index();
        owned.push((
            format!("{letter}gen {}", quoted(&lens.lens.generated_piece)),
            series_palette(base),
            lens.lens.levels.iter().map(|l| l.generated_prob).collect(),
        ));
        for (i, curve) in [&lens.p_en, &lens.p_x].into_iter().enumerate() {
            if let Some(curve) = curve {
                owned.push((
                    format!(
                        "{letter}P_{} {}",
                        curve_name(i, curve.lang),
                        quoted(&curve.piece)
                    ),
                    series_palette(base + 1 + i),
                    curve.prob.clone(),
                ));
            }
        }
        if lens.same_first_token {
            notes.push(format!(
                "{letter}P_x = P_en: both gold answers begin with {}",
                lens.p_en
                    .as_ref()
                    .map_or(String::new(), |c| quoted(&c.piece))
            ));
        } else if lens.p_en.is_some() && lens.p_x.is_none() {
            notes.push(format!("{letter}en-en: P_en only"));
        }
    }
    let series: Vec<Series> = owned
        .iter()
        .map(|(label, color, values)| Series {
            label,
            color: *color,
            values,
        })
        .collect();
    let note_lines = u16::from(!notes.is_empty());
    let [text_area, spark_area, note_area] = Layout::vertical([
        Constraint::Length(text.len() as u16),
        Constraint::Min(0),
        Constraint::Length(note_lines),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(text), text_area);
    if !series.is_empty() {
        // One scale for every curve, 0 to the largest probability, so they compare.
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .fold(0.0f32, f32::max)
            .max(1e-6);
        frame.render_widget(
            LayerSparklines::new(&series)
                .range(Some((0.0, top)))
                .cursor(Some(level))
                .format(prob_text),
            spark_area,
        );
    }
    if !notes.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(notes.join("  |  "), theme::dim())),
            note_area,
        );
    }
}

/// A probability in four characters: two decimals from 0.01, else its order of magnitude
/// (`3e-4`), so small probabilities on the lower levels are not all `0.00`.
pub fn prob_text(p: f32) -> String {
    if p >= 0.01 || p <= 0.0 || !p.is_finite() {
        format!("{p:.2}")
    } else {
        format!("{p:.0e}")
    }
}

fn curve_name(i: usize, lang: crate::data::Lang) -> String {
    if i == 0 {
        "en".into()
    } else {
        lang.code().to_string()
    }
}

/// A piece in guillemets, spaces shown as `␣` so a leading space is seen.
fn quoted(piece: &str) -> String {
    format!("«{}»", piece.replace(' ', "␣"))
}

/// The top tokens at `level`: piece, probability, script.
fn top_line(letter: &str, lens: &LensTrace, level: usize) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{letter}top "), theme::dim())];
    let Some(at) = lens.lens.levels.get(level) else {
        spans.push(Span::styled("no such level", theme::dim()));
        return Line::from(spans);
    };
    for (i, t) in at.top.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme::dim()));
        }
        let style = if t.token.id == lens.lens.generated {
            Style::new().fg(theme::GOOD).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        spans.push(Span::styled(quoted(&t.token.piece), style));
        spans.push(Span::raw(format!(" {} ", prob_text(t.token.prob))));
        spans.push(Span::styled(t.tag.label(), theme::dim()));
    }
    Line::from(spans)
}

/// The decision layer first (it must survive a narrow pane), then the generated token at
/// `level`: probability, rank, entropy, KL to the last level.
fn generated_line(letter: &str, lens: &LensTrace, level: usize) -> Line<'static> {
    let decision = lens.lens.decision_level;
    let style = if decision == level {
        Style::new().fg(theme::GOOD).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(theme::GOOD)
    };
    let mut spans = vec![
        Span::raw(letter.to_string()),
        Span::styled(format!("{DECISION_MARKER} decision L{decision}"), style),
        Span::styled(" · ", theme::dim()),
        Span::styled(
            format!("{} ", quoted(&lens.lens.generated_piece)),
            Style::new().fg(theme::GOOD),
        ),
    ];
    if let Some(at) = lens.lens.levels.get(level) {
        spans.push(Span::raw(format!(
            "p {} · rank {} · H {:.2} · KL {:.2}",
            prob_text(at.generated_prob),
            at.generated_rank,
            at.entropy,
            at.kl_to_last
        )));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_keep_their_order_of_magnitude() {
        assert_eq!(prob_text(0.123), "0.12");
        assert_eq!(prob_text(0.01), "0.01");
        assert_eq!(prob_text(0.00031), "3e-4");
        assert_eq!(prob_text(0.0), "0.00");
        assert_eq!(quoted(" on"), "«␣on»");
    }
}

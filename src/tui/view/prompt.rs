//! The prompt pane: the prompt text with its parts coloured and labelled, the gold answer
//! highlighted, and each token's relevance at the selected layer as background colour.
//! Before a trace arrives it shows the sample's own context and question.
//!
//! Text is wrapped here, by display width (unicode-width), so wide scripts (zh, th, hi)
//! never overflow; Arabic stays in logical order, one cell per character as measured.

use super::pane_block;
use crate::data::prompt::{Part, Scenario};
use crate::explorer::worker::Slot;
use crate::pipeline::SampleTrace;
use crate::tui::app::{App, Pane};
use crate::tui::theme;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let focused = app.focus == Pane::Prompt;
    let key = app.core.key(Slot::Primary);
    let trace = app.core.trace_for(&key);
    let title = match trace {
        Some(t) => format!(" Prompt · {} tokens ", t.tokens.len()),
        None => " Prompt (sample text; the full prompt comes with the trace) ".to_string(),
    };
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width < 4 || inner.height < 2 {
        return;
    }
    let mut lines = match trace {
        Some(t) => {
            let mut lines = vec![legend(t)];
            lines.extend(prompt_lines(t, app.core.layer, app.shading, inner.width));
            lines
        }
        None => sample_lines(app, inner.width),
    };
    let scroll = usize::from(app.scroll_of(Pane::Prompt)).min(lines.len().saturating_sub(1));
    lines.drain(..scroll);
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Part colours present in the prompt, as a one-line legend.
fn legend(trace: &SampleTrace) -> Line<'static> {
    let mut spans = Vec::new();
    for part in Part::ALL {
        if trace.tokens.iter().any(|t| t.part == part) {
            spans.push(Span::styled("■ ", Style::new().fg(theme::part_color(part))));
            spans.push(Span::styled(format!("{}  ", part.label()), theme::dim()));
        }
    }
    spans.push(Span::styled("▁gold", Style::new().fg(theme::GOLD)));
    Line::from(spans)
}

/// The traced prompt, styled char by char and wrapped to `width`.
pub fn prompt_lines(
    trace: &SampleTrace,
    layer: usize,
    shading: bool,
    width: u16,
) -> Vec<Line<'static>> {
    let text: Vec<char> = trace.text.chars().collect();
    let mut styles: Vec<Style> = vec![Style::new(); text.len()];
    if let Some(prompt) = &trace.prompt {
        for span in &prompt.spans {
            for s in styles
                .iter_mut()
                .take(span.end.min(text.len()))
                .skip(span.start)
            {
                *s = s.fg(theme::part_color(span.part));
            }
        }
        for gold in &prompt.gold {
            let end = (gold.start + gold.text.chars().count()).min(text.len());
            for s in styles.iter_mut().take(end).skip(gold.start) {
                *s = s
                    .fg(theme::GOLD)
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
            }
        }
    } else {
        for token in &trace.tokens {
            for s in styles
                .iter_mut()
                .take(token.end.min(text.len()))
                .skip(token.start)
            {
                *s = s.fg(theme::part_color(token.part));
            }
        }
    }
    if shading {
        if let Some(row) = trace.relevance.as_ref().and_then(|r| r.display.get(layer)) {
            for (token, value) in trace.tokens.iter().zip(row) {
                if value.abs() < 0.02 {
                    continue;
                }
                for s in styles
                    .iter_mut()
                    .take(token.end.min(text.len()))
                    .skip(token.start)
                {
                    *s = s.bg(theme::diverging(*value));
                }
            }
        }
    }
    wrap_styled(&text, &styles, width)
}

/// Context and question of the selected sample before its trace exists.
fn sample_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let Some(sample) = app.core.data.get(app.core.selection.sample) else {
        return Vec::new();
    };
    let langs = app.core.selection.setting.langs();
    let mut lines = Vec::new();
    let mut section = |label: &str, part: Part, text: &str, gold: Option<(usize, usize)>| {
        lines.push(Line::from(Span::styled(
            label.to_string(),
            Style::new()
                .fg(theme::part_color(part))
                .add_modifier(Modifier::BOLD),
        )));
        let chars: Vec<char> = text.chars().collect();
        let mut styles = vec![Style::new().fg(theme::part_color(part)); chars.len()];
        if let Some((start, len)) = gold {
            for s in styles.iter_mut().skip(start).take(len) {
                *s = s
                    .fg(theme::GOLD)
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
            }
        }
        lines.extend(wrap_styled(&chars, &styles, width));
        lines.push(Line::default());
    };
    if let Some(entry) = sample.entry(langs.context) {
        let gold = entry
            .answers
            .first()
            .map(|a| (a.start, a.text.chars().count()));
        section(
            &format!("Context ({})", langs.context.code()),
            Part::Context,
            &entry.context,
            gold,
        );
    }
    if let Some(entry) = sample.entry(langs.question) {
        section(
            &format!("Question ({})", langs.question.code()),
            Part::Question,
            &entry.question,
            None,
        );
    }
    if app.core.selection.setting.scenario != Scenario::EnEn || langs.answer != langs.question {
        if let Some(entry) = sample.entry(langs.answer) {
            let golds: Vec<&str> = entry.answers.iter().map(|a| a.text.as_str()).collect();
            lines.push(Line::from(vec![
                Span::styled("Gold: ", Style::new().fg(theme::GOLD)),
                Span::raw(golds.join(" | ")),
            ]));
        }
    }
    lines
}

/// Wraps styled characters to `width` display columns: at the last space when a word would
/// overflow, else mid-word (scripts without spaces); `\n` starts a new line.
pub fn wrap_styled(text: &[char], styles: &[Style], width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let mut lines = Vec::new();
    let mut row: Vec<(char, Style)> = Vec::new();
    let mut row_width = 0usize;
    for (i, &c) in text.iter().enumerate() {
        let style = styles.get(i).copied().unwrap_or_default();
        if c == '\n' {
            lines.push(to_line(&row));
            row.clear();
            row_width = 0;
            continue;
        }
        let c = if c == '\t' || c.is_control() { ' ' } else { c };
        let w = c.width().unwrap_or(0);
        if row_width + w > width {
            // Break at the last space of the row when there is one.
            match row.iter().rposition(|(ch, _)| *ch == ' ') {
                Some(at) if at > 0 => {
                    let rest = row.split_off(at + 1);
                    lines.push(to_line(&row));
                    row = rest;
                }
                _ => {
                    lines.push(to_line(&row));
                    row.clear();
                }
            }
            row_width = row.iter().map(|(ch, _)| ch.width().unwrap_or(0)).sum();
        }
        row.push((c, style));
        row_width += w;
    }
    if !row.is_empty() {
        lines.push(to_line(&row));
    }
    lines
}

/// Runs of equal style become one span each.
fn to_line(row: &[(char, Style)]) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut current = String::new();
    let mut style = None;
    for &(c, s) in row {
        if style != Some(s) {
            if let Some(prev) = style {
                spans.push(Span::styled(std::mem::take(&mut current), prev));
            }
            style = Some(s);
        }
        current.push(c);
    }
    if let Some(prev) = style {
        spans.push(Span::styled(current, prev));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_at_spaces_and_keeps_every_char() {
        let text: Vec<char> = "the quick brown fox jumps".chars().collect();
        let styles = vec![Style::new(); text.len()];
        let lines = plain(&wrap_styled(&text, &styles, 10));
        assert_eq!(lines, ["the quick ", "brown fox ", "jumps"]);
    }

    #[test]
    fn wide_scripts_never_overflow() {
        let text: Vec<char> = "北京是中华人民共和国的首都，也是全国政治中心。"
            .chars()
            .collect();
        let styles = vec![Style::new(); text.len()];
        let lines = plain(&wrap_styled(&text, &styles, 9));
        for l in &lines {
            assert!(l.width() <= 9, "{l:?} is {} wide", l.width());
        }
        assert_eq!(lines.concat().chars().count(), text.len());
    }

    #[test]
    fn arabic_stays_in_logical_order() {
        let s = "القاهرة هي عاصمة مصر";
        let text: Vec<char> = s.chars().collect();
        let styles = vec![Style::new(); text.len()];
        let lines = plain(&wrap_styled(&text, &styles, 80));
        assert_eq!(lines, [s]);
    }

    #[test]
    fn styles_follow_their_chars() {
        let text: Vec<char> = "ab\ncd".chars().collect();
        let red = Style::new().fg(theme::BAD);
        let styles = vec![Style::new(), red, Style::new(), red, red];
        let lines = wrap_styled(&text, &styles, 10);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].spans[1].style, red);
        assert_eq!(lines[1].spans[0].content, "cd");
        assert_eq!(lines[1].spans[0].style, red);
    }
}

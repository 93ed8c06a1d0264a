//! Horizontal labelled bars: the layer each prompt part reaches its MRD (`12/24`), and the
//! answer-probability drops when an oracle removes each sentence (signed).

use super::{display_width, label_column, truncate};
use crate::tui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

/// Left-aligned eighth blocks, one eighth to a full cell: smooth bar ends.
pub const EIGHTHS: [&str; 8] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"];
/// The zero line of signed bars.
pub const CENTRE: &str = "│";
/// Widest label column when the width is computed from the labels.
pub const MAX_LABEL_WIDTH: u16 = 16;

/// One row: label, value, the text shown at the right, an optional marker (`★` for the gold
/// sentence) and a style for the bar and its text (e.g. green for a correct answer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bar<'a> {
    pub label: &'a str,
    pub label_color: Option<Color>,
    pub value: f32,
    pub text: String,
    pub marker: Option<&'a str>,
    pub style: Style,
}

impl<'a> Bar<'a> {
    /// A bar whose text is the value to two decimals.
    pub fn new(label: &'a str, value: f32) -> Self {
        Bar {
            label,
            value,
            text: format!("{value:.2}"),
            ..Bar::default()
        }
    }

    pub fn label_color(mut self, color: Color) -> Self {
        self.label_color = Some(color);
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    pub fn marker(mut self, marker: &'a str) -> Self {
        self.marker = Some(marker);
        self
    }

    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
}

/// Rows of `label [marker] bar text`. Bars scale to `max` (default: the largest |value|) and
/// are drawn in `theme::ACCENT` unless the row's style sets a colour. When any value is
/// negative the bar area splits at a `│` zero line: positive bars grow right of it, negative
/// ones left; a leftward bar's partial end is a left-eighth glyph drawn reversed, since
/// terminals have no right-aligned eighths. NaN values draw no bar.
#[derive(Clone, Copy, Debug, Default)]
pub struct LabelledBars<'a> {
    bars: &'a [Bar<'a>],
    max: Option<f32>,
    label_width: Option<u16>,
}

impl<'a> LabelledBars<'a> {
    pub fn new(bars: &'a [Bar<'a>]) -> Self {
        LabelledBars {
            bars,
            ..LabelledBars::default()
        }
    }

    /// The value of a full bar (the number of layers for MRD bars).
    pub fn max(mut self, max: Option<f32>) -> Self {
        self.max = max;
        self
    }

    pub fn label_width(mut self, width: u16) -> Self {
        self.label_width = Some(width);
        self
    }
}

/// Eighths of `cells` cells that `value` fills at scale `max`, clamped to the cells.
fn eighths(value: f32, max: f32, cells: u16) -> usize {
    let full = usize::from(cells) * 8;
    if !(value.is_finite() && max.is_finite() && max > 0.0) {
        return 0;
    }
    ((value.abs() / max * full as f32).round() as usize).min(full)
}

/// Fill `n` eighths from `x` rightwards.
fn draw_right(buf: &mut Buffer, x: u16, y: u16, n: usize, style: Style) {
    for i in 0..n.div_ceil(8) {
        let rest = (n - i * 8).min(8);
        if let Some(c) = buf.cell_mut((x.saturating_add(i as u16), y)) {
            c.set_symbol(EIGHTHS[rest - 1]).set_style(style);
        }
    }
}

/// Fill `n` eighths leftwards, ending at `x` (inclusive).
fn draw_left(buf: &mut Buffer, x: u16, y: u16, n: usize, style: Style) {
    for i in 0..n.div_ceil(8) {
        let rest = (n - i * 8).min(8);
        let Some(cx) = x.checked_sub(i as u16) else {
            return;
        };
        if let Some(c) = buf.cell_mut((cx, y)) {
            if rest == 8 {
                c.set_symbol(EIGHTHS[7]).set_style(style);
            } else {
                // The empty left part drawn as the glyph, reversed: the bar fills the right.
                c.set_symbol(EIGHTHS[7 - rest])
                    .set_style(style.add_modifier(Modifier::REVERSED));
            }
        }
    }
}

impl Widget for LabelledBars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let lw = label_column(
            self.bars.iter().map(|b| b.label),
            self.label_width,
            MAX_LABEL_WIDTH,
            area.width,
        );
        let marker_w = self
            .bars
            .iter()
            .filter_map(|b| b.marker)
            .map(|m| display_width(m) as u16 + 1)
            .max()
            .unwrap_or(0);
        let tw = self
            .bars
            .iter()
            .map(|b| display_width(&b.text))
            .max()
            .unwrap_or(0) as u16;
        let mut x = area.x + lw + u16::from(lw > 0);
        let marker_x = x;
        x = x.saturating_add(marker_w);
        let text_x = area.right().saturating_sub(tw);
        let bar_x = x;
        let bar_w = text_x.saturating_sub(1).saturating_sub(bar_x);
        let finite = || self.bars.iter().map(|b| b.value).filter(|v| v.is_finite());
        let signed = finite().any(|v| v < 0.0);
        let max = self
            .max
            .filter(|m| m.is_finite() && *m > 0.0)
            .unwrap_or_else(|| finite().fold(0.0, |m, v| m.max(v.abs())));
        let left = if signed {
            bar_w.saturating_sub(1) / 2
        } else {
            0
        };
        let right = if signed {
            bar_w.saturating_sub(left + 1)
        } else {
            bar_w
        };

        for (bar, y) in self.bars.iter().zip(area.y..area.bottom()) {
            let label_style = bar.label_color.map_or(Style::new(), |c| Style::new().fg(c));
            buf.set_stringn(
                area.x,
                y,
                truncate(bar.label, lw.into()),
                lw.into(),
                label_style,
            );
            if let Some(m) = bar.marker {
                if marker_x.saturating_add(marker_w) <= area.right() {
                    buf.set_stringn(
                        marker_x,
                        y,
                        m,
                        marker_w.into(),
                        Style::new().fg(theme::GOLD),
                    );
                }
            }
            let style = Style::new().fg(theme::ACCENT).patch(bar.style);
            if bar_w > 0 {
                if signed {
                    let centre = bar_x + left;
                    if let Some(c) = buf.cell_mut((centre, y)) {
                        c.set_symbol(CENTRE).set_style(theme::dim());
                    }
                    if bar.value < 0.0 {
                        if let Some(end) = centre.checked_sub(1).filter(|_| left > 0) {
                            draw_left(buf, end, y, eighths(bar.value, max, left), style);
                        }
                    } else {
                        draw_right(buf, centre + 1, y, eighths(bar.value, max, right), style);
                    }
                } else {
                    draw_right(buf, bar_x, y, eighths(bar.value, max, right), style);
                }
            }
            let w = display_width(&bar.text) as u16;
            if w > 0 && text_x >= bar_x {
                buf.set_stringn(
                    area.right() - w.min(area.width),
                    y,
                    &bar.text,
                    w.into(),
                    style,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::prompt::Part;
    use crate::tui::widgets::test_util::{assert_symbols, render, symbol_lines};

    #[test]
    fn mrd_bars_scale_to_layers() {
        let ctx = theme::part_color(Part::Context);
        let bars = [
            Bar::new("Context", 12.0).text("12/24").label_color(ctx),
            Bar::new("Question", 24.0).text("24/24"),
            Bar::new("Task", 5.0).text("5/24"),
        ];
        let buf = render(
            LabelledBars::new(&bars).max(Some(24.0)).label_width(8),
            23,
            3,
        );
        let expected = Buffer::with_lines([
            "Context  ████     12/24",
            "Question ████████ 24/24",
            "Task     █▋        5/24",
        ]);
        assert_symbols(&buf, &expected);
        assert_eq!(buf[(0, 0)].fg, ctx);
        assert_eq!(buf[(9, 0)].fg, theme::ACCENT);
        assert_eq!(buf[(18, 0)].fg, theme::ACCENT);
        assert_eq!(buf[(10, 2)].symbol(), "▋");
    }

    #[test]
    fn signed_bars_markers_and_styles() {
        let good = Style::new().fg(theme::GOOD);
        let bars = [
            Bar::new("S1", 0.5).marker("★").style(good),
            Bar::new("", -0.25),
            Bar::new("S2", -1.0),
            Bar::new("x", -0.1),
        ];
        let buf = render(LabelledBars::new(&bars).max(Some(1.0)), 20, 4);
        let expected = Buffer::with_lines([
            "S1 ★     │██    0.50",
            "        █│     -0.25",
            "S2   ████│     -1.00",
            "x       ▋│     -0.10",
        ]);
        assert_symbols(&buf, &expected);
        assert_eq!(buf[(3, 0)].fg, theme::GOLD);
        assert_eq!(buf[(10, 0)].fg, theme::GOOD);
        assert_eq!(buf[(19, 0)].fg, theme::GOOD);
        assert_eq!(buf[(9, 0)].fg, theme::DIM);
        // A leftward partial end: reversed, so its right part is the bar.
        assert!(buf[(8, 3)].modifier.contains(Modifier::REVERSED));
        assert!(!buf[(8, 1)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn wide_labels_truncate_and_default_max() {
        let bars = [Bar::new("北京大学图书馆", 2.0), Bar::new("b", 1.0)];
        let lines = symbol_lines(&render(LabelledBars::new(&bars).label_width(5), 13, 2));
        assert_eq!(lines, ["北京… ██ 2.00", "b     █  1.00"]);
    }

    #[test]
    fn never_panics() {
        let bars = [
            Bar::new("a", f32::NAN),
            Bar::new("", f32::INFINITY).marker("★★"),
            Bar::new("c", -1e30).text(""),
        ];
        for (w, h) in [(0, 0), (1, 1), (2, 3), (5, 3), (40, 5)] {
            for max in [None, Some(0.0), Some(f32::NAN), Some(-1.0), Some(1.0)] {
                render(LabelledBars::new(&bars).max(max), w, h);
                render(LabelledBars::new(&bars).max(max).label_width(100), w, h);
                render(LabelledBars::new(&[]).max(max), w, h);
            }
        }
    }
}

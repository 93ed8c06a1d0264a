//! Per-level series: compact sparklines sharing the layer cursor (cosine similarity of the
//! question, context and last token across levels), and a line chart for many series at once
//! (one line per language).

use super::{display_width, label_column, level_columns, nearest_column, truncate, CURSOR_BG};
use crate::tui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Widget};

/// The block ramp, lowest first.
pub const RAMP: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
/// Widest label column when the width is computed from the labels.
pub const MAX_LABEL_WIDTH: u16 = 12;

/// One named series: a value per level 0..=L.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'a> {
    pub label: &'a str,
    pub color: Color,
    pub values: &'a [f32],
}

/// One line per series: the label, a sparkline over levels (columns as in
/// `level_columns`, so it lines up with the heatmap for the same label width), and at the
/// right the value at the cursor (`0.83 @12`), or without a cursor the peak (`0.91 ^7`). The
/// peak block is drawn in `theme::ACCENT`; the cursor column gets `CURSOR_BG`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LayerSparklines<'a> {
    series: &'a [Series<'a>],
    range: Option<(f32, f32)>,
    cursor: Option<usize>,
    label_width: Option<u16>,
    format: Option<fn(f32) -> String>,
}

impl<'a> LayerSparklines<'a> {
    pub fn new(series: &'a [Series<'a>]) -> Self {
        LayerSparklines {
            series,
            ..LayerSparklines::default()
        }
    }

    /// A fixed scale for every series (so series compare); by default each series spans its
    /// own min..max.
    pub fn range(mut self, range: Option<(f32, f32)>) -> Self {
        self.range = range;
        self
    }

    pub fn cursor(mut self, level: Option<usize>) -> Self {
        self.cursor = level;
        self
    }

    pub fn label_width(mut self, width: u16) -> Self {
        self.label_width = Some(width);
        self
    }

    /// How the value at the right is written (default: two decimals).
    pub fn format(mut self, format: fn(f32) -> String) -> Self {
        self.format = Some(format);
        self
    }

    fn value_text(&self, s: &Series) -> String {
        let (tag, level) = match self.cursor {
            Some(c) => ('@', Some(c)),
            None => ('^', peak(s.values)),
        };
        let Some(level) = level else {
            return String::new();
        };
        match s.values.get(level).filter(|v| v.is_finite()) {
            Some(&v) => match self.format {
                Some(format) => format!("{} {tag}{level}", format(v)),
                None => format!("{v:.2} {tag}{level}"),
            },
            None => format!("-- {tag}{level}"),
        }
    }
}

/// The level of the largest finite value (the first on ties).
pub fn peak(values: &[f32]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .fold(None, |best: Option<(usize, f32)>, (i, &v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map(|(i, _)| i)
}

/// The ramp block for `value` on `lo..hi` (clamped); the middle block when the range is
/// empty, `None` for non-finite values.
pub fn block(value: f32, (lo, hi): (f32, f32)) -> Option<&'static str> {
    if !value.is_finite() {
        return None;
    }
    let span = hi - lo;
    let i = if span.is_finite() && span > 0.0 {
        (((value - lo) / span).clamp(0.0, 1.0) * 7.0).round() as usize
    } else {
        3
    };
    RAMP.get(i).copied()
}

fn own_range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

impl Widget for LayerSparklines<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let lw = label_column(
            self.series.iter().map(|s| s.label),
            self.label_width,
            MAX_LABEL_WIDTH,
            area.width,
        );
        let grid_x = area.x + lw + u16::from(lw > 0 && lw < area.width);
        let texts: Vec<String> = self.series.iter().map(|s| self.value_text(s)).collect();
        let tw = texts.iter().map(|t| display_width(t)).max().unwrap_or(0) as u16;
        let mut grid_w = area.right().saturating_sub(grid_x);
        let show_text = tw > 0 && grid_w > tw + 1;
        if show_text {
            grid_w -= tw + 1;
        }
        let levels = self
            .series
            .iter()
            .map(|s| s.values.len())
            .max()
            .unwrap_or(0);
        let cols = level_columns(levels, grid_w);
        let cursor_col = self.cursor.and_then(|c| nearest_column(&cols, c));

        for ((s, text), y) in self.series.iter().zip(&texts).zip(area.y..area.bottom()) {
            let style = Style::new().fg(s.color);
            buf.set_stringn(area.x, y, truncate(s.label, lw.into()), lw.into(), style);
            let range = self.range.unwrap_or_else(|| own_range(s.values));
            let peak_col = peak(s.values).and_then(|p| nearest_column(&cols, p));
            for (ci, col) in cols.iter().enumerate() {
                let v = s.values.get(col.level).copied().unwrap_or(f32::NAN);
                let mut cell_style = if peak_col == Some(ci) {
                    Style::new().fg(theme::ACCENT)
                } else {
                    style
                };
                if cursor_col == Some(ci) {
                    cell_style = cell_style.bg(CURSOR_BG);
                }
                let symbol = block(v, range).unwrap_or(" ");
                for dx in 0..col.width {
                    if let Some(c) = buf.cell_mut((grid_x + col.x + dx, y)) {
                        c.set_symbol(symbol).set_style(cell_style);
                    }
                }
            }
            if show_text {
                let w = display_width(text) as u16;
                buf.set_stringn(area.right() - w, y, text, w.into(), style);
            }
        }
    }
}

/// Twelve colours far enough apart to tell a dozen lines apart (languages); wraps around.
pub fn series_palette(i: usize) -> Color {
    const PALETTE: [Color; 12] = [
        Color::Rgb(31, 119, 180),
        Color::Rgb(255, 127, 14),
        Color::Rgb(44, 160, 44),
        Color::Rgb(214, 39, 40),
        Color::Rgb(148, 103, 189),
        Color::Rgb(140, 86, 75),
        Color::Rgb(227, 119, 194),
        Color::Rgb(188, 189, 34),
        Color::Rgb(23, 190, 207),
        Color::Rgb(174, 199, 232),
        Color::Rgb(255, 187, 120),
        Color::Rgb(152, 223, 138),
    ];
    PALETTE[i % PALETTE.len()]
}

/// A chart line: name, colour and (level, value) points.
pub type NamedSeries = (String, Color, Vec<(f64, f64)>);

/// Many series over levels as braille lines with a legend (top right). `series` holds
/// (name, colour, points (level, value)); x spans level 0 to the largest level given. The
/// cursor level is named in the x-axis title (`layer ▼12`): a chart's datasets borrow their
/// points, so a cursor line would need data the caller owns.
pub fn language_chart<'a>(
    series: &'a [NamedSeries],
    y_bounds: [f64; 2],
    cursor: Option<usize>,
) -> Chart<'a> {
    let datasets = series
        .iter()
        .map(|(name, color, points)| {
            Dataset::default()
                .name(name.as_str())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(*color))
                .data(points)
        })
        .collect();
    let x_max = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.0))
        .filter(|x| x.is_finite())
        .fold(1.0f64, f64::max);
    let [lo, hi] = y_bounds;
    let [lo, hi] = if lo.is_finite() && hi.is_finite() && lo < hi {
        [lo, hi]
    } else {
        [0.0, 1.0]
    };
    let x_title = match cursor {
        Some(c) => Line::from(vec![
            "layer ".into(),
            ratatui::text::Span::styled(format!("▼{c}"), Style::new().fg(theme::ACCENT)),
        ]),
        None => Line::from("layer"),
    };
    Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title(x_title)
                .bounds([0.0, x_max])
                .style(theme::dim())
                .labels([
                    "0".to_string(),
                    format!("{}", (x_max / 2.0).round()),
                    format!("{x_max}"),
                ]),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .style(theme::dim())
                .labels([
                    format!("{lo:.1}"),
                    format!("{:.1}", (lo + hi) / 2.0),
                    format!("{hi:.1}"),
                ]),
        )
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::widgets::test_util::{assert_symbols, render, symbol_lines};

    const Q: Color = Color::Rgb(1, 2, 3);
    const C: Color = Color::Rgb(4, 5, 6);

    #[test]
    fn blocks_peak_cursor_and_value() {
        let series = [
            Series {
                label: "q",
                color: Q,
                values: &[0.0, 0.5, 1.0, 0.25],
            },
            Series {
                label: "context",
                color: C,
                values: &[-1.0, -0.5, 0.0, 1.0],
            },
        ];
        let w = LayerSparklines::new(&series).label_width(3).cursor(Some(1));
        let buf = render(w, 17, 2);
        let expected = Buffer::with_lines(["q   ▁▅█▃  0.50 @1", "co… ▁▃▅█ -0.50 @1"]);
        assert_symbols(&buf, &expected);
        // Series colour, the peak (level 2) in the accent, the cursor column's background.
        assert_eq!(buf[(0, 0)].fg, Q);
        assert_eq!(buf[(4, 0)].fg, Q);
        assert_eq!(buf[(6, 0)].fg, theme::ACCENT);
        assert_eq!(buf[(7, 1)].fg, theme::ACCENT);
        assert_eq!(buf[(5, 0)].bg, CURSOR_BG);
        assert_eq!(buf[(5, 1)].bg, CURSOR_BG);
        assert_eq!(buf[(4, 0)].bg, Color::Reset);
        assert_eq!(buf[(16, 1)].fg, C);
    }

    #[test]
    fn fixed_range_clamps_and_peak_without_cursor() {
        let series = [Series {
            label: "",
            color: Q,
            values: &[0.0, 1.0, 2.0, 3.0, -1.0, f32::NAN],
        }];
        let buf = render(LayerSparklines::new(&series).range(Some((0.0, 2.0))), 15, 1);
        assert_eq!(symbol_lines(&buf), ["▁▅██▁   3.00 ^3"]);
        assert_eq!(buf[(3, 0)].fg, theme::ACCENT);
        // No room for the value: the sparkline alone.
        let buf = render(LayerSparklines::new(&series), 6, 1);
        assert_eq!(symbol_lines(&buf), ["▃▅▆█▁ "]);
    }

    #[test]
    fn blocks_and_peak_helpers() {
        assert_eq!(block(0.5, (0.0, 1.0)), Some("▅"));
        assert_eq!(block(5.0, (1.0, 1.0)), Some("▄"));
        assert_eq!(block(f32::NAN, (0.0, 1.0)), None);
        assert_eq!(peak(&[0.1, 0.9, f32::NAN, 0.9]), Some(1));
        assert_eq!(peak(&[f32::NAN]), None);
        let colours: std::collections::HashSet<_> = (0..12).map(series_palette).collect();
        assert_eq!(colours.len(), 12);
        assert_eq!(series_palette(12), series_palette(0));
    }

    #[test]
    fn never_panics() {
        let series = [
            Series {
                label: "北京",
                color: Q,
                values: &[f32::NAN, f32::INFINITY],
            },
            Series {
                label: "",
                color: C,
                values: &[],
            },
        ];
        for (w, h) in [(0, 0), (1, 1), (3, 2), (40, 5)] {
            for cursor in [None, Some(0), Some(99)] {
                for range in [None, Some((1.0, 0.0)), Some((f32::NAN, 1.0))] {
                    let s = LayerSparklines::new(&series).cursor(cursor).range(range);
                    render(s, w, h);
                    render(LayerSparklines::new(&[]).cursor(cursor), w, h);
                }
            }
        }
    }

    #[test]
    fn language_chart_lines_legend_cursor() {
        let series: Vec<NamedSeries> = ["en", "zh"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let pts =
                    (0..=24).map(|l| (f64::from(l), f64::from(l) / 24.0 * (i as f64 + 1.0) / 2.0));
                (n.to_string(), series_palette(i), pts.collect())
            })
            .collect();
        let buf = render(language_chart(&series, [0.0, 1.0], Some(12)), 60, 16);
        let text = symbol_lines(&buf).join("\n");
        assert!(text.contains("en"), "{text}");
        assert!(text.contains("zh"), "{text}");
        assert!(text.contains("layer ▼12"), "{text}");
        let drawn = |c: Color| {
            buf.content()
                .iter()
                .any(|cell| cell.fg == c && cell.symbol() != " ")
        };
        assert!(drawn(series_palette(0)) && drawn(series_palette(1)));

        let odd = vec![(
            "x".to_string(),
            Q,
            vec![(f64::NAN, f64::NAN), (1.0, f64::INFINITY)],
        )];
        for (w, h) in [(0, 0), (2, 2), (30, 8)] {
            render(language_chart(&odd, [f64::NAN, 0.0], None), w, h);
            render(language_chart(&[], [0.0, 1.0], Some(3)), w, h);
        }
    }
}

//! The tokens x levels relevance heatmap: one row per token, one column group per level
//! (level 0 = embeddings), cells on the diverging scale, the MRD level of each token marked and
//! the selected layer's column highlighted. Values come in already normalised to -1..1
//! (`normalize_levels` does the per-layer max-|R| scaling the legend names).

use super::{display_width, level_columns, nearest_column, truncate, LevelColumn};
use crate::tui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

/// Marks a token's MRD level on its row (and explains itself in the legend).
pub const MRD_MARKER: &str = "◆";
/// The heatmap cell: upper half in fg, lower half in bg (two tokens a row in compact mode).
pub const CELL: &str = "▀";
/// Above the selected layer's column on the axis line.
pub const CURSOR_ARROW: &str = "▼";
/// Above the language lens's decision level on the axis line.
pub const DECISION_MARKER: &str = "D";
/// Widest label column when the width is computed from the labels.
pub const MAX_LABEL_WIDTH: u16 = 12;
/// Cells of the legend's colour ramp.
pub const LEGEND_STEPS: usize = 16;

/// One token row: its label, values per level (-1..1) and MRD level.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HeatRow<'a> {
    /// The token piece, already readable.
    pub label: &'a str,
    /// The label's colour (its prompt part's); `None` keeps the default.
    pub color: Option<Color>,
    /// One value per level 0..=L; missing levels are left blank.
    pub values: &'a [f32],
    /// The level index where relevance first peaks, if any.
    pub mrd: Option<usize>,
    /// The token carries part of a gold answer: its label is drawn in gold, underlined.
    pub gold: bool,
}

/// The heatmap. The first line is an axis (level numbers every 5, `▼` over the selected
/// level, `L<n>` in the label column); each further line shows one token, or two in compact
/// mode. Columns follow `level_columns`: two per level when there is room, one otherwise,
/// evenly sampled levels when the area is narrower than the level count.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heatmap<'a> {
    rows: &'a [HeatRow<'a>],
    cursor: Option<usize>,
    decision: Option<usize>,
    scroll: usize,
    label_width: Option<u16>,
    compact: bool,
}

impl<'a> Heatmap<'a> {
    pub fn new(rows: &'a [HeatRow<'a>]) -> Self {
        Heatmap {
            rows,
            ..Heatmap::default()
        }
    }

    /// The selected layer (a level index), highlighted as a column.
    pub fn cursor(mut self, level: Option<usize>) -> Self {
        self.cursor = level;
        self
    }

    /// The language lens's decision level, marked `D` on the axis line (the cursor's arrow
    /// wins where both fall in one column).
    pub fn decision(mut self, level: Option<usize>) -> Self {
        self.decision = level;
        self
    }

    /// The first token row shown.
    pub fn scroll(mut self, rows: usize) -> Self {
        self.scroll = rows;
        self
    }

    /// A fixed label column width; by default the widest label, at most `MAX_LABEL_WIDTH`
    /// and half the area.
    pub fn label_width(mut self, width: u16) -> Self {
        self.label_width = Some(width);
        self
    }

    /// Two tokens a terminal line: the upper token in each cell's top half (fg), the lower in
    /// its bottom half (bg); the label reads `upper/lower`. An MRD marker then fills its cell
    /// with the marked token's colour (the upper token's when both fall in one cell).
    pub fn compact(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    /// Number of levels: the longest row's.
    pub fn levels(&self) -> usize {
        self.rows.iter().map(|r| r.values.len()).max().unwrap_or(0)
    }

    /// Token rows that fit in an area of `height` lines (for the caller's scrolling).
    pub fn rows_visible(&self, height: u16) -> usize {
        usize::from(height.saturating_sub(1)) * if self.compact { 2 } else { 1 }
    }

    fn label_of(&self, first: usize) -> String {
        let upper = self.rows.get(first).map_or("", |r| r.label);
        match self.rows.get(first + 1).filter(|_| self.compact) {
            Some(lower) => format!("{upper}/{}", lower.label),
            None => upper.to_string(),
        }
    }

    fn computed_label_width(&self, area: Rect) -> u16 {
        if let Some(w) = self.label_width {
            return w.min(area.width);
        }
        let step = if self.compact { 2 } else { 1 };
        let widest = (0..self.rows.len())
            .step_by(step)
            .map(|i| display_width(&self.label_of(i)))
            .max()
            .unwrap_or(0);
        (widest.min(usize::from(MAX_LABEL_WIDTH)) as u16).min(area.width / 2)
    }

    fn render_axis(&self, buf: &mut Buffer, label: Rect, grid_x: u16, cols: &[LevelColumn]) {
        let y = label.y;
        let right = grid_x.saturating_add(cols_width(cols));
        let cursor_col = self.cursor.and_then(|c| nearest_column(cols, c));
        if let Some(c) = self.cursor {
            let text = format!("L{c}");
            let w = display_width(&text) as u16;
            if w <= label.width {
                buf.set_string(label.right() - w, y, text, Style::new().fg(theme::ACCENT));
            }
        }
        let arrow_x = cursor_col.map(|i| grid_x + cols[i].x);
        let levels = cols.last().map_or(0, |c| c.level + 1);
        let decision_x = self
            .decision
            .filter(|&d| d < levels)
            .and_then(|d| nearest_column(cols, d))
            .map(|i| grid_x + cols[i].x)
            .filter(|&x| Some(x) != arrow_x);
        let mut next_free = grid_x;
        for m in (0..levels).step_by(5) {
            let Some(i) = nearest_column(cols, m) else {
                break;
            };
            let x = grid_x + cols[i].x;
            let text = m.to_string();
            let end = x.saturating_add(text.len() as u16);
            let hides_arrow = [arrow_x, decision_x]
                .into_iter()
                .flatten()
                .any(|a| (x..end).contains(&a));
            if x < next_free || end > right || hides_arrow {
                continue;
            }
            buf.set_string(x, y, &text, theme::dim());
            next_free = end + 1;
        }
        if let Some(x) = arrow_x {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_symbol(CURSOR_ARROW).set_fg(theme::ACCENT);
            }
        }
        if let Some(x) = decision_x {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_symbol(DECISION_MARKER)
                    .set_style(Style::new().fg(theme::GOOD).add_modifier(Modifier::BOLD));
            }
        }
    }
}

fn cols_width(cols: &[LevelColumn]) -> u16 {
    cols.last().map_or(0, |c| c.x + c.width)
}

/// Style of a cell whose top half shows `upper` and bottom half `lower`.
fn half_block(upper: Option<f32>, lower: Option<f32>) -> Option<(&'static str, Style)> {
    match (upper, lower) {
        (Some(u), Some(l)) => Some((
            CELL,
            Style::new().fg(theme::diverging(u)).bg(theme::diverging(l)),
        )),
        (Some(u), None) => Some((CELL, Style::new().fg(theme::diverging(u)))),
        (None, Some(l)) => Some(("▄", Style::new().fg(theme::diverging(l)))),
        (None, None) => None,
    }
}

impl Widget for Heatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let lw = self.computed_label_width(area);
        let gap = u16::from(lw > 0 && lw < area.width);
        let grid_x = area.x + lw + gap;
        let cols = level_columns(self.levels(), area.right().saturating_sub(grid_x));
        let cursor_col = self.cursor.and_then(|c| nearest_column(&cols, c));
        self.render_axis(buf, Rect::new(area.x, area.y, lw, 1), grid_x, &cols);

        let per_line = if self.compact { 2 } else { 1 };
        for (i, y) in (area.y + 1..area.bottom()).enumerate() {
            let first = self.scroll.saturating_add(i * per_line);
            let Some(upper) = self.rows.get(first) else {
                break;
            };
            let lower = self
                .rows
                .get(first.saturating_add(1))
                .filter(|_| self.compact);
            let label = self.label_of(first);
            let label_style = if upper.gold {
                Style::new()
                    .fg(theme::GOLD)
                    .add_modifier(Modifier::UNDERLINED)
            } else {
                upper.color.map_or(Style::new(), |c| Style::new().fg(c))
            };
            buf.set_stringn(
                area.x,
                y,
                truncate(&label, lw.into()),
                lw.into(),
                label_style,
            );

            let in_range =
                |m: Option<usize>| m.filter(|&l| l < cols.last().map_or(0, |c| c.level + 1));
            let mark_upper = in_range(upper.mrd).and_then(|m| nearest_column(&cols, m));
            let mark_lower = lower
                .and_then(|r| in_range(r.mrd))
                .and_then(|m| nearest_column(&cols, m));
            for (ci, col) in cols.iter().enumerate() {
                let u = upper.values.get(col.level).copied();
                let l = lower.and_then(|r| r.values.get(col.level).copied());
                let cell = if self.compact {
                    half_block(u, l)
                } else {
                    half_block(u, u)
                };
                let Some((symbol, mut style)) = cell else {
                    continue;
                };
                if cursor_col == Some(ci) {
                    style = style
                        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
                        .underline_color(theme::ACCENT);
                }
                for dx in 0..col.width {
                    if let Some(c) = buf.cell_mut((grid_x + col.x + dx, y)) {
                        c.set_symbol(symbol).set_style(style);
                    }
                }
                let marked = if mark_upper == Some(ci) {
                    u
                } else if mark_lower == Some(ci) {
                    l
                } else {
                    None
                };
                if let Some(v) = marked {
                    let s = style.fg(theme::on_diverging(v)).bg(theme::diverging(v));
                    if let Some(c) = buf.cell_mut((grid_x + col.x, y)) {
                        c.set_symbol(MRD_MARKER).set_style(s);
                    }
                }
            }
        }
    }
}

/// The heatmap's key: an optional title, the ramp `-1 ████ +1`, what the values are
/// (`per-layer max-|R|`) and the marker (`◆ MRD`). Items flow left to right and wrap.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeatmapLegend<'a> {
    title: Option<&'a str>,
    decision: bool,
}

impl<'a> HeatmapLegend<'a> {
    pub fn new() -> Self {
        HeatmapLegend::default()
    }

    pub fn title(mut self, title: Option<&'a str>) -> Self {
        self.title = title;
        self
    }

    /// Explains the axis's decision marker too.
    pub fn decision(mut self, shown: bool) -> Self {
        self.decision = shown;
        self
    }
}

/// The value of the ramp's cell `i`, -1 at the first and +1 at the last.
pub fn legend_value(i: usize) -> f32 {
    -1.0 + 2.0 * i as f32 / (LEGEND_STEPS - 1) as f32
}

impl Widget for HeatmapLegend<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let mut items: Vec<Vec<(String, Style)>> = Vec::new();
        if let Some(t) = self.title {
            items.push(vec![(t.to_string(), theme::title())]);
        }
        let mut ramp = vec![("-1 ".to_string(), theme::dim())];
        ramp.extend((0..LEGEND_STEPS).map(|i| {
            (
                "█".to_string(),
                Style::new().fg(theme::diverging(legend_value(i))),
            )
        }));
        ramp.push((" +1".to_string(), theme::dim()));
        items.push(ramp);
        items.push(vec![("per-layer max-|R|".to_string(), theme::dim())]);
        items.push(vec![
            (MRD_MARKER.to_string(), Style::new().fg(theme::ACCENT)),
            (" MRD".to_string(), theme::dim()),
        ]);
        if self.decision {
            items.push(vec![
                (
                    DECISION_MARKER.to_string(),
                    Style::new().fg(theme::GOOD).add_modifier(Modifier::BOLD),
                ),
                (" lens decision".to_string(), theme::dim()),
            ]);
        }

        let (mut x, mut y) = (area.x, area.y);
        for item in items {
            let w: u16 = item.iter().map(|(s, _)| display_width(s) as u16).sum();
            if x > area.x && x.saturating_add(2).saturating_add(w) > area.right() {
                x = area.x;
                y += 1;
            } else if x > area.x {
                x += 2;
            }
            if y >= area.bottom() {
                return;
            }
            for (text, style) in item {
                let room = area.right().saturating_sub(x);
                let (nx, _) =
                    buf.set_stringn(x, y, truncate(&text, room.into()), room.into(), style);
                x = nx;
            }
        }
    }
}

/// Each level scaled by its own largest |value| (finite values only), so every layer uses the
/// full colour range; an all-zero level stays zero and non-finite values become 0.
pub fn normalize_levels(display: &[Vec<f32>]) -> Vec<Vec<f32>> {
    display
        .iter()
        .map(|level| {
            let max = level
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f32, |m, v| m.max(v.abs()));
            level
                .iter()
                .map(|&v| {
                    if v.is_finite() && max > 0.0 {
                        v / max
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::mrd::token_column;
    use crate::data::prompt::Part;
    use crate::tui::widgets::test_util::{assert_symbols, render, symbol_lines};

    #[test]
    fn default_mode_layout_colours_marker_cursor() {
        let ctx = theme::part_color(Part::Context);
        let rows = [
            HeatRow {
                label: "the",
                color: Some(ctx),
                values: &[0.0, 0.5, -1.0, 1.0],
                mrd: Some(2),
                gold: false,
            },
            HeatRow {
                label: "北京大学",
                color: None,
                values: &[0.2, 0.0, 0.0, -0.5],
                mrd: None,
                gold: true,
            },
        ];
        let buf = render(Heatmap::new(&rows).label_width(4).cursor(Some(1)), 9, 3);
        let expected = Buffer::with_lines(["  L1 0▼  ", "the  ▀▀◆▀", "北…  ▀▀▀▀"]);
        assert_symbols(&buf, &expected);
        // A gold token's label is gold and underlined; the others keep their part's colour.
        let gold = &buf[(0, 2)];
        assert_eq!(gold.fg, theme::GOLD);
        assert!(gold.modifier.contains(Modifier::UNDERLINED));
        assert_eq!(buf[(0, 1)].fg, ctx);

        // Token 0 at level 1: a full cell of its value's colour, in the cursor column.
        let c = &buf[(6, 1)];
        assert_eq!((c.fg, c.bg), (theme::diverging(0.5), theme::diverging(0.5)));
        assert!(c.modifier.contains(Modifier::UNDERLINED | Modifier::BOLD));
        assert!(!buf[(5, 1)].modifier.contains(Modifier::UNDERLINED));
        assert_eq!(buf[(5, 1)].bg, theme::diverging(0.0));
        // MRD marker at level 2, readable on its cell's colour.
        let m = &buf[(7, 1)];
        assert_eq!(m.symbol(), MRD_MARKER);
        assert_eq!(
            (m.fg, m.bg),
            (theme::on_diverging(-1.0), theme::diverging(-1.0))
        );
        assert_eq!(buf[(8, 2)].bg, theme::diverging(-0.5));
        // Label colour, axis arrow and cursor level.
        assert_eq!(buf[(0, 1)].fg, ctx);
        assert_eq!(buf[(6, 0)].fg, theme::ACCENT);
        assert_eq!(buf[(2, 0)].fg, theme::ACCENT);
    }

    #[test]
    fn compact_mode_packs_two_tokens_a_line() {
        let rows = [
            HeatRow {
                label: "a",
                values: &[1.0, -1.0],
                mrd: Some(1),
                ..HeatRow::default()
            },
            HeatRow {
                label: "b",
                values: &[0.0, 0.5],
                mrd: Some(0),
                ..HeatRow::default()
            },
            HeatRow {
                label: "c",
                values: &[0.25],
                ..HeatRow::default()
            },
        ];
        let map = Heatmap::new(&rows).compact(true).label_width(5);
        assert_eq!(map.rows_visible(3), 4);
        let buf = render(map, 10, 3);
        let expected = Buffer::with_lines(["      0   ", "a/b   ◆▀◆▀", "c     ▀▀  "]);
        assert_symbols(&buf, &expected);
        // Upper token in fg, lower in bg; two columns a level.
        let c = &buf[(7, 1)];
        assert_eq!((c.fg, c.bg), (theme::diverging(1.0), theme::diverging(0.0)));
        let c = &buf[(9, 1)];
        assert_eq!(
            (c.fg, c.bg),
            (theme::diverging(-1.0), theme::diverging(0.5))
        );
        // Markers: the upper token's (level 1) and the lower's (level 0), each on its colour.
        assert_eq!(buf[(8, 1)].bg, theme::diverging(-1.0));
        assert_eq!(buf[(6, 1)].bg, theme::diverging(0.0));
        // A lone last token: its colour on top, nothing below.
        let c = &buf[(6, 2)];
        assert_eq!((c.fg, c.bg), (theme::diverging(0.25), Color::Reset));
    }

    #[test]
    fn narrow_area_samples_levels() {
        let values: Vec<f32> = (0..25).map(|i| i as f32 / 24.0).collect();
        let rows = [HeatRow {
            label: "x",
            values: &values,
            mrd: Some(13),
            ..HeatRow::default()
        }];
        let buf = render(Heatmap::new(&rows).label_width(0).cursor(Some(12)), 5, 2);
        assert_eq!(symbol_lines(&buf), ["0 ▼20", "▀▀◆▀▀"]);
        // Columns show levels 0, 6, 12, 18, 24.
        assert_eq!(buf[(1, 1)].fg, theme::diverging(0.25));
        assert_eq!(buf[(4, 1)].fg, theme::diverging(1.0));
        assert!(buf[(2, 1)].modifier.contains(Modifier::UNDERLINED));
    }

    #[test]
    fn label_width_computed_and_scroll() {
        let rows: Vec<HeatRow> = ["ab", "a-very-long-token-piece", "c"]
            .iter()
            .map(|l| HeatRow {
                label: l,
                values: &[0.1],
                ..HeatRow::default()
            })
            .collect();
        let buf = render(Heatmap::new(&rows).scroll(1), 40, 3);
        assert_eq!(symbol_lines(&buf)[1].trim_end(), "a-very-long… ▀▀");
        assert_eq!(symbol_lines(&buf)[2].trim_end(), "c            ▀▀");
    }

    #[test]
    fn never_panics() {
        let nan = [f32::NAN, f32::INFINITY, -7.0];
        let rows = [
            HeatRow {
                label: "\u{7}ctl",
                values: &nan,
                mrd: Some(99),
                ..HeatRow::default()
            },
            HeatRow {
                label: "",
                values: &[],
                mrd: Some(0),
                ..HeatRow::default()
            },
        ];
        for compact in [false, true] {
            for (w, h) in [(0, 0), (1, 1), (2, 5), (3, 1), (40, 10)] {
                for cursor in [None, Some(0), Some(1000)] {
                    let map = Heatmap::new(&rows)
                        .compact(compact)
                        .cursor(cursor)
                        .scroll(usize::MAX);
                    render(map, w, h);
                    render(Heatmap::new(&rows).compact(compact).cursor(cursor), w, h);
                    render(Heatmap::new(&[]).cursor(cursor), w, h);
                    render(HeatmapLegend::new().title(Some("标题")), w, h);
                }
            }
        }
        // Rendering into a sub-area partly outside the buffer.
        let mut buf = Buffer::empty(Rect::new(0, 0, 5, 5));
        Heatmap::new(&rows).render(Rect::new(3, 3, 10, 10), &mut buf);
        let buf = render(Heatmap::new(&rows), 10, 3);
        assert_eq!(buf[(5, 1)].bg, theme::diverging(0.0));
    }

    #[test]
    fn legend_text_and_ramp() {
        let buf = render(HeatmapLegend::new(), 50, 1);
        let expected = Buffer::with_lines(["-1 ████████████████ +1  per-layer max-|R|  ◆ MRD  "]);
        assert_symbols(&buf, &expected);
        assert_eq!(buf[(3, 0)].fg, theme::diverging(-1.0));
        assert_eq!(buf[(18, 0)].fg, theme::diverging(1.0));
        assert_eq!(buf[(43, 0)].fg, theme::ACCENT);

        let buf = render(HeatmapLegend::new().title(Some("Relevance")), 22, 4);
        let lines = symbol_lines(&buf);
        assert_eq!(lines[0].trim_end(), "Relevance");
        assert_eq!(lines[1], "-1 ████████████████ +1");
        assert_eq!(lines[2].trim_end(), "per-layer max-|R|");
        assert_eq!(lines[3].trim_end(), "◆ MRD");
    }

    #[test]
    fn token_column_and_normalisation() {
        let display = vec![vec![1.0, 2.0], vec![3.0]];
        let col = token_column(&display, 1);
        assert_eq!(col[0], 2.0);
        assert!(col[1].is_nan());
        assert_eq!(token_column(&display, 0), [1.0, 3.0]);
        let n = normalize_levels(&[vec![2.0, -4.0, f32::NAN], vec![0.0, 0.0]]);
        assert_eq!(n, [vec![0.5, -1.0, 0.0], vec![0.0, 0.0]]);
    }
}

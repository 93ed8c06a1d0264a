//! Reusable widgets over plain data (no app state): the relevance heatmap, layer sparklines
//! and labelled bars. Each is tested with `Buffer` assertions, colours included.

pub mod bars;
pub mod heatmap;
pub mod sparklines;

use ratatui::style::Color;
use std::borrow::Cow;
use unicode_width::UnicodeWidthChar;

/// Background of the selected layer's column, shared by the widgets that show levels.
pub const CURSOR_BG: Color = Color::Rgb(62, 62, 76);

/// Display width of `s` in terminal columns (control characters count as zero).
pub fn display_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to at most `width` columns, ending in `…` when cut. Token pieces may be CJK (two
/// columns a character) or carry combining marks (Thai, Hindi): we never split a character
/// and keep zero-width marks with the character before them.
pub fn truncate(s: &str, width: usize) -> Cow<'_, str> {
    if display_width(s) <= width {
        return Cow::Borrowed(s);
    }
    if width == 0 {
        return Cow::Borrowed("");
    }
    let budget = width - 1;
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > budget {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// One screen column group of a level axis: `x` offset from the axis start, `width` columns,
/// and the level it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelColumn {
    pub x: u16,
    pub width: u16,
    pub level: usize,
}

/// How `levels` levels fit in `width` columns. Two columns a level when there is room for
/// all at double width (wide panes stay readable), else one a level, else (narrower than the
/// level count) `width` columns sampled evenly from level 0 to the last level, both ends kept.
pub fn level_columns(levels: usize, width: u16) -> Vec<LevelColumn> {
    let w = usize::from(width);
    if levels == 0 || w == 0 {
        return Vec::new();
    }
    let step: u16 = if w >= 2 * levels {
        2
    } else if w >= levels {
        1
    } else {
        return (0..w)
            .map(|c| LevelColumn {
                x: c as u16,
                width: 1,
                level: if w == 1 {
                    0
                } else {
                    (c * (levels - 1) + (w - 1) / 2) / (w - 1)
                },
            })
            .collect();
    };
    (0..levels)
        .map(|l| LevelColumn {
            x: l as u16 * step,
            width: step,
            level: l,
        })
        .collect()
}

/// Index of the column showing `level`, or the nearest level when sampled (first on ties).
pub fn nearest_column(cols: &[LevelColumn], level: usize) -> Option<usize> {
    cols.iter()
        .enumerate()
        .min_by_key(|(_, c)| c.level.abs_diff(level))
        .map(|(i, _)| i)
}

/// The label column: `fixed` when given, else the widest label up to `max`, never more than
/// half of `area_width` (the data need the rest).
pub fn label_column<'a>(
    labels: impl Iterator<Item = &'a str>,
    fixed: Option<u16>,
    max: u16,
    area_width: u16,
) -> u16 {
    match fixed {
        Some(w) => w.min(area_width),
        None => {
            let widest = labels.map(display_width).max().unwrap_or(0);
            (widest.min(usize::from(max)) as u16).min(area_width / 2)
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    /// `widget` drawn into a fresh `w` x `h` buffer.
    pub fn render(widget: impl Widget, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        widget.render(buf.area, &mut buf);
        buf
    }

    /// The symbols of each buffer line, wide characters once (their hidden cells skipped).
    pub fn symbol_lines(buf: &Buffer) -> Vec<String> {
        let a = buf.area;
        (a.top()..a.bottom())
            .map(|y| {
                let mut line = String::new();
                let mut skip = 0;
                for x in a.left()..a.right() {
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    let s = buf[(x, y)].symbol();
                    skip = super::display_width(s).saturating_sub(1);
                    line.push_str(s);
                }
                line
            })
            .collect()
    }

    /// Same symbols as `expected` (a `Buffer::with_lines`), styles not compared.
    pub fn assert_symbols(actual: &Buffer, expected: &Buffer) {
        assert_eq!(actual.area, expected.area);
        assert_eq!(symbol_lines(actual), symbol_lines(expected));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_by_display_width() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        // CJK: two columns each, never split.
        assert_eq!(truncate("北京大学", 4), "北…");
        assert_eq!(truncate("北京大学", 5), "北京…");
        assert_eq!(truncate("北京", 0), "");
        // Thai: the combining mark stays with its consonant.
        assert_eq!(truncate("กี่วัน", 3), "กี่วัน");
        assert_eq!(truncate("กี่วัน", 2), "กี่…");
        assert!(display_width(&truncate("कितने दिन", 4)) <= 4);
    }

    #[test]
    fn columns_double_single_sampled() {
        let c = level_columns(3, 6);
        assert_eq!(
            c.iter().map(|c| (c.x, c.width)).collect::<Vec<_>>(),
            [(0, 2), (2, 2), (4, 2)]
        );
        let c = level_columns(3, 5);
        assert_eq!(c.iter().map(|c| c.x).collect::<Vec<_>>(), [0, 1, 2]);
        let c = level_columns(25, 5);
        assert_eq!(
            c.iter().map(|c| c.level).collect::<Vec<_>>(),
            [0, 6, 12, 18, 24]
        );
        assert_eq!(nearest_column(&c, 13), Some(2));
        assert!(level_columns(0, 10).is_empty());
        assert!(level_columns(10, 0).is_empty());
        assert_eq!(level_columns(10, 1)[0].level, 0);
    }
}

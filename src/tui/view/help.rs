//! The help overlay: every binding of the keymap, grouped, with where the user keymap lives.
//! Generated from the keymap, so it shows the user's keys, not the defaults.

use crate::tui::action::Action;
use crate::tui::keymap::{HelpRow, Keymap};
use crate::tui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

/// Space between the two columns of groups.
const COLUMN_GAP: u16 = 4;

/// The heading an action is listed under.
pub fn group(action: Action) -> &'static str {
    use Action::*;
    match action {
        NextSample | PrevSample | NextSamplePage | PrevSamplePage | Jump => "Samples",
        NextLang | PrevLang | NextScenario | ToggleShots | ToggleFormat | ToggleTarget => {
            "Prompt options"
        }
        LayerUp | LayerDown | LayerFirst | LayerLast | FocusNext | FocusPrev | ScrollUp
        | ScrollDown | PageUp | PageDown => "Layers & panes",
        ToggleRows | ToggleDiff | ToggleOverlay | ToggleShading | Sweep => "Views",
        CustomSample | Bookmark | NextBookmark | Save | Export | Retry => "Session",
        Help | Back | Quit => "App",
    }
}

/// A `width` x `height` rectangle centred in `area`, shrunk to fit it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The line that tells where the user keymap file goes.
pub fn user_path_line() -> String {
    match Keymap::user_path() {
        Some(p) => format!("Your keys: {} (same format as the defaults)", p.display()),
        None => "No config dir: the default keys only".to_owned(),
    }
}

/// The help box, drawn over whatever is below it. `scroll` is clamped to the content.
pub struct HelpOverlay<'a> {
    keymap: &'a Keymap,
    scroll: u16,
    path_line: String,
}

/// The groups laid out: one or two columns of lines, and the width of a column.
struct Layout {
    columns: Vec<Vec<Line<'static>>>,
    column_width: u16,
}

impl<'a> HelpOverlay<'a> {
    pub fn new(keymap: &'a Keymap, scroll: u16) -> HelpOverlay<'a> {
        HelpOverlay {
            keymap,
            scroll,
            path_line: user_path_line(),
        }
    }

    /// Replaces the user keymap line (tests make it deterministic).
    pub fn path_line(mut self, line: impl Into<String>) -> HelpOverlay<'a> {
        self.path_line = line.into();
        self
    }

    /// The largest useful `scroll` in `area`, for the app to clamp its counter.
    pub fn max_scroll(&self, area: Rect) -> u16 {
        let (_, body, _) = self.geometry(area);
        let layout = self.layout(area);
        body_height(&layout).saturating_sub(body.height)
    }

    fn layout(&self, area: Rect) -> Layout {
        let rows = self.keymap.help_rows();
        let key_w = rows.iter().map(|r| r.keys.width()).max().unwrap_or(0);
        let desc_w = rows.iter().map(|r| r.desc.width()).max().unwrap_or(0);
        let column_width = u16::try_from(key_w + 2 + desc_w).unwrap_or(u16::MAX);

        let mut groups: Vec<(&'static str, Vec<&HelpRow>)> = Vec::new();
        for row in &rows {
            let name = group(row.action);
            match groups.last_mut() {
                Some((g, members)) if *g == name => members.push(row),
                _ => groups.push((name, vec![row])),
            }
        }
        let blocks: Vec<Vec<Line<'static>>> = groups
            .iter()
            .map(|(name, members)| {
                let mut lines = vec![Line::styled(
                    *name,
                    theme::title().add_modifier(Modifier::UNDERLINED),
                )];
                lines.extend(members.iter().map(|r| row_line(r, key_w)));
                lines
            })
            .collect();

        let two = area.width.saturating_sub(4) >= column_width * 2 + COLUMN_GAP;
        let split = if two && blocks.len() > 1 {
            (1..blocks.len())
                .min_by_key(|&k| stacked_len(&blocks[..k]).max(stacked_len(&blocks[k..])))
                .unwrap_or(blocks.len())
        } else {
            blocks.len()
        };
        let columns = [stack(&blocks[..split]), stack(&blocks[split..])]
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        Layout {
            columns,
            column_width,
        }
    }

    /// The box, the scrolled body inside it and the path line row (if there is room).
    fn geometry(&self, area: Rect) -> (Rect, Rect, Option<Rect>) {
        let layout = self.layout(area);
        let n = u16::try_from(layout.columns.len()).unwrap_or(1);
        let body_w = (layout.column_width * n + COLUMN_GAP * n.saturating_sub(1))
            .max(u16::try_from(self.path_line.width()).unwrap_or(u16::MAX));
        let outer = centered(
            area,
            body_w.saturating_add(4),
            body_height(&layout).saturating_add(4),
        );
        let inner = Block::bordered().inner(outer);
        let inner = Rect {
            x: inner.x + 1.min(inner.width),
            width: inner.width.saturating_sub(2),
            ..inner
        };
        if inner.height >= 3 {
            let body = Rect {
                height: inner.height - 2,
                ..inner
            };
            let path = Rect {
                y: inner.bottom() - 1,
                height: 1,
                ..inner
            };
            (outer, body, Some(path))
        } else {
            (outer, inner, None)
        }
    }
}

fn row_line(row: &HelpRow, key_w: usize) -> Line<'static> {
    let pad = key_w.saturating_sub(row.keys.width()) + 2;
    Line::from(vec![
        Span::styled(
            row.keys.clone(),
            Style::new().fg(theme::ACCENT).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" ".repeat(pad)),
        Span::raw(row.desc.clone()),
    ])
}

/// Groups one under the other, a blank line between.
fn stack(blocks: &[Vec<Line<'static>>]) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push(Line::default());
        }
        out.extend(b.iter().cloned());
    }
    out
}

fn stacked_len(blocks: &[Vec<Line<'static>>]) -> usize {
    blocks.iter().map(Vec::len).sum::<usize>() + blocks.len().saturating_sub(1)
}

fn body_height(layout: &Layout) -> u16 {
    let h = layout.columns.iter().map(Vec::len).max().unwrap_or(0);
    u16::try_from(h).unwrap_or(u16::MAX)
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let layout = self.layout(area);
        let (outer, body, path) = self.geometry(area);
        if outer.width < 2 || outer.height < 2 {
            return;
        }
        let scroll = self
            .scroll
            .min(body_height(&layout).saturating_sub(body.height));
        let more_below = body_height(&layout) > scroll.saturating_add(body.height);

        Clear.render(outer, buf);
        let mut block = Block::bordered()
            .title(Span::styled(" Keys ", theme::title()))
            .border_style(theme::border(true));
        if more_below {
            block = block.title_bottom(Line::styled(" ↓ more ", theme::dim()).right_aligned());
        }
        block.render(outer, buf);

        let mut x = body.x;
        for column in layout.columns {
            let width = layout.column_width.min(body.right().saturating_sub(x));
            let col = Rect { x, width, ..body };
            Paragraph::new(column).scroll((scroll, 0)).render(col, buf);
            x = x.saturating_add(layout.column_width + COLUMN_GAP);
            if x >= body.right() {
                break;
            }
        }
        if let Some(path) = path {
            Line::styled(self.path_line, theme::dim()).render(path, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(map: &Keymap, w: u16, h: u16, scroll: u16) -> Vec<String> {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        HelpOverlay::new(map, scroll)
            .path_line("Your keys: /cfg/keymap.toml")
            .render(area, &mut buf);
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_owned()).collect())
            .collect()
    }

    #[test]
    fn every_action_has_a_group_in_help_order() {
        let order = [
            "Samples",
            "Prompt options",
            "Layers & panes",
            "Views",
            "Session",
            "App",
        ];
        let seen: Vec<usize> = Action::ALL
            .iter()
            .map(|&a| order.iter().position(|g| *g == group(a)).unwrap())
            .collect();
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "groups not contiguous"
        );
    }

    #[test]
    fn full_help_fits_a_normal_terminal() {
        let map = Keymap::default_map().unwrap();
        let rows = render(&map, 120, 36, 0);
        let text = rows.join("\n");
        assert!(rows.iter().any(|r| r.contains(" Keys ")), "{text}");
        let row = rows.iter().find(|r| r.contains("n/]")).unwrap();
        assert!(row.contains("next sample"), "{row}");
        // Two columns: Samples on the left, Views on the right of the same row.
        let row = rows.iter().find(|r| r.contains("Samples")).unwrap();
        assert!(row.contains("Views"), "{row}");
        for want in [
            "→/.",
            "next layer",
            "q/ctrl-c",
            "S-Tab",
            "previous pane",
            "PgDn",
            "Esc",
            "language sweep",
            "Your keys: /cfg/keymap.toml",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn scrolls_when_taller_than_the_area() {
        let map = Keymap::default_map().unwrap();
        let area = Rect::new(0, 0, 60, 20);
        let max = HelpOverlay::new(&map, 0).max_scroll(area);
        assert!(max > 0);
        let top = render(&map, 60, 20, 0).join("\n");
        assert!(top.contains("Samples") && top.contains("more"), "{top}");
        assert!(!top.contains("ctrl-c"), "{top}");
        let bottom = render(&map, 60, 20, 500).join("\n");
        assert_eq!(
            bottom,
            render(&map, 60, 20, max).join("\n"),
            "scroll clamped"
        );
        assert!(
            bottom.contains("q/ctrl-c") && !bottom.contains("more"),
            "{bottom}"
        );
        assert!(bottom.contains("/cfg/keymap.toml"), "{bottom}");
    }

    #[test]
    fn tiny_areas_do_not_panic() {
        let map = Keymap::default_map().unwrap();
        for (w, h) in [(0, 0), (1, 1), (2, 2), (3, 3), (10, 4), (5, 30), (200, 2)] {
            render(&map, w, h, 3);
        }
        let area = Rect::new(0, 0, 3, 3);
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 10));
        HelpOverlay::new(&map, 0).render(Rect { x: 5, y: 5, ..area }, &mut buf);
    }

    #[test]
    fn centered_clamps() {
        let area = Rect::new(10, 5, 100, 40);
        assert_eq!(centered(area, 20, 10), Rect::new(50, 20, 20, 10));
        assert_eq!(centered(area, 200, 100), area);
    }
}

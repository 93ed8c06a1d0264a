//! The one-line footer: the keymap's hint bindings, as many as fit, "? help" always last so
//! the way to every other key stays visible.

use crate::tui::action::Action;
use crate::tui::keymap::Keymap;
use crate::tui::theme;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

const GAP: &str = "  ";

/// The footer: the latest notice (saved, errors) while it is fresh, else the key hints.
pub fn draw(
    frame: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    app: &crate::tui::app::App,
    keymap: &Keymap,
) {
    let line = match &app.core.notice {
        Some(notice) => Line::from(Span::styled(
            format!(" {}", notice.text),
            Style::new().fg(if notice.error {
                theme::BAD
            } else {
                theme::GOOD
            }),
        )),
        None => footer_line(keymap, area.width),
    };
    frame.render_widget(ratatui::widgets::Paragraph::new(line), area);
}

/// Hints as "key desc" pairs two spaces apart; those that do not fit `width` are dropped
/// whole (the first that does not fit ends the line), the help hint is kept last.
pub fn footer_line(keymap: &Keymap, width: u16) -> Line<'static> {
    let hinted = keymap
        .bindings
        .iter()
        .filter(|b| b.hint && !b.keys.is_empty());
    let help = hinted
        .clone()
        .find(|b| b.action == Action::Help)
        .map(|b| (b.keys_label(), b.desc.clone()));
    let others = hinted
        .filter(|b| b.action != Action::Help)
        .map(|b| (b.keys_label(), b.desc.clone()));
    let pair_width = |(k, d): &(String, String)| k.width() + 1 + d.width();

    let mut budget = usize::from(width);
    if let Some(h) = &help {
        match budget.checked_sub(pair_width(h)) {
            Some(left) => budget = left,
            None => return Line::default(),
        }
    }
    let mut chosen = Vec::new();
    for pair in others {
        let need = pair_width(&pair) + GAP.len();
        if need > budget {
            break;
        }
        budget -= need;
        chosen.push(pair);
    }
    chosen.extend(help);

    let key_style = Style::new().fg(theme::ACCENT).add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    for (i, (keys, desc)) in chosen.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(GAP));
        }
        spans.push(Span::styled(keys, key_style));
        spans.push(Span::styled(format!(" {desc}"), theme::dim()));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    fn render(width: u16) -> (String, Buffer) {
        let map = Keymap::default_map().unwrap();
        let area = Rect::new(0, 0, width, 1);
        let mut buf = Buffer::empty(area);
        footer_line(&map, width).render(area, &mut buf);
        let text: String = (0..width)
            .map(|x| buf[(x, 0)].symbol().to_owned())
            .collect();
        (text.trim_end().to_owned(), buf)
    }

    #[test]
    fn wide_footer_shows_all_hints_help_last() {
        let (text, buf) = render(200);
        assert!(
            text.starts_with("n/] next sample  p/[ prev sample  l language"),
            "{text}"
        );
        assert!(text.ends_with("q/ctrl-c quit  ? help"), "{text}");
        assert_eq!(buf[(0, 0)].fg, theme::ACCENT);
        assert!(buf[(0, 0)].modifier.contains(Modifier::BOLD));
        assert_eq!(buf[(4, 0)].fg, theme::DIM);
    }

    #[test]
    fn narrow_footer_drops_whole_hints() {
        let (text, _) = render(40);
        assert_eq!(text, "n/] next sample  p/[ prev sample  ? help");
        let (text, _) = render(39);
        assert_eq!(text, "n/] next sample  ? help");
        let (text, _) = render(6);
        assert_eq!(text, "? help");
        let (text, _) = render(5);
        assert_eq!(text, "");
    }
}

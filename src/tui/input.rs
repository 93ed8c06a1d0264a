//! A minimal text input for the app's forms (jump prompt, custom sample, bookmark note): an
//! editing model driven by key events and a renderer that wraps by display width.
//!
//! Keys: Enter submits a single-line input; in a multi-line one Enter inserts a newline and
//! ctrl-s or alt-enter submit. Tab / shift-tab move between fields, Esc cancels, ctrl-u
//! clears. Pasted text comes through `insert_str` (crossterm's `Event::Paste`).

use crate::tui::theme;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Widget};
use unicode_width::UnicodeWidthChar;

/// What a key did to the input, for the form that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputOutcome {
    /// Text or cursor changed: redraw.
    Edited,
    Submit,
    Cancel,
    /// Not an editing key.
    Ignored,
    NextField,
    PrevField,
}

/// The text and a cursor counted in chars (not bytes), so multibyte text edits safely.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextInput {
    pub text: String,
    /// Char index in `0..=text.chars().count()`.
    pub cursor: usize,
    pub multiline: bool,
}

impl TextInput {
    /// An empty one-line input (Enter submits).
    pub fn single_line() -> Self {
        Self::new(false)
    }

    /// An empty multi-line input (Enter breaks the line, Ctrl-S submits).
    pub fn multiline() -> Self {
        Self::new(true)
    }

    pub fn new(multiline: bool) -> TextInput {
        TextInput {
            multiline,
            ..TextInput::default()
        }
    }

    /// Starts with `text`, cursor at its end.
    pub fn with_text(text: &str, multiline: bool) -> TextInput {
        let mut input = TextInput::new(multiline);
        input.insert_str(text);
        input
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(b, _)| b)
    }

    fn insert_char(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Inserts at the cursor: CRLF and CR become newlines, tabs spaces, and newlines spaces
    /// in a single-line input.
    pub fn insert_str(&mut self, s: &str) {
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        for c in s.chars() {
            match c {
                '\n' if !self.multiline => self.insert_char(' '),
                '\t' => self.insert_char(' '),
                c if c.is_control() && c != '\n' => {}
                c => self.insert_char(c),
            }
        }
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    /// Char index where the cursor's line starts and ends.
    fn line_bounds(&self) -> (usize, usize) {
        let chars: Vec<char> = self.text.chars().collect();
        let cursor = self.cursor.min(chars.len());
        let start = chars[..cursor]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |i| i + 1);
        let end = chars[cursor..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(chars.len(), |i| cursor + i);
        (start, end)
    }

    pub fn handle(&mut self, key: &KeyEvent) -> InputOutcome {
        if key.kind == KeyEventKind::Release {
            return InputOutcome::Ignored;
        }
        self.cursor = self.cursor.min(self.len());
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => InputOutcome::Cancel,
            KeyCode::Tab => InputOutcome::NextField,
            KeyCode::BackTab => InputOutcome::PrevField,
            KeyCode::Enter if !self.multiline || alt => InputOutcome::Submit,
            KeyCode::Enter => {
                self.insert_char('\n');
                InputOutcome::Edited
            }
            KeyCode::Char('s') if ctrl => InputOutcome::Submit,
            KeyCode::Char('u') if ctrl => {
                self.clear();
                InputOutcome::Edited
            }
            KeyCode::Char(_) if ctrl || alt => InputOutcome::Ignored,
            KeyCode::Char(c) => {
                self.insert_char(c);
                InputOutcome::Edited
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
                InputOutcome::Edited
            }
            KeyCode::Delete if self.cursor < self.len() => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
                InputOutcome::Edited
            }
            KeyCode::Left if self.cursor > 0 => {
                self.cursor -= 1;
                InputOutcome::Edited
            }
            KeyCode::Right if self.cursor < self.len() => {
                self.cursor += 1;
                InputOutcome::Edited
            }
            KeyCode::Home => {
                self.cursor = self.line_bounds().0;
                InputOutcome::Edited
            }
            KeyCode::End => {
                self.cursor = self.line_bounds().1;
                InputOutcome::Edited
            }
            _ => InputOutcome::Ignored,
        }
    }
}

/// Wraps `text` into rows of at most `width` columns (newlines break too); returns the rows
/// and the (row, column) of the cursor.
fn wrap(text: &str, cursor: usize, width: usize) -> (Vec<String>, (usize, usize)) {
    let mut rows = vec![String::new()];
    let mut col = 0;
    let mut at = (0, 0);
    for (i, c) in text.chars().enumerate() {
        let w = c.width().unwrap_or(0);
        if c != '\n' && col + w > width && col > 0 {
            rows.push(String::new());
            col = 0;
        }
        if i == cursor {
            at = (rows.len() - 1, col);
        }
        if c == '\n' {
            rows.push(String::new());
            col = 0;
        } else if let Some(row) = rows.last_mut() {
            row.push(c);
            col += w;
        }
    }
    if cursor >= text.chars().count() {
        if col >= width && width > 0 {
            rows.push(String::new());
            col = 0;
        }
        at = (rows.len() - 1, col);
    }
    (rows, at)
}

/// Draws the input in a bordered box titled `title`, wrapped to the box; when the text is
/// taller than the box the rows around the cursor (the tail, while typing) are shown. The
/// cursor cell is reversed when `focused`.
pub fn render_input(input: &TextInput, area: Rect, buf: &mut Buffer, focused: bool, title: &str) {
    let block = Block::bordered()
        .title(title)
        .border_style(theme::border(focused));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let (rows, (cursor_row, cursor_col)) =
        wrap(&input.text, input.cursor, usize::from(inner.width));
    let height = usize::from(inner.height);
    let first = (cursor_row + 1).saturating_sub(height);
    for (y, row) in (inner.y..inner.bottom()).zip(rows.iter().skip(first)) {
        buf.set_stringn(inner.x, y, row, usize::from(inner.width), Style::default());
    }
    if focused {
        let y = inner.y + u16::try_from(cursor_row - first).unwrap_or(0);
        let x = inner.x + u16::try_from(cursor_col).unwrap_or(0);
        if x < inner.right() && y < inner.bottom() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_style(Style::new().add_modifier(Modifier::REVERSED));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(input: &mut TextInput, s: &str) {
        for c in s.chars() {
            assert_eq!(input.handle(&k(KeyCode::Char(c))), InputOutcome::Edited);
        }
    }

    #[test]
    fn edits_multibyte_text_by_chars() {
        let mut input = TextInput::new(false);
        typed(&mut input, "é中ب");
        assert_eq!((input.text.as_str(), input.cursor), ("é中ب", 3));
        input.handle(&k(KeyCode::Left));
        input.handle(&k(KeyCode::Backspace));
        assert_eq!((input.text.as_str(), input.cursor), ("éب", 1));
        typed(&mut input, "x");
        assert_eq!(input.text, "éxب");
        input.handle(&k(KeyCode::Home));
        input.handle(&k(KeyCode::Delete));
        assert_eq!((input.text.as_str(), input.cursor), ("xب", 0));
        // Nothing left of the start, nothing right of the end.
        assert_eq!(input.handle(&k(KeyCode::Backspace)), InputOutcome::Ignored);
        assert_eq!(input.handle(&k(KeyCode::Left)), InputOutcome::Ignored);
        input.handle(&k(KeyCode::End));
        assert_eq!(input.cursor, 2);
        assert_eq!(input.handle(&k(KeyCode::Delete)), InputOutcome::Ignored);
        assert_eq!(input.handle(&k(KeyCode::Right)), InputOutcome::Ignored);
        input.handle(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!((input.text.as_str(), input.cursor), ("", 0));
    }

    #[test]
    fn shifted_chars_type_ctrl_chars_do_not_release_ignored() {
        let mut input = TextInput::new(false);
        input.handle(&KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
        let out = input.handle(&KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL));
        assert_eq!(out, InputOutcome::Ignored);
        let mut release = k(KeyCode::Char('b'));
        release.kind = KeyEventKind::Release;
        assert_eq!(input.handle(&release), InputOutcome::Ignored);
        assert_eq!(input.text, "A");
    }

    #[test]
    fn enter_tab_esc() {
        let mut single = TextInput::new(false);
        assert_eq!(single.handle(&k(KeyCode::Enter)), InputOutcome::Submit);
        assert_eq!(single.handle(&k(KeyCode::Tab)), InputOutcome::NextField);
        assert_eq!(single.handle(&k(KeyCode::BackTab)), InputOutcome::PrevField);
        assert_eq!(single.handle(&k(KeyCode::Esc)), InputOutcome::Cancel);

        let mut multi = TextInput::new(true);
        typed(&mut multi, "ab");
        assert_eq!(multi.handle(&k(KeyCode::Enter)), InputOutcome::Edited);
        typed(&mut multi, "cd");
        assert_eq!(multi.text, "ab\ncd");
        multi.handle(&k(KeyCode::Left));
        multi.handle(&k(KeyCode::Home));
        assert_eq!(multi.cursor, 3, "home goes to the start of the line");
        multi.handle(&k(KeyCode::Left));
        multi.handle(&k(KeyCode::Home));
        assert_eq!(multi.cursor, 0);
        multi.handle(&k(KeyCode::End));
        assert_eq!(multi.cursor, 2, "end stops at the newline");
        let alt_enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT);
        assert_eq!(multi.handle(&alt_enter), InputOutcome::Submit);
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(multi.handle(&ctrl_s), InputOutcome::Submit);
        assert_eq!(multi.text, "ab\ncd");
    }

    #[test]
    fn paste_normalises_line_ends() {
        let mut single = TextInput::with_text("a", false);
        single.insert_str("b\r\nc\td");
        assert_eq!((single.text.as_str(), single.cursor), ("ab c d", 6));
        let mut multi = TextInput::new(true);
        multi.insert_str("中\r\né\rx");
        assert_eq!(multi.text, "中\né\nx");
        assert_eq!(multi.cursor, 5);
    }

    #[test]
    fn wraps_by_display_width() {
        // 中 is two columns: three fit a width of 6, the fourth wraps.
        let (rows, at) = wrap("中中中中", 4, 6);
        assert_eq!(rows, ["中中中", "中"]);
        assert_eq!(at, (1, 2));
        // A wide char never straddles the edge.
        let (rows, _) = wrap("ab中", 0, 3);
        assert_eq!(rows, ["ab", "中"]);
        // Cursor at the end of a full row moves to the next.
        let (rows, at) = wrap("abc", 3, 3);
        assert_eq!((rows.len(), at), (2, (1, 0)));
        let (rows, at) = wrap("a\nb", 1, 10);
        assert_eq!((rows, at), (vec!["a".to_owned(), "b".to_owned()], (0, 1)));
    }

    #[test]
    fn renders_the_tail_with_a_reversed_cursor() {
        let input = TextInput::with_text("one two three 中文 four", true);
        let area = Rect::new(0, 0, 8, 4);
        let mut buf = Buffer::empty(area);
        render_input(&input, area, &mut buf, true, "Q");
        // Reads a row as the terminal shows it: a wide char's second cell is skipped.
        let row = |y: u16| -> String {
            let mut out = String::new();
            let mut x = 1;
            while x < 7 {
                let sym = buf[(x, y)].symbol();
                out.push_str(sym);
                x += u16::try_from(unicode_width::UnicodeWidthStr::width(sym).max(1)).unwrap();
            }
            out
        };
        // Rows of 6: "one tw", "o thre", "e 中文 ", " four" -> the last two are shown.
        assert_eq!(row(1), "e 中文");
        assert_eq!(row(2), " four ");
        assert!(buf[(0, 0)].symbol() == "┌" && buf[(1, 0)].symbol() == "Q");
        assert!(
            buf[(6, 2)].modifier.contains(Modifier::REVERSED),
            "cursor after 'four'"
        );
        assert!(!buf[(5, 2)].modifier.contains(Modifier::REVERSED));

        let mut buf = Buffer::empty(area);
        render_input(&input, area, &mut buf, false, "Q");
        assert!(!buf[(6, 2)].modifier.contains(Modifier::REVERSED));
        let mut tiny = Buffer::empty(Rect::new(0, 0, 2, 2));
        render_input(&input, Rect::new(0, 0, 2, 2), &mut tiny, true, "Q");
    }
}

//! Small modal boxes: jump to a sample, a bookmark note, the session name, the custom
//! sample form. (The help overlay has its own module.)

use super::help::centered;
use crate::tui::app::{CustomForm, Overlay};
use crate::tui::input::render_input;
use crate::tui::theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, overlay: &Overlay) {
    match overlay {
        Overlay::Jump(input) => one_field(
            frame,
            area,
            " Jump ",
            "Sample index or id, Enter to go, Esc to cancel",
            input,
        ),
        Overlay::Bookmark(input) => one_field(
            frame,
            area,
            " Bookmark ",
            "A note on this sample, Enter to keep, Esc to cancel",
            input,
        ),
        Overlay::Save(input) => one_field(
            frame,
            area,
            " Save session ",
            "Saved as sessions/<name>.json (models, options, bookmarks, every finished trace)",
            input,
        ),
        Overlay::Form(form) => custom_form(frame, area, form),
        Overlay::Help { .. } => {}
    }
}

fn boxed(title: &str) -> Block<'static> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(theme::ACCENT))
        .title(Span::styled(title.to_string(), theme::title()))
}

fn one_field(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    hint: &str,
    input: &crate::tui::input::TextInput,
) {
    let rect = centered(area, 70, 6);
    frame.render_widget(Clear, rect);
    let block = boxed(title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [hint_area, field] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(3)]).areas(inner);
    frame.render_widget(
        Paragraph::new(Span::styled(hint.to_string(), theme::dim())),
        hint_area,
    );
    render_input(input, field, frame.buffer_mut(), true, "");
}

fn custom_form(frame: &mut Frame, area: Rect, form: &CustomForm) {
    let rect = centered(area, 100, 24);
    frame.render_widget(Clear, rect);
    let block = boxed(" Custom sample ");
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [intro, context, question, gold, status] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(4),
        Constraint::Length(3),
        Constraint::Length(2),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            "Type or paste a context and a question in any language (the gold answer must appear in the context). Tab moves between fields, Ctrl-S traces, Esc cancels.",
            theme::dim(),
        )))
        .wrap(Wrap { trim: true }),
        intro,
    );
    for (i, field_area) in [context, question, gold].into_iter().enumerate() {
        render_input(
            &form.fields[i],
            field_area,
            frame.buffer_mut(),
            form.focus == i,
            CustomForm::LABELS[i],
        );
    }
    if let Some(error) = &form.error {
        frame.render_widget(
            Paragraph::new(Span::styled(error.clone(), Style::new().fg(theme::BAD))),
            status,
        );
    }
}

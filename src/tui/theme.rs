//! Colours: one per prompt part, a diverging scale for signed relevance, and the few accents
//! the panes share. Truecolor throughout; terminals without it approximate.

use crate::data::prompt::Part;
use ratatui::style::{Color, Modifier, Style};

pub use crate::export::colour::{NEGATIVE, POSITIVE};

/// The middle of the scale: the terminal's dark background, so zero cells vanish.
pub const NEUTRAL: (u8, u8, u8) = (30, 30, 36);

pub const ACCENT: Color = Color::Rgb(250, 189, 47);
pub const DIM: Color = Color::Rgb(120, 120, 130);
pub const GOOD: Color = Color::Rgb(80, 200, 120);
pub const BAD: Color = Color::Rgb(235, 90, 90);
pub const GOLD: Color = Color::Rgb(255, 215, 0);

/// The colour that labels a prompt part in the prompt pane, legends and MRD bars.
pub fn part_color(part: Part) -> Color {
    match part {
        Part::System => Color::Rgb(150, 150, 160),
        Part::Task => Color::Rgb(180, 140, 255),
        Part::Demo1 => Color::Rgb(110, 170, 240),
        Part::Demo2 => Color::Rgb(90, 200, 220),
        Part::Context => Color::Rgb(120, 210, 130),
        Part::Question => Color::Rgb(250, 170, 90),
        Part::Trailer => Color::Rgb(200, 200, 120),
        // Darker than every content part: labels and role markers recede behind the text.
        Part::Markup => Color::Rgb(100, 100, 112),
        Part::AnswerPrefix => Color::Rgb(235, 120, 150),
    }
}

/// A signed value in -1..=1 on the diverging scale: blue (negative), background (0), red
/// (positive). Values outside are clamped, NaN is neutral. The ramp is square-root shaped so
/// small but real relevance stays visible next to the row maximum.
pub fn diverging(value: f32) -> Color {
    let (r, g, b) = crate::export::colour::diverging(value, NEUTRAL);
    Color::Rgb(r, g, b)
}

/// Text drawn over a `diverging` background: dark on strong colour, light elsewhere.
pub fn on_diverging(value: f32) -> Color {
    if value.abs() > 0.55 {
        Color::Rgb(10, 10, 10)
    } else {
        Color::Rgb(225, 225, 230)
    }
}

pub fn title() -> Style {
    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::new().fg(DIM)
}

/// The border of the focused pane and of the others.
pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(ACCENT)
    } else {
        Style::new().fg(Color::Rgb(70, 70, 80))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_ends_and_middle() {
        assert_eq!(diverging(0.0), Color::Rgb(NEUTRAL.0, NEUTRAL.1, NEUTRAL.2));
        assert_eq!(
            diverging(1.0),
            Color::Rgb(POSITIVE.0, POSITIVE.1, POSITIVE.2)
        );
        assert_eq!(
            diverging(-1.0),
            Color::Rgb(NEGATIVE.0, NEGATIVE.1, NEGATIVE.2)
        );
        assert_eq!(diverging(7.0), diverging(1.0));
        assert_eq!(diverging(f32::NAN), diverging(0.0));
    }

    #[test]
    fn small_values_are_visible() {
        // sqrt ramp: a tenth of the maximum is about a third of the way to red.
        let Color::Rgb(r, _, _) = diverging(0.1) else {
            unreachable!()
        };
        assert!(r > NEUTRAL.0 + 50, "{r}");
    }
}

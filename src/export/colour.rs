//! The diverging scale every view of relevance shares (the terminal's heatmap and prompt, the
//! exported page and SVG): blue for negative, the background at zero, red for positive,
//! square-root shaped so small but real relevance stays visible next to the row maximum.

/// An sRGB colour.
pub type Rgb = (u8, u8, u8);

/// Positive relevance end (red, as in the paper's heatmaps).
pub const POSITIVE: Rgb = (214, 39, 40);
/// Negative end (blue).
pub const NEGATIVE: Rgb = (31, 119, 180);
/// The page's background, the middle of the exported scale.
pub const PAPER: Rgb = (255, 255, 255);

/// `value` in -1..=1 (clamped; NaN is zero) between `neutral` and the scale's ends.
pub fn diverging(value: f32, neutral: Rgb) -> Rgb {
    let v = if value.is_nan() {
        0.0
    } else {
        value.clamp(-1.0, 1.0)
    };
    let end = if v >= 0.0 { POSITIVE } else { NEGATIVE };
    let t = v.abs().sqrt();
    let mix = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
    (
        mix(neutral.0, end.0),
        mix(neutral.1, end.1),
        mix(neutral.2, end.2),
    )
}

/// `#rrggbb`.
pub fn hex((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_blue_through_the_background_to_red() {
        assert_eq!(diverging(0.0, PAPER), PAPER);
        assert_eq!(diverging(1.0, PAPER), POSITIVE);
        assert_eq!(diverging(-1.0, PAPER), NEGATIVE);
        assert_eq!(diverging(f32::NAN, PAPER), PAPER);
        assert_eq!(diverging(7.0, PAPER), POSITIVE);
        assert_eq!(hex((255, 0, 16)), "#ff0010");
    }
}

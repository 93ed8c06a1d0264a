//! A drawn screen as a self-contained SVG: every cell's background, and its text in its
//! foreground colour, so a capture keeps the heatmap's colours (README figures, bug reports).

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use std::fmt::Write;

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;
const DEFAULT_FG: &str = "#d0d0d0";
const DEFAULT_BG: &str = "#1c1c1c";

/// The buffer as an SVG document (monospace text, one rectangle per run of one background).
pub fn buffer_to_svg(buf: &Buffer) -> String {
    let area = buf.area;
    let (w, h) = (
        f32::from(area.width) * CELL_W,
        f32::from(area.height) * CELL_H,
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>"#
    );
    for y in area.top()..area.bottom() {
        let row_y = f32::from(y - area.y) * CELL_H;
        // Backgrounds, merged over runs of one colour.
        let mut x = area.left();
        while x < area.right() {
            let bg = colour(buf[(x, y)].bg, DEFAULT_BG);
            let start = x;
            while x < area.right() && colour(buf[(x, y)].bg, DEFAULT_BG) == bg {
                x += 1;
            }
            if bg != DEFAULT_BG {
                let _ = writeln!(
                    out,
                    r#"<rect x="{}" y="{row_y}" width="{}" height="{CELL_H}" fill="{bg}"/>"#,
                    f32::from(start - area.x) * CELL_W,
                    f32::from(x - start) * CELL_W,
                );
            }
        }
        // Text, one element per cell with a visible symbol: wide characters and block
        // elements stay on the grid whatever font the viewer picks.
        for x in area.left()..area.right() {
            let cell = &buf[(x, y)];
            let symbol = cell.symbol();
            if symbol.trim().is_empty() {
                continue;
            }
            let fg = colour(cell.fg, DEFAULT_FG);
            let mut attrs = String::new();
            if cell.modifier.contains(Modifier::BOLD) {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if cell.modifier.contains(Modifier::UNDERLINED) {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" fill="{fg}"{attrs}>{}</text>"#,
                f32::from(x - area.x) * CELL_W,
                row_y + CELL_H * 0.78,
                escape(symbol)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// A cell colour as `#rrggbb`; `Reset` is the capture's default.
fn colour(c: Color, default: &str) -> String {
    let rgb = match c {
        Color::Reset => return default.to_string(),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Black => (0, 0, 0),
        Color::Red => (205, 49, 49),
        Color::Green => (13, 188, 121),
        Color::Yellow => (229, 229, 16),
        Color::Blue => (36, 114, 200),
        Color::Magenta => (188, 63, 188),
        Color::Cyan => (17, 168, 205),
        Color::Gray => (204, 204, 204),
        Color::DarkGray => (118, 118, 118),
        Color::LightRed => (241, 76, 76),
        Color::LightGreen => (35, 209, 139),
        Color::LightYellow => (245, 245, 67),
        Color::LightBlue => (59, 142, 234),
        Color::LightMagenta => (214, 112, 214),
        Color::LightCyan => (41, 184, 219),
        Color::White => (229, 229, 229),
        Color::Indexed(i) => return indexed(i, default),
    };
    format!("#{:02x}{:02x}{:02x}", rgb.0, rgb.1, rgb.2)
}

/// xterm's 256-colour cube and grey ramp (the 16 system colours fall back to the default).
fn indexed(i: u8, default: &str) -> String {
    match i {
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            format!(
                "#{:02x}{:02x}{:02x}",
                level(i / 36),
                level((i / 6) % 6),
                level(i % 6)
            )
        }
        232..=255 => {
            let v = 8 + (i - 232) * 10;
            format!("#{v:02x}{v:02x}{v:02x}")
        }
        _ => default.to_string(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn cells_become_rectangles_and_escaped_text() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        buf.set_string(0, 0, "<a", Style::new().fg(Color::Rgb(255, 0, 0)));
        buf.set_string(
            2,
            1,
            "▀",
            Style::new()
                .fg(Color::Indexed(196))
                .bg(Color::Rgb(0, 0, 255)),
        );
        let svg = buffer_to_svg(&buf);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains(r##"fill="#ff0000">&lt;</text>"##), "{svg}");
        assert!(svg.contains(r##"fill="#ff0000">a</text>"##), "{svg}");
        assert!(
            svg.contains(r##"width="8.4" height="17" fill="#0000ff""##),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#ff0000">▀</text>"##), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        // Nothing outside the document.
        assert!(!svg.contains("href") && !svg.contains("http://www.w3.org/1999"));
    }
}

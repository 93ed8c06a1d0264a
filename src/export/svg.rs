//! The page's figures as inline SVG, drawn here so the file needs nothing from outside: the
//! relevance heatmap (tokens x levels, MRD markers, the lens's decision level, a movable
//! layer cursor), part MRD bars and per-level line charts.

use super::colour::{diverging, hex, PAPER};
use std::fmt::Write;

/// XML text escaping (attribute-safe).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One heatmap row: a token's label, part colour, values per level (-1..1), MRD level and
/// whether it carries the gold answer.
pub struct HeatRow {
    pub label: String,
    pub colour: String,
    pub values: Vec<f32>,
    pub mrd: Option<usize>,
    pub gold: bool,
}

/// Heatmap cell size and label column width, in pixels (the page's script moves the cursor
/// by them).
pub const CELL: usize = 14;
pub const LABEL: usize = 120;
const TOP: usize = 22;

/// The heatmap. `standalone` adds the XML namespace a file of its own needs; `cursor` is
/// the level the `#cursor` outline starts on (the page's slider moves it).
pub fn heatmap(
    rows: &[HeatRow],
    levels: usize,
    decision: Option<usize>,
    cursor: usize,
    standalone: bool,
) -> String {
    let width = LABEL + levels * CELL + 8;
    let height = TOP + rows.len() * CELL + 28;
    let mut s = String::new();
    let ns = if standalone {
        " xmlns=\"http://www.w3.org/2000/svg\""
    } else {
        ""
    };
    let _ = write!(
        s,
        "<svg{ns} class=\"heatmap\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = write!(
        s,
        "<rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    // Level numbers every 5, but not where the decision mark stands.
    for level in (0..levels).step_by(5).filter(|&l| Some(l) != decision) {
        let x = LABEL + level * CELL + CELL / 2;
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"14\" text-anchor=\"middle\" fill=\"#666\">{level}</text>"
        );
    }
    if let Some(d) = decision.filter(|&d| d < levels) {
        let x = LABEL + d * CELL + CELL / 2;
        let _ = write!(
            s,
            "<text class=\"decision\" x=\"{x}\" y=\"14\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"#2a9d4b\">D<title>lens decision level {d}</title></text>"
        );
    }
    for (r, row) in rows.iter().enumerate() {
        let y = TOP + r * CELL;
        let weight = if row.gold {
            " font-weight=\"bold\" text-decoration=\"underline\""
        } else {
            ""
        };
        let fill = if row.gold {
            "#b8860b"
        } else {
            row.colour.as_str()
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{fill}\"{weight}>{}</text>",
            LABEL - 6,
            y + CELL - 3,
            esc(&row.label)
        );
        for (level, &v) in row.values.iter().enumerate().take(levels) {
            let x = LABEL + level * CELL;
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"{}\"><title>{} · level {level}: {v:.3}</title></rect>",
                hex(diverging(v, PAPER)),
                esc(&row.label)
            );
        }
        if let Some(m) = row.mrd.filter(|&m| m < levels) {
            let cx = LABEL + m * CELL + CELL / 2;
            let cy = y + CELL / 2;
            let h = CELL / 2 - 2;
            let _ = write!(
                s,
                "<path class=\"mrd\" d=\"M{cx} {} L{} {cy} L{cx} {} L{} {cy} Z\" fill=\"#222\" stroke=\"#fff\" stroke-width=\"1\"><title>MRD {m}</title></path>",
                cy - h,
                cx + h,
                cy + h,
                cx - h
            );
        }
    }
    let grid_h = rows.len() * CELL;
    let _ = write!(
        s,
        "<rect id=\"cursor\" x=\"{}\" y=\"{TOP}\" width=\"{CELL}\" height=\"{grid_h}\" fill=\"none\" stroke=\"#f0a500\" stroke-width=\"2\"/>",
        LABEL + cursor.min(levels.saturating_sub(1)) * CELL
    );
    let y = TOP + grid_h + 18;
    let _ = write!(
        s,
        "<text x=\"{LABEL}\" y=\"{y}\" fill=\"#444\">level (0 = embeddings) · each level / its max |R| · ◆ token MRD{}</text>",
        if decision.is_some() { " · D lens decision" } else { "" }
    );
    s.push_str("</svg>");
    s
}

/// One horizontal bar per (label, colour, value, text) on 0..`max`.
pub fn bars(items: &[(String, String, Option<f32>, String)], max: f32) -> String {
    let width = 420;
    let height = items.len() * 20 + 6;
    let mut s = format!(
        "<svg class=\"bars\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    for (i, (label, colour, value, text)) in items.iter().enumerate() {
        let y = 3 + i * 20;
        let w = value.map_or(0.0, |v| (v / max.max(1e-9)).clamp(0.0, 1.0) * 260.0);
        let _ = write!(
            s,
            "<text x=\"84\" y=\"{}\" text-anchor=\"end\" fill=\"{colour}\">{}</text><rect x=\"90\" y=\"{y}\" width=\"{w:.1}\" height=\"14\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{}\" fill=\"#333\">{}</text>",
            y + 12,
            esc(label),
            96.0 + w,
            y + 12,
            esc(text)
        );
    }
    s.push_str("</svg>");
    s
}

/// A line chart over levels: one polyline per (name, colour, values), y on `range`, a
/// dashed mark at each of `marks` (level, label) and a `.cursor` line the slider moves.
pub fn line_chart(
    title: &str,
    series: &[(String, String, Vec<f32>)],
    range: (f32, f32),
    marks: &[(usize, String)],
    cursor: usize,
) -> String {
    let (width, height) = (520usize, 190usize);
    let (left, right, top, bottom) = (44.0, 12.0, 22.0, 40.0);
    let levels = series.iter().map(|s| s.2.len()).max().unwrap_or(1).max(2);
    let plot_w = width as f32 - left - right;
    let plot_h = height as f32 - top - bottom;
    let x = |l: usize| left + plot_w * l as f32 / (levels - 1) as f32;
    let (lo, hi) = if range.1 > range.0 {
        range
    } else {
        (range.0, range.0 + 1.0)
    };
    let y = |v: f32| top + plot_h * (1.0 - (v.clamp(lo, hi) - lo) / (hi - lo));
    let mut s = format!(
        "<svg class=\"chart\" data-levels=\"{levels}\" data-x0=\"{left}\" data-dx=\"{:.3}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">",
        plot_w / (levels - 1) as f32
    );
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"14\" font-weight=\"bold\" fill=\"#333\">{}</text>",
        esc(title)
    );
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#ccc\"/>"
    );
    for (v, anchor) in [(lo, "end"), (hi, "end")] {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#666\">{v:.2}</text>",
            left - 4.0,
            y(v) + 4.0
        );
    }
    for l in (0..levels).step_by(5) {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{l}</text>",
            x(l),
            top + plot_h + 14.0
        );
    }
    for (level, label) in marks {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1:.1}\" stroke=\"#2a9d4b\" stroke-dasharray=\"4 3\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#2a9d4b\">{3}</text>",
            x(*level),
            top + plot_h,
            top - 3.0,
            esc(label)
        );
    }
    let _ = write!(
        s,
        "<line class=\"cursor\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1:.1}\" stroke=\"#f0a500\" stroke-width=\"2\"/>",
        x(cursor.min(levels - 1)),
        top + plot_h
    );
    for (i, (name, colour, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(l, &v)| format!("{:.1},{:.1}", x(l), y(v)))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            points.join(" ")
        );
        let lx = left + 4.0 + (i as f32) * 130.0;
        let ly = height as f32 - 8.0;
        let _ = write!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"3\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{ly:.1}\" fill=\"#333\">{}</text>",
            ly - 4.0,
            lx + 18.0,
            esc(name)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\">level</text>",
        left + plot_w,
        top + plot_h + 26.0
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_shapes() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        let rows = [HeatRow {
            label: "<Mar>".into(),
            colour: "#123456".into(),
            values: vec![0.0, 1.0, -1.0],
            mrd: Some(1),
            gold: true,
        }];
        let svg = heatmap(&rows, 3, Some(2), 1, true);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("&lt;Mar&gt;"));
        assert_eq!(svg.matches("<rect x=").count(), 3, "one cell per level");
        assert!(
            svg.contains("<rect id=\"cursor\" x=\"134\""),
            "the cursor on level 1"
        );
        assert!(svg.contains("class=\"mrd\"") && svg.contains("class=\"decision\""));
        assert!(svg.contains("#d62728"), "the positive end");
        let chart = line_chart(
            "t",
            &[("a".into(), "#000".into(), vec![0.0, 0.5, 1.0])],
            (0.0, 1.0),
            &[(2, "D".into())],
            0,
        );
        assert!(chart.contains("<polyline") && chart.contains("class=\"cursor\""));
    }
}

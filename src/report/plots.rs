//! PNG and SVG plots in the shapes of the paper's Figure 3 (mean part MRD per language,
//! balanced and en-superior panels) and Figures 4-6 (S(en,x) per layer, one line per
//! language, question / context / last-token panels).
//!
//! Text is drawn with the bundled DejaVu Sans (plotters' `ab_glyph`), so no system font or
//! fontconfig is needed.

use super::aggregate::RowKey;
use super::lens::LensSeries;
use super::mrd_groups::{GroupMrd, PARTS};
use super::similarity::SimSeries;
use crate::attribution::relevance::TargetMode;
use crate::data::prompt::Scenario;
use crate::similarity::SimPart;
use anyhow::{anyhow, bail, Context, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";

/// Distinct colours (Tableau 10 and two more), one per line.
const COLOURS: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 0, 0),
];

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

fn plot_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing: {e}")
}

/// Registers the bundled font once.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if !ok {
        bail!("the bundled font assets/fonts/DejaVuSans.ttf could not be loaded");
    }
    Ok(())
}

/// `meta-llama/Llama-3.1-8B` -> `meta-llama-llama-3-1-8b`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// File stem of a row's plot: `<kind>_<model>_<shots>shot_<format>[_<target>]`.
pub fn stem(kind: &str, row: &RowKey) -> String {
    let mut s = format!(
        "{kind}_{}_{}shot_{}",
        slug(&row.model),
        row.shots,
        row.format
    );
    if row.target != TargetMode::Step {
        s.push('_');
        s.push_str(row.target.name());
    }
    s
}

/// Draws `draw` into `<stem>.png` and `<stem>.svg` under `dir`; returns both paths.
fn both_formats(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    draw: impl Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    draw_png: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    // Each file appears whole or not at all: the PNG is drawn under a temporary name (its
    // extension picks the encoder) and renamed, the SVG drawn into memory and written
    // atomically.
    let png_tmp = dir.join(format!(".{stem}.partial.png"));
    let drawn = (|| -> Result<()> {
        let root = BitMapBackend::new(&png_tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw_png(&root).with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .map_err(plot_err)
            .with_context(|| format!("writing {}", png.display()))
    })();
    if let Err(e) = drawn.and_then(|()| {
        std::fs::rename(&png_tmp, &png).with_context(|| format!("writing {}", png.display()))
    }) {
        let _ = std::fs::remove_file(&png_tmp);
        return Err(e);
    }
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root).with_context(|| format!("drawing {}", svg.display()))?;
        root.present()
            .map_err(plot_err)
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    crate::atomic_file::write_atomically(&svg, |w| Ok(w.write_all(text.as_bytes())?))?;
    Ok(vec![png, svg])
}

/// One plot per row with MRDs (Figure 3), per row and scenario with similarity (Figure 4),
/// and per row and scenario with the language lens's mean `P_en` / `P_x`.
pub fn write_plots(
    dir: &Path,
    groups: &[GroupMrd],
    series: &[SimSeries],
    lens: &[LensSeries],
) -> Result<Vec<PathBuf>> {
    ensure_font()?;
    let mut written = Vec::new();
    let mut by_row: BTreeMap<&RowKey, Vec<&GroupMrd>> = BTreeMap::new();
    for g in groups {
        by_row.entry(&g.row).or_default().push(g);
    }
    for (row, groups) in by_row {
        let title = row.to_string();
        written.extend(both_formats(
            dir,
            &stem("mrd", row),
            (1400, 520),
            |root| mrd_panels(root, &title, &groups),
            |root| mrd_panels(root, &title, &groups),
        )?);
    }
    let mut by_plot: BTreeMap<(&RowKey, Scenario), Vec<&SimSeries>> = BTreeMap::new();
    for s in series {
        by_plot.entry((&s.row, s.scenario)).or_default().push(s);
    }
    for ((row, scenario), lines) in by_plot {
        let mut name = stem("similarity", row);
        if scenario != Scenario::EnX {
            name.push('_');
            name.push_str(scenario.name());
        }
        let title = format!("{row} · {scenario}");
        written.extend(both_formats(
            dir,
            &name,
            (1500, 520),
            |root| similarity_panels(root, &title, &lines),
            |root| similarity_panels(root, &title, &lines),
        )?);
    }
    let mut by_plot: BTreeMap<(&RowKey, Scenario), Vec<&LensSeries>> = BTreeMap::new();
    for s in lens {
        by_plot.entry((&s.row, s.scenario)).or_default().push(s);
    }
    for ((row, scenario), lines) in by_plot {
        let name = format!("{}_{}", stem("lens", row), scenario.name());
        let title = format!("{row} · {scenario}");
        written.extend(both_formats(
            dir,
            &name,
            (1200, 520),
            |root| lens_panels(root, &title, &lines),
            |root| lens_panels(root, &title, &lines),
        )?);
    }
    Ok(written)
}

/// A chart over levels 0..`levels` on the x axis (one label per level at most, only at whole
/// levels) and `y` on the other, its mesh drawn.
fn level_chart<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, Shift>,
    caption: &str,
    levels: usize,
    (lo, hi): (f64, f64),
    x_desc: &str,
    y_desc: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..(levels - 1) as f64, lo..hi)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_labels(levels.min(17))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.2}"))
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

/// The series legend every chart draws, at `position`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(plot_err)
}

/// A panel with nothing to draw says so in its middle rather than stay a bare frame.
fn say_empty<DB: DrawingBackend>(panel: &DrawingArea<DB, Shift>, text: &str) -> Result<()> {
    let (w, h) = panel.dim_in_pixel();
    // About 8 px per character at size 16.
    let half = (text.chars().count() * 4) as i32;
    panel
        .draw(&Text::new(
            text,
            (w as i32 / 2 - half, h as i32 / 2),
            (FONT, 16),
        ))
        .map_err(plot_err)
}

/// A lens curve of a series: its mean per level and how many units it averages.
type CurveOf = fn(&LensSeries) -> (&[f64], usize);

/// Mean `P_en` and `P_x` per level, one line per language, the median decision level of
/// each language marked on its line.
fn lens_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lines: &[&LensSeries],
) -> Result<()> {
    let root = root
        .titled(&format!("Language lens · {title}"), (FONT, 22))
        .map_err(plot_err)?;
    let panels = root.split_evenly((1, 2));
    let levels = lines.iter().map(|s| s.levels()).max().unwrap_or(1).max(2);
    let panes: [(&str, CurveOf); 2] = [
        ("P_en: English gold's first token", |s| {
            (&s.p_en, s.p_en_samples)
        }),
        ("P_x: language-x gold's first token", |s| {
            (&s.p_x, s.p_x_samples)
        }),
    ];
    for (panel, (name, values_of)) in panels.iter().zip(panes) {
        let hi = lines
            .iter()
            .flat_map(|s| values_of(s).0.iter().copied())
            .fold(0.0f64, f64::max);
        let hi = (hi * 1.1).max(0.05);
        let mut chart = level_chart(
            panel,
            name,
            levels,
            (0.0, hi),
            "level (0 = embeddings); dot = median decision level",
            "mean probability",
        )?;
        let mut drawn = 0;
        for (i, s) in lines.iter().enumerate() {
            let (values, n) = values_of(s);
            if n == 0 {
                continue;
            }
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .map(|(l, &v)| (l as f64, v))
                .collect();
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{} (n = {n})", s.lang))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            if let Some(&point) = s.median_decision().and_then(|d| points.get(d)) {
                chart
                    .draw_series(std::iter::once(Circle::new(point, 5, c.filled())))
                    .map_err(plot_err)?;
            }
            drawn += 1;
        }
        if drawn == 0 {
            say_empty(
                panel,
                "none: en-en, or the gold answers share their first token",
            )?;
            continue;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

fn mrd_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    groups: &[&GroupMrd],
) -> Result<()> {
    let root = root
        .titled(&format!("Mean part MRD · {title}"), (FONT, 22))
        .map_err(plot_err)?;
    let panels = root.split_evenly((1, groups.len().max(1)));
    let top = groups
        .iter()
        .flat_map(|g| g.langs.iter().flat_map(|l| l.parts.iter().flatten()))
        .fold(1.0f64, |a, &b| a.max(b));
    for (panel, group) in panels.iter().zip(groups) {
        let langs: Vec<&str> = group.langs.iter().map(|l| l.lang.code()).collect();
        let n = langs.len().max(1);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{} samples (n = {})", group.group, group.samples),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top * 1.1)
            .map_err(plot_err)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                langs
                    .get(i as usize)
                    .map_or(String::new(), |s| s.to_string())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("language (en = en-en, others = en-x)")
            .y_desc("mean MRD (layer)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(plot_err)?;
        let mut drawn = 0;
        for (p, part) in PARTS.iter().enumerate() {
            let points: Vec<(f64, f64)> = group
                .langs
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.parts[p].map(|v| (i as f64, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let c = colour(p);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))
                .map_err(plot_err)?
                .label(part.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&pt| Circle::new(pt, 4, c.filled())))
                .map_err(plot_err)?;
            drawn += 1;
        }
        if drawn == 0 {
            // An empty group: say so rather than leave a bare frame.
            say_empty(panel, "no samples in this group")?;
            continue;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

fn similarity_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lines: &[&SimSeries],
) -> Result<()> {
    let pooled = lines.iter().all(|s| s.ratio.is_some());
    let y_name = if pooled {
        "S(en,x)"
    } else {
        "mean cosine to en-en (no pool: not S(en,x))"
    };
    let root = root
        .titled(&format!("Hidden-state similarity · {title}"), (FONT, 22))
        .map_err(plot_err)?;
    let panels = root.split_evenly((1, SimPart::ALL.len()));
    let levels = lines.iter().map(|s| s.levels()).max().unwrap_or(1).max(2);
    for (panel, part) in panels.iter().zip(SimPart::ALL) {
        let values = lines
            .iter()
            .flat_map(|s| (0..s.levels()).filter_map(move |l| s.shown(part, l)));
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        // A flat series (identical contexts give cosines of 1 everywhere) still gets a
        // readable axis: at least 0.1 tall.
        let (lo, hi) = if lo.is_finite() {
            let pad = ((hi - lo) * 0.05).max((0.1 - (hi - lo)) / 2.0).max(0.0);
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        };
        let name = match part {
            SimPart::Question => "question",
            SimPart::Context => "context",
            SimPart::Last => "last input token",
        };
        let mut chart = level_chart(
            panel,
            name,
            levels,
            (lo, hi),
            "layer (0 = embeddings)",
            y_name,
        )?;
        for (i, s) in lines.iter().enumerate() {
            let points: Vec<(f64, f64)> = (0..s.levels())
                .filter_map(|l| s.shown(part, l).map(|v| (l as f64, v)))
                .collect();
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(points, c.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{}", s.lang))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("meta-llama/Llama-3.1-8B"), "meta-llama-llama-3-1-8b");
        assert_eq!(slug("/models/Qwen2.5 7B/"), "models-qwen2-5-7b");
    }
}

//! A trace you can hand to someone: one self-contained HTML page (no network, no external
//! script or font) with the prompt shaded by relevance at a layer chosen with a slider, the
//! heatmap with MRD markers, part MRD bars, similarity and lens curves, the answer with its
//! scores and labels, and the model and options; or the heatmap alone as SVG. The numbers the
//! page shows are also embedded as JSON (`#xmrc-data`), which its script and tests read.

pub mod colour;
pub mod svg;
pub mod text;

use crate::attribution::mrd::{heatmap_rows, token_column};
use crate::data::prompt::Part;
use crate::pipeline::SampleTrace;
use anyhow::{bail, Result};
use serde_json::json;
use std::fmt::Write;
use svg::{esc, HeatRow};

/// What the page starts on.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The layer the slider starts at (default: the last counted MRD layer).
    pub layer: Option<usize>,
    /// Heatmap rows per part (the gold answer's tokens are always added).
    pub top_k: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            layer: None,
            top_k: 6,
        }
    }
}

const CSS: &str = include_str!("../../assets/export/page.css");
const SCRIPT: &str = include_str!("../../assets/export/page.js");

/// A part's colour on white paper (the terminal theme's hues, darkened for print).
fn part_colour(part: Part) -> &'static str {
    match part {
        Part::System => "#6b6b78",
        Part::Task => "#7a4fd6",
        Part::Demo1 => "#2f6fbf",
        Part::Demo2 => "#1f8fa3",
        Part::Context => "#2e8b3e",
        Part::Question => "#c46a12",
        Part::Trailer => "#8a8a2a",
        Part::Markup => "#8c8c96",
        Part::AnswerPrefix => "#c2416b",
    }
}

fn levels_of(trace: &SampleTrace) -> usize {
    trace
        .relevance
        .as_ref()
        .map(|r| r.display.len())
        .or_else(|| trace.lens.as_ref().map(|l| l.lens.levels.len()))
        .unwrap_or(trace.model.layers + 1)
}

fn start_layer(trace: &SampleTrace, options: &ExportOptions) -> usize {
    let levels = levels_of(trace);
    options
        .layer
        .unwrap_or_else(|| {
            trace
                .relevance
                .as_ref()
                .map_or(levels / 2, |r| r.part_mrd.counted_layers)
        })
        .min(levels.saturating_sub(1))
}

/// The relevance heatmap as SVG (standalone: a file of its own); fails without relevance.
pub fn heatmap_svg(
    trace: &SampleTrace,
    options: &ExportOptions,
    standalone: bool,
) -> Result<String> {
    let Some(rel) = &trace.relevance else {
        bail!("the trace has no relevance (it was traced with --no-relevance): no heatmap to draw");
    };
    let tokens = trace.relevance_tokens();
    let parts: Vec<Part> = tokens.iter().map(|t| t.part).collect();
    let gold = trace.gold_tokens(tokens.len());
    let rows: Vec<HeatRow> = heatmap_rows(&rel.display, &parts, &gold, Some(options.top_k))
        .into_iter()
        .map(|t| HeatRow {
            label: text::token_text(&trace.text, &tokens[t]),
            colour: part_colour(parts[t]).to_string(),
            values: token_column(&rel.display, t),
            mrd: rel.token_mrd.get(t).copied().flatten(),
            gold: gold[t],
        })
        .collect();
    Ok(svg::heatmap(
        &rows,
        rel.display.len(),
        trace.lens.as_ref().map(|l| l.lens.decision_level),
        start_layer(trace, options),
        standalone,
    ))
}

fn round4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

/// The numbers the page's script needs and a reader may want back.
fn data(trace: &SampleTrace, options: &ExportOptions) -> serde_json::Value {
    let display: Option<Vec<Vec<f64>>> = trace.relevance.as_ref().map(|r| {
        r.display
            .iter()
            .map(|row| row.iter().map(|&v| round4(v)).collect())
            .collect()
    });
    let lens = trace.lens.as_ref().map(|l| {
        json!({
            "decision_level": l.lens.decision_level,
            "generated_piece": l.lens.generated_piece,
            "levels": l.lens.levels.iter().map(|level| json!({
                "top": level.top.iter().map(|t| json!({
                    "piece": t.token.piece, "prob": t.token.prob, "script": t.tag.label(),
                })).collect::<Vec<_>>(),
                "generated_prob": level.generated_prob,
                "generated_rank": level.generated_rank,
            })).collect::<Vec<_>>(),
            "p_en": l.p_en.as_ref().map(|c| &c.prob),
            "p_x": l.p_x.as_ref().map(|c| &c.prob),
            "same_first_token": l.same_first_token,
        })
    });
    json!({
        "xmrc_lens": env!("CARGO_PKG_VERSION"),
        "trace_version": trace.version,
        "model": trace.model.name,
        "levels": levels_of(trace),
        "cursor": start_layer(trace, options),
        "answer": trace.answer,
        "gold": trace.gold,
        "scores": trace.scores,
        "part_mrd": trace.relevance.as_ref().map(|r| &r.part_mrd),
        "token_mrd": trace.relevance.as_ref().map(|r| &r.token_mrd),
        "display": display,
        "heatmap_x0": svg::LABEL,
        "heatmap_cell": svg::CELL,
        "lens": lens,
    })
}

/// JSON safe inside a `<script>` element.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--")
}

/// The whole page.
pub fn html(trace: &SampleTrace, options: &ExportOptions) -> Result<String> {
    let mut h = String::new();
    let prompt = trace.prompt.as_ref();
    let setting = prompt.map(|p| &p.options);
    // A model path is named by its last component, as the explorer's header does.
    let model = std::path::Path::new(&trace.model.name)
        .file_name()
        .map_or(trace.model.name.clone(), |n| {
            n.to_string_lossy().into_owned()
        });
    let title = match (prompt, setting) {
        (Some(p), Some(o)) if o.setting.scenario == crate::data::prompt::Scenario::EnEn => {
            format!("{} · en-en · {model}", p.sample_id)
        }
        (Some(p), Some(o)) => format!(
            "{} · {} {} · {model}",
            p.sample_id,
            o.setting.scenario,
            o.setting.lang.code()
        ),
        _ => format!("free text · {model}"),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>xmrc-lens · {}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let _ = write!(h, "<h1>xmrc-lens trace · {}</h1>", esc(&title));
    meta(&mut h, trace);
    answer(&mut h, trace);
    prompt_section(&mut h, trace, options);
    relevance_section(&mut h, trace, options)?;
    similarity_section(&mut h, trace, options);
    lens_section(&mut h, trace, options);
    oracle_section(&mut h, trace);
    let _ = write!(
        h,
        "<p class=\"note\">Written by xmrc-lens {} from a trace (layout version {}). The page is self-contained: no network, no external script or font.</p>",
        env!("CARGO_PKG_VERSION"),
        trace.version
    );
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"xmrc-data\">{}</script><script>{SCRIPT}</script></body></html>",
        script_json(&data(trace, options))
    );
    Ok(h)
}

fn row(h: &mut String, key: &str, value: &str) {
    let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(key), esc(value));
}

fn meta(h: &mut String, trace: &SampleTrace) {
    let m = &trace.model;
    h.push_str("<table class=\"meta\">");
    row(h, "model", &m.name);
    row(
        h,
        "architecture",
        &format!(
            "{} ({}), {} layers, hidden {}, vocabulary {}",
            m.architecture, m.family, m.layers, m.hidden_size, m.vocab_size
        ),
    );
    row(
        h,
        "run",
        &format!(
            "{} · {} · {}",
            m.device,
            m.dtype,
            if m.chat {
                "chat template"
            } else {
                "raw prompt"
            }
        ),
    );
    if let Some(g) = &m.gguf {
        row(h, "GGUF", &g.file);
    }
    if let Some(p) = &trace.prompt {
        let o = &p.options;
        let lang = match o.setting.scenario {
            crate::data::prompt::Scenario::EnEn => String::new(),
            _ => format!(" · language {}", o.setting.lang.code()),
        };
        row(
            h,
            "setting",
            &format!(
                "{}{lang} · {}-shot · format {} · seed {}",
                o.setting.scenario, o.setting.shots, o.setting.format, o.seed
            ),
        );
        row(h, "sample", &p.sample_id);
    }
    if let Some(r) = &trace.relevance {
        row(
            h,
            "relevance",
            &format!(
                "{:?} rules, {} target",
                r.relevance.rules, r.relevance.target
            )
            .to_lowercase(),
        );
    }
    if let Some(t) = &trace.target {
        row(
            h,
            "explains",
            &format!(
                "{} ({} prefix tokens teacher-forced)",
                t.basis.label(),
                t.prefix.len()
            ),
        );
    }
    row(
        h,
        "time",
        &format!("{:.0} ms in all", trace.timings.total_ms),
    );
    h.push_str("</table>");
}

fn answer(h: &mut String, trace: &SampleTrace) {
    h.push_str("<h2>Answer</h2><table>");
    let _ = write!(
        h,
        "<tr><th>gold</th><td>{}</td></tr><tr><th>answer</th><td class=\"answer\">{}</td></tr>",
        esc(&trace.gold.join(" | ")),
        esc(&trace.answer)
    );
    for s in trace.scores.iter().flatten() {
        let class = if s.f1 >= 50.0 { "good" } else { "bad" };
        let _ = write!(
            h,
            "<tr><th>{}</th><td class=\"{class}\">F1 {:.1} · EM {:.0}</td></tr>",
            esc(&s.normalizer.to_string()),
            s.f1,
            s.em
        );
    }
    let l = &trace.labels;
    let lang = match l.language_error {
        Some(true) => "language error",
        Some(false) => "no language error",
        None => "no language-error label (same languages or free text)",
    };
    let detected = l
        .detected_lang
        .map_or("undecided".to_string(), |d| d.code().to_string());
    let _ = write!(
        h,
        "<tr><th>labels</th><td>{} (detected: {}) · {} [{}]{}</td></tr></table>",
        esc(lang),
        esc(&detected),
        esc(&l
            .generation
            .error
            .map_or("no generation error".to_string(), |e| e.to_string())),
        esc(&l.generation.judge.to_string()),
        l.judge.as_ref().map_or(String::new(), |j| format!(
            " · judge: {}",
            esc(&j
                .error
                .map_or("no generation error".to_string(), |e| e.to_string()))
        ))
    );
    let _ = write!(
        h,
        "<details><summary>raw generation ({} tokens)</summary><pre>{}</pre></details>",
        trace.generation.ids.len(),
        esc(&trace.generation.text)
    );
}

fn prompt_section(h: &mut String, trace: &SampleTrace, options: &ExportOptions) {
    let levels = levels_of(trace);
    let start = start_layer(trace, options);
    h.push_str("<h2>Prompt, shaded by relevance</h2>");
    if trace.relevance.is_some() {
        let _ = write!(
            h,
            "<div class=\"controls\"><label for=\"layer\">layer </label><input type=\"range\" id=\"layer\" min=\"0\" max=\"{}\" value=\"{start}\"> <output id=\"layer-value\">{start}</output> <span class=\"note\">(0 = embeddings; each layer divided by its own max |R|; red positive, blue negative)</span></div>",
            levels.saturating_sub(1)
        );
    } else {
        h.push_str("<p class=\"note\">Traced without relevance: the prompt is shown unshaded.</p>");
    }
    let tokens = trace.relevance_tokens();
    let gold = trace.gold_tokens(tokens.len());
    h.push_str("<div id=\"prompt\">");
    for seg in text::segments(&trace.text, &trace.tokens) {
        if seg.tokens.is_empty() {
            h.push_str(&esc(&seg.text));
            continue;
        }
        let ids: Vec<String> = seg.tokens.iter().map(|t| t.to_string()).collect();
        let mut class = String::from("seg");
        if seg.tokens.iter().any(|&t| gold.get(t) == Some(&true)) {
            class.push_str(" gold");
        }
        if seg.part == Some(Part::Markup) {
            class.push_str(" markup");
        }
        let _ = write!(
            h,
            "<span class=\"{class}\" data-tokens=\"{}\" title=\"{}\">{}</span>",
            ids.join(" "),
            esc(seg.part.map_or("", |p| p.label())),
            esc(&seg.text)
        );
    }
    // The answer prefix, fed back as input after the prompt.
    for (i, t) in tokens.iter().enumerate().skip(trace.tokens.len()) {
        let _ = write!(
            h,
            "<span class=\"seg prefix\" data-tokens=\"{i}\" title=\"answer prefix\">{}</span>",
            esc(&t.piece)
        );
    }
    h.push_str("</div>");
}

fn relevance_section(h: &mut String, trace: &SampleTrace, options: &ExportOptions) -> Result<()> {
    let Some(rel) = &trace.relevance else {
        return Ok(());
    };
    let explains = trace
        .target
        .as_ref()
        .and_then(|t| t.step_id())
        .and_then(|id| trace.generation.steps.iter().find(|s| s.id == id))
        .map_or(String::new(), |s| format!(" · explains «{}»", s.piece));
    let _ = write!(
        h,
        "<h2>Relevance per layer{}</h2><div class=\"figures\">",
        esc(&explains)
    );
    h.push_str(&heatmap_svg(trace, options, false)?);
    let n = rel.part_mrd.counted_layers;
    let items: Vec<(String, String, Option<f32>, String)> = rel
        .part_mrd
        .parts
        .iter()
        .filter(|p| p.tokens > 0 && p.part != Part::Trailer)
        .map(|p| {
            (
                p.part.label().to_string(),
                part_colour(p.part).to_string(),
                p.mrd.map(|m| m as f32),
                p.mrd.map_or("–".to_string(), |m| format!("{m}/{n}")),
            )
        })
        .collect();
    let _ = write!(
        h,
        "<div><h3>Major Relevance Depth by part (N = {n})</h3>{}</div></div>",
        svg::bars(&items, n as f32)
    );
    Ok(())
}

fn similarity_section(h: &mut String, trace: &SampleTrace, options: &ExportOptions) {
    let Some(sim) = &trace.similarity else {
        return;
    };
    let c = &sim.series.cosine;
    let series: Vec<(String, String, Vec<f32>)> = [
        ("question", "#c46a12", &c.question),
        ("context", "#2e8b3e", &c.context),
        ("last token", "#7a4fd6", &c.last),
    ]
    .into_iter()
    .map(|(n, col, v)| {
        (
            n.to_string(),
            col.to_string(),
            v.iter().map(|&x| x as f32).collect(),
        )
    })
    .collect();
    h.push_str("<h2>Similarity to the en-en run, per layer</h2>");
    h.push_str(&svg::line_chart(
        "cosine to the same sample in en-en",
        &series,
        (-0.1, 1.0),
        &[],
        start_layer(trace, options),
    ));
    if sim.ratio.is_none() {
        let _ = write!(
            h,
            "<p class=\"note\">S(en,x) needs two other samples of the language in the reference pool ({} here).</p>",
            sim.reference_samples
        );
    }
}

fn lens_section(h: &mut String, trace: &SampleTrace, options: &ExportOptions) {
    let Some(lens) = &trace.lens else {
        return;
    };
    let mut series = vec![(
        format!("generated «{}»", lens.lens.generated_piece),
        "#2a9d4b".to_string(),
        lens.lens
            .levels
            .iter()
            .map(|l| l.generated_prob)
            .collect::<Vec<f32>>(),
    )];
    for (name, colour, curve) in [
        ("P_en", "#1f77b4", &lens.p_en),
        ("P_x", "#d62728", &lens.p_x),
    ] {
        if let Some(c) = curve {
            series.push((
                format!("{name} «{}»", c.piece),
                colour.to_string(),
                c.prob.clone(),
            ));
        }
    }
    let top = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let d = lens.lens.decision_level;
    h.push_str("<h2>Language lens</h2>");
    h.push_str(&svg::line_chart(
        "probability through the model's head, per level",
        &series,
        (0.0, top),
        &[(d, format!("D {d}"))],
        start_layer(trace, options),
    ));
    let _ = write!(
        h,
        "<p>Decision layer <b>{d}</b>: from there on the final top-1 token stays top-1. At the slider's layer: <span id=\"lens-generated\"></span></p><p id=\"lens-top\"></p>"
    );
    if lens.same_first_token {
        h.push_str("<p class=\"note\">P_x = P_en: the English and language-x gold answers begin with the same token.</p>");
    }
}

fn oracle_section(h: &mut String, trace: &SampleTrace) {
    let Some(oracle) = &trace.oracle else {
        return;
    };
    h.push_str("<h2>Sentence oracle</h2><table><tr><th>sentence</th><th>step drop</th><th>sequence drop</th><th>text</th></tr>");
    for s in &oracle.sentences {
        let star = if s.contains_gold { " ★" } else { "" };
        let _ = write!(
            h,
            "<tr><td>s{}{star}</td><td>{:+.3}</td><td>{:+.3}</td><td>{}</td></tr>",
            s.index,
            s.step_drop,
            s.sequence_drop,
            esc(&s.text)
        );
    }
    h.push_str("</table><p class=\"note\">The drop of the answer's log-probability when the sentence is ablated (★: holds the gold answer).</p>");
}

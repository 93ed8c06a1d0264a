#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `xmrc-lens export`: the page parses without errors as HTML5, references nothing outside
//! itself, carries the trace's numbers (read back from the page's data and its text), keeps
//! Chinese and Arabic text whole, and the SVG heatmap is well-formed XML. The real binary
//! writes both, atomically, and refuses what it cannot do with a message.

mod common;

use common::{bin, repo_path};
use scraper::{Html, Selector};
use xmrc_lens::export::{heatmap_svg, html, ExportOptions};
use xmrc_lens::pipeline::SampleTrace;

fn fixture(name: &str) -> SampleTrace {
    let path = repo_path(&format!("tests/fixtures/traces/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).unwrap()).collect()
}

/// Nothing the page would fetch: no URL, no external script, style, font or image.
fn assert_self_contained(page: &str) {
    for bad in [
        "http://",
        "https://",
        "<link",
        "@import",
        "url(",
        "src=",
        "//cdn",
        "@font-face",
    ] {
        assert!(
            !page.contains(bad),
            "the page references something outside: {bad}"
        );
    }
    let doc = Html::parse_document(page);
    for a in select(&doc, "[href]") {
        let href = a.value().attr("href").unwrap();
        assert!(href.starts_with('#'), "an outside link: {href}");
    }
}

#[test]
fn the_page_parses_is_self_contained_and_carries_the_traces_numbers() {
    let trace = fixture("demo-de-0");
    let page = html(&trace, &ExportOptions::default()).unwrap();
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    assert_self_contained(&page);

    // The embedded data: what the script draws from, equal to the trace.
    let data: serde_json::Value =
        serde_json::from_str(&select(&doc, "script#xmrc-data")[0].inner_html()).unwrap();
    let scores = trace.scores.as_ref().unwrap();
    assert_eq!(data["scores"][0]["f1"].as_f64().unwrap(), scores[0].f1);
    assert_eq!(data["answer"], trace.answer.as_str());
    let rel = trace.relevance.as_ref().unwrap();
    for (i, part) in rel.part_mrd.parts.iter().enumerate() {
        assert_eq!(
            data["part_mrd"]["parts"][i]["mrd"]
                .as_u64()
                .map(|m| m as usize),
            part.mrd
        );
    }
    let display = data["display"].as_array().unwrap();
    assert_eq!(display.len(), rel.display.len());
    for (level, row) in rel.display.iter().enumerate() {
        for (t, &v) in row.iter().enumerate() {
            let got = display[level][t].as_f64().unwrap();
            assert!(
                (got - f64::from(v)).abs() <= 5e-5,
                "level {level} token {t}"
            );
        }
    }
    let lens = trace.lens.as_ref().unwrap();
    assert_eq!(
        data["lens"]["decision_level"].as_u64().unwrap() as usize,
        lens.lens.decision_level
    );

    // What a reader sees: the answer, the scores, the decision layer, the model.
    let text: String = doc.root_element().text().collect();
    assert!(text.contains(&format!("F1 {:.1}", scores[0].f1)));
    assert!(text.contains(&format!("Decision layer {}", lens.lens.decision_level)));
    assert!(text.contains(&trace.model.name));
    // The slider spans the levels and starts at the last counted MRD layer.
    let slider = select(&doc, "input#layer")[0];
    assert_eq!(
        slider.value().attr("max").unwrap(),
        (rel.display.len() - 1).to_string()
    );
    assert_eq!(
        slider.value().attr("value").unwrap(),
        rel.part_mrd.counted_layers.to_string()
    );
    // One heatmap cell per shown token and level, with the MRD markers and the decision mark.
    let heat = select(&doc, "svg.heatmap")[0];
    assert!(heat.select(&Selector::parse("path.mrd").unwrap()).count() > 0);
    assert_eq!(
        heat.select(&Selector::parse("text.decision").unwrap())
            .count(),
        1
    );
    // Similarity and lens charts.
    assert_eq!(select(&doc, "svg.chart").len(), 2);
}

#[test]
fn the_prompt_reads_as_text_in_every_script() {
    for name in ["demo-zh-0", "demo-ar-0", "demo-hi-0"] {
        let trace = fixture(name);
        let page = html(&trace, &ExportOptions::default()).unwrap();
        let doc = Html::parse_document(&page);
        assert!(doc.errors.is_empty(), "{name}: {:?}", doc.errors);
        let prompt: String = select(&doc, "#prompt")[0]
            .children()
            .filter_map(scraper::ElementRef::wrap)
            .filter(|e| !e.value().classes().any(|c| c == "prefix"))
            .map(|e| e.text().collect::<String>())
            .collect::<Vec<_>>()
            .join("");
        // The page's prompt is the traced text, whole (text between spans included).
        let whole: String = select(&doc, "#prompt")[0].text().collect::<String>();
        let prefix: String = select(&doc, "#prompt .prefix")
            .iter()
            .map(|e| e.text().collect::<String>())
            .collect();
        assert_eq!(
            whole.strip_suffix(prefix.as_str()).unwrap(),
            trace.text,
            "{name}"
        );
        assert!(!prompt.contains("<0x"), "{name}: byte pieces on the page");
        // The question in its own script is there as text.
        let p = trace.prompt.as_ref().unwrap();
        let question: String = p
            .text
            .chars()
            .skip(p.question.start)
            .take(p.question.end - p.question.start)
            .collect();
        assert!(whole.contains(question.as_str()), "{name}: {question}");
    }
}

#[test]
fn the_svg_is_well_formed_and_a_trace_without_relevance_says_why() {
    let trace = fixture("demo-de-0");
    let svg = heatmap_svg(&trace, &ExportOptions::default(), true).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let cells = root
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("x").is_some())
        .count();
    assert!(cells > trace.model.layers, "{cells} cells");
    let mut bare = trace.clone();
    bare.relevance = None;
    let err = heatmap_svg(&bare, &ExportOptions::default(), true).unwrap_err();
    assert!(err.to_string().contains("--no-relevance"), "{err}");
    // The page still renders, unshaded.
    let page = html(&bare, &ExportOptions::default()).unwrap();
    assert!(page.contains("Traced without relevance"));
}

#[test]
fn the_binary_writes_both_files_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let trace = repo_path("tests/fixtures/traces/demo-de-0.json");
    let (page, svg) = (dir.path().join("t.html"), dir.path().join("t.svg"));
    let out = bin()
        .arg("export")
        .arg(&trace)
        .arg("--html")
        .arg(&page)
        .arg("--svg")
        .arg(&svg)
        .args(["--layer", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("value=\"3\""), "the slider starts at --layer");
    roxmltree::Document::parse(&std::fs::read_to_string(&svg).unwrap()).unwrap();
    // Only the two files: no temporary left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    let nothing = bin().arg("export").arg(&trace).output().unwrap();
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("--html"));

    let not_a_trace = dir.path().join("x.json");
    std::fs::write(&not_a_trace, "{\"hello\": 1}").unwrap();
    let bad = bin()
        .arg("export")
        .arg(&not_a_trace)
        .arg("--html")
        .arg(dir.path().join("y.html"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a trace JSON"));
    assert!(!dir.path().join("y.html").exists());
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The explorer's main view of a real trace (SmolLM2-135M-Instruct Q4_1, `XMRC_LENS_REAL_MODEL`,
//! on real XQuAD): the gold answer's tokens are marked in the heatmap, and on this sample, which
//! the model answers right, they stand out: the most relevant context tokens at the step target
//! are gold ones, and the language lens pane shows where the answer's first token is decided. With `XMRC_LENS_CAPTURE=FILE.svg` the drawn screen is written there as SVG
//! (the README's capture comes from `docs/real-model-explorer.svg`, written this way).

mod common;

use common::{bin, real_model, xquad_dir};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::Arc;
use xmrc_lens::attribution::mrd::normalized;
use xmrc_lens::data::loader::{load_dir, LoadOptions};
use xmrc_lens::data::prompt::Part;
use xmrc_lens::data::Lang;
use xmrc_lens::explorer::reducer;
use xmrc_lens::explorer::worker::{Slot, WorkerEvent};
use xmrc_lens::pipeline::SampleTrace;
use xmrc_lens::tui::capture::buffer_to_svg;
use xmrc_lens::tui::keymap::Keymap;
use xmrc_lens::tui::{theme, view};

/// XQuAD sample 55 (Super Bowl 50, "What actor did sign language for the National Anthem at
/// Superbowl 50?"): the model answers `Answer: Marlee Matlin`, exactly the gold answer.
const SAMPLE: &str = "55";

#[test]
fn the_gold_span_stands_out_in_a_real_trace() {
    let Some(model) = real_model("the_gold_span_stands_out_in_a_real_trace") else {
        return;
    };
    let Some(data_dir) = xquad_dir() else {
        eprintln!("note: the_gold_span_stands_out_in_a_real_trace skipped: no XQuAD folder");
        return;
    };
    let out = bin()
        .arg("trace")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&data_dir)
        .args(["--sample", SAMPLE, "--scenario", "en-en", "--shots", "0"])
        .args(["--device", "cpu", "--no-similarity"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace: SampleTrace = serde_json::from_slice(&out.stdout).unwrap();
    let prompt = trace.prompt.clone().unwrap();
    let rel = trace.relevance.as_ref().unwrap();

    // Gold tokens: those carrying a character of a gold answer in the prompt.
    let gold: Vec<bool> = trace
        .tokens
        .iter()
        .map(|t| {
            prompt.gold.iter().any(|g| {
                let end = g.start + g.text.chars().count();
                t.start < end && g.start < t.end
            })
        })
        .collect();
    assert!(gold.iter().any(|&g| g), "no gold token in the prompt");
    assert!(
        trace.scores.as_ref().unwrap()[0].f1 > 0.0,
        "the model no longer answers sample {SAMPLE}: {:?}",
        trace.answer
    );

    // Summed normalised relevance over the counted layers, per context token.
    let r = normalized(&rel.relevance.raw);
    let n = rel.part_mrd.counted_layers;
    let mass = |t: usize| -> f64 { (1..=n).map(|l| r[l][t]).sum() };
    let mut context: Vec<(f64, bool)> = trace
        .tokens
        .iter()
        .enumerate()
        .filter(|(_, tok)| tok.part == Part::Context)
        .map(|(t, _)| (mass(t), gold[t]))
        .collect();
    context.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top = context.len().div_ceil(20); // the top 5 %
    let gold_in_top = context.iter().take(top).filter(|c| c.1).count();
    let gold_ranks: Vec<usize> = (1..=context.len())
        .filter(|&rank| context[rank - 1].1)
        .collect();
    eprintln!(
        "real capture: {} context tokens, {gold_in_top} gold among the top {top} by relevance; \
         gold ranks {gold_ranks:?}",
        context.len()
    );
    assert!(
        gold_in_top > 0,
        "no gold token among the {top} most relevant context tokens"
    );

    // The explorer on the same trace: gold rows are drawn with gold labels.
    let data = Arc::new(
        load_dir(
            &data_dir,
            &LoadOptions {
                langs: Some(vec![Lang::En]),
                ..LoadOptions::default()
            },
        )
        .unwrap(),
    );
    let source = model.display().to_string();
    let mut app = common::started_app(&[&source], data).0;
    app.frozen_clock = true;
    app.core.selection.sample = SAMPLE.parse().unwrap();
    app.core.selection.setting.scenario = prompt.options.setting.scenario;
    app.core.selection.setting.shots = prompt.options.setting.shots;
    app.core.selection.setting.format = prompt.options.setting.format;
    reducer::worker_event(
        &mut app.core,
        WorkerEvent::ModelLoaded {
            slot: Slot::Primary,
            identity: trace.model.clone(),
            load_ms: 1.0,
        },
    );
    let key = app.core.key(Slot::Primary);
    reducer::worker_event(
        &mut app.core,
        WorkerEvent::Done {
            key,
            trace: Arc::new(trace.clone()),
        },
    );
    app.core.layer = n;
    let keymap = Keymap::default_map().unwrap();
    let mut terminal = Terminal::new(TestBackend::new(140, 40)).unwrap();
    terminal
        .draw(|f| {
            view::draw(f, &app, &keymap);
        })
        .unwrap();
    let buf = terminal.backend().buffer().clone();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("explains"), "{screen}");
    // The lens pane at the cursor (layer 29): the answer's first token «␣Mar» is decided in
    // the last layer, and P_en follows it.
    let lens = trace.lens.as_ref().expect("trace runs the lens by default");
    let decision = format!("D decision L{}", lens.lens.decision_level);
    for text in ["Language lens · L29", decision.as_str(), "P_en «␣Mar»"] {
        assert!(screen.contains(text), "{text} not on the screen:\n{screen}");
    }
    let gold_labels = buf.content().iter().filter(|c| c.fg == theme::GOLD).count();
    assert!(gold_labels > 0, "no gold label drawn:\n{screen}");
    if let Ok(path) = std::env::var("XMRC_LENS_CAPTURE") {
        std::fs::write(&path, buffer_to_svg(&buf)).unwrap();
        eprintln!("real capture written to {path}:\n{screen}");
    }
}

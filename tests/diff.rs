#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Relevance diffs between two models of one sample (`xmrc_lens::diff`, `trace --compare`):
//! the prompts' tokens align part by part by character offsets; a model against itself on
//! the same prompt differs by exactly nothing; a raw prompt against the chat-templated one
//! (the base-vs-instruct case) aligns every content token and lists the template's own tokens
//! as unaligned; each delta is B's normalised relevance minus A's at the aligned tokens.

mod common;

use common::{bin, repo_path, tiny_model_dir};
use xmrc_lens::attribution::mrd::normalized;
use xmrc_lens::data::loader::{load_dir, LoadOptions};
use xmrc_lens::data::prompt::{Part, PromptOptions, Scenario, Setting};
use xmrc_lens::data::Lang;
use xmrc_lens::diff::relevance_diff;
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;
use xmrc_lens::pipeline::{trace_sample, SampleTrace, TraceContext, TraceInput, TraceOptions};

fn trace_with(chat: ChatMode) -> SampleTrace {
    let spec = ModelSpec {
        chat,
        ..ModelSpec::new(ModelRef::Local(tiny_model_dir("qwen2")))
    };
    let model = LoadedModel::load(&spec).unwrap();
    let data = load_dir(
        &repo_path("tests/fixtures/xquad-mini"),
        &LoadOptions::default(),
    )
    .unwrap();
    let input = TraceInput::Sample {
        data: &data,
        index: 0,
        options: PromptOptions {
            setting: Setting {
                scenario: Scenario::EnX,
                lang: Lang::De,
                shots: 0,
                ..Setting::default()
            },
            ..PromptOptions::default()
        },
    };
    let options = TraceOptions {
        max_new_tokens: 4,
        similarity: false,
        oracle: None,
        ..TraceOptions::default()
    };
    trace_sample(
        TraceContext::alone(&model, None),
        &input,
        &options,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn a_model_against_itself_differs_by_nothing() {
    let a = trace_with(ChatMode::Off);
    let diff = relevance_diff(&a, &a).unwrap();
    let odd: Vec<_> = diff
        .unaligned_a
        .iter()
        .filter(|t| t.part != Part::Markup)
        .map(|t| {
            (
                t.index,
                t.part,
                t.piece.clone(),
                a.relevance_tokens()[t.index].start,
                a.relevance_tokens()[t.index].end,
            )
        })
        .collect();
    assert!(
        odd.is_empty(),
        "{odd:?} of {:?}",
        a.prompt.as_ref().unwrap().spans
    );
    assert_eq!(diff.aligned.len(), a.relevance_tokens().len() - markup(&a));
    assert!(diff.delta.iter().flatten().all(|&d| d == 0.0));
    assert!(diff.token_mrd_delta.iter().flatten().all(|&d| d == 0));
    assert!(diff.part_mrd.iter().all(|p| p.delta == Some(0)));
    // Markup is never aligned (templates write their own), and it is listed, not hidden.
    assert_eq!(diff.unaligned_a.len(), markup(&a));
    assert!(diff.unaligned_a.iter().all(|t| t.part == Part::Markup));
}

fn markup(t: &SampleTrace) -> usize {
    t.tokens.iter().filter(|t| t.part == Part::Markup).count()
}

#[test]
fn raw_against_chat_aligns_the_content_and_lists_the_template() {
    let a = trace_with(ChatMode::Off);
    let b = trace_with(ChatMode::On);
    assert!(b.prompt.as_ref().unwrap().chat && !a.prompt.as_ref().unwrap().chat);
    let diff = relevance_diff(&a, &b).unwrap();
    // Every context and question token of the raw prompt has its twin in the chat prompt.
    for part in [Part::Context, Part::Question] {
        let total = a.tokens.iter().filter(|t| t.part == part).count();
        let aligned = diff.aligned.iter().filter(|p| p.part == part).count();
        assert!(total > 0);
        assert!(
            aligned + 2 >= total,
            "{part:?}: {aligned} of {total} aligned (at most the edges may split differently)"
        );
    }
    // The chat template's own tokens (role markers, its system text) are B's unaligned ones.
    assert!(diff
        .unaligned_b
        .iter()
        .any(|t| t.piece.contains("im_start")));
    // Each delta is B's normalised relevance minus A's, at the aligned indices.
    let (na, nb) = (
        normalized(&a.relevance.as_ref().unwrap().relevance.raw),
        normalized(&b.relevance.as_ref().unwrap().relevance.raw),
    );
    for (level, row) in diff.delta.iter().enumerate() {
        for (k, pair) in diff.aligned.iter().enumerate() {
            let want = nb[level][pair.b] - na[level][pair.a];
            assert!((row[k] - want).abs() < 1e-12, "level {level} pair {k}");
            assert_eq!(
                a.relevance_tokens()[pair.a].id,
                b.relevance_tokens()[pair.b].id
            );
        }
    }
    let ra = a.relevance.as_ref().unwrap();
    let rb = b.relevance.as_ref().unwrap();
    for p in &diff.part_mrd {
        assert_eq!(
            (p.a, p.b),
            (ra.part_mrd.get(p.part), rb.part_mrd.get(p.part))
        );
    }
}

/// Two tiny models whose relevance is known to agree: the safetensors folder and its F32
/// GGUF twin give the same logits exactly (tests/gguf.rs), so their relevance is the same and
/// the diff, through two model files and two loaders, is zero to rounding.
/// `trace --model A --compare B` on the mini set (German, 3 new tokens, relevance only): the
/// JSON and its two traces.
fn trace_compare(
    a: &std::path::Path,
    b: &std::path::Path,
    extra: &[&str],
) -> (serde_json::Value, SampleTrace, SampleTrace) {
    let out = bin()
        .arg("trace")
        .arg("--model")
        .arg(a)
        .arg("--compare")
        .arg(b)
        .args(extra)
        .arg("--data")
        .arg(repo_path("tests/fixtures/xquad-mini"))
        .args([
            "--lang",
            "de",
            "--max-new-tokens",
            "3",
            "--no-similarity",
            "--no-oracle",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = serde_json::from_value(json["a"].clone()).unwrap();
    let b = serde_json::from_value(json["b"].clone()).unwrap();
    (json, a, b)
}

#[test]
fn a_model_and_its_gguf_twin_differ_by_nothing() {
    let (_, a, b) = trace_compare(
        &tiny_model_dir("qwen2"),
        &repo_path("tests/fixtures/models/gguf/tiny-qwen2.f32.gguf"),
        &[],
    );
    assert_ne!(a.model.name, b.model.name);
    assert_eq!(a.text, b.text, "one tokenizer, one template: one prompt");
    let diff = relevance_diff(&a, &b).unwrap();
    assert_eq!(diff.aligned.len() + markup(&a), a.relevance_tokens().len());
    let worst = diff
        .delta
        .iter()
        .flatten()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(worst < 1e-6, "largest |Δr| {worst}");
    assert!(diff.token_mrd_delta.iter().flatten().all(|&d| d == 0));
}

#[test]
fn trace_compare_writes_both_traces_and_the_diff() {
    let model = tiny_model_dir("qwen2");
    let (json, a, b) = trace_compare(&model, &model, &["--no-chat"]);
    // `--no-chat` is the run's choice for both: the same prompt, a zero diff.
    assert_eq!(a.text, b.text);
    assert!(json["diff"]["delta"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .all(|v| v.as_f64() == Some(0.0)));
    let refused = bin()
        .arg("trace")
        .arg("--model")
        .arg(&model)
        .arg("--compare")
        .arg(&model)
        .arg("--no-relevance")
        .arg("--data")
        .arg(repo_path("tests/fixtures/xquad-mini"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs relevance"));
}

/// The real instruct model, raw prompt against its chat template (`--compare-chat chat`): what
/// the template alone changes in how SmolLM2 reads sample 55. Every context and question token
/// aligns; the template's tokens are B's unaligned ones; the printed figures are in the README.
#[test]
fn on_the_real_model_the_chat_template_diff_aligns_the_content() {
    let Some(model) = common::real_model("the real-model diff test") else {
        return;
    };
    let Some(data) = common::xquad_dir() else {
        eprintln!("note: the real-model diff test skipped: no XQuAD folder");
        return;
    };
    let out = bin()
        .arg("trace")
        .arg("--model")
        .arg(&model)
        .arg("--no-chat")
        .arg("--compare")
        .arg(&model)
        .args(["--compare-chat", "chat", "--data"])
        .arg(&data)
        .args(["--sample", "55", "--scenario", "en-en", "--shots", "0"])
        .args(["--device", "cpu", "--no-similarity", "--no-oracle"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a: SampleTrace = serde_json::from_value(json["a"].clone()).unwrap();
    let b: SampleTrace = serde_json::from_value(json["b"].clone()).unwrap();
    assert!(!a.prompt.as_ref().unwrap().chat && b.prompt.as_ref().unwrap().chat);
    let diff = relevance_diff(&a, &b).unwrap();
    assert_eq!(json["diff"], serde_json::to_value(&diff).unwrap());
    for part in [Part::Context, Part::Question] {
        let total = a.tokens.iter().filter(|t| t.part == part).count();
        let aligned = diff.aligned.iter().filter(|p| p.part == part).count();
        assert!(aligned + 2 >= total, "{part:?}: {aligned} of {total}");
    }
    assert!(diff
        .unaligned_b
        .iter()
        .any(|t| t.piece.contains("im_start")));
    let level = a.relevance.as_ref().unwrap().part_mrd.counted_layers;
    let mut moved: Vec<(f64, &str)> = diff.delta[level]
        .iter()
        .zip(&diff.aligned)
        .map(|(d, p)| (*d, p.piece.as_str()))
        .collect();
    moved.sort_by(|x, y| y.0.abs().total_cmp(&x.0.abs()));
    capture(&model, &data, &a, &b);
    eprintln!(
        "real diff (chat - raw), sample 55: {} aligned, {} only raw, {} only chat; part MRD {:?}; \
         largest |Δr| at layer {level}: {:?}",
        diff.aligned.len(),
        diff.unaligned_a.len(),
        diff.unaligned_b.len(),
        diff.part_mrd
            .iter()
            .map(|p| (p.part.name(), p.a, p.b))
            .collect::<Vec<_>>(),
        &moved[..5.min(moved.len())]
    );
}

/// The explorer's compare mode on the two real traces with `d` on: B's heatmap is the diff,
/// the diff pane lists the unaligned tokens. `XMRC_LENS_CAPTURE_DIFF=FILE.svg` writes the
/// screen (the README's `docs/real-model-diff.svg`).
fn capture(model: &std::path::Path, data_dir: &std::path::Path, a: &SampleTrace, b: &SampleTrace) {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use xmrc_lens::explorer::reducer;
    use xmrc_lens::explorer::worker::{Slot, WorkerEvent};
    use xmrc_lens::tui::action::Action;
    use xmrc_lens::tui::keymap::Keymap;
    use xmrc_lens::tui::update::update;
    use xmrc_lens::tui::view;

    let data = Arc::new(
        load_dir(
            data_dir,
            &LoadOptions {
                langs: Some(vec![Lang::En]),
                ..LoadOptions::default()
            },
        )
        .unwrap(),
    );
    let source = model.display().to_string();
    let mut app = common::started_app(&[&source, &source], data).0;
    let setting = a.prompt.as_ref().unwrap().options.setting;
    app.core.selection.sample = 55;
    app.core.selection.setting = setting;
    for (slot, trace) in [(Slot::Primary, a), (Slot::Compare, b)] {
        reducer::worker_event(
            &mut app.core,
            WorkerEvent::ModelLoaded {
                slot,
                identity: trace.model.clone(),
                load_ms: 1.0,
            },
        );
        let key = app.core.key(slot);
        reducer::worker_event(
            &mut app.core,
            WorkerEvent::Done {
                key,
                trace: Arc::new(trace.clone()),
            },
        );
    }
    update(&mut app, Action::ToggleDiff);
    app.core.layer = a.relevance.as_ref().unwrap().part_mrd.counted_layers;
    let keymap = Keymap::default_map().unwrap();
    let mut terminal = Terminal::new(TestBackend::new(160, 44)).unwrap();
    terminal
        .draw(|f| {
            view::draw(f, &app, &keymap);
        })
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("Relevance B − A"), "{screen}");
    assert!(
        screen.contains("only B (40)") || screen.contains("only B ("),
        "{screen}"
    );
    if let Some(path) = std::env::var("XMRC_LENS_CAPTURE_DIFF")
        .ok()
        .filter(|p| !p.is_empty())
    {
        let buf = terminal.backend().buffer().clone();
        std::fs::write(&path, xmrc_lens::tui::capture::buffer_to_svg(&buf)).unwrap();
        eprintln!("diff capture written to {path}:\n{screen}");
    }
}

//! `bench --cancel-latency`: how long a running trace takes to stop once it is cancelled
//! inside its long stages: the generation (its prefill is one long forward), the AttnLRP
//! relevance (a recorded forward and a backward) and the sentence oracle.
//!
//! The trace runs on its own thread exactly as the explorer's worker runs it (same
//! `trace_sample`, same cancel flag); the bench sets the flag at several delays after the
//! oracle starts and times the return.

use crate::attribution::oracle::OracleOptions;
use crate::data::prompt::Setting;
use crate::data::prompt::{Format, PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::model::load::LoadedModel;
use crate::pipeline::{
    trace_sample, Progress, Stage, StopMode, TraceContext, TraceInput, TraceOptions,
};
use anyhow::Result;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The stages cancelled in, and the delays after each stage's start.
const CANCELS: [(Stage, u64); 6] = [
    (Stage::Generate, 200),
    (Stage::Relevance, 300),
    (Stage::Relevance, 3000),
    (Stage::Oracle, 50),
    (Stage::Oracle, 1000),
    (Stage::Oracle, 2500),
];

/// One cancel: its stage and delay, the time to stop, and whether the trace had finished.
struct Outcome {
    stage: Stage,
    delay_ms: u64,
    latency_ms: Option<f64>,
    finished_first: bool,
}

pub fn run(model: &LoadedModel, data: &Dataset, json_only: bool) -> Result<String> {
    let mut outcomes = Vec::new();
    for (stage, delay_ms) in CANCELS {
        outcomes.push(cancel_once(model, data, stage, delay_ms)?);
        let o = outcomes.last().map_or(String::new(), describe);
        eprintln!("[bench] {o}");
    }
    let worst = outcomes
        .iter()
        .filter_map(|o| o.latency_ms)
        .fold(0.0f64, f64::max);
    let report = json!({
        "bench": "cancel-latency",
        "model": model.name,
        "layers": model.config.num_layers,
        "cancels": outcomes.iter().map(|o| json!({
            "stage": o.stage.to_string(),
            "delay_ms": o.delay_ms,
            "latency_ms": o.latency_ms,
            "finished_first": o.finished_first,
        })).collect::<Vec<_>>(),
        "worst_ms": worst,
    });
    let mut out = String::new();
    if !json_only {
        out.push_str(&format!(
            "cancel inside a running trace ({}, {} layers): worst {worst:.0} ms\n",
            model.name, model.config.num_layers
        ));
        for o in &outcomes {
            out.push_str(&format!("  {}\n", describe(o)));
        }
    }
    out.push_str(&serde_json::to_string(&report)?);
    out.push('\n');
    Ok(out)
}

fn describe(o: &Outcome) -> String {
    let at = format!("cancel {} ms into {}", o.delay_ms, o.stage);
    match o.latency_ms {
        Some(ms) if o.finished_first => format!("{at}: the trace had finished ({ms:.0} ms)"),
        Some(ms) => format!("{at}: stopped in {ms:.0} ms"),
        None => format!("{at}: never reached"),
    }
}

fn cancel_once(
    model: &LoadedModel,
    data: &Dataset,
    stage: Stage,
    delay_ms: u64,
) -> Result<Outcome> {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<()>();
    // A short answer that never stops early; relevance only when it is the stage under test.
    let options = TraceOptions {
        relevance: (stage == Stage::Relevance).then(Default::default),
        similarity: false,
        max_new_tokens: 8,
        stop: StopMode::None,
        oracle: Some(OracleOptions::default()),
        ..TraceOptions::default()
    };
    let input = TraceInput::Sample {
        data,
        index: 0,
        options: PromptOptions {
            setting: Setting {
                scenario: Scenario::EnX,
                lang: Lang::De,
                shots: 2,
                format: Format::V1,
            },
            ..PromptOptions::default()
        },
    };
    std::thread::scope(|scope| -> Result<Outcome> {
        let worker = scope.spawn(|| {
            let ctx = TraceContext::alone(model, Some(&cancel));
            let mut progress = |p: Progress| {
                if matches!(p, Progress::Stage(s) if s == stage) {
                    let _ = tx.send(());
                }
            };
            trace_sample(ctx, &input, &options, &mut progress)
        });
        let reached = rx.recv_timeout(Duration::from_secs(600)).is_ok();
        if reached {
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        cancel.store(true, Ordering::Relaxed);
        let at = Instant::now();
        let result = worker
            .join()
            .map_err(|_| anyhow::anyhow!("the trace thread panicked"))?;
        let latency = at.elapsed().as_secs_f64() * 1e3;
        Ok(Outcome {
            stage,
            delay_ms,
            latency_ms: reached.then_some(latency),
            finished_first: result.is_ok(),
        })
    })
}

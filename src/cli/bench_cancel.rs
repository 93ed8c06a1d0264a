//! `bench --cancel-latency`: how long a running trace takes to stop once it is cancelled
//! inside the sentence oracle, the stage whose forwards used to run to their end.
//!
//! The trace runs on its own thread exactly as the explorer's worker runs it (same
//! `trace_sample`, same cancel flag); the bench sets the flag at several delays after the
//! oracle starts and times the return.

use crate::attribution::oracle::OracleOptions;
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

/// Delays after the oracle's start at which the trace is cancelled.
const DELAYS_MS: [u64; 4] = [50, 300, 1000, 2500];

/// One cancel: its delay, the time to stop, and whether the oracle had already finished.
struct Outcome {
    delay_ms: u64,
    latency_ms: Option<f64>,
    finished_first: bool,
}

pub fn run(model: &LoadedModel, data: &Dataset, json_only: bool) -> Result<String> {
    let mut outcomes = Vec::new();
    for delay_ms in DELAYS_MS {
        outcomes.push(cancel_once(model, data, delay_ms)?);
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
            "delay_ms": o.delay_ms,
            "latency_ms": o.latency_ms,
            "finished_first": o.finished_first,
        })).collect::<Vec<_>>(),
        "worst_ms": worst,
    });
    let mut out = String::new();
    if !json_only {
        out.push_str(&format!(
            "cancel inside the oracle ({}, {} layers): worst {worst:.0} ms\n",
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
    match o.latency_ms {
        Some(ms) if o.finished_first => {
            format!(
                "cancel {} ms into the oracle: it had finished ({ms:.0} ms)",
                o.delay_ms
            )
        }
        Some(ms) => format!(
            "cancel {} ms into the oracle: stopped in {ms:.0} ms",
            o.delay_ms
        ),
        None => format!("cancel {} ms into the oracle: never reached", o.delay_ms),
    }
}

fn cancel_once(model: &LoadedModel, data: &Dataset, delay_ms: u64) -> Result<Outcome> {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<()>();
    // The oracle is the stage under test: no relevance, a short answer that never stops early.
    let options = TraceOptions {
        relevance: None,
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
            scenario: Scenario::EnX,
            lang: Lang::De,
            shots: 2,
            format: Format::V1,
            ..PromptOptions::default()
        },
    };
    std::thread::scope(|scope| -> Result<Outcome> {
        let worker = scope.spawn(|| {
            let ctx = TraceContext {
                model,
                judge: None,
                pool: None,
                en_hidden: None,
                pregenerated: None,
                cancel: Some(&cancel),
            };
            let mut progress = |p: Progress| {
                if matches!(p, Progress::Stage(Stage::Oracle)) {
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
            delay_ms,
            latency_ms: reached.then_some(latency),
            finished_first: result.is_ok(),
        })
    })
}

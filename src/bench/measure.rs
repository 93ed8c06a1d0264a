//! Speed of our engine on one prompt: the fast-path prefill, greedy decoding with the KV
//! cache, the AttnLRP trace (recorded forward and backward) and the language lens, each after
//! a warm-up.

use super::memory::{peak_rss_mb, LoadFigures};
use super::model::{device_name, sync};
use super::progress;
use crate::attribution::relevance::{attribute, RelevanceOptions};
use crate::lens::LensRows;
use crate::model::decoder::Decoder;
use crate::model::device::cpu_threads;
use anyhow::{bail, Result};
use candle_core::Tensor;
use serde_json::{json, Map, Value};
use std::time::Instant;

/// Tokens of the untimed warm-up run before each measurement.
pub const WARM_UP_TOKENS: usize = 8;

/// What both implementations run after the prompt: a fixed count of greedy decode steps
/// (no stop rule), and the trace unless skipped.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    pub new_tokens: usize,
    pub skip_trace: bool,
}

/// Index of the largest value of an f32 vector tensor.
fn argmax(logits: &Tensor) -> Result<u32> {
    Ok(logits.argmax(0)?.to_scalar::<u32>()?)
}

/// Runs the measurements on our engine and returns the report fields.
pub fn measure(
    decoder: &Decoder,
    ids: &[u32],
    load: &LoadFigures,
    work: &Workload,
) -> Result<Map<String, Value>> {
    let tokens = ids.len();
    let device = decoder.device();

    let mut warm = decoder.new_cache();
    decoder.forward_fast(&ids[..WARM_UP_TOKENS], &mut warm)?;
    sync(device)?;
    drop(warm);

    progress(&format!("prefill (fast path) over {tokens} tokens"));
    let mut cache = decoder.new_cache();
    let started = Instant::now();
    let logits = decoder.forward_fast(ids, &mut cache)?;
    let mut next = argmax(&logits)?;
    let prefill_fast_s = started.elapsed().as_secs_f64();
    let first = next;

    progress(&format!("decode {} tokens", work.new_tokens));
    let started = Instant::now();
    for _ in 0..work.new_tokens {
        let logits = decoder.forward_fast(&[next], &mut cache)?;
        next = argmax(&logits)?;
    }
    sync(device)?;
    let decode_s = started.elapsed().as_secs_f64();
    drop(cache);
    let peak_gen = peak_rss_mb();

    let mut report = Map::new();
    report.insert("impl".into(), json!("xmrc-lens"));
    report.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    report.insert("device".into(), json!(device_name(device)));
    report.insert("dtype".into(), json!(decoder.dtype().as_str()));
    report.insert("threads".into(), json!(cpu_threads()));
    report.insert("tokens".into(), json!(tokens));
    report.insert("new_tokens".into(), json!(work.new_tokens));
    report.insert("load_s".into(), json!(load.seconds));
    report.insert("rss_load_mb".into(), json!(load.rss_mb));
    report.insert("peak_rss_load_mb".into(), json!(load.peak_mb));
    report.insert("prefill_fast_s".into(), json!(prefill_fast_s));
    report.insert(
        "prefill_fast_tok_s".into(),
        json!(tokens as f64 / prefill_fast_s),
    );
    report.insert("decode_s".into(), json!(decode_s));
    report.insert(
        "decode_tok_s".into(),
        json!((decode_s > 0.0).then(|| work.new_tokens as f64 / decode_s)),
    );
    for key in [
        "trace_s",
        "trace_forward_s",
        "trace_backward_s",
        "trace_tok_s",
        "trace_over_prefill",
        "lens_ms",
        "lens_over_prefill",
    ] {
        report.insert(key.into(), Value::Null);
    }
    report.insert("peak_rss_gen_mb".into(), json!(peak_gen));

    if !work.skip_trace {
        progress(&format!(
            "AttnLRP trace over {tokens} tokens (recorded forward + backward)"
        ));
        let (trace_s, forward_s, backward_s) = measure_trace(decoder, ids, first)?;
        report.insert("trace_s".into(), json!(trace_s));
        report.insert("trace_forward_s".into(), json!(forward_s));
        report.insert("trace_backward_s".into(), json!(backward_s));
        report.insert("trace_tok_s".into(), json!(tokens as f64 / trace_s));
        report.insert("trace_over_prefill".into(), json!(trace_s / prefill_fast_s));
        progress("language lens at the last position (every level through the head)");
        let lens_s = measure_lens(decoder, ids, first)?;
        report.insert("lens_ms".into(), json!(lens_s * 1e3));
        report.insert("lens_over_prefill".into(), json!(lens_s / prefill_fast_s));
    }
    report.insert("peak_rss_mb".into(), json!(peak_rss_mb()));
    // candle does not expose its device allocator's peak; VmHWM is host memory only.
    report.insert("cuda_peak_mb".into(), Value::Null);
    Ok(report)
}

/// The language lens's own cost at the last position, as the lens stage pays it over a
/// forward it shares with relevance: every level through the final norm and the head, the
/// logits read back, each level's softmax, and one gold curve. Returns seconds.
pub fn measure_lens(decoder: &Decoder, ids: &[u32], answer: u32) -> Result<f64> {
    let rec = decoder.record(ids)?;
    sync(decoder.device())?;
    let started = Instant::now();
    let rows = LensRows::new(&decoder.lens_logits(&rec, ids.len() - 1)?)?;
    let (prob, _) = rows.curve(answer)?;
    let seconds = started.elapsed().as_secs_f64();
    if prob.len() != decoder.config().num_layers + 1 {
        bail!("the lens is missing levels");
    }
    Ok(seconds)
}

/// The AttnLRP relevance trace as `trace` computes it, explaining `answer` (the argmax at
/// the last position), every level's relevance read back to the host. Returns its seconds:
/// in all, in the recorded forward, and in the backward with the relevance.
pub fn measure_trace(decoder: &Decoder, ids: &[u32], answer: u32) -> Result<(f64, f64, f64)> {
    let started = Instant::now();
    let trace = attribute(decoder, ids, &[answer], &RelevanceOptions::default(), None)?;
    sync(decoder.device())?;
    let seconds = started.elapsed().as_secs_f64();
    if trace.relevance.raw.len() != decoder.config().num_layers + 1 {
        bail!("the trace is missing levels");
    }
    let relevance = &trace.relevance;
    Ok((
        seconds,
        relevance.forward_ms / 1e3,
        relevance.backward_ms / 1e3,
    ))
}

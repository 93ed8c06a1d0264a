//! Greedy generation on the fast path: stops on an EOS or end-of-turn id, on the first line
//! break after some answer text, at the token limit, or when cancelled. Reports every step
//! (id, text, the top-k alternatives) as it goes, so a front end can show the answer live.

use super::decoder::{Decoder, KvCache, Recording};
use crate::hf::tokenizer::Tokenizer;
use anyhow::{bail, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Default answer budget: XQuAD answers are short spans.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 64;

/// Candidates kept at the last prompt position (the first answer step).
pub const PROMPT_TOP: usize = 20;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    /// EOS ids (config and generation config) and end-of-turn ids of the chat template.
    pub stop_ids: BTreeSet<u32>,
    /// Stop at the first line break after answer text (METHOD's default stop rule).
    pub stop_at_newline: bool,
    /// Alternatives kept per step for display.
    pub top_k: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: DEFAULT_MAX_NEW_TOKENS,
            stop_ids: BTreeSet::new(),
            stop_at_newline: true,
            top_k: 5,
        }
    }
}

/// One candidate token of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopToken {
    pub id: u32,
    pub piece: String,
    pub logit: f32,
    pub prob: f32,
}

/// One generated token with the alternatives the model weighed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenStep {
    pub id: u32,
    pub piece: String,
    pub top: Vec<TopToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum StopReason {
    /// An EOS or end-of-turn id (not part of the answer).
    Eos(u32),
    /// A line break after answer text; the text is cut there.
    Newline,
    MaxTokens,
    Cancelled,
    /// The next token would not fit the model's context window (`max_position_embeddings`).
    ContextWindow,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GenTimings {
    pub prompt_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The [`PROMPT_TOP`] highest logits at the last prompt position.
    #[serde(default)]
    pub prompt_top: Vec<TopToken>,
    /// Generated ids, the stopping EOS excluded.
    pub ids: Vec<u32>,
    pub steps: Vec<GenStep>,
    /// The answer text: decoded ids, cut at the stopping line break.
    pub text: String,
    pub stop: StopReason,
    pub timings: GenTimings,
}

/// Greedy decoding of `prompt_ids` (already holding BOS/chat tokens as needed).
pub fn generate(
    decoder: &Decoder,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    cancel: Option<&AtomicBool>,
    on_step: &mut dyn FnMut(&GenStep),
) -> Result<Generation> {
    Ok(generate_cached(decoder, tokenizer, prompt_ids, options, cancel, on_step)?.0)
}

/// As [`generate`], also returning the KV cache it ended with (the prompt, then the
/// generated tokens fed back), so later stages can reuse the prompt's keys and values.
pub fn generate_cached(
    decoder: &Decoder,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    cancel: Option<&AtomicBool>,
    on_step: &mut dyn FnMut(&GenStep),
) -> Result<(Generation, KvCache)> {
    let (generation, cache, _) = generate_recording(
        decoder, tokenizer, prompt_ids, options, cancel, on_step, false,
    )?;
    Ok((generation, cache))
}

/// [`generate_cached`] whose prefill, when `record` is set, is a recorded forward
/// ([`Decoder::record_prefill`]): it also returns the prompt's recording (None when not
/// asked or when the prefill was cancelled), which a relevance trace extends instead of
/// running the prompt's forward a second time.
pub fn generate_recording(
    decoder: &Decoder,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    options: &GenerateOptions,
    cancel: Option<&AtomicBool>,
    on_step: &mut dyn FnMut(&GenStep),
    record: bool,
) -> Result<(Generation, KvCache, Option<Recording>)> {
    if prompt_ids.is_empty() {
        bail!("the prompt has no tokens");
    }
    let window = decoder.config().check_fits(prompt_ids.len())?;
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let mut cache = decoder.new_cache();
    let mut timings = GenTimings {
        prompt_tokens: prompt_ids.len(),
        ..GenTimings::default()
    };
    let mut ids: Vec<u32> = Vec::new();
    let mut steps = Vec::new();
    let mut stop = StopReason::MaxTokens;
    let mut text = String::new();

    let start = Instant::now();
    // The prefill is the longest single forward: cancellable between its layers. A cancelled
    // prefill is a generation stopped before its first token (its cache is incomplete).
    let prefill = if record {
        decoder
            .record_prefill(prompt_ids, &mut cache, cancel)
            .map(|(logits, rec)| (logits, Some(rec)))
    } else {
        decoder
            .forward_fast_tail_until(prompt_ids, &mut cache, 1, cancel)
            .map(|logits| (logits, None))
    };
    let (mut logits, recording) = match prefill {
        Ok((logits, recording)) => (logits.flatten_all()?, recording),
        Err(e)
            if e.downcast_ref::<crate::model::decoder::Cancelled>()
                .is_some() =>
        {
            timings.prefill_ms = start.elapsed().as_secs_f64() * 1e3;
            let generation = Generation {
                prompt_top: Vec::new(),
                ids,
                steps,
                text,
                stop: StopReason::Cancelled,
                timings,
            };
            return Ok((generation, cache, None));
        }
        Err(e) => return Err(e),
    };
    timings.prefill_ms = start.elapsed().as_secs_f64() * 1e3;
    let prompt_top = top_tokens(&logits, PROMPT_TOP, tokenizer)?.0;
    let decode_start = Instant::now();
    let mut decoded_steps = 0usize;
    for step in 0..options.max_new_tokens {
        if cancelled() {
            stop = StopReason::Cancelled;
            break;
        }
        let (top, id) = top_tokens(&logits, options.top_k.max(1), tokenizer)?;
        if options.stop_ids.contains(&id) {
            stop = StopReason::Eos(id);
            break;
        }
        ids.push(id);
        let gen_step = GenStep {
            id,
            piece: tokenizer.display_piece(id),
            top,
        };
        on_step(&gen_step);
        steps.push(gen_step);
        text = tokenizer.decode(&ids)?;
        if options.stop_at_newline {
            if let Some(cut) = line_break_after_text(&text) {
                text.truncate(cut);
                stop = StopReason::Newline;
                break;
            }
        }
        if step + 1 < options.max_new_tokens {
            // Feeding `id` back takes position prompt + step: stop at the window's end.
            if prompt_ids.len() + step >= window {
                stop = StopReason::ContextWindow;
                break;
            }
            logits = decoder.forward_fast(&[id], &mut cache)?;
            decoded_steps += 1;
        }
    }
    timings.decode_ms = decode_start.elapsed().as_secs_f64() * 1e3;
    timings.prefill_tokens_per_s = per_second(prompt_ids.len(), timings.prefill_ms);
    timings.decode_tokens_per_s = per_second(decoded_steps, timings.decode_ms);
    Ok((
        Generation {
            prompt_top,
            ids,
            steps,
            text,
            stop,
            timings,
        },
        cache,
        recording,
    ))
}

/// Greedy decoding of several prompts at once: left-padded into one batch, one forward per
/// step for all rows still running. Each row gets what [`generate_cached`] would give it alone
/// (ids, steps, text, stop), up to floating-point reassociation in the batched kernels, and a
/// cache of its prompt only (its padding dropped). Timings are the batch's, shared by its rows.
pub fn generate_batch(
    decoder: &Decoder,
    tokenizer: &Tokenizer,
    prompts: &[&[u32]],
    options: &GenerateOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<(Generation, KvCache)>> {
    if prompts.iter().any(|p| p.is_empty()) {
        bail!("a prompt of the batch has no tokens");
    }
    let rows = prompts.len();
    if rows == 0 {
        return Ok(Vec::new());
    }
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let width = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
    // The batch is as long as its longest (left-padded) row: that is what must fit.
    let window = decoder.config().check_fits(width)?;
    let pads: Vec<usize> = prompts.iter().map(|p| width - p.len()).collect();
    // Padding ids are never seen (masked keys); the row's first id keeps them in range.
    let ids: Vec<Vec<u32>> = prompts
        .iter()
        .zip(&pads)
        .map(|(p, &pad)| {
            std::iter::repeat_n(p[0], pad)
                .chain(p.iter().copied())
                .collect()
        })
        .collect();
    let mut key_mask: Vec<Vec<u8>> = pads
        .iter()
        .map(|&pad| {
            std::iter::repeat_n(0u8, pad)
                .chain(std::iter::repeat_n(1u8, width - pad))
                .collect()
        })
        .collect();
    let mut cache = decoder.new_cache();
    let start = Instant::now();
    let mut logits = decoder.forward_fast_batch(&ids, &key_mask, &mut cache)?;
    let prefill_ms = start.elapsed().as_secs_f64() * 1e3;
    let decode_start = Instant::now();

    struct Row {
        prompt_top: Vec<TopToken>,
        ids: Vec<u32>,
        steps: Vec<GenStep>,
        text: String,
        stop: Option<StopReason>,
    }
    let mut state: Vec<Row> = (0..rows)
        .map(|r| {
            Ok(Row {
                prompt_top: top_tokens(&logits.get(r)?, PROMPT_TOP, tokenizer)?.0,
                ids: Vec::new(),
                steps: Vec::new(),
                text: String::new(),
                stop: None,
            })
        })
        .collect::<Result<_>>()?;
    let mut decoded_steps = 0usize;
    for step in 0..options.max_new_tokens {
        if cancelled() {
            for row in state.iter_mut().filter(|r| r.stop.is_none()) {
                row.stop = Some(StopReason::Cancelled);
            }
            break;
        }
        let mut next = Vec::with_capacity(rows);
        for (r, row) in state.iter_mut().enumerate() {
            if row.stop.is_some() {
                next.push(None);
                continue;
            }
            let (top, id) = top_tokens(&logits.get(r)?, options.top_k.max(1), tokenizer)?;
            if options.stop_ids.contains(&id) {
                row.stop = Some(StopReason::Eos(id));
                next.push(None);
                continue;
            }
            row.ids.push(id);
            row.steps.push(GenStep {
                id,
                piece: tokenizer.display_piece(id),
                top,
            });
            row.text = tokenizer.decode(&row.ids)?;
            if options.stop_at_newline {
                if let Some(cut) = line_break_after_text(&row.text) {
                    row.text.truncate(cut);
                    row.stop = Some(StopReason::Newline);
                    next.push(None);
                    continue;
                }
            }
            next.push(Some(id));
        }
        if step + 1 == options.max_new_tokens || next.iter().all(Option::is_none) {
            break;
        }
        if width + step >= window {
            for row in state.iter_mut().filter(|r| r.stop.is_none()) {
                row.stop = Some(StopReason::ContextWindow);
            }
            break;
        }
        // Rows that stopped are fed a masked dummy key so the batch keeps one shape.
        let feed: Vec<Vec<u32>> = next
            .iter()
            .zip(prompts)
            .map(|(n, p)| vec![n.unwrap_or(p[0])])
            .collect();
        for (mask, n) in key_mask.iter_mut().zip(&next) {
            mask.push(u8::from(n.is_some()));
        }
        logits = decoder.forward_fast_batch(&feed, &key_mask, &mut cache)?;
        decoded_steps += 1;
    }
    let decode_ms = decode_start.elapsed().as_secs_f64() * 1e3;
    state
        .into_iter()
        .enumerate()
        .map(|(r, row)| {
            let prompt_len = prompts[r].len();
            let timings = GenTimings {
                prompt_tokens: prompt_len,
                prefill_ms,
                decode_ms,
                prefill_tokens_per_s: per_second(rows * width, prefill_ms),
                decode_tokens_per_s: per_second(decoded_steps * rows, decode_ms),
            };
            let row_cache = cache.row(r, pads[r], prompt_len)?;
            Ok((
                Generation {
                    prompt_top: row.prompt_top,
                    ids: row.ids,
                    steps: row.steps,
                    text: row.text,
                    stop: row.stop.unwrap_or(StopReason::MaxTokens),
                    timings,
                },
                row_cache,
            ))
        })
        .collect()
}

fn per_second(tokens: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        tokens as f64 / (ms / 1e3)
    } else {
        0.0
    }
}

/// Byte index of the line break where the default stop rule ends generation (METHOD's
/// rule: after answer text that follows a marker, or after a non-blank line that is not a
/// lead-in ending with a colon); see [`crate::eval::extract::stop_cut`].
pub fn line_break_after_text(text: &str) -> Option<usize> {
    crate::eval::extract::stop_cut(text)
}

/// The `k` best tokens of a logit vector (softmax probabilities over the whole vocabulary)
/// and the argmax id (the lowest id among equal maxima, as torch.argmax).
pub fn top_tokens(
    logits: &Tensor,
    k: usize,
    tokenizer: &Tokenizer,
) -> Result<(Vec<TopToken>, u32)> {
    let values: Vec<f32> = logits.flatten_all()?.to_vec1()?;
    let ranked = rank(&values, k);
    let best = ranked.first().map(|(id, _)| *id).unwrap_or(0);
    let max = ranked.first().map_or(0.0, |(_, v)| *v);
    let norm: f64 = values.iter().map(|v| f64::from(v - max).exp()).sum();
    let top = ranked
        .into_iter()
        .map(|(id, logit)| TopToken {
            id,
            piece: tokenizer.display_piece(id),
            logit,
            prob: (f64::from(logit - max).exp() / norm) as f32,
        })
        .collect();
    Ok((top, best))
}

/// Indices of the `k` largest values, best first; ties keep the lower index first.
pub fn rank(values: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut order: Vec<(u32, f32)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, v)| (i as u32, *v))
        .collect();
    let k = k.min(order.len());
    if k == 0 {
        return Vec::new();
    }
    let by_value = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    order.select_nth_unstable_by(k - 1, by_value);
    order.truncate(k);
    order.sort_by(by_value);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_break_only_after_answer_text() {
        assert_eq!(line_break_after_text("\n\n Paris\nmore"), Some(8));
        assert_eq!(line_break_after_text("\n  \n"), None);
        assert_eq!(line_break_after_text("Paris"), None);
        assert_eq!(line_break_after_text("Answer:\nDenver Broncos"), None);
    }

    #[test]
    fn rank_breaks_ties_by_lower_id_and_skips_nan() {
        let r = rank(&[1.0, 3.0, f32::NAN, 3.0, 2.0], 3);
        assert_eq!(r, vec![(1, 3.0), (3, 3.0), (4, 2.0)]);
        assert!(rank(&[], 3).is_empty());
    }
}

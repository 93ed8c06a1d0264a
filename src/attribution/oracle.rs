//! The sentence oracle (perturbation retrieval): ablate each sentence of the test context
//! and measure how much the log-probability of the model's own unperturbed answer drops.
//!
//! *step* = log p(first answer token | prompt); *sequence* = sum of the answer tokens'
//! log-probabilities, teacher forced. drop = unperturbed - ablated (positive: the sentence
//! mattered). The sample is oracle-correct when the sentence holding the gold answer's start
//! has the largest drop.
//!
//! The core (sentences to tokens, ablated rows, batching, ranking) only needs a
//! [`SequenceScorer`]; the [`Decoder`] is one, a test can plug in another.

use super::sentences::{is_space, split_sentences};
use crate::data::prompt::{Prompt, PromptToken};
use crate::model::decoder::{Decoder, DiffInput, KvCache};
use anyhow::{bail, Result};
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Default batch budget, in tokens (rows x padded length).
pub const DEFAULT_MAX_BATCH_TOKENS: usize = 16384;

/// How a sentence is taken out of the prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ablation {
    /// Drop the sentence's tokens (later positions shift).
    Remove,
    /// Replace each of the sentence's tokens by this id (positions kept).
    Baseline(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OracleOptions {
    pub ablation: Ablation,
    /// Most tokens (rows x padded row length) per forward; a row longer than this still
    /// runs, alone.
    pub max_batch_tokens: usize,
    /// Reuse the unperturbed prompt's KV cache for the unchanged prefix of every ablated
    /// prompt (fast path, row by row) instead of batched full forwards.
    pub prefix_cache: bool,
}

impl Default for OracleOptions {
    fn default() -> Self {
        OracleOptions {
            ablation: Ablation::Remove,
            max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
            prefix_cache: true,
        }
    }
}

/// Log-probabilities of a fixed answer after one prompt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnswerScore {
    /// log p(answer[0] | prompt).
    pub step: f32,
    /// Sum over j of log p(answer[j] | prompt, answer[..j]).
    pub sequence: f32,
}

/// Scores a non-empty answer after each prompt of a batch (prompts may differ in length).
pub trait SequenceScorer {
    fn score_batch(&self, prompts: &[Vec<u32>], answer: &[u32]) -> Result<Vec<AnswerScore>>;
}

/// One sentence of the test context and what ablating it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentenceDrop {
    pub index: usize,
    /// Characters of the context text (leading whitespace included, see `sentences`).
    pub context_range: Range<usize>,
    /// The same characters in the prompt text.
    pub prompt_range: Range<usize>,
    pub text: String,
    /// Tokens ablated; 0 when every token of the sentence started in the previous one
    /// (its drops are then 0 and no row ran for it).
    pub tokens: usize,
    pub step_drop: f32,
    pub sequence_drop: f32,
    pub contains_gold: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OracleResult {
    pub sentences: Vec<SentenceDrop>,
    pub base_step: f32,
    pub base_sequence: f32,
    pub answer_tokens: usize,
    /// The sentence holding the first gold answer's start; None when it lies outside the
    /// context (or there is no gold answer).
    pub gold_sentence: Option<usize>,
    /// 1 = largest drop; ties count against the gold sentence (all-zero drops are not a hit).
    pub step_rank_of_gold: Option<usize>,
    pub sequence_rank_of_gold: Option<usize>,
    pub step_correct: Option<bool>,
    pub sequence_correct: Option<bool>,
    pub ablation: Ablation,
    pub forwards: usize,
    pub rows: usize,
    /// Tokens a full forward per row would run (prompt plus teacher-forced answer).
    pub naive_tokens: usize,
    /// Tokens actually run, when the scorer counts them (the prefix-cached one does).
    pub tokens_run: Option<usize>,
    pub elapsed_ms: f64,
}

/// The error returned when `cancel` was set (between batches, rows or layers).
#[derive(Debug, thiserror::Error)]
#[error("the sentence oracle was cancelled")]
pub struct OracleCancelled;

/// Runs the oracle for `prompt`, tokenised as `tokens`, against the model's greedy `answer`
/// (its ids as generated). An empty answer is an error: there is nothing to score.
/// The tokens the oracle scores after each (ablated) prompt: the answer span, after its
/// prefix (the marker the model wrote), which is fed as input and never scored.
#[derive(Clone, Copy, Debug)]
pub struct Explained<'a> {
    pub prefix: &'a [u32],
    pub span: &'a [u32],
}

impl<'a> Explained<'a> {
    /// `span` with no prefix.
    pub fn span(span: &'a [u32]) -> Self {
        Self { prefix: &[], span }
    }
}

pub fn run_oracle<S: SequenceScorer + ?Sized>(
    scorer: &S,
    prompt: &Prompt,
    tokens: &[PromptToken],
    explained: Explained<'_>,
    options: &OracleOptions,
    cancel: Option<&AtomicBool>,
) -> Result<OracleResult> {
    let start = Instant::now();
    let answer = explained.span;
    if answer.is_empty() {
        bail!("the model's answer is empty: the sentence oracle has nothing to score");
    }
    if tokens.is_empty() {
        bail!("the prompt has no tokens");
    }
    let prompt_chars: Vec<char> = prompt.text.chars().collect();
    let Some(context_chars) = prompt_chars.get(prompt.context.clone()) else {
        bail!("the prompt's context range lies outside its text");
    };
    let offset = prompt.context.start;
    let spans = split_sentences(
        &context_chars.iter().collect::<String>(),
        prompt.context_lang,
    );
    if spans.is_empty() {
        bail!("the test context has no text to split into sentences");
    }
    let prompt_spans: Vec<Range<usize>> = spans
        .iter()
        .map(|r| r.start + offset..r.end + offset)
        .collect();
    let members = sentence_tokens(tokens, &prompt_chars, &prompt_spans);
    let gold_sentence = prompt
        .gold
        .first()
        .and_then(|g| prompt_spans.iter().position(|r| r.contains(&g.start)));

    // Row 0 is the unperturbed prompt; then one row per sentence that has tokens. Every
    // row ends with the answer prefix, teacher-forced.
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let with_prefix = |mut row: Vec<u32>| {
        row.extend_from_slice(explained.prefix);
        row
    };
    let mut rows = vec![with_prefix(ids.clone())];
    let mut row_of_sentence = vec![None; spans.len()];
    for (s, m) in members.iter().enumerate() {
        if !m.is_empty() {
            row_of_sentence[s] = Some(rows.len());
            rows.push(with_prefix(ablate(&ids, m, options.ablation)));
        }
    }

    let lens: Vec<usize> = rows.iter().map(|r| r.len() + answer.len() - 1).collect();
    let batches = plan_batches(&lens, options.max_batch_tokens);
    let mut scores: Vec<Option<AnswerScore>> = vec![None; rows.len()];
    for batch in &batches {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(OracleCancelled.into());
        }
        let batch_rows: Vec<Vec<u32>> = batch.iter().map(|&i| rows[i].clone()).collect();
        let got = scorer.score_batch(&batch_rows, answer)?;
        if got.len() != batch.len() {
            bail!(
                "the scorer returned {} scores for {} rows",
                got.len(),
                batch.len()
            );
        }
        for (&i, s) in batch.iter().zip(got) {
            scores[i] = Some(s);
        }
    }
    let scores: Vec<AnswerScore> = scores.into_iter().flatten().collect();
    if scores.len() != rows.len() {
        bail!("the batch plan left rows unscored");
    }

    let base = scores[0];
    let drop_of = |s: usize| match row_of_sentence[s] {
        Some(r) => (
            base.step - scores[r].step,
            base.sequence - scores[r].sequence,
        ),
        None => (0.0, 0.0),
    };
    let sentences: Vec<SentenceDrop> = spans
        .iter()
        .enumerate()
        .map(|(s, r)| {
            let (step_drop, sequence_drop) = drop_of(s);
            SentenceDrop {
                index: s,
                context_range: r.clone(),
                prompt_range: prompt_spans[s].clone(),
                text: context_chars[r.clone()].iter().collect(),
                tokens: members[s].len(),
                step_drop,
                sequence_drop,
                contains_gold: gold_sentence == Some(s),
            }
        })
        .collect();
    let step: Vec<f32> = sentences.iter().map(|s| s.step_drop).collect();
    let sequence: Vec<f32> = sentences.iter().map(|s| s.sequence_drop).collect();
    let step_rank = gold_sentence.map(|g| rank_of(&step, g));
    let sequence_rank = gold_sentence.map(|g| rank_of(&sequence, g));
    Ok(OracleResult {
        sentences,
        base_step: base.step,
        base_sequence: base.sequence,
        answer_tokens: answer.len(),
        gold_sentence,
        step_rank_of_gold: step_rank,
        sequence_rank_of_gold: sequence_rank,
        step_correct: step_rank.map(|r| r == 1),
        sequence_correct: sequence_rank.map(|r| r == 1),
        ablation: options.ablation,
        forwards: batches.len(),
        rows: rows.len(),
        naive_tokens: lens.iter().sum(),
        tokens_run: None,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// Token indices of each sentence. A token belongs to the sentence holding its first
/// non-space character (its start when it is all space), so a " word" token goes with its
/// word whether or not the tokenizer counts the space in its offsets.
pub fn sentence_tokens(
    tokens: &[PromptToken],
    prompt_chars: &[char],
    sentences: &[Range<usize>],
) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); sentences.len()];
    for (i, t) in tokens.iter().enumerate() {
        let end = t.end.min(prompt_chars.len());
        let anchor = (t.start..end)
            .find(|&c| !is_space(prompt_chars[c]))
            .unwrap_or(t.start);
        if t.end > t.start {
            if let Some(s) = sentences.iter().position(|r| r.contains(&anchor)) {
                members[s].push(i);
            }
        }
    }
    members
}

/// `ids` with the tokens at `positions` (ascending) removed or replaced.
fn ablate(ids: &[u32], positions: &[usize], ablation: Ablation) -> Vec<u32> {
    let hit = |i: usize| positions.binary_search(&i).is_ok();
    match ablation {
        Ablation::Remove => ids
            .iter()
            .enumerate()
            .filter(|&(i, _)| !hit(i))
            .map(|(_, &id)| id)
            .collect(),
        Ablation::Baseline(b) => ids
            .iter()
            .enumerate()
            .map(|(i, &id)| if hit(i) { b } else { id })
            .collect(),
    }
}

/// Groups rows of the given lengths into batches of at most `max_tokens` (rows x longest
/// row): longest rows first, so rows of a batch need little padding. A row over the budget
/// runs alone.
pub fn plan_batches(lens: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted: the batch's first row is its longest.
        let longest = current.first().map_or(lens[i], |&f| lens[f]);
        if !current.is_empty() && (current.len() + 1) * longest > max_tokens {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// 1 + the number of other sentences whose drop is at least `drops[target]`.
fn rank_of(drops: &[f32], target: usize) -> usize {
    1 + drops
        .iter()
        .enumerate()
        .filter(|&(j, d)| j != target && d.total_cmp(&drops[target]).is_ge())
        .count()
}

impl SequenceScorer for Decoder {
    /// One `forward_diff` over the left-padded rows `prompt ++ answer[..k-1]`: the answer's
    /// predictions sit at the last k positions of every row, the only ones given logits.
    fn score_batch(&self, prompts: &[Vec<u32>], answer: &[u32]) -> Result<Vec<AnswerScore>> {
        let k = answer.len();
        if k == 0 || prompts.iter().any(Vec::is_empty) {
            bail!("scoring needs a non-empty answer and non-empty prompts");
        }
        let len = prompts.iter().map(Vec::len).max().unwrap_or(0) + k - 1;
        let mut ids = Vec::with_capacity(prompts.len());
        let mut mask = Vec::with_capacity(prompts.len());
        for p in prompts {
            let pad = len - (p.len() + k - 1);
            let mut row = vec![0u32; pad];
            row.extend_from_slice(p);
            row.extend_from_slice(&answer[..k - 1]);
            ids.push(row);
            let mut m = vec![0u8; pad];
            m.resize(len, 1);
            mask.push(m);
        }
        let padded = mask.iter().any(|m| m[0] == 0);
        let mut input = DiffInput::single(&[]);
        input.ids = ids;
        input.attention_mask = padded.then_some(mask);
        // The head runs on the answer positions only: no B x T x vocab logits.
        input.logits_last = Some(k);
        let logits = self.forward_diff(&input)?.logits.to_dtype(DType::F32)?;
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let targets = Tensor::new(answer, self.device())?
            .reshape((1, k, 1))?
            .broadcast_as((prompts.len(), k, 1))?
            .contiguous()?;
        let picked: Vec<Vec<f32>> = log_probs.gather(&targets, 2)?.squeeze(2)?.to_vec2()?;
        Ok(picked
            .iter()
            .map(|row| AnswerScore {
                step: row[0],
                sequence: row.iter().map(|&x| f64::from(x)).sum::<f64>() as f32,
            })
            .collect())
    }
}

/// Scores ablated prompts by reusing the KV cache of the unperturbed prompt: an ablation
/// leaves every token before its sentence unchanged, so only the suffix from the first
/// changed token (plus the teacher-forced answer) runs, on the fast path, one row at a time.
/// With the test context late in the prompt (after the task and demonstrations) most of
/// each row is never recomputed.
pub struct PrefixCachedScorer<'a> {
    decoder: &'a Decoder,
    base: Vec<u32>,
    cache: KvCache,
    /// Tokens run so far, prefix included (the cost measure).
    computed: std::cell::Cell<usize>,
    /// Checked between rows and between layers, so a cancel lands within one layer.
    cancel: Option<&'a AtomicBool>,
}

impl<'a> PrefixCachedScorer<'a> {
    /// Runs `base` (the unperturbed prompt) once into a cache.
    pub fn new(decoder: &'a Decoder, base: &[u32]) -> Result<PrefixCachedScorer<'a>> {
        let mut cache = decoder.new_cache();
        decoder.forward_fast(base, &mut cache)?;
        Ok(PrefixCachedScorer {
            decoder,
            base: base.to_vec(),
            cache,
            computed: std::cell::Cell::new(base.len()),
            cancel: None,
        })
    }

    /// Stops scoring (between rows, and between layers inside a row) once `cancel` is set.
    pub fn with_cancel(mut self, cancel: Option<&'a AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    /// Reuses a cache that already holds `base` (and possibly more, e.g. the generated
    /// answer: only the first `base.len()` positions are kept).
    pub fn from_cache(
        decoder: &'a Decoder,
        base: &[u32],
        cache: &KvCache,
    ) -> Result<PrefixCachedScorer<'a>> {
        Ok(PrefixCachedScorer {
            decoder,
            base: base.to_vec(),
            cache: cache.truncated(base.len())?,
            computed: std::cell::Cell::new(0),
            cancel: None,
        })
    }

    /// Tokens run through the model so far, the base prompt included when this scorer ran it.
    pub fn tokens_computed(&self) -> usize {
        self.computed.get()
    }
}

impl SequenceScorer for PrefixCachedScorer<'_> {
    fn score_batch(&self, prompts: &[Vec<u32>], answer: &[u32]) -> Result<Vec<AnswerScore>> {
        let k = answer.len();
        if k == 0 || prompts.iter().any(Vec::is_empty) {
            bail!("scoring needs a non-empty answer and non-empty prompts");
        }
        let targets = Tensor::new(answer, self.decoder.device())?.reshape((k, 1))?;
        prompts
            .iter()
            .map(|row| {
                if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(OracleCancelled.into());
                }
                let shared = row
                    .iter()
                    .zip(&self.base)
                    .take_while(|(a, b)| a == b)
                    .count()
                    .min(row.len() - 1);
                let mut cache = self.cache.truncated(shared)?;
                let mut suffix = row[shared..].to_vec();
                suffix.extend_from_slice(&answer[..k - 1]);
                self.computed.set(self.computed.get() + suffix.len());
                let logits = self
                    .decoder
                    .forward_fast_tail_until(&suffix, &mut cache, k, self.cancel)
                    .map_err(
                        |e| match e.downcast_ref::<crate::model::decoder::Cancelled>() {
                            Some(_) => OracleCancelled.into(),
                            None => e,
                        },
                    )?;
                let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
                let picked: Vec<f32> = log_probs.gather(&targets, 1)?.squeeze(1)?.to_vec1()?;
                Ok(AnswerScore {
                    step: picked[0],
                    sequence: picked.iter().map(|&x| f64::from(x)).sum::<f64>() as f32,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_budget_and_keep_every_row_once() {
        let lens = [10, 12, 9, 12, 11];
        let b = plan_batches(&lens, 36);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        for batch in &b {
            let longest = batch.iter().map(|&i| lens[i]).max().unwrap();
            assert!(batch.len() * longest <= 36, "{b:?}");
        }
        assert_eq!(b, vec![vec![1, 3, 4], vec![0, 2]]);
        // A budget under one row: one row per batch.
        assert_eq!(plan_batches(&lens, 1).len(), 5);
        assert!(plan_batches(&[], 100).is_empty());
    }

    #[test]
    fn ablation_removes_or_replaces() {
        let ids = [5, 6, 7, 8];
        assert_eq!(ablate(&ids, &[1, 2], Ablation::Remove), vec![5, 8]);
        assert_eq!(
            ablate(&ids, &[1, 2], Ablation::Baseline(0)),
            vec![5, 0, 0, 8]
        );
        assert_eq!(ablate(&ids, &[], Ablation::Remove), ids.to_vec());
    }

    #[test]
    fn ties_count_against_the_gold_sentence() {
        assert_eq!(rank_of(&[0.5, 2.0, 1.0], 1), 1);
        assert_eq!(rank_of(&[0.5, 2.0, 1.0], 0), 3);
        assert_eq!(rank_of(&[0.0, 0.0, 0.0], 0), 3);
        assert_eq!(rank_of(&[1.0], 0), 1);
    }

    fn token(start: usize, end: usize) -> PromptToken {
        PromptToken {
            id: 1,
            piece: String::new(),
            start,
            end,
            part: crate::data::prompt::Part::Context,
        }
    }

    #[test]
    fn tokens_go_with_their_first_visible_character() {
        // "C: Ab. Cd." — sentences [3,6) and [6,10) (the space before "Cd" leads sentence 1).
        let chars: Vec<char> = "C: Ab. Cd.".chars().collect();
        let sentences = [3..6, 6..10];
        let tokens = [
            token(0, 2),  // "C:" outside the context
            token(2, 5),  // " Ab": the label's space, then "Ab"
            token(5, 6),  // "."
            token(6, 9),  // " Cd"
            token(9, 10), // "."
            token(0, 0),  // a post-processor token
        ];
        assert_eq!(
            sentence_tokens(&tokens, &chars, &sentences),
            vec![vec![1, 2], vec![3, 4]]
        );
    }
}

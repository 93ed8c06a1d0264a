//! The language lens (METHOD.md, "Language lens"): at the position that predicts the first
//! token of the answer span, every level read through the model's own head (the logit lens).
//! Per level: the top-k tokens with their script, the probability and rank of the token the
//! model generated, entropy, KL to the last level; the decision level; and the probability
//! and rank curves of the first tokens of the English and language-x gold answers.
//!
//! This module is the arithmetic over the lens logits (`Decoder::lens_logits`); the pipeline's
//! lens stage (`pipeline/lens.rs`) picks the position and the gold answers.

pub mod script;

use crate::data::Lang;
use crate::hf::tokenizer::Tokenizer;
use crate::model::generate::{rank, TopToken};
use anyhow::{bail, Result};
use candle_core::Tensor;
pub use script::ScriptTag;
use serde::{Deserialize, Serialize};

/// One of a level's top tokens, with its script.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensToken {
    #[serde(flatten)]
    pub token: TopToken,
    #[serde(flatten)]
    pub tag: ScriptTag,
}

/// One level read through the head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensLevel {
    /// The k most probable tokens, best first.
    pub top: Vec<LensToken>,
    /// Probability of the token the model generated at this position.
    pub generated_prob: f32,
    /// Its rank (1 = top-1; equal logits rank the lower id first, as argmax does).
    pub generated_rank: usize,
    /// Entropy of the level's distribution, in nats.
    pub entropy: f32,
    /// KL(p_level || p_last), in nats (0 at the last level).
    pub kl_to_last: f32,
}

/// The lens of one position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lens {
    /// The token the model generated (the step target) and its readable piece.
    pub generated: u32,
    pub generated_piece: String,
    /// Levels 0 (embeddings) ..= L.
    pub levels: Vec<LensLevel>,
    /// The lowest level from which the last level's top-1 token stays top-1 at every later
    /// level.
    pub decision_level: usize,
}

/// One gold answer's first token through the levels (`P_en` or `P_x`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoldCurve {
    /// The gold answer's language and text.
    pub lang: Lang,
    pub answer: String,
    /// Its first token as it would follow the answer prefix.
    pub token: u32,
    pub piece: String,
    /// Probability and rank of that token at each level.
    pub prob: Vec<f32>,
    pub rank: Vec<usize>,
}

/// What the lens stage adds to a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LensTrace {
    /// The position read (an index into the relevance tokens: the prompt's, then the answer
    /// prefix); the model predicts the step target there.
    pub position: usize,
    #[serde(flatten)]
    pub lens: Lens,
    /// `P_en`: the English gold answer's first token (samples only).
    pub p_en: Option<GoldCurve>,
    /// `P_x`: the language-x gold answer's first token (en-x and x-x); absent where it is
    /// the English one's id (see `same_first_token`).
    pub p_x: Option<GoldCurve>,
    /// The English and language-x gold answers begin with the same token id, so `P_x` would
    /// only repeat `P_en` (METHOD: say so, not a number).
    pub same_first_token: bool,
    /// Milliseconds of the recorded forward the lens ran itself (0 when it read the one the
    /// generation or relevance left; relevance then starts from the lens's), and of the lens
    /// proper: every level through the head, the softmaxes, the curves.
    #[serde(default)]
    pub forward_ms: f64,
    #[serde(default)]
    pub read_ms: f64,
}

/// Softmax of one row in f64 (probabilities summing to 1 whatever the logits' range).
fn softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = row.iter().map(|&v| f64::from(v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Rank of `id` in `row` (1 = the argmax; equal logits rank the lower id first).
fn rank_of(row: &[f32], id: u32) -> usize {
    let v = row[id as usize];
    1 + row
        .iter()
        .enumerate()
        .filter(|&(i, &w)| w > v || (w == v && (i as u32) < id))
        .count()
}

/// The decision level of per-level top-1 ids: the lowest level from which the last level's
/// top-1 stays top-1 to the end.
pub fn decision_level(top1: &[u32]) -> usize {
    let Some(&last) = top1.last() else {
        return 0;
    };
    top1.iter().rposition(|&t| t != last).map_or(0, |i| i + 1)
}

/// `[levels, vocab]` lens logits with each level's softmax, read once.
pub struct LensRows {
    logits: Vec<Vec<f32>>,
    probs: Vec<Vec<f64>>,
}

impl LensRows {
    pub fn new(logits: &Tensor) -> Result<LensRows> {
        let logits: Vec<Vec<f32>> = logits.to_vec2()?;
        if logits.is_empty() {
            bail!("the lens has no levels");
        }
        let probs = logits.iter().map(|row| softmax(row)).collect();
        Ok(LensRows { logits, probs })
    }

    pub fn levels(&self) -> usize {
        self.logits.len()
    }

    fn check(&self, id: u32) -> Result<()> {
        let vocab = self.logits[0].len();
        if id as usize >= vocab {
            bail!("token {id} is outside the vocabulary of {vocab}");
        }
        Ok(())
    }

    /// The lens of the generated token `generated`, with the top `k` tokens per level.
    pub fn read(&self, generated: u32, k: usize, tokenizer: &Tokenizer) -> Result<Lens> {
        self.check(generated)?;
        let p_last = &self.probs[self.probs.len() - 1];
        let mut levels = Vec::with_capacity(self.levels());
        let mut top1 = Vec::with_capacity(self.levels());
        for (row, p) in self.logits.iter().zip(&self.probs) {
            let top: Vec<LensToken> = rank(row, k)
                .into_iter()
                .map(|(id, logit)| {
                    let piece = tokenizer.display_piece(id);
                    LensToken {
                        tag: ScriptTag::of(&piece),
                        token: TopToken {
                            id,
                            piece,
                            logit,
                            prob: p[id as usize] as f32,
                        },
                    }
                })
                .collect();
            top1.push(top.first().map_or(0, |t| t.token.id));
            let entropy: f64 = p.iter().filter(|&&q| q > 0.0).map(|&q| -q * q.ln()).sum();
            let kl: f64 = p
                .iter()
                .zip(p_last)
                .filter(|(&q, _)| q > 0.0)
                .map(|(&q, &r)| q * (q.ln() - r.max(f64::MIN_POSITIVE).ln()))
                .sum();
            levels.push(LensLevel {
                top,
                generated_prob: p[generated as usize] as f32,
                generated_rank: rank_of(row, generated),
                entropy: entropy as f32,
                kl_to_last: kl.max(0.0) as f32,
            });
        }
        Ok(Lens {
            generated,
            generated_piece: tokenizer.display_piece(generated),
            decision_level: decision_level(&top1),
            levels,
        })
    }

    /// The probability and the rank of `id` at every level.
    pub fn curve(&self, id: u32) -> Result<(Vec<f32>, Vec<usize>)> {
        self.check(id)?;
        Ok(self
            .logits
            .iter()
            .zip(&self.probs)
            .map(|(row, p)| (p[id as usize] as f32, rank_of(row, id)))
            .unzip())
    }
}

/// Whether a token's readable piece (`Tokenizer::display_piece`, spaces shown as `␣`)
/// starts with the space byte-level BPE or SentencePiece glues to the next word.
pub fn starts_with_space(piece: &str) -> bool {
    piece.starts_with([' ', '␣', 'Ġ', '▁'])
}

/// The first token of a gold answer as it would follow the answer prefix: with a leading
/// space when the model's own first answer token starts with one (the tokenizer glues the
/// space to the word), encoded without special tokens.
pub fn gold_first_token(
    tokenizer: &Tokenizer,
    gold: &str,
    leading_space: bool,
) -> Result<Option<u32>> {
    let gold = gold.trim();
    if gold.is_empty() {
        return Ok(None);
    }
    let text = if leading_space {
        format!(" {gold}")
    } else {
        gold.to_string()
    };
    Ok(tokenizer.encode(&text, false)?.ids.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_level_is_where_the_final_top1_stays() {
        assert_eq!(decision_level(&[5, 7, 7, 7]), 1);
        assert_eq!(decision_level(&[7, 5, 7, 7]), 2);
        assert_eq!(decision_level(&[7, 7, 7]), 0);
        assert_eq!(decision_level(&[1, 2, 3]), 2);
        assert_eq!(decision_level(&[]), 0);
    }

    #[test]
    fn a_leading_space_is_seen_in_every_spelling() {
        for piece in ["␣Mar", " Mar", "ĠMar", "▁Mar"] {
            assert!(starts_with_space(piece), "{piece}");
        }
        assert!(!starts_with_space("Mar"));
    }

    #[test]
    fn ranks_follow_argmax_ties_and_softmax_sums_to_one() {
        let row = [0.5, 2.0, 2.0, -1.0];
        assert_eq!(rank_of(&row, 1), 1);
        assert_eq!(
            rank_of(&row, 2),
            2,
            "an equal logit with a higher id ranks after"
        );
        assert_eq!(rank_of(&row, 3), 4);
        let p = softmax(&row);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((p[1] - p[2]).abs() < 1e-15);
    }
}

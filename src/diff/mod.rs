//! What instruction tuning changed: the relevance of one sample under two models (a base
//! model and its instruct twin: one tokenizer, but a raw prompt against a chat-templated one),
//! compared token by token. The prompts' tokens are aligned part by part by their character
//! offsets within each part (task, demonstrations, context, question, system text); template
//! markup that only one prompt has stays unaligned and is listed. Per aligned token and level
//! the difference of normalised relevance `r(t,i)` (B minus A: run `--model BASE --compare
//! INSTRUCT` for instruct minus base), the token MRD difference, and per part the MRD
//! difference.

use crate::attribution::mrd::normalized;
use crate::data::prompt::{Part, Prompt, PromptToken};
use crate::pipeline::SampleTrace;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// One token present in both prompts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlignedToken {
    /// Its index in A's and in B's relevance tokens.
    pub a: usize,
    pub b: usize,
    pub part: Part,
    pub piece: String,
}

/// A token only one prompt has (template markup, or a token split differently at a part's
/// edge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnalignedToken {
    pub index: usize,
    pub part: Part,
    pub piece: String,
}

/// A part's MRD in A and B.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartDelta {
    pub part: Part,
    pub a: Option<usize>,
    pub b: Option<usize>,
    /// `b - a` where both have one.
    pub delta: Option<i64>,
}

/// The relevance of B minus A over the aligned tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelevanceDiff {
    pub model_a: String,
    pub model_b: String,
    pub aligned: Vec<AlignedToken>,
    pub unaligned_a: Vec<UnalignedToken>,
    pub unaligned_b: Vec<UnalignedToken>,
    /// `[level][aligned token]`: `r_B(b, level) - r_A(a, level)`, each `r` the token's share
    /// of its level's total |R| in its own prompt.
    pub delta: Vec<Vec<f64>>,
    /// Per aligned token: B's token MRD minus A's (None where either has none).
    pub token_mrd_delta: Vec<Option<i64>>,
    pub part_mrd: Vec<PartDelta>,
}

/// The parts aligned by their text: the content parts both prompts copy from the sample and
/// the task, and the trailer (markup and the answer prefix differ by template and answer).
fn aligned_part(part: Part) -> bool {
    Part::CONTENT.contains(&part) || part == Part::Trailer
}

/// A token's place within its part's text: (part, first and last character offset from the
/// part's start, its spans joined in order), the token clipped to its part (a token that
/// starts with the space of the markup before it keeps only its part's characters). None for
/// markup, empty ranges and tokens that touch no span of their part.
fn part_offsets(prompt: &Prompt, token: &PromptToken) -> Option<(Part, usize, usize)> {
    if !aligned_part(token.part) || token.start >= token.end {
        return None;
    }
    let mut before = 0;
    for span in prompt.spans.iter().filter(|s| s.part == token.part) {
        let (start, end) = (token.start.max(span.start), token.end.min(span.end));
        if start < end {
            return Some((
                token.part,
                before + start - span.start,
                before + end - span.start,
            ));
        }
        before += span.end - span.start;
    }
    None
}

/// Every token's key (part offsets, or its place in the answer prefix), with an occurrence
/// count so that the byte pieces of one character (same range) stay apart.
fn keys(prompt: &Prompt, tokens: &[PromptToken], prompt_len: usize) -> Vec<Option<Key>> {
    let mut seen: std::collections::HashMap<(Part, usize, usize), usize> = Default::default();
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let place = if i >= prompt_len {
                Some((Part::AnswerPrefix, i - prompt_len, i - prompt_len + 1))
            } else {
                part_offsets(prompt, t)
            }?;
            let n = seen.entry(place).or_insert(0);
            *n += 1;
            Some((place.0, place.1, place.2, *n))
        })
        .collect()
}

type Key = (Part, usize, usize, usize);

/// Aligns two traces of one sample and takes B minus A. Both need relevance and a prompt.
pub fn relevance_diff(a: &SampleTrace, b: &SampleTrace) -> Result<RelevanceDiff> {
    let (Some(pa), Some(pb)) = (&a.prompt, &b.prompt) else {
        bail!("a relevance diff needs two sample traces (free text has no parts to align)");
    };
    if pa.sample_id != pb.sample_id {
        bail!(
            "the traces are of different samples ({} and {})",
            pa.sample_id,
            pb.sample_id
        );
    }
    let ra = a.relevance.as_ref().context("trace A has no relevance")?;
    let rb = b.relevance.as_ref().context("trace B has no relevance")?;
    let (la, lb) = (ra.relevance.raw.len(), rb.relevance.raw.len());
    if la != lb {
        bail!(
            "the models have {} and {} levels: a per-level diff needs twins of one depth",
            la.saturating_sub(1),
            lb.saturating_sub(1)
        );
    }
    let ta = a.relevance_tokens();
    let tb = b.relevance_tokens();
    let keys_a = keys(pa, &ta, a.tokens.len());
    let keys_b = keys(pb, &tb, b.tokens.len());
    let index_b: std::collections::HashMap<Key, usize> = keys_b
        .iter()
        .enumerate()
        .filter_map(|(j, k)| k.map(|k| (k, j)))
        .collect();
    let mut aligned = Vec::new();
    let mut taken_b = vec![false; tb.len()];
    let mut unaligned_a = Vec::new();
    for (i, t) in ta.iter().enumerate() {
        let found = keys_a[i]
            .and_then(|k| index_b.get(&k).copied())
            .filter(|&j| tb[j].id == t.id);
        match found {
            Some(j) => {
                taken_b[j] = true;
                aligned.push(AlignedToken {
                    a: i,
                    b: j,
                    part: t.part,
                    piece: t.piece.clone(),
                });
            }
            None => unaligned_a.push(UnalignedToken {
                index: i,
                part: t.part,
                piece: t.piece.clone(),
            }),
        }
    }
    let unaligned_b = tb
        .iter()
        .enumerate()
        .filter(|(j, _)| !taken_b[*j])
        .map(|(j, t)| UnalignedToken {
            index: j,
            part: t.part,
            piece: t.piece.clone(),
        })
        .collect();
    let (na, nb) = (normalized(&ra.relevance.raw), normalized(&rb.relevance.raw));
    let delta = na
        .iter()
        .zip(&nb)
        .map(|(row_a, row_b)| {
            aligned
                .iter()
                .map(|p| {
                    row_b.get(p.b).copied().unwrap_or(0.0) - row_a.get(p.a).copied().unwrap_or(0.0)
                })
                .collect()
        })
        .collect();
    let mrd = |m: &[Option<usize>], i: usize| m.get(i).copied().flatten();
    let token_mrd_delta = aligned
        .iter()
        .map(
            |p| match (mrd(&ra.token_mrd, p.a), mrd(&rb.token_mrd, p.b)) {
                (Some(x), Some(y)) => Some(y as i64 - x as i64),
                _ => None,
            },
        )
        .collect();
    let part_mrd = Part::CONTENT
        .iter()
        .chain([&Part::Trailer])
        .filter(|&&p| ra.part_mrd.get(p).is_some() || rb.part_mrd.get(p).is_some())
        .map(|&part| {
            let (x, y) = (ra.part_mrd.get(part), rb.part_mrd.get(part));
            PartDelta {
                part,
                a: x,
                b: y,
                delta: x.zip(y).map(|(x, y)| y as i64 - x as i64),
            }
        })
        .collect();
    Ok(RelevanceDiff {
        model_a: a.model.name.clone(),
        model_b: b.model.name.clone(),
        aligned,
        unaligned_a,
        unaligned_b,
        delta,
        token_mrd_delta,
        part_mrd,
    })
}

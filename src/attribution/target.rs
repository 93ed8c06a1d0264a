//! What relevance and the oracle explain (METHOD, "Generation and scoring" and "Latent
//! relevance"): the *answer span*, the generated tokens that carry the extracted answer, from
//! the first token holding a non-space character of it to the last. The tokens generated
//! before it (an instruct model's `Answer:` marker, a lead-in line) are the *answer prefix*:
//! fed as input, teacher-forced, never explained. The stop token and trailing line breaks
//! belong to neither. The step target is the span's first token; sequence mode sums the
//! span's logits.
//!
//! The old target, the first generated token whatever it is, stays available
//! ([`TargetChoice::FirstGenerated`]) and is named wherever it is shown.

use crate::data::prompt::{Part, PromptToken};
use crate::eval::extract::answer_range;
use crate::hf::tokenizer::Tokenizer;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Which generated tokens the instruments explain (`--explain`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetChoice {
    /// The answer span, its prefix teacher-forced (METHOD's target).
    #[default]
    AnswerSpan,
    /// The first generated token, whatever it is (the old target, for comparison; sequence
    /// mode then sums every generated token, as before).
    FirstGenerated,
}

impl TargetChoice {
    pub fn name(self) -> &'static str {
        match self {
            Self::AnswerSpan => "answer-span",
            Self::FirstGenerated => "first-generated",
        }
    }
}

impl fmt::Display for TargetChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "answer-span" | "answer" | "span" => Ok(Self::AnswerSpan),
            "first-generated" | "first" => Ok(Self::FirstGenerated),
            other => Err(format!(
                "unknown target '{other}': answer-span (the answer's tokens, METHOD) or first-generated (the first generated token, the old target)"
            )),
        }
    }
}

/// How the explained tokens were found, as shown beside every relevance and oracle view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetBasis {
    /// The answer span of the extracted answer.
    AnswerSpan,
    /// The first generated token, as asked (`--explain first-generated`).
    FirstGenerated,
    /// The extracted answer is blank: the generated tokens stand in (step: the first).
    NoAnswerSpan,
    /// Nothing was generated: the token the model stopped with stands in.
    StopToken,
}

impl TargetBasis {
    /// A short label for views ("answer span", "first generated token").
    pub fn label(self) -> &'static str {
        match self {
            Self::AnswerSpan => "answer span",
            Self::FirstGenerated => "first generated token",
            Self::NoAnswerSpan => "generated tokens (blank answer)",
            Self::StopToken => "stop token (nothing generated)",
        }
    }
}

/// The explained tokens of one generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnswerTarget {
    pub choice: TargetChoice,
    pub basis: TargetBasis,
    /// Generated tokens before the span, appended to the prompt as input. Their `part` is
    /// [`Part::AnswerPrefix`]; their character range is empty, at the end of the prompt text.
    pub prefix: Vec<PromptToken>,
    /// The explained tokens; the first is the step target.
    pub span_ids: Vec<u32>,
    /// Where the span stands among the generated tokens (`prefix.len()..`).
    pub span: Range<usize>,
}

impl AnswerTarget {
    pub fn prefix_ids(&self) -> Vec<u32> {
        self.prefix.iter().map(|t| t.id).collect()
    }

    /// The step target's id.
    pub fn step_id(&self) -> Option<u32> {
        self.span_ids.first().copied()
    }

    /// A target that explains `ids` with nothing teacher-forced (the stop token fallback).
    pub fn bare(choice: TargetChoice, basis: TargetBasis, ids: Vec<u32>) -> Self {
        let n = ids.len();
        Self {
            choice,
            basis,
            prefix: Vec::new(),
            span_ids: ids,
            span: 0..n,
        }
    }
}

/// Byte end of each generated token within `text` (the decoded generation, cut at the
/// stop): how far the decoded prefix `ids[..=i]` agrees with `text`. Tokens that end a
/// partial UTF-8 character, or that the stop cut off, end where the agreement ends.
pub fn token_ends(tokenizer: &Tokenizer, ids: &[u32], text: &str) -> Result<Vec<usize>> {
    Ok(token_extents(tokenizer, ids, text)?
        .into_iter()
        .map(|e| e.end)
        .collect())
}

/// How far each generated token reaches into `text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    /// Byte end of the text complete after this token.
    end: usize,
    /// The token ends inside a character (byte-level BPE splits a character's UTF-8 bytes):
    /// it holds part of the character that starts at `end`.
    partial: bool,
}

fn token_extents(tokenizer: &Tokenizer, ids: &[u32], text: &str) -> Result<Vec<Extent>> {
    let mut extents = Vec::with_capacity(ids.len());
    let mut last = 0;
    for i in 0..ids.len() {
        let decoded = tokenizer.decode(&ids[..=i])?;
        let common = decoded
            .char_indices()
            .zip(text.char_indices())
            .take_while(|((_, a), (_, b))| a == b)
            .last()
            .map_or(0, |((at, c), _)| at + c.len_utf8());
        last = last.max(common);
        // Undecodable trailing bytes show as U+FFFD beyond the agreement.
        let partial = decoded[common.min(decoded.len())..].starts_with('\u{FFFD}');
        extents.push(Extent { end: last, partial });
    }
    Ok(extents)
}

/// The target of a generation: `ids` the generated tokens (stop token excluded), `text`
/// their decoded text cut at the stop, `prompt_chars` the prompt text's length in
/// characters (where the prefix tokens are placed). Empty `ids`: an error (the caller has
/// the stop-token fallback).
pub fn answer_target(
    tokenizer: &Tokenizer,
    ids: &[u32],
    text: &str,
    choice: TargetChoice,
    prompt_chars: usize,
) -> Result<AnswerTarget> {
    if ids.is_empty() {
        bail!("nothing was generated: no answer span to explain");
    }
    // The old target: step explains the first generated token, sequence all of them.
    let first = |basis| AnswerTarget::bare(choice, basis, ids.to_vec());
    if choice == TargetChoice::FirstGenerated {
        return Ok(first(TargetBasis::FirstGenerated));
    }
    let Some(answer) = answer_range(text) else {
        return Ok(first(TargetBasis::NoAnswerSpan));
    };
    let extents = token_extents(tokenizer, ids, text)?;
    // Tokens holding a non-space character of the answer (or some bytes of one).
    let carries = |i: usize| {
        let start = if i == 0 { 0 } else { extents[i - 1].end };
        let mut end = extents[i].end;
        if extents[i].partial {
            end += text[end..].chars().next().map_or(0, char::len_utf8);
        }
        let (lo, hi) = (start.max(answer.start), end.min(answer.end));
        lo < hi && text[lo..hi].chars().any(|c| !c.is_whitespace())
    };
    let Some(first_span) = (0..ids.len()).find(|&i| carries(i)) else {
        return Ok(first(TargetBasis::NoAnswerSpan));
    };
    let last_span = (first_span..ids.len())
        .rev()
        .find(|&i| carries(i))
        .unwrap_or(first_span);
    let prefix = ids[..first_span]
        .iter()
        .map(|&id| PromptToken {
            id,
            piece: tokenizer.display_piece(id),
            start: prompt_chars,
            end: prompt_chars,
            part: Part::AnswerPrefix,
        })
        .collect();
    Ok(AnswerTarget {
        choice,
        basis: TargetBasis::AnswerSpan,
        prefix,
        span_ids: ids[first_span..=last_span].to_vec(),
        span: first_span..last_span + 1,
    })
}

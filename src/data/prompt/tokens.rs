//! Prompt tokens, each labelled with the part it belongs to.

use super::{Part, Prompt};
use crate::model::tokenizer::Tokenizer;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// One token of a prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptToken {
    pub id: u32,
    /// Readable piece (see [`Tokenizer::display_piece`]).
    pub piece: String,
    /// `[start, end)` in characters of the prompt text; `(0, 0)` for tokens the
    /// tokenizer's post-processor added.
    pub start: usize,
    pub end: usize,
    pub part: Part,
}

/// Tokenises a prompt and labels every token with exactly one part.
///
/// Chat prompts already hold their special tokens (BOS included), so they are encoded without
/// the post-processor; raw prompts with it, as a base model expects. A token belongs to the
/// part of its first character; post-processor tokens before the text are `System`, those
/// after it `Trailer`.
pub fn tokenize_prompt(prompt: &Prompt, tok: &Tokenizer) -> Result<Vec<PromptToken>> {
    let encoded = tok.encode(&prompt.text, !prompt.chat).with_context(|| {
        format!(
            "cannot tokenise the prompt of sample '{}'",
            prompt.sample_id
        )
    })?;
    let last_part = prompt.spans.last().map_or(Part::Trailer, |s| s.part);
    let mut seen_text = false;
    let tokens = encoded
        .ids
        .iter()
        .zip(&encoded.offsets)
        .zip(&encoded.added_by_template)
        .map(|((&id, &(start, end)), &added)| {
            let part = if added {
                if seen_text {
                    Part::Trailer
                } else {
                    Part::System
                }
            } else {
                seen_text = true;
                // A zero-width token at the very end (some tokenizers emit one) has no
                // character of its own: it joins the last part.
                prompt.part_at(start).unwrap_or(last_part)
            };
            PromptToken {
                id,
                piece: tok.display_piece(id),
                start,
                end,
                part,
            }
        })
        .collect();
    Ok(tokens)
}

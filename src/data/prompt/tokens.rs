//! Prompt tokens, each labelled with the part it belongs to.

use super::{Part, Prompt};
use crate::hf::tokenizer::Tokenizer;
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
/// part of its first non-space character (of its first character when it is all space), so
/// ` Denver` after the label `Context: ` is context, not markup; tokens the post-processor
/// added (BOS, EOS) are `Markup`.
pub fn tokenize_prompt(prompt: &Prompt, tok: &Tokenizer) -> Result<Vec<PromptToken>> {
    let encoded = tok.encode(&prompt.text, !prompt.chat).with_context(|| {
        format!(
            "cannot tokenise the prompt of sample '{}'",
            prompt.sample_id
        )
    })?;
    let last_part = prompt.spans.last().map_or(Part::Markup, |s| s.part);
    let chars: Vec<char> = prompt.text.chars().collect();
    let tokens = encoded
        .ids
        .iter()
        .zip(&encoded.offsets)
        .zip(&encoded.added_by_template)
        .map(|((&id, &(start, end)), &added)| {
            let part = if added {
                Part::Markup
            } else {
                // A zero-width token at the very end (some tokenizers emit one) has no
                // character of its own: it joins the last part.
                let first = (start..end.min(chars.len()))
                    .find(|&i| !chars[i].is_whitespace())
                    .unwrap_or(start);
                prompt.part_at(first).unwrap_or(last_part)
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

//! Where a raw prompt body lands in the final text: as is (base models), or as the one user
//! turn of a chat template (instruct models).

use super::part::{normalize, overlay};
use super::{char_slice, Part, PartSpan};
use crate::hf::chat_template::ChatTemplate;
use anyhow::{bail, Context, Result};
use std::ops::Range;

/// The final prompt text, its spans, and the map from body characters to text characters.
pub(crate) struct Placement {
    pub text: String,
    pub spans: Vec<PartSpan>,
    /// Where the kept body text starts in `text`.
    content_start: usize,
    /// Body characters the template trimmed off the front (Llama-3.1 and Gemma-2 trim).
    lead: usize,
    /// Body characters written into `text`.
    kept: usize,
}

impl Placement {
    /// The body itself is the prompt.
    pub(crate) fn raw(text: String, spans: Vec<PartSpan>) -> Self {
        let kept = text.chars().count();
        Self {
            text,
            spans,
            content_start: 0,
            lead: 0,
            kept,
        }
    }

    /// The body as the user turn of `template`. What the template writes around the content
    /// (BOS, role headers, end of turn, generation prompt) is `Markup`; its default system
    /// prompt and the caller system text are `System` wherever the template puts them.
    pub(crate) fn in_chat_turn(
        template: &ChatTemplate,
        body: &str,
        body_spans: &[PartSpan],
        system: Option<&str>,
    ) -> Result<Self> {
        let turn = template.render_user_turn(body, system).with_context(|| {
            format!(
                "chat template {} cannot render the prompt (pass --no-chat to prompt the model \
                 with raw text instead)",
                template.name()
            )
        })?;
        let written = char_slice(&turn.text, turn.content.clone());
        let Some(lead_bytes) = body.find(written) else {
            bail!(
                "chat template {} changed the prompt text inside the user turn, so its parts \
                 cannot be located; use the model as a base model (no chat template)",
                template.name()
            );
        };
        let placement = Self {
            content_start: turn.content.start,
            lead: body[..lead_bytes].chars().count(),
            kept: written.chars().count(),
            spans: Vec::new(),
            text: String::new(),
        };
        let total = turn.text.chars().count();
        let head = PartSpan {
            part: Part::Markup,
            start: 0,
            end: turn.content.start,
        };
        let tail = PartSpan {
            part: Part::Markup,
            start: turn.content.end,
            end: total,
        };
        let body_spans = body_spans.iter().map(|s| {
            let r = placement.place(s.range());
            PartSpan {
                part: s.part,
                start: r.start,
                end: r.end,
            }
        });
        let mut spans = normalize(std::iter::once(head).chain(body_spans).chain([tail]));
        for system in [turn.default_system, turn.system].into_iter().flatten() {
            spans = overlay(&spans, system, Part::System);
        }
        Ok(Self {
            text: turn.text,
            spans,
            ..placement
        })
    }

    /// Body characters `range` in the final text (clipped to what the template kept).
    pub(crate) fn place(&self, range: Range<usize>) -> Range<usize> {
        let at = |i: usize| i.saturating_sub(self.lead).min(self.kept) + self.content_start;
        at(range.start)..at(range.end)
    }
}

//! Prompt parts and their character spans.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;

/// A region of a prompt, as the attribution views group tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// Caller system text, and in chat prompts the template's default system prompt.
    System,
    /// The task description, and the "Your task starts here:" line of 2-shot prompts.
    Task,
    Demo1,
    Demo2,
    /// The test context text only (its label is markup).
    Context,
    /// The test question text only (its label is markup).
    Question,
    /// Text after the test item that is neither task nor markup. The v1 and v2 formats have
    /// none; traces written before the `markup` part put the answer cue and the chat
    /// template's closing markers here.
    Trailer,
    /// Labels and layout, not content: `Context: ` and `Question: ` of the test item, the blank
    /// lines between blocks, the raw `Answer:` cue, the chat template's role markers and
    /// special tokens. Drawn and given an MRD, but not one of the paper's parts, so a label
    /// token never sets a part's MRD and never enters a similarity pool.
    Markup,
    /// Generated tokens before the answer span (an `Answer:` marker, a lead-in line), fed
    /// back as input when relevance and the oracle explain the answer span.
    #[serde(rename = "answer_prefix")]
    AnswerPrefix,
}

impl Part {
    /// Every part, in prompt order.
    pub const ALL: [Part; 9] = [
        Part::System,
        Part::Task,
        Part::Demo1,
        Part::Demo2,
        Part::Context,
        Part::Question,
        Part::Trailer,
        Part::Markup,
        Part::AnswerPrefix,
    ];

    /// The paper's parts: content a reader would name, not markup, not generated text.
    pub const CONTENT: [Part; 6] = [
        Part::System,
        Part::Task,
        Part::Demo1,
        Part::Demo2,
        Part::Context,
        Part::Question,
    ];

    /// True for the paper's parts ([`Part::CONTENT`]).
    pub fn is_content(self) -> bool {
        Part::CONTENT.contains(&self)
    }

    /// The serde name ("demo1").
    pub fn name(self) -> &'static str {
        match self {
            Part::System => "system",
            Part::Task => "task",
            Part::Demo1 => "demo1",
            Part::Demo2 => "demo2",
            Part::Context => "context",
            Part::Question => "question",
            Part::Trailer => "trailer",
            Part::Markup => "markup",
            Part::AnswerPrefix => "answer_prefix",
        }
    }

    /// A human label for legends and tables ("Demo 1").
    pub fn label(self) -> &'static str {
        match self {
            Part::System => "System",
            Part::Task => "Task",
            Part::Demo1 => "Demo 1",
            Part::Demo2 => "Demo 2",
            Part::Context => "Context",
            Part::Question => "Question",
            Part::Trailer => "Trailer",
            Part::Markup => "Markup",
            Part::AnswerPrefix => "Answer prefix",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[start, end)` in characters (Unicode code points) of the prompt text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSpan {
    pub part: Part,
    pub start: usize,
    pub end: usize,
}

impl PartSpan {
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Builds a text and its part spans together, so the spans cannot drift from the text.
#[derive(Debug, Default)]
pub(crate) struct SpannedText {
    text: String,
    chars: usize,
    spans: Vec<PartSpan>,
}

impl SpannedText {
    /// Appends `piece` to `part`; returns the character range it occupies.
    pub(crate) fn push(&mut self, part: Part, piece: &str) -> Range<usize> {
        let start = self.chars;
        self.text.push_str(piece);
        self.chars += piece.chars().count();
        push_span(
            &mut self.spans,
            PartSpan {
                part,
                start,
                end: self.chars,
            },
        );
        start..self.chars
    }

    pub(crate) fn into_parts(self) -> (String, Vec<PartSpan>) {
        (self.text, self.spans)
    }
}

/// Appends a span, dropping it when empty and merging it into the previous one of the same part.
fn push_span(spans: &mut Vec<PartSpan>, span: PartSpan) {
    if span.start >= span.end {
        return;
    }
    match spans.last_mut() {
        Some(last) if last.part == span.part && last.end == span.start => last.end = span.end,
        _ => spans.push(span),
    }
}

/// Tidies spans that already partition a text: empty ones dropped, neighbours of one part merged.
pub(crate) fn normalize(spans: impl IntoIterator<Item = PartSpan>) -> Vec<PartSpan> {
    let mut out = Vec::new();
    for span in spans {
        push_span(&mut out, span);
    }
    out
}

/// Relabels `range` as `part`, splitting the spans it cuts.
pub(crate) fn overlay(spans: &[PartSpan], range: Range<usize>, part: Part) -> Vec<PartSpan> {
    let mut out = Vec::with_capacity(spans.len() + 2);
    for span in spans {
        let before = PartSpan {
            end: span.end.min(range.start),
            ..*span
        };
        let inside = PartSpan {
            part,
            start: span.start.max(range.start),
            end: span.end.min(range.end),
        };
        let after = PartSpan {
            start: span.start.max(range.end),
            ..*span
        };
        for piece in [before, inside, after] {
            push_span(&mut out, piece);
        }
    }
    out
}

/// The part holding character `index`, by binary search over partitioning spans.
pub(crate) fn part_at(spans: &[PartSpan], index: usize) -> Option<Part> {
    let pos = spans.partition_point(|s| s.end <= index);
    spans
        .get(pos)
        .filter(|s| s.start <= index && index < s.end)
        .map(|s| s.part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(part: Part, start: usize, end: usize) -> PartSpan {
        PartSpan { part, start, end }
    }

    #[test]
    fn spanned_text_merges_neighbours_and_counts_chars() {
        let mut t = SpannedText::default();
        assert_eq!(t.push(Part::Task, "Aufgabe ü\n\n"), 0..11);
        assert_eq!(t.push(Part::Task, "中文"), 11..13);
        assert_eq!(t.push(Part::Context, ""), 13..13);
        assert_eq!(t.push(Part::Question, "Q"), 13..14);
        let (text, spans) = t.into_parts();
        assert_eq!(text.chars().count(), 14);
        assert_eq!(
            spans,
            vec![span(Part::Task, 0, 13), span(Part::Question, 13, 14)]
        );
    }

    #[test]
    fn overlay_splits_and_merges() {
        let spans = vec![span(Part::Task, 0, 5), span(Part::Context, 5, 10)];
        assert_eq!(
            overlay(&spans, 3..7, Part::System),
            vec![
                span(Part::Task, 0, 3),
                span(Part::System, 3, 7),
                span(Part::Context, 7, 10)
            ]
        );
        assert_eq!(
            overlay(&spans, 0..5, Part::Context),
            vec![span(Part::Context, 0, 10)]
        );
    }

    #[test]
    fn part_at_finds_the_covering_span() {
        let spans = vec![span(Part::Task, 0, 5), span(Part::Context, 5, 10)];
        assert_eq!(part_at(&spans, 0), Some(Part::Task));
        assert_eq!(part_at(&spans, 4), Some(Part::Task));
        assert_eq!(part_at(&spans, 5), Some(Part::Context));
        assert_eq!(part_at(&spans, 9), Some(Part::Context));
        assert_eq!(part_at(&spans, 10), None);
    }

    #[test]
    fn names_match_serde() {
        for part in Part::ALL {
            let json = serde_json::to_string(&part).unwrap();
            assert_eq!(json, format!("\"{}\"", part.name()));
        }
    }
}

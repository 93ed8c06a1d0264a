//! The prompt as characters again: tokens are mapped back to the prompt text through their
//! character ranges, so byte-level BPE pieces that split a character (Chinese, Thai, Hindi,
//! Arabic) are merged and the page reads as text, not as `<0xE5>` pieces.

use crate::data::prompt::{Part, PromptToken};

/// A run of prompt text shaded as one: the characters of one or more tokens whose ranges
/// overlap (several byte pieces of one character), or text no token covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub text: String,
    /// The relevance tokens behind it (none for uncovered text).
    pub tokens: Vec<usize>,
    pub part: Option<Part>,
}

/// The prompt `text` cut into segments by the tokens' character ranges `[start, end)`, in
/// order; tokens with an empty range (the answer prefix fed back) are left out here.
pub fn segments(text: &str, tokens: &[PromptToken]) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut order: Vec<usize> = (0..tokens.len())
        .filter(|&t| tokens[t].start < tokens[t].end && tokens[t].start < chars.len())
        .collect();
    order.sort_by_key(|&t| (tokens[t].start, tokens[t].end));
    let take = |from: usize, to: usize| -> String {
        chars[from.min(chars.len())..to.min(chars.len())]
            .iter()
            .collect()
    };
    let mut out: Vec<Segment> = Vec::new();
    // Characters before `at` are out; `run` is the segment being grown (start, end, tokens).
    let mut at = 0usize;
    let mut run: Option<(usize, usize, Vec<usize>)> = None;
    let close = |run: (usize, usize, Vec<usize>), out: &mut Vec<Segment>| -> usize {
        let (start, end, members) = run;
        out.push(Segment {
            text: take(start, end),
            part: Some(tokens[members[0]].part),
            tokens: members,
        });
        end
    };
    for t in order {
        let (start, end) = (tokens[t].start, tokens[t].end.min(chars.len()));
        match &mut run {
            // Overlaps the run so far: the same characters, one segment.
            Some((_, run_end, members)) if start < *run_end => {
                *run_end = (*run_end).max(end);
                members.push(t);
            }
            _ => {
                if let Some(done) = run.take() {
                    at = close(done, &mut out);
                }
                if start > at {
                    out.push(Segment {
                        text: take(at, start),
                        tokens: Vec::new(),
                        part: None,
                    });
                }
                run = Some((start.max(at), end, vec![t]));
            }
        }
    }
    if let Some(done) = run.take() {
        at = close(done, &mut out);
    }
    if at < chars.len() {
        out.push(Segment {
            text: take(at, chars.len()),
            tokens: Vec::new(),
            part: None,
        });
    }
    out
}

/// A token's text as the prompt writes it (its character range), else its readable piece.
pub fn token_text(text: &str, token: &PromptToken) -> String {
    if token.start < token.end {
        let s: String = text
            .chars()
            .skip(token.start)
            .take(token.end - token.start)
            .collect();
        if !s.is_empty() {
            return s.replace(' ', "␣").replace('\n', "↵");
        }
    }
    token.piece.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(start: usize, end: usize) -> PromptToken {
        PromptToken {
            id: 0,
            piece: "<0xE5>".into(),
            start,
            end,
            part: Part::Context,
        }
    }

    #[test]
    fn byte_pieces_of_one_character_merge_and_the_text_is_kept_whole() {
        let text = "北京 is";
        // "北" split into two byte tokens with the same range, then "京", " is".
        let tokens = [tok(0, 1), tok(0, 1), tok(1, 2), tok(2, 5)];
        let segs = segments(text, &tokens);
        let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, text);
        assert_eq!(segs[0].text, "北");
        assert_eq!(segs[0].tokens, [0, 1]);
        assert_eq!(segs[1].tokens, [2]);
        assert_eq!(token_text(text, &tokens[3]), "␣is");
    }

    #[test]
    fn uncovered_text_and_empty_ranges() {
        let text = "ab cd";
        let tokens = [tok(0, 2), tok(3, 5), tok(5, 5)];
        let segs = segments(text, &tokens);
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["ab", " ", "cd"]);
        assert!(segs[1].tokens.is_empty());
        assert_eq!(token_text(text, &tokens[2]), "<0xE5>");
    }
}

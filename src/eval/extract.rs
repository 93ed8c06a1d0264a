//! From a model's generated text to the answer that is scored.
//!
//! Rules, in order:
//! 1. If the text contains the marker `Answer:` (or `Answer：` with the full-width colon that
//!    Chinese-leaning models write), keep only what follows its first occurrence. The marker is
//!    matched case-sensitively, exactly as the prompt spells it: a lower-case "answer:" inside
//!    prose is more often part of a sentence than the requested answer slot. A marker written
//!    in bold (`**Answer:**`) loses its closing `**` too.
//! 2. Keep the first line that is not blank, trimmed (Python whitespace, as the scorer uses).
//! 3. If the whole answer is wrapped in markdown bold (`**1876**`) or in one pair of quotes
//!    (`"…"`, `'…'`, `“…”`, `‘…’`, `«…»`, `「…」`, `『…』`), unwrap it, repeatedly (`**"1876"**`).
//!    A pair only counts as wrapping when the closing mark does not occur inside, so
//!    `"A" and "B"` stays as it is.

use super::chars::is_python_whitespace;

const ANSWER_MARKERS: [&str; 2] = ["Answer:", "Answer："];
const BOLD: &str = "**";
const QUOTE_PAIRS: [(char, char); 7] = [
    ('"', '"'),
    ('\'', '\''),
    ('“', '”'),
    ('‘', '’'),
    ('«', '»'),
    ('「', '」'),
    ('『', '』'),
];

/// The answer a generation gives (see the module documentation for the rules).
pub fn extract_answer(generated: &str) -> String {
    let after_marker = text_after_marker(generated);
    let first_line = after_marker
        .lines()
        .map(trim_python)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    unwrap_decorations(first_line).to_string()
}

fn trim_python(text: &str) -> &str {
    text.trim_matches(is_python_whitespace)
}

/// The text after the earliest answer marker, or the whole text when there is none.
fn text_after_marker(generated: &str) -> &str {
    let earliest = ANSWER_MARKERS
        .iter()
        .filter_map(|marker| generated.find(marker).map(|at| (at, marker.len())))
        .min_by_key(|&(at, _)| at);
    let Some((at, marker_len)) = earliest else {
        return generated;
    };
    let rest = &generated[at + marker_len..];
    let marker_in_bold = generated[..at].ends_with(BOLD);
    match rest.strip_prefix(BOLD) {
        Some(unbolded) if marker_in_bold => unbolded,
        _ => rest,
    }
}

/// Removes wrapping bold and quote pairs until none is left.
fn unwrap_decorations(mut answer: &str) -> &str {
    loop {
        let unwrapped = unwrap_bold(answer).or_else(|| unwrap_quotes(answer));
        match unwrapped {
            Some(inner) => answer = trim_python(inner),
            None => return answer,
        }
    }
}

fn unwrap_bold(answer: &str) -> Option<&str> {
    let inner = answer.strip_prefix(BOLD)?.strip_suffix(BOLD)?;
    (!inner.is_empty() && !inner.contains(BOLD)).then_some(inner)
}

fn unwrap_quotes(answer: &str) -> Option<&str> {
    QUOTE_PAIRS.iter().find_map(|&(open, close)| {
        let inner = answer.strip_prefix(open)?.strip_suffix(close)?;
        (!inner.is_empty() && !inner.contains(close)).then_some(inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_text_after_the_first_marker() {
        assert_eq!(extract_answer("Answer: 1876"), "1876");
        assert_eq!(
            extract_answer("  Answer:   Denver Broncos  \n"),
            "Denver Broncos"
        );
        assert_eq!(
            extract_answer("Answer: Paris\nQuestion: x?\nAnswer: Rome"),
            "Paris"
        );
        assert_eq!(extract_answer("答案 Answer：北京"), "北京");
    }

    #[test]
    fn earliest_marker_wins_whichever_colon() {
        assert_eq!(extract_answer("Answer：一 Answer: two"), "一 Answer: two");
        assert_eq!(extract_answer("Answer: one Answer：二"), "one Answer：二");
    }

    #[test]
    fn marker_is_case_sensitive() {
        assert_eq!(extract_answer("the answer: 42"), "the answer: 42");
    }

    #[test]
    fn without_marker_keeps_first_non_empty_line() {
        assert_eq!(extract_answer("\n \n  Santa Clara \nmore"), "Santa Clara");
        assert_eq!(
            extract_answer("Answer:\n\n  Levi's Stadium\n"),
            "Levi's Stadium"
        );
        assert_eq!(extract_answer("   "), "");
        assert_eq!(extract_answer("Answer:"), "");
    }

    #[test]
    fn unwraps_bold_and_quotes() {
        assert_eq!(extract_answer("Answer: **1876**"), "1876");
        assert_eq!(extract_answer("**Answer:** Golden Gate"), "Golden Gate");
        assert_eq!(
            extract_answer("**Answer:** **\"Golden Gate\"**"),
            "Golden Gate"
        );
        assert_eq!(
            extract_answer("Answer: “Seven Years' War”"),
            "Seven Years' War"
        );
        assert_eq!(
            extract_answer("Answer: «Μεγάλη Βρετανία»"),
            "Μεγάλη Βρετανία"
        );
        assert_eq!(extract_answer("Answer: 「東京」"), "東京");
    }

    #[test]
    fn keeps_quotes_and_bold_that_do_not_wrap_everything() {
        assert_eq!(extract_answer("Answer: \"A\" and \"B\""), "\"A\" and \"B\"");
        assert_eq!(extract_answer("Answer: **A** and **B**"), "**A** and **B**");
        assert_eq!(extract_answer("Answer: \"\""), "\"\"");
        assert_eq!(extract_answer("Answer: 'tis"), "'tis");
        assert_eq!(extract_answer("Answer: **"), "**");
    }
}

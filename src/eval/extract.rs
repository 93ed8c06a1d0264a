//! From a model's generated text to the answer that is scored, and where generation may
//! stop (METHOD.md, "Generation and scoring").
//!
//! Extraction, in order:
//! 1. The first answer marker: `Answer:` matched case-sensitively, exactly as the prompt
//!    spells it (a lower-case "answer:" inside prose is more often part of a sentence than
//!    the requested answer slot), spaces allowed before the colon (`Answer :`), the
//!    full-width colon accepted (`Answer：`, as Chinese-leaning models write it), optionally
//!    in bold (`**Answer:**`, whose closing `**` goes too). The answer is the text after it,
//!    leading whitespace (line breaks included) dropped, up to the end of that line, trimmed;
//!    a marker repeated right after the first ("Answer: Answer: x") is dropped too.
//! 2. Without a marker: the first non-blank line that does not end with a colon, trimmed, so
//!    a lead-in such as "The answer to this question is:" is skipped.
//! 3. If the whole answer is wrapped in markdown bold (`**1876**`) or in one pair of quotes
//!    (`"…"`, `'…'`, `“…”`, `‘…’`, `«…»`, `「…」`, `『…』`), unwrap it, repeatedly (`**"1876"**`).
//!    A pair only counts as wrapping when the closing mark does not occur inside, so
//!    `"A" and "B"` stays as it is. (The project's addition to METHOD, applied after it.)
//!
//! The stop rule ([`stop_cut`]) cuts at the first line break after non-blank text that
//! follows a marker, or, with no marker yet, after a non-blank line that does not end with a
//! colon: the same lines extraction reads, so the default stop never changes the answer.

use super::chars::is_python_whitespace;

const MARKER_WORD: &str = "Answer";
const COLONS: [char; 2] = [':', '：'];
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
    answer_slice(generated).to_string()
}

/// Where the extracted answer stands in `generated` (byte range); `None` when it is empty.
/// The answer span of METHOD is the generated tokens that overlap its non-space characters.
pub fn answer_range(generated: &str) -> Option<std::ops::Range<usize>> {
    let answer = answer_slice(generated);
    if answer.is_empty() {
        return None;
    }
    // `answer_slice` only narrows `generated`, so the slice lies inside it.
    let start = answer.as_ptr() as usize - generated.as_ptr() as usize;
    Some(start..start + answer.len())
}

/// The extracted answer as a slice of `generated`.
fn answer_slice(generated: &str) -> &str {
    let line = match marker_end(generated) {
        Some(end) => {
            let mut rest = trim_start_python(&generated[end..]);
            while let Some(again) = leading_marker_end(rest) {
                rest = trim_start_python(&rest[again..]);
            }
            trim_python(rest.split('\n').next().unwrap_or(""))
        }
        None => generated
            .split('\n')
            .map(trim_python)
            .find(|line| !line.is_empty() && !line.ends_with(COLONS))
            .unwrap_or(""),
    };
    unwrap_decorations(line)
}

/// Byte index of the line break where the default stop rule ends generation, if the text
/// has one yet (see the module documentation).
pub fn stop_cut(text: &str) -> Option<usize> {
    let marker = marker_end(text);
    let mut line_start = 0;
    for (at, c) in text.char_indices() {
        if c != '\n' {
            continue;
        }
        match marker {
            Some(end) if end <= at => {
                if !trim_python(&text[end..at]).is_empty() {
                    return Some(at);
                }
            }
            _ => {
                let line = trim_python(&text[line_start..at]);
                if !line.is_empty() && !line.ends_with(COLONS) {
                    return Some(at);
                }
            }
        }
        line_start = at + 1;
    }
    None
}

fn trim_python(text: &str) -> &str {
    text.trim_matches(is_python_whitespace)
}

fn trim_start_python(text: &str) -> &str {
    text.trim_start_matches(is_python_whitespace)
}

/// After `Answer` at `at`: spaces, then a colon; the end of the colon.
fn colon_after(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at + MARKER_WORD.len()..];
    let spaces = rest.len() - rest.trim_start_matches(' ').len();
    let colon = rest[spaces..]
        .chars()
        .next()
        .filter(|c| COLONS.contains(c))?;
    Some(at + MARKER_WORD.len() + spaces + colon.len_utf8())
}

/// The end of the first marker (its bold closing included), if there is one.
fn marker_end(text: &str) -> Option<usize> {
    text.match_indices(MARKER_WORD).find_map(|(at, _)| {
        let end = colon_after(text, at)?;
        let bolded = text[..at].ends_with(BOLD) && text[end..].starts_with(BOLD);
        Some(if bolded { end + BOLD.len() } else { end })
    })
}

/// The end of a marker that starts `text` (bolded or not).
fn leading_marker_end(text: &str) -> Option<usize> {
    let (bold, at) = match text.strip_prefix(BOLD) {
        Some(rest) if rest.starts_with(MARKER_WORD) => (true, BOLD.len()),
        _ if text.starts_with(MARKER_WORD) => (false, 0),
        _ => return None,
    };
    let end = colon_after(text, at)?;
    Some(if bold && text[end..].starts_with(BOLD) {
        end + BOLD.len()
    } else {
        end
    })
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
    fn method_marker_forms_and_lead_ins() {
        assert_eq!(extract_answer("Answer :  Denver"), "Denver");
        assert_eq!(extract_answer("Answer:\nDenver Broncos"), "Denver Broncos");
        assert_eq!(extract_answer("Answer: Answer: 1876"), "1876");
        assert_eq!(extract_answer("**Answer:** **Answer:** x"), "x");
        assert_eq!(
            extract_answer("Here is the answer:\nDenver Broncos\nmore"),
            "Denver Broncos"
        );
        assert_eq!(extract_answer("The answer to this question is:"), "");
        assert_eq!(extract_answer("Answers: x"), "Answers: x");
    }

    #[test]
    fn answer_range_points_into_the_text() {
        for (text, answer) in [
            ("Answer: **1876**\n", "1876"),
            (
                "Here is the answer:\n  Denver Broncos \nmore",
                "Denver Broncos",
            ),
            ("Answer: Answer: x", "x"),
        ] {
            let r = answer_range(text).unwrap();
            assert_eq!(&text[r], answer, "{text:?}");
        }
        assert_eq!(answer_range("The answer is:"), None);
        assert_eq!(answer_range(""), None);
    }

    #[test]
    fn stop_rule_cuts_only_where_extraction_has_read_its_line() {
        assert_eq!(stop_cut("\n\n Paris\nmore"), Some(8));
        assert_eq!(stop_cut("\n  \n"), None);
        assert_eq!(stop_cut("Paris"), None);
        // The marker alone, a lead-in line: no cut yet.
        assert_eq!(stop_cut("Answer:\n"), None);
        assert_eq!(stop_cut("Here is the answer:\n"), None);
        assert_eq!(stop_cut("Answer:\nDenver Broncos\n"), Some(22));
        assert_eq!(stop_cut("Here is the answer:\nDenver\n"), Some(26));
        // A lead-in line with a marker later: the marker's text decides.
        let text = "Sure:\nAnswer: Paris\nx";
        assert_eq!(stop_cut(text), Some(19));
        for text in [
            "Answer:\nDenver Broncos\nmore",
            "Here is the answer:\nDenver\nmore",
            "Sure:\nAnswer: Paris\nx",
            "\n\n Paris\nmore",
        ] {
            let cut = stop_cut(text).unwrap();
            assert_eq!(
                extract_answer(&text[..cut]),
                extract_answer(text),
                "{text:?}"
            );
        }
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

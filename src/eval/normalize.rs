//! Answer normalisation for F1/EM, with the semantics of the official Python scripts.
//!
//! Two normalisers, chosen per score and always named beside it:
//! - [`Normalizer::Squad`]: SQuAD v1.1 `evaluate-v1.1.py`, the XQuAD authors' protocol, applied
//!   to every language: lower-case, drop the 32 ASCII punctuation characters, drop the English
//!   articles a/an/the as whole words, split on whitespace.
//! - [`Normalizer::Mlqa`]: MLQA `mlqa_evaluation_v1.py`, keyed by the *answer* language: drop
//!   every Unicode category-P character as well, the language's own articles, and segment
//!   Chinese character by character. MLQA has no rules for el, ro, ru, th, tr; this project
//!   extends it: no articles and whitespace tokens for el, ro, ru, tr, and one token per
//!   non-space character for th.
//!
//! The scripts run under Python 3, so the details that differ from Rust's defaults are spelled
//! out here: `str.split()` whitespace includes U+001C..U+001F; `re`'s `\b` counts only letters,
//! numbers and `_` as word characters (combining marks are *not* word characters, unlike the
//! regex crate's `\w`); `str.lower()` is full Unicode lower-casing with the final-sigma rule,
//! which Rust's `str::to_lowercase` implements the same way.

use super::chars::{is_category_punctuation, is_letter, is_number, is_python_whitespace};
use crate::data::Lang;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which evaluation script's normalisation a score follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Normalizer {
    /// Official SQuAD v1.1 rules for every language (XQuAD's and the paper's protocol).
    #[default]
    Squad,
    /// MLQA rules keyed by the answer language, with the project's extension for el/ro/ru/th/tr.
    Mlqa,
}

impl Normalizer {
    /// Both normalisers, the default first.
    pub const ALL: [Normalizer; 2] = [Normalizer::Squad, Normalizer::Mlqa];

    /// The name used on the command line, in JSON and beside every score.
    pub fn name(self) -> &'static str {
        match self {
            Normalizer::Squad => "squad",
            Normalizer::Mlqa => "mlqa",
        }
    }

    /// Whether this normaliser's rules for `answer_lang` are the project's extension rather
    /// than the official script's (MLQA rejects el, ro, ru, th, tr).
    pub fn is_project_extension(self, answer_lang: Lang) -> bool {
        self == Normalizer::Mlqa
            && matches!(
                answer_lang,
                Lang::El | Lang::Ro | Lang::Ru | Lang::Th | Lang::Tr
            )
    }
}

impl fmt::Display for Normalizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A normaliser name that is neither `squad` nor `mlqa`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown normaliser '{given}'; expected 'squad' or 'mlqa'")]
pub struct UnknownNormalizer {
    pub given: String,
}

impl FromStr for Normalizer {
    type Err = UnknownNormalizer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Normalizer::ALL
            .into_iter()
            .find(|n| n.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownNormalizer {
                given: s.to_string(),
            })
    }
}

/// The normalised answer: its tokens joined by single spaces (what EM compares).
pub fn normalize(text: &str, normalizer: Normalizer, answer_lang: Lang) -> String {
    tokens(text, normalizer, answer_lang).join(" ")
}

/// The normalised tokens F1 counts. Never contains an empty token.
pub fn tokens(text: &str, normalizer: Normalizer, answer_lang: Lang) -> Vec<String> {
    let lowered = text.to_lowercase();
    let rules = Rules::for_language(normalizer, answer_lang);
    let without_punctuation: String = lowered
        .chars()
        .filter(|&c| !(rules.is_punctuation)(c))
        .collect();
    let without_articles = match rules.articles {
        Articles::None => without_punctuation,
        Articles::WholeWords(words) => replace_whole_words(&without_punctuation, words),
        // MLQA's `re.sub('\sال^|ال', ' ', text)`: the first alternative can never match (`^`
        // after a character), so every "ال" goes, word-internal ones included.
        Articles::ArabicAl => without_punctuation.replace("ال", " "),
    };
    match rules.segmentation {
        Segmentation::Whitespace => python_split(&without_articles),
        Segmentation::MixedChinese => mixed_segmentation(&without_articles),
        Segmentation::Characters => without_articles
            .chars()
            .filter(|&c| !is_python_whitespace(c))
            .map(String::from)
            .collect(),
    }
}

/// One normaliser's rules for one answer language.
struct Rules {
    is_punctuation: fn(char) -> bool,
    articles: Articles,
    segmentation: Segmentation,
}

enum Articles {
    None,
    WholeWords(&'static [&'static str]),
    ArabicAl,
}

enum Segmentation {
    Whitespace,
    MixedChinese,
    Characters,
}

const ENGLISH_ARTICLES: &[&str] = &["a", "an", "the"];
const SPANISH_ARTICLES: &[&str] = &["un", "una", "unos", "unas", "el", "la", "los", "las"];
const GERMAN_ARTICLES: &[&str] = &[
    "ein", "eine", "einen", "einem", "eines", "einer", "der", "die", "das", "den", "dem", "des",
];
const VIETNAMESE_ARTICLES: &[&str] = &["của", "là", "cái", "chiếc", "những"];

impl Rules {
    fn for_language(normalizer: Normalizer, answer_lang: Lang) -> Rules {
        match normalizer {
            Normalizer::Squad => Rules {
                is_punctuation: is_ascii_punctuation,
                articles: Articles::WholeWords(ENGLISH_ARTICLES),
                segmentation: Segmentation::Whitespace,
            },
            Normalizer::Mlqa => Rules {
                is_punctuation: is_unicode_punctuation,
                articles: match answer_lang {
                    Lang::En => Articles::WholeWords(ENGLISH_ARTICLES),
                    Lang::Es => Articles::WholeWords(SPANISH_ARTICLES),
                    Lang::De => Articles::WholeWords(GERMAN_ARTICLES),
                    Lang::Vi => Articles::WholeWords(VIETNAMESE_ARTICLES),
                    Lang::Ar => Articles::ArabicAl,
                    Lang::Hi | Lang::Zh => Articles::None,
                    // Project extension: MLQA has no rules for these.
                    Lang::El | Lang::Ro | Lang::Ru | Lang::Th | Lang::Tr => Articles::None,
                },
                segmentation: match answer_lang {
                    Lang::Zh => Segmentation::MixedChinese,
                    // Project extension: Thai writes no spaces between words.
                    Lang::Th => Segmentation::Characters,
                    _ => Segmentation::Whitespace,
                },
            },
        }
    }
}

/// Python's `string.punctuation`: exactly the 32 ASCII punctuation characters, which is what
/// Rust's `is_ascii_punctuation` accepts.
fn is_ascii_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// MLQA's `PUNCT`: every category-P code point plus `string.punctuation` (which adds the
/// ASCII symbols `$+<=>^`|~`).
fn is_unicode_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || is_category_punctuation(c)
}

/// Python's `str.split()` with no argument: split on whitespace runs, drop empty pieces.
fn python_split(text: &str) -> Vec<String> {
    text.split(is_python_whitespace)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// A word character for Python's `re` on `str` patterns: `str.isalnum()` or `_`, which is
/// exactly the Unicode categories L* and N* (checked against Python 3.11 for every code point).
/// Combining marks are not word characters.
fn is_python_word_char(c: char) -> bool {
    c == '_' || is_letter(c) || is_number(c)
}

/// `re.sub(r"\b(w1|w2|...)\b", " ", text)` for words made only of word characters.
///
/// Such a match is exactly a maximal run of word characters equal to one of the words (a
/// boundary on both sides means the neighbours are non-word characters or the string ends),
/// so the text is walked run by run instead of emulating the regex engine.
fn replace_whole_words(text: &str, words: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush_run = |out: &mut String, run: &str| {
        if words.contains(&run) {
            out.push(' ');
        } else {
            out.push_str(run);
        }
    };
    for (i, c) in text.char_indices() {
        if is_python_word_char(c) {
            run_start.get_or_insert(i);
        } else {
            if let Some(start) = run_start.take() {
                flush_run(&mut out, &text[start..i]);
            }
            out.push(c);
        }
    }
    if let Some(start) = run_start {
        flush_run(&mut out, &text[start..]);
    }
    out
}

/// MLQA's `mixed_segmentation`: every character in U+4E00..U+9FA5 (and every punctuation
/// character, already removed by then) is its own token; the text between them is split on
/// whitespace.
fn mixed_segmentation(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut pending = String::new();
    for c in text.chars() {
        if ('\u{4e00}'..='\u{9fa5}').contains(&c) || is_unicode_punctuation(c) {
            tokens.extend(python_split(&pending));
            pending.clear();
            tokens.push(c.to_string());
        } else {
            pending.push(c);
        }
    }
    tokens.extend(python_split(&pending));
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_display() {
        for n in Normalizer::ALL {
            assert_eq!(n.name().parse::<Normalizer>(), Ok(n));
            assert_eq!(n.to_string(), n.name());
            assert_eq!(
                serde_json::to_string(&n).unwrap(),
                format!("\"{}\"", n.name())
            );
        }
        assert_eq!(" MLQA ".parse::<Normalizer>(), Ok(Normalizer::Mlqa));
        let err = "bleu".parse::<Normalizer>().unwrap_err().to_string();
        assert!(err.contains("'bleu'") && err.contains("squad"), "{err}");
        assert_eq!(Normalizer::default(), Normalizer::Squad);
    }

    #[test]
    fn squad_keeps_non_ascii_punctuation_mlqa_drops_it() {
        let text = "«The Eiffel Tower»!";
        // « is not a word character, so "the" is still a whole word under squad.
        assert_eq!(
            normalize(text, Normalizer::Squad, Lang::Es),
            "« eiffel tower»"
        );
        assert_eq!(
            normalize(text, Normalizer::Mlqa, Lang::Es),
            "the eiffel tower"
        );
        assert_eq!(normalize(text, Normalizer::Mlqa, Lang::En), "eiffel tower");
    }

    #[test]
    fn final_sigma_is_lowered_as_python_does() {
        assert_eq!(
            normalize("ΟΔΥΣΣΕΥΣ", Normalizer::Squad, Lang::El),
            "οδυσσευς"
        );
        assert_eq!(normalize("İ", Normalizer::Squad, Lang::Tr), "i\u{307}");
    }

    #[test]
    fn combining_mark_ends_a_word_for_python_re() {
        // "the" followed by U+0301: Python's \b sits between them, so "the" is removed.
        assert_eq!(
            normalize("the\u{301} end", Normalizer::Squad, Lang::En),
            "\u{301} end"
        );
        // The same word with a precomposed letter is a different word and stays.
        assert_eq!(normalize("thé end", Normalizer::Squad, Lang::En), "thé end");
    }

    #[test]
    fn articles_only_as_whole_words() {
        assert_eq!(
            normalize("another theatre, a_the", Normalizer::Squad, Lang::En),
            "another theatre athe"
        );
        assert_eq!(
            normalize("Das Haus der Musik", Normalizer::Mlqa, Lang::De),
            "haus musik"
        );
        assert_eq!(
            normalize("Das Haus der Musik", Normalizer::Squad, Lang::De),
            "das haus der musik"
        );
    }

    #[test]
    fn python_whitespace_includes_information_separators() {
        let text = "x\u{1f}b\u{a0}c\u{3000}d\u{200b}e";
        assert_eq!(
            tokens(text, Normalizer::Squad, Lang::Ro),
            vec!["x", "b", "c", "d\u{200b}e"]
        );
    }

    #[test]
    fn chinese_mixed_segmentation_and_thai_characters() {
        assert_eq!(
            tokens("1876年 Apple公司", Normalizer::Mlqa, Lang::Zh),
            vec!["1876", "年", "apple", "公", "司"]
        );
        assert_eq!(
            tokens("1876年 Apple公司", Normalizer::Squad, Lang::Zh),
            vec!["1876年", "apple公司"]
        );
        assert_eq!(
            tokens("กรุง เทพ", Normalizer::Mlqa, Lang::Th),
            vec!["ก", "ร", "ุ", "ง", "เ", "ท", "พ"]
        );
    }

    #[test]
    fn arabic_al_goes_everywhere_under_mlqa() {
        assert_eq!(
            normalize("الكتاب المالي", Normalizer::Mlqa, Lang::Ar),
            "كتاب م ي"
        );
    }

    #[test]
    fn extension_languages_are_flagged() {
        for lang in Lang::ALL {
            assert!(!Normalizer::Squad.is_project_extension(lang));
        }
        assert!(Normalizer::Mlqa.is_project_extension(Lang::Th));
        assert!(!Normalizer::Mlqa.is_project_extension(Lang::Hi));
    }
}

//! Generation errors (the paper's blank / refusal / gibberish) and who judged them.
//!
//! The paper labels failed generations with an LLM judge (prompt in its appendix A.2). This
//! module holds the label types, which the LLM judge shares, and a fast rule-based classifier.
//! Every label says which judge produced it.
//!
//! # Rule-based classifier
//! The rules look at the *extracted* answer (what is scored), except where noted, and are
//! tried in this order; the first that fires gives the label:
//! 1. **blank**: the extracted answer has nothing but whitespace and punctuation
//!    (Unicode category P), e.g. `""`, `"..."`, `"—"`, `"!!!"`. Symbols such as `$` or `^`
//!    are not punctuation: an answer of symbols only is left to rule 6.
//! 2. **gibberish, template echo**: the prompt's placeholder `{Your Answer}` (any case) appears.
//! 3. **refusal**: the lower-cased answer contains one of a compact table of refusal phrases,
//!    a few per language for all 12 (`i cannot answer`, `i'm sorry`, `not mentioned in the`,
//!    `无法回答`, `ich kann nicht`, `no se menciona`, `не упоминается`, ...). Curly apostrophes
//!    count as straight ones and Romanian cedilla letters as comma-below letters.
//! 4. **gibberish, broken text**: U+FFFD replacement characters (bytes the decoder could not
//!    turn into text) make up a quarter or more of the non-space characters; a single stray
//!    one after an otherwise readable answer is not enough.
//! 5. **gibberish, repetition**: one character (not a digit) repeated 10 or more times in a row;
//!    one whitespace token containing a letter repeated 4 or more times in a row; or a unit of
//!    2 to 6 characters containing a letter repeated 4 or more times in a row (`答案答案答案答案`).
//! 6. **gibberish, symbols**: at least 4 non-space characters of which fewer than half are
//!    letters, marks or digits (`#$%&*@!`, `^^^ ~~~`).
//! 7. **gibberish, mixed scripts**: letters from 3 or more writing systems (Latin, Greek,
//!    Cyrillic, Arabic, Devanagari, Thai, CJK, Hangul, other), as a random model writes them
//!    (`zเห化e在 هذ`); a real answer mixes at most two (`NBA 总决赛`, `2007年`).
//!
//! The rules are deliberately conservative: a plausible short answer (a name, a number with
//! units, a date, a short phrase in any of the 12 scripts) must never be labelled, so anything
//! the rules do not catch is left to the LLM judge.

use super::chars::{is_category_punctuation, is_letter, is_mark, is_number, is_python_whitespace};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The three generation failures the paper counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationError {
    /// No answer at all.
    Blank,
    /// The model declines to answer.
    Refusal,
    /// Incoherent text that cannot be read as an answer.
    Gibberish,
}

impl GenerationError {
    pub fn name(self) -> &'static str {
        match self {
            GenerationError::Blank => "blank",
            GenerationError::Refusal => "refusal",
            GenerationError::Gibberish => "gibberish",
        }
    }
}

impl fmt::Display for GenerationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who produced a label.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Judge {
    /// The rule-based classifier of this module.
    Rules,
    /// An instruct model prompted with the paper's appendix A.2 prompt.
    Llm { model: String },
}

impl fmt::Display for Judge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Judge::Rules => f.write_str("rules"),
            Judge::Llm { model } => write!(f, "llm:{model}"),
        }
    }
}

/// A judgement on one generation: the error found (or none), who judged, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationLabel {
    pub error: Option<GenerationError>,
    pub judge: Judge,
    pub reason: String,
}

/// Refusal phrases, lower-case, a few per language.
const REFUSAL_PHRASES: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "i cannot answer",
            "i can't answer",
            "i can not answer",
            "i'm sorry",
            "i am sorry",
            "i apologize",
            "not mentioned in the",
            "does not mention",
            "doesn't mention",
            "does not provide",
            "doesn't provide",
            "not provided in the",
            "unable to answer",
            "cannot be determined",
            "i don't know",
            "i do not know",
            "as an ai",
        ],
    ),
    (
        "de",
        &[
            "ich kann nicht",
            "ich kann die frage nicht",
            "es tut mir leid",
            "nicht erwähnt",
            "nicht beantworten",
            "keine informationen",
        ],
    ),
    (
        "es",
        &[
            "no puedo responder",
            "no puedo contestar",
            "lo siento",
            "no se menciona",
            "no hay información",
            "no se proporciona",
        ],
    ),
    (
        "vi",
        &[
            "tôi không thể",
            "xin lỗi",
            "không được đề cập",
            "không có thông tin",
        ],
    ),
    (
        "zh",
        &[
            "无法回答",
            "不能回答",
            "抱歉",
            "没有提到",
            "没有提及",
            "未提及",
            "无法确定",
        ],
    ),
    (
        "hi",
        &[
            "उत्तर नहीं दे सकता",
            "उत्तर नहीं दे सकती",
            "क्षमा करें",
            "माफ़ कीजिए",
            "उल्लेख नहीं",
            "जानकारी नहीं",
        ],
    ),
    (
        "ar",
        &[
            "لا أستطيع الإجابة",
            "لا يمكنني الإجابة",
            "عذرا",
            "عذرًا",
            "لم يتم ذكر",
            "غير مذكور",
        ],
    ),
    (
        "el",
        &[
            "δεν μπορώ να απαντήσω",
            "λυπάμαι",
            "συγγνώμη",
            "δεν αναφέρεται",
        ],
    ),
    (
        "ro",
        &[
            "nu pot răspunde",
            "îmi pare rău",
            "nu este menționat",
            "nu se menționează",
        ],
    ),
    (
        "ru",
        &[
            "не могу ответить",
            "извините",
            "к сожалению",
            "не упоминается",
            "нет информации",
        ],
    ),
    ("th", &["ไม่สามารถตอบ", "ขออภัย", "ไม่ได้กล่าวถึง", "ไม่มีข้อมูล"]),
    (
        "tr",
        &[
            "cevap veremem",
            "yanıt veremem",
            "üzgünüm",
            "özür dilerim",
            "bahsedilmemiş",
            "belirtilmemiş",
        ],
    ),
];

const TEMPLATE_PLACEHOLDER: &str = "{your answer}";
const MIN_CHAR_RUN: usize = 10;
const MIN_REPEATS: usize = 4;
const MAX_REPEATED_UNIT: usize = 6;
const MIN_SYMBOL_CHECK_LEN: usize = 4;

/// Labels a generation with the rules of the module documentation. `raw_generation` is only
/// used to say in the reason that the model did write something when the answer is blank.
pub fn classify_by_rules(raw_generation: &str, extracted: &str) -> GenerationLabel {
    let (error, reason) = match find_error(raw_generation, extracted) {
        Some((error, reason)) => (Some(error), reason),
        None => (None, "no rule matched".to_string()),
    };
    GenerationLabel {
        error,
        judge: Judge::Rules,
        reason,
    }
}

fn find_error(raw_generation: &str, extracted: &str) -> Option<(GenerationError, String)> {
    if extracted.chars().all(is_space_or_punctuation) {
        let reason = if raw_generation.chars().all(is_python_whitespace) {
            "nothing was generated".to_string()
        } else {
            "the extracted answer has no letters, digits or symbols".to_string()
        };
        return Some((GenerationError::Blank, reason));
    }
    let lowered = extracted.to_lowercase();
    if lowered.contains(TEMPLATE_PLACEHOLDER) {
        let reason = "the prompt's placeholder {Your Answer} is echoed".to_string();
        return Some((GenerationError::Gibberish, reason));
    }
    if let Some((lang, phrase)) = refusal_phrase(&lowered) {
        let reason = format!("refusal phrase \"{phrase}\" ({lang})");
        return Some((GenerationError::Refusal, reason));
    }
    gibberish_reason(extracted).map(|reason| (GenerationError::Gibberish, reason))
}

fn is_space_or_punctuation(c: char) -> bool {
    is_python_whitespace(c) || is_category_punctuation(c)
}

/// Letters, marks (Devanagari and Thai vowel signs) and numbers: the stuff of answers.
fn is_text_char(c: char) -> bool {
    is_letter(c) || is_mark(c) || is_number(c)
}

fn refusal_phrase(lowered: &str) -> Option<(&'static str, &'static str)> {
    // Models write both apostrophes and both forms of the Romanian s/t with a mark below.
    let canonical: String = lowered
        .chars()
        .map(|c| match c {
            '’' | 'ʼ' => '\'',
            'ş' => 'ș',
            'ţ' => 'ț',
            other => other,
        })
        .collect();
    REFUSAL_PHRASES.iter().find_map(|&(lang, phrases)| {
        phrases
            .iter()
            .find(|phrase| canonical.contains(*phrase))
            .map(|phrase| (lang, *phrase))
    })
}

fn gibberish_reason(extracted: &str) -> Option<String> {
    let chars: Vec<char> = extracted.chars().collect();
    let visible: Vec<char> = chars
        .iter()
        .copied()
        .filter(|&c| !is_python_whitespace(c))
        .collect();
    let replacements = visible.iter().filter(|&&c| c == '\u{fffd}').count();
    if replacements > 0 && 4 * replacements >= visible.len() {
        return Some(format!(
            "{replacements} of {} characters are U+FFFD (undecodable bytes)",
            visible.len()
        ));
    }
    if let Some(c) = long_char_run(&chars) {
        return Some(format!(
            "the character {c:?} is repeated {MIN_CHAR_RUN} or more times in a row"
        ));
    }
    if let Some(token) = repeated_token(extracted) {
        return Some(format!(
            "the token {token:?} is repeated {MIN_REPEATS} or more times in a row"
        ));
    }
    if let Some(unit) = repeated_unit(&chars) {
        return Some(format!(
            "{unit:?} is repeated {MIN_REPEATS} or more times in a row"
        ));
    }
    let text_chars = visible.iter().filter(|&&c| is_text_char(c)).count();
    if visible.len() >= MIN_SYMBOL_CHECK_LEN && 2 * text_chars < visible.len() {
        return Some(format!(
            "mostly symbols: {text_chars} of {} characters are letters or digits",
            visible.len()
        ));
    }
    let mut scripts: Vec<&str> = visible
        .iter()
        .filter(|&&c| is_letter(c))
        .map(|&c| script_of(c))
        .collect();
    scripts.sort_unstable();
    scripts.dedup();
    if scripts.len() >= MIN_MIXED_SCRIPTS {
        return Some(format!(
            "letters from {} writing systems ({})",
            scripts.len(),
            scripts.join(", ")
        ));
    }
    None
}

/// Writing systems an answer may not mix more of than two.
const MIN_MIXED_SCRIPTS: usize = 3;

/// The writing system of a letter, by Unicode block (coarse: enough to tell the 12
/// languages' scripts apart).
fn script_of(c: char) -> &'static str {
    match u32::from(c) {
        0x0000..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF => "Latin",
        0x0370..=0x03FF | 0x1F00..=0x1FFF => "Greek",
        0x0400..=0x052F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => "Cyrillic",
        0x0590..=0x05FF => "Hebrew",
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            "Arabic"
        }
        0x0900..=0x097F | 0xA8E0..=0xA8FF => "Devanagari",
        0x0E00..=0x0E7F => "Thai",
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => "Hangul",
        0x2E80..=0x2FDF
        | 0x3000..=0x30FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF => "CJK",
        _ => "other",
    }
}

/// A non-digit, non-space character repeated at least [`MIN_CHAR_RUN`] times in a row
/// (digits are exempt: 1000000000 is a fine answer).
fn long_char_run(chars: &[char]) -> Option<char> {
    chars
        .chunk_by(|a, b| a == b)
        .find(|run| {
            run.len() >= MIN_CHAR_RUN && !run[0].is_numeric() && !is_python_whitespace(run[0])
        })
        .map(|run| run[0])
}

/// A whitespace token with a letter in it, repeated at least [`MIN_REPEATS`] times in a row.
fn repeated_token(text: &str) -> Option<String> {
    let tokens: Vec<&str> = text
        .split(is_python_whitespace)
        .filter(|t| !t.is_empty())
        .collect();
    tokens
        .chunk_by(|a, b| a == b)
        .find(|run| run.len() >= MIN_REPEATS && run[0].chars().any(is_letter))
        .map(|run| run[0].to_string())
}

/// A unit of 2..=[`MAX_REPEATED_UNIT`] characters with a letter in it, repeated at least
/// [`MIN_REPEATS`] times in a row (catches repetition in scripts written without spaces).
fn repeated_unit(chars: &[char]) -> Option<String> {
    for unit_len in 2..=MAX_REPEATED_UNIT {
        let needed = unit_len * MIN_REPEATS;
        if chars.len() < needed {
            break;
        }
        for start in 0..=chars.len() - needed {
            let unit = &chars[start..start + unit_len];
            if !unit.iter().copied().any(is_letter) {
                continue;
            }
            let repeats = (1..MIN_REPEATS).all(|k| {
                let from = start + k * unit_len;
                &chars[from..from + unit_len] == unit
            });
            if repeats {
                return Some(unit.iter().collect());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(extracted: &str) -> Option<GenerationError> {
        let raw = format!("Answer: {extracted}");
        classify_by_rules(&raw, extracted).error
    }

    #[test]
    fn blank_answers() {
        for answer in [
            "",
            "   ",
            "...",
            "—",
            "「」",
            "\"\"",
            "\u{3000}",
            "!!!!!!!!!!!!",
        ] {
            assert_eq!(label(answer), Some(GenerationError::Blank), "{answer:?}");
        }
        let nothing = classify_by_rules("  \n", "");
        assert_eq!(nothing.error, Some(GenerationError::Blank));
        assert_eq!(nothing.reason, "nothing was generated");
        assert_eq!(nothing.judge, Judge::Rules);
    }

    #[test]
    fn refusals_in_many_languages() {
        for answer in [
            "I'm sorry, but the context does not say.",
            "I’m sorry, I cannot answer that.",
            "The answer is not mentioned in the context.",
            "Ich kann nicht antworten.",
            "Lo siento, no se menciona en el texto.",
            "Xin lỗi, tôi không thể trả lời.",
            "抱歉，文中没有提到。",
            "无法回答",
            "क्षमा करें, मैं उत्तर नहीं दे सकता।",
            "عذرا، لا أستطيع الإجابة",
            "Λυπάμαι, δεν αναφέρεται.",
            "Îmi pare rău, nu este menţionat.",
            "К сожалению, в тексте не упоминается.",
            "ขออภัย ไม่มีข้อมูล",
            "Üzgünüm, metinde belirtilmemiş.",
        ] {
            assert_eq!(label(answer), Some(GenerationError::Refusal), "{answer}");
        }
        let with_reason = classify_by_rules("x", "无法回答");
        assert_eq!(with_reason.reason, "refusal phrase \"无法回答\" (zh)");
    }

    #[test]
    fn gibberish_answers() {
        for answer in [
            "{Your Answer}",
            "Answer: {your answer}",
            "\u{fffd}\u{fffd}\u{fffd}",
            "Pa\u{fffd}\u{fffd}",
            "============",
            "aaaaaaaaaaaaaaaa",
            "the the the the",
            "Answer: Answer: Answer: Answer:",
            "答案答案答案答案",
            "hahahaha",
            "#$%&*@!",
            "^^^ ~~~ ^^^",
            // A random model's output (issue 14): Latin, Thai, CJK and Arabic letters.
            "zเห化e在 هذ",
            "Москва Bahn 北京",
        ] {
            assert_eq!(
                label(answer),
                Some(GenerationError::Gibberish),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn plausible_answers_are_never_labelled() {
        for answer in [
            "1876",
            "1000000000",
            "Denver Broncos",
            "Baden-Baden",
            "Walla Walla",
            "Bora Bora",
            "C++",
            "$5.00",
            "+1 (555) 123-4567",
            "50%",
            "Mississippi",
            "Levi's Stadium",
            "3 × 10⁸ m/s",
            "北京大学",
            "二〇〇八年",
            "हिन्दी भाषा",
            "الجمهورية العربية",
            "Μεγάλη Βρετανία",
            "Москва",
            "กรุงเทพมหานคร",
            "İstanbul",
            "Nguyễn Trãi",
            "București",
            "no",
            "I",
            "The Sorry State of Affairs",
            "1 2 3 4",
            "...Ready For It?",
            "Paris\u{fffd}",
            "NBA 总决赛",
            "2007年2月8日",
            "Tōkyō 東京",
            "München",
        ] {
            let result = classify_by_rules(answer, answer);
            assert_eq!(result.error, None, "{answer:?}: {}", result.reason);
        }
    }

    #[test]
    fn labels_serialise_with_their_judge() {
        let llm = GenerationLabel {
            error: Some(GenerationError::Refusal),
            judge: Judge::Llm {
                model: "Qwen/Qwen2.5-7B-Instruct".to_string(),
            },
            reason: "judge said refusal".to_string(),
        };
        let json = serde_json::to_value(&llm).unwrap();
        assert_eq!(json["error"], "refusal");
        assert_eq!(json["judge"]["kind"], "llm");
        assert_eq!(json["judge"]["model"], "Qwen/Qwen2.5-7B-Instruct");
        let back: GenerationLabel = serde_json::from_value(json).unwrap();
        assert_eq!(back, llm);
        assert_eq!(llm.judge.to_string(), "llm:Qwen/Qwen2.5-7B-Instruct");
        let rules = serde_json::to_value(classify_by_rules("1876", "1876")).unwrap();
        assert_eq!(rules["error"], serde_json::Value::Null);
        assert_eq!(rules["judge"]["kind"], "rules");
    }
}

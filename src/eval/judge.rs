//! The LLM judge of generation errors: an instruct model is asked, with the paper's appendix
//! A.2 prompt, whether an answer is reasonable, blank, gibberish or a denial.
//!
//! The paper prints the prompt's instructions but not where the question and the raw answer
//! go; they are appended after the instructions as `Question: ...` and `Raw answer: ...`
//! lines. The prompt is one user turn through the judge's chat template, so Qwen2.5 models get
//! the same default system prompt as the paper shows. Building and parsing are pure; the pipeline's judge stage
//! (`pipeline::judge::judge_with_model`) runs the model.
//!
//! A reply that names no category is not an error of the run: the label then has no error
//! and says `judge reply not understood: ...`, so a batch never stops on one odd reply and
//! the odd replies stay visible and countable.

use super::gen_error::{GenerationError, GenerationLabel, Judge};

/// The instructions of the paper's appendix A.2 (the user turn, verbatim).
pub const JUDGE_INSTRUCTIONS: &str = "You are tasked with identifying the type of a given raw \
answer. You will be provided with a question and a raw answer. Your job is to determine whether \
the raw answer falls into one of the following categories based on the given question:

0. Reasonable Answer: The answer seems like some attempt to answer the question, regardless of \
whether it is correct or not.
1. Blank Answer: No response is provided.
2. Gibberish: Incoherent text with no clear meaning or cannot be seen as some kind of answer to \
the question, e.g. \u{201c}{Your Answer}\u{201d}.
3. Denial of Answer: A statement indicating inability to answer, such as \u{201c}I apologize, \
but I cannot answer this question because...\u{201d}.

You must provide your response as a SINGLE number representing the category (0, 1, 2, or 3) \
without extra output.";

/// The judge replies with one digit; a little room for a stray word or two.
pub const JUDGE_MAX_NEW_TOKENS: usize = 16;

/// What the judge said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Category 0: some attempt at an answer, right or wrong.
    Reasonable,
    /// Categories 1 to 3.
    Error(GenerationError),
}

impl Verdict {
    pub fn error(self) -> Option<GenerationError> {
        match self {
            Verdict::Reasonable => None,
            Verdict::Error(e) => Some(e),
        }
    }
}

/// The judge's user turn for `question` and the model's `raw_answer` (its generation as
/// written, before answer extraction).
pub fn judge_prompt(question: &str, raw_answer: &str) -> String {
    format!("{JUDGE_INSTRUCTIONS}\n\nQuestion: {question}\nRaw answer: {raw_answer}")
}

/// The first category named in `reply`: a standalone digit 0-3 or a label word (reasonable,
/// normal, none; blank; gibberish; denial, refusal), case-insensitive. `None` when there is none.
pub fn parse_verdict(reply: &str) -> Option<Verdict> {
    // Dots stay inside words so that "0.5" is not read as category 0; "2." still is 2.
    reply
        .split(|c: char| !c.is_alphanumeric() && c != '.')
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .find_map(|word| match word.to_lowercase().as_str() {
            "0" | "reasonable" | "normal" | "none" => Some(Verdict::Reasonable),
            "1" | "blank" => Some(Verdict::Error(GenerationError::Blank)),
            "2" | "gibberish" => Some(Verdict::Error(GenerationError::Gibberish)),
            "3" | "denial" | "refusal" => Some(Verdict::Error(GenerationError::Refusal)),
            _ => None,
        })
}

/// The label for the judge `model`'s `reply` (see the module documentation for replies that
/// name no category).
pub fn label_from_reply(model: &str, reply: &str) -> GenerationLabel {
    let shown = reply.trim();
    let (error, reason) = match parse_verdict(reply) {
        Some(verdict) => {
            let name = verdict.error().map_or("reasonable", GenerationError::name);
            (verdict.error(), format!("judge replied {shown:?} ({name})"))
        }
        None => (None, format!("judge reply not understood: {shown:?}")),
    };
    GenerationLabel {
        error,
        judge: Judge::Llm {
            model: model.to_string(),
        },
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(reply: &str) -> Option<Option<GenerationError>> {
        parse_verdict(reply).map(Verdict::error)
    }

    #[test]
    fn the_prompt_is_the_papers_with_the_fields_appended() {
        let p = judge_prompt("Who won?", "Answer: Denver");
        assert!(p.starts_with(
            "You are tasked with identifying the type of a given raw answer. You will be \
             provided with a question and a raw answer."
        ));
        assert!(p.contains(
            "based on the given question:\n\n0. Reasonable Answer: The answer seems like some \
             attempt to answer the question, regardless of whether it is correct or not.\n1. \
             Blank Answer: No response is provided.\n2. Gibberish:"
        ));
        assert!(p.contains("e.g. “{Your Answer}”.\n3. Denial of Answer:"));
        assert!(p.contains("such as “I apologize, but I cannot answer this question because...”."));
        assert!(p.ends_with(
            "(0, 1, 2, or 3) without extra output.\n\nQuestion: Who won?\nRaw answer: Answer: Denver"
        ));
        assert!(
            !p.contains("  "),
            "no doubled spaces from the line continuations"
        );
        assert_eq!(judge_prompt("q", "").lines().last(), Some("Raw answer: "));
    }

    #[test]
    fn digits_and_words_are_understood() {
        let cases: &[(&str, Option<Option<GenerationError>>)] = &[
            ("0", Some(None)),
            ("1", Some(Some(GenerationError::Blank))),
            ("2", Some(Some(GenerationError::Gibberish))),
            ("3", Some(Some(GenerationError::Refusal))),
            (" 2\n", Some(Some(GenerationError::Gibberish))),
            ("2.", Some(Some(GenerationError::Gibberish))),
            ("**3**", Some(Some(GenerationError::Refusal))),
            ("Category: 1", Some(Some(GenerationError::Blank))),
            ("The answer is category 0.", Some(None)),
            ("Reasonable Answer", Some(None)),
            ("NORMAL", Some(None)),
            ("none", Some(None)),
            ("Blank Answer", Some(Some(GenerationError::Blank))),
            ("gibberish", Some(Some(GenerationError::Gibberish))),
            ("Denial of Answer", Some(Some(GenerationError::Refusal))),
            ("refusal", Some(Some(GenerationError::Refusal))),
            // The first category named wins.
            ("3 (not 0)", Some(Some(GenerationError::Refusal))),
            ("Gibberish, i.e. 2", Some(Some(GenerationError::Gibberish))),
            ("0 or 3", Some(None)),
        ];
        for (reply, expected) in cases {
            assert_eq!(verdict(reply), *expected, "{reply:?}");
        }
    }

    #[test]
    fn other_replies_are_not_understood() {
        for reply in [
            "",
            "   ",
            "4",
            "10",
            "23",
            "0.5",
            "3rd",
            "x2",
            "reasonably",
            "I cannot say",
            "二",
            "٢",
        ] {
            assert_eq!(parse_verdict(reply), None, "{reply:?}");
        }
    }

    #[test]
    fn labels_name_the_judge_and_the_reply() {
        let l = label_from_reply("Qwen/Qwen2.5-7B-Instruct", " 3\n");
        assert_eq!(l.error, Some(GenerationError::Refusal));
        assert_eq!(
            l.judge,
            Judge::Llm {
                model: "Qwen/Qwen2.5-7B-Instruct".into()
            }
        );
        assert_eq!(l.reason, "judge replied \"3\" (refusal)");
        let ok = label_from_reply("m", "0");
        assert_eq!(
            (ok.error, ok.reason.as_str()),
            (None, "judge replied \"0\" (reasonable)")
        );
        let odd = label_from_reply("m", " Sure! ");
        assert_eq!(odd.error, None);
        assert_eq!(odd.reason, "judge reply not understood: \"Sure!\"");
    }
}

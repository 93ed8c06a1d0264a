//! The prompt wording of the paper (appendix A.2), kept verbatim in `assets/prompts/`.

use super::Format;
use crate::data::Lang;
use anyhow::{ensure, Result};

const V1_TASK: &str = include_str!("../../../assets/prompts/v1.txt");
const V2_TASK: &str = include_str!("../../../assets/prompts/v2.txt");

/// The phrase that names the answer language; x-x prompts name language x instead.
const ANSWER_LANGUAGE_PHRASE: &str = "in English";

/// Labels and the line that separates demonstrations from the test item (appendix A.2).
pub(crate) const CONTEXT_LABEL: &str = "Context: ";
pub(crate) const QUESTION_LABEL: &str = "Question: ";
pub(crate) const ANSWER_LABEL: &str = "Answer: ";
pub(crate) const TASK_START: &str = "Your task starts here:";
/// The raw answer cue: the demos' answer label without its trailing space, so the model's
/// first token carries its own leading space as in the demonstrations.
pub(crate) const ANSWER_CUE: &str = "Answer:";
pub(crate) const SEPARATOR: &str = "\n\n";

/// The task description of `format`, asking for the answer in `answer_lang`.
pub(crate) fn task_description(format: Format, answer_lang: Lang) -> Result<String> {
    let template = match format {
        Format::V1 => V1_TASK,
        Format::V2 => V2_TASK,
    };
    // The asset files end with a line break that is not part of the wording.
    let template = template.trim_end_matches(['\r', '\n']);
    ensure!(
        template.matches(ANSWER_LANGUAGE_PHRASE).count() == 1,
        "assets/prompts/{format}.txt must say '{ANSWER_LANGUAGE_PHRASE}' exactly once; \
         restore the paper's wording"
    );
    let phrase = format!("in {}", answer_lang.english_name());
    Ok(template.replace(ANSWER_LANGUAGE_PHRASE, &phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_is_the_papers() {
        let v1 = task_description(Format::V1, Lang::En).unwrap();
        let v2 = task_description(Format::V2, Lang::En).unwrap();
        assert!(v1.starts_with("Below is a reading comprehension task."));
        assert!(v1.ends_with(v2.as_str()), "v2 is the tail of v1");
        assert!(v2.starts_with("You should only present your answer"));
        assert!(v2.ends_with("in the form of \u{201c}Answer: {Your Answer}\u{201d}"));
        assert!(!v1.contains('\n') && !v2.contains('\n'));
    }

    #[test]
    fn answer_language_is_named() {
        let de = task_description(Format::V2, Lang::De).unwrap();
        assert!(de.contains("a direct answer in German without extra output"));
        assert!(!de.contains("English"));
        let zh = task_description(Format::V1, Lang::Zh).unwrap();
        assert!(zh.contains("in Chinese without"));
    }
}

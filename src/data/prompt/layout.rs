//! The raw prompt text of formats v1 and v2, laid out part by part.
//!
//! The spans partition the text. Labels and layout of the test item are `markup` (`m`): the
//! blank lines between blocks, `Context: `, `Question: ` and the `Answer:` cue. A
//! demonstration stays one part, its labels and blank lines included.
//! - v1: `[task][m][demo1][demo2][task: Your task starts here:][m][m: Context: ][context][m]`
//!   `[m: Question: ][question][m: \n\nAnswer:]`
//! - v2: `[demo1][demo2][task: Your task starts here:][m][m: Context: ][context][m]`
//!   `[m: Question: ][question][m][task][m: \n\nAnswer:]`
//!
//! 0-shot prompts drop the demonstrations and the "Your task starts here:" line too: that line
//! separates demonstrations from the test item, and with no demonstrations there is nothing to
//! separate.

use super::part::SpannedText;
use super::wording::{
    ANSWER_CUE, ANSWER_LABEL, CONTEXT_LABEL, QUESTION_LABEL, SEPARATOR, TASK_START,
};
use super::{Format, Part};
use std::ops::Range;

/// One demonstration, in the scenario's languages.
pub(crate) struct DemoText<'a> {
    pub context: &'a str,
    pub question: &'a str,
    pub answer: &'a str,
}

/// What goes into a raw prompt body.
pub(crate) struct BodyInput<'a> {
    pub format: Format,
    pub task: &'a str,
    pub demos: &'a [DemoText<'a>],
    pub context: &'a str,
    pub question: &'a str,
    /// Caller system text to put first (raw prompts only; chat templates place their own).
    pub system: Option<&'a str>,
    pub answer_cue: bool,
}

/// A laid-out body with the ranges of the test context and question text themselves.
pub(crate) struct Body {
    pub text: SpannedText,
    pub context: Range<usize>,
    pub question: Range<usize>,
}

const DEMO_PARTS: [Part; 2] = [Part::Demo1, Part::Demo2];

pub(crate) fn lay_out(input: &BodyInput<'_>) -> Body {
    let mut out = SpannedText::default();
    if let Some(system) = input.system {
        out.push(Part::System, system);
        out.push(Part::Markup, SEPARATOR);
    }
    if input.format == Format::V1 {
        out.push(Part::Task, input.task);
        out.push(Part::Markup, SEPARATOR);
    }
    for (demo, part) in input.demos.iter().zip(DEMO_PARTS) {
        for (label, text) in [
            (CONTEXT_LABEL, demo.context),
            (QUESTION_LABEL, demo.question),
            (ANSWER_LABEL, demo.answer),
        ] {
            out.push(part, label);
            out.push(part, text);
            out.push(part, SEPARATOR);
        }
    }
    if !input.demos.is_empty() {
        out.push(Part::Task, TASK_START);
        out.push(Part::Markup, SEPARATOR);
    }
    out.push(Part::Markup, CONTEXT_LABEL);
    let context = out.push(Part::Context, input.context);
    out.push(Part::Markup, SEPARATOR);
    out.push(Part::Markup, QUESTION_LABEL);
    let question = out.push(Part::Question, input.question);
    if input.format == Format::V2 {
        out.push(Part::Markup, SEPARATOR);
        out.push(Part::Task, input.task);
    }
    if input.answer_cue {
        out.push(Part::Markup, SEPARATOR);
        out.push(Part::Markup, ANSWER_CUE);
    }
    Body {
        text: out,
        context,
        question,
    }
}

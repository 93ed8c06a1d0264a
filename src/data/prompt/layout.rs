//! The raw prompt text of formats v1 and v2, laid out part by part.
//!
//! Every separator belongs to the part before it, so the spans partition the text:
//! - v1: `[task][demo1][demo2][task: Your task starts here:][context][question][trailer]`
//! - v2: `[demo1][demo2][task: Your task starts here:][context][question][task][trailer]`
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
        out.push(Part::System, SEPARATOR);
    }
    if input.format == Format::V1 {
        out.push(Part::Task, input.task);
        out.push(Part::Task, SEPARATOR);
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
        out.push(Part::Task, SEPARATOR);
    }
    out.push(Part::Context, CONTEXT_LABEL);
    let context = out.push(Part::Context, input.context);
    out.push(Part::Context, SEPARATOR);
    out.push(Part::Question, QUESTION_LABEL);
    let question = out.push(Part::Question, input.question);
    if input.format == Format::V2 {
        out.push(Part::Question, SEPARATOR);
        out.push(Part::Task, input.task);
    }
    if input.answer_cue {
        out.push(Part::Trailer, SEPARATOR);
        out.push(Part::Trailer, ANSWER_CUE);
    }
    Body {
        text: out,
        context,
        question,
    }
}

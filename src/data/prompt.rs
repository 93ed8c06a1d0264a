//! Prompts for cross-lingual reading comprehension: the paper's v1/v2 formats, 0 or 2
//! demonstrations, raw text for base models or one chat-template user turn for instruct
//! models, and the character span of every prompt part.

mod demos;
pub use demos::sample_rng;
mod layout;
mod options;
mod part;
mod placement;
mod tokens;
mod wording;

pub use options::{Format, PromptOptions, Scenario, ScenarioLangs, Setting};
pub use part::{Part, PartSpan};
pub use tokens::{tokenize_prompt, PromptToken};

use crate::data::{Answer, Dataset, Entry, Lang, Sample};
use crate::hf::chat_template::ChatTemplate;
use anyhow::{bail, Context, Result};
use layout::{lay_out, Body, BodyInput, DemoText};
use placement::Placement;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// A built prompt: its text and where each part, the test context, question and gold answers lie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub text: String,
    /// In order, contiguous, non-overlapping, covering the text exactly; a part may have
    /// several spans (the task of 2-shot prompts).
    pub spans: Vec<PartSpan>,
    /// Characters of the test context text itself (without its label).
    pub context: Range<usize>,
    /// Characters of the test question text itself (without its label).
    pub question: Range<usize>,
    /// Gold answers with `start` counted in characters of the prompt text.
    pub gold: Vec<Answer>,
    pub answer_lang: Lang,
    pub question_lang: Lang,
    pub context_lang: Lang,
    pub sample_id: String,
    /// Ids of the demonstration samples, in prompt order.
    pub demo_ids: Vec<String>,
    pub options: PromptOptions,
    /// Whether the text was rendered through a chat template.
    pub chat: bool,
}

impl Prompt {
    /// The part holding character `char_index`; `None` past the end.
    pub fn part_at(&self, char_index: usize) -> Option<Part> {
        part::part_at(&self.spans, char_index)
    }

    /// All text of `part`, its spans joined in order (empty when the part is absent).
    pub fn part_text(&self, part: Part) -> String {
        self.spans
            .iter()
            .filter(|s| s.part == part)
            .map(|s| char_slice(&self.text, s.range()))
            .collect()
    }

    /// Number of characters of the text.
    pub fn char_len(&self) -> usize {
        self.text.chars().count()
    }

    /// The text with each span opened by its part name (`⟦context⟧Context: …`), for
    /// inspecting layouts by eye.
    pub fn annotated(&self) -> String {
        self.spans
            .iter()
            .map(|s| format!("⟦{}⟧{}", s.part, char_slice(&self.text, s.range())))
            .collect()
    }
}

/// Characters `range` of `text` (clamped to the text).
fn char_slice(text: &str, range: Range<usize>) -> &str {
    let byte_at = |c: usize| text.char_indices().nth(c).map_or(text.len(), |(b, _)| b);
    let start = byte_at(range.start);
    let end = byte_at(range.end).max(start);
    &text[start..end]
}

/// Builds the prompt for sample `sample_index` of `data`: raw text when `chat` is `None`,
/// otherwise the raw body (with the answer cue only when asked) as one user turn of `chat`.
pub fn build_prompt(
    data: &Dataset,
    sample_index: usize,
    opts: &PromptOptions,
    chat: Option<&ChatTemplate>,
) -> Result<Prompt> {
    opts.check()?;
    let Some(sample) = data.get(sample_index) else {
        bail!(
            "sample index {sample_index} is out of range; {} has {} samples",
            data.source,
            data.len()
        );
    };
    let langs = opts.setting.langs();
    let context_entry = entry(sample, langs.context)?;
    let question_entry = entry(sample, langs.question)?;
    check_gold(sample, langs.answer, context_entry)?;

    let demo_indices = demos::choose_demos(
        data,
        sample_index,
        usize::from(opts.setting.shots),
        opts.seed,
    )
    .with_context(|| format!("cannot build a {}-shot prompt", opts.setting.shots))?;
    let demo_samples: Vec<&Sample> = demo_indices.iter().filter_map(|&i| data.get(i)).collect();
    let demos = demo_samples
        .iter()
        .map(|s| demo_text(s, langs))
        .collect::<Result<Vec<_>>>()?;

    let task = wording::task_description(opts.setting.format, opts.wording_lang())?;
    let Body {
        text: body,
        context,
        question,
    } = lay_out(&BodyInput {
        format: opts.setting.format,
        task: &task,
        demos: &demos,
        context: &context_entry.context,
        question: &question_entry.question,
        // A chat template places the caller system text itself.
        system: opts.system_text().filter(|_| chat.is_none()),
        answer_cue: opts.answer_cue.unwrap_or(chat.is_none()),
    });
    let (body, body_spans) = body.into_parts();
    let placement = match chat {
        None => Placement::raw(body, body_spans),
        Some(template) => {
            Placement::in_chat_turn(template, &body, &body_spans, opts.system_text())?
        }
    };
    let context = placement.place(context);
    let gold = shifted_answers(&context_entry.answers, context.start);
    Ok(Prompt {
        question: placement.place(question),
        context,
        gold,
        answer_lang: langs.answer,
        question_lang: langs.question,
        context_lang: langs.context,
        sample_id: sample.id.clone(),
        demo_ids: demo_samples.iter().map(|s| s.id.clone()).collect(),
        options: opts.clone(),
        chat: chat.is_some(),
        text: placement.text,
        spans: placement.spans,
    })
}

fn entry(sample: &Sample, lang: Lang) -> Result<&Entry> {
    sample.entry(lang).with_context(|| {
        let present: Vec<&str> = sample.entries.keys().map(|l| l.code()).collect();
        format!(
            "sample '{}' has no {} ({lang}) version; it has: {}; choose one of those languages",
            sample.id,
            lang.english_name(),
            present.join(", ")
        )
    })
}

/// A demonstration in the scenario's languages, answered with its first gold answer.
fn demo_text<'a>(sample: &'a Sample, langs: ScenarioLangs) -> Result<DemoText<'a>> {
    let context = entry(sample, langs.context).context("cannot use it as a demonstration")?;
    let question = entry(sample, langs.question).context("cannot use it as a demonstration")?;
    let Some(answer) = entry(sample, langs.answer)?.answers.first() else {
        bail!(
            "demonstration sample '{}' has no {} gold answer to show",
            sample.id,
            langs.answer.english_name()
        );
    };
    Ok(DemoText {
        context: &context.context,
        question: &question.question,
        answer: &answer.text,
    })
}

/// Gold answers must be spans of their context, or their prompt offsets would point elsewhere.
fn check_gold(sample: &Sample, lang: Lang, entry: &Entry) -> Result<()> {
    for answer in &entry.answers {
        let found = entry
            .context
            .chars()
            .skip(answer.start)
            .take(answer.text.chars().count())
            .eq(answer.text.chars());
        if !found {
            bail!(
                "sample '{}' ({lang}): gold answer '{}' is not at character {} of its context; \
                 fix the data set",
                sample.id,
                answer.text,
                answer.start
            );
        }
    }
    Ok(())
}

fn shifted_answers(answers: &[Answer], offset: usize) -> Vec<Answer> {
    answers
        .iter()
        .map(|a| Answer {
            text: a.text.clone(),
            start: a.start + offset,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_slice_counts_code_points() {
        assert_eq!(char_slice("aü中b", 1..3), "ü中");
        assert_eq!(char_slice("aü中b", 2..9), "中b");
        let (past, before) = (3, 1);
        assert_eq!(char_slice("ab", past..before), "");
    }
}

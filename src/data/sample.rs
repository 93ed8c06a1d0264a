//! Parallel samples: one question id with its context, question and answers per language.

use super::Lang;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A gold answer. `start` counts Unicode code points into its own language's context,
/// exactly as SQuAD's `answer_start` does (checked on load).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub text: String,
    pub start: usize,
}

/// One language's version of a sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub context: String,
    pub question: String,
    pub answers: Vec<Answer>,
}

/// One question id across languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub id: String,
    /// Index of the article the paragraph belongs to (demonstrations come from other articles).
    pub article: usize,
    /// Article title (from the English file when present).
    pub title: String,
    pub entries: BTreeMap<Lang, Entry>,
    /// Typed in by a user (the explorer's custom sample form): never a demonstration and
    /// never in a reference pool, so adding one changes no other sample's prompt or score.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub custom: bool,
}

impl Sample {
    pub fn entry(&self, lang: Lang) -> Option<&Entry> {
        self.entries.get(&lang)
    }
}

/// A loaded parallel data set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    /// Where it came from, for display ("local folder /x/y", "hub google/xquad").
    pub source: String,
    /// Languages present in every sample, in [`Lang::ALL`] order.
    pub langs: Vec<Lang>,
    pub samples: Vec<Sample>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Sample> {
        self.samples.get(index)
    }

    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.samples.iter().position(|s| s.id == id)
    }

    pub fn has_lang(&self, lang: Lang) -> bool {
        self.langs.contains(&lang)
    }
}

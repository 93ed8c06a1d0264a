//! Cross-lingual hidden-state similarity: the same sample asked with an English context (en-en)
//! and with a context in language x (en-x), compared layer by layer.
//!
//! For every level 0..=L of the Hugging Face `output_hidden_states` list, three vectors are
//! pooled per run ([`pool`]): the mean over the question tokens, the mean over the context
//! tokens, and the last input token. [`series`] gives the per-layer cosine between two runs;
//! [`reference`] keeps, per language, what is needed for the normaliser of
//! `S(en,x) = mean_k Sim(e_k, x_k) / mean_{i != j} Sim(x_i, x_j)`.

pub mod pool;
pub mod reference;
pub mod series;

pub use pool::{pool_by_parts, pool_hidden_states, HiddenSummary, LayerPools};
pub use reference::{Ratios, ReferencePool, SampleSimilarity};
pub use series::{cosine, series, SimilaritySeries};

use serde::{Deserialize, Serialize};
use std::fmt;

/// What is pooled from a run's hidden states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimPart {
    /// Mean over the tokens labelled `Part::Question`.
    Question,
    /// Mean over the tokens labelled `Part::Context`.
    Context,
    /// The last input token's own vector.
    Last,
}

impl SimPart {
    pub const ALL: [SimPart; 3] = [SimPart::Question, SimPart::Context, SimPart::Last];

    pub fn name(self) -> &'static str {
        match self {
            SimPart::Question => "question",
            SimPart::Context => "context",
            SimPart::Last => "last",
        }
    }
}

impl fmt::Display for SimPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per [`SimPart`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerPart<T> {
    pub question: T,
    pub context: T,
    pub last: T,
}

impl<T> PerPart<T> {
    /// Builds each field from its part.
    pub fn from_fn(mut f: impl FnMut(SimPart) -> T) -> Self {
        Self {
            question: f(SimPart::Question),
            context: f(SimPart::Context),
            last: f(SimPart::Last),
        }
    }

    pub fn get(&self, part: SimPart) -> &T {
        match part {
            SimPart::Question => &self.question,
            SimPart::Context => &self.context,
            SimPart::Last => &self.last,
        }
    }

    pub fn get_mut(&mut self, part: SimPart) -> &mut T {
        match part {
            SimPart::Question => &mut self.question,
            SimPart::Context => &mut self.context,
            SimPart::Last => &mut self.last,
        }
    }

    /// Applies `f` to every field.
    pub fn map<U>(&self, mut f: impl FnMut(SimPart, &T) -> U) -> PerPart<U> {
        PerPart::from_fn(|part| f(part, self.get(part)))
    }
}

//! F1 and exact match of a prediction against gold answers, as the SQuAD v1.1 and MLQA
//! scripts compute them (`f1_score`, `exact_match_score`, `metric_max_over_ground_truths`).
//!
//! The arithmetic follows the scripts operation by operation so that results agree with them
//! bit for bit. One consequence worth knowing: a prediction and a gold that both normalise to
//! nothing are an exact match (EM 1) but have F1 0, because the scripts return 0 when no token
//! is shared.

use super::normalize::{normalize, tokens, Normalizer};
use crate::data::Lang;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// One prediction's score (x100), with the normaliser that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Token F1, 0..=100, maximum over the gold answers.
    pub f1: f64,
    /// Exact match, 0 or 100, maximum over the gold answers.
    pub em: f64,
    pub normalizer: Normalizer,
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "F1 {:.1} EM {:.0} ({})",
            self.f1, self.em, self.normalizer
        )
    }
}

/// Token F1 of one prediction against one gold answer, in 0..=1 (multiset overlap, like
/// Python's `Counter(pred) & Counter(gold)`).
pub fn f1(prediction: &str, gold: &str, normalizer: Normalizer, answer_lang: Lang) -> f64 {
    let prediction_tokens = tokens(prediction, normalizer, answer_lang);
    let gold_tokens = tokens(gold, normalizer, answer_lang);
    let mut gold_counts: HashMap<&str, usize> = HashMap::new();
    for token in &gold_tokens {
        *gold_counts.entry(token.as_str()).or_default() += 1;
    }
    let mut num_same = 0usize;
    for token in &prediction_tokens {
        if let Some(left) = gold_counts.get_mut(token.as_str()) {
            if *left > 0 {
                *left -= 1;
                num_same += 1;
            }
        }
    }
    if num_same == 0 {
        return 0.0;
    }
    // Same operations as the scripts: 1.0 * num_same / len(...), then 2PR / (P + R).
    let precision = num_same as f64 / prediction_tokens.len() as f64;
    let recall = num_same as f64 / gold_tokens.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// Whether the normalised prediction equals the normalised gold (two empty strings match).
pub fn exact_match(
    prediction: &str,
    gold: &str,
    normalizer: Normalizer,
    answer_lang: Lang,
) -> bool {
    normalize(prediction, normalizer, answer_lang) == normalize(gold, normalizer, answer_lang)
}

/// F1 and EM (x100), each the maximum over the gold answers; no gold answers score 0.
pub fn score(
    prediction: &str,
    golds: &[impl AsRef<str>],
    normalizer: Normalizer,
    answer_lang: Lang,
) -> Score {
    let mut best_f1 = 0.0f64;
    let mut best_em = false;
    for gold in golds {
        let gold = gold.as_ref();
        best_f1 = best_f1.max(f1(prediction, gold, normalizer, answer_lang));
        best_em |= exact_match(prediction, gold, normalizer, answer_lang);
    }
    Score {
        f1: 100.0 * best_f1,
        em: if best_em { 100.0 } else { 0.0 },
        normalizer,
    }
}

/// The score under both normalisers, in the order of [`Normalizer::ALL`] (squad, mlqa).
pub fn score_both(prediction: &str, golds: &[impl AsRef<str>], answer_lang: Lang) -> [Score; 2] {
    Normalizer::ALL.map(|n| score(prediction, golds, n, answer_lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_overlap_counts_each_token_once() {
        // pred: [x, x, y], gold: [x, z]: one shared x -> P = 1/3, R = 1/2, F1 = 0.4
        let value = f1("x x y", "x z", Normalizer::Squad, Lang::En);
        assert!((value - 0.4).abs() < 1e-12, "{value}");
    }

    #[test]
    fn empty_against_empty_is_exact_but_has_no_f1() {
        assert!(exact_match("", "the", Normalizer::Squad, Lang::En));
        assert_eq!(f1("", "the", Normalizer::Squad, Lang::En), 0.0);
    }

    #[test]
    fn best_gold_wins_for_each_metric() {
        let golds = ["Denver", "the city of Denver Colorado"];
        let s = score("city of Denver", &golds, Normalizer::Squad, Lang::En);
        assert_eq!(s.em, 0.0);
        // vs gold 2: 3 shared, P = 1, R = 3/4 -> 6/7
        assert!((s.f1 - 100.0 * 6.0 / 7.0).abs() < 1e-9, "{s:?}");
        let exact = score("denver.", &golds, Normalizer::Squad, Lang::En);
        assert_eq!((exact.f1, exact.em), (100.0, 100.0));
    }

    #[test]
    fn no_golds_score_zero_and_both_normalisers_are_named() {
        let none: [&str; 0] = [];
        let s = score("Denver", &none, Normalizer::Mlqa, Lang::En);
        assert_eq!((s.f1, s.em, s.normalizer), (0.0, 0.0, Normalizer::Mlqa));
        let [squad, mlqa] = score_both("«Denver»", &["Denver"], Lang::En);
        assert_eq!(squad.normalizer, Normalizer::Squad);
        assert_eq!(squad.em, 0.0);
        assert_eq!((mlqa.normalizer, mlqa.em), (Normalizer::Mlqa, 100.0));
        assert_eq!(mlqa.to_string(), "F1 100.0 EM 100 (mlqa)");
    }
}

//! Maximum relevance depth (MRD): how deep into the decoder a prompt token keeps mattering.
//!
//! Input is a relevance matrix with one row per level 0..=L (row 0: the embeddings; row i: the
//! residual stream after decoder layer i) and one column per prompt token. With
//! `r(t,i) = |R_i(t)| / sum_t' |R_i(t')|` (each layer normalised over all prompt tokens), the
//! MRD of token t is the smallest n in 1..=N with `sum_{i<=n} r(t,i) >= threshold *
//! sum_{i<=N} r(t,i)`. N defaults to L - 1: the last layer's output is what is explained, and
//! the embedding row is shown but never counted. A part's MRD is the maximum over its tokens.
//!
//! Pure functions over plain numbers; sums in f64 so that the result does not depend on the
//! order of magnitude of the relevances.

use crate::data::prompt::Part;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Rows 0..=L of signed latent relevances, `rows[level][token]` (as
/// [`Relevance::raw`](super::relevance::Relevance) holds them).
pub type Rows = [Vec<f32>];

/// Number of decoder layers L of a relevance matrix (rows minus the embedding row).
pub fn decoder_layers(rows: &Rows) -> usize {
    rows.len().saturating_sub(1)
}

/// Rectangular, finite, with the embedding row and at least one layer; returns the token count.
fn check(rows: &Rows) -> Result<usize> {
    if rows.len() < 2 {
        bail!(
            "a relevance matrix needs the embedding row and at least one layer, got {} rows",
            rows.len()
        );
    }
    let tokens = rows[0].len();
    for (level, row) in rows.iter().enumerate() {
        if row.len() != tokens {
            bail!(
                "relevance row {level} has {} tokens, row 0 has {tokens}",
                row.len()
            );
        }
        if let Some(t) = row.iter().position(|v| !v.is_finite()) {
            bail!("relevance at level {level}, token {t} is not finite");
        }
    }
    Ok(tokens)
}

/// How MRD is counted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MrdOptions {
    /// Share of a token's total normalised relevance that must be reached, in (0, 1].
    pub threshold: f32,
    /// Layers counted (N); `None`: L - 1.
    pub counted_layers: Option<usize>,
}

impl Default for MrdOptions {
    fn default() -> Self {
        Self {
            threshold: 0.95,
            counted_layers: None,
        }
    }
}

impl MrdOptions {
    /// N for a matrix of `decoder_layers` layers; an error when it is 0 or more than L.
    pub fn counted_layers_for(&self, decoder_layers: usize) -> Result<usize> {
        let n = self
            .counted_layers
            .unwrap_or(decoder_layers.saturating_sub(1));
        if n == 0 || n > decoder_layers {
            bail!("MRD needs 1..={decoder_layers} counted layers, got {n}");
        }
        Ok(n)
    }

    fn check_threshold(&self) -> Result<()> {
        // NaN fails both comparisons, hence the negated form.
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            bail!("MRD threshold must be in (0, 1], got {}", self.threshold);
        }
        Ok(())
    }
}

/// Each row divided by its own maximum |R| (range -1..1); an all-zero row stays zero.
pub fn display_rows(rows: &Rows) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|row| {
            let max = row.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
            if max > 0.0 {
                row.iter().map(|v| v / max).collect()
            } else {
                vec![0.0; row.len()]
            }
        })
        .collect()
}

/// Normalised relevance `r(t,i) = |R_i(t)| / sum_t' |R_i(t')|` for every level (row 0
/// included); a row without relevance is all zeros.
pub fn normalized(rows: &Rows) -> Vec<Vec<f64>> {
    rows.iter().map(|row| normalize_row(row)).collect()
}

fn normalize_row(row: &[f32]) -> Vec<f64> {
    let total: f64 = row.iter().map(|v| f64::from(v.abs())).sum();
    if total > 0.0 {
        row.iter().map(|v| f64::from(v.abs()) / total).collect()
    } else {
        vec![0.0; row.len()]
    }
}

/// Token MRDs in 1..=N, one per column. `None` for a token with no relevance in any counted
/// layer: it has no depth to measure.
pub fn token_mrd(rows: &Rows, options: &MrdOptions) -> Result<Vec<Option<usize>>> {
    let tokens = check(rows)?;
    options.check_threshold()?;
    let n = options.counted_layers_for(decoder_layers(rows))?;
    let counted: Vec<Vec<f64>> = rows[1..=n].iter().map(|r| normalize_row(r)).collect();
    let threshold = f64::from(options.threshold);
    Ok((0..tokens)
        .map(|t| {
            let cumulative: Vec<f64> = counted
                .iter()
                .scan(0.0, |sum, row| {
                    *sum += row[t];
                    Some(*sum)
                })
                .collect();
            let total = cumulative.last().copied().unwrap_or(0.0);
            if total <= 0.0 {
                return None;
            }
            // The last prefix *is* the total and threshold <= 1, so a layer is always found.
            cumulative
                .iter()
                .position(|&c| c >= threshold * total)
                .map(|i| i + 1)
        })
        .collect())
}

/// MRD of one part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartDepth {
    pub part: Part,
    /// Number of prompt tokens labelled with the part.
    pub tokens: usize,
    /// Maximum token MRD over the part; `None` when the part has no token with relevance.
    pub mrd: Option<usize>,
}

/// MRD of every part, in prompt order, and the N they were counted over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMrd {
    pub parts: Vec<PartDepth>,
    pub counted_layers: usize,
}

impl PartMrd {
    /// The MRD of `part` (`None` when absent or without relevance).
    pub fn get(&self, part: Part) -> Option<usize> {
        self.parts
            .iter()
            .find(|p| p.part == part)
            .and_then(|p| p.mrd)
    }
}

/// Part MRDs from the relevance matrix and one part label per token (column).
pub fn part_mrd(rows: &Rows, labels: &[Part], options: &MrdOptions) -> Result<PartMrd> {
    let tokens = token_mrd(rows, options)?;
    if labels.len() != tokens.len() {
        bail!(
            "{} part labels for a relevance matrix of {} tokens",
            labels.len(),
            tokens.len()
        );
    }
    let parts = Part::ALL
        .iter()
        .map(|&part| {
            let of_part = labels.iter().zip(&tokens).filter(|(l, _)| **l == part);
            PartDepth {
                part,
                tokens: of_part.clone().count(),
                mrd: of_part.filter_map(|(_, mrd)| *mrd).max(),
            }
        })
        .collect();
    Ok(PartMrd {
        parts,
        counted_layers: options.counted_layers_for(decoder_layers(rows))?,
    })
}

/// A token's values across levels from `display[level][token]`; NaN where a level is short
/// (drawn neutral, and visibly not a measured zero).
pub fn token_column(display: &[Vec<f32>], token: usize) -> Vec<f32> {
    display
        .iter()
        .map(|level| level.get(token).copied().unwrap_or(f32::NAN))
        .collect()
}

/// The rows worth showing when a prompt has more tokens than lines: for each part in prompt
/// order, its `k` tokens with the most summed |value| over levels, in prompt order within the
/// part. `display` is `[level][token]`; tokens are those of `parts`; non-finite values count 0.
pub fn top_k_rows(display: &[Vec<f32>], parts: &[Part], k: usize) -> Vec<usize> {
    let mass = |t: usize| -> f32 {
        display
            .iter()
            .filter_map(|level| level.get(t))
            .filter(|v| v.is_finite())
            .map(|v| v.abs())
            .sum()
    };
    let mut out = Vec::new();
    for part in Part::ALL {
        let mut tokens: Vec<(usize, f32)> = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == part)
            .map(|(t, _)| (t, mass(t)))
            .collect();
        tokens.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen: Vec<usize> = tokens.into_iter().take(k).map(|(t, _)| t).collect();
        chosen.sort_unstable();
        out.extend(chosen);
    }
    out
}

/// The heatmap rows a view shows: with `top_k`, the `k` most relevant tokens of each part
/// plus every token of the gold answer (so one sees whether relevance found it), grouped by
/// part in `Part::ALL` order and in prompt order within a part; else every token.
pub fn heatmap_rows(
    display: &[Vec<f32>],
    parts: &[Part],
    gold: &[bool],
    top_k: Option<usize>,
) -> Vec<usize> {
    let Some(k) = top_k else {
        return (0..parts.len()).collect();
    };
    let mut rows = top_k_rows(display, parts, k);
    let missing: Vec<usize> = (0..parts.len())
        .filter(|&t| gold.get(t).copied().unwrap_or(false) && !rows.contains(&t))
        .collect();
    rows.extend(missing);
    let rank = |p: Part| Part::ALL.iter().position(|&q| q == p);
    rows.sort_by_key(|&t| (rank(parts[t]), t));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 3 tokens, 3 decoder layers (4 rows), so N = 2: rows 1 and 2 are counted.
    ///
    /// row 1 = [1, 1, 2]:  sum 4, r = [0.25, 0.25, 0.5]
    /// row 2 = [-3, 1, 0]: sum 4, r = [0.75, 0.25, 0.0]
    /// cumulative r per token: t0 [0.25, 1.0], t1 [0.25, 0.5], t2 [0.5, 0.5]
    /// threshold 0.95: t0 needs 0.95 -> layer 2; t1 needs 0.475 -> 2; t2 needs 0.475 -> 1.
    /// threshold 0.5:  t0 needs 0.5 -> 2; t1 needs 0.25 -> 1; t2 needs 0.25 -> 1.
    /// N = 3 (row 3 = [100, 0, 0], r = [1, 0, 0]): t0 [0.25, 1, 2] needs 1.9 -> 3;
    /// t1 [0.25, 0.5, 0.5] -> 2; t2 [0.5, 0.5, 0.5] -> 1.
    fn hand_matrix() -> Vec<Vec<f32>> {
        vec![
            vec![5.0, -5.0, 0.0],
            vec![1.0, 1.0, 2.0],
            vec![-3.0, 1.0, 0.0],
            vec![100.0, 0.0, 0.0],
        ]
    }

    #[test]
    fn hand_computed_token_and_part_mrd() {
        let m = hand_matrix();
        let default = MrdOptions::default();
        assert_eq!(
            token_mrd(&m, &default).unwrap(),
            vec![Some(2), Some(2), Some(1)]
        );
        let half = MrdOptions {
            threshold: 0.5,
            ..default
        };
        assert_eq!(
            token_mrd(&m, &half).unwrap(),
            vec![Some(2), Some(1), Some(1)]
        );
        let all = MrdOptions {
            counted_layers: Some(3),
            ..default
        };
        assert_eq!(
            token_mrd(&m, &all).unwrap(),
            vec![Some(3), Some(2), Some(1)]
        );

        let labels = [Part::Task, Part::Context, Part::Context];
        let parts = part_mrd(&m, &labels, &half).unwrap();
        assert_eq!(parts.counted_layers, 2);
        assert_eq!(parts.get(Part::Task), Some(2));
        assert_eq!(parts.get(Part::Context), Some(1));
        assert_eq!(parts.get(Part::Question), None);
        let context = parts.parts.iter().find(|p| p.part == Part::Context);
        assert_eq!(context.map(|p| p.tokens), Some(2));
        assert_eq!(
            parts.parts.iter().map(|p| p.part).collect::<Vec<_>>(),
            Part::ALL
        );
    }

    #[test]
    fn display_and_normalised_rows() {
        let m = hand_matrix();
        let shown = display_rows(&m);
        assert_eq!(shown[0], vec![1.0, -1.0, 0.0]);
        assert_eq!(shown[1], vec![0.5, 0.5, 1.0]);
        assert_eq!(shown[2], vec![-1.0, 1.0 / 3.0, 0.0]);
        let zero = vec![vec![0.0, 0.0], vec![0.0, 0.0]];
        assert_eq!(display_rows(&zero), vec![vec![0.0, 0.0]; 2]);
        let r = normalized(&m);
        assert_eq!(r[1], vec![0.25, 0.25, 0.5]);
        assert_eq!(r[2], vec![0.75, 0.25, 0.0]);
        assert_eq!(normalized(&zero)[0], vec![0.0, 0.0]);
    }

    #[test]
    fn tokens_without_relevance_have_no_depth() {
        // Token 1 is relevant only in the embedding row and the uncounted last layer.
        let m = vec![
            vec![1.0, 7.0],
            vec![2.0, 0.0],
            vec![1.0, 0.0],
            vec![1.0, 9.0],
        ];
        let depths = token_mrd(&m, &MrdOptions::default()).unwrap();
        assert_eq!(depths, vec![Some(2), None]);
        let parts = part_mrd(&m, &[Part::Context, Part::Question], &Default::default()).unwrap();
        assert_eq!(parts.get(Part::Question), None);
        assert_eq!(parts.parts[5].tokens, 1);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let m = hand_matrix();
        let opts = |threshold, counted_layers| MrdOptions {
            threshold,
            counted_layers,
        };
        for bad in [
            opts(0.0, None),
            opts(1.5, None),
            opts(f32::NAN, None),
            opts(0.9, Some(0)),
            opts(0.9, Some(4)),
        ] {
            assert!(token_mrd(&m, &bad).is_err(), "{bad:?}");
        }
        // One decoder layer: N = L - 1 = 0 counted layers.
        let one = vec![vec![1.0], vec![1.0]];
        let err = token_mrd(&one, &MrdOptions::default()).unwrap_err();
        assert!(err.to_string().contains("counted layers"), "{err}");
        let ragged = vec![vec![1.0], vec![1.0, 2.0], vec![0.0]];
        assert!(token_mrd(&ragged, &MrdOptions::default()).is_err());
        let nan = vec![vec![1.0], vec![1.0], vec![f32::NAN]];
        assert!(token_mrd(&nan, &MrdOptions::default()).is_err());
        assert!(part_mrd(&m, &[Part::Task], &MrdOptions::default()).is_err());
    }

    #[test]
    fn options_serialise_with_defaults() {
        let o: MrdOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(o, MrdOptions::default());
        let o: MrdOptions = serde_json::from_str(r#"{"counted_layers": 3}"#).unwrap();
        assert_eq!(o.counted_layers, Some(3));
        assert_eq!(o.threshold, 0.95);
    }

    /// A matrix of 3..8 levels and 1..6 tokens, some entries exactly zero.
    fn matrix() -> impl Strategy<Value = Vec<Vec<f32>>> {
        (3usize..8, 1usize..6).prop_flat_map(|(levels, tokens)| {
            let entry = prop_oneof![1 => Just(0.0f32), 4 => -1000.0f32..1000.0];
            prop::collection::vec(prop::collection::vec(entry, tokens), levels)
        })
    }

    proptest! {
        #[test]
        fn mrd_lies_in_1_to_n(m in matrix(), threshold in 0.01f32..=1.0) {
            let opts = MrdOptions { threshold, counted_layers: None };
            let n = decoder_layers(&m) - 1;
            for depth in token_mrd(&m, &opts).unwrap().into_iter().flatten() {
                prop_assert!((1..=n).contains(&depth));
            }
        }

        #[test]
        fn mrd_grows_with_the_threshold(m in matrix(), a in 0.01f32..=1.0, b in 0.01f32..=1.0) {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            let at = |threshold| token_mrd(&m, &MrdOptions { threshold, counted_layers: None });
            for (l, h) in at(low).unwrap().iter().zip(at(high).unwrap()) {
                prop_assert!(l.is_some() == h.is_some());
                prop_assert!(*l <= h);
            }
        }

        /// Powers of two keep the arithmetic exact, so the depths must not move at all.
        #[test]
        fn row_scaling_and_signs_do_not_matter(
            m in matrix(),
            exponents in prop::collection::vec(-8i32..8, 8),
            flips in prop::collection::vec(any::<bool>(), 64),
        ) {
            let opts = MrdOptions::default();
            let before = token_mrd(&m, &opts).unwrap();
            let mut changed = m.clone();
            for (i, row) in changed.iter_mut().enumerate() {
                let factor = 2f32.powi(exponents[i]);
                for (t, v) in row.iter_mut().enumerate() {
                    let sign = if flips[(i * 8 + t) % 64] { -1.0 } else { 1.0 };
                    *v *= factor * sign;
                }
            }
            prop_assert_eq!(before, token_mrd(&changed, &opts).unwrap());
        }

        #[test]
        fn part_mrd_bounds_its_tokens(
            m in matrix(),
            picks in prop::collection::vec(0usize..7, 6),
        ) {
            let labels: Vec<Part> = (0..m[0].len()).map(|t| Part::ALL[picks[t]]).collect();
            let opts = MrdOptions::default();
            let tokens = token_mrd(&m, &opts).unwrap();
            let parts = part_mrd(&m, &labels, &opts).unwrap();
            for (label, depth) in labels.iter().zip(&tokens) {
                let part = parts.get(*label);
                prop_assert!(part.is_some() || depth.is_none());
                if let Some(depth) = depth {
                    prop_assert!(part >= Some(*depth));
                }
            }
            let total: usize = parts.parts.iter().map(|p| p.tokens).sum();
            prop_assert_eq!(total, m[0].len());
        }
    }

    #[test]
    fn top_k_rows_per_part_in_prompt_order() {
        let display = vec![
            vec![0.1, 0.5, -0.9, 0.2, 0.0, 0.3],
            vec![0.0, 0.1, 0.0, 0.6, f32::NAN, 0.0],
        ];
        use Part::*;
        let parts = [System, Context, Context, Context, Question, Question];
        assert_eq!(top_k_rows(&display, &parts, 2), [0, 2, 3, 4, 5]);
        assert_eq!(top_k_rows(&display, &parts, 1), [0, 2, 5]);
        assert!(top_k_rows(&display, &parts, 0).is_empty());
        // Parts go in `Part::ALL` order; a token without values counts zero.
        assert_eq!(
            top_k_rows(&display, &[Question, System, Trailer], 1),
            [1, 0, 2]
        );
        assert_eq!(top_k_rows(&[], &[Task, Task], 1), [0]);
    }

    #[test]
    fn heatmap_rows_add_the_gold_tokens_in_part_order() {
        use Part::*;
        let display = vec![vec![0.9, 0.1, 0.0, 0.8, 0.2]];
        let parts = [Context, Context, Context, Question, Question];
        let gold = [false, false, true, false, false];
        assert_eq!(heatmap_rows(&display, &parts, &gold, Some(1)), [0, 2, 3]);
        assert_eq!(heatmap_rows(&display, &parts, &gold, None), [0, 1, 2, 3, 4]);
    }
}

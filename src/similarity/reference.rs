//! The reference pool: per language, the normaliser `mean_{i != j} Sim(x_i, x_j)` of
//! `S(en,x)` over the en-x runs of different samples.
//!
//! The pool does not keep the samples' vectors (sessions already hold every run's
//! [`HiddenSummary`]). With unit vectors `u_i = x_i / |x_i|`,
//! `sum_{i != j} cos(x_i, x_j) = |sum_i u_i|^2 - sum_i |u_i|^2`, so per language, level and
//! part it keeps the sum of unit vectors and of their squared norms (1, or 0 for a zero
//! vector). Adding a sample costs one normalisation, memory stays `levels x 3 x hidden` per
//! language however many samples are added, and a sample is taken out of its own
//! normaliser by subtracting its unit vector. A pool holds one model and one prompt setting;
//! the caller keeps one per setting.

use super::series::series;
use super::{HiddenSummary, PerPart, SimPart, SimilaritySeries};
use crate::data::Lang;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Per level and part; `None` where the normaliser is 0 (only zero vectors in the pool).
pub type Ratios = PerPart<Vec<Option<f64>>>;

/// Normalisers at or below this are zero: only zero vectors (or rounding, e.g. after a JSON
/// round trip of the sums) are behind them.
const ZERO_NORMALISER: f64 = 1e-12;

/// Running sums of one language.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct LangSums {
    ids: BTreeSet<String>,
    /// `sum_i u_i` per level.
    unit_sum: Vec<PerPart<Vec<f64>>>,
    /// `sum_i |u_i|^2` per level.
    unit_sq: Vec<PerPart<f64>>,
}

/// Reference pools of all languages for one model and prompt setting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferencePool {
    langs: BTreeMap<Lang, LangSums>,
    /// (levels, hidden size) of the summaries added so far.
    shape: Option<(usize, usize)>,
}

/// One sample's similarity: the raw cosines and, once the pool of its language holds two
/// other samples, the ratio to the pool's mean pairwise cosine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleSimilarity {
    pub series: SimilaritySeries,
    /// `mean_{i != j} Sim(x_i, x_j)` over the pool without this sample.
    pub within: Option<PerPart<Vec<f64>>>,
    /// `Sim(e, x) / within`.
    pub ratio: Option<Ratios>,
    /// Samples behind `within` (this one excluded).
    pub reference_samples: usize,
    /// Their ids (absent in traces written before they were listed).
    #[serde(default)]
    pub reference_ids: Vec<String>,
}

impl ReferencePool {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the en-x summary (en-en for English) of sample `id` to `lang`'s pool. Returns
    /// false, leaving the pool unchanged, when the id is already there: the same sample under
    /// the same setting gives the same states.
    pub fn add(&mut self, lang: Lang, id: &str, summary: &HiddenSummary) -> Result<bool> {
        self.check_shape(summary)?;
        let sums = self.langs.entry(lang).or_default();
        if sums.ids.contains(id) {
            return Ok(false);
        }
        if sums.unit_sum.is_empty() {
            let zeros = PerPart::from_fn(|_| vec![0.0; summary.hidden_size()]);
            sums.unit_sum = vec![zeros; summary.levels()];
            sums.unit_sq = vec![PerPart::default(); summary.levels()];
        }
        for (level, pools) in summary.layers.iter().enumerate() {
            for part in SimPart::ALL {
                let (unit, sq) = unit_vector(pools.get(part));
                for (s, u) in sums.unit_sum[level].get_mut(part).iter_mut().zip(&unit) {
                    *s += u;
                }
                *sums.unit_sq[level].get_mut(part) += sq;
            }
        }
        sums.ids.insert(id.to_string());
        self.shape = Some((summary.levels(), summary.hidden_size()));
        Ok(true)
    }

    /// Number of samples in `lang`'s pool.
    pub fn len(&self, lang: Lang) -> usize {
        self.langs.get(&lang).map_or(0, |s| s.ids.len())
    }

    pub fn contains(&self, lang: Lang, id: &str) -> bool {
        self.langs.get(&lang).is_some_and(|s| s.ids.contains(id))
    }

    /// Languages with at least one sample.
    pub fn languages(&self) -> impl Iterator<Item = Lang> + '_ {
        self.langs.keys().copied()
    }

    /// `mean_{i != j} Sim(x_i, x_j)` per level and part; `None` with fewer than 2 samples.
    pub fn within(&self, lang: Lang) -> Option<PerPart<Vec<f64>>> {
        let sums = self.langs.get(&lang)?;
        mean_pairwise(sums, None, sums.ids.len())
    }

    /// As [`within`](Self::within), with sample `id` (whose en-x summary is `summary`) left
    /// out when it is in the pool.
    pub fn within_excluding(
        &self,
        lang: Lang,
        id: &str,
        summary: &HiddenSummary,
    ) -> Result<Option<PerPart<Vec<f64>>>> {
        self.check_shape(summary)?;
        let Some(sums) = self.langs.get(&lang) else {
            return Ok(None);
        };
        Ok(if sums.ids.contains(id) {
            mean_pairwise(sums, Some(summary), sums.ids.len() - 1)
        } else {
            mean_pairwise(sums, None, sums.ids.len())
        })
    }

    /// `S(en,x) = mean_cross / within(lang)` per level and part, where `mean_cross` holds
    /// `mean_k Sim(e_k, x_k)`; `None` with fewer than 2 samples in the pool.
    pub fn ratio(&self, lang: Lang, mean_cross: &PerPart<Vec<f64>>) -> Result<Option<Ratios>> {
        if let Some((levels, _)) = self.shape {
            for part in SimPart::ALL {
                if mean_cross.get(part).len() != levels {
                    bail!(
                        "mean cross similarity has {} {part} levels, the pool {levels}",
                        mean_cross.get(part).len()
                    );
                }
            }
        }
        Ok(self.within(lang).map(|w| divide(mean_cross, &w)))
    }

    /// One sample: cosines between its en-en run `en` and en-x run `x`, and the ratio to
    /// `lang`'s pool without the sample itself.
    pub fn sample_view(
        &self,
        lang: Lang,
        id: &str,
        en: &HiddenSummary,
        x: &HiddenSummary,
    ) -> Result<SampleSimilarity> {
        let series = series(en, x)?;
        let within = self.within_excluding(lang, id, x)?;
        let reference_samples = self.len(lang) - usize::from(self.contains(lang, id));
        let ratio = within.as_ref().map(|w| divide(&series.cosine, w));
        let reference_ids = self
            .ids(lang)
            .filter(|other| *other != id)
            .map(str::to_string)
            .collect();
        Ok(SampleSimilarity {
            series,
            within,
            ratio,
            reference_samples,
            reference_ids,
        })
    }

    /// Sample ids in `lang`'s pool, in order.
    pub fn ids(&self, lang: Lang) -> impl Iterator<Item = &str> + '_ {
        self.langs
            .get(&lang)
            .into_iter()
            .flat_map(|s| s.ids.iter().map(String::as_str))
    }

    /// Adds another pool of the same model and setting (for example another shard's). The
    /// sums are additive; a sample in both pools would count twice, so that is an error.
    pub fn merge(&mut self, other: &ReferencePool) -> Result<()> {
        if let (Some(a), Some(b)) = (self.shape, other.shape) {
            if a != b {
                bail!(
                    "pools of {} levels x {} and {} levels x {} cannot be merged (another model?)",
                    a.0,
                    a.1,
                    b.0,
                    b.1
                );
            }
        }
        for (lang, theirs) in &other.langs {
            let ours = self.langs.entry(*lang).or_default();
            if let Some(id) = theirs.ids.intersection(&ours.ids).next() {
                bail!("sample {id} ({lang}) is in both pools: it would count twice");
            }
            if ours.unit_sum.is_empty() {
                *ours = theirs.clone();
                continue;
            }
            for (mine, add) in ours.unit_sum.iter_mut().zip(&theirs.unit_sum) {
                for part in SimPart::ALL {
                    for (m, a) in mine.get_mut(part).iter_mut().zip(add.get(part)) {
                        *m += a;
                    }
                }
            }
            for (mine, add) in ours.unit_sq.iter_mut().zip(&theirs.unit_sq) {
                for part in SimPart::ALL {
                    *mine.get_mut(part) += add.get(part);
                }
            }
            ours.ids.extend(theirs.ids.iter().cloned());
        }
        if self.shape.is_none() {
            self.shape = other.shape;
        }
        Ok(())
    }

    fn check_shape(&self, summary: &HiddenSummary) -> Result<()> {
        summary.check()?;
        let shape = (summary.levels(), summary.hidden_size());
        match self.shape {
            Some(pool) if pool != shape => bail!(
                "summary of {} levels x {} does not fit a pool of {} levels x {} (another model?)",
                shape.0,
                shape.1,
                pool.0,
                pool.1
            ),
            _ => Ok(()),
        }
    }
}

/// `x / |x|` in f64 and its squared norm (0 and a zero vector for a zero input).
fn unit_vector(x: &[f32]) -> (Vec<f64>, f64) {
    let norm = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return (vec![0.0; x.len()], 0.0);
    }
    let unit: Vec<f64> = x.iter().map(|&v| f64::from(v) / norm).collect();
    let sq = unit.iter().map(|u| u * u).sum();
    (unit, sq)
}

/// Mean cosine over ordered pairs of different samples, `count` samples after taking
/// `without` out of the sums; `None` below 2 samples.
fn mean_pairwise(
    sums: &LangSums,
    without: Option<&HiddenSummary>,
    count: usize,
) -> Option<PerPart<Vec<f64>>> {
    if count < 2 {
        return None;
    }
    let pairs = (count * (count - 1)) as f64;
    Some(PerPart::from_fn(|part| {
        sums.unit_sum
            .iter()
            .zip(&sums.unit_sq)
            .enumerate()
            .map(|(level, (unit_sum, unit_sq))| {
                let (mut total, mut sq) = (unit_sum.get(part).clone(), *unit_sq.get(part));
                if let Some(summary) = without {
                    let (unit, own_sq) = unit_vector(summary.layers[level].get(part));
                    for (t, u) in total.iter_mut().zip(&unit) {
                        *t -= u;
                    }
                    sq -= own_sq;
                }
                let total_sq: f64 = total.iter().map(|t| t * t).sum();
                ((total_sq - sq) / pairs).clamp(-1.0, 1.0)
            })
            .collect()
    }))
}

fn divide(numerator: &PerPart<Vec<f64>>, denominator: &PerPart<Vec<f64>>) -> Ratios {
    numerator.map(|part, values| {
        values
            .iter()
            .zip(denominator.get(part))
            .map(|(n, d)| (d.abs() > ZERO_NORMALISER).then(|| n / d))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::cosine;
    use proptest::prelude::*;

    /// A summary of one level whose three parts are all `v`.
    fn one_level(v: Vec<f32>) -> HiddenSummary {
        HiddenSummary {
            layers: vec![PerPart::from_fn(|_| v.clone())],
        }
    }

    #[test]
    fn merged_pools_equal_one_pool_and_refuse_overlaps() {
        let vs: Vec<Vec<f32>> = vec![
            vec![1.0, 0.0, 0.5],
            vec![0.2, 1.0, 0.0],
            vec![0.0, -0.3, 1.0],
            vec![0.7, 0.7, 0.1],
        ];
        let mut whole = ReferencePool::new();
        let (mut a, mut b) = (ReferencePool::new(), ReferencePool::new());
        for (i, v) in vs.iter().enumerate() {
            let id = format!("s{i}");
            whole.add(Lang::De, &id, &one_level(v.clone())).unwrap();
            let half = if i % 2 == 0 { &mut a } else { &mut b };
            half.add(Lang::De, &id, &one_level(v.clone())).unwrap();
        }
        a.merge(&b).unwrap();
        let (w, m) = (whole.within(Lang::De).unwrap(), a.within(Lang::De).unwrap());
        assert!((w.question[0] - m.question[0]).abs() < 1e-12);
        assert_eq!(a.len(Lang::De), 4);
        assert_eq!(a.ids(Lang::De).count(), 4);
        let err = a.merge(&b).unwrap_err().to_string();
        assert!(err.contains("in both pools"), "{err}");
        let mut other_shape = ReferencePool::new();
        other_shape
            .add(Lang::De, "z", &one_level(vec![1.0, 2.0]))
            .unwrap();
        assert!(a.merge(&other_shape).is_err());
    }

    fn basis(dim: usize, i: usize) -> Vec<f32> {
        (0..dim).map(|d| if d == i { 1.0 } else { 0.0 }).collect()
    }

    fn axpy(terms: &[(f32, &[f32])]) -> Vec<f32> {
        let mut out = vec![0.0; terms[0].1.len()];
        for (a, x) in terms {
            for (o, v) in out.iter_mut().zip(*x) {
                *o += a * v;
            }
        }
        out
    }

    /// x_i = 0.5 a + sqrt(0.75) b_i (within-language cosine exactly 0.25) and
    /// e_k = 0.6 x_k + 0.8 w_k (cross cosine exactly 0.6), a, b_i, w_k orthonormal:
    /// S = 0.6 / 0.25 = 2.4.
    #[test]
    fn ratio_on_a_constructed_pool() {
        let k = 5;
        let dim = 1 + 2 * k;
        let a = basis(dim, 0);
        let xs: Vec<Vec<f32>> = (0..k)
            .map(|i| axpy(&[(0.5, &a), (0.75f32.sqrt(), &basis(dim, 1 + i))]))
            .collect();
        let es: Vec<Vec<f32>> = (0..k)
            .map(|i| axpy(&[(0.6, &xs[i]), (0.8, &basis(dim, 1 + k + i))]))
            .collect();
        let mut pool = ReferencePool::new();
        assert_eq!(pool.ratio(Lang::De, &PerPart::default()).unwrap(), None);
        for (i, x) in xs.iter().enumerate() {
            assert!(pool
                .add(Lang::De, &format!("s{i}"), &one_level(x.clone()))
                .unwrap());
        }
        assert!(!pool.add(Lang::De, "s0", &one_level(xs[1].clone())).unwrap());
        assert_eq!(pool.len(Lang::De), k);
        assert_eq!(pool.len(Lang::Ru), 0);
        let within = pool.within(Lang::De).unwrap();
        assert!((within.context[0] - 0.25).abs() < 1e-6, "{within:?}");

        let mut cross = PerPart::from_fn(|_| vec![0.0]);
        for (e, x) in es.iter().zip(&xs) {
            let c = series(&one_level(e.clone()), &one_level(x.clone()))
                .unwrap()
                .cosine;
            assert!((c.question[0] - 0.6).abs() < 1e-6);
            for part in SimPart::ALL {
                cross.get_mut(part)[0] += c.get(part)[0] / k as f64;
            }
        }
        let ratio = pool.ratio(Lang::De, &cross).unwrap().unwrap();
        for part in SimPart::ALL {
            let r = ratio.get(part)[0].unwrap();
            assert!((r - 2.4).abs() < 1e-5, "{part}: {r}");
        }
        assert!(pool.ratio(Lang::De, &PerPart::default()).is_err());

        // The single-sample view leaves s0 out of its own normaliser (4 others: still 0.25).
        let view = pool
            .sample_view(
                Lang::De,
                "s0",
                &one_level(es[0].clone()),
                &one_level(xs[0].clone()),
            )
            .unwrap();
        assert_eq!(view.reference_samples, k - 1);
        assert!((view.series.cosine.last[0] - 0.6).abs() < 1e-6);
        let r = view.ratio.unwrap().last[0].unwrap();
        assert!((r - 2.4).abs() < 1e-5, "{r}");
    }

    #[test]
    fn a_sample_is_left_out_of_its_own_pool() {
        let mut pool = ReferencePool::new();
        let [p, q, r] = [vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        pool.add(Lang::Zh, "p", &one_level(p.clone())).unwrap();
        pool.add(Lang::Zh, "q", &one_level(q.clone())).unwrap();
        // Two samples: the pair p, q has cosine 0; without p nothing is left.
        assert_eq!(pool.within(Lang::Zh).unwrap().question, vec![0.0]);
        assert_eq!(
            pool.within_excluding(Lang::Zh, "p", &one_level(p.clone()))
                .unwrap(),
            None
        );
        // A sample outside the pool sees the whole pool.
        let outside = pool
            .within_excluding(Lang::Zh, "r", &one_level(r.clone()))
            .unwrap();
        assert_eq!(outside.unwrap().question, vec![0.0]);
        pool.add(Lang::Zh, "r", &one_level(r.clone())).unwrap();
        // Pairs (p,q) 0, (p,r) and (q,r) 1/sqrt 2: mean sqrt(2)/3; without p: (q,r) only.
        let all = pool.within(Lang::Zh).unwrap().context[0];
        assert!((all - 2f64.sqrt() / 3.0).abs() < 1e-12);
        let without_p = pool
            .within_excluding(Lang::Zh, "p", &one_level(p.clone()))
            .unwrap();
        assert!((without_p.unwrap().context[0] - cosine(&q, &r)).abs() < 1e-12);
        let view = pool
            .sample_view(Lang::Zh, "p", &one_level(p.clone()), &one_level(p.clone()))
            .unwrap();
        assert_eq!(view.reference_samples, 2);
        assert_eq!(view.series.cosine.question, vec![1.0]);
        let ratio = view.ratio.unwrap().question[0].unwrap();
        assert!((ratio - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn shapes_must_agree_and_pools_round_trip() {
        let mut pool = ReferencePool::new();
        pool.add(Lang::Ar, "a", &one_level(vec![1.0, 2.0])).unwrap();
        pool.add(Lang::Ar, "b", &one_level(vec![0.0, 0.0])).unwrap();
        // A zero vector has no direction: its pairs count as 0, the normaliser is 0.
        let ratio = pool
            .ratio(Lang::Ar, &PerPart::from_fn(|_| vec![0.5]))
            .unwrap();
        assert_eq!(ratio.unwrap().question, vec![None]);
        let err = pool
            .add(Lang::El, "c", &one_level(vec![1.0, 2.0, 3.0]))
            .unwrap_err();
        assert!(err.to_string().contains("another model"), "{err}");
        assert!(pool.add(Lang::El, "c", &HiddenSummary::default()).is_err());
        assert_eq!(pool.languages().collect::<Vec<_>>(), vec![Lang::Ar]);
        // JSON keeps the f64 sums to the last bit or so (serde_json's fast float parsing).
        let json = serde_json::to_string(&pool).unwrap();
        let back: ReferencePool = serde_json::from_str(&json).unwrap();
        assert!(back.contains(Lang::Ar, "b"));
        assert_eq!(back.len(Lang::Ar), 2);
        let (w, w_back) = (
            pool.within(Lang::Ar).unwrap(),
            back.within(Lang::Ar).unwrap(),
        );
        assert!((w.last[0] - w_back.last[0]).abs() < 1e-15);
        let ratio = back
            .ratio(Lang::Ar, &PerPart::from_fn(|_| vec![0.5]))
            .unwrap();
        assert_eq!(ratio.unwrap().last, vec![None]);
    }

    /// Summaries of 2 levels, hidden 3, for 2..7 samples.
    fn samples() -> impl Strategy<Value = Vec<HiddenSummary>> {
        let vector = || prop::collection::vec(-10.0f32..10.0, 3);
        let level = (vector(), vector(), vector()).prop_map(|(question, context, last)| PerPart {
            question,
            context,
            last,
        });
        let summary = prop::collection::vec(level, 2).prop_map(|layers| HiddenSummary { layers });
        prop::collection::vec(summary, 2..7)
    }

    fn brute_force(xs: &[&HiddenSummary], part: SimPart, level: usize) -> f64 {
        let mut sum = 0.0;
        let mut pairs = 0;
        for (i, a) in xs.iter().enumerate() {
            for (j, b) in xs.iter().enumerate() {
                if i != j {
                    sum += cosine(a.layers[level].get(part), b.layers[level].get(part));
                    pairs += 1;
                }
            }
        }
        sum / pairs as f64
    }

    proptest! {
        #[test]
        fn running_sums_match_all_pairs(xs in samples()) {
            let mut pool = ReferencePool::new();
            for (i, x) in xs.iter().enumerate() {
                pool.add(Lang::Tr, &i.to_string(), x).unwrap();
            }
            let within = pool.within(Lang::Tr).unwrap();
            let rest: Vec<&HiddenSummary> = xs.iter().skip(1).collect();
            let without_first = pool.within_excluding(Lang::Tr, "0", &xs[0]).unwrap();
            for part in SimPart::ALL {
                for level in 0..2 {
                    let all: Vec<&HiddenSummary> = xs.iter().collect();
                    let expected = brute_force(&all, part, level);
                    prop_assert!((within.get(part)[level] - expected).abs() < 1e-9);
                    if rest.len() >= 2 {
                        let expected = brute_force(&rest, part, level);
                        let got = without_first.as_ref().unwrap().get(part)[level];
                        prop_assert!((got - expected).abs() < 1e-9);
                    }
                }
            }
            prop_assert_eq!(without_first.is_some(), rest.len() >= 2);
        }
    }
}

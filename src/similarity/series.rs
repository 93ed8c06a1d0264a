//! Cosine similarity between two runs, per level and pooled part.

use super::{HiddenSummary, PerPart, SimPart};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Cosine of two equal-length vectors, accumulated in f64 and clamped to [-1, 1] (rounding can
/// step just outside). 0 when either vector is all zeros: no direction, no similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len(), "cosine of vectors of different lengths");
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    // One square root of the product: parallel vectors come out at exactly +-1 more often.
    (dot / (aa * bb).sqrt()).clamp(-1.0, 1.0)
}

/// Per-level cosines between two runs of one sample (en-en vs en-x), and where each peaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimilaritySeries {
    /// `cosine.<part>[level]`, levels 0..=L.
    pub cosine: PerPart<Vec<f64>>,
    /// The level of the highest cosine per part (the first, on ties).
    pub peak: PerPart<usize>,
}

/// The similarity series of two summaries of the same model.
pub fn series(en: &HiddenSummary, x: &HiddenSummary) -> Result<SimilaritySeries> {
    en.check_same_shape(x)?;
    let cosine = layer_cosines(en, x);
    let peak = cosine.map(|_, values| peak_level(values));
    Ok(SimilaritySeries { cosine, peak })
}

/// Cosines per part and level; the caller has checked the shapes.
fn layer_cosines(a: &HiddenSummary, b: &HiddenSummary) -> PerPart<Vec<f64>> {
    PerPart::from_fn(|part: SimPart| {
        a.layers
            .iter()
            .zip(&b.layers)
            .map(|(la, lb)| cosine(la.get(part), lb.get(part)))
            .collect()
    })
}

fn peak_level(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if v.total_cmp(&values[best]).is_gt() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pools(q: &[f32], c: &[f32], l: &[f32]) -> PerPart<Vec<f32>> {
        PerPart {
            question: q.to_vec(),
            context: c.to_vec(),
            last: l.to_vec(),
        }
    }

    #[test]
    fn hand_computed_cosines() {
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0, 2.0], &[2.0, 4.0]), 1.0);
        assert_eq!(cosine(&[1.0, 2.0], &[-1.0, -2.0]), -1.0);
        // [3,4]·[4,3] = 24, |a||b| = 25.
        assert!((cosine(&[3.0, 4.0], &[4.0, 3.0]) - 0.96).abs() < 1e-12);
        // [1,1]·[1,0] = 1, |a||b| = sqrt 2.
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn series_per_part_with_peaks() {
        let en = HiddenSummary {
            layers: vec![
                pools(&[1.0, 0.0], &[3.0, 4.0], &[1.0, 1.0]),
                pools(&[1.0, 0.0], &[3.0, 4.0], &[1.0, 1.0]),
            ],
        };
        let x = HiddenSummary {
            layers: vec![
                pools(&[0.0, 1.0], &[3.0, 4.0], &[1.0, 0.0]),
                pools(&[2.0, 0.0], &[4.0, 3.0], &[-1.0, -1.0]),
            ],
        };
        let s = series(&en, &x).unwrap();
        assert_eq!(s.cosine.question, vec![0.0, 1.0]);
        assert_eq!(s.cosine.context[0], 1.0);
        assert!((s.cosine.context[1] - 0.96).abs() < 1e-12);
        assert_eq!(s.cosine.last[1], -1.0);
        assert_eq!(
            s.peak,
            PerPart {
                question: 1,
                context: 0,
                last: 0
            }
        );
        let short = HiddenSummary {
            layers: vec![en.layers[0].clone()],
        };
        assert!(series(&en, &short).is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SimilaritySeries>(&json).unwrap(), s);
    }

    proptest! {
        #[test]
        fn cosine_is_bounded_and_symmetric(
            pair in (1usize..16).prop_flat_map(|n| (
                prop::collection::vec(-1e6f32..1e6, n),
                prop::collection::vec(-1e6f32..1e6, n),
            ))
        ) {
            let (a, b) = pair;
            let ab = cosine(&a, &b);
            prop_assert!((-1.0..=1.0).contains(&ab));
            prop_assert_eq!(ab, cosine(&b, &a));
        }
    }
}

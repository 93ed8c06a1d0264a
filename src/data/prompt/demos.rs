//! Choosing the demonstrations of a 2-shot prompt.
//!
//! The choice depends on the seed and the test sample's id only (for a given data set), never
//! on the scenario or language, so en-en, en-x and x-x runs of a sample see the same demos and
//! stay comparable.

use crate::data::{Dataset, Sample};
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 64-bit FNV-1a: stable across platforms, Rust versions and runs (unlike `DefaultHasher`).
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .into_iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

fn demo_rng(seed: u64, sample_id: &str) -> ChaCha8Rng {
    let bytes = seed.to_le_bytes().into_iter().chain(sample_id.bytes());
    ChaCha8Rng::seed_from_u64(fnv1a(bytes))
}

/// A reproducible random stream for one sample and one use (`purpose` keeps the streams
/// of different draws apart), stable across platforms and runs.
pub fn sample_rng(seed: u64, purpose: &str, sample_id: &str) -> ChaCha8Rng {
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain(purpose.bytes())
        .chain([0])
        .chain(sample_id.bytes());
    ChaCha8Rng::seed_from_u64(fnv1a(bytes))
}

/// Indices of `count` demonstrations for `data.samples[test_index]`: samples from other
/// articles, each from a different article while enough articles remain.
pub(crate) fn choose_demos(
    data: &Dataset,
    test_index: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    let Some(test) = data.get(test_index) else {
        bail!(
            "sample index {test_index} is out of range; the data set has {} samples",
            data.len()
        );
    };
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut pool: Vec<usize> = data
        .samples
        .iter()
        .enumerate()
        // Typed-in samples are never demonstrations: adding one changes no other prompt.
        .filter(|(_, s)| s.article != test.article && !s.custom)
        .map(|(i, _)| i)
        .collect();
    if pool.is_empty() {
        bail!(
            "sample '{}' has no demonstrations to draw: every sample of {} comes from its \
             article ({}); load more articles or use 0 shots",
            test.id,
            data.source,
            test.article
        );
    }
    if pool.len() < count {
        bail!(
            "sample '{}' needs {count} demonstrations from other articles but {} has only {}; \
             load more articles or use 0 shots",
            test.id,
            data.source,
            pool.len()
        );
    }
    let mut rng = demo_rng(seed, &test.id);
    let mut chosen: Vec<usize> = Vec::with_capacity(count);
    for _ in 0..count {
        let fresh = fresh_articles(&pool, &chosen, &data.samples);
        let candidates = if fresh.is_empty() { &pool } else { &fresh };
        let pick = candidates[rng.random_range(0..candidates.len())];
        chosen.push(pick);
        pool.retain(|&i| i != pick);
    }
    Ok(chosen)
}

/// The pool members whose article no chosen demo comes from.
fn fresh_articles(pool: &[usize], chosen: &[usize], samples: &[Sample]) -> Vec<usize> {
    pool.iter()
        .copied()
        .filter(|&i| {
            chosen
                .iter()
                .all(|&c| samples[c].article != samples[i].article)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(*b"foobar"), 0x8594_4171_f739_67e8);
    }
}

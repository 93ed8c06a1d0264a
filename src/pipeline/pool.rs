//! Reference pools for S(en,x): which samples fill one, and filling it.

use super::run::check_cancel;
use super::states::prompt_summary;
use crate::data::prompt::PromptOptions;
use crate::data::Dataset;
use crate::model::LoadedModel;
use crate::similarity::reference::ReferencePool;
use anyhow::Result;
use std::sync::atomic::AtomicBool;

/// Which samples pre-fill a reference pool: up to `count` in data order, `exclude` left out
/// (the traced sample itself).
#[derive(Clone, Copy, Debug)]
pub struct PoolFill {
    pub exclude: usize,
    pub count: usize,
    /// Seeds the draw (with the test sample's id).
    pub seed: u64,
}

/// The reference samples of a self-filled pool (METHOD, "Cross-lingual hidden-state
/// similarity"): a seeded shuffle spread across articles — one sample per article in turn,
/// articles and their questions in shuffled order — never from the test sample's own article
/// and never a typed-in sample. Questions of one paragraph share their context, so a pool of
/// neighbours in file order would make the denominator meaningless.
pub fn draw_pool(data: &Dataset, exclude: usize, count: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let Some(test) = data.get(exclude) else {
        return Vec::new();
    };
    let mut by_article: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, s) in data.samples.iter().enumerate() {
        if i != exclude && s.article != test.article && !s.custom {
            by_article.entry(s.article).or_default().push(i);
        }
    }
    let mut rng = crate::data::prompt::sample_rng(seed, "reference pool", &test.id);
    let mut articles: Vec<Vec<usize>> = by_article.into_values().collect();
    for questions in &mut articles {
        questions.shuffle(&mut rng);
    }
    articles.shuffle(&mut rng);
    let mut drawn = Vec::with_capacity(count);
    let mut round = 0;
    while drawn.len() < count {
        let before = drawn.len();
        for questions in &articles {
            if let Some(&i) = questions.get(round) {
                drawn.push(i);
                if drawn.len() == count {
                    break;
                }
            }
        }
        if drawn.len() == before {
            break;
        }
        round += 1;
    }
    drawn
}

/// Adds the summaries of other samples (the same scenario and options, drawn by
/// [`draw_pool`]) to `pool`, for S(en,x). Returns how many were added.
pub fn prefill_pool(
    model: &LoadedModel,
    data: &Dataset,
    options: &PromptOptions,
    fill: PoolFill,
    pool: &mut ReferencePool,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(usize),
) -> Result<usize> {
    let PoolFill {
        exclude,
        count,
        seed,
    } = fill;
    let mut added = 0;
    for index in draw_pool(data, exclude, count, seed) {
        check_cancel(cancel)?;
        let summary = prompt_summary(model, data, index, options, cancel)?;
        let id = data.get(index).map(|s| s.id.as_str()).unwrap_or_default();
        if pool.add(options.setting.lang, id, &summary)? {
            added += 1;
            progress(added);
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Entry, Lang, Sample};

    fn data(articles: usize, per_article: usize) -> Dataset {
        let entry = Entry {
            context: "c".into(),
            question: "q".into(),
            answers: Vec::new(),
        };
        let samples = (0..articles * per_article)
            .map(|i| Sample {
                id: format!("q{i}"),
                article: i / per_article,
                title: String::new(),
                entries: [(Lang::En, entry.clone())].into(),
                custom: false,
            })
            .collect();
        Dataset {
            source: "test".into(),
            langs: vec![Lang::En],
            samples,
        }
    }

    #[test]
    fn pools_spread_across_articles_and_skip_the_test_article_and_custom_samples() {
        let mut d = data(6, 5);
        let mut custom = d.samples[0].clone();
        custom.id = "custom-1".into();
        custom.article = 99;
        custom.custom = true;
        d.samples.push(custom);
        let test = 7; // article 1
        let drawn = draw_pool(&d, test, 5, 0);
        assert_eq!(drawn.len(), 5);
        let articles: std::collections::BTreeSet<usize> =
            drawn.iter().map(|&i| d.samples[i].article).collect();
        assert_eq!(articles.len(), 5, "one per article first: {drawn:?}");
        assert!(!articles.contains(&1) && !articles.contains(&99));
        // Deterministic per seed; another seed draws another pool.
        assert_eq!(draw_pool(&d, test, 5, 0), drawn);
        assert_ne!(draw_pool(&d, test, 12, 1), draw_pool(&d, test, 12, 0));
        // Asking for more than there is: every eligible sample once.
        let all = draw_pool(&d, test, 100, 0);
        assert_eq!(all.len(), 25);
        let unique: std::collections::BTreeSet<usize> = all.iter().copied().collect();
        assert_eq!(unique.len(), 25);
        // The first rounds take one question per article.
        let first_five: std::collections::BTreeSet<usize> =
            all[..5].iter().map(|&i| d.samples[i].article).collect();
        assert_eq!(first_five.len(), 5);
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The offline demo set `assets/demo/` (written by `scripts/make_demo_data.py`): it loads with
//! the project's own loader, holds 4 articles of 3 questions in all 12 languages with the same
//! ids, every answer lies at its offset, and every sample builds a 2-shot prompt.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use xmrc_lens::data::loader::{load_dir, LoadOptions};
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::data::prompt::{build_prompt, PromptOptions, Scenario};
use xmrc_lens::data::source::{load, DataSource};
use xmrc_lens::data::{Dataset, Lang};

const DEMO_IDS: [&str; 12] = [
    "demo-lighthouse-1",
    "demo-lighthouse-2",
    "demo-lighthouse-3",
    "demo-bees-1",
    "demo-bees-2",
    "demo-bees-3",
    "demo-festival-1",
    "demo-festival-2",
    "demo-festival-3",
    "demo-tram-1",
    "demo-tram-2",
    "demo-tram-3",
];

const TITLES: [&str; 4] = [
    "Maren_Point_Lighthouse",
    "How_Bees_Make_Honey",
    "Santorel_Cattle_Festival",
    "Brennick_Harbour_Tram",
];

fn demo_dir() -> PathBuf {
    common::repo_path("assets/demo")
}

fn demo() -> Dataset {
    load_dir(&demo_dir(), &LoadOptions::default()).unwrap()
}

#[test]
fn demo_set_has_twelve_languages_and_twelve_samples() {
    let data = demo();
    assert_eq!(data.langs, Lang::ALL.to_vec());
    assert_eq!(data.len(), 12);
    let ids: Vec<&str> = data.samples.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, DEMO_IDS);
    for sample in &data.samples {
        let langs: Vec<Lang> = sample.entries.keys().copied().collect();
        assert_eq!(langs, Lang::ALL.to_vec(), "{}", sample.id);
    }
    // The same folder through a data source, as the explorer's demo mode will name it.
    let through_source = load(&DataSource::Dir(demo_dir()), &LoadOptions::default()).unwrap();
    assert_eq!(through_source.samples, data.samples);
}

#[test]
fn every_file_lists_the_same_ids_in_the_same_order() {
    for lang in Lang::ALL {
        let path = demo_dir().join(format!("xquad.{}.json", lang.code()));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["version"], "1.1", "{}", path.display());
        let mut ids = Vec::new();
        let mut titles = Vec::new();
        for article in json["data"].as_array().unwrap() {
            titles.push(article["title"].as_str().unwrap().to_string());
            for paragraph in article["paragraphs"].as_array().unwrap() {
                for qa in paragraph["qas"].as_array().unwrap() {
                    ids.push(qa["id"].as_str().unwrap().to_string());
                }
            }
        }
        assert_eq!(ids, DEMO_IDS, "{}", path.display());
        assert_eq!(titles, TITLES, "{}", path.display());
    }
}

#[test]
fn every_answer_is_the_context_span_at_its_offset() {
    let data = demo();
    for sample in &data.samples {
        for (lang, entry) in &sample.entries {
            assert!(!entry.question.trim().is_empty(), "{} {lang}", sample.id);
            assert_eq!(entry.answers.len(), 1, "{} {lang}", sample.id);
            for answer in &entry.answers {
                assert!(!answer.text.trim().is_empty(), "{} {lang}", sample.id);
            }
        }
    }
    common::assert_answers_at_offsets(&data);
}

#[test]
fn four_titled_articles_of_three_questions_each() {
    let data = demo();
    let mut per_article: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for sample in &data.samples {
        assert!(!sample.title.trim().is_empty(), "{}", sample.id);
        per_article
            .entry(sample.article)
            .or_default()
            .push(sample.title.as_str());
    }
    assert!(per_article.len() >= 3, "2-shot prompts need other articles");
    assert_eq!(per_article.len(), 4);
    for (index, (article, titles)) in per_article.iter().enumerate() {
        assert_eq!(titles.len(), 3, "article {article}");
        assert!(titles.iter().all(|t| *t == TITLES[index]), "{titles:?}");
    }
    // One paragraph per article in every language.
    for lang in Lang::ALL {
        let contexts: BTreeSet<&str> = data
            .samples
            .iter()
            .map(|s| s.entry(lang).unwrap().context.as_str())
            .collect();
        assert_eq!(contexts.len(), 4, "{lang}");
    }
}

#[test]
fn every_sample_builds_two_shot_prompts_with_demos_from_other_articles() {
    let data = demo();
    for scenario in Scenario::ALL {
        for lang in Lang::ALL {
            for (index, sample) in data.samples.iter().enumerate() {
                let opts = PromptOptions {
                    setting: Setting {
                        scenario,
                        lang,
                        shots: 2,
                        ..Setting::default()
                    },
                    ..PromptOptions::default()
                };
                let prompt = build_prompt(&data, index, &opts, None)
                    .unwrap_or_else(|e| panic!("{} {scenario} {lang}: {e:#}", sample.id));
                assert_eq!(prompt.demo_ids.len(), 2);
                let demo_articles: BTreeSet<usize> = prompt
                    .demo_ids
                    .iter()
                    .map(|id| data.samples[data.position_of(id).unwrap()].article)
                    .collect();
                assert!(!demo_articles.contains(&sample.article), "{}", sample.id);
                assert_eq!(
                    demo_articles.len(),
                    2,
                    "{}: two distinct articles",
                    sample.id
                );
                let context = scenario.langs(lang).context;
                assert_eq!(prompt.context_lang, context);
                let gold = &prompt.gold[0];
                let at: String = prompt
                    .text
                    .chars()
                    .skip(gold.start)
                    .take(gold.text.chars().count())
                    .collect();
                assert_eq!(at, gold.text, "{} {scenario} {lang}", sample.id);
            }
        }
    }
}

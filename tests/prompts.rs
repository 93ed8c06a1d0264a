#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Prompt builder: layouts (snapshots), part spans, gold offsets, demonstrations, token parts.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::data::prompt::{
    build_prompt, tokenize_prompt, Format, Part, Prompt, PromptOptions, Scenario,
};
use xmrc_lens::data::{Answer, Dataset, Entry, Lang, Sample};
use xmrc_lens::hf::tokenizer::Tokenizer;

// ---------------------------------------------------------------------------------------------
// A small parallel data set written for these tests: 4 articles, 2 questions each, en/de/zh.

/// A gold answer located by searching the context, so offsets cannot be mistyped.
fn answer(context: &str, text: &str) -> Answer {
    let byte = context
        .find(text)
        .unwrap_or_else(|| panic!("'{text}' not in '{context}'"));
    Answer {
        text: text.to_string(),
        start: context[..byte].chars().count(),
    }
}

fn entry(context: &str, question: &str, answers: &[&str]) -> Entry {
    Entry {
        context: context.to_string(),
        question: question.to_string(),
        answers: answers.iter().map(|a| answer(context, a)).collect(),
    }
}

type Version<'a> = (&'a str, &'a str, &'a [&'a str]);

fn sample(id: &str, article: usize, title: &str, versions: [(Lang, Version<'_>); 3]) -> Sample {
    Sample {
        id: id.to_string(),
        article,
        title: title.to_string(),
        custom: false,
        entries: versions
            .into_iter()
            .map(|(lang, (c, q, a))| (lang, entry(c, q, a)))
            .collect(),
    }
}

fn dataset() -> Dataset {
    const RHINE_EN: &str = "The Rhine rises in the Swiss Alps and flows north to the North Sea. It is about 1,230 kilometres long.";
    const RHINE_DE: &str = "Der Rhein entspringt in den Schweizer Alpen und fließt nach Norden in die Nordsee. Er ist etwa 1.230 Kilometer lang.";
    const RHINE_ZH: &str = "莱茵河发源于瑞士阿尔卑斯山，向北流入北海。全长约1230公里。";
    const BEES_EN: &str = "Honey bees live in colonies led by a single queen. Worker bees collect nectar and turn it into honey.";
    const BEES_DE: &str = "Honigbienen leben in Völkern, die von einer einzigen Königin geführt werden. Arbeiterinnen sammeln Nektar und machen daraus Honig.";
    const BEES_ZH: &str = "蜜蜂生活在由一只蜂王领导的蜂群中。工蜂采集花蜜并把它酿成蜂蜜。";
    const PRESS_EN: &str = "Johannes Gutenberg built a printing press with movable type in Mainz around 1450. His press made books much cheaper.";
    const PRESS_DE: &str = "Johannes Gutenberg baute um 1450 in Mainz eine Druckerpresse mit beweglichen Lettern. Seine Presse machte Bücher viel billiger.";
    const PRESS_ZH: &str =
        "约翰内斯·古腾堡于1450年左右在美因茨制造了活字印刷机。他的印刷机使书籍便宜了许多。";
    const MOON_EN: &str = "The Moon orbits Earth once every 27.3 days. Its surface is covered in craters made by old impacts.";
    const MOON_DE: &str = "Der Mond umkreist die Erde einmal alle 27,3 Tage. Seine Oberfläche ist mit Kratern alter Einschläge bedeckt.";
    const MOON_ZH: &str = "月球每27.3天绕地球运行一周。它的表面布满了古老撞击形成的陨石坑。";
    let samples = vec![
        sample(
            "rhine-1",
            0,
            "Rhine",
            [
                (
                    Lang::En,
                    (
                        RHINE_EN,
                        "Where does the Rhine rise?",
                        &["in the Swiss Alps", "Swiss Alps"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        RHINE_DE,
                        "Wo entspringt der Rhein?",
                        &["in den Schweizer Alpen"],
                    ),
                ),
                (
                    Lang::Zh,
                    (RHINE_ZH, "莱茵河发源于哪里？", &["瑞士阿尔卑斯山"]),
                ),
            ],
        ),
        sample(
            "rhine-2",
            0,
            "Rhine",
            [
                (
                    Lang::En,
                    (
                        RHINE_EN,
                        "How long is the Rhine?",
                        &["about 1,230 kilometres"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        RHINE_DE,
                        "Wie lang ist der Rhein?",
                        &["etwa 1.230 Kilometer"],
                    ),
                ),
                (
                    Lang::Zh,
                    (RHINE_ZH, "莱茵河有多长？", &["约1230公里", "1230公里"]),
                ),
            ],
        ),
        sample(
            "bees-1",
            1,
            "Honey bee",
            [
                (
                    Lang::En,
                    (
                        BEES_EN,
                        "Who leads a honey bee colony?",
                        &["a single queen"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        BEES_DE,
                        "Wer führt ein Bienenvolk?",
                        &["einer einzigen Königin"],
                    ),
                ),
                (Lang::Zh, (BEES_ZH, "谁领导蜂群？", &["一只蜂王"])),
            ],
        ),
        sample(
            "bees-2",
            1,
            "Honey bee",
            [
                (
                    Lang::En,
                    (BEES_EN, "What do worker bees collect?", &["nectar"]),
                ),
                (
                    Lang::De,
                    (BEES_DE, "Was sammeln Arbeiterinnen?", &["Nektar"]),
                ),
                (Lang::Zh, (BEES_ZH, "工蜂采集什么？", &["花蜜"])),
            ],
        ),
        sample(
            "press-1",
            2,
            "Printing press",
            [
                (
                    Lang::En,
                    (
                        PRESS_EN,
                        "Where did Gutenberg build his printing press?",
                        &["Mainz", "in Mainz"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        PRESS_DE,
                        "Wo baute Gutenberg seine Druckerpresse?",
                        &["Mainz"],
                    ),
                ),
                (
                    Lang::Zh,
                    (PRESS_ZH, "古腾堡在哪里制造了印刷机？", &["美因茨"]),
                ),
            ],
        ),
        sample(
            "press-2",
            2,
            "Printing press",
            [
                (
                    Lang::En,
                    (PRESS_EN, "What did the press make cheaper?", &["books"]),
                ),
                (
                    Lang::De,
                    (PRESS_DE, "Was machte die Presse billiger?", &["Bücher"]),
                ),
                (Lang::Zh, (PRESS_ZH, "印刷机使什么变得便宜？", &["书籍"])),
            ],
        ),
        sample(
            "moon-1",
            3,
            "Moon",
            [
                (
                    Lang::En,
                    (
                        MOON_EN,
                        "How often does the Moon orbit Earth?",
                        &["once every 27.3 days"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        MOON_DE,
                        "Wie oft umkreist der Mond die Erde?",
                        &["einmal alle 27,3 Tage"],
                    ),
                ),
                (Lang::Zh, (MOON_ZH, "月球多久绕地球一周？", &["每27.3天"])),
            ],
        ),
        sample(
            "moon-2",
            3,
            "Moon",
            [
                (
                    Lang::En,
                    (
                        MOON_EN,
                        "What covers the surface of the Moon?",
                        &["craters"],
                    ),
                ),
                (
                    Lang::De,
                    (
                        MOON_DE,
                        "Womit ist die Oberfläche des Mondes bedeckt?",
                        &["Kratern"],
                    ),
                ),
                (Lang::Zh, (MOON_ZH, "月球表面布满了什么？", &["陨石坑"])),
            ],
        ),
    ];
    Dataset {
        source: "test fixture".to_string(),
        langs: vec![Lang::En, Lang::De, Lang::Zh],
        samples,
    }
}

/// A bigger generated set (English and German only) for statistics over demo choices.
fn big_dataset(articles: usize, per_article: usize) -> Dataset {
    let mut samples = Vec::new();
    for article in 0..articles {
        for q in 0..per_article {
            let en = format!("Article {article} paragraph {q} says the number is {q}{article}.");
            let de = format!("Artikel {article} Absatz {q} sagt, die Zahl ist {q}{article}.");
            let gold = format!("{q}{article}");
            samples.push(Sample {
                id: format!("a{article}-q{q}"),
                article,
                title: format!("Article {article}"),
                custom: false,
                entries: BTreeMap::from([
                    (Lang::En, entry(&en, "What is the number?", &[&gold])),
                    (Lang::De, entry(&de, "Was ist die Zahl?", &[&gold])),
                ]),
            });
        }
    }
    Dataset {
        source: "generated".to_string(),
        langs: vec![Lang::En, Lang::De],
        samples,
    }
}

fn opts(scenario: Scenario, lang: Lang, shots: u8, format: Format) -> PromptOptions {
    PromptOptions {
        setting: Setting {
            scenario,
            lang,
            shots,
            format,
        },
        ..PromptOptions::default()
    }
}

/// Every combination of scenario, shots and format for language `lang`.
fn all_layouts(lang: Lang) -> Vec<PromptOptions> {
    let mut out = Vec::new();
    for scenario in Scenario::ALL {
        for shots in [0, 2] {
            for format in Format::ALL {
                out.push(opts(scenario, lang, shots, format));
            }
        }
    }
    out
}

fn chars(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

/// Spans are non-empty, in order, contiguous and cover the text exactly.
fn assert_partition(p: &Prompt) {
    let mut at = 0;
    for span in &p.spans {
        assert_eq!(span.start, at, "gap or overlap at {at} in {:?}", p.spans);
        assert!(span.end > span.start, "empty span {span:?}");
        at = span.end;
    }
    assert_eq!(at, p.text.chars().count(), "spans do not reach the end");
    let joined: String = p
        .spans
        .iter()
        .map(|s| chars(&p.text, s.start, s.end))
        .collect();
    assert_eq!(joined, p.text);
}

/// The context, question and gold ranges point at the sample's own text.
fn assert_offsets(p: &Prompt, data: &Dataset) {
    let sample = data.samples.iter().find(|s| s.id == p.sample_id).unwrap();
    let context = sample.entry(p.context_lang).unwrap();
    let question = sample.entry(p.question_lang).unwrap();
    assert_eq!(
        chars(&p.text, p.context.start, p.context.end),
        context.context
    );
    assert_eq!(
        chars(&p.text, p.question.start, p.question.end),
        question.question
    );
    assert_eq!(p.part_at(p.context.start), Some(Part::Context));
    assert_eq!(p.part_at(p.question.start), Some(Part::Question));
    let answers = &sample.entry(p.answer_lang).unwrap().answers;
    assert_eq!(p.gold.len(), answers.len());
    for gold in &p.gold {
        let end = gold.start + gold.text.chars().count();
        assert_eq!(chars(&p.text, gold.start, end), gold.text);
        assert!(
            p.context.start <= gold.start && end <= p.context.end,
            "{gold:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Layout snapshots

#[test]
fn raw_layout_snapshots() {
    let data = dataset();
    for o in all_layouts(Lang::De) {
        let p = build_prompt(&data, 0, &o, None).unwrap();
        let name = format!(
            "raw_{}_{}shot_{}",
            o.setting.scenario, o.setting.shots, o.setting.format
        );
        let shown = format!("demos: {:?}\n\n{}", p.demo_ids, p.annotated());
        insta::assert_snapshot!(name, shown);
    }
}

// ---------------------------------------------------------------------------------------------
// Spans, offsets, wording

#[test]
fn spans_partition_and_offsets_hold_for_every_sample_and_layout() {
    let data = dataset();
    for lang in [Lang::De, Lang::Zh] {
        for o in all_layouts(lang) {
            for index in 0..data.len() {
                let p = build_prompt(&data, index, &o, None).unwrap();
                assert_partition(&p);
                assert_offsets(&p, &data);
                assert!(!p.chat);
            }
        }
    }
}

#[test]
fn parts_appear_in_the_documented_order() {
    let data = dataset();
    let order = |o: &PromptOptions| -> Vec<Part> {
        build_prompt(&data, 0, o, None)
            .unwrap()
            .spans
            .iter()
            .map(|s| s.part)
            .collect()
    };
    use Part::{Context, Demo1, Demo2, Markup, Question, Task};
    assert_eq!(
        order(&opts(Scenario::EnX, Lang::De, 2, Format::V1)),
        [Task, Markup, Demo1, Demo2, Task, Markup, Context, Markup, Question, Markup]
    );
    assert_eq!(
        order(&opts(Scenario::EnX, Lang::De, 2, Format::V2)),
        [Demo1, Demo2, Task, Markup, Context, Markup, Question, Markup, Task, Markup]
    );
    assert_eq!(
        order(&opts(Scenario::EnX, Lang::De, 0, Format::V1)),
        [Task, Markup, Context, Markup, Question, Markup]
    );
    assert_eq!(
        order(&opts(Scenario::EnX, Lang::De, 0, Format::V2)),
        [Markup, Context, Markup, Question, Markup, Task, Markup]
    );
}

#[test]
fn languages_follow_the_scenario_and_the_wording_names_the_answer_language() {
    let data = dataset();
    let p = build_prompt(&data, 2, &opts(Scenario::XX, Lang::De, 2, Format::V1), None).unwrap();
    assert!(p
        .text
        .contains("a direct answer in German without extra output"));
    assert!(!p.text.contains("in English"));
    assert!(p.text.contains("Wer führt ein Bienenvolk?"));
    assert_eq!(
        (p.context_lang, p.question_lang, p.answer_lang),
        (Lang::De, Lang::De, Lang::De)
    );

    let p = build_prompt(
        &data,
        2,
        &opts(Scenario::EnX, Lang::De, 2, Format::V2),
        None,
    )
    .unwrap();
    assert!(p
        .text
        .contains("a direct answer in English without extra output"));
    assert!(!p.text.contains("in German"));
    assert!(p
        .part_text(Part::Context)
        .contains(data.samples[2].entries[&Lang::En].context.as_str()));
    assert!(p
        .part_text(Part::Question)
        .contains("Wer führt ein Bienenvolk?"));
    assert_eq!(
        (p.context_lang, p.question_lang, p.answer_lang),
        (Lang::En, Lang::De, Lang::En)
    );

    let p = build_prompt(&data, 2, &opts(Scenario::XX, Lang::Zh, 0, Format::V2), None).unwrap();
    assert!(p.part_text(Part::Task).contains("in Chinese without"));
    assert!(p.part_text(Part::Question).contains("谁领导蜂群？"));

    // en-en ignores x entirely.
    let en_de = build_prompt(
        &data,
        2,
        &opts(Scenario::EnEn, Lang::De, 2, Format::V1),
        None,
    )
    .unwrap();
    let en_zh = build_prompt(
        &data,
        2,
        &opts(Scenario::EnEn, Lang::Zh, 2, Format::V1),
        None,
    )
    .unwrap();
    assert_eq!(en_de.text, en_zh.text);
    assert!(en_de.text.contains("in English"));
}

#[test]
fn demos_answer_with_their_first_gold_answer_in_the_answer_language() {
    let data = dataset();
    for o in [
        opts(Scenario::EnX, Lang::Zh, 2, Format::V1),
        opts(Scenario::XX, Lang::Zh, 2, Format::V2),
    ] {
        let p = build_prompt(&data, 0, &o, None).unwrap();
        for (id, part) in p.demo_ids.iter().zip([Part::Demo1, Part::Demo2]) {
            let demo = data.samples.iter().find(|s| &s.id == id).unwrap();
            let ctx = &demo.entries[&p.context_lang];
            let q = &demo.entries[&p.question_lang];
            let expected = format!(
                "Context: {}\n\nQuestion: {}\n\nAnswer: {}\n\n",
                ctx.context, q.question, ctx.answers[0].text
            );
            assert_eq!(p.part_text(part), expected);
        }
    }
}

#[test]
fn answer_cue_and_system_text() {
    let data = dataset();
    let base = opts(Scenario::EnX, Lang::De, 0, Format::V1);
    let p = build_prompt(&data, 0, &base, None).unwrap();
    assert!(p.text.ends_with("Wo entspringt der Rhein?\n\nAnswer:"));
    assert_eq!(
        p.part_text(Part::Markup),
        "\n\nContext: \n\nQuestion: \n\nAnswer:"
    );
    assert!(p.part_text(Part::Context).starts_with("The Rhine"));
    assert_eq!(p.part_text(Part::Question), "Wo entspringt der Rhein?");
    assert_eq!(p.part_text(Part::Trailer), "");
    assert_eq!(p.part_text(Part::System), "");

    let no_cue = PromptOptions {
        answer_cue: Some(false),
        ..base.clone()
    };
    let p = build_prompt(&data, 0, &no_cue, None).unwrap();
    assert!(p.text.ends_with("Wo entspringt der Rhein?"));
    assert_eq!(p.spans.last().unwrap().part, Part::Question);
    assert_partition(&p);

    let with_system = PromptOptions {
        system: Some("You are a careful reader.".into()),
        ..base
    };
    let p = build_prompt(&data, 0, &with_system, None).unwrap();
    assert_eq!(p.spans[0].part, Part::System);
    assert_eq!(p.part_text(Part::System), "You are a careful reader.");
    assert!(p.part_text(Part::Markup).starts_with("\n\n\n\nContext: "));
    assert!(p
        .text
        .starts_with("You are a careful reader.\n\nBelow is a reading"));
    assert_partition(&p);
    assert_offsets(&p, &data);
}

// ---------------------------------------------------------------------------------------------
// Demonstrations

#[test]
fn demos_come_from_two_other_articles_and_are_the_same_for_every_language_and_scenario() {
    let data = dataset();
    for index in 0..data.len() {
        let test_article = data.samples[index].article;
        let mut seen = BTreeSet::new();
        for lang in [Lang::De, Lang::Zh] {
            for o in all_layouts(lang)
                .into_iter()
                .filter(|o| o.setting.shots == 2)
            {
                let p = build_prompt(&data, index, &o, None).unwrap();
                assert_eq!(p.demo_ids.len(), 2);
                let articles: Vec<usize> = p
                    .demo_ids
                    .iter()
                    .map(|id| data.samples.iter().find(|s| &s.id == id).unwrap().article)
                    .collect();
                assert!(!articles.contains(&test_article), "{index}: {articles:?}");
                assert_ne!(articles[0], articles[1], "two different articles");
                seen.insert(p.demo_ids.clone());
            }
        }
        assert_eq!(
            seen.len(),
            1,
            "sample {index} saw different demos: {seen:?}"
        );
    }
}

#[test]
fn zero_shot_has_no_demos() {
    let data = dataset();
    let p = build_prompt(&data, 3, &opts(Scenario::XX, Lang::De, 0, Format::V2), None).unwrap();
    assert!(p.demo_ids.is_empty());
    assert!(!p.text.contains("Your task starts here:"));
    assert_eq!(p.part_text(Part::Demo1), "");
}

#[test]
fn seeds_change_the_demos_and_the_same_seed_repeats_them() {
    let data = big_dataset(12, 4);
    let demos = |seed: u64, index: usize| {
        let o = PromptOptions {
            seed,
            ..opts(Scenario::EnX, Lang::De, 2, Format::V1)
        };
        build_prompt(&data, index, &o, None).unwrap().demo_ids
    };
    let mut differing = 0;
    for index in 0..data.len() {
        assert_eq!(demos(0, index), demos(0, index));
        if demos(0, index) != demos(1, index) {
            differing += 1;
        }
    }
    // 44 candidates per sample: two seeds agree on both demos with probability far below 1 %.
    assert!(
        differing >= data.len() - 2,
        "only {differing} of {} differ",
        data.len()
    );
    // Different samples of one article get different demos too.
    assert_ne!(demos(0, 0), demos(0, 1));
}

#[test]
fn demos_repeat_an_article_only_when_no_other_is_left() {
    // Two articles: the test article and one other with three samples.
    let mut data = big_dataset(2, 3);
    data.samples.retain(|s| s.article == 1 || s.id == "a0-q0");
    let p = build_prompt(
        &data,
        0,
        &opts(Scenario::EnEn, Lang::De, 2, Format::V1),
        None,
    )
    .unwrap();
    assert_eq!(p.demo_ids.len(), 2);
    assert_ne!(p.demo_ids[0], p.demo_ids[1]);
    assert!(p.demo_ids.iter().all(|id| id.starts_with("a1-")));
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn errors_say_what_is_wrong() {
    let data = dataset();
    let err = |o: &PromptOptions, index: usize, d: &Dataset| {
        format!("{:#}", build_prompt(d, index, o, None).unwrap_err())
    };

    let msg = err(&opts(Scenario::XX, Lang::Es, 0, Format::V1), 0, &data);
    assert!(msg.contains("rhine-1") && msg.contains("Spanish"), "{msg}");

    let msg = err(&opts(Scenario::EnX, Lang::De, 1, Format::V1), 0, &data);
    assert!(msg.contains("0 or 2"), "{msg}");

    let msg = err(&opts(Scenario::EnX, Lang::De, 0, Format::V1), 99, &data);
    assert!(msg.contains("99") && msg.contains("8 samples"), "{msg}");

    let mut one_article = data.clone();
    one_article.samples.retain(|s| s.article == 0);
    let msg = err(
        &opts(Scenario::EnX, Lang::De, 2, Format::V1),
        0,
        &one_article,
    );
    assert!(
        msg.contains("no demonstrations") && msg.contains("0 shots"),
        "{msg}"
    );
    assert!(build_prompt(
        &one_article,
        0,
        &opts(Scenario::EnX, Lang::De, 0, Format::V1),
        None
    )
    .is_ok());

    let mut one_other = data.clone();
    one_other
        .samples
        .retain(|s| s.id != "bees-2" && s.article <= 1);
    let msg = err(&opts(Scenario::EnX, Lang::De, 2, Format::V1), 0, &one_other);
    assert!(msg.contains("only 1"), "{msg}");

    let mut shifted = data.clone();
    shifted.samples[0]
        .entries
        .get_mut(&Lang::En)
        .unwrap()
        .answers[0]
        .start += 1;
    let msg = err(&opts(Scenario::EnX, Lang::De, 0, Format::V1), 0, &shifted);
    assert!(msg.contains("not at character"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// A Llama-style post-processor that adds `bos` in front of the text.
fn with_bos(mut inner: tokenizers::Tokenizer, bos: &str) -> Tokenizer {
    use tokenizers::processors::template::TemplateProcessing;
    let bos_id = inner.token_to_id(bos).unwrap();
    let post = TemplateProcessing::builder()
        .try_single(format!("{bos} $A"))
        .unwrap()
        .special_tokens(vec![(bos, bos_id)])
        .build()
        .unwrap();
    inner.with_post_processor(Some(post));
    Tokenizer::from_inner(inner)
}

/// A BPE tokenizer trained on the prompts themselves with no pre-tokenizer, so that its
/// merges cross part boundaries.
fn trained_tokenizer(texts: &[String]) -> Tokenizer {
    use tokenizers::models::bpe::{BpeTrainer, BPE};
    use tokenizers::models::TrainerWrapper;
    use tokenizers::AddedToken;
    let mut trainer: TrainerWrapper = BpeTrainer::builder()
        .vocab_size(700)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from("<s>", true)])
        .build()
        .into();
    let mut inner = tokenizers::Tokenizer::new(BPE::default());
    inner.train(&mut trainer, texts.iter()).unwrap();
    with_bos(inner, "<s>")
}

/// A character-level BPE whose only merges spell `joined`, so exactly that string (where it
/// occurs) becomes one token.
fn one_merge_tokenizer(text: &str, joined: &str) -> Tokenizer {
    use tokenizers::models::bpe::BPE;
    fn add(piece: String, vocab: &mut BTreeMap<String, u32>) {
        let next = u32::try_from(vocab.len()).unwrap();
        vocab.entry(piece).or_insert(next);
    }
    let mut vocab: BTreeMap<String, u32> = BTreeMap::new();
    add("<s>".into(), &mut vocab);
    for c in text.chars().chain(joined.chars()) {
        add(c.to_string(), &mut vocab);
    }
    let mut merges = Vec::new();
    let mut prefix = String::new();
    for c in joined.chars() {
        if !prefix.is_empty() {
            merges.push((prefix.clone(), c.to_string()));
        }
        prefix.push(c);
        add(prefix.clone(), &mut vocab);
    }
    let vocab: tokenizers::models::bpe::Vocab = vocab.into_iter().collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .unwrap();
    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.add_special_tokens(&[tokenizers::AddedToken::from("<s>", true)]);
    with_bos(inner, "<s>")
}

/// Whether `short` appears in `long` in order (not necessarily adjacent).
fn is_subsequence(short: &[Part], long: &[Part]) -> bool {
    let mut rest = long.iter();
    short.iter().all(|p| rest.any(|q| q == p))
}

fn all_prompts(data: &Dataset) -> Vec<Prompt> {
    let mut out = Vec::new();
    for lang in [Lang::De, Lang::Zh] {
        for o in all_layouts(lang) {
            out.push(build_prompt(data, 0, &o, None).unwrap());
        }
    }
    out
}

#[test]
fn every_token_gets_the_part_of_its_first_non_space_character() {
    let data = dataset();
    let prompts = all_prompts(&data);
    let texts: Vec<String> = prompts.iter().map(|p| p.text.clone()).collect();
    let tok = trained_tokenizer(&texts);
    let bos = tok.token_to_id("<s>").unwrap();
    let mut straddling = 0;
    for p in &prompts {
        let tokens = tokenize_prompt(p, &tok).unwrap();
        let encoded = tok.encode(&p.text, true).unwrap();
        assert_eq!(tokens.len(), encoded.len());
        // Raw prompts get exactly one BOS, from the post-processor, labelled markup.
        assert_eq!(tokens[0].id, bos);
        assert_eq!(tokens[0].part, Part::Markup);
        assert_eq!(tokens.iter().filter(|t| t.id == bos).count(), 1);
        let mut covered = 0;
        for t in &tokens[1..] {
            assert_eq!(t.start, covered, "text tokens tile the text");
            covered = t.end;
            let chars: Vec<char> = p.text.chars().collect();
            let first = (t.start..t.end)
                .find(|&i| !chars[i].is_whitespace())
                .unwrap_or(t.start);
            assert_eq!(Some(t.part), p.part_at(first), "{t:?}");
            if p.part_at(t.end - 1) != Some(t.part) {
                straddling += 1;
            }
        }
        assert_eq!(covered, p.text.chars().count());
        // No token that starts with a label counts as the test item's content.
        for t in tokens
            .iter()
            .filter(|t| matches!(t.part, Part::Context | Part::Question))
        {
            let text: String = p.text.chars().skip(t.start).take(t.end - t.start).collect();
            let text = text.trim_start();
            assert!(
                !text.starts_with("Context") && !text.starts_with("Question:"),
                "{t:?}"
            );
        }
        // Labels follow the span order (a span inside one token may have none).
        let mut labels: Vec<Part> = tokens.iter().map(|t| t.part).collect();
        labels.dedup();
        let mut order: Vec<Part> = p.spans.iter().map(|s| s.part).collect();
        order.insert(0, Part::Markup);
        assert!(is_subsequence(&labels, &order), "{labels:?} vs {order:?}");
    }
    assert!(
        straddling > 0,
        "the fixture tokenizer should merge across part boundaries"
    );
}

#[test]
fn post_processor_tokens_are_markup() {
    use tokenizers::processors::template::TemplateProcessing;
    let data = dataset();
    let p = build_prompt(&data, 5, &opts(Scenario::XX, Lang::Zh, 0, Format::V2), None).unwrap();
    let mut inner = one_merge_tokenizer(&p.text, "Context:").inner().clone();
    inner.add_special_tokens(&[tokenizers::AddedToken::from("</s>", true)]);
    let (bos, eos) = (
        inner.token_to_id("<s>").unwrap(),
        inner.token_to_id("</s>").unwrap(),
    );
    let post = TemplateProcessing::builder()
        .try_single("<s> $A </s>")
        .unwrap()
        .special_tokens(vec![("<s>", bos), ("</s>", eos)])
        .build()
        .unwrap();
    inner.with_post_processor(Some(post));
    let tokens = tokenize_prompt(&p, &Tokenizer::from_inner(inner)).unwrap();
    let (first, last) = (&tokens[0], tokens.last().unwrap());
    assert_eq!((first.id, first.part), (bos, Part::Markup));
    assert_eq!((last.id, last.part), (eos, Part::Markup));
    assert_eq!(tokens[1].piece, "Context:");
    assert_eq!(tokens[1].part, Part::Markup, "the label is markup");
}

#[test]
fn a_token_across_a_boundary_belongs_to_the_part_of_its_first_non_space_character() {
    let data = dataset();
    let p = build_prompt(
        &data,
        0,
        &opts(Scenario::EnX, Lang::De, 0, Format::V1),
        None,
    )
    .unwrap();
    let question_span = p.spans.iter().find(|s| s.part == Part::Question).unwrap();
    let crossing = |joined: &str| {
        let tokens = tokenize_prompt(&p, &one_merge_tokenizer(&p.text, joined)).unwrap();
        let crossing: Vec<_> = tokens
            .into_iter()
            .filter(|t| t.start < question_span.start && t.end > question_span.start)
            .collect();
        assert_eq!(crossing.len(), 1, "{crossing:?}");
        crossing.into_iter().next().unwrap()
    };
    // " Wo": the label's space, then the question: the question's first word, not markup.
    let word = crossing(" Wo");
    assert_eq!(word.piece, "␣Wo");
    assert_eq!(word.part, Part::Question);
    // ": Wo" starts with the label's colon: markup.
    let colon = crossing(": Wo");
    assert_eq!(colon.part, Part::Markup);
    // "\n\nQuestion: Wo" starts on the blank line after the context: markup.
    let label = crossing("\n\nQuestion: Wo");
    assert_eq!(label.piece, "↵↵Question:␣Wo");
    assert_eq!(label.part, Part::Markup);
}

// ---------------------------------------------------------------------------------------------
// Properties over random options

fn any_options() -> impl Strategy<Value = (PromptOptions, usize)> {
    (
        prop::sample::select(Scenario::ALL.to_vec()),
        prop::sample::select(vec![Lang::En, Lang::De, Lang::Zh]),
        prop::sample::select(vec![0u8, 2]),
        prop::sample::select(Format::ALL.to_vec()),
        any::<u64>(),
        prop::option::of(any::<bool>()),
        prop::option::of("[a-zA-Z .\n中]{0,20}"),
        0usize..8,
    )
        .prop_map(
            |(scenario, lang, shots, format, seed, answer_cue, system, index)| {
                (
                    PromptOptions {
                        setting: Setting {
                            scenario,
                            lang,
                            shots,
                            format,
                        },
                        seed,
                        answer_cue,
                        system,
                    },
                    index,
                )
            },
        )
}

proptest! {
    #[test]
    fn any_prompt_partitions_and_points_at_its_gold((o, index) in any_options()) {
        let data = dataset();
        let p = build_prompt(&data, index, &o, None).unwrap();
        assert_partition(&p);
        assert_offsets(&p, &data);
        let test_article = data.samples[index].article;
        for id in &p.demo_ids {
            let demo = data.samples.iter().find(|s| &s.id == id).unwrap();
            prop_assert_ne!(demo.article, test_article);
        }
        let total: usize = Part::ALL.iter().map(|&part| p.part_text(part).chars().count()).sum();
        prop_assert_eq!(total, p.text.chars().count());
    }
}

// ---------------------------------------------------------------------------------------------
// Chat prompts

mod chat {
    use super::*;
    use xmrc_lens::hf::chat_template::{ChatTemplate, SpecialTokens};

    const SYSTEM: &str = "You are a careful reader.";

    fn special(bos: Option<&str>, eos: &str) -> SpecialTokens {
        SpecialTokens {
            bos: bos.map(str::to_string),
            eos: Some(eos.to_string()),
            ..SpecialTokens::default()
        }
    }

    fn chatml() -> ChatTemplate {
        let source = include_str!("../assets/synth/templates/chatml.jinja");
        ChatTemplate::new(source, special(None, "<|im_end|>")).unwrap()
    }

    fn llama3() -> ChatTemplate {
        let source = include_str!("../assets/synth/templates/llama3.jinja");
        ChatTemplate::new(source, special(Some("<|begin_of_text|>"), "<|eot_id|>")).unwrap()
    }

    fn gemma2() -> ChatTemplate {
        let source = include_str!("../assets/synth/templates/gemma2.jinja");
        ChatTemplate::new(source, special(Some("<bos>"), "<eos>")).unwrap()
    }

    fn templates() -> [(&'static str, ChatTemplate); 3] {
        [
            ("chatml", chatml()),
            ("llama3", llama3()),
            ("gemma2", gemma2()),
        ]
    }

    fn with_system(o: PromptOptions) -> PromptOptions {
        PromptOptions {
            system: Some(SYSTEM.to_string()),
            ..o
        }
    }

    #[test]
    fn chat_layout_snapshots() {
        let data = dataset();
        let base = opts(Scenario::EnX, Lang::Zh, 0, Format::V1);
        let p = build_prompt(&data, 4, &base, Some(&chatml())).unwrap();
        insta::assert_snapshot!("chat_chatml_default_system", p.annotated());
        for (name, template) in templates().into_iter().take(3) {
            let p = build_prompt(&data, 4, &with_system(base.clone()), Some(&template)).unwrap();
            insta::assert_snapshot!(format!("chat_{name}_with_system"), p.annotated());
        }
    }

    #[test]
    fn chat_prompts_partition_and_point_at_their_gold() {
        let data = dataset();
        for (name, template) in templates() {
            for o in all_layouts(Lang::Zh) {
                for o in [o.clone(), with_system(o)] {
                    let p = build_prompt(&data, 1, &o, Some(&template)).unwrap();
                    assert!(p.chat);
                    assert_partition(&p);
                    assert_offsets(&p, &data);
                    // Special tokens and role markers open and close the turn.
                    assert_eq!(p.spans[0].part, Part::Markup, "{name}");
                    assert_eq!(p.spans.last().unwrap().part, Part::Markup, "{name}");
                    assert_eq!(p.part_text(Part::Trailer), "", "{name}");
                    // The raw answer cue is off by default in chat prompts.
                    assert!(!p.part_text(Part::Markup).contains("Answer:"), "{name}");
                    // System: the caller's text, else the template's default prompt only.
                    let system = p.part_text(Part::System);
                    match (o.system.is_some(), name) {
                        (true, _) => assert_eq!(system, SYSTEM, "{name}"),
                        (false, "chatml") => {
                            assert_eq!(system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "{name}")
                        }
                        (false, _) => assert_eq!(system, "", "{name}"),
                    }

                    // The body between the system head and the trailer is the raw body.
                    let raw = build_prompt(
                        &data,
                        1,
                        &PromptOptions {
                            answer_cue: Some(false),
                            system: None,
                            ..o.clone()
                        },
                        None,
                    )
                    .unwrap();
                    for part in [
                        Part::Task,
                        Part::Demo1,
                        Part::Demo2,
                        Part::Context,
                        Part::Question,
                    ] {
                        assert_eq!(p.part_text(part), raw.part_text(part), "{name} {part}");
                    }
                    assert_eq!(p.demo_ids, raw.demo_ids);
                }
            }
        }
    }

    #[test]
    fn gemma_puts_the_system_text_in_the_user_turn_and_labels_it_system() {
        let data = dataset();
        let o = with_system(opts(Scenario::XX, Lang::De, 0, Format::V2));
        let p = build_prompt(&data, 0, &o, Some(&gemma2())).unwrap();
        let user_turn = "<start_of_turn>user\nYou are a careful reader.\n\nContext:";
        assert!(
            p.text.starts_with(&format!("<bos>{user_turn}")),
            "{}",
            p.text
        );
        assert_eq!(p.part_text(Part::System), "You are a careful reader.");
        let markup = p.part_text(Part::Markup);
        assert!(
            markup.starts_with("<bos><start_of_turn>user\n\n\nContext: "),
            "{markup:?}"
        );
        assert!(markup.ends_with("<end_of_turn>\n<start_of_turn>model\n"));
    }

    #[test]
    fn an_asked_answer_cue_ends_the_user_turn() {
        let data = dataset();
        let o = PromptOptions {
            answer_cue: Some(true),
            ..opts(Scenario::EnX, Lang::De, 0, Format::V1)
        };
        let p = build_prompt(&data, 0, &o, Some(&chatml())).unwrap();
        assert!(p
            .part_text(Part::Markup)
            .ends_with("\n\nAnswer:<|im_end|>\n<|im_start|>assistant\n"));
        assert_eq!(p.part_text(Part::Trailer), "");
        assert_partition(&p);
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let data = dataset();
        let broken = ChatTemplate::new(
            "{{ raise_exception('no prompts today') }}",
            SpecialTokens::default(),
        )
        .unwrap();
        let o = opts(Scenario::EnX, Lang::De, 0, Format::V1);
        let err = format!(
            "{:#}",
            build_prompt(&data, 0, &o, Some(&broken)).unwrap_err()
        );
        assert!(err.contains("no prompts today"), "{err}");
    }

    /// A Llama-3-style tokenizer: header and turn tokens are special, and the post-processor
    /// adds `<|begin_of_text|>` as Llama 3's does.
    fn llama3_tokenizer(texts: &[String]) -> Tokenizer {
        use tokenizers::models::bpe::{BpeTrainer, BPE};
        use tokenizers::models::TrainerWrapper;
        use tokenizers::AddedToken;
        let specials = [
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ];
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(600)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials.map(|s| AddedToken::from(s, true)).to_vec())
            .build()
            .into();
        let mut inner = tokenizers::Tokenizer::new(BPE::default());
        inner.train(&mut trainer, texts.iter()).unwrap();
        with_bos(inner, "<|begin_of_text|>")
    }

    #[test]
    fn llama3_chat_prompts_hold_exactly_one_bos() {
        let data = dataset();
        let template = llama3();
        let prompts: Vec<Prompt> = all_layouts(Lang::De)
            .into_iter()
            .map(|o| build_prompt(&data, 2, &with_system(o), Some(&template)).unwrap())
            .collect();
        let texts: Vec<String> = prompts.iter().map(|p| p.text.clone()).collect();
        let tok = llama3_tokenizer(&texts);
        let bos = tok.token_to_id("<|begin_of_text|>").unwrap();
        // Encoding the rendered text with special tokens would double the BOS.
        let doubled = tok.encode(&prompts[0].text, true).unwrap();
        assert_eq!(&doubled.ids[..2], &[bos, bos]);
        for p in &prompts {
            let tokens = tokenize_prompt(p, &tok).unwrap();
            assert_eq!(tokens.iter().filter(|t| t.id == bos).count(), 1);
            assert_eq!(tokens[0].id, bos);
            assert_eq!(tokens[0].piece, "<|begin_of_text|>");
            assert_eq!((tokens[0].start, tokens[0].part), (0, Part::Markup));
            let chars: Vec<char> = p.text.chars().collect();
            for t in &tokens {
                let first = (t.start..t.end)
                    .find(|&i| !chars[i].is_whitespace())
                    .unwrap_or(t.start);
                assert_eq!(Some(t.part), p.part_at(first), "{t:?}");
            }
            let last = tokens.last().unwrap();
            assert_eq!(last.part, Part::Markup);
            assert_eq!(tokens.last().unwrap().end, p.text.chars().count());
        }
    }
}

#[test]
fn a_template_that_trims_the_turn_keeps_parts_and_gold_in_place() {
    use xmrc_lens::hf::chat_template::{ChatTemplate, SpecialTokens};
    let mut data = dataset();
    let question = "Where does the Rhine rise?";
    data.samples[0].entries.get_mut(&Lang::En).unwrap().question = format!("{question}  \n");
    let llama3 = ChatTemplate::new(
        include_str!("../assets/synth/templates/llama3.jinja"),
        SpecialTokens {
            bos: Some("<|begin_of_text|>".into()),
            ..SpecialTokens::default()
        },
    )
    .unwrap();
    let o = opts(Scenario::EnEn, Lang::De, 0, Format::V1);
    let p = build_prompt(&data, 0, &o, Some(&llama3)).unwrap();
    assert_partition(&p);
    // The template dropped the trailing whitespace: the question range ends where it did.
    assert_eq!(chars(&p.text, p.question.start, p.question.end), question);
    assert!(p.text.contains(&format!("{question}<|eot_id|>")));
    assert_eq!(p.part_text(Part::Question), question);
    for gold in &p.gold {
        let end = gold.start + gold.text.chars().count();
        assert_eq!(chars(&p.text, gold.start, end), gold.text);
    }
}

/// A typed-in sample is never a demonstration: adding one (even without a gold answer)
/// changes no other sample's prompt, and its own 2-shot prompt draws real samples.
#[test]
fn custom_samples_change_no_other_prompt() {
    let data = dataset();
    let build_all = |d: &Dataset| -> Vec<String> {
        let mut texts = Vec::new();
        for index in 0..data.len() {
            for lang in [Lang::De, Lang::Zh] {
                for o in all_layouts(lang) {
                    texts.push(build_prompt(d, index, &o, None).unwrap().text);
                }
            }
        }
        texts
    };
    let before = build_all(&data);
    let mut with_custom = data.clone();
    let mut custom = data.samples[0].clone();
    custom.id = "custom-1".into();
    custom.article = data.samples.iter().map(|s| s.article).max().unwrap() + 1;
    custom.custom = true;
    for entry in custom.entries.values_mut() {
        entry.answers.clear();
    }
    with_custom.samples.push(custom);
    assert_eq!(build_all(&with_custom), before);
    let own = build_prompt(
        &with_custom,
        with_custom.len() - 1,
        &opts(Scenario::EnX, Lang::De, 2, Format::V1),
        None,
    )
    .unwrap();
    assert!(!own.text.is_empty());
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The sentence oracle: a fake scorer makes one sentence decisive by construction (ranking,
//! correctness, batching, cancellation, baseline ablation); on tiny-llama the batched,
//! padded forwards equal one unpadded forward per ablation. With `XMRC_LENS_DATA` set, the
//! sentence splitter is checked on every XQuAD context and the oracle is timed on a real one.

mod common;

use candle_core::{IndexOp, D};
use common::tiny_model_dir;
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use xmrc_lens::attribution::oracle::{
    run_oracle, Ablation, AnswerScore, Explained, OracleCancelled, OracleOptions, OracleResult,
    PrefixCachedScorer, SequenceScorer,
};
use xmrc_lens::attribution::sentences::split_sentences;
use xmrc_lens::data::loader::{load_dir, LoadOptions, DATA_DIR_ENV};
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::data::prompt::{
    build_prompt, tokenize_prompt, Part, Prompt, PromptOptions, PromptToken, Scenario,
};
use xmrc_lens::data::{Answer, Dataset, Lang};
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::decoder::DiffInput;
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;

// ------------------------------------------------------------------------------------------
// A fake scorer over hand-made prompts.

const CONTEXT: &str = "Velmora is a small river town. It lies on the Sarn. Salt traders founded \
     it in 1372. Its town hall has a clock tower. The tower is 46 metres high. About 8,400 \
     people live there. Most of them live in the old quarter. A ferry crosses the river.";

/// "Context: {context}\nQuestion: Who?\nAnswer:" with one token per word (its leading
/// whitespace glued to it, as BPE does) and every id distinct; the gold answer starts at
/// character `gold` of the context.
fn word_prompt(context: &str, gold: usize) -> (Prompt, Vec<PromptToken>) {
    let head = "Context: ";
    let text = format!("{head}{context}\nQuestion: Who?\nAnswer:");
    let offset = head.chars().count();
    let context_end = offset + context.chars().count();
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut start = 0;
    for i in 1..=chars.len() {
        let word_ends =
            i == chars.len() || (chars[i].is_whitespace() && !chars[i - 1].is_whitespace());
        if word_ends {
            tokens.push(PromptToken {
                id: 100 + tokens.len() as u32,
                piece: chars[start..i].iter().collect(),
                start,
                end: i,
                part: Part::Context,
            });
            start = i;
        }
    }
    let prompt = Prompt {
        text,
        spans: Vec::new(),
        context: offset..context_end,
        question: context_end + 11..context_end + 15,
        gold: vec![Answer {
            text: "x".into(),
            start: offset + gold,
        }],
        answer_lang: Lang::En,
        question_lang: Lang::En,
        context_lang: Lang::En,
        sample_id: "made-up".into(),
        demo_ids: Vec::new(),
        options: PromptOptions::default(),
        chat: false,
    };
    (prompt, tokens)
}

/// log p is -1 with the key token present and -5 without it, plus 0.001 per prompt token
/// (so removing any sentence costs a little); every answer token scores the same.
struct KeyScorer {
    key: u32,
    /// Row lengths of each call.
    calls: RefCell<Vec<Vec<usize>>>,
}

impl KeyScorer {
    fn new(key: u32) -> KeyScorer {
        KeyScorer {
            key,
            calls: RefCell::new(Vec::new()),
        }
    }
}

impl SequenceScorer for KeyScorer {
    fn score_batch(
        &self,
        prompts: &[Vec<u32>],
        answer: &[u32],
    ) -> anyhow::Result<Vec<AnswerScore>> {
        self.calls
            .borrow_mut()
            .push(prompts.iter().map(Vec::len).collect());
        Ok(prompts
            .iter()
            .map(|p| {
                let step = if p.contains(&self.key) { -1.0 } else { -5.0 } + 0.001 * p.len() as f32;
                AnswerScore {
                    step,
                    sequence: step * answer.len() as f32,
                }
            })
            .collect())
    }
}

/// The id of a token whose first visible character (after its one leading space) lies in
/// sentence `s` of the context.
fn key_in_sentence(prompt: &Prompt, tokens: &[PromptToken], s: usize) -> u32 {
    let r = &split_sentences(CONTEXT, Lang::En)[s];
    let range = r.start + prompt.context.start..r.end + prompt.context.start;
    tokens
        .iter()
        .find(|t| range.contains(&(t.start + 1)))
        .unwrap()
        .id
}

/// Character of the context where sentence `s` starts its text.
fn sentence_char(s: usize) -> usize {
    split_sentences(CONTEXT, Lang::En)[s].start + 1
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    values
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0
}

#[test]
fn the_context_has_eight_sentences() {
    assert_eq!(split_sentences(CONTEXT, Lang::En).len(), 8);
}

/// The oracle on the word prompt with the gold answer in sentence `gold` and the scorer's
/// key token in sentence `key` (the decisive one), answering `answer`.
fn oracle_with_key(gold: usize, key: usize, answer: &[u32]) -> (Prompt, KeyScorer, OracleResult) {
    let (prompt, tokens) = word_prompt(CONTEXT, sentence_char(gold));
    let scorer = KeyScorer::new(key_in_sentence(&prompt, &tokens, key));
    let r = run_oracle(
        &scorer,
        &prompt,
        &tokens,
        Explained::span(answer),
        &OracleOptions::default(),
        None,
    )
    .unwrap();
    (prompt, scorer, r)
}

#[test]
fn a_decisive_gold_sentence_ranks_first_and_is_correct() {
    let (prompt, _, r) = oracle_with_key(5, 5, &[7, 8, 9]);
    assert_eq!(r.sentences.len(), 8);
    assert_eq!(r.gold_sentence, Some(5));
    assert!(r.sentences[5].contains_gold);
    assert_eq!(r.sentences.iter().filter(|s| s.contains_gold).count(), 1);
    assert_eq!(r.step_rank_of_gold, Some(1));
    assert_eq!(r.sequence_rank_of_gold, Some(1));
    assert_eq!(r.step_correct, Some(true));
    assert_eq!(r.sequence_correct, Some(true));
    let decisive = &r.sentences[5];
    let expected = 4.0 + 0.001 * decisive.tokens as f32;
    assert!((decisive.step_drop - expected).abs() < 1e-5, "{decisive:?}");
    assert!((decisive.sequence_drop - 3.0 * expected).abs() < 1e-4);
    for s in r.sentences.iter().filter(|s| s.index != 5) {
        assert!(s.step_drop > 0.0 && s.step_drop < 0.02, "{s:?}");
    }
    assert_eq!(r.answer_tokens, 3);
    assert_eq!(r.ablation, Ablation::Remove);
    // Sentence texts and ranges agree with the context.
    let joined: String = r.sentences.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(joined, CONTEXT);
    for s in &r.sentences {
        let in_prompt: String = prompt
            .text
            .chars()
            .skip(s.prompt_range.start)
            .take(s.prompt_range.len())
            .collect();
        assert_eq!(in_prompt, s.text);
    }
}

#[test]
fn a_decisive_sentence_elsewhere_makes_the_sample_incorrect() {
    let (_, _, r) = oracle_with_key(5, 2, &[7]);
    assert_eq!(argmax(r.sentences.iter().map(|s| s.step_drop)), 2);
    assert_eq!(argmax(r.sentences.iter().map(|s| s.sequence_drop)), 2);
    assert_eq!(r.gold_sentence, Some(5));
    assert!(r.step_rank_of_gold.unwrap() >= 2);
    assert_eq!(r.step_correct, Some(false));
    assert_eq!(r.sequence_correct, Some(false));
}

#[test]
fn no_gold_sentence_gives_no_verdict() {
    let (mut prompt, tokens) = word_prompt(CONTEXT, 0);
    prompt.gold[0].start = prompt.question.start;
    let scorer = KeyScorer::new(key_in_sentence(&prompt, &tokens, 0));
    let r = run_oracle(
        &scorer,
        &prompt,
        &tokens,
        Explained::span(&[7]),
        &OracleOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!(r.gold_sentence, None);
    assert_eq!((r.step_rank_of_gold, r.step_correct), (None, None));
    assert_eq!(r.sequence_correct, None);
    assert!(r.sentences.iter().all(|s| !s.contains_gold));
}

#[test]
fn batches_share_forwards_within_the_budget() {
    let (prompt, tokens) = word_prompt(CONTEXT, sentence_char(5));
    let key = key_in_sentence(&prompt, &tokens, 5);
    let answer = [7, 8];
    let row = tokens.len() + answer.len() - 1;
    let budget = 4 * row;
    let batched = KeyScorer::new(key);
    let options = OracleOptions {
        max_batch_tokens: budget,
        ..OracleOptions::default()
    };
    let a = run_oracle(
        &batched,
        &prompt,
        &tokens,
        Explained::span(&answer),
        &options,
        None,
    )
    .unwrap();
    assert_eq!(a.rows, 9, "the unperturbed prompt and 8 ablations");
    assert_eq!(a.forwards, 3);
    assert!(a.forwards < a.sentences.len() / 2);
    for call in batched.calls.borrow().iter() {
        let longest = call.iter().max().unwrap() + answer.len() - 1;
        assert!(call.len() * longest <= budget, "{call:?}");
    }

    // A budget under one row: one row per forward, same result.
    let single = KeyScorer::new(key);
    let tiny = OracleOptions {
        max_batch_tokens: 1,
        ..OracleOptions::default()
    };
    let b = run_oracle(
        &single,
        &prompt,
        &tokens,
        Explained::span(&answer),
        &tiny,
        None,
    )
    .unwrap();
    assert_eq!((b.forwards, b.rows), (9, 9));
    assert!(single.calls.borrow().iter().all(|c| c.len() == 1));
    assert_eq!(scores_only(a), scores_only(b));
}

/// The result without what depends on the batch plan and the clock.
fn scores_only(mut r: OracleResult) -> OracleResult {
    r.forwards = 0;
    r.elapsed_ms = 0.0;
    r
}

#[test]
fn baseline_ablation_keeps_every_row_length() {
    let (prompt, tokens) = word_prompt(CONTEXT, sentence_char(3));
    let scorer = KeyScorer::new(key_in_sentence(&prompt, &tokens, 3));
    let options = OracleOptions {
        ablation: Ablation::Baseline(0),
        ..OracleOptions::default()
    };
    let r = run_oracle(
        &scorer,
        &prompt,
        &tokens,
        Explained::span(&[7]),
        &options,
        None,
    )
    .unwrap();
    let lens: Vec<usize> = scorer.calls.borrow().iter().flatten().copied().collect();
    assert_eq!(lens.len(), 9);
    assert!(lens.iter().all(|&l| l == tokens.len()), "{lens:?}");
    // Only the key's presence changes the score now.
    for s in &r.sentences {
        let expected = if s.index == 3 { 4.0 } else { 0.0 };
        assert!((s.step_drop - expected).abs() < 1e-5, "{s:?}");
    }
    assert_eq!(r.ablation, Ablation::Baseline(0));
    assert_eq!(r.step_correct, Some(true));
}

#[test]
fn an_empty_answer_and_cancellation_are_errors() {
    let (prompt, tokens) = word_prompt(CONTEXT, 0);
    let scorer = KeyScorer::new(1);
    let err = run_oracle(
        &scorer,
        &prompt,
        &tokens,
        Explained::span(&[]),
        &OracleOptions::default(),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    let cancel = AtomicBool::new(true);
    let err = run_oracle(
        &scorer,
        &prompt,
        &tokens,
        Explained::span(&[7]),
        &OracleOptions::default(),
        Some(&cancel),
    )
    .unwrap_err();
    assert!(err.is::<OracleCancelled>());
    assert!(err.to_string().contains("cancelled"));
    assert!(
        scorer.calls.borrow().is_empty(),
        "no forward after a cancel"
    );
}

#[test]
fn results_and_options_round_trip_through_json() {
    let (_, _, r) = oracle_with_key(1, 1, &[7]);
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<OracleResult>(&json).unwrap(), r);
    let options = OracleOptions {
        ablation: Ablation::Baseline(3),
        max_batch_tokens: 99,
        prefix_cache: false,
    };
    let json = serde_json::to_string(&options).unwrap();
    assert_eq!(
        json,
        r#"{"ablation":{"baseline":3},"max_batch_tokens":99,"prefix_cache":false}"#
    );
    assert_eq!(
        serde_json::from_str::<OracleOptions>(&json).unwrap(),
        options
    );
    assert_eq!(
        serde_json::from_str::<OracleOptions>("{}").unwrap(),
        OracleOptions::default()
    );
}

// ------------------------------------------------------------------------------------------
// tiny-llama.

fn tiny_llama() -> LoadedModel {
    let mut spec = ModelSpec::new(ModelRef::Local(tiny_model_dir("llama")));
    spec.chat = ChatMode::Off;
    LoadedModel::load(&spec).unwrap()
}

fn mini_data() -> Dataset {
    load_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xquad-mini"),
        &LoadOptions::default(),
    )
    .unwrap()
}

/// A raw en-en prompt of sample `index`, its tokens and 6 greedy answer tokens.
fn real_prompt(
    m: &LoadedModel,
    data: &Dataset,
    index: usize,
    shots: u8,
) -> (Prompt, Vec<PromptToken>, Vec<u32>) {
    let options = PromptOptions {
        setting: Setting {
            scenario: Scenario::EnEn,
            lang: Lang::En,
            shots,
            ..Setting::default()
        },
        ..PromptOptions::default()
    };
    let prompt = build_prompt(data, index, &options, None).unwrap();
    let tokens = tokenize_prompt(&prompt, &m.tokenizer).unwrap();
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let mut gen = m.generate_options();
    gen.stop_ids.clear();
    gen.stop_at_newline = false;
    gen.max_new_tokens = 6;
    let answer = m.generate(&ids, &gen, None, &mut |_| {}).unwrap().ids;
    (prompt, tokens, answer)
}

fn assert_close(a: &OracleResult, b: &OracleResult, tol: f32) {
    assert!((a.base_step - b.base_step).abs() < tol);
    assert!((a.base_sequence - b.base_sequence).abs() < tol);
    assert_eq!(a.sentences.len(), b.sentences.len());
    for (x, y) in a.sentences.iter().zip(&b.sentences) {
        assert_eq!((x.tokens, &x.text), (y.tokens, &y.text));
        assert!(
            (x.step_drop - y.step_drop).abs() < tol
                && (x.sequence_drop - y.sequence_drop).abs() < tol,
            "{x:?} vs {y:?}"
        );
    }
}

/// log p of `answer` after `ids`, straight from one unpadded forward_diff.
fn direct_scores(m: &LoadedModel, ids: &[u32], answer: &[u32]) -> (f32, f32) {
    let mut row = ids.to_vec();
    row.extend_from_slice(&answer[..answer.len() - 1]);
    let logits = m
        .decoder
        .forward_diff(&DiffInput::single(&row))
        .unwrap()
        .logits;
    let log_probs = candle_nn::ops::log_softmax(&logits.i(0).unwrap(), D::Minus1).unwrap();
    let picked: Vec<f32> = answer
        .iter()
        .enumerate()
        .map(|(j, &a)| {
            log_probs
                .i((ids.len() - 1 + j, a as usize))
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .collect();
    (picked[0], picked.iter().sum())
}

#[test]
fn tiny_llama_batched_oracle_equals_one_forward_per_ablation() {
    let m = tiny_llama();
    let data = mini_data();
    for (index, shots) in [(0, 0), (6, 2)] {
        let (prompt, tokens, answer) = real_prompt(&m, &data, index, shots);
        assert_eq!(answer.len(), 6);
        for ablation in [Ablation::Remove, Ablation::Baseline(0)] {
            let batched = OracleOptions {
                ablation,
                ..OracleOptions::default()
            };
            let alone = OracleOptions {
                ablation,
                max_batch_tokens: 1,
                ..OracleOptions::default()
            };
            let a = run_oracle(
                &m.decoder,
                &prompt,
                &tokens,
                Explained::span(&answer),
                &batched,
                None,
            )
            .unwrap();
            let b = run_oracle(
                &m.decoder,
                &prompt,
                &tokens,
                Explained::span(&answer),
                &alone,
                None,
            )
            .unwrap();
            assert_eq!(a.forwards, 1, "everything fits one forward");
            assert_eq!(b.forwards, b.rows);
            assert!(a.sentences.len() >= 3);
            assert_close(&a, &b, 1e-4);
            assert_eq!(a.gold_sentence, b.gold_sentence);
            assert!(a.gold_sentence.is_some());

            // Reusing the unperturbed prompt's cache for each unchanged prefix gives the
            // same drops while running far fewer tokens.
            let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
            let cached = PrefixCachedScorer::new(&m.decoder, &ids).unwrap();
            let c = run_oracle(
                &cached,
                &prompt,
                &tokens,
                Explained::span(&answer),
                &batched,
                None,
            )
            .unwrap();
            assert_close(&a, &c, 1e-4);
            let run = cached.tokens_computed();
            assert!(
                run * 10 < c.naive_tokens * 7,
                "{shots}-shot: {run} tokens run of {} for full forwards",
                c.naive_tokens
            );

            // The scorer reads the right positions: base scores equal a hand computation.
            let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
            let (step, sequence) = direct_scores(&m, &ids, &answer);
            assert!(
                (a.base_step - step).abs() < 1e-4,
                "{} vs {step}",
                a.base_step
            );
            assert!((a.base_sequence - sequence).abs() < 1e-4);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Real XQuAD, when the environment names it.

fn real_data() -> Option<Dataset> {
    let dir = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty())?;
    Some(load_dir(Path::new(&dir), &LoadOptions::default()).unwrap())
}

#[test]
fn sentences_of_every_xquad_context_are_plausible() {
    let Some(data) = real_data() else {
        eprintln!("note: {DATA_DIR_ENV} is not set; skipping the sentence checks on XQuAD");
        return;
    };
    for lang in Lang::ALL {
        let mut counts = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for sample in &data.samples {
            let entry = sample.entry(lang).unwrap();
            let ranges = split_sentences(&entry.context, lang);
            let n = entry.context.chars().count();
            assert_eq!(ranges.first().unwrap().start, 0);
            assert_eq!(ranges.last().unwrap().end, n);
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
            let chars: Vec<char> = entry.context.chars().collect();
            assert!(ranges
                .iter()
                .all(|r| chars[r.clone()].iter().any(|c| !c.is_whitespace())));
            for answer in &entry.answers {
                let holding = ranges.iter().filter(|r| r.contains(&answer.start)).count();
                assert_eq!(holding, 1, "{lang} {}", sample.id);
            }
            if seen.insert(entry.context.as_str()) {
                counts.push(ranges.len());
            }
        }
        counts.sort_unstable();
        let median = counts[counts.len() / 2];
        let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
        eprintln!(
            "{lang}: sentences per context: min {} median {median} mean {mean:.1} max {}",
            counts[0],
            counts[counts.len() - 1]
        );
        let plausible = if lang == Lang::Th { 3..=20 } else { 3..=12 };
        assert!(plausible.contains(&median), "{lang}: median {median}");
        assert!(
            counts[0] >= 1 && counts[counts.len() - 1] <= 60,
            "{lang}: {counts:?}"
        );
    }
}

#[test]
fn oracle_cost_on_a_real_context() {
    let m = tiny_llama();
    let (data, source) = match real_data() {
        Some(d) => (d, "XQuAD"),
        None => (
            mini_data(),
            "xquad-mini (set XMRC_LENS_DATA for a real context)",
        ),
    };
    let (prompt, tokens, answer) = real_prompt(&m, &data, 0, 0);
    let row = tokens.len() + answer.len() - 1;
    // Budgets of 1 (one row per forward), 2 and 4 rows, and the default (all rows here).
    let budgets = [
        1,
        2 * row,
        4 * row,
        OracleOptions::default().max_batch_tokens,
    ];
    let mut best = [f64::INFINITY; 4];
    let mut results: Vec<Option<OracleResult>> = vec![None; 4];
    // Alternate the budgets and keep each one's fastest of three runs (the machine is shared).
    for _ in 0..3 {
        for (k, &max_batch_tokens) in budgets.iter().enumerate() {
            let options = OracleOptions {
                max_batch_tokens,
                ..OracleOptions::default()
            };
            let t = Instant::now();
            let r = run_oracle(
                &m.decoder,
                &prompt,
                &tokens,
                Explained::span(&answer),
                &options,
                None,
            )
            .unwrap();
            best[k] = best[k].min(t.elapsed().as_secs_f64() * 1e3);
            results[k] = Some(r);
        }
    }
    let results: Vec<OracleResult> = results.into_iter().map(Option::unwrap).collect();
    eprintln!(
        "oracle cost on {source} sample 0 (tiny-llama, CPU, f32): {} prompt tokens, {} answer \
         tokens, {} sentences, {} rows",
        tokens.len(),
        answer.len(),
        results[0].sentences.len(),
        results[0].rows
    );
    for ((r, ms), budget) in results.iter().zip(best).zip(budgets) {
        assert_close(&results[0], r, 1e-4);
        eprintln!(
            "  max_batch_tokens {budget:>6}: {} forward(s), {ms:.1} ms",
            r.forwards
        );
    }
    // The default: the unperturbed prompt's KV cache reused for every unchanged prefix.
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    let mut fastest = f64::INFINITY;
    let mut cached_result = None;
    for _ in 0..3 {
        let t = Instant::now();
        let scorer = PrefixCachedScorer::new(&m.decoder, &ids).unwrap();
        let r = run_oracle(
            &scorer,
            &prompt,
            &tokens,
            Explained::span(&answer),
            &OracleOptions::default(),
            None,
        )
        .unwrap();
        fastest = fastest.min(t.elapsed().as_secs_f64() * 1e3);
        cached_result = Some((r, scorer.tokens_computed()));
    }
    let (r, run) = cached_result.unwrap();
    assert_close(&results[0], &r, 1e-4);
    let single = Instant::now();
    m.decoder
        .forward_fast(&ids, &mut m.decoder.new_cache())
        .unwrap();
    let single = single.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "  prefix cache: {run} of {} tokens run, {fastest:.1} ms; one fast forward of the prompt          {single:.1} ms (x {} rows = {:.1} ms)",
        r.naive_tokens,
        r.rows,
        single * r.rows as f64
    );
}

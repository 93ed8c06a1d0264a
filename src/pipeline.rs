//! `trace_sample`: one sample (or any text) through every instrument — prompt, greedy
//! answer and scores, labels, AttnLRP relevance and MRD, hidden-state similarity, sentence
//! oracle — into one serialisable [`SampleTrace`]. The TUI worker, `xmrc-lens trace` and
//! `xmrc-lens eval` all call it, so every number a view shows can be reproduced headless.

use crate::attribution::mrd::{display_rows, part_mrd, token_mrd, MrdOptions, PartMrd};
use crate::attribution::oracle::{
    run_oracle, Explained, OracleOptions, OracleResult, PrefixCachedScorer,
};
use crate::attribution::relevance::{attribute_after, Relevance, RelevanceOptions};
use crate::attribution::target::{answer_target, AnswerTarget, TargetBasis, TargetChoice};
use crate::data::prompt::{
    build_prompt, tokenize_prompt, Part, Prompt, PromptOptions, PromptToken, Scenario,
};
use crate::data::{Dataset, Lang};
use crate::eval::extract::extract_answer;
use crate::eval::gen_error::{classify_by_rules, GenerationLabel};
use crate::eval::judge::judge_with_model;
use crate::eval::langid;
use crate::eval::score::{score_both, Score};
use crate::model::decoder::{KvCache, Recording};
use crate::model::generate::{
    generate_recording, GenStep, GenerateOptions, Generation, TopToken, DEFAULT_MAX_NEW_TOKENS,
};
use crate::model::LoadedModel;
use crate::similarity::pool::{pool_hidden_states, HiddenSummary};
use crate::similarity::reference::{ReferencePool, SampleSimilarity};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Version of the [`SampleTrace`] JSON layout. Version 2 added `target` (what relevance and
/// the oracle explain); version 3 labels prompt markup (labels, blank lines, the answer cue,
/// chat role markers) as the part `markup` instead of the context, question, task, system or
/// trailer it sat next to. Older traces still load, with their own labels.
pub const TRACE_VERSION: u32 = 3;

/// Logits kept at the last prompt position.
pub const TOP_LOGITS: usize = crate::model::generate::PROMPT_TOP;

/// What is traced.
pub enum TraceInput<'a> {
    /// An XQuAD sample built into a prompt (scenario, language, shots, format...).
    Sample {
        data: &'a Dataset,
        index: usize,
        options: PromptOptions,
    },
    /// Any text: raw, or as one user turn of the model's chat template with `chat`.
    Text { text: String, chat: bool },
}

/// When generation stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopMode {
    /// EOS / end-of-turn tokens, or the first line break after answer text (the paper's).
    #[default]
    Default,
    /// EOS / end-of-turn tokens only.
    Eos,
    /// Only the token limit.
    None,
}

impl FromStr for StopMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(StopMode::Default),
            "eos" => Ok(StopMode::Eos),
            "none" => Ok(StopMode::None),
            _ => Err(format!("unknown stop mode '{s}'; use default, eos or none")),
        }
    }
}

/// Which instruments run, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceOptions {
    pub max_new_tokens: usize,
    pub stop: StopMode,
    /// Alternatives kept per generated step.
    pub top_k: usize,
    /// AttnLRP relevance and MRD.
    pub relevance: Option<RelevanceOptions>,
    pub mrd: MrdOptions,
    /// Cross-lingual similarity (needs a sample in a scenario other than en-en).
    pub similarity: bool,
    pub oracle: Option<OracleOptions>,
    /// Per level, the mean over positions and the last-position hidden vector.
    pub dump_hidden: bool,
    /// What relevance and the oracle explain: the answer span (default) or the first
    /// generated token (the old target).
    pub explain: TargetChoice,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            max_new_tokens: DEFAULT_MAX_NEW_TOKENS,
            stop: StopMode::Default,
            top_k: 5,
            relevance: Some(RelevanceOptions::default()),
            mrd: MrdOptions::default(),
            similarity: true,
            oracle: Some(OracleOptions::default()),
            dump_hidden: false,
            explain: TargetChoice::AnswerSpan,
        }
    }
}

/// Progress of a trace, in the order stages run.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    Stage(Stage),
    /// One generated token.
    Token(GenStep),
    /// The trace so far, after the answer is scored and after each later stage finishes
    /// (fields of stages still to run are `None`), so a viewer can fill in as results arrive.
    Partial(Box<SampleTrace>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Prompt,
    Generate,
    Labels,
    Relevance,
    Similarity,
    Oracle,
    Judge,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Stage::Prompt => "prompt",
            Stage::Generate => "generate",
            Stage::Labels => "labels",
            Stage::Relevance => "relevance",
            Stage::Similarity => "similarity",
            Stage::Oracle => "oracle",
            Stage::Judge => "judge",
        };
        f.write_str(name)
    }
}

/// The model that produced a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub family: String,
    pub architecture: String,
    pub layers: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
    pub device: String,
    pub dtype: String,
    pub chat: bool,
    /// Bytes of the weight files (mapped, not copied, on the CPU; a GGUF file's size, its
    /// weights dequantized in memory).
    #[serde(default)]
    pub weight_bytes: u64,
    /// A GGUF model's file name, tensor types and size; absent for a safetensors folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gguf: Option<crate::model::gguf::GgufSummary>,
}

impl ModelIdentity {
    pub fn of(model: &LoadedModel) -> ModelIdentity {
        let c = &model.config;
        ModelIdentity {
            name: model.name.clone(),
            family: format!("{:?}", c.family).to_lowercase(),
            architecture: c.architecture.clone(),
            layers: c.num_layers,
            hidden_size: c.hidden_size,
            vocab_size: c.vocab_size,
            device: model.describe_device(),
            dtype: format!("{:?}", model.dtype).to_lowercase(),
            chat: model.is_chat(),
            weight_bytes: model
                .files
                .weight_files()
                .iter()
                .filter_map(|w| std::fs::metadata(w).ok())
                .map(|m| m.len())
                .sum(),
            gguf: model.gguf.clone(),
        }
    }
}

/// Labels of the answer: language error (en-x) and generation errors by each judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Language Lingua detects in the extracted answer (None: no letters or undecided).
    pub detected_lang: Option<Lang>,
    /// Gold in the answer language, prediction in the question language; None where the
    /// two languages are the same (no such error exists) or for free text.
    pub language_error: Option<bool>,
    /// The rule-based classifier's label; always present.
    pub generation: GenerationLabel,
    /// The LLM judge's label, when one was asked.
    pub judge: Option<GenerationLabel>,
}

/// Relevance with its display form and MRDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelevanceTrace {
    #[serde(flatten)]
    pub relevance: Relevance,
    /// Each level's row divided by its own max |R| (-1..1).
    pub display: Vec<Vec<f32>>,
    /// Token MRD (None: no relevance on any counted layer) over layers 1..N.
    pub token_mrd: Vec<Option<usize>>,
    pub part_mrd: PartMrd,
}

/// Per level, hidden-state vectors of the traced prompt (`--dump hidden`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HiddenDump {
    /// Mean over all prompt positions.
    pub mean: Vec<f32>,
    /// The last prompt position.
    pub last: Vec<f32>,
}

/// Wall time per stage, in milliseconds (absent: the stage did not run).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimings {
    pub prompt_ms: f64,
    pub generate_ms: f64,
    pub labels_ms: f64,
    pub relevance_ms: Option<f64>,
    pub similarity_ms: Option<f64>,
    pub oracle_ms: Option<f64>,
    pub judge_ms: Option<f64>,
    pub total_ms: f64,
}

/// Everything known about one traced sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleTrace {
    pub version: u32,
    pub model: ModelIdentity,
    /// The prompt with its part spans, gold answers and options; None for free text.
    pub prompt: Option<Prompt>,
    /// The prompt text traced (also for free text).
    pub text: String,
    pub tokens: Vec<PromptToken>,
    /// Top-20 (id, piece, logit, prob) at the last prompt position.
    pub top_logits: Vec<TopToken>,
    pub generation: Generation,
    /// Greedy ids (= `generation.ids`, repeated for scripts that want them at the top).
    pub greedy_ids: Vec<u32>,
    /// The answer as scored: the text after `Answer:`, first line, trimmed.
    pub answer: String,
    pub gold: Vec<String>,
    /// F1/EM under both normalisers (squad, then mlqa), for samples.
    pub scores: Option<Vec<Score>>,
    pub labels: Labels,
    pub relevance: Option<RelevanceTrace>,
    /// Pooled question/context/last-token vectors per level (input of the similarity).
    pub hidden: Option<HiddenSummary>,
    pub hidden_dump: Option<Vec<HiddenDump>>,
    /// Cosine to the en-en run of the same sample per level, and S(en,x) against the pool.
    pub similarity: Option<SampleSimilarity>,
    pub oracle: Option<OracleResult>,
    /// What relevance and the oracle explained: the answer span and its teacher-forced
    /// prefix (absent in version-1 traces, which explained the first generated token).
    #[serde(default)]
    pub target: Option<AnswerTarget>,
    pub timings: StageTimings,
}

impl SampleTrace {
    /// The tokens relevance has a column for: the prompt's, then the answer prefix fed back
    /// as input.
    pub fn relevance_tokens(&self) -> Vec<PromptToken> {
        let mut tokens = self.tokens.clone();
        if let Some(target) = &self.target {
            tokens.extend(target.prefix.iter().cloned());
        }
        tokens
    }
}

/// Everything `trace_sample` needs besides the input.
pub struct TraceContext<'a> {
    pub model: &'a LoadedModel,
    /// An instruct model asked for generation-error labels (appendix A.2 prompt).
    pub judge: Option<&'a LoadedModel>,
    /// Reference pool for S(en,x); the traced sample's summary is added to it.
    pub pool: Option<&'a mut ReferencePool>,
    /// Where the similarity stage gets the pooled hidden states of the sample's en-en run
    /// with the same shots and format.
    pub en_hidden: EnHidden<'a>,
    /// The answer, already generated for this prompt with [`generation_options`] (a batch
    /// of prompts decoded together); else it is generated here.
    pub pregenerated: Option<Pregenerated>,
    pub cancel: Option<&'a AtomicBool>,
}

/// The source of a sample's en-en summary for the similarity stage.
pub enum EnHidden<'a> {
    /// Computed by the stage (one en-en forward).
    Compute,
    /// Known already (batch runs trace en-en first).
    Given(&'a HiddenSummary),
    /// Asked for when the stage runs, after the answer has streamed, so that the en-en
    /// forward never delays the first token: the explorer's worker answers from its memo or
    /// computes and remembers it.
    OnDemand(&'a mut dyn FnMut() -> Result<HiddenSummary>),
}

impl<'a> TraceContext<'a> {
    /// One model on its own: no judge, no pool, nothing precomputed.
    pub fn alone(model: &'a LoadedModel, cancel: Option<&'a AtomicBool>) -> Self {
        TraceContext {
            model,
            judge: None,
            pool: None,
            en_hidden: EnHidden::Compute,
            pregenerated: None,
            cancel,
        }
    }
}

/// A generation made outside `trace_sample`, with the KV cache of its prompt.
pub struct Pregenerated {
    pub generation: Generation,
    pub cache: KvCache,
    /// This prompt's share of the time spent generating (a batch's time over its rows).
    pub generate_ms: f64,
}

/// The generation options `trace_sample` uses for `options`.
pub fn generation_options(model: &LoadedModel, options: &TraceOptions) -> GenerateOptions {
    let mut gen_options = model.generate_options();
    gen_options.max_new_tokens = options.max_new_tokens;
    gen_options.top_k = options.top_k.max(1);
    gen_options.stop_at_newline = options.stop == StopMode::Default;
    if options.stop == StopMode::None {
        gen_options.stop_ids.clear();
    }
    gen_options
}

/// The token ids of a sample's prompt, as `trace_sample` builds them.
pub fn prompt_ids(
    model: &LoadedModel,
    data: &Dataset,
    index: usize,
    options: &PromptOptions,
) -> Result<Vec<u32>> {
    let prompt = build_prompt(data, index, options, model.chat_template.as_ref())?;
    Ok(tokenize_prompt(&prompt, &model.tokenizer)?
        .iter()
        .map(|t| t.id)
        .collect())
}

fn check_cancel(cancel: Option<&AtomicBool>) -> Result<()> {
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        bail!("cancelled");
    }
    Ok(())
}

fn elapsed_ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The prompt, its tokens and their ids for a trace input.
struct Built {
    prompt: Option<Prompt>,
    text: String,
    tokens: Vec<PromptToken>,
}

fn build(model: &LoadedModel, input: &TraceInput) -> Result<Built> {
    match input {
        TraceInput::Sample {
            data,
            index,
            options,
        } => {
            let prompt = build_prompt(data, *index, options, model.chat_template.as_ref())?;
            let tokens = tokenize_prompt(&prompt, &model.tokenizer)?;
            Ok(Built {
                text: prompt.text.clone(),
                prompt: Some(prompt),
                tokens,
            })
        }
        TraceInput::Text { text, chat } => {
            let (text, raw) = match (chat, &model.chat_template) {
                (true, Some(template)) => (template.render_user_turn(text, None)?.text, false),
                (true, None) => bail!(
                    "--chat: the model {} has no chat template to wrap the text in",
                    model.name
                ),
                (false, _) => (text.clone(), true),
            };
            let encoded = model.tokenizer.encode(&text, raw)?;
            let tokens = encoded
                .ids
                .iter()
                .zip(&encoded.offsets)
                .map(|(&id, &(start, end))| PromptToken {
                    id,
                    piece: model.tokenizer.display_piece(id),
                    start,
                    end,
                    part: Part::Task,
                })
                .collect();
            Ok(Built {
                prompt: None,
                text,
                tokens,
            })
        }
    }
}

/// Traces one input through every instrument `options` asks for. `progress` hears each
/// stage as it starts and each generated token.
pub fn trace_sample(
    mut ctx: TraceContext,
    input: &TraceInput,
    options: &TraceOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<SampleTrace> {
    let total = Instant::now();
    let model = ctx.model;
    let cancel = ctx.cancel;
    let mut timings = StageTimings::default();
    let mut pregenerated_ms = 0.0;

    progress(Progress::Stage(Stage::Prompt));
    let t = Instant::now();
    let built = build(model, input)?;
    let ids: Vec<u32> = built.tokens.iter().map(|t| t.id).collect();
    if ids.is_empty() {
        bail!("the prompt has no tokens");
    }
    // Before any forward: a prompt longer than the context window is an error, not garbage.
    model.config.check_fits(ids.len())?;
    timings.prompt_ms = elapsed_ms(t);

    check_cancel(cancel)?;
    progress(Progress::Stage(Stage::Generate));
    let t = Instant::now();
    // Relevance and the hidden states need the prompt's recorded forward: the generation's
    // prefill records it, so the prompt runs forward once, not twice.
    let needs_states =
        matches!(input, TraceInput::Sample { .. }) && options.similarity || options.dump_hidden;
    let record_prefill = options.relevance.is_some() || needs_states;
    let mut prefill_recording: Option<Recording> = None;
    let (generation, gen_cache) = match ctx.pregenerated {
        Some(pre) => {
            if pre.cache.len() < ids.len() {
                bail!(
                    "the pregenerated answer's cache holds {} tokens, the prompt {}",
                    pre.cache.len(),
                    ids.len()
                );
            }
            pregenerated_ms = pre.generate_ms;
            (pre.generation, pre.cache)
        }
        None => {
            let (generation, cache, recording) = generate_recording(
                &model.decoder,
                &model.tokenizer,
                &ids,
                &generation_options(model, options),
                cancel,
                &mut |step| progress(Progress::Token(step.clone())),
                record_prefill,
            )?;
            prefill_recording = recording;
            (generation, cache)
        }
    };
    // The oracle reuses the prompt's keys and values; nothing else needs the cache.
    let gen_cache = (options.oracle.as_ref().is_some_and(|o| o.prefix_cache)
        && built.prompt.is_some())
    .then_some(gen_cache);
    check_cancel(cancel)?;
    timings.generate_ms = elapsed_ms(t) + pregenerated_ms;
    let answer = extract_answer(&generation.text);

    progress(Progress::Stage(Stage::Labels));
    let t = Instant::now();
    let gold: Vec<String> = built
        .prompt
        .as_ref()
        .map(|p| p.gold.iter().map(|a| a.text.clone()).collect())
        .unwrap_or_default();
    let scores = built
        .prompt
        .as_ref()
        .map(|p| score_both(&answer, &gold, p.answer_lang).to_vec());
    let language_error = built.prompt.as_ref().and_then(|p| {
        langid::language_error_with_gold(
            &answer,
            gold.first().map_or("", String::as_str),
            p.answer_lang,
            p.question_lang,
        )
    });
    let labels = Labels {
        detected_lang: langid::detect(&answer),
        language_error,
        generation: classify_by_rules(&generation.text, &answer),
        judge: None,
    };
    timings.labels_ms = elapsed_ms(t);
    // From here the trace fills in stage by stage; each finished stage is reported.
    let mut trace = SampleTrace {
        version: TRACE_VERSION,
        model: ModelIdentity::of(model),
        prompt: built.prompt,
        text: built.text,
        tokens: built.tokens,
        top_logits: generation.prompt_top.clone(),
        greedy_ids: generation.ids.clone(),
        generation,
        answer,
        gold,
        scores,
        labels,
        relevance: None,
        hidden: None,
        hidden_dump: None,
        similarity: None,
        oracle: None,
        target: None,
        timings,
    };
    let partial = |trace: &SampleTrace, progress: &mut dyn FnMut(Progress)| {
        progress(Progress::Partial(Box::new(trace.clone())));
    };
    partial(&trace, progress);

    // What relevance and the oracle explain: the answer span, its prefix teacher-forced
    // (or the first generated token, when asked; or, when the model stopped at once, the
    // token it stopped with: the top-1 at the last prompt position).
    if options.relevance.is_some() || (options.oracle.is_some() && trace.prompt.is_some()) {
        trace.target = Some(explain_target(model, &ids, &trace, options.explain)?);
    }
    let mut recording: Option<Recording> = None;
    if let (Some(rel_options), Some(target)) = (&options.relevance, &trace.target) {
        check_cancel(cancel)?;
        progress(Progress::Stage(Stage::Relevance));
        let t = Instant::now();
        let mut input = ids.clone();
        input.extend(target.prefix_ids());
        let attribution = attribute_after(
            &model.decoder,
            prefill_recording.take(),
            &input,
            &target.span_ids,
            rel_options,
            cancel,
        )?;
        let matrix = &attribution.relevance.raw;
        let labels_per_token: Vec<Part> = trace.relevance_tokens().iter().map(|t| t.part).collect();
        trace.relevance = Some(RelevanceTrace {
            display: display_rows(matrix),
            token_mrd: token_mrd(matrix, &options.mrd)?,
            part_mrd: part_mrd(matrix, &labels_per_token, &options.mrd)?,
            relevance: attribution.relevance,
        });
        recording = Some(attribution.recording);
        trace.timings.relevance_ms = Some(elapsed_ms(t));
        partial(&trace, progress);
    }
    // Hidden states are needed for the similarity and the dump (the generation's recorded
    // prefill when it ran); answer-only traces skip the forward altogether.
    let recording = match (recording, prefill_recording) {
        (Some(r), _) => Some(r),
        (None, Some(prefill)) if needs_states => Some(prefill),
        (None, _) if needs_states => Some(model.decoder.record(&ids)?),
        (None, _) => None,
    };
    let prompt_len = ids.len();
    let states = match &recording {
        Some(rec) => prompt_hidden_states(rec, prompt_len)?,
        None => Vec::new(),
    };
    drop(recording);
    if options.dump_hidden {
        trace.hidden_dump = Some(dump_hidden(&states)?);
    }

    if let TraceInput::Sample {
        data,
        index,
        options: prompt_options,
    } = input
    {
        if options.similarity {
            check_cancel(cancel)?;
            let t = Instant::now();
            progress(Progress::Stage(Stage::Similarity));
            let summary = pool_hidden_states(&states, &trace.tokens)?;
            if prompt_options.scenario != Scenario::EnEn {
                let computed;
                let en = match &mut ctx.en_hidden {
                    EnHidden::Given(en) => *en,
                    EnHidden::OnDemand(ask) => {
                        computed = ask()?;
                        &computed
                    }
                    EnHidden::Compute => {
                        let en_options = PromptOptions {
                            scenario: Scenario::EnEn,
                            ..prompt_options.clone()
                        };
                        computed = prompt_summary(model, data, *index, &en_options, cancel)?;
                        &computed
                    }
                };
                let id = data
                    .get(*index)
                    .map(|s| s.id.clone())
                    .context("sample index out of range")?;
                let id = &id;
                let lang = prompt_options.lang;
                // A typed-in sample is compared with the pool but never joins it.
                let custom = data.get(*index).is_some_and(|s| s.custom);
                let view = match ctx.pool {
                    Some(pool) => {
                        if !custom {
                            pool.add(lang, id, &summary)?;
                        }
                        pool.sample_view(lang, id, en, &summary)?
                    }
                    None => ReferencePool::new().sample_view(lang, id, en, &summary)?,
                };
                trace.similarity = Some(view);
            }
            trace.hidden = Some(summary);
            trace.timings.similarity_ms = Some(elapsed_ms(t));
            partial(&trace, progress);
        }
    }
    drop(states);

    if let (Some(oracle_options), Some(prompt), Some(target)) =
        (&options.oracle, &trace.prompt, &trace.target)
    {
        check_cancel(cancel)?;
        progress(Progress::Stage(Stage::Oracle));
        let t = Instant::now();
        let explained = Explained {
            prefix: &target.prefix_ids(),
            span: &target.span_ids,
        };
        let result = if let Some(cache) = &gen_cache {
            let scorer =
                PrefixCachedScorer::from_cache(&model.decoder, &ids, cache)?.with_cancel(cancel);
            let mut result = run_oracle(
                &scorer,
                prompt,
                &trace.tokens,
                explained,
                oracle_options,
                cancel,
            )?;
            result.tokens_run = Some(scorer.tokens_computed());
            result
        } else {
            run_oracle(
                &model.decoder,
                prompt,
                &trace.tokens,
                explained,
                oracle_options,
                cancel,
            )?
        };
        trace.timings.oracle_ms = Some(elapsed_ms(t));
        trace.oracle = Some(result);
    }

    if let Some(judge) = ctx.judge {
        check_cancel(cancel)?;
        progress(Progress::Stage(Stage::Judge));
        let t = Instant::now();
        let question = trace
            .prompt
            .as_ref()
            .map(|p| {
                p.text
                    .chars()
                    .skip(p.question.start)
                    .take(p.question.len())
                    .collect()
            })
            .unwrap_or_else(|| trace.text.clone());
        trace.labels.judge = Some(
            judge_with_model(judge, &question, &trace.generation.text)
                .with_context(|| format!("asking the judge {}", judge.name))?,
        );
        trace.timings.judge_ms = Some(elapsed_ms(t));
    }
    trace.timings.total_ms = elapsed_ms(total) + pregenerated_ms;
    Ok(trace)
}

/// The generated ids, or the token the model stopped with when it generated nothing.
/// The explained tokens of a trace: the answer span (or the first generated token), or,
/// when nothing was generated, the token the model stopped with.
fn explain_target(
    model: &LoadedModel,
    ids: &[u32],
    trace: &SampleTrace,
    choice: TargetChoice,
) -> Result<AnswerTarget> {
    let generation = &trace.generation;
    if !generation.ids.is_empty() {
        let prompt_chars = trace.text.chars().count();
        return answer_target(
            &model.tokenizer,
            &generation.ids,
            &generation.text,
            choice,
            prompt_chars,
        );
    }
    let rec = model.decoder.record(ids)?;
    let logits = model.decoder.logits_at(&rec, &[ids.len() - 1])?;
    let stop = logits.flatten_all()?.argmax(0)?.to_scalar::<u32>()?;
    Ok(AnswerTarget::bare(
        choice,
        TargetBasis::StopToken,
        vec![stop],
    ))
}

/// The prompt's hidden states, transformers' convention, each `[1, prompt_len, hidden]`.
fn prompt_hidden_states(rec: &Recording, prompt_len: usize) -> Result<Vec<Tensor>> {
    rec.hidden_states()
        .iter()
        .map(|h| Ok(h.narrow(0, 0, prompt_len)?.unsqueeze(0)?))
        .collect()
}

fn dump_hidden(states: &[Tensor]) -> Result<Vec<HiddenDump>> {
    states
        .iter()
        .map(|h| {
            let h = h.squeeze(0)?.to_dtype(DType::F32)?;
            let t = h.dim(0)?;
            Ok(HiddenDump {
                mean: h.mean(0)?.to_vec1()?,
                last: h.get(t - 1)?.to_vec1()?,
            })
        })
        .collect()
}

/// Pooled hidden states of one sample's prompt under `options` (one forward, no generation);
/// `cancel` is checked before every layer.
pub fn prompt_summary(
    model: &LoadedModel,
    data: &Dataset,
    index: usize,
    options: &PromptOptions,
    cancel: Option<&AtomicBool>,
) -> Result<HiddenSummary> {
    let prompt = build_prompt(data, index, options, model.chat_template.as_ref())?;
    let tokens = tokenize_prompt(&prompt, &model.tokenizer)?;
    let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
    model.config.check_fits(ids.len())?;
    let rec = model.decoder.record_until(&ids, cancel)?;
    let states = prompt_hidden_states(&rec, ids.len())?;
    pool_hidden_states(&states, &tokens)
}

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
        if pool.add(options.lang, id, &summary)? {
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

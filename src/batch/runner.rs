//! The eval loop: for each model, each unit of the plan not yet in the results file goes
//! through `trace_sample`, and its compact record is appended at once.
//!
//! Models load one at a time, and not at all when all their units are done. A sample's en-en
//! hidden states are kept (the pipeline's memo) while its en-x/x-x units run, so similarity
//! costs no extra forward.
//! The reference-pool sidecar is rewritten every `pool_every` units and at the end; units
//! that reached the results file but not the sidecar (a crash in between) get their pooled
//! states recomputed (one forward each) when the run resumes.

use super::record::{
    PoolFile, PoolKey, ResultLine, RunHeader, RunSettings, UnitRecord, RESULTS_VERSION,
};
use super::results_file::{read_pool, write_pool, ResultsWriter};
use super::units::{Plan, Unit};
use crate::data::prompt::{PromptOptions, Scenario};
use crate::data::Dataset;
use crate::model::generate::generate_batch;
use crate::model::LoadedModel;
use crate::pipeline::{
    generation_options, prompt_ids, prompt_summary, trace_sample, EnHidden, EnSummaryMemo,
    Pregenerated, Progress, TraceContext, TraceInput, TraceOptions,
};
use anyhow::Result;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The prompt settings shared by every unit (the rest comes from each unit's key).
#[derive(Clone, Debug, Default)]
pub struct PromptBase {
    pub seed: u64,
    pub answer_cue: Option<bool>,
    pub system: Option<String>,
}

/// One eval run.
pub struct EvalJob<'a> {
    pub data: &'a Dataset,
    pub plan: &'a Plan,
    pub settings: RunSettings,
    pub trace: TraceOptions,
    pub prompt: PromptBase,
    pub out: PathBuf,
    /// Rewrite the pool sidecar after this many units (it is always written at the end).
    pub pool_every: usize,
    /// Log a failing unit and go on instead of stopping.
    pub keep_going: bool,
    /// Answers generated together per batch (1: one prompt at a time).
    pub batch: usize,
    pub cancel: &'a AtomicBool,
}

/// What the run tells its front end (progress bars, logs).
pub trait EvalObserver {
    /// The plan: every unit of this shard, and which are already in the file.
    fn planned(&mut self, units: &[Unit], done: &HashSet<crate::batch::UnitKey>);
    fn model_loading(&mut self, model: &str);
    fn model_loaded(&mut self, model: &LoadedModel);
    fn unit_finished(&mut self, unit: &Unit, record: &UnitRecord);
    fn unit_failed(&mut self, unit: &Unit, error: &anyhow::Error);
    fn note(&mut self, message: &str);
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalSummary {
    /// Units of this shard.
    pub planned: usize,
    /// Units already in the file when the run started.
    pub already_done: usize,
    pub ran: usize,
    pub failed: usize,
    /// Units whose pooled states were recomputed for the sidecar.
    pub pool_repaired: usize,
    pub cancelled: bool,
    /// Models that failed to load under `keep_going` (name and error), their units skipped
    /// (and counted in `failed`).
    pub failed_models: Vec<(String, String)>,
    /// Wall time of the unit loop (model loading excluded).
    pub loop_ms: f64,
    /// The engine's own time for those units (`trace_sample`'s total, pool repairs included).
    pub engine_ms: f64,
    pub load_ms: f64,
}

impl EvalSummary {
    /// Share of the loop's time spent outside the engine (writing, progress, bookkeeping).
    pub fn overhead(&self) -> Option<f64> {
        (self.loop_ms > 0.0).then(|| ((self.loop_ms - self.engine_ms) / self.loop_ms).max(0.0))
    }
}

/// Loads a model by its `--models` name.
pub type ModelLoader<'a> = dyn FnMut(&str) -> Result<LoadedModel> + 'a;

/// Runs `job`: appends the missing units of its plan to `job.out`.
pub fn run_eval(
    job: &EvalJob,
    load: &mut ModelLoader,
    judge: Option<&LoadedModel>,
    observer: &mut dyn EvalObserver,
) -> Result<EvalSummary> {
    let header = RunHeader {
        version: RESULTS_VERSION,
        settings: job.settings.clone(),
        shard: job.plan.shard.map(|s| s.to_string()),
        tool: format!("xmrc-lens {}", env!("CARGO_PKG_VERSION")),
    };
    let opened = ResultsWriter::open(&job.out, &header)?;
    let mut writer = opened.writer;
    let done: HashSet<_> = opened
        .existing
        .units
        .iter()
        .map(|u| u.key.clone())
        .collect();
    let similarity = job.settings.analyses.similarity;
    let mut pools = if similarity {
        read_pool(&job.out)?.unwrap_or_else(PoolFile::new)
    } else {
        PoolFile::new()
    };
    let units = job.plan.units(job.data);
    observer.planned(&units, &done);
    let mut summary = EvalSummary {
        planned: units.len(),
        already_done: units.iter().filter(|u| done.contains(&u.key)).count(),
        ..EvalSummary::default()
    };

    let mut pool_dirty = 0usize;
    for model_name in &job.plan.models {
        let todo: Vec<&Unit> = units
            .iter()
            .filter(|u| &u.key.model == model_name && !done.contains(&u.key))
            .collect();
        let repairs: Vec<&UnitRecord> = if similarity {
            opened
                .existing
                .units
                .iter()
                .filter(|u| &u.key.model == model_name && needs_pool(u, &pools))
                .collect()
        } else {
            Vec::new()
        };
        if todo.is_empty() && repairs.is_empty() {
            continue;
        }
        if job.cancel.load(Ordering::Relaxed) {
            summary.cancelled = true;
            break;
        }
        observer.model_loading(model_name);
        let t = Instant::now();
        let model = match load(model_name) {
            Ok(model) => model,
            // One model that cannot load does not stop the others under --keep-going.
            Err(e) if job.keep_going => {
                let error = format!("{e:#}");
                observer.note(&format!(
                    "FAILED to load {model_name}: {error}; skipping its {} unit(s)",
                    todo.len()
                ));
                summary.failed += todo.len();
                summary.failed_models.push((model_name.clone(), error));
                continue;
            }
            Err(e) => return Err(e.context(format!("loading the model {model_name}"))),
        };
        summary.load_ms += t.elapsed().as_secs_f64() * 1e3;
        observer.model_loaded(&model);
        let loop_start = Instant::now();

        if !repairs.is_empty() {
            observer.note(&format!(
                "{}: recomputing the pooled hidden states of {} unit(s) missing from {}",
                model_name,
                repairs.len(),
                crate::batch::pool_path(&job.out).display()
            ));
        }
        for unit in repairs {
            if job.cancel.load(Ordering::Relaxed) {
                summary.cancelled = true;
                break;
            }
            let t = Instant::now();
            let options = prompt_options(&job.prompt, &unit.key);
            let hidden = prompt_summary(&model, job.data, unit.index, &options, None)?;
            pools.entry(&pool_key(&unit.key)).add(
                unit.key.setting.lang,
                &unit.key.sample,
                &hidden,
            )?;
            summary.engine_ms += t.elapsed().as_secs_f64() * 1e3;
            summary.pool_repaired += 1;
            pool_dirty += 1;
        }

        // The en-en summary of the sample being run: a sample's units for one shots and
        // format run together, en-en first, so one entry serves them all.
        let mut en_memo = EnSummaryMemo::new(1);
        // Answers of the next `batch` units, generated together.
        let mut pregenerated: std::collections::VecDeque<Result<Pregenerated>> =
            std::collections::VecDeque::new();
        for (at, unit) in todo.iter().enumerate() {
            if summary.cancelled || job.cancel.load(Ordering::Relaxed) {
                summary.cancelled = true;
                break;
            }
            if job.batch > 1 && pregenerated.is_empty() {
                let chunk = &todo[at..(at + job.batch).min(todo.len())];
                pregenerated = generate_chunk(job, &model, chunk).into();
            }
            let options = prompt_options(&job.prompt, &unit.key);
            let input = TraceInput::Sample {
                data: job.data,
                index: unit.index,
                options: options.clone(),
            };
            let ctx = TraceContext {
                model: &model,
                judge,
                pool: None,
                en_hidden: EnHidden::Memo(&mut en_memo),
                pregenerated: None,
                cancel: Some(job.cancel),
            };
            let traced = match pregenerated.pop_front() {
                Some(Err(e)) => Err(e),
                Some(Ok(pre)) => trace_sample(
                    TraceContext {
                        pregenerated: Some(pre),
                        ..ctx
                    },
                    &input,
                    &job.trace,
                    &mut |_: Progress| {},
                ),
                None => trace_sample(ctx, &input, &job.trace, &mut |_: Progress| {}),
            };
            let trace = match traced {
                Ok(trace) => trace,
                Err(_) if job.cancel.load(Ordering::Relaxed) => {
                    summary.cancelled = true;
                    break;
                }
                Err(e) if job.keep_going => {
                    observer.unit_failed(unit, &e);
                    summary.failed += 1;
                    continue;
                }
                Err(e) => return Err(e.context(format!("unit {}", unit.key))),
            };
            summary.engine_ms += trace.timings.total_ms;
            if let Some(hidden) = &trace.hidden {
                if unit.key.setting.scenario == Scenario::EnEn {
                    en_memo.insert(unit.index, &options, hidden.clone());
                } else if similarity {
                    pools.entry(&pool_key(&unit.key)).add(
                        unit.key.setting.lang,
                        &unit.key.sample,
                        hidden,
                    )?;
                    pool_dirty += 1;
                }
            }
            let title = job.data.get(unit.index).map_or("", |s| s.title.as_str());
            let record = UnitRecord::from_trace(unit.key.clone(), unit.index, title, &trace);
            drop(trace);
            writer.append(&ResultLine::Unit(Box::new(record.clone())))?;
            summary.ran += 1;
            observer.unit_finished(unit, &record);
            if similarity && pool_dirty >= job.pool_every.max(1) {
                write_pool(&job.out, &pools)?;
                pool_dirty = 0;
            }
        }
        summary.loop_ms += loop_start.elapsed().as_secs_f64() * 1e3;
        if summary.cancelled {
            break;
        }
    }
    if similarity && pool_dirty > 0 {
        write_pool(&job.out, &pools)?;
    }
    Ok(summary)
}

/// Generates the answers of `chunk` in one batch; each unit's share of the time is the
/// batch's over its rows. A failure (of one prompt or of the batch) is reported per unit.
fn generate_chunk(
    job: &EvalJob,
    model: &LoadedModel,
    chunk: &[&Unit],
) -> Vec<Result<Pregenerated>> {
    let t = Instant::now();
    let prompts: Vec<Result<Vec<u32>>> = chunk
        .iter()
        .map(|u| {
            prompt_ids(
                model,
                job.data,
                u.index,
                &prompt_options(&job.prompt, &u.key),
            )
        })
        .collect();
    let ok: Vec<&[u32]> = prompts
        .iter()
        .filter_map(|p| p.as_ref().ok().map(Vec::as_slice))
        .collect();
    let options = generation_options(model, &job.trace);
    let generated = generate_batch(
        &model.decoder,
        &model.tokenizer,
        &ok,
        &options,
        Some(job.cancel),
    );
    let share = t.elapsed().as_secs_f64() * 1e3 / chunk.len() as f64;
    let mut generated = match generated {
        Ok(rows) => rows.into_iter(),
        Err(e) => {
            let message = format!("{e:#}");
            return chunk
                .iter()
                .map(|_| Err(anyhow::anyhow!("generating a batch of answers: {message}")))
                .collect();
        }
    };
    prompts
        .into_iter()
        .map(|p| {
            p?;
            let (generation, cache) = generated
                .next()
                .ok_or_else(|| anyhow::anyhow!("the batch returned fewer answers than prompts"))?;
            Ok(Pregenerated {
                generation,
                cache,
                generate_ms: share,
            })
        })
        .collect()
}

/// The prompt of a unit.
pub fn prompt_options(base: &PromptBase, key: &crate::batch::UnitKey) -> PromptOptions {
    PromptOptions {
        setting: key.setting,
        seed: base.seed,
        answer_cue: base.answer_cue,
        system: base.system.clone(),
    }
}

/// The pool a unit's states belong to.
pub fn pool_key(key: &crate::batch::UnitKey) -> PoolKey {
    PoolKey {
        model: key.model.clone(),
        scenario: key.setting.scenario,
        shots: key.setting.shots,
        format: key.setting.format,
    }
}

/// A finished unit with similarity whose states are not in the sidecar.
fn needs_pool(unit: &UnitRecord, pools: &PoolFile) -> bool {
    unit.key.setting.scenario != Scenario::EnEn
        && unit.similarity.is_some()
        && !pools
            .get(&pool_key(&unit.key))
            .is_some_and(|p| p.contains(unit.key.setting.lang, &unit.key.sample))
}

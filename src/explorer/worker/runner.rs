//! The worker thread: loads models and runs trace jobs one at a time, reporting events.
//! Model loads go before traces (a pending job may be waiting for that very model).

use super::job::{Slot, TraceJob, WorkerEvent};
use super::{Shared, SlotStatus};
use crate::data::prompt::{Format, Scenario};
use crate::data::Dataset;
use crate::model::source::DownloadSink;
use crate::model::spec::ModelSpec;
use crate::model::LoadedModel;
use crate::pipeline::{
    trace_sample, EnHidden, EnSummaryMemo, ModelIdentity, Progress, SampleTrace, TraceContext,
    TraceInput,
};
use crate::similarity::ReferencePool;
use anyhow::Result;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;

enum Work {
    Load(Slot, ModelSpec),
    /// A job, its cancel flag and the data set as it stood when the job started.
    Trace(TraceJob, Arc<AtomicBool>, Arc<Dataset>),
}

/// What a slot remembers between traces; reset when its model changes.
#[derive(Default)]
struct SlotMemo {
    /// S(en,x) reference pools: one per prompt setting, since a pool mixes only summaries
    /// of one model under one setting (seed, cue and system text are assumed unchanged).
    pools: HashMap<(Scenario, u8, Format), ReferencePool>,
    /// en-en summaries of the samples traced, so switching the scenario or language of a
    /// sample skips the extra en-en forward.
    en_hidden: EnSummaryMemo,
}

pub(super) fn run(shared: &Shared, events: &Sender<WorkerEvent>) {
    let send = |event| {
        let _ = events.send(event);
    };
    let mut models: [Option<LoadedModel>; 2] = [None, None];
    let mut memos: [SlotMemo; 2] = Default::default();
    while let Some(work) = next_work(shared, &send) {
        match work {
            Work::Load(slot, spec) => {
                // Free the old weights before mapping the new ones.
                models[slot.index()] = None;
                memos[slot.index()] = SlotMemo::default();
                send(WorkerEvent::ModelLoading {
                    slot,
                    name: spec.model.to_string(),
                });
                // Download progress reaches the explorer as events of this slot.
                let downloads = events.clone();
                let progress = DownloadSink::new(move |progress| {
                    let _ = downloads.send(WorkerEvent::Download { slot, progress });
                });
                let loaded = catch_unwind(AssertUnwindSafe(|| {
                    LoadedModel::load_reporting(&spec, Some(progress))
                }))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("loading the model panicked")));
                match loaded {
                    Ok(model) => {
                        let identity = ModelIdentity::of(&model);
                        let load_ms = model.load_ms;
                        models[slot.index()] = Some(model);
                        shared.lock().status[slot.index()] = SlotStatus::Ready;
                        send(WorkerEvent::ModelLoaded {
                            slot,
                            identity,
                            load_ms,
                        });
                    }
                    Err(e) => {
                        let error = format!("{e:#}");
                        let waiting = {
                            let mut state = shared.lock();
                            state.status[slot.index()] = SlotStatus::Failed(error.clone());
                            // A newer load may still bring a model for the waiting job.
                            match state.loads[slot.index()] {
                                None => state.queue.take_pending(slot),
                                Some(_) => None,
                            }
                        };
                        send(WorkerEvent::ModelFailed {
                            slot,
                            error: error.clone(),
                        });
                        if let Some(job) = waiting {
                            send(WorkerEvent::Failed {
                                key: job.key().clone(),
                                error: format!("the {slot} model failed to load: {error}"),
                            });
                        }
                    }
                }
            }
            Work::Trace(job, cancel, data) => {
                let key = job.key().clone();
                send(WorkerEvent::Started { key: key.clone() });
                let slot = key.slot.index();
                let result = match &models[slot] {
                    Some(model) => catch_unwind(AssertUnwindSafe(|| {
                        run_job(model, &data, &job, &cancel, &mut memos[slot], &send)
                    }))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the trace panicked"))),
                    None => Err(anyhow::anyhow!(
                        "no model is loaded in the {} slot",
                        key.slot
                    )),
                };
                let cancelled = shared.lock().queue.finish();
                send(match (cancelled, result) {
                    (true, _) => WorkerEvent::Cancelled { key },
                    (false, Ok(trace)) => WorkerEvent::Done {
                        key,
                        trace: Arc::new(trace),
                    },
                    (false, Err(e)) => WorkerEvent::Failed {
                        key,
                        error: format!("{e:#}"),
                    },
                });
            }
        }
    }
}

/// Waits for the next thing to do; None on shutdown (pending jobs are reported cancelled).
fn next_work(shared: &Shared, send: &dyn Fn(WorkerEvent)) -> Option<Work> {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            let dropped = state.queue.drain();
            drop(state);
            for job in dropped {
                send(WorkerEvent::Cancelled {
                    key: job.key().clone(),
                });
            }
            return None;
        }
        for slot in Slot::ALL {
            if let Some(spec) = state.loads[slot.index()].take() {
                state.status[slot.index()] = SlotStatus::Loading;
                return Some(Work::Load(slot, spec));
            }
        }
        let super::State {
            queue,
            status,
            data,
            ..
        } = &mut *state;
        if let Some((job, cancel)) = queue.start(|s| status[s.index()] == SlotStatus::Ready) {
            return Some(Work::Trace(job, cancel, Arc::clone(data)));
        }
        state = shared
            .wake
            .wait(state)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}

fn run_job(
    model: &LoadedModel,
    data: &Dataset,
    job: &TraceJob,
    cancel: &AtomicBool,
    memo: &mut SlotMemo,
    send: &dyn Fn(WorkerEvent),
) -> Result<SampleTrace> {
    let key = job.key();
    let prompt = job.prompt();
    let options = job.options();
    let cross = prompt.setting.scenario != Scenario::EnEn && options.similarity;
    let SlotMemo { pools, en_hidden } = memo;
    let pool = cross.then(|| {
        pools
            .entry((
                prompt.setting.scenario,
                prompt.setting.shots,
                prompt.setting.format,
            ))
            .or_default()
    });
    let ctx = TraceContext {
        model,
        judge: None,
        pool,
        // Asked at the similarity stage, after the answer: the first token never waits for
        // the en-en forward.
        en_hidden: EnHidden::Memo(en_hidden),
        pregenerated: None,
        cancel: Some(cancel),
    };
    let input = TraceInput::Sample {
        data,
        index: key.sample,
        options: prompt.clone(),
    };
    trace_sample(ctx, &input, options, &mut |p| {
        send(match p {
            Progress::Stage(stage) => WorkerEvent::Stage {
                key: key.clone(),
                stage,
            },
            Progress::Token(step) => WorkerEvent::Token {
                key: key.clone(),
                step,
            },
            Progress::Partial(trace) => WorkerEvent::Partial {
                key: key.clone(),
                trace: Arc::from(trace),
            },
        })
    })
}

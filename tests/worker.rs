#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The model worker on the tiny llama and the mini XQuAD set: events in order, results equal
//! to a direct `trace_sample`, latest-wins, a missing model, and a prompt shutdown.

mod common;

use common::{repo_path, tiny_model_dir};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xmrc_lens::data::loader::{load_dir, LoadOptions};
use xmrc_lens::data::prompt::Setting;
use xmrc_lens::data::prompt::{PromptOptions, Scenario};
use xmrc_lens::data::{Dataset, Lang};
use xmrc_lens::explorer::worker::{Slot, SlotStatus, TraceJob, TraceKey, Worker, WorkerEvent};
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;
use xmrc_lens::pipeline::{trace_sample, Stage, StopMode, TraceContext, TraceInput, TraceOptions};

/// Long enough for any step of a tiny model on a busy machine; a bug fails, never hangs.
const TIMEOUT: Duration = Duration::from_secs(60);

fn data() -> Arc<Dataset> {
    Arc::new(
        load_dir(
            &repo_path("tests/fixtures/xquad-mini"),
            &LoadOptions::default(),
        )
        .unwrap(),
    )
}

fn spec() -> ModelSpec {
    ModelSpec::new(ModelRef::Local(tiny_model_dir("llama")))
}

fn prompt(lang: Lang) -> PromptOptions {
    PromptOptions {
        setting: Setting {
            scenario: Scenario::EnX,
            lang,
            ..Setting::default()
        },
        ..PromptOptions::default()
    }
}

/// A few generated tokens whatever the random weights say, so tokens stream.
fn options() -> TraceOptions {
    TraceOptions {
        max_new_tokens: 4,
        stop: StopMode::None,
        ..TraceOptions::default()
    }
}

/// Generation that runs for a long while (until cancelled).
fn long_options() -> TraceOptions {
    TraceOptions {
        max_new_tokens: 1500,
        stop: StopMode::None,
        ..TraceOptions::default()
    }
}

fn next(rx: &Receiver<WorkerEvent>) -> WorkerEvent {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("no worker event within {TIMEOUT:?}: {e}"))
}

/// Events up to and including the first that `stop` accepts.
fn until(rx: &Receiver<WorkerEvent>, stop: impl Fn(&WorkerEvent) -> bool) -> Vec<WorkerEvent> {
    let mut seen = Vec::new();
    loop {
        let event = next(rx);
        let end = stop(&event);
        seen.push(event);
        if end {
            return seen;
        }
    }
}

fn loaded(rx: &Receiver<WorkerEvent>) {
    let events = until(rx, |e| {
        matches!(
            e,
            WorkerEvent::ModelLoaded { .. } | WorkerEvent::ModelFailed { .. }
        )
    });
    assert!(
        matches!(events.first(), Some(WorkerEvent::ModelLoading { slot: Slot::Primary, name }) if name.contains("tiny-llama")),
        "{events:?}"
    );
    match events.last() {
        Some(WorkerEvent::ModelLoaded {
            slot: Slot::Primary,
            identity,
            load_ms,
        }) => {
            assert_eq!(identity.family, "llama");
            assert!(*load_ms >= 0.0);
        }
        other => panic!("expected ModelLoaded, got {other:?}"),
    }
}

fn is_end_of(key: &TraceKey) -> impl Fn(&WorkerEvent) -> bool + '_ {
    move |e| matches!(e, WorkerEvent::Done { key: k, .. } | WorkerEvent::Failed { key: k, .. } | WorkerEvent::Cancelled { key: k } if k == key)
}

#[test]
fn traces_stream_progress_and_match_a_direct_call() {
    let data = data();
    let (tx, rx) = channel();
    let worker = Worker::spawn(Arc::clone(&data), tx);
    worker.load(Slot::Primary, spec());
    loaded(&rx);
    assert_eq!(worker.status(Slot::Primary), SlotStatus::Ready);

    let job = TraceJob::new(Slot::Primary, 0, prompt(Lang::De), options());
    let key = job.key().clone();
    assert_eq!(key.setting.scenario, Scenario::EnX);
    assert_eq!(key.setting.lang, Lang::De);
    worker.submit(job);
    let events = until(&rx, is_end_of(&key));
    assert!(
        matches!(&events[0], WorkerEvent::Started { key: k } if *k == key),
        "{events:?}"
    );
    let stages: Vec<Stage> = events
        .iter()
        .filter_map(|e| match e {
            WorkerEvent::Stage { key: k, stage } if *k == key => Some(*stage),
            _ => None,
        })
        .collect();
    assert_eq!(
        stages,
        [
            Stage::Prompt,
            Stage::Generate,
            Stage::Labels,
            Stage::Lens,
            Stage::Relevance,
            Stage::Similarity,
            Stage::Oracle
        ]
    );
    let tokens = events
        .iter()
        .filter(|e| matches!(e, WorkerEvent::Token { .. }))
        .count();
    assert_eq!(tokens, 4);
    let trace = match events.last() {
        Some(WorkerEvent::Done { trace, .. }) => Arc::clone(trace),
        other => panic!("expected Done, got {other:?}"),
    };

    // The same trace computed directly.
    let model = LoadedModel::load(&spec()).unwrap();
    let direct = trace_sample(
        TraceContext {
            model: &model,
            judge: None,
            pool: None,
            en_hidden: xmrc_lens::pipeline::EnHidden::Compute,
            pregenerated: None,
            cancel: None,
        },
        &TraceInput::Sample {
            data: &data,
            index: 0,
            options: prompt(Lang::De),
        },
        &options(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(trace.answer, direct.answer);
    assert_eq!(trace.scores, direct.scores);
    assert_eq!(trace.greedy_ids, direct.greedy_ids);
    assert_eq!(
        trace.relevance.as_ref().map(|r| &r.relevance.raw),
        direct.relevance.as_ref().map(|r| &r.relevance.raw)
    );
    // The remembered en-en summary gives the same cosines as computing it afresh.
    let cos = |t: &xmrc_lens::pipeline::SampleTrace| {
        t.similarity.as_ref().map(|s| s.series.cosine.clone())
    };
    assert!(cos(&trace).is_some());
    assert_eq!(cos(&trace), cos(&direct));

    // Three more samples of the language fill the slot's reference pool: S(en,x) appears.
    let mut last = None;
    for sample in 1..4 {
        let job = TraceJob::new(Slot::Primary, sample, prompt(Lang::De), options());
        let key = job.key().clone();
        worker.submit(job);
        match until(&rx, is_end_of(&key)).pop() {
            Some(WorkerEvent::Done { trace, .. }) => last = Some(trace),
            other => panic!("expected Done, got {other:?}"),
        }
    }
    let last = last.unwrap();
    let sim = last.similarity.as_ref().unwrap();
    assert_eq!(sim.reference_samples, 3);
    assert!(sim.ratio.is_some(), "{sim:?}");
    worker.shutdown();
}

#[test]
fn latest_wins_per_slot() {
    let (tx, rx) = channel();
    let worker = Worker::spawn(data(), tx);
    worker.load(Slot::Primary, spec());
    // Queued before the model is there: B replaces A while A waits.
    let a = TraceJob::new(Slot::Primary, 0, prompt(Lang::De), options());
    let b = TraceJob::new(Slot::Primary, 1, prompt(Lang::De), options());
    let (ka, kb) = (a.key().clone(), b.key().clone());
    worker.submit(a);
    worker.submit(b);
    let events = until(&rx, is_end_of(&kb));
    assert!(
        matches!(events.last(), Some(WorkerEvent::Done { .. })),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, WorkerEvent::Cancelled { key } if *key == ka)));
    assert!(!events
        .iter()
        .any(|e| matches!(e, WorkerEvent::Started { key } if *key == ka)));

    // A running job is cancelled at its next stage boundary; B runs after it.
    let a = TraceJob::new(Slot::Primary, 2, prompt(Lang::De), long_options());
    let b = TraceJob::new(Slot::Primary, 3, prompt(Lang::De), options());
    let (ka, kb) = (a.key().clone(), b.key().clone());
    worker.submit(a);
    until(
        &rx,
        |e| matches!(e, WorkerEvent::Token { key, .. } if *key == ka),
    );
    // The same key again does not restart it.
    worker.submit(TraceJob::new(
        Slot::Primary,
        2,
        prompt(Lang::De),
        long_options(),
    ));
    worker.submit(b);
    let events = until(&rx, is_end_of(&kb));
    let ends: Vec<String> = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                WorkerEvent::Started { .. }
                    | WorkerEvent::Done { .. }
                    | WorkerEvent::Cancelled { .. }
                    | WorkerEvent::Failed { .. }
            )
        })
        .map(|e| match e {
            WorkerEvent::Started { key } => format!("started {}", key.sample),
            WorkerEvent::Done { key, .. } => format!("done {}", key.sample),
            WorkerEvent::Cancelled { key } => format!("cancelled {}", key.sample),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(ends, ["cancelled 2", "started 3", "done 3"]);
    // Nothing about A afterwards.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    worker.shutdown();
}

#[test]
fn a_missing_model_fails_its_jobs() {
    let (tx, rx) = channel();
    let worker = Worker::spawn(data(), tx);
    let missing = repo_path("tests/fixtures/models/no-such-model");
    worker.load(
        Slot::Compare,
        ModelSpec::new(ModelRef::Local(missing.clone())),
    );
    // Waiting for the model when it fails.
    let waiting = TraceJob::new(Slot::Compare, 0, prompt(Lang::De), options());
    let kw = waiting.key().clone();
    worker.submit(waiting);
    let events = until(&rx, is_end_of(&kw));
    let error = events
        .iter()
        .find_map(|e| match e {
            WorkerEvent::ModelFailed {
                slot: Slot::Compare,
                error,
            } => Some(error.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ModelFailed: {events:?}"));
    assert!(error.contains("no-such-model"), "{error}");
    assert!(error.contains("not found"), "{error}");
    match events.last() {
        Some(WorkerEvent::Failed { error, .. }) => {
            assert!(error.contains("compare model failed to load"), "{error}");
            assert!(error.contains("no-such-model"), "{error}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(matches!(
        worker.status(Slot::Compare),
        SlotStatus::Failed(_)
    ));
    // Submitted after the failure: fails at once.
    let later = TraceJob::new(Slot::Compare, 1, prompt(Lang::De), options());
    let kl = later.key().clone();
    worker.submit(later);
    assert!(matches!(next(&rx), WorkerEvent::Failed { key, .. } if key == kl));
    worker.shutdown();
}

#[test]
fn shutdown_stops_a_long_job_quickly() {
    let (tx, rx) = channel();
    let worker = Worker::spawn(data(), tx);
    worker.load(Slot::Primary, spec());
    loaded(&rx);
    let job = TraceJob::new(Slot::Primary, 0, prompt(Lang::Ar), long_options());
    let key = job.key().clone();
    worker.submit(job);
    until(&rx, |e| matches!(e, WorkerEvent::Token { .. }));
    let start = Instant::now();
    worker.shutdown();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let rest: Vec<WorkerEvent> = rx.try_iter().collect();
    assert!(
        matches!(rest.last(), Some(WorkerEvent::Cancelled { key: k }) if *k == key),
        "{rest:?}"
    );
}

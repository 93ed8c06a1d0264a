//! `xmrc-lens bench`: the arguments, and which bench of the engine ([`crate::bench`]) they
//! ask for; the figures come back as JSON (and a table) on stdout. The explorer's own benches
//! (`--ui`, `--explorer-latency`) run through the terminal front end's bench hooks.

use super::write_out;
use crate::bench::{self, BenchModel, PeerAttention, SpeedBench, Workload};
use crate::data::loader::{self, LoadOptions};
use crate::data::prompt::Setting;
use crate::data::prompt::{PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::model::device::{cpu_threads, DTypeChoice, DeviceChoice};
use crate::model::load::LoadedModel;
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use crate::synth::model::Preset;
use anyhow::{bail, Context, Result};
use bench::progress;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model shape: qwen2.5-0.5b, llama-3.1-8b, or tiny / tiny-llama (2 layers, for tests).
    #[arg(long, default_value = "qwen2.5-0.5b")]
    pub preset: Preset,
    /// Measure this model instead of a preset's random one: a folder, a GGUF file, a hub id or
    /// `org/name:FILE.gguf` (as `--model` elsewhere). `--compare-transformers` then loads the
    /// same folder or GGUF file in transformers.
    #[arg(long, value_name = "ID|DIR|FILE.gguf", conflicts_with = "build_only")]
    pub model: Option<ModelRef>,
    /// Prompt length in tokens.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(bench::WARM_UP_TOKENS as u64..))]
    pub tokens: u64,
    /// Greedy decode steps after the prompt (a fixed count: no stop rule).
    #[arg(long, default_value_t = 32)]
    pub new_tokens: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// auto (bf16 on CUDA, f32 on the CPU), f32, bf16 or f16: of the weights file and the run.
    #[arg(long, default_value = "auto")]
    pub dtype: DTypeChoice,
    /// CPU threads (both sides); default: every core.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where built models are kept. Default: $XDG_CACHE_HOME/xmrc-lens/bench or
    /// ~/.cache/xmrc-lens/bench.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder of XQuAD JSON files to build the prompt from (needs en and de); default: a
    /// small bundled sample.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Skip the AttnLRP trace (recorded forward + backward).
    #[arg(long, alias = "skip-diff")]
    pub skip_trace: bool,
    /// Print only the JSON line.
    #[arg(long)]
    pub json_only: bool,
    /// Only build (or find) the model folder and print its path.
    #[arg(long)]
    pub build_only: bool,
    /// Also run scripts/bench_transformers.py on the same folder and ids, and show both.
    #[arg(long)]
    pub compare_transformers: bool,
    /// transformers' attention implementations to compare with, in order: sdpa (its default,
    /// the peer a user would pick) and/or eager. Each runs in its own process.
    #[arg(long, value_delimiter = ',', default_value = "sdpa")]
    pub attn: Vec<PeerAttention>,
    /// The Python with torch and transformers for --compare-transformers.
    #[arg(long, env = "XMRC_LENS_PYTHON", default_value = "python3")]
    pub python: String,
    /// Instead of the model: time `xmrc-lens report` on this many synthetic unit lines
    /// (written to a temporary folder; 25-level model, MRD, similarity, oracle), with and
    /// without plots.
    #[arg(long, value_name = "LINES")]
    pub report: Option<usize>,
    /// Instead of the model: time the explorer's frames (key action, update and a full draw
    /// off-screen) on cached data, and print mean and p99. The trace shown is `--ui-trace`,
    /// else one made now with `--preset` on the bundled demo set.
    #[arg(long)]
    pub ui: bool,
    /// A trace JSON (from `xmrc-lens trace`) for `--ui`.
    #[arg(long, value_name = "FILE", requires = "ui")]
    pub ui_trace: Option<PathBuf>,
    /// Frames timed by `--ui`.
    #[arg(long, default_value_t = 1000, requires = "ui")]
    pub frames: usize,
    /// Screen size of `--ui`, WIDTHxHEIGHT.
    #[arg(long, default_value = "200x60", requires = "ui")]
    pub size: String,
    /// Instead of speed: how long a running trace takes to stop once cancelled inside the
    /// sentence oracle (the explorer's Ctrl-C, `q` or a new selection), with `--preset` (or
    /// `--model`) on the bundled sample; prints each cancel's latency.
    #[arg(long)]
    pub cancel_latency: bool,
    /// Instead of speed: the explorer's latency on a live model (`--model` or `--preset`),
    /// through its own worker, app and scheduler: from a "next sample" key press to the first
    /// streamed answer token and to the finished trace, on the bundled demo set (or `--data`).
    #[arg(long)]
    pub explorer_latency: bool,
    /// Key presses timed by `--explorer-latency`.
    #[arg(long, default_value_t = 3, requires = "explorer_latency")]
    pub presses: usize,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(lines) = args.report {
        let report = crate::report::bench::run(lines, args.seed, args.json_only)?;
        return write_out(&format!("{report}\n"));
    }
    if args.ui {
        return ui_bench(args);
    }
    if args.explorer_latency {
        return explorer_latency(args);
    }
    if args.cancel_latency {
        let model = load_bench_model(args)?;
        let data = bench::prompt::prompt_data(args.data.as_deref())?;
        let text = bench::cancel::run(&model, &data, args.json_only)?;
        return write_out(&text);
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        // candle's CPU kernels and rayon's pool read this; nothing has started them yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    if args.build_only {
        let dir = bench_model(args).preset_folder()?;
        return write_out(&format!("{}\n", dir.display()));
    }
    let report = SpeedBench {
        model: bench_model(args),
        tokens: usize::try_from(args.tokens)?,
        data: args.data.clone(),
        work: Workload {
            new_tokens: args.new_tokens,
            skip_trace: args.skip_trace,
        },
        peers: if args.compare_transformers {
            args.attn.clone()
        } else {
            Vec::new()
        },
        python: args.python.clone(),
    }
    .run()?;
    let mut out = String::new();
    if !args.json_only {
        out.push_str(&bench::table(&report));
        out.push('\n');
    }
    out.push_str(&serde_json::to_string(&report)?);
    out.push('\n');
    write_out(&out)
}

/// The bench's model as the arguments choose it.
fn bench_model(args: &BenchArgs) -> BenchModel {
    BenchModel {
        preset: args.preset,
        model: args.model.clone(),
        device: args.device,
        dtype: args.dtype,
        cache_dir: args.cache_dir.clone(),
        seed: args.seed,
    }
}

/// `bench --ui`: frame times of the explorer on a real trace.
fn ui_bench(args: &BenchArgs) -> Result<()> {
    use crate::tui::bench::{app_with_trace, frame_times, FrameStats};
    let (width, height) = parse_size(&args.size)?;
    let data = std::sync::Arc::new(crate::data::demo::dataset()?);
    let trace = match &args.ui_trace {
        Some(path) => super::export::read_trace(path)?,
        None => ui_trace_now(args, &data)?,
    };
    let tokens = trace.tokens.len();
    let levels = trace.model.layers + 1;
    let model = trace.model.name.clone();
    let mut app = app_with_trace(data, trace);
    let (keymap, _) = crate::tui::keymap::Keymap::load();
    let stats = FrameStats::of(frame_times(&mut app, &keymap, args.frames, width, height)?);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let report = json!({
        "bench": "ui",
        "model": model,
        "prompt_tokens": tokens,
        "levels": levels,
        "size": format!("{width}x{height}"),
        "frames": stats.frames,
        "mean_ms": ms(stats.mean),
        "p99_ms": ms(stats.p99),
        "max_ms": ms(stats.max),
    });
    if !args.json_only {
        write_out(&format!(
            "explorer frames at {width}x{height} ({} frames, {tokens}-token prompt, {levels} levels, {model}):\n  mean {:.3} ms  p99 {:.3} ms  max {:.3} ms  (bar: mean <= 5 ms, p99 <= 16 ms)\n",
            stats.frames,
            ms(stats.mean),
            ms(stats.p99),
            ms(stats.max)
        ))?;
    }
    write_out(&format!("{report}\n"))
}

/// The `--model`, else the `--preset` model (built on first use), for the side benches.
fn load_bench_model(args: &BenchArgs) -> Result<LoadedModel> {
    bench_model(args).load()
}

/// `bench --explorer-latency`: key press to first token and to the full trace.
fn explorer_latency(args: &BenchArgs) -> Result<()> {
    use crate::tui::bench::next_sample_latency;
    if let Some(threads) = args.threads {
        std::env::set_var("RAYON_NUM_THREADS", threads.max(1).to_string());
    }
    let spec = bench_model_spec(args)?;
    let name = spec.model.to_string();
    let data = match &args.data {
        Some(dir) => loader::load_dir(dir, &LoadOptions::default())
            .with_context(|| format!("loading {}", dir.display()))?,
        None => crate::data::demo::dataset()?,
    };
    progress(&format!(
        "explorer latency on {name}: load, the start-up trace, then {} next-sample presses",
        args.presses
    ));
    let run = next_sample_latency(std::sync::Arc::new(data), spec, args.presses)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mean = |f: &dyn Fn(&crate::tui::bench::KeyLatency) -> Option<f64>| {
        let v: Vec<f64> = run.presses.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let first_token_ms = mean(&|p| p.first_token.map(ms));
    let full_trace_ms = mean(&|p| Some(ms(p.full_trace)));
    let report = json!({
        "bench": "explorer-latency",
        "model": name,
        "selection": run.selection,
        "threads": cpu_threads(),
        "load_ms": ms(run.load),
        "first_trace_ms": ms(run.first_trace),
        "presses": run.presses.iter().map(|p| json!({
            "sample": p.sample,
            "prompt_tokens": p.prompt_tokens,
            "answer_tokens": p.answer_tokens,
            "first_token_ms": p.first_token.map(ms),
            "full_trace_ms": ms(p.full_trace),
            "prefill_ms": p.prefill_ms,
            "stages": p.stages,
        })).collect::<Vec<_>>(),
        "mean_first_token_ms": first_token_ms,
        "mean_full_trace_ms": full_trace_ms,
    });
    let mut out = String::new();
    if !args.json_only {
        out.push_str(&format!(
            "explorer latency, {name} ({}, {} threads): load {:.0} ms, start-up trace {:.0} ms\n",
            run.selection,
            cpu_threads(),
            ms(run.load),
            ms(run.first_trace)
        ));
        for p in &run.presses {
            let stage = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.0}"));
            out.push_str(&format!(
                "  next sample -> {}: {} prompt tokens, {} answer tokens: first token {}, full \
                 trace {:.0} ms\n    (stages in ms: prompt {:.0}, prefill {:.0}, generate {:.0}, \
                 labels {:.0}, lens {}, relevance {}, similarity {}, oracle {})\n",
                p.sample,
                p.prompt_tokens,
                p.answer_tokens,
                p.first_token
                    .map_or_else(|| "-".to_string(), |d| format!("{:.0} ms", ms(d))),
                ms(p.full_trace),
                p.stages.prompt_ms,
                p.prefill_ms,
                p.stages.generate_ms,
                p.stages.labels_ms,
                stage(p.stages.lens_ms),
                stage(p.stages.relevance_ms),
                stage(p.stages.similarity_ms),
                stage(p.stages.oracle_ms),
            ));
        }
        out.push_str(&format!(
            "  mean: first token {} ms, full trace {} ms\n",
            first_token_ms.map_or_else(|| "-".into(), |v| format!("{v:.0}")),
            full_trace_ms.map_or_else(|| "-".into(), |v| format!("{v:.0}")),
        ));
    }
    out.push_str(&serde_json::to_string(&report)?);
    out.push('\n');
    write_out(&out)
}

/// The side benches' model: `--model`, else the `--preset` folder (built on first use).
fn bench_model_spec(args: &BenchArgs) -> Result<ModelSpec> {
    bench_model(args).spec()
}

/// A trace of demo sample 0 (en-x, German, 2-shot) with the `--preset` model: answer and
/// relevance, which is what the heavy panes draw.
fn ui_trace_now(args: &BenchArgs, data: &Dataset) -> Result<crate::pipeline::SampleTrace> {
    use crate::pipeline::{trace_sample, TraceContext, TraceInput, TraceOptions};
    // Always the preset: a `--model` is for the latency benches.
    let preset = BenchModel {
        model: None,
        ..bench_model(args)
    };
    let model = LoadedModel::load(&preset.spec()?)?;
    let options = TraceOptions {
        oracle: None,
        max_new_tokens: 8,
        ..TraceOptions::default()
    };
    let input = TraceInput::Sample {
        data,
        index: 0,
        options: PromptOptions {
            setting: Setting {
                scenario: Scenario::EnX,
                lang: Lang::De,
                shots: 2,
                ..Setting::default()
            },
            ..PromptOptions::default()
        },
    };
    let ctx = TraceContext::alone(&model, None);
    trace_sample(ctx, &input, &options, &mut |_| {})
}

/// "200x60" -> (200, 60).
fn parse_size(text: &str) -> Result<(u16, u16)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .with_context(|| format!("--size {text}: expected WIDTHxHEIGHT, e.g. 200x60"))?;
    let w: u16 = w
        .trim()
        .parse()
        .with_context(|| format!("--size {text}: bad width"))?;
    let h: u16 = h
        .trim()
        .parse()
        .with_context(|| format!("--size {text}: bad height"))?;
    if w == 0 || h == 0 {
        bail!("--size {text}: both sides must be positive");
    }
    Ok((w, h))
}

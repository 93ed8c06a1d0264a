//! `xmrc-lens bench`: speed and memory of the engine on a random-weight model with real
//! dimensions, optionally side by side with transformers on the same folder and tokens.
//!
//! The model is built once per preset/dtype/seed under a cache folder (see
//! [`crate::synth::model`]); the prompt is a 2-shot XQuAD prompt made by the project's prompt
//! builder and tokenizer, cut or repeated to exactly `--tokens` ids, so both implementations
//! run the same tokens. Each figure is one timed run after an untimed 8-token warm-up.

use super::write_out;
use crate::attribution::relevance::{attribute, RelevanceOptions};
use crate::data::loader::{self, align, parse_squad, IdPolicy, LangRecords, LoadOptions};
use crate::data::prompt::{build_prompt, tokenize_prompt, Format, PromptOptions, Scenario};
use crate::data::{Dataset, Lang};
use crate::hf::tokenizer::Tokenizer;
use crate::model::chat_mode::ChatMode;
use crate::model::decoder::Decoder;
use crate::model::device::{cpu_threads, resolve_device, resolve_dtype, DTypeChoice, DeviceChoice};
use crate::model::load::LoadedModel;
use crate::model::source::{ModelRef, ResolvedModel};
use crate::model::spec::ModelSpec;
use crate::synth::model::{
    cached_model, default_cache_dir, Preset, Progress, WeightDtype, WriteOptions,
};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The transformers side, shipped inside the binary so `--compare-transformers` works from
/// any folder.
const TRANSFORMERS_SCRIPT: &str = include_str!("../../scripts/bench_transformers.py");

/// A small parallel sample (English and German) for the prompt when no `--data` is given.
const SAMPLE_EN: &str = include_str!("../../tests/fixtures/xquad-mini/xquad.en.json");
const SAMPLE_DE: &str = include_str!("../../tests/fixtures/xquad-mini/xquad.de.json");

/// Tokens of the untimed warm-up run before each measurement.
const WARM_UP_TOKENS: usize = 8;

/// An attention implementation of transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerAttention {
    Sdpa,
    Eager,
}

impl PeerAttention {
    pub fn name(self) -> &'static str {
        match self {
            PeerAttention::Sdpa => "sdpa",
            PeerAttention::Eager => "eager",
        }
    }
}

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
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(WARM_UP_TOKENS as u64..))]
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
        return report_bench(lines, args.seed, args.json_only);
    }
    if args.ui {
        return ui_bench(args);
    }
    if args.explorer_latency {
        return explorer_latency(args);
    }
    if args.cancel_latency {
        let model = load_bench_model(args)?;
        let data = prompt_data(args)?;
        let text = super::bench_cancel::run(&model, &data, args.json_only)?;
        return write_out(&text);
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        // candle's CPU kernels and rayon's pool read this; nothing has started them yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let device = resolve_device(args.device)?;
    let dtype = resolve_dtype(args.dtype, &device);
    let weight_dtype = weight_dtype(dtype)?;
    let cache_dir = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => default_cache_dir()?,
    };
    let opts = WriteOptions::new(weight_dtype, args.seed);
    let model_ref = match &args.model {
        Some(model) => model.clone(),
        None => {
            let model_dir = build_model(&cache_dir, args.preset, &opts)?;
            if args.build_only {
                return write_out(&format!("{}\n", model_dir.display()));
            }
            ModelRef::Local(model_dir)
        }
    };

    progress(&format!(
        "loading {model_ref} ({}, {})",
        dtype.as_str(),
        device_name(&device)
    ));
    let spec = ModelSpec {
        model: model_ref.clone(),
        // What was resolved above, so both loads agree.
        device: device_choice(&device),
        dtype: dtype_choice(weight_dtype),
        chat: ChatMode::Auto,
    };
    let started = Instant::now();
    let model = LoadedModel::load(&spec)?;
    sync(&device)?;
    let load = LoadFigures {
        seconds: started.elapsed().as_secs_f64(),
        rss_mb: status_mb("VmRSS"),
        peak_mb: peak_rss_mb(),
    };
    let (ids, built_len) = prompt_ids(&model, args)?;
    let mut report = measure(&model.decoder, &ids, &load, args)?;
    let files = model.files.clone();
    if let Some(gguf) = &model.gguf {
        report.insert("gguf".into(), serde_json::to_value(gguf)?);
    }
    drop(model);
    match &args.model {
        Some(m) => report.insert("model".into(), json!(m.to_string())),
        None => report.insert("preset".into(), json!(args.preset.name())),
    };
    report.insert("prompt_tokens_built".into(), json!(built_len));
    report.insert("model_dir".into(), json!(files.dir().display().to_string()));
    if args.compare_transformers {
        let mut peers = Map::new();
        for attn in dedup(&args.attn) {
            let theirs = run_transformers(&files, &ids, &device, dtype, attn, args)?;
            peers.insert(attn.name().into(), theirs);
        }
        report.insert("transformers".into(), Value::Object(peers));
    }
    let report = Value::Object(report);
    let mut out = String::new();
    if !args.json_only {
        out.push_str(&table(&report));
        out.push('\n');
    }
    out.push_str(&serde_json::to_string(&report)?);
    out.push('\n');
    write_out(&out)
}

/// The attention implementations in their first order, each once.
fn dedup(attn: &[PeerAttention]) -> Vec<PeerAttention> {
    let mut seen = Vec::new();
    for &a in attn {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen
}

/// The device as a choice `LoadedModel` resolves to the same device.
fn device_choice(device: &Device) -> DeviceChoice {
    match device.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => DeviceChoice::Cuda(gpu_id),
        _ => DeviceChoice::Cpu,
    }
}

fn dtype_choice(dtype: WeightDtype) -> DTypeChoice {
    match dtype {
        WeightDtype::F32 => DTypeChoice::F32,
        WeightDtype::Bf16 => DTypeChoice::Bf16,
        WeightDtype::F16 => DTypeChoice::F16,
    }
}

/// Time and memory of loading the model.
struct LoadFigures {
    seconds: f64,
    rss_mb: Option<f64>,
    peak_mb: Option<f64>,
}

fn weight_dtype(dtype: DType) -> Result<WeightDtype> {
    Ok(match dtype {
        DType::F32 => WeightDtype::F32,
        DType::BF16 => WeightDtype::Bf16,
        DType::F16 => WeightDtype::F16,
        other => bail!("benchmark models are written in f32, bf16 or f16, not {other:?}"),
    })
}

fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

/// The preset's folder under the cache, built now if missing or incomplete.
fn build_model(cache_dir: &Path, preset: Preset, opts: &WriteOptions) -> Result<PathBuf> {
    let started = Instant::now();
    let mut next_tenth = 1u64;
    let mut report = |p: Progress| {
        // Small models are written in a blink: report only what takes a while.
        if p.total >= 100_000_000 && p.written * 10 >= next_tenth * p.total {
            progress(&format!(
                "writing {preset} weights: {}% of {:.2} GB",
                next_tenth * 10,
                p.total as f64 / 1e9
            ));
            next_tenth = p.written * 10 / p.total + 1;
        }
    };
    let (dir, built) = cached_model(cache_dir, preset, opts, &mut report)
        .with_context(|| format!("building the {preset} model under {}", cache_dir.display()))?;
    if built {
        progress(&format!(
            "built {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        ));
    } else {
        progress(&format!("reusing {}", dir.display()));
    }
    Ok(dir)
}

/// The sample the prompt is built from: `--data` (English and German files) or the bundled
/// sample.
fn prompt_data(args: &BenchArgs) -> Result<Dataset> {
    match &args.data {
        Some(dir) => loader::load_dir(
            dir,
            &LoadOptions {
                langs: Some(vec![Lang::En, Lang::De]),
                id_policy: IdPolicy::Identical,
            },
        )
        .with_context(|| format!("loading the prompt data from {}", dir.display())),
        None => {
            let file = |lang: Lang, text: &str| -> Result<LangRecords> {
                let path = PathBuf::from(format!("bundled/xquad.{}.json", lang.code()));
                let records = parse_squad(text.as_bytes(), &path)?;
                Ok(LangRecords {
                    lang,
                    path,
                    records,
                })
            };
            let files = vec![file(Lang::En, SAMPLE_EN)?, file(Lang::De, SAMPLE_DE)?];
            Ok(align(files, IdPolicy::Identical, "the bundled sample")?.dataset)
        }
    }
}

/// The prompt ids: the first sample's 2-shot en-x (German question) prompt in the model's chat
/// template, tokenised, then cut or repeated (its BOS kept once) to exactly `--tokens` ids.
/// Also returns the built prompt's own length.
fn prompt_ids(model: &LoadedModel, args: &BenchArgs) -> Result<(Vec<u32>, usize)> {
    let data = prompt_data(args)?;
    let opts = PromptOptions {
        scenario: Scenario::EnX,
        lang: Lang::De,
        shots: 2,
        format: Format::V1,
        seed: 0,
        answer_cue: None,
        system: None,
    };
    let prompt = build_prompt(&data, 0, &opts, model.chat_template.as_ref())?;
    let ids: Vec<u32> = tokenize_prompt(&prompt, &model.tokenizer)?
        .iter()
        .map(|t| t.id)
        .collect();
    let wanted = usize::try_from(args.tokens)?;
    Ok((fit_to_length(&ids, wanted, &model.tokenizer), ids.len()))
}

/// `ids` cut to `len`, or repeated until `len` (a leading special token such as BOS once).
fn fit_to_length(ids: &[u32], len: usize, tokenizer: &Tokenizer) -> Vec<u32> {
    let keep_first = ids.first().is_some_and(|&id| tokenizer.is_special(id)) && ids.len() > 1;
    let (head, body) = if keep_first {
        ids.split_at(1)
    } else {
        (&ids[..0], ids)
    };
    head.iter()
        .chain(body.iter().cycle())
        .take(len)
        .copied()
        .collect()
}

/// A memory figure of this process from /proc/self/status in MiB (`VmHWM`: peak resident,
/// `VmRSS`: resident now), where /proc tells it.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM")
}

fn sync(device: &Device) -> Result<()> {
    device.synchronize().context("waiting for the device")
}

/// Index of the largest value of an f32 vector tensor.
fn argmax(logits: &Tensor) -> Result<u32> {
    Ok(logits.argmax(0)?.to_scalar::<u32>()?)
}

/// Runs the measurements on our engine and returns the report fields.
fn measure(
    decoder: &Decoder,
    ids: &[u32],
    load: &LoadFigures,
    args: &BenchArgs,
) -> Result<Map<String, Value>> {
    let tokens = ids.len();
    let device = decoder.device();

    let mut warm = decoder.new_cache();
    decoder.forward_fast(&ids[..WARM_UP_TOKENS], &mut warm)?;
    sync(device)?;
    drop(warm);

    progress(&format!("prefill (fast path) over {tokens} tokens"));
    let mut cache = decoder.new_cache();
    let started = Instant::now();
    let logits = decoder.forward_fast(ids, &mut cache)?;
    let mut next = argmax(&logits)?;
    let prefill_fast_s = started.elapsed().as_secs_f64();
    let first = next;

    progress(&format!("decode {} tokens", args.new_tokens));
    let started = Instant::now();
    for _ in 0..args.new_tokens {
        let logits = decoder.forward_fast(&[next], &mut cache)?;
        next = argmax(&logits)?;
    }
    sync(device)?;
    let decode_s = started.elapsed().as_secs_f64();
    drop(cache);
    let peak_gen = peak_rss_mb();

    let mut report = Map::new();
    report.insert("impl".into(), json!("xmrc-lens"));
    report.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    report.insert("device".into(), json!(device_name(device)));
    report.insert("dtype".into(), json!(decoder.dtype().as_str()));
    report.insert("threads".into(), json!(cpu_threads()));
    report.insert("tokens".into(), json!(tokens));
    report.insert("new_tokens".into(), json!(args.new_tokens));
    report.insert("load_s".into(), json!(load.seconds));
    report.insert("rss_load_mb".into(), json!(load.rss_mb));
    report.insert("peak_rss_load_mb".into(), json!(load.peak_mb));
    report.insert("prefill_fast_s".into(), json!(prefill_fast_s));
    report.insert(
        "prefill_fast_tok_s".into(),
        json!(tokens as f64 / prefill_fast_s),
    );
    report.insert("decode_s".into(), json!(decode_s));
    report.insert(
        "decode_tok_s".into(),
        json!((decode_s > 0.0).then(|| args.new_tokens as f64 / decode_s)),
    );
    for key in [
        "trace_s",
        "trace_forward_s",
        "trace_backward_s",
        "trace_tok_s",
        "trace_over_prefill",
    ] {
        report.insert(key.into(), Value::Null);
    }
    report.insert("peak_rss_gen_mb".into(), json!(peak_gen));

    if !args.skip_trace {
        progress(&format!(
            "AttnLRP trace over {tokens} tokens (recorded forward + backward)"
        ));
        let (trace_s, forward_s, backward_s) = measure_trace(decoder, ids, first)?;
        report.insert("trace_s".into(), json!(trace_s));
        report.insert("trace_forward_s".into(), json!(forward_s));
        report.insert("trace_backward_s".into(), json!(backward_s));
        report.insert("trace_tok_s".into(), json!(tokens as f64 / trace_s));
        report.insert("trace_over_prefill".into(), json!(trace_s / prefill_fast_s));
    }
    report.insert("peak_rss_mb".into(), json!(peak_rss_mb()));
    // candle does not expose its device allocator's peak; VmHWM is host memory only.
    report.insert("cuda_peak_mb".into(), Value::Null);
    Ok(report)
}

/// The AttnLRP relevance trace as `trace` computes it, explaining `answer` (the argmax at
/// the last position), every level's relevance read back to the host. Returns its seconds:
/// in all, in the recorded forward, and in the backward with the relevance.
fn measure_trace(decoder: &Decoder, ids: &[u32], answer: u32) -> Result<(f64, f64, f64)> {
    let started = Instant::now();
    let trace = attribute(decoder, ids, &[answer], &RelevanceOptions::default(), None)?;
    sync(decoder.device())?;
    let seconds = started.elapsed().as_secs_f64();
    if trace.relevance.raw.len() != decoder.config().num_layers + 1 {
        bail!("the trace is missing levels");
    }
    let relevance = &trace.relevance;
    Ok((
        seconds,
        relevance.forward_ms / 1e3,
        relevance.backward_ms / 1e3,
    ))
}

/// "cpu" or "cuda:N", the form the transformers script takes.
fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
    }
}

/// Runs the embedded transformers script on the same folder (or GGUF file) and ids; its
/// JSON line.
fn run_transformers(
    model: &ResolvedModel,
    ids: &[u32],
    device: &Device,
    dtype: DType,
    attn: PeerAttention,
    args: &BenchArgs,
) -> Result<Value> {
    let scratch = std::env::temp_dir().join(format!("xmrc-lens-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("{}: cannot create", scratch.display()))?;
    let result = run_script(&scratch, model, ids, device, dtype, attn, args);
    // Best effort: the scratch files are small and in the temp folder.
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn run_script(
    scratch: &Path,
    model: &ResolvedModel,
    ids: &[u32],
    device: &Device,
    dtype: DType,
    attn: PeerAttention,
    args: &BenchArgs,
) -> Result<Value> {
    let script = scratch.join("bench_transformers.py");
    std::fs::write(&script, TRANSFORMERS_SCRIPT)
        .with_context(|| format!("{}: cannot write", script.display()))?;
    let ids_file = scratch.join("ids.json");
    std::fs::write(&ids_file, serde_json::to_string(&json!({ "ids": ids }))?)
        .with_context(|| format!("{}: cannot write", ids_file.display()))?;
    let mut command = std::process::Command::new(&args.python);
    command
        .arg(&script)
        .arg("--model")
        .arg(model.dir())
        .arg("--ids")
        .arg(&ids_file)
        .args(["--threads", &cpu_threads().to_string()])
        .args(["--dtype", weight_dtype(dtype)?.name()])
        .args(["--device", &device_name(device)])
        .args(["--new-tokens", &args.new_tokens.to_string()])
        .args(["--attn", attn.name()])
        .stderr(std::process::Stdio::inherit());
    if args.skip_trace {
        command.arg("--skip-diff");
    }
    if let ResolvedModel::Gguf(g) = model {
        if let Some(name) = g.file.file_name() {
            command.arg("--gguf-file").arg(name);
        }
    }
    progress(&format!(
        "running transformers ({} attention) with {}",
        attn.name(),
        args.python
    ));
    let output = command.output().with_context(|| {
        format!(
            "cannot run '{}': pass --python (or set XMRC_LENS_PYTHON) to a Python with torch and \
             transformers installed",
            args.python
        )
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "the transformers benchmark failed ({}); its messages are above",
            output.status
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("the transformers benchmark printed no JSON line: {stdout}"))?;
    serde_json::from_str(line).context("the transformers benchmark printed malformed JSON")
}

/// The human table: our figures, and each transformers attention's with the ratio.
fn table(report: &Value) -> String {
    let peers: Vec<(&String, &Value)> = report
        .get("transformers")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let rows: [(&str, &str, &str, bool); 12] = [
        ("load", "load_s", "s", false),
        ("resident after load", "rss_load_mb", "MiB", false),
        ("peak RSS during load", "peak_rss_load_mb", "MiB", false),
        ("prefill, fast path", "prefill_fast_tok_s", "tok/s", true),
        ("decode (greedy, KV cache)", "decode_tok_s", "tok/s", true),
        ("AttnLRP trace, forward + backward", "trace_s", "s", false),
        ("  recorded forward", "trace_forward_s", "s", false),
        ("  backward + relevance", "trace_backward_s", "s", false),
        ("  trace", "trace_tok_s", "tok/s", true),
        ("  trace / fast prefill", "trace_over_prefill", "x", false),
        ("peak RSS after decode", "peak_rss_gen_mb", "MiB", false),
        ("peak RSS at the end", "peak_rss_mb", "MiB", false),
    ];
    let number = |v: Option<&Value>| v.and_then(Value::as_f64);
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.2}"));
    let mut out = format!(
        "{} · {} tokens · {} new · {} · {} · {} threads\n",
        match (report["preset"].as_str(), report["model"].as_str()) {
            (Some(preset), _) => format!("preset {preset}"),
            (None, Some(model)) => format!("model {model}"),
            (None, None) => "?".to_string(),
        },
        report["tokens"],
        report["new_tokens"],
        report["device"].as_str().unwrap_or("?"),
        report["dtype"].as_str().unwrap_or("?"),
        report["threads"]
    );
    out.push_str(&format!("{:<38}{:>11}", "", "xmrc-lens"));
    for (attn, _) in &peers {
        out.push_str(&format!("{:>15}{:>9}", format!("tf {attn}"), "ours is"));
    }
    out.push('\n');
    for (label, key, unit, higher_is_better) in rows {
        let ours = number(report.get(key));
        out.push_str(&format!(
            "{:<38}{:>11}",
            format!("{label} ({unit})"),
            show(ours)
        ));
        for (_, theirs) in &peers {
            let other = number(theirs.get(key));
            let ratio = match (ours, other) {
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => {
                    let r = if higher_is_better { a / b } else { b / a };
                    format!("{r:.2}x")
                }
                _ => "-".to_string(),
            };
            out.push_str(&format!("{:>15}{:>9}", show(other), ratio));
        }
        out.push('\n');
    }
    if !peers.is_empty() {
        out.push_str(
            "(\"ours is\": how many times better ours is: faster, or less time/memory; tf: \
             transformers, its trace is LXT's on the same attention)\n(transformers maps the \
             weights and reads them on first use: its resident memory after load is not all \
             of the weights)\n",
        );
    }
    for (attn, theirs) in &peers {
        for key in ["attn_note", "trace_note"] {
            if let Some(note) = theirs[key].as_str() {
                out.push_str(&format!("(tf {attn}: {note})\n"));
            }
        }
        if theirs["attn_softcap_ignored"].as_bool() == Some(true) {
            out.push_str(&format!(
                "(tf {attn}: this model soft-caps its attention scores (Gemma-2), which \
                 transformers' {attn} attention ignores: its figures are for a model without \
                 the cap)\n"
            ));
        }
    }
    if report["device"]
        .as_str()
        .is_some_and(|d| d.starts_with("cuda"))
    {
        out.push_str("(peak RSS is host memory; GPU memory is not included)\n");
    }
    out
}

/// `--report N`: loading, aggregation and writing of `report` on N synthetic lines.
fn report_bench(lines: usize, seed: u64, json_only: bool) -> Result<()> {
    use crate::report::{self, merge, synthetic, ReportOptions};
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    progress(&format!("writing {lines} synthetic unit lines"));
    let started = Instant::now();
    let file = synthetic::write_bench(dir.path(), lines, seed)?;
    let generate_s = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let pool_bytes = std::fs::metadata(crate::batch::pool_path(&file))
        .map(|m| m.len())
        .unwrap_or(0);
    let mut runs = Map::new();
    for plots in [false, true] {
        let options = ReportOptions {
            normalizer: crate::eval::normalize::Normalizer::Squad,
            judge: None,
            paper: true,
            plots,
        };
        let out = dir
            .path()
            .join(if plots { "with-plots" } else { "no-plots" });
        let started = Instant::now();
        let merged = merge::load(std::slice::from_ref(&file), false)?;
        let load_s = started.elapsed().as_secs_f64();
        let built = report::build(&merged, &options)?;
        let build_s = started.elapsed().as_secs_f64() - load_s;
        let written = report::write(&built, &out, plots)?;
        let total_s = started.elapsed().as_secs_f64();
        let name = if plots { "with_plots" } else { "no_plots" };
        runs.insert(
            name.into(),
            json!({
                "load_s": load_s,
                "aggregate_s": build_s,
                "write_s": total_s - load_s - build_s,
                "total_s": total_s,
                "lines_per_s": lines as f64 / total_s,
                "files_written": written.len(),
            }),
        );
        if !json_only {
            progress(&format!(
                "report {name}: {total_s:.2} s ({:.0} lines/s; load {load_s:.2} s, aggregate \
                 {build_s:.2} s, write {:.2} s, {} files)",
                lines as f64 / total_s,
                total_s - load_s - build_s,
                written.len()
            ));
        }
    }
    let report = json!({
        "bench": "report",
        "lines": lines,
        "results_mb": bytes as f64 / 1e6,
        "pool_mb": pool_bytes as f64 / 1e6,
        "generate_s": generate_s,
        "threads": 1,
        "runs": runs,
    });
    write_out(&format!("{report}\n"))
}

/// `bench --ui`: frame times of the explorer on a real trace.
fn ui_bench(args: &BenchArgs) -> Result<()> {
    use crate::tui::bench::{app_with_trace, frame_times, FrameStats};
    let (width, height) = parse_size(&args.size)?;
    let data = std::sync::Arc::new(crate::data::demo::dataset()?);
    let trace = match &args.ui_trace {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the trace {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: not a trace JSON from `xmrc-lens trace`",
                    path.display()
                )
            })?
        }
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
    let spec = bench_model_spec(args)?;
    progress(&format!(
        "loading {} ({})",
        spec.model,
        format!("{:?}", args.dtype).to_lowercase()
    ));
    LoadedModel::load(&spec)
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
                 labels {:.0}, relevance {}, similarity {}, oracle {})\n",
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
    let device = resolve_device(args.device)?;
    let dtype = resolve_dtype(args.dtype, &device);
    let model = match &args.model {
        Some(model) => model.clone(),
        None => {
            let cache_dir = match &args.cache_dir {
                Some(dir) => dir.clone(),
                None => default_cache_dir()?,
            };
            let opts = WriteOptions::new(weight_dtype(dtype)?, args.seed);
            ModelRef::Local(build_model(&cache_dir, args.preset, &opts)?)
        }
    };
    let mut spec = ModelSpec::new(model);
    spec.device = args.device;
    spec.dtype = args.dtype;
    Ok(spec)
}

/// A trace of demo sample 0 (en-x, German, 2-shot) with the `--preset` model: answer and
/// relevance, which is what the heavy panes draw.
fn ui_trace_now(args: &BenchArgs, data: &Dataset) -> Result<crate::pipeline::SampleTrace> {
    use crate::pipeline::{trace_sample, TraceContext, TraceInput, TraceOptions};
    let device = resolve_device(args.device)?;
    let dtype = resolve_dtype(args.dtype, &device);
    let cache_dir = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => default_cache_dir()?,
    };
    let dir = build_model(
        &cache_dir,
        args.preset,
        &WriteOptions::new(weight_dtype(dtype)?, args.seed),
    )?;
    let mut spec = ModelSpec::new(ModelRef::Local(dir));
    spec.device = args.device;
    spec.dtype = args.dtype;
    let model = LoadedModel::load(&spec)?;
    let options = TraceOptions {
        oracle: None,
        max_new_tokens: 8,
        ..TraceOptions::default()
    };
    let input = TraceInput::Sample {
        data,
        index: 0,
        options: PromptOptions {
            scenario: Scenario::EnX,
            lang: Lang::De,
            shots: 2,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(attn: &str, prefill: f64, softcap_ignored: bool) -> Value {
        json!({"attn": attn, "prefill_fast_tok_s": prefill, "trace_s": 20.0,
               "attn_softcap_ignored": softcap_ignored})
    }

    #[test]
    fn the_table_has_a_column_and_a_ratio_per_attention() {
        let report = json!({
            "preset": "tiny", "tokens": 16, "new_tokens": 1, "device": "cpu", "dtype": "f32",
            "threads": 2, "prefill_fast_tok_s": 200.0, "trace_s": 10.0,
            "transformers": {"sdpa": peer("sdpa", 100.0, false), "eager": peer("eager", 50.0, false)},
        });
        let text = table(&report);
        let header = text.lines().nth(1).unwrap();
        assert!(
            header.find("tf sdpa").unwrap() < header.find("tf eager").unwrap(),
            "{text}"
        );
        let prefill = text.lines().find(|l| l.starts_with("prefill")).unwrap();
        assert!(
            prefill.contains("2.00x") && prefill.contains("4.00x"),
            "{prefill}"
        );
        let trace = text.lines().find(|l| l.starts_with("AttnLRP")).unwrap();
        assert!(trace.contains("2.00x"), "{trace}");
        assert!(!text.contains("soft-caps"), "{text}");
    }

    #[test]
    fn an_ignored_soft_cap_is_said_not_hidden() {
        let report = json!({
            "preset": "tiny", "tokens": 16, "new_tokens": 1, "device": "cpu", "dtype": "f32",
            "threads": 2, "prefill_fast_tok_s": 200.0,
            "transformers": {"sdpa": peer("sdpa", 100.0, true), "eager": peer("eager", 50.0, false)},
        });
        let text = table(&report);
        assert!(text.contains("tf sdpa: this model soft-caps"), "{text}");
        let mut refused = report.clone();
        refused["transformers"]["sdpa"]["attn_note"] = json!("transformers refuses sdpa");
        refused["transformers"]["sdpa"]["trace_note"] = json!("LXT 2.1 has no AttnLRP rules");
        let text = table(&refused);
        assert!(
            text.contains("(tf sdpa: transformers refuses sdpa)")
                && text.contains("(tf sdpa: LXT 2.1 has no AttnLRP rules)"),
            "{text}"
        );
        assert!(!text.contains("tf eager: this model"), "{text}");
        let prefill = text.lines().find(|l| l.starts_with("prefill")).unwrap();
        assert!(prefill.contains("2.00x"), "the row stays: {prefill}");
    }

    #[test]
    fn attention_choices_keep_their_order_once_each() {
        use PeerAttention::{Eager, Sdpa};
        assert_eq!(dedup(&[Eager, Sdpa, Eager]), vec![Eager, Sdpa]);
    }
}

//! `xmrc-lens trace`: one sample (or any text) through every instrument, printed as one
//! SampleTrace JSON (see README "Trace JSON"). Progress streams to stderr; Ctrl-C cancels at
//! the next step and leaves no file behind (`--out` is written to a temporary file and
//! renamed only when complete).

use super::analysis_args::AnalysisArgs;
use super::model_args::ModelArgs;
use super::sample_args::SampleArgs;
use super::write_out;
use crate::atomic_file::write_atomically;
use crate::batch::Analyses;
use crate::diff::relevance_diff;
use crate::model::chat_mode::ChatMode;
use crate::model::LoadedModel;
use crate::pipeline::{
    prefill_pool, trace_sample, EnHidden, PoolFill, Progress, TraceContext, TraceInput,
    TraceOptions,
};
use crate::similarity::reference::ReferencePool;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dump {
    /// Per level: the mean over positions and the last-position hidden vector.
    Hidden,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub which: SampleArgs,
    /// Trace this text file instead of a sample: no XQuAD, no template (`--chat` wraps it
    /// in the model's chat template as one user turn).
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Skip AttnLRP relevance and MRD.
    #[arg(long)]
    pub no_relevance: bool,
    /// Skip the sentence oracle.
    #[arg(long)]
    pub no_oracle: bool,
    /// Skip the cross-lingual similarity.
    #[arg(long)]
    pub no_similarity: bool,
    /// Skip the language lens.
    #[arg(long)]
    pub no_lens: bool,
    /// Pre-fill the reference pool of the sample's language with this many other samples
    /// (same scenario and options) so the trace carries S(en,x).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub reference_pool: usize,
    /// Add data: `hidden` adds per-level hidden-state vectors.
    #[arg(long, value_enum)]
    pub dump: Vec<Dump>,
    /// Also trace the sample with this model (hub id, folder or GGUF; typically the instruct
    /// twin of a base `--model`: raw prompt against chat template) and write
    /// `{"a": trace, "b": trace, "diff": ...}`: the relevance of B minus A over the tokens
    /// aligned part by part (README "What instruction tuning changed").
    #[arg(long, value_name = "ID|DIR")]
    pub compare: Option<String>,
    /// The prompt of `--compare`'s model: auto (its chat template when it has one), chat or
    /// no-chat; default: the run's `--chat`/`--no-chat`. With the same model on both sides
    /// this shows what the chat template alone changes.
    #[arg(long, value_name = "auto|chat|no-chat", value_parser = parse_chat_mode, requires = "compare")]
    pub compare_chat: Option<ChatMode>,
    /// Write the JSON here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl TraceArgs {
    fn options(&self) -> TraceOptions {
        let mut options = self.analysis.trace_options(Analyses {
            relevance: !self.no_relevance,
            similarity: !self.no_similarity,
            oracle: !self.no_oracle,
            lens: !self.no_lens,
        });
        options.dump_hidden = self.dump.contains(&Dump::Hidden);
        options
    }
}

fn parse_chat_mode(text: &str) -> Result<ChatMode, String> {
    match text {
        "auto" => Ok(ChatMode::Auto),
        "chat" => Ok(ChatMode::On),
        "no-chat" => Ok(ChatMode::Off),
        _ => Err(format!("'{text}': use auto, chat or no-chat")),
    }
}

fn say(message: &str) {
    eprintln!("[trace] {message}");
}

pub fn run(args: &TraceArgs) -> Result<()> {
    // A bad output path is found before the model loads, not after the trace has run.
    if let Some(out) = &args.out {
        crate::atomic_file::ensure_writable(out)?;
    }
    if args.compare.is_some() && (args.no_relevance || args.text.is_some()) {
        bail!("--compare aligns and subtracts two models' relevance of one sample: it needs relevance (no --no-relevance) and a sample (no --text)");
    }
    let cancel = super::cancel_on_ctrl_c("[trace] cancelling at the next step");
    let mut spec = args.model.spec();
    if args.text.is_some() {
        // Free text is raw unless --chat asks for the template.
        spec.chat = if args.model.run.chat {
            ChatMode::On
        } else {
            ChatMode::Off
        };
    }
    // The data and the sample first: a bad --sample or data folder costs no model load.
    let loaded = match &args.text {
        Some(_) => None,
        None => Some(args.which.load()?),
    };
    let judge = match &args.analysis.judge {
        Some(name) => {
            say(&format!("loading the judge {name}"));
            let judge_spec = args.model.spec_for(name.parse()?);
            Some(LoadedModel::load(&judge_spec).context("loading the judge model")?)
        }
        None => None,
    };
    let options = args.options();
    let data;
    let input = match &args.text {
        Some(path) => TraceInput::Text {
            text: std::fs::read_to_string(path)
                .with_context(|| format!("reading the text to trace from {}", path.display()))?,
            chat: args.model.run.chat,
        },
        None => {
            let (loaded, index) = loaded.context("the sample was loaded above")?;
            data = loaded;
            TraceInput::Sample {
                data: &data,
                index,
                options: args.which.options(),
            }
        }
    };
    let trace = trace_one(args, &spec, judge.as_ref(), &input, &options, &cancel)?;
    let json = match &args.compare {
        None => serde_json::to_string_pretty(&trace)? + "\n",
        Some(name) => {
            // The twin: the same sample and options, its own prompt (raw or chat template).
            let mut spec_b = args.model.spec_for(name.parse()?);
            if let Some(chat) = args.compare_chat {
                spec_b.chat = chat;
            }
            let b = trace_one(args, &spec_b, judge.as_ref(), &input, &options, &cancel)?;
            let started = std::time::Instant::now();
            let diff = relevance_diff(&trace, &b)?;
            say(&format!(
                "diff: {} aligned tokens, {} only in A, {} only in B ({:.1} ms)",
                diff.aligned.len(),
                diff.unaligned_a.len(),
                diff.unaligned_b.len(),
                started.elapsed().as_secs_f64() * 1e3
            ));
            serde_json::to_string_pretty(&serde_json::json!({
                "a": trace,
                "b": b,
                "diff": diff,
            }))? + "\n"
        }
    };
    match &args.out {
        Some(path) => write_atomically(path, |w| Ok(w.write_all(json.as_bytes())?)),
        None => write_out(&json),
    }
}

/// Loads one model and traces the input with it (its own reference pool).
fn trace_one(
    args: &TraceArgs,
    spec: &crate::model::spec::ModelSpec,
    judge: Option<&LoadedModel>,
    input: &TraceInput,
    options: &TraceOptions,
    cancel: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<crate::pipeline::SampleTrace> {
    say(&format!("loading {}", spec.model));
    let model = LoadedModel::load(spec)?;
    say(&format!(
        "{} · {} layers · {} · {:.0} ms",
        model.name,
        model.config.num_layers,
        model.describe_device(),
        model.load_ms
    ));
    let mut pool = ReferencePool::new();
    if let (
        TraceInput::Sample {
            data,
            index,
            options: prompt_options,
        },
        n,
    ) = (input, args.reference_pool)
    {
        if n > 0 {
            say(&format!(
                "reference pool: {n} other samples in {}",
                prompt_options.setting.lang
            ));
            let added = prefill_pool(
                &model,
                data,
                prompt_options,
                PoolFill {
                    exclude: *index,
                    count: n,
                    seed: prompt_options.seed,
                },
                &mut pool,
                Some(cancel),
                &mut |k| eprint!("\r[trace] reference pool {k}/{n}"),
            )?;
            eprintln!();
            if added < 2 {
                say("fewer than 2 reference samples: S(en,x) needs at least 2");
            }
        }
    }
    let ctx = TraceContext {
        model: &model,
        judge,
        pool: Some(&mut pool),
        en_hidden: EnHidden::Compute,
        pregenerated: None,
        cancel: Some(cancel),
    };
    let mut answer_open = false;
    let trace = trace_sample(ctx, input, options, &mut |p| match p {
        Progress::Stage(stage) => {
            if answer_open {
                eprintln!();
                answer_open = false;
            }
            say(&stage.to_string());
        }
        Progress::Token(step) => {
            if !answer_open {
                eprint!("[trace] answer: ");
                answer_open = true;
            }
            eprint!("{}", step.piece);
            let _ = std::io::stderr().flush();
        }
        // The finished trace is printed whole at the end.
        Progress::Partial(_) => {}
    });
    if cancel.load(Ordering::SeqCst) {
        bail!("cancelled: nothing was written");
    }
    let trace = trace?;
    say(&format!("done in {:.0} ms", trace.timings.total_ms));
    Ok(trace)
}

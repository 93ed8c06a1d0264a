//! Command-line front end (clap): one subcommand per module, all over the same engine.

mod analysis_args;
mod bench;
pub(crate) mod data_args;
mod eval;
pub mod explore;
mod export;
mod generate;
mod model_args;
mod prompt;
mod report;
mod sample_args;
mod samples;
mod score;
mod trace;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use data_args::DataArgs;
pub use model_args::ModelArgs;

/// xmrc-lens: how a language model answers a reading-comprehension question asked in one
/// language about a text in another. Without a subcommand it opens the explorer (`explore`).
#[derive(Debug, Parser)]
#[command(name = "xmrc-lens", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub explore: explore::ExploreArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The terminal explorer (the default): samples x languages, answers, relevance heatmap
    /// with MRD markers, similarity, oracle, two models side by side, sessions.
    Explore(explore::ExploreArgs),
    /// List samples of the data set (id, article, question, answer) in one language.
    Samples(samples::SamplesArgs),
    /// Build the prompt for one sample and print it with its parts (and tokens).
    Prompt(prompt::PromptArgs),
    /// Load a model and answer one sample (scored) or a text, greedily, with each step's top tokens.
    Generate(generate::GenerateArgs),
    /// Score predictions made elsewhere: JSONL in, JSONL with F1/EM under both normalisers out.
    Score(score::ScoreArgs),
    /// Trace one sample (or a text): answer, scores, labels, AttnLRP relevance, MRD,
    /// similarity and sentence oracle, as one JSON document.
    Trace(trace::TraceArgs),
    /// Evaluate many samples x languages x scenarios (x shots, formats, models) into a
    /// resumable, shardable JSON Lines results file.
    Eval(eval::EvalArgs),
    /// Speed and memory on a random-weight model of real size (optionally vs transformers).
    Bench(bench::BenchArgs),
    /// Tables and plots in the paper's shapes from eval results files (shards merged).
    Report(report::ReportArgs),
    /// A trace JSON as one self-contained HTML page (prompt shaded by relevance at a layer
    /// slider, heatmap, MRD, similarity and lens curves, answer, scores), or its heatmap as SVG.
    Export(export::ExportArgs),
}

impl Cli {
    /// Whether this run opens the full-screen explorer (which must keep stderr quiet).
    pub fn is_explorer(&self) -> bool {
        matches!(self.command, None | Some(Command::Explore(_)))
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return explore::run(&cli.explore);
    };
    match command {
        Command::Explore(args) => explore::run(&args),
        Command::Samples(args) => samples::run(&args),
        Command::Prompt(args) => prompt::run(&args),
        Command::Score(args) => score::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Trace(args) => trace::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Export(args) => export::run(&args),
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly instead of failing.
pub(crate) fn write_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Colour only for a terminal, and never when NO_COLOR is set.
pub(crate) fn use_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A flag set by Ctrl-C, for work that stops at its next cancel point; `message` is printed
/// then. A second Ctrl-C exits at once (status 130).
pub(crate) fn cancel_on_ctrl_c(
    message: &'static str,
) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\n{message} (Ctrl-C again to quit now)");
    });
    if let Err(e) = installed {
        tracing::warn!("Ctrl-C cannot stop the work cleanly: {e}");
    }
    flag
}

//! `xmrc-lens report FILE...`: tables and plots in the paper's shapes from `eval` results
//! files (shards merged).

use super::write_out;
use crate::eval::normalize::Normalizer;
use crate::report::aggregate::{Incorrect, JudgeChoice};
use crate::report::{self, merge, ReportOptions};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Results files written by `xmrc-lens eval` (shards of one run, or several runs); each
    /// file's `<file>.pool.json` sidecar is read when present.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Folder for report.md, the CSVs and the plots.
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// Which scores the tables show: squad (the paper's) or mlqa.
    #[arg(long, default_value = "squad")]
    pub normalizer: Normalizer,
    /// Whose generation-error labels to count; default: llm when every unit has an LLM-judge
    /// label, else rules.
    #[arg(long, value_enum)]
    pub judge: Option<JudgeChoice>,
    /// Which responses are incorrect, the denominator of every error rate (the paper's W
    /// set): em0 (EM = 0, the paper's) or f1-below:T (F1 < T, F1 x100, 0 < T <= 100), both
    /// under --normalizer.
    #[arg(long, value_name = "RULE", default_value = "em0")]
    pub incorrect: Incorrect,
    /// Add the paper's published 2-shot figures beside ours (also printed).
    #[arg(long)]
    pub paper: bool,
    /// Report files made with different settings together (the differences are listed).
    #[arg(long)]
    pub allow_mixed: bool,
    /// Skip the PNG/SVG plots.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let merged = merge::load(&args.files, args.allow_mixed)?;
    if merged.duplicates > 0 {
        eprintln!(
            "{} duplicate units (same key, same outcome) were counted once",
            merged.duplicates
        );
    }
    let options = ReportOptions {
        normalizer: args.normalizer,
        judge: args.judge,
        paper: args.paper,
        plots: !args.no_plots,
    };
    let built = report::build_with(&merged, &options, args.incorrect)?;
    let written = report::write(&built, &args.out, options.plots)?;
    let mut text = String::new();
    if let Some(paper) = &built.paper {
        text.push_str(paper);
    }
    text.push_str(&format!(
        "{} units from {} files\n",
        merged.units.len(),
        merged.inputs.len()
    ));
    for path in written {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    write_out(&text)
}

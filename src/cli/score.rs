//! `xmrc-lens score FILE.jsonl`: score predictions made by any system.

use crate::atomic_file::{ensure_not_an_input, write_atomically};
use crate::eval::jsonl::{score_jsonl, ScoreFileOptions, ScoreSummary};
use anyhow::{Context, Result};
use clap::Args;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// JSONL file, one object per line with `prediction`, `answers` (list) and `lang`
    /// (the answer language); `-` reads standard input.
    pub file: PathBuf,
    /// Write the scored lines here instead of standard output (atomically: the file is
    /// replaced only once every line scored; it may not be the input).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Apply the answer extraction first (text after "Answer:", first line, trimmed).
    #[arg(long)]
    pub extract: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let stdin = args.file.as_os_str() == "-";
    if let (Some(out), false) = (&args.out, stdin) {
        ensure_not_an_input(out, &[&args.file])?;
    }
    let input: Box<dyn BufRead> = if stdin {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let file = File::open(&args.file)
            .with_context(|| format!("{}: cannot open", args.file.display()))?;
        Box::new(BufReader::new(file))
    };
    let opts = ScoreFileOptions {
        extract: args.extract,
    };
    let scoring = || format!("scoring {}", args.file.display());
    let summary = match &args.out {
        // Nothing reaches the named file unless every line scored.
        Some(path) => {
            let mut summary: Option<ScoreSummary> = None;
            write_atomically(path, |w| {
                summary = Some(score_jsonl(input, w, &opts).with_context(scoring)?);
                Ok(())
            })?;
            summary.context("scoring produced no summary")?
        }
        None => score_jsonl(input, BufWriter::new(std::io::stdout().lock()), &opts)
            .with_context(scoring)?,
    };
    // The means go to stderr so stdout stays valid JSONL.
    eprintln!("{summary}");
    Ok(())
}

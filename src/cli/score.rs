//! `xmrc-lens score FILE.jsonl`: score predictions made by any system.

use crate::eval::jsonl::{score_jsonl, ScoreFileOptions};
use anyhow::{Context, Result};
use clap::Args;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// JSONL file, one object per line with `prediction`, `answers` (list) and `lang`
    /// (the answer language); `-` reads standard input.
    pub file: PathBuf,
    /// Write the scored lines here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Apply the answer extraction first (text after "Answer:", first line, trimmed).
    #[arg(long)]
    pub extract: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let input: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let file = File::open(&args.file)
            .with_context(|| format!("{}: cannot open", args.file.display()))?;
        Box::new(BufReader::new(file))
    };
    let output: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let opts = ScoreFileOptions {
        extract: args.extract,
    };
    let summary = score_jsonl(input, output, &opts)
        .with_context(|| format!("scoring {}", args.file.display()))?;
    // The means go to stderr so stdout stays valid JSONL.
    eprintln!("{summary}");
    Ok(())
}

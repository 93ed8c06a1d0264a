//! `xmrc-lens export TRACE.json --html OUT.html [--svg OUT.svg]`: a trace as one
//! self-contained HTML page, or its heatmap alone as SVG (see README "Export").

use crate::atomic_file::{ensure_writable, write_atomically};
use crate::export::{heatmap_svg, html, ExportOptions};
use crate::pipeline::SampleTrace;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A trace JSON written by `xmrc-lens trace` (or saved by the explorer).
    #[arg(value_name = "TRACE.json")]
    pub trace: PathBuf,
    /// Write the self-contained HTML page here.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Write the relevance heatmap alone as SVG here (for papers and slides).
    #[arg(long, value_name = "OUT.svg")]
    pub svg: Option<PathBuf>,
    /// The layer the page's slider starts at and the heatmap's cursor marks (default: the
    /// last layer MRD counts).
    #[arg(long)]
    pub layer: Option<usize>,
    /// Heatmap rows per prompt part (the gold answer's tokens are always added).
    #[arg(long, default_value_t = 6)]
    pub top_k: usize,
}

/// Reads a trace JSON with a message that says what is wrong with it.
pub fn read_trace(path: &Path) -> Result<SampleTrace> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the trace {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a trace JSON from `xmrc-lens trace`",
            path.display()
        )
    })
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.html.is_none() && args.svg.is_none() {
        bail!("nothing to write: give --html OUT.html and/or --svg OUT.svg");
    }
    for out in [&args.html, &args.svg].into_iter().flatten() {
        ensure_writable(out)?;
    }
    let trace = read_trace(&args.trace)?;
    let options = ExportOptions {
        layer: args.layer,
        top_k: args.top_k,
    };
    if let Some(out) = &args.html {
        let page = html(&trace, &options)?;
        write_atomically(out, |w| Ok(w.write_all(page.as_bytes())?))?;
        eprintln!("wrote {} ({} bytes)", out.display(), page.len());
    }
    if let Some(out) = &args.svg {
        let svg = heatmap_svg(&trace, &options, true)?;
        write_atomically(out, |w| Ok(w.write_all(svg.as_bytes())?))?;
        eprintln!("wrote {} ({} bytes)", out.display(), svg.len());
    }
    Ok(())
}

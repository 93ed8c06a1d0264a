//! The peer: transformers on the same folder (or GGUF file) and ids, through the bundled
//! script run by a Python with torch and transformers, one process per attention.

use super::measure::Workload;
use super::model::{device_name, weight_dtype};
use super::progress;
use crate::model::device::cpu_threads;
use crate::model::source::ResolvedModel;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use serde_json::{json, Value};
use std::path::Path;

/// The transformers side, shipped inside the binary so `--compare-transformers` works from
/// any folder.
const TRANSFORMERS_SCRIPT: &str = include_str!("../../scripts/bench_transformers.py");

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

/// How the peer runs: the Python to run the script with, and the same workload as ours.
#[derive(Clone, Debug)]
pub struct Peer {
    pub python: String,
    pub work: Workload,
}

/// The attention implementations in their first order, each once.
pub fn dedup(attn: &[PeerAttention]) -> Vec<PeerAttention> {
    let mut seen = Vec::new();
    for &a in attn {
        if !seen.contains(&a) {
            seen.push(a);
        }
    }
    seen
}

/// Runs the embedded transformers script on the same folder (or GGUF file) and ids; its
/// JSON line.
pub fn run_transformers(
    model: &ResolvedModel,
    ids: &[u32],
    device: &Device,
    dtype: DType,
    attn: PeerAttention,
    peer: &Peer,
) -> Result<Value> {
    let scratch = std::env::temp_dir().join(format!("xmrc-lens-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("{}: cannot create", scratch.display()))?;
    let result = run_script(&scratch, model, ids, device, dtype, attn, peer);
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
    peer: &Peer,
) -> Result<Value> {
    let script = scratch.join("bench_transformers.py");
    std::fs::write(&script, TRANSFORMERS_SCRIPT)
        .with_context(|| format!("{}: cannot write", script.display()))?;
    let ids_file = scratch.join("ids.json");
    std::fs::write(&ids_file, serde_json::to_string(&json!({ "ids": ids }))?)
        .with_context(|| format!("{}: cannot write", ids_file.display()))?;
    let mut command = std::process::Command::new(&peer.python);
    command
        .arg(&script)
        .arg("--model")
        .arg(model.dir())
        .arg("--ids")
        .arg(&ids_file)
        .args(["--threads", &cpu_threads().to_string()])
        .args(["--dtype", weight_dtype(dtype)?.name()])
        .args(["--device", &device_name(device)])
        .args(["--new-tokens", &peer.work.new_tokens.to_string()])
        .args(["--attn", attn.name()])
        .stderr(std::process::Stdio::inherit());
    if peer.work.skip_trace {
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
        peer.python
    ));
    let output = command.output().with_context(|| {
        format!(
            "cannot run '{}': pass --python (or set XMRC_LENS_PYTHON) to a Python with torch and \
             transformers installed",
            peer.python
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_choices_keep_their_order_once_each() {
        use PeerAttention::{Eager, Sdpa};
        assert_eq!(dedup(&[Eager, Sdpa, Eager]), vec![Eager, Sdpa]);
    }
}

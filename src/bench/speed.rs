//! The speed bench: load the model, build the prompt, measure our engine, then (when asked)
//! run transformers on the same folder and ids; one JSON report of all figures.

use super::measure::{measure, Workload};
use super::memory::{peak_rss_mb, status_mb, LoadFigures};
use super::model::{device_choice, device_name, dtype_choice, sync, weight_dtype, BenchModel};
use super::peer::{dedup, run_transformers, Peer, PeerAttention};
use super::progress;
use super::prompt::prompt_ids;
use crate::model::chat_mode::ChatMode;
use crate::model::device::{resolve_device, resolve_dtype};
use crate::model::load::LoadedModel;
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Instant;

/// One speed run.
#[derive(Clone, Debug)]
pub struct SpeedBench {
    pub model: BenchModel,
    /// Prompt length in tokens.
    pub tokens: usize,
    /// The folder the prompt is built from (default: the bundled sample).
    pub data: Option<PathBuf>,
    pub work: Workload,
    /// transformers' attention implementations to compare with, in order (none: ours only).
    pub peers: Vec<PeerAttention>,
    /// The Python that runs the transformers script.
    pub python: String,
}

impl SpeedBench {
    /// Measures the model (and the peers); the report's fields, as [`super::table`] reads them.
    pub fn run(&self) -> Result<Value> {
        let device = resolve_device(self.model.device)?;
        let dtype = resolve_dtype(self.model.dtype, &device);
        let weight_dtype = weight_dtype(dtype)?;
        let model_ref = match &self.model.model {
            Some(model) => model.clone(),
            None => ModelRef::Local(self.model.folder(dtype)?),
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
        let (ids, built_len) = prompt_ids(&model, self.tokens, self.data.as_deref())?;
        let mut report = measure(&model.decoder, &ids, &load, &self.work)?;
        let files = model.files.clone();
        if let Some(gguf) = &model.gguf {
            report.insert("gguf".into(), serde_json::to_value(gguf)?);
        }
        drop(model);
        match &self.model.model {
            Some(m) => report.insert("model".into(), json!(m.to_string())),
            None => report.insert("preset".into(), json!(self.model.preset.name())),
        };
        report.insert("prompt_tokens_built".into(), json!(built_len));
        report.insert("model_dir".into(), json!(files.dir().display().to_string()));
        if !self.peers.is_empty() {
            let peer = Peer {
                python: self.python.clone(),
                work: self.work,
            };
            let mut peers = Map::new();
            for attn in dedup(&self.peers) {
                let theirs = run_transformers(&files, &ids, &device, dtype, attn, &peer)?;
                peers.insert(attn.name().into(), theirs);
            }
            report.insert("transformers".into(), Value::Object(peers));
        }
        Ok(Value::Object(report))
    }
}

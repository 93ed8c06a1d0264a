//! One model ready to run: resolved files, normalised config, weights on the device, the
//! tokenizer, the chat template (when prompts go through it) and the ids that end a reply.

use super::chat_mode::{chat_template_for, decide_chat, ChatMode};
use super::config::ModelConfig;
use super::decoder::Decoder;
use super::device::{describe_device, resolve_device, resolve_dtype};
use super::generate::{generate, GenStep, GenerateOptions, Generation};
use super::generation_config::SpecialIds;
use super::gguf::{GgufModel, GgufSummary};
use super::source::{
    resolve_from_env_with, DownloadSink, GgufFiles, ModelFiles, ModelRef, ResolvedModel,
};
use super::spec::ModelSpec;
use super::weights::load_var_builder;
use crate::hf::chat_template::ChatTemplate;
use crate::hf::tokenizer::Tokenizer;
use anyhow::{Context, Result};
use candle_core::{DType, Device};
use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub struct LoadedModel {
    /// What the user named: the hub id (with revision) or the folder.
    pub name: String,
    pub files: ResolvedModel,
    /// The GGUF file's name, tensor types and size (None for a safetensors folder).
    pub gguf: Option<GgufSummary>,
    pub config: ModelConfig,
    pub decoder: Decoder,
    pub tokenizer: Tokenizer,
    /// `Some` when prompts go through the model's chat template (instruct models).
    pub chat_template: Option<ChatTemplate>,
    pub special: SpecialIds,
    /// EOS ids of both config files and the end-of-turn tokens of the chat template.
    pub stop_ids: BTreeSet<u32>,
    pub device: Device,
    pub dtype: DType,
    /// Wall time of resolving, mapping and moving the weights.
    pub load_ms: f64,
}

impl LoadedModel {
    /// Resolves (hub or folder, honouring the HF environment) and loads.
    pub fn load(spec: &ModelSpec) -> Result<LoadedModel> {
        Self::load_reporting(spec, None)
    }

    /// [`LoadedModel::load`], with the progress of any download sent to `progress` (the
    /// explorer's worker turns it into events) instead of hf-hub's stderr bar.
    pub fn load_reporting(spec: &ModelSpec, progress: Option<DownloadSink>) -> Result<LoadedModel> {
        let start = Instant::now();
        let files = resolve_from_env_with(&spec.model, progress)?;
        Self::load_files(spec, files, start)
    }

    /// Loads already resolved files; `start` is when loading began (for `load_ms`).
    pub fn load_files(
        spec: &ModelSpec,
        files: ResolvedModel,
        start: Instant,
    ) -> Result<LoadedModel> {
        match files {
            ResolvedModel::Folder(folder) => Self::load_folder(spec, folder, start),
            ResolvedModel::Gguf(gguf) => Self::load_gguf(spec, gguf, start),
        }
    }

    fn load_folder(spec: &ModelSpec, files: ModelFiles, start: Instant) -> Result<LoadedModel> {
        let config = ModelConfig::from_file(&files.config)?;
        let device = resolve_device(spec.device)?;
        let dtype = resolve_dtype(spec.dtype, &device);
        let vb = load_var_builder(&files.weights, dtype, &device)?;
        let decoder = Decoder::new(&config, vb)
            .with_context(|| format!("loading the weights of {}", files.dir.display()))?;
        let tokenizer = Tokenizer::from_file(&files.tokenizer)?;
        let chat_template = chat_template_for(&files.dir, spec.chat)?;
        let special = SpecialIds::from_model_files(&files)?;
        let parts = Parts {
            config,
            decoder,
            tokenizer,
            chat_template,
            special,
            extra_stop_ids: Vec::new(),
            gguf: None,
        };
        Ok(Self::assemble(
            spec,
            ResolvedModel::Folder(files),
            parts,
            device,
            dtype,
            start,
        ))
    }

    fn load_gguf(spec: &ModelSpec, files: GgufFiles, start: Instant) -> Result<LoadedModel> {
        let device = resolve_device(spec.device)?;
        let dtype = resolve_dtype(spec.dtype, &device);
        let gguf = GgufModel::open(&files.file)?;
        let parts = gguf.load(dtype, &device)?;
        let decoder = Decoder::new(&parts.config, parts.weights)
            .with_context(|| format!("loading the weights of {}", files.file.display()))?;
        let chat_template = if spec.chat == ChatMode::Off {
            None
        } else {
            let chat = decide_chat(spec.chat, parts.chat_template.is_some(), &files.file)?;
            parts.chat_template.filter(|_| chat)
        };
        let parts = Parts {
            config: parts.config,
            decoder,
            tokenizer: parts.tokenizer,
            chat_template,
            special: parts.special,
            extra_stop_ids: parts.end_of_turn,
            gguf: Some(parts.summary),
        };
        Ok(Self::assemble(
            spec,
            ResolvedModel::Gguf(files),
            parts,
            device,
            dtype,
            start,
        ))
    }

    /// The stop ids (EOS, the file's end-of-turn ids, the template's end-of-turn markers)
    /// and the model.
    fn assemble(
        spec: &ModelSpec,
        files: ResolvedModel,
        parts: Parts,
        device: Device,
        dtype: DType,
        start: Instant,
    ) -> LoadedModel {
        let Parts {
            config,
            decoder,
            tokenizer,
            chat_template,
            special,
            extra_stop_ids,
            gguf,
        } = parts;
        let mut stop_ids: BTreeSet<u32> = special.eos.iter().copied().collect();
        stop_ids.extend(extra_stop_ids);
        if let Some(template) = &chat_template {
            stop_ids.extend(
                template
                    .end_of_turn_markers()
                    .iter()
                    .filter_map(|m| tokenizer.token_to_id(m)),
            );
        }
        if let Some(bad) = stop_ids
            .iter()
            .find(|&&id| id as usize >= config.vocab_size)
        {
            tracing::warn!(
                "EOS id {bad} is outside the vocabulary ({})",
                config.vocab_size
            );
        }
        LoadedModel {
            name: display_name(&spec.model),
            files,
            gguf,
            config,
            decoder,
            tokenizer,
            chat_template,
            special,
            stop_ids,
            device,
            dtype,
            load_ms: start.elapsed().as_secs_f64() * 1e3,
        }
    }

    pub fn is_chat(&self) -> bool {
        self.chat_template.is_some()
    }

    pub fn describe_device(&self) -> String {
        describe_device(&self.device)
    }

    /// Generation defaults for this model: its stop ids, the line-break rule, 64 tokens.
    pub fn generate_options(&self) -> GenerateOptions {
        GenerateOptions {
            stop_ids: self.stop_ids.clone(),
            ..GenerateOptions::default()
        }
    }

    pub fn generate(
        &self,
        prompt_ids: &[u32],
        options: &GenerateOptions,
        cancel: Option<&AtomicBool>,
        on_step: &mut dyn FnMut(&GenStep),
    ) -> Result<Generation> {
        generate(
            &self.decoder,
            &self.tokenizer,
            prompt_ids,
            options,
            cancel,
            on_step,
        )
    }
}

/// What a loader gives before the stop ids are put together.
struct Parts {
    config: ModelConfig,
    decoder: Decoder,
    tokenizer: Tokenizer,
    chat_template: Option<ChatTemplate>,
    special: SpecialIds,
    extra_stop_ids: Vec<u32>,
    gguf: Option<GgufSummary>,
}

fn display_name(model: &ModelRef) -> String {
    model.to_string()
}

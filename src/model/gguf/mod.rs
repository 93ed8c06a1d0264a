//! GGUF model files (llama.cpp's format): one file holds the hyper-parameters, the
//! tokenizer, the chat template and the (often quantised) weights. [`GgufModel::open`]
//! reads the header; [`GgufModel::load`] turns it into what a model folder gives: a
//! [`ModelConfig`], the weights (dequantized to the run dtype: a Q4 file needs the memory
//! of its f32/bf16 model), a tokenizer, the chat template and the special ids.

pub mod config;
pub mod metadata;
pub mod tensors;
pub mod vocab;

use crate::hf::chat_template::{ChatTemplate, SpecialTokens};
use crate::hf::tokenizer::Tokenizer;
use crate::model::config::ModelConfig;
use crate::model::generation_config::SpecialIds;
use anyhow::{anyhow, Context, Result};
use candle_core::quantized::gguf_file::Content;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use config::TensorFacts;
use metadata::Metadata;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use tensors::Heads;
use vocab::GgufSpecial;

/// An opened GGUF file: its header (metadata and tensor directory), not yet its weights.
pub struct GgufModel {
    pub path: PathBuf,
    pub content: Content,
    pub file_bytes: u64,
}

/// Everything a GGUF file gives, ready to build a `LoadedModel`.
pub struct GgufParts {
    pub config: ModelConfig,
    pub weights: VarBuilder<'static>,
    pub tokenizer: Tokenizer,
    /// The file's `tokenizer.chat_template` (None for a base model).
    pub chat_template: Option<ChatTemplate>,
    pub special: SpecialIds,
    /// End-of-turn ids the file declares (`eot`, `eom`).
    pub end_of_turn: Vec<u32>,
    pub summary: GgufSummary,
}

/// What the model identity shows of a GGUF file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GgufSummary {
    /// The file name.
    pub file: String,
    /// Tensor count per type, e.g. `{"F32": 61, "Q4_1": 169}`.
    pub types: BTreeMap<String, usize>,
    pub bytes: u64,
}

impl GgufSummary {
    /// The most frequent quantised type (`Q4_1`), else the most frequent type.
    pub fn main_type(&self) -> &str {
        let quantised = self
            .types
            .iter()
            .filter(|(t, _)| !matches!(t.as_str(), "F32" | "F16" | "BF16"))
            .max_by_key(|(_, n)| **n);
        quantised
            .or_else(|| self.types.iter().max_by_key(|(_, n)| **n))
            .map_or("?", |(t, _)| t.as_str())
    }

    /// `Q4_1 (169), F32 (61)`: the types, most frequent first.
    pub fn types_label(&self) -> String {
        let mut types: Vec<(&String, &usize)> = self.types.iter().collect();
        types.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        types
            .iter()
            .map(|(t, n)| format!("{t} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl GgufModel {
    /// Reads the header of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .with_context(|| format!("{}: cannot open the GGUF file", path.display()))?;
        let file_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| read_error(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
            file_bytes,
        })
    }

    pub fn metadata(&self) -> Metadata<'_> {
        Metadata::new(&self.content.metadata)
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The architecture (`general.architecture`).
    pub fn architecture(&self) -> Result<&str> {
        self.metadata()
            .required_string("general.architecture")
            .with_context(|| self.name())
    }

    fn facts(&self) -> TensorFacts {
        let infos = &self.content.tensor_infos;
        TensorFacts {
            vocab_rows: infos
                .get("token_embd.weight")
                .map_or(0, |i| i.shape.dims().first().copied().unwrap_or(0)),
            has_output: infos.contains_key("output.weight"),
            has_q_bias: infos.contains_key("blk.0.attn_q.bias"),
            has_o_bias: infos.contains_key("blk.0.attn_output.bias"),
            has_mlp_bias: infos.contains_key("blk.0.ffn_up.bias"),
        }
    }

    /// The normalised configuration.
    pub fn config(&self) -> Result<ModelConfig> {
        config::model_config(&self.metadata(), self.facts(), &self.name())
    }

    /// The tokenizer rebuilt from the vocabulary.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        let json = vocab::tokenizer_json(&self.metadata())
            .with_context(|| format!("{}: reading the tokenizer", self.name()))?;
        Tokenizer::from_bytes(json.to_string().as_bytes())
            .with_context(|| format!("{}: building the tokenizer", self.name()))
    }

    /// The chat template of the file, with the special tokens it renders with.
    pub fn chat_template(&self) -> Result<Option<ChatTemplate>> {
        let meta = self.metadata();
        let Some(source) = meta.string("tokenizer.chat_template")? else {
            return Ok(None);
        };
        let tokens = meta.strings("tokenizer.ggml.tokens")?.unwrap_or_default();
        let special = GgufSpecial::read(&meta)?;
        let text = |id: Option<u32>| {
            id.and_then(|i| tokens.get(i as usize))
                .map(|t| t.to_string())
        };
        let special_tokens = SpecialTokens {
            bos: text(special.bos),
            eos: text(special.eos),
            unk: text(special.unk),
            pad: text(special.pad),
        };
        let name = format!("{} (tokenizer.chat_template)", self.name());
        ChatTemplate::with_name(name, source, special_tokens).map(Some)
    }

    pub fn special(&self) -> Result<GgufSpecial> {
        GgufSpecial::read(&self.metadata())
    }

    /// Reads everything, the weights dequantized to `dtype` on `device`.
    pub fn load(&self, dtype: DType, device: &Device) -> Result<GgufParts> {
        let mut config = self.config()?;
        let arch = self.architecture()?.to_string();
        let permute = (arch == "llama").then_some(Heads {
            q: config.num_heads,
            kv: config.num_kv_heads,
        });
        let file = File::open(&self.path)
            .with_context(|| format!("{}: cannot open the GGUF file", self.name()))?;
        let mut reader = BufReader::new(file);
        let loaded =
            tensors::load_tensors(&self.content, &mut reader, &arch, permute, dtype, device)
                .with_context(|| format!("{}: reading the weights", self.name()))?;
        if let Some(factors) = loaded.rope_freqs {
            if factors.len() != config.head_dim / 2 {
                anyhow::bail!(
                    "{}: rope_freqs.weight has {} values for head_dim {} (expected {})",
                    self.name(),
                    factors.len(),
                    config.head_dim,
                    config.head_dim / 2
                );
            }
            config.rope_freq_factors = Some(factors);
        }
        let weights = VarBuilder::from_tensors(loaded.tensors, dtype, device);
        let tokenizer = self.tokenizer()?;
        if tokenizer.vocab_size() > config.vocab_size {
            tracing::warn!(
                "{}: the tokenizer has {} tokens, the embedding {} rows",
                self.name(),
                tokenizer.vocab_size(),
                config.vocab_size
            );
        }
        let chat_template = self.chat_template()?;
        let gguf_special = self.special()?;
        let special = SpecialIds {
            bos: gguf_special.bos,
            eos: gguf_special.eos.into_iter().collect(),
            pad: gguf_special.pad,
        };
        let summary = GgufSummary {
            file: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.name()),
            types: loaded.types,
            bytes: self.file_bytes,
        };
        Ok(GgufParts {
            config,
            weights,
            tokenizer,
            chat_template,
            special,
            end_of_turn: gguf_special.end_of_turn,
            summary,
        })
    }
}

/// candle's reader stops at the first tensor type it does not know, naming only its number.
fn read_error(path: &Path, e: candle_core::Error) -> anyhow::Error {
    // The first line only: candle may append a backtrace.
    let text = e.to_string();
    let text = text.lines().next().unwrap_or_default().to_string();
    if let Some(id) = text
        .strip_prefix("unknown dtype for tensor ")
        .and_then(|n| n.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
    {
        return anyhow!(
            "{}: holds tensors of type {}, which xmrc-lens does not read; supported types: {}",
            path.display(),
            tensors::unknown_type_name(id),
            tensors::supported_list()
        );
    }
    anyhow!("{}: not a readable GGUF file: {text}", path.display())
}

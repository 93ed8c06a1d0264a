//! Random-weight models with real dimensions, written in the Hugging Face folder layout.
//!
//! The benchmark (and tests) need model folders that load exactly like downloaded ones —
//! `config.json`, `generation_config.json`, safetensors weights (sharded with an index above
//! the size transformers' `save_pretrained` shards at), tokenizer files — without any
//! download. Weights are drawn from a seeded ChaCha8 stream with the scale of a fresh
//! `transformers` initialisation (normal, std 0.02; norms 1), one stream per tensor, so the
//! same seed always gives the same bytes whatever the dtype.
//!
//! Files are written tensor by tensor in small chunks: the header of a safetensors file only
//! needs names, dtypes and shapes, so it is written first and the data streamed after it. An
//! 8B model in bf16 (16 GB) never sits in memory.

use super::tokenizer::{write_tokenizer_files, ChatFamily};
use anyhow::{bail, Context, Result};
use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Largest shard transformers' `save_pretrained` writes by default ("5GB", decimal): bigger
/// models are split into `model-0000k-of-0000n.safetensors` plus `model.safetensors.index.json`.
pub const HF_MAX_SHARD_BYTES: u64 = 5_000_000_000;

/// Bumped whenever the bytes a preset produces change, so stale cached folders are rebuilt.
const FORMAT_VERSION: u32 = 1;

/// The file in a built folder that records what it holds; its presence marks a complete build.
const MANIFEST: &str = "xmrc-lens-synth.json";

/// Elements generated and written per step: bounds the memory of the writer.
const CHUNK: usize = 1 << 20;

/// Standard deviation of transformers' `initializer_range` for these families.
const INIT_STD: f32 = 0.02;
/// The same, as config.json prints it.
const INITIALIZER_RANGE: f64 = 0.02;

/// The architectures a synthetic model can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthFamily {
    /// `Qwen2ForCausalLM`: qkv bias, ChatML tokenizer.
    Qwen2,
    /// `LlamaForCausalLM`: no biases, Llama-3 tokenizer.
    Llama,
}

impl SynthFamily {
    pub fn architecture(self) -> &'static str {
        match self {
            SynthFamily::Qwen2 => "Qwen2ForCausalLM",
            SynthFamily::Llama => "LlamaForCausalLM",
        }
    }

    fn model_type(self) -> &'static str {
        match self {
            SynthFamily::Qwen2 => "qwen2",
            SynthFamily::Llama => "llama",
        }
    }

    /// The synthetic tokenizer family the model ships with.
    pub fn chat_family(self) -> ChatFamily {
        match self {
            SynthFamily::Qwen2 => ChatFamily::ChatMl,
            SynthFamily::Llama => ChatFamily::Llama3,
        }
    }

    /// (BOS, EOS ids) in the synthetic tokenizer, as the real models set them: Qwen2.5 uses
    /// `<|endoftext|>` as BOS and stops on `<|im_end|>`/`<|endoftext|>`; Llama-3.1 stops on
    /// `<|end_of_text|>`, `<|eom_id|>`, `<|eot_id|>`.
    fn special_ids(self) -> Result<(u32, Vec<u32>)> {
        let family = self.chat_family();
        let id = |token: &str| -> Result<u32> {
            let position = family
                .special_tokens()
                .iter()
                .position(|t| *t == token)
                .with_context(|| format!("{token} is not a {} special token", family.name()))?;
            Ok(u32::try_from(position)?)
        };
        Ok(match self {
            SynthFamily::Qwen2 => (
                id("<|endoftext|>")?,
                vec![id("<|im_end|>")?, id("<|endoftext|>")?],
            ),
            SynthFamily::Llama => (
                id("<|begin_of_text|>")?,
                vec![id("<|end_of_text|>")?, id("<|eom_id|>")?, id("<|eot_id|>")?],
            ),
        })
    }
}

/// Llama-3 RoPE frequency scaling (`rope_scaling` with `rope_type: llama3`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeScaling {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: usize,
}

/// The dimensions and switches of one synthetic model.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthArch {
    pub family: SynthFamily,
    pub num_layers: usize,
    pub hidden_size: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub tie_word_embeddings: bool,
    pub qkv_bias: bool,
    pub rope_theta: f64,
    pub rope_scaling: Option<RopeScaling>,
    pub rms_norm_eps: f64,
    pub max_position_embeddings: usize,
}

impl SynthArch {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Every weight tensor in `state_dict` order (embeddings, layers, final norm, head).
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let h = self.hidden_size;
        let kv = self.num_kv_heads * self.head_dim();
        let i = self.intermediate_size;
        let mut out = vec![TensorSpec::normal(
            "model.embed_tokens.weight",
            &[self.vocab_size, h],
        )];
        for layer in 0..self.num_layers {
            let p = format!("model.layers.{layer}");
            out.push(TensorSpec::ones(&format!("{p}.input_layernorm.weight"), h));
            for (name, rows) in [("q_proj", h), ("k_proj", kv), ("v_proj", kv)] {
                out.push(TensorSpec::normal(
                    &format!("{p}.self_attn.{name}.weight"),
                    &[rows, h],
                ));
                if self.qkv_bias {
                    out.push(TensorSpec::normal(
                        &format!("{p}.self_attn.{name}.bias"),
                        &[rows],
                    ));
                }
            }
            out.push(TensorSpec::normal(
                &format!("{p}.self_attn.o_proj.weight"),
                &[h, h],
            ));
            out.push(TensorSpec::ones(
                &format!("{p}.post_attention_layernorm.weight"),
                h,
            ));
            out.push(TensorSpec::normal(
                &format!("{p}.mlp.gate_proj.weight"),
                &[i, h],
            ));
            out.push(TensorSpec::normal(
                &format!("{p}.mlp.up_proj.weight"),
                &[i, h],
            ));
            out.push(TensorSpec::normal(
                &format!("{p}.mlp.down_proj.weight"),
                &[h, i],
            ));
        }
        out.push(TensorSpec::ones("model.norm.weight", h));
        if !self.tie_word_embeddings {
            out.push(TensorSpec::normal("lm_head.weight", &[self.vocab_size, h]));
        }
        out
    }

    /// Number of parameters (the tied head counted once).
    pub fn parameter_count(&self) -> u64 {
        self.tensors().iter().map(|t| t.elements() as u64).sum()
    }

    /// `config.json` as transformers writes it for the real model.
    pub fn config_json(&self, dtype: WeightDtype) -> Result<Value> {
        let (bos, eos) = self.family.special_ids()?;
        let mut c = Map::new();
        c.insert("architectures".into(), json!([self.family.architecture()]));
        c.insert("attention_dropout".into(), json!(0.0));
        c.insert("bos_token_id".into(), json!(bos));
        c.insert(
            "eos_token_id".into(),
            match self.family {
                // Qwen2.5's config names one EOS; generation_config.json lists both.
                SynthFamily::Qwen2 => json!(bos),
                SynthFamily::Llama => json!(eos),
            },
        );
        c.insert("hidden_act".into(), json!("silu"));
        c.insert("hidden_size".into(), json!(self.hidden_size));
        c.insert("initializer_range".into(), json!(INITIALIZER_RANGE));
        c.insert("intermediate_size".into(), json!(self.intermediate_size));
        c.insert(
            "max_position_embeddings".into(),
            json!(self.max_position_embeddings),
        );
        match self.family {
            SynthFamily::Qwen2 => {
                c.insert("max_window_layers".into(), json!(self.num_layers));
            }
            SynthFamily::Llama => {
                c.insert("attention_bias".into(), json!(false));
                c.insert("mlp_bias".into(), json!(false));
            }
        }
        c.insert("model_type".into(), json!(self.family.model_type()));
        c.insert("num_attention_heads".into(), json!(self.num_heads));
        c.insert("num_hidden_layers".into(), json!(self.num_layers));
        c.insert("num_key_value_heads".into(), json!(self.num_kv_heads));
        if self.family == SynthFamily::Llama {
            c.insert("pretraining_tp".into(), json!(1));
        }
        c.insert("rms_norm_eps".into(), json!(self.rms_norm_eps));
        if let Some(s) = self.rope_scaling {
            c.insert(
                "rope_scaling".into(),
                json!({
                    "factor": s.factor,
                    "high_freq_factor": s.high_freq_factor,
                    "low_freq_factor": s.low_freq_factor,
                    "original_max_position_embeddings": s.original_max_position_embeddings,
                    "rope_type": "llama3"
                }),
            );
        } else if self.family == SynthFamily::Llama {
            c.insert("rope_scaling".into(), Value::Null);
        }
        c.insert("rope_theta".into(), json!(self.rope_theta));
        if self.family == SynthFamily::Qwen2 {
            c.insert("sliding_window".into(), json!(self.max_position_embeddings));
        }
        c.insert(
            "tie_word_embeddings".into(),
            json!(self.tie_word_embeddings),
        );
        c.insert("torch_dtype".into(), json!(dtype.torch_name()));
        c.insert("transformers_version".into(), json!("4.43.0"));
        c.insert("use_cache".into(), json!(true));
        if self.family == SynthFamily::Qwen2 {
            c.insert("use_sliding_window".into(), json!(false));
        }
        c.insert("vocab_size".into(), json!(self.vocab_size));
        Ok(Value::Object(c))
    }

    /// `generation_config.json`: BOS/EOS ids, greedy by default.
    pub fn generation_config_json(&self) -> Result<Value> {
        let (bos, eos) = self.family.special_ids()?;
        Ok(json!({
            "bos_token_id": bos,
            "do_sample": false,
            "eos_token_id": eos,
            "transformers_version": "4.43.0"
        }))
    }
}

/// Named model shapes: real models' dimensions, and small ones for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Qwen2-shaped, 2 layers, hidden 64: for tests.
    Tiny,
    /// Llama-shaped (untied, llama3 rope scaling), 2 layers, hidden 64: for tests.
    TinyLlama,
    /// Qwen2-shaped, 12 layers, hidden 128: the explorer's offline demo model (deep enough
    /// for a heatmap worth looking at, small enough to trace in a blink on a CPU).
    Demo,
    /// Qwen2.5-0.5B: 24 layers, hidden 896, 14/2 heads, vocab 151936, tied.
    Qwen25_0_5b,
    /// Llama-3.1-8B: 32 layers, hidden 4096, 32/8 heads, vocab 128256, untied.
    Llama31_8b,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Tiny,
        Preset::TinyLlama,
        Preset::Demo,
        Preset::Qwen25_0_5b,
        Preset::Llama31_8b,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::TinyLlama => "tiny-llama",
            Preset::Demo => "demo",
            Preset::Qwen25_0_5b => "qwen2.5-0.5b",
            Preset::Llama31_8b => "llama-3.1-8b",
        }
    }

    pub fn arch(self) -> SynthArch {
        let llama3_scaling = Some(RopeScaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        });
        match self {
            Preset::Tiny => SynthArch {
                family: SynthFamily::Qwen2,
                num_layers: 2,
                hidden_size: 64,
                num_heads: 4,
                num_kv_heads: 2,
                intermediate_size: 128,
                vocab_size: 1536,
                tie_word_embeddings: true,
                qkv_bias: true,
                rope_theta: 1_000_000.0,
                rope_scaling: None,
                rms_norm_eps: 1e-6,
                max_position_embeddings: 4096,
            },
            Preset::Demo => SynthArch {
                num_layers: 12,
                hidden_size: 128,
                intermediate_size: 256,
                ..Preset::Tiny.arch()
            },
            Preset::TinyLlama => SynthArch {
                family: SynthFamily::Llama,
                num_layers: 2,
                hidden_size: 64,
                num_heads: 4,
                num_kv_heads: 2,
                intermediate_size: 128,
                vocab_size: 1536,
                tie_word_embeddings: false,
                qkv_bias: false,
                rope_theta: 500_000.0,
                rope_scaling: llama3_scaling,
                rms_norm_eps: 1e-5,
                max_position_embeddings: 131_072,
            },
            Preset::Qwen25_0_5b => SynthArch {
                family: SynthFamily::Qwen2,
                num_layers: 24,
                hidden_size: 896,
                num_heads: 14,
                num_kv_heads: 2,
                intermediate_size: 4864,
                vocab_size: 151_936,
                tie_word_embeddings: true,
                qkv_bias: true,
                rope_theta: 1_000_000.0,
                rope_scaling: None,
                rms_norm_eps: 1e-6,
                max_position_embeddings: 32_768,
            },
            Preset::Llama31_8b => SynthArch {
                family: SynthFamily::Llama,
                num_layers: 32,
                hidden_size: 4096,
                num_heads: 32,
                num_kv_heads: 8,
                intermediate_size: 14_336,
                vocab_size: 128_256,
                tie_word_embeddings: false,
                qkv_bias: false,
                rope_theta: 500_000.0,
                rope_scaling: llama3_scaling,
                rms_norm_eps: 1e-5,
                max_position_embeddings: 131_072,
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Preset> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .with_context(|| {
                let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
                format!("unknown preset '{s}': choose one of {}", names.join(", "))
            })
    }
}

/// The element type weights are stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightDtype {
    F32,
    Bf16,
    F16,
}

impl WeightDtype {
    pub fn name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "f32",
            WeightDtype::Bf16 => "bf16",
            WeightDtype::F16 => "f16",
        }
    }

    /// The `torch_dtype` value of config.json.
    pub fn torch_name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "float32",
            WeightDtype::Bf16 => "bfloat16",
            WeightDtype::F16 => "float16",
        }
    }

    /// The dtype tag of a safetensors header.
    fn safetensors_name(self) -> &'static str {
        match self {
            WeightDtype::F32 => "F32",
            WeightDtype::Bf16 => "BF16",
            WeightDtype::F16 => "F16",
        }
    }

    pub fn size(self) -> usize {
        match self {
            WeightDtype::F32 => 4,
            WeightDtype::Bf16 | WeightDtype::F16 => 2,
        }
    }

    fn push_bytes(self, value: f32, out: &mut Vec<u8>) {
        match self {
            WeightDtype::F32 => out.extend_from_slice(&value.to_le_bytes()),
            WeightDtype::Bf16 => out.extend_from_slice(&bf16::from_f32(value).to_le_bytes()),
            WeightDtype::F16 => out.extend_from_slice(&f16::from_f32(value).to_le_bytes()),
        }
    }
}

impl fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a tensor is initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal(0, std), as `nn.Linear`/`nn.Embedding` under transformers' `_init_weights`.
    Normal(f32),
    /// All ones, as RMSNorm weights.
    Ones,
}

/// One weight tensor: name, shape, initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    fn normal(name: &str, shape: &[usize]) -> TensorSpec {
        TensorSpec {
            name: name.to_string(),
            shape: shape.to_vec(),
            init: Init::Normal(INIT_STD),
        }
    }

    fn ones(name: &str, size: usize) -> TensorSpec {
        TensorSpec {
            name: name.to_string(),
            shape: vec![size],
            init: Init::Ones,
        }
    }

    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// What to write: dtype, seed, shard limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    pub dtype: WeightDtype,
    pub seed: u64,
    /// Shard when the weights exceed this many bytes (HF's default: [`HF_MAX_SHARD_BYTES`]).
    pub max_shard_bytes: u64,
}

impl WriteOptions {
    pub fn new(dtype: WeightDtype, seed: u64) -> WriteOptions {
        WriteOptions {
            dtype,
            seed,
            max_shard_bytes: HF_MAX_SHARD_BYTES,
        }
    }
}

/// Progress of a build: bytes of weights written so far out of the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub written: u64,
    pub total: u64,
}

/// Writes a complete model folder for `arch` into `dir` (created; existing files replaced):
/// config.json, generation_config.json, tokenizer files, the weights (one file, or shards and
/// an index) and the manifest. `progress` is called after every chunk of weights.
pub fn write_model(
    dir: &Path,
    name: &str,
    arch: &SynthArch,
    opts: &WriteOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    if !arch.hidden_size.is_multiple_of(arch.num_heads)
        || !arch.num_heads.is_multiple_of(arch.num_kv_heads)
    {
        bail!(
            "{name}: hidden size {} must split into {} heads, and heads into {} kv heads",
            arch.hidden_size,
            arch.num_heads,
            arch.num_kv_heads
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the model folder", dir.display()))?;
    write_json(&dir.join("config.json"), &arch.config_json(opts.dtype)?)?;
    write_json(
        &dir.join("generation_config.json"),
        &arch.generation_config_json()?,
    )?;
    write_tokenizer_files(dir, arch.family.chat_family(), true)?;

    let tensors = arch.tensors();
    let shards = plan_shards(&tensors, opts.dtype, opts.max_shard_bytes);
    let total: u64 = tensors
        .iter()
        .map(|t| (t.elements() * opts.dtype.size()) as u64)
        .sum();
    let mut written = 0u64;
    let mut files = Map::new();
    if shards.len() == 1 {
        let path = dir.join("model.safetensors");
        let all: Vec<(usize, &TensorSpec)> = tensors.iter().enumerate().collect();
        write_safetensors(&path, &all, opts, &mut |n| {
            written += n;
            progress(Progress { written, total });
        })?;
        files.insert("model.safetensors".into(), json!(file_size(&path)?));
    } else {
        let mut weight_map = Map::new();
        let count = shards.len();
        for (k, shard) in shards.iter().enumerate() {
            let file = format!("model-{:05}-of-{count:05}.safetensors", k + 1);
            let members: Vec<(usize, &TensorSpec)> =
                shard.iter().map(|&i| (i, &tensors[i])).collect();
            for (_, t) in &members {
                weight_map.insert(t.name.clone(), json!(file));
            }
            let path = dir.join(&file);
            write_safetensors(&path, &members, opts, &mut |n| {
                written += n;
                progress(Progress { written, total });
            })?;
            files.insert(file, json!(file_size(&path)?));
        }
        weight_map.sort_keys();
        write_json(
            &dir.join("model.safetensors.index.json"),
            &json!({"metadata": {"total_size": total}, "weight_map": weight_map}),
        )?;
    }
    write_json(
        &dir.join(MANIFEST),
        &json!({
            "name": name,
            "format_version": FORMAT_VERSION,
            "dtype": opts.dtype.name(),
            "seed": opts.seed,
            "parameters": arch.parameter_count(),
            "files": files
        }),
    )
}

/// Splits tensors (by index, in state-dict order) into shards as transformers does: a new
/// shard starts when the next tensor would push the current one past the limit.
fn plan_shards(tensors: &[TensorSpec], dtype: WeightDtype, max_bytes: u64) -> Vec<Vec<usize>> {
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut size = 0u64;
    for (i, t) in tensors.iter().enumerate() {
        let bytes = (t.elements() * dtype.size()) as u64;
        if size + bytes > max_bytes && shards.last().is_some_and(|s| !s.is_empty()) {
            shards.push(Vec::new());
            size = 0;
        }
        if let Some(last) = shards.last_mut() {
            last.push(i);
        }
        size += bytes;
    }
    shards
}

/// Writes one safetensors file: the header (tensors sorted by name, as `save_file` orders
/// them, padded with spaces to 8 bytes), then each tensor's data generated chunk by chunk.
/// `index` of each tensor picks its random stream. `on_bytes` gets each chunk's size.
fn write_safetensors(
    path: &Path,
    tensors: &[(usize, &TensorSpec)],
    opts: &WriteOptions,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<()> {
    let mut sorted = tensors.to_vec();
    sorted.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let mut header = Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for (_, t) in &sorted {
        let end = offset + t.elements() * opts.dtype.size();
        header.insert(
            t.name.clone(),
            json!({
                "dtype": opts.dtype.safetensors_name(),
                "shape": t.shape,
                "data_offsets": [offset, end]
            }),
        );
        offset = end;
    }
    let mut header = serde_json::to_string(&Value::Object(header))?.into_bytes();
    header.resize(header.len().div_ceil(8) * 8, b' ');

    let file = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let mut out = BufWriter::with_capacity(8 << 20, file);
    let write_err = || format!("{}: write failed (disk full?)", path.display());
    out.write_all(&(header.len() as u64).to_le_bytes())
        .with_context(write_err)?;
    out.write_all(&header).with_context(write_err)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut buffers: Vec<Vec<u8>> = (0..workers)
        .map(|_| Vec::with_capacity(CHUNK * opts.dtype.size()))
        .collect();
    for (index, t) in sorted {
        let chunks = t.elements().div_ceil(CHUNK);
        for first in (0..chunks).step_by(workers) {
            let batch = (chunks - first).min(workers);
            // Chunks are independent (each starts at its own place in the stream), so a
            // batch is generated in parallel and written in order.
            std::thread::scope(|scope| {
                for (k, buffer) in buffers.iter_mut().take(batch).enumerate() {
                    scope.spawn(move || {
                        chunk_bytes(t, opts.seed, index as u64, first + k, opts.dtype, buffer)
                    });
                }
            });
            for buffer in buffers.iter().take(batch) {
                out.write_all(buffer).with_context(write_err)?;
                on_bytes(buffer.len() as u64);
            }
        }
    }
    out.flush().with_context(write_err)?;
    Ok(())
}

/// Fills `out` with the bytes (in `dtype`) of chunk `chunk` (elements `chunk * CHUNK ..`) of
/// tensor `spec`. Tensor values come from the ChaCha8 stream `stream` of `seed`, one 32-bit
/// word per value, so a chunk starts at word `chunk * CHUNK` and every chunk can be made on
/// its own: the bytes depend only on seed, stream and position.
pub fn chunk_bytes(
    spec: &TensorSpec,
    seed: u64,
    stream: u64,
    chunk: usize,
    dtype: WeightDtype,
    out: &mut Vec<u8>,
) {
    out.clear();
    let start = chunk * CHUNK;
    let n = spec.elements().saturating_sub(start).min(CHUNK);
    match spec.init {
        Init::Ones => (0..n).for_each(|_| dtype.push_bytes(1.0, out)),
        Init::Normal(std) => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream);
            rng.set_word_pos(start as u128);
            let mut left = n;
            while left > 0 {
                let (a, b) = standard_normal_pair(&mut rng);
                dtype.push_bytes(std * a, out);
                if left > 1 {
                    dtype.push_bytes(std * b, out);
                }
                left = left.saturating_sub(2);
            }
        }
    }
}

/// Box–Muller: two standard normals from two uniform words.
fn standard_normal_pair(rng: &mut ChaCha8Rng) -> (f32, f32) {
    // u1 in (0, 1] so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f32>();
    let u2 = rng.random::<f32>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{}: cannot stat", path.display()))?
        .len())
}

/// Where built presets are kept: `$XDG_CACHE_HOME/xmrc-lens/bench`, else
/// `~/.cache/xmrc-lens/bench`.
pub fn default_cache_dir() -> Result<PathBuf> {
    cache_dir_from(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

fn cache_dir_from(
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    let base = match (xdg, home) {
        (Some(x), _) if !x.is_empty() => PathBuf::from(x),
        (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".cache"),
        _ => bail!("neither XDG_CACHE_HOME nor HOME is set: pass --cache-dir DIR"),
    };
    Ok(base.join("xmrc-lens").join("bench"))
}

/// The folder name of a preset build under the cache dir.
pub fn cache_entry_name(preset: Preset, opts: &WriteOptions) -> String {
    format!(
        "{}-{}-seed{}-v{FORMAT_VERSION}",
        preset.name(),
        opts.dtype.name(),
        opts.seed
    )
}

/// The built folder of `preset` under `cache_dir`, reused when its manifest says it is
/// complete (same preset, dtype, seed and format; every file present with its size), else
/// built in a temporary sibling folder and renamed into place. Returns the folder and
/// whether it was built now.
pub fn cached_model(
    cache_dir: &Path,
    preset: Preset,
    opts: &WriteOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(PathBuf, bool)> {
    let final_dir = cache_dir.join(cache_entry_name(preset, opts));
    if is_complete(&final_dir, preset, opts) {
        return Ok((final_dir, false));
    }
    std::fs::create_dir_all(cache_dir)
        .with_context(|| format!("{}: cannot create the cache folder", cache_dir.display()))?;
    let tmp = cache_dir.join(format!(
        ".{}.tmp-{}",
        cache_entry_name(preset, opts),
        std::process::id()
    ));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("{}: cannot remove", tmp.display()))?;
    }
    let built = write_model(&tmp, preset.name(), &preset.arch(), opts, progress);
    if let Err(e) = built {
        // Best effort: a half-written folder is never mistaken for a build (no rename).
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).with_context(|| {
            format!(
                "{}: cannot replace the incomplete build",
                final_dir.display()
            )
        })?;
    }
    std::fs::rename(&tmp, &final_dir)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), final_dir.display()))?;
    Ok((final_dir, true))
}

/// True when `dir` holds a finished build of `preset` with `opts`.
pub fn is_complete(dir: &Path, preset: Preset, opts: &WriteOptions) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    let same = manifest["name"] == json!(preset.name())
        && manifest["format_version"] == json!(FORMAT_VERSION)
        && manifest["dtype"] == json!(opts.dtype.name())
        && manifest["seed"] == json!(opts.seed);
    let Some(files) = manifest["files"].as_object() else {
        return false;
    };
    let required = ["config.json", "generation_config.json", "tokenizer.json"];
    same && !files.is_empty()
        && required.iter().all(|f| dir.join(f).is_file())
        && files.iter().all(|(file, size)| {
            std::fs::metadata(dir.join(file)).is_ok_and(|m| size.as_u64() == Some(m.len()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::SafeTensors;

    fn build(dir: &Path, preset: Preset, opts: &WriteOptions) {
        write_model(dir, preset.name(), &preset.arch(), opts, &mut |_| {}).unwrap();
    }

    #[test]
    fn real_presets_have_the_published_parameter_counts() {
        // Qwen2.5-0.5B: 494,032,768 parameters; Llama-3.1-8B: 8,030,261,248.
        assert_eq!(Preset::Qwen25_0_5b.arch().parameter_count(), 494_032_768);
        assert_eq!(Preset::Llama31_8b.arch().parameter_count(), 8_030_261_248);
    }

    #[test]
    fn presets_parse_by_name() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
        }
        let err = "gpt2".parse::<Preset>().unwrap_err().to_string();
        assert!(
            err.contains("qwen2.5-0.5b") && err.contains("llama-3.1-8b"),
            "{err}"
        );
    }

    #[test]
    fn llama_8b_shards_like_transformers() {
        let arch = Preset::Llama31_8b.arch();
        let shards = plan_shards(&arch.tensors(), WeightDtype::Bf16, HF_MAX_SHARD_BYTES);
        // The published checkpoint has four shards.
        assert_eq!(shards.len(), 4);
        let tensors = arch.tensors();
        for shard in &shards {
            let bytes: usize = shard.iter().map(|&i| tensors[i].elements() * 2).sum();
            assert!(bytes as u64 <= HF_MAX_SHARD_BYTES);
        }
        let qwen = Preset::Qwen25_0_5b.arch();
        assert_eq!(
            plan_shards(&qwen.tensors(), WeightDtype::F32, HF_MAX_SHARD_BYTES).len(),
            1
        );
    }

    #[test]
    fn tiny_round_trips_through_the_safetensors_crate() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions::new(WeightDtype::F32, 7);
        build(dir.path(), Preset::Tiny, &opts);
        let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let arch = Preset::Tiny.arch();
        let specs = arch.tensors();
        assert_eq!(st.len(), specs.len());
        assert!(
            st.tensor("lm_head.weight").is_err(),
            "tied head is not stored"
        );
        for (index, spec) in specs.iter().enumerate() {
            let view = st.tensor(&spec.name).unwrap();
            assert_eq!(view.shape(), spec.shape.as_slice(), "{}", spec.name);
            assert_eq!(view.dtype(), safetensors::Dtype::F32);
            let mut expected = Vec::new();
            let mut chunk = Vec::new();
            for k in 0..spec.elements().div_ceil(CHUNK) {
                chunk_bytes(spec, 7, index as u64, k, WeightDtype::F32, &mut chunk);
                expected.extend_from_slice(&chunk);
            }
            assert_eq!(view.data(), expected.as_slice(), "{}", spec.name);
        }
        let floats = |name: &str| -> Vec<f32> {
            st.tensor(name)
                .unwrap()
                .data()
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        assert!(floats("model.norm.weight").iter().all(|v| *v == 1.0));
        let w = floats("model.layers.1.mlp.down_proj.weight");
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
        assert!(mean.abs() < 0.002, "{mean}");
        assert!((std - 0.02).abs() < 0.001, "{std}");
        assert!(st.tensor("model.layers.0.self_attn.q_proj.bias").is_ok());

        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["architectures"], json!(["Qwen2ForCausalLM"]));
        assert_eq!(config["torch_dtype"], json!("float32"));
        assert_eq!(config["tie_word_embeddings"], json!(true));
        assert!(dir.path().join("tokenizer.json").is_file());
        assert!(is_complete(dir.path(), Preset::Tiny, &opts));
        assert!(!is_complete(
            dir.path(),
            Preset::Tiny,
            &WriteOptions::new(WeightDtype::Bf16, 7)
        ));
    }

    #[test]
    fn chunks_continue_one_stream() {
        // Chunks made separately equal one pass over the stream: chunk k starts at word k*CHUNK.
        let spec = TensorSpec::normal("w", &[5, CHUNK / 2 + 1]);
        let mut separate = Vec::new();
        let mut chunk = Vec::new();
        for k in 0..spec.elements().div_ceil(CHUNK) {
            chunk_bytes(&spec, 11, 3, k, WeightDtype::F32, &mut chunk);
            separate.extend_from_slice(&chunk);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        rng.set_stream(3);
        let mut one_pass = Vec::new();
        while one_pass.len() < spec.elements() * 4 {
            let (a, b) = standard_normal_pair(&mut rng);
            WeightDtype::F32.push_bytes(INIT_STD * a, &mut one_pass);
            WeightDtype::F32.push_bytes(INIT_STD * b, &mut one_pass);
        }
        one_pass.truncate(spec.elements() * 4);
        assert_eq!(separate.len(), one_pass.len());
        assert!(separate == one_pass);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let read = |seed: u64, dtype: WeightDtype| {
            let dir = tempfile::tempdir().unwrap();
            build(
                dir.path(),
                Preset::TinyLlama,
                &WriteOptions::new(dtype, seed),
            );
            std::fs::read(dir.path().join("model.safetensors")).unwrap()
        };
        let a = read(3, WeightDtype::Bf16);
        assert_eq!(a, read(3, WeightDtype::Bf16));
        assert_ne!(a, read(4, WeightDtype::Bf16));
        // bf16 values are the f32 values rounded.
        let f32_bytes = read(3, WeightDtype::F32);
        let a_st = SafeTensors::deserialize(&a).unwrap();
        let f_st = SafeTensors::deserialize(&f32_bytes).unwrap();
        let head16 = a_st.tensor("lm_head.weight").unwrap();
        let head32 = f_st.tensor("lm_head.weight").unwrap();
        for (h, f) in head16
            .data()
            .chunks(2)
            .zip(head32.data().chunks(4))
            .take(100)
        {
            let f = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            assert_eq!(bf16::from_le_bytes([h[0], h[1]]), bf16::from_f32(f));
        }
    }

    #[test]
    fn small_shard_limit_writes_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions {
            max_shard_bytes: 200_000,
            ..WriteOptions::new(WeightDtype::F32, 1)
        };
        build(dir.path(), Preset::TinyLlama, &opts);
        assert!(!dir.path().join("model.safetensors").exists());
        let index: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("model.safetensors.index.json")).unwrap(),
        )
        .unwrap();
        let map = index["weight_map"].as_object().unwrap();
        let arch = Preset::TinyLlama.arch();
        assert_eq!(map.len(), arch.tensors().len());
        let mut total = 0u64;
        let files: std::collections::BTreeSet<&str> =
            map.values().filter_map(Value::as_str).collect();
        assert!(files.len() > 1);
        for file in &files {
            assert!(file.starts_with("model-0000") && file.ends_with(".safetensors"));
            let bytes = std::fs::read(dir.path().join(file)).unwrap();
            let st = SafeTensors::deserialize(&bytes).unwrap();
            for (name, view) in st.tensors() {
                assert_eq!(map[&name], json!(file));
                total += view.data().len() as u64;
            }
        }
        assert_eq!(index["metadata"]["total_size"], json!(total));
        assert!(is_complete(dir.path(), Preset::TinyLlama, &opts));
    }

    #[test]
    fn cache_reuses_complete_builds_and_rebuilds_broken_ones() {
        let cache = tempfile::tempdir().unwrap();
        let opts = WriteOptions::new(WeightDtype::F32, 0);
        let (dir, built) = cached_model(cache.path(), Preset::Tiny, &opts, &mut |_| {}).unwrap();
        assert!(built);
        let (again, built) = cached_model(cache.path(), Preset::Tiny, &opts, &mut |_| {}).unwrap();
        assert_eq!(dir, again);
        assert!(!built);
        // A truncated weights file is noticed and rebuilt.
        let weights = dir.join("model.safetensors");
        let len = std::fs::metadata(&weights).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&weights)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let (_, built) = cached_model(cache.path(), Preset::Tiny, &opts, &mut |_| {}).unwrap();
        assert!(built);
        assert_eq!(std::fs::metadata(&weights).unwrap().len(), len);
        // No temporary folders are left behind.
        let names: Vec<String> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![cache_entry_name(Preset::Tiny, &opts)]);
    }

    #[test]
    fn cache_dir_follows_xdg_then_home() {
        assert_eq!(
            cache_dir_from(Some("/x".into()), Some("/h".into())).unwrap(),
            PathBuf::from("/x/xmrc-lens/bench")
        );
        assert_eq!(
            cache_dir_from(Some("".into()), Some("/h".into())).unwrap(),
            PathBuf::from("/h/.cache/xmrc-lens/bench")
        );
        assert!(cache_dir_from(None, None).is_err());
    }

    #[test]
    fn special_ids_match_the_synthetic_tokenizers() {
        for family in [SynthFamily::Qwen2, SynthFamily::Llama] {
            let tok = crate::synth::tokenizer::family_tokenizer(family.chat_family()).unwrap();
            let (bos, eos) = family.special_ids().unwrap();
            let name = |id: u32| tok.id_to_token(id).unwrap();
            match family {
                SynthFamily::Qwen2 => {
                    assert_eq!(name(bos), "<|endoftext|>");
                    assert_eq!(name(eos[0]), "<|im_end|>");
                }
                SynthFamily::Llama => {
                    assert_eq!(name(bos), "<|begin_of_text|>");
                    assert_eq!(name(eos[2]), "<|eot_id|>");
                }
            }
        }
    }
}

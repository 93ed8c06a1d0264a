//! `config.json` → one normalised [`ModelConfig`]: the four supported families are the same
//! decoder with different switches, so everything family-specific is decided here, once.
//!
//! Both the transformers 4 layout (`rope_theta`, `rope_scaling`) and the transformers 5 one
//! (`rope_parameters`, `layer_types`) are read, since hub models carry either.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// The architectures (`architectures[0]` in config.json) this decoder implements.
pub const SUPPORTED_ARCHITECTURES: [&str; 4] = [
    "LlamaForCausalLM",
    "Qwen2ForCausalLM",
    "MistralForCausalLM",
    "Gemma2ForCausalLM",
];

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: not valid JSON for a model config: {source}")]
    Json {
        file: String,
        source: serde_json::Error,
    },
    #[error(
        "{file}: unsupported architecture {found}; supported: {}",
        SUPPORTED_ARCHITECTURES.join(", ")
    )]
    Unsupported { file: String, found: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The model family, which fixes the block layout and the defaults of missing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Llama,
    Qwen2,
    Mistral,
    Gemma2,
}

impl Family {
    pub fn from_architecture(arch: &str) -> Option<Family> {
        match arch {
            "LlamaForCausalLM" => Some(Family::Llama),
            "Qwen2ForCausalLM" => Some(Family::Qwen2),
            "MistralForCausalLM" => Some(Family::Mistral),
            "Gemma2ForCausalLM" => Some(Family::Gemma2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Mistral => "mistral",
            Family::Gemma2 => "gemma2",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The MLP non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Activation {
    Silu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`, Gemma).
    GeluTanh,
}

/// Llama-3.1's frequency-dependent RoPE rescaling (`rope_type: "llama3"`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Llama3RopeScaling {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: f64,
}

/// Everything the decoder needs, with each family's defaults filled in.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelConfig {
    pub family: Family,
    pub architecture: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    /// Per-head width; Gemma-2 sets it so that heads x head_dim != hidden_size.
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Per-frequency divisors of the RoPE frequencies (a Llama-3.1 GGUF file's
    /// `rope_freqs.weight`, which holds the llama3 rescaling precomputed); None for folders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rope_freq_factors: Option<Vec<f32>>,
    pub max_position_embeddings: usize,
    pub activation: Activation,
    /// Bias on the q, k and v projections (Qwen2; Llama/Mistral with `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on o_proj (Llama/Mistral with `attention_bias`; never on Qwen2).
    pub o_bias: bool,
    /// Bias on the MLP projections (Llama `mlp_bias`).
    pub mlp_bias: bool,
    /// lm_head shares the embedding matrix (also assumed when the weights lack lm_head).
    pub tie_word_embeddings: bool,
    /// Gemma's RMSNorm multiplies by `1 + w` instead of `w`.
    pub norm_plus_one: bool,
    /// Gemma-2's two extra norms per block (after attention and around the MLP).
    pub sandwich_norms: bool,
    /// Gemma multiplies the embeddings by sqrt(hidden_size), in the model dtype.
    pub scale_embeddings: bool,
    /// Multiplier of q·k (1/sqrt(head_dim), or query_pre_attn_scalar^-1/2 for Gemma-2).
    pub attention_scale: f64,
    pub attn_logit_softcap: Option<f64>,
    pub final_logit_softcap: Option<f64>,
    /// Sliding window (keys a query may see, itself included) per layer; None = full.
    pub layer_windows: Vec<Option<usize>>,
}

/// The raw keys we read; unknown keys are ignored, as transformers does.
#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    architectures: Vec<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    max_position_embeddings: Option<usize>,
    hidden_act: Option<String>,
    hidden_activation: Option<String>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
    sliding_window: Option<usize>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<usize>,
    layer_types: Option<Vec<String>>,
    query_pre_attn_scalar: Option<f64>,
    attn_logit_softcapping: Option<f64>,
    final_logit_softcapping: Option<f64>,
}

impl ModelConfig {
    /// Reads and normalises a `config.json`.
    pub fn from_file(path: &Path) -> Result<ModelConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_json_str(&text, &file)
    }

    /// Normalises config text; `file` names it in errors.
    pub fn from_json_str(text: &str, file: &str) -> Result<ModelConfig, ConfigError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            file: file.to_string(),
            source,
        })?;
        normalise(raw, file)
    }

    /// Query width (heads x head_dim).
    pub fn q_dim(&self) -> usize {
        self.num_heads * self.head_dim
    }

    /// Key/value width (kv heads x head_dim).
    pub fn kv_dim(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    /// Checks that a prompt of `tokens` tokens fits the context window; returns the window.
    pub fn check_fits(&self, tokens: usize) -> anyhow::Result<usize> {
        let window = self.max_position_embeddings;
        if tokens > window {
            anyhow::bail!(
                "the prompt has {tokens} tokens, more than the model's context window of {window} \
                 (max_position_embeddings); use a shorter prompt (0 shots instead of 2, a \
                 shorter custom text) or a model with a longer window"
            );
        }
        Ok(window)
    }
}

fn normalise(raw: RawConfig, file: &str) -> Result<ModelConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        file: file.to_string(),
        message,
    };
    let architecture =
        raw.architectures.first().cloned().ok_or_else(|| {
            invalid("no `architectures` entry; cannot tell the model family".into())
        })?;
    let family =
        Family::from_architecture(&architecture).ok_or_else(|| ConfigError::Unsupported {
            file: file.to_string(),
            found: architecture.clone(),
        })?;
    let need = |value: Option<usize>, key: &str| {
        value
            .filter(|v| *v > 0)
            .ok_or_else(|| invalid(format!("`{key}` is missing or zero")))
    };
    let hidden_size = need(raw.hidden_size, "hidden_size")?;
    let num_heads = need(raw.num_attention_heads, "num_attention_heads")?;
    let num_layers = need(raw.num_hidden_layers, "num_hidden_layers")?;
    let num_kv_heads = raw.num_key_value_heads.unwrap_or(num_heads);
    if num_kv_heads == 0 || num_heads % num_kv_heads != 0 {
        return Err(invalid(format!(
            "num_attention_heads ({num_heads}) is not a multiple of num_key_value_heads ({num_kv_heads})"
        )));
    }
    let head_dim = match raw.head_dim {
        Some(d) if d > 0 => d,
        _ if hidden_size % num_heads == 0 => hidden_size / num_heads,
        _ => {
            return Err(invalid(format!(
                "hidden_size ({hidden_size}) is not divisible by num_attention_heads ({num_heads}) and no head_dim is given"
            )))
        }
    };
    if head_dim % 2 != 0 {
        return Err(invalid(format!(
            "head_dim {head_dim} is odd; RoPE needs pairs"
        )));
    }
    let is_gemma = family == Family::Gemma2;
    let activation_name = if is_gemma {
        raw.hidden_activation
            .clone()
            .or(raw.hidden_act.clone())
            .unwrap_or_else(|| "gelu_pytorch_tanh".into())
    } else {
        raw.hidden_act.clone().unwrap_or_else(|| "silu".into())
    };
    let activation = match activation_name.as_str() {
        "silu" | "swish" => Activation::Silu,
        "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Activation::GeluTanh,
        other => {
            return Err(invalid(format!(
                "activation `{other}` is not supported; supported: silu, gelu_pytorch_tanh"
            )))
        }
    };
    let (rope_theta, rope_scaling) = rope(&raw, family).map_err(invalid)?;
    let attention_bias = raw.attention_bias.unwrap_or(false);
    let (qkv_bias, o_bias) = match family {
        Family::Qwen2 => (true, false),
        _ => (attention_bias, attention_bias),
    };
    let attention_scale = match (is_gemma, raw.query_pre_attn_scalar) {
        (true, Some(s)) if s > 0.0 => s.powf(-0.5),
        (true, None) => 224f64.powf(-0.5),
        _ => (head_dim as f64).powf(-0.5),
    };
    let layer_windows = windows(&raw, family, num_layers).map_err(invalid)?;
    Ok(ModelConfig {
        family,
        architecture,
        vocab_size: need(raw.vocab_size, "vocab_size")?,
        hidden_size,
        intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
        num_layers,
        num_heads,
        num_kv_heads,
        head_dim,
        rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
        rope_theta,
        rope_scaling,
        rope_freq_factors: None,
        max_position_embeddings: match raw.max_position_embeddings {
            Some(0) => {
                return Err(invalid(
                    "max_position_embeddings is 0: the model would have no context window"
                        .to_string(),
                ))
            }
            Some(n) => n,
            None => 8192,
        },
        activation,
        qkv_bias,
        o_bias,
        mlp_bias: family == Family::Llama && raw.mlp_bias.unwrap_or(false),
        tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(is_gemma),
        norm_plus_one: is_gemma,
        sandwich_norms: is_gemma,
        scale_embeddings: is_gemma,
        attention_scale,
        attn_logit_softcap: raw.attn_logit_softcapping.filter(|_| is_gemma),
        final_logit_softcap: raw.final_logit_softcapping.filter(|_| is_gemma),
        layer_windows,
    })
}

/// RoPE base and scaling from `rope_parameters` (transformers 5) or `rope_theta` +
/// `rope_scaling` (transformers 4). Only the default and `llama3` types are implemented.
fn rope(raw: &RawConfig, family: Family) -> Result<(f64, Option<Llama3RopeScaling>), String> {
    let default_theta = match family {
        Family::Qwen2 | Family::Mistral => 1_000_000.0,
        Family::Llama | Family::Gemma2 => 10_000.0,
    };
    let params = raw
        .rope_parameters
        .as_ref()
        .filter(|v| v.is_object())
        .or(raw.rope_scaling.as_ref().filter(|v| v.is_object()));
    let theta = raw
        .rope_theta
        .or_else(|| {
            params
                .and_then(|p| p.get("rope_theta"))
                .and_then(Value::as_f64)
        })
        .unwrap_or(default_theta);
    let Some(params) = params else {
        return Ok((theta, None));
    };
    let kind = params
        .get("rope_type")
        .or_else(|| params.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    match kind {
        "default" => Ok((theta, None)),
        "llama3" => {
            let field = |key: &str| {
                params
                    .get(key)
                    .and_then(Value::as_f64)
                    .ok_or_else(|| format!("llama3 rope scaling lacks `{key}`"))
            };
            let scaling = Llama3RopeScaling {
                factor: field("factor")?,
                low_freq_factor: field("low_freq_factor")?,
                high_freq_factor: field("high_freq_factor")?,
                original_max_position_embeddings: field("original_max_position_embeddings")?,
            };
            if scaling.high_freq_factor <= scaling.low_freq_factor {
                return Err("llama3 rope scaling needs high_freq_factor > low_freq_factor".into());
            }
            Ok((theta, Some(scaling)))
        }
        other => Err(format!(
            "rope type `{other}` is not supported; supported: default, llama3"
        )),
    }
}

/// Which layers attend through a sliding window, and how wide it is.
fn windows(raw: &RawConfig, family: Family, layers: usize) -> Result<Vec<Option<usize>>, String> {
    let window = raw.sliding_window.filter(|w| *w > 0);
    if let Some(types) = &raw.layer_types {
        if types.len() != layers {
            return Err(format!(
                "`layer_types` has {} entries for {layers} layers",
                types.len()
            ));
        }
        return types
            .iter()
            .map(|t| match t.as_str() {
                "full_attention" => Ok(None),
                "sliding_attention" => window
                    .map(Some)
                    .ok_or_else(|| "a sliding_attention layer but no `sliding_window`".to_string()),
                other => Err(format!(
                    "layer type `{other}` is not supported; supported: full_attention, sliding_attention"
                )),
            })
            .collect();
    }
    Ok((0..layers)
        .map(|i| match family {
            // Gemma-2: local attention on even layers (0, 2, ...), global on odd ones.
            Family::Gemma2 => window.filter(|_| i % 2 == 0),
            Family::Mistral => window,
            Family::Qwen2 => {
                let from = raw.max_window_layers.unwrap_or(layers);
                window.filter(|_| raw.use_sliding_window.unwrap_or(false) && i >= from)
            }
            Family::Llama => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ModelConfig, ConfigError> {
        ModelConfig::from_json_str(&v.to_string(), "config.json")
    }

    fn base(arch: &str) -> Value {
        json!({"architectures": [arch], "vocab_size": 100, "hidden_size": 64,
               "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
               "num_key_value_heads": 2})
    }

    #[test]
    fn unsupported_architecture_lists_the_supported_ones() {
        let err = parse(base("Phi3ForCausalLM")).unwrap_err().to_string();
        assert!(
            err.contains("unsupported architecture Phi3ForCausalLM"),
            "{err}"
        );
        assert!(err.contains("Gemma2ForCausalLM") && err.contains("LlamaForCausalLM"));
    }

    #[test]
    fn llama_defaults_and_llama3_scaling_in_both_layouts() {
        let mut v = base("LlamaForCausalLM");
        v["rope_theta"] = json!(500000.0);
        v["rope_scaling"] = json!({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        let c = parse(v).unwrap();
        assert_eq!(c.head_dim, 16);
        assert_eq!(c.rope_theta, 500000.0);
        assert_eq!(c.rope_scaling.unwrap().factor, 8.0);
        assert!(
            !c.tie_word_embeddings && !c.qkv_bias && c.layer_windows.iter().all(Option::is_none)
        );

        let mut v5 = base("LlamaForCausalLM");
        v5["rope_parameters"] = json!({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        assert_eq!(parse(v5).unwrap(), c);
    }

    #[test]
    fn gemma2_quirks() {
        let mut v = base("Gemma2ForCausalLM");
        v["head_dim"] = json!(32);
        v["query_pre_attn_scalar"] = json!(24);
        v["sliding_window"] = json!(16);
        v["attn_logit_softcapping"] = json!(50.0);
        v["final_logit_softcapping"] = json!(30.0);
        let c = parse(v).unwrap();
        assert_eq!(c.q_dim(), 128);
        assert!((c.attention_scale - 24f64.powf(-0.5)).abs() < 1e-12);
        assert_eq!(c.layer_windows, vec![Some(16), None, Some(16), None]);
        assert!(c.norm_plus_one && c.sandwich_norms && c.scale_embeddings && c.tie_word_embeddings);
        assert_eq!(c.activation, Activation::GeluTanh);
        assert_eq!(c.attn_logit_softcap, Some(50.0));
    }

    #[test]
    fn qwen2_window_only_when_enabled_and_mistral_window_everywhere() {
        let mut q = base("Qwen2ForCausalLM");
        q["sliding_window"] = json!(32768);
        q["use_sliding_window"] = json!(false);
        let c = parse(q).unwrap();
        assert!(c.qkv_bias && !c.o_bias);
        assert!(c.layer_windows.iter().all(Option::is_none));

        let mut m = base("MistralForCausalLM");
        m["sliding_window"] = json!(16);
        assert_eq!(parse(m.clone()).unwrap().layer_windows, vec![Some(16); 4]);
        m["sliding_window"] = Value::Null;
        assert_eq!(parse(m).unwrap().layer_windows, vec![None; 4]);
    }

    #[test]
    fn layer_types_override_family_rules() {
        let mut v = base("Qwen2ForCausalLM");
        v["sliding_window"] = json!(8);
        v["layer_types"] = json!([
            "full_attention",
            "sliding_attention",
            "full_attention",
            "full_attention"
        ]);
        assert_eq!(
            parse(v).unwrap().layer_windows,
            vec![None, Some(8), None, None]
        );
    }

    #[test]
    fn bad_values_are_explained() {
        let mut v = base("LlamaForCausalLM");
        v["num_key_value_heads"] = json!(3);
        assert!(parse(v).unwrap_err().to_string().contains("multiple"));
        let mut v = base("LlamaForCausalLM");
        v["rope_scaling"] = json!({"rope_type": "yarn", "factor": 4.0});
        assert!(parse(v)
            .unwrap_err()
            .to_string()
            .contains("rope type `yarn`"));
        let mut v = base("LlamaForCausalLM");
        v["hidden_act"] = json!("relu");
        assert!(parse(v)
            .unwrap_err()
            .to_string()
            .contains("activation `relu`"));
        assert!(matches!(
            ModelConfig::from_json_str("{", "x/config.json"),
            Err(ConfigError::Json { .. })
        ));
    }
}

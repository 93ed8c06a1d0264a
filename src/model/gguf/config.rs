//! GGUF hyper-parameters (`<arch>.*` keys) to our [`ModelConfig`]. The keys are written out
//! as the `config.json` transformers would have, then normalised by the same code as a
//! model folder, so a GGUF model and its safetensors twin get the same configuration.
//!
//! Architectures: `llama` (Llama, Mistral and SmolLM GGUFs; a `llama.attention.sliding_window`
//! key makes it Mistral), `qwen2` and `gemma2`.

use super::metadata::Metadata;
use crate::model::config::ModelConfig;
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

/// The `general.architecture` values this reader maps.
pub const SUPPORTED_GGUF_ARCHITECTURES: [&str; 3] = ["llama", "qwen2", "gemma2"];

/// What the tensors tell about the config (biases, a separate output matrix).
#[derive(Clone, Copy, Debug, Default)]
pub struct TensorFacts {
    pub vocab_rows: usize,
    pub has_output: bool,
    pub has_q_bias: bool,
    pub has_o_bias: bool,
    pub has_mlp_bias: bool,
}

/// The transformers-style config of a GGUF file.
pub fn config_json(meta: &Metadata, facts: TensorFacts) -> Result<Value> {
    let arch = meta.required_string("general.architecture")?;
    if !SUPPORTED_GGUF_ARCHITECTURES.contains(&arch) {
        bail!(
            "GGUF architecture '{arch}' is not supported; supported: {}",
            SUPPORTED_GGUF_ARCHITECTURES.join(", ")
        );
    }
    let key = |name: &str| format!("{arch}.{name}");
    let need = |name: &str| -> Result<usize> {
        meta.usize(&key(name))?
            .with_context(|| format!("GGUF key {} is missing", key(name)))
    };
    let hidden = need("embedding_length")?;
    let heads = need("attention.head_count")?;
    let mut c = Map::new();
    let sliding = meta
        .usize(&key("attention.sliding_window"))?
        .filter(|w| *w > 0);
    let architecture = match arch {
        "llama" if sliding.is_some() => "MistralForCausalLM",
        "llama" => "LlamaForCausalLM",
        "qwen2" => "Qwen2ForCausalLM",
        _ => "Gemma2ForCausalLM",
    };
    c.insert("architectures".into(), json!([architecture]));
    let vocab = match meta.usize(&key("vocab_size"))? {
        Some(v) => v,
        None => facts.vocab_rows,
    };
    if facts.vocab_rows != 0 && vocab != facts.vocab_rows {
        bail!(
            "GGUF key {} says {vocab} tokens but token_embd.weight has {} rows",
            key("vocab_size"),
            facts.vocab_rows
        );
    }
    c.insert("vocab_size".into(), json!(vocab));
    c.insert("hidden_size".into(), json!(hidden));
    c.insert(
        "intermediate_size".into(),
        json!(need("feed_forward_length")?),
    );
    c.insert("num_hidden_layers".into(), json!(need("block_count")?));
    c.insert("num_attention_heads".into(), json!(heads));
    let kv_heads = meta
        .usize(&key("attention.head_count_kv"))?
        .unwrap_or(heads);
    c.insert("num_key_value_heads".into(), json!(kv_heads));
    let head_dim = meta.usize(&key("attention.key_length"))?;
    if let (Some(k), Some(v)) = (head_dim, meta.usize(&key("attention.value_length"))?) {
        if k != v {
            bail!("GGUF keys {} ({k}) and {} ({v}) differ: separate key and value widths are not supported", key("attention.key_length"), key("attention.value_length"));
        }
    }
    if let Some(d) = head_dim {
        c.insert("head_dim".into(), json!(d));
    }
    if let Some(eps) = meta.float(&key("attention.layer_norm_rms_epsilon"))? {
        c.insert("rms_norm_eps".into(), json!(eps));
    }
    if let Some(theta) = meta.float(&key("rope.freq_base"))? {
        c.insert("rope_theta".into(), json!(theta));
    }
    if let Some(kind) = meta.string(&key("rope.scaling.type"))? {
        if kind != "none" {
            bail!(
                "GGUF key {} = '{kind}': RoPE scaling from GGUF files is not supported (use the model's safetensors folder, whose config.json carries the scaling)",
                key("rope.scaling.type")
            );
        }
    }
    if let Some(ctx) = meta.usize(&key("context_length"))? {
        c.insert("max_position_embeddings".into(), json!(ctx));
    }
    c.insert("tie_word_embeddings".into(), json!(!facts.has_output));
    match arch {
        "llama" => {
            c.insert(
                "attention_bias".into(),
                json!(facts.has_q_bias || facts.has_o_bias),
            );
            c.insert("mlp_bias".into(), json!(facts.has_mlp_bias));
            if let Some(w) = sliding {
                c.insert("sliding_window".into(), json!(w));
            }
        }
        // Qwen2 releases run with full attention (use_sliding_window false), and llama.cpp
        // ignores a window key for this architecture: so do we.
        "qwen2" => {}
        _ => gemma2_keys(meta, &mut c, hidden, heads, head_dim, sliding)?,
    }
    Ok(Value::Object(c))
}

/// Gemma-2: window, soft-caps and the query scale. GGUF has no `query_pre_attn_scalar`; a
/// generic `gemma2.attention.scale` wins when present, else llama.cpp's rule (27B:
/// hidden/heads, the others: head_dim), which matches the released models.
fn gemma2_keys(
    meta: &Metadata,
    c: &mut Map<String, Value>,
    hidden: usize,
    heads: usize,
    head_dim: Option<usize>,
    sliding: Option<usize>,
) -> Result<()> {
    c.insert("hidden_activation".into(), json!("gelu_pytorch_tanh"));
    if let Some(w) = sliding {
        c.insert("sliding_window".into(), json!(w));
    }
    for (gguf, ours) in [
        ("gemma2.attn_logit_softcapping", "attn_logit_softcapping"),
        ("gemma2.final_logit_softcapping", "final_logit_softcapping"),
    ] {
        if let Some(v) = meta.float(gguf)? {
            c.insert(ours.into(), json!(v));
        }
    }
    let scalar = match meta.float("gemma2.attention.scale")? {
        Some(scale) if scale > 0.0 => scale.powi(-2),
        Some(scale) => bail!("GGUF key gemma2.attention.scale = {scale} must be positive"),
        None if meta.usize("gemma2.block_count")? == Some(46) => (hidden / heads) as f64,
        None => head_dim.unwrap_or(hidden / heads) as f64,
    };
    c.insert("query_pre_attn_scalar".into(), json!(scalar));
    Ok(())
}

/// [`config_json`] normalised; `file` names the GGUF file in errors.
pub fn model_config(meta: &Metadata, facts: TensorFacts, file: &str) -> Result<ModelConfig> {
    let json = config_json(meta, facts)
        .with_context(|| format!("{file}: reading the model hyper-parameters"))?;
    Ok(ModelConfig::from_json_str(&json.to_string(), file)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Family;
    use candle_core::quantized::gguf_file::Value as G;
    use std::collections::HashMap;

    fn llama_meta() -> HashMap<String, G> {
        let mut m = HashMap::new();
        let mut put = |k: &str, v: G| {
            m.insert(k.to_string(), v);
        };
        put("general.architecture", G::String("llama".into()));
        put("llama.embedding_length", G::U32(64));
        put("llama.feed_forward_length", G::U32(128));
        put("llama.block_count", G::U32(2));
        put("llama.attention.head_count", G::U32(4));
        put("llama.attention.head_count_kv", G::U32(2));
        put("llama.attention.layer_norm_rms_epsilon", G::F32(1e-5));
        put("llama.rope.freq_base", G::F32(10000.0));
        put("llama.context_length", G::U32(2048));
        m
    }

    fn facts() -> TensorFacts {
        TensorFacts {
            vocab_rows: 100,
            ..TensorFacts::default()
        }
    }

    #[test]
    fn llama_keys_to_config() {
        let m = llama_meta();
        let c = model_config(&Metadata::new(&m), facts(), "x.gguf").unwrap();
        assert_eq!(c.family, Family::Llama);
        assert_eq!(
            (c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim),
            (64, 4, 2, 16)
        );
        assert_eq!(c.vocab_size, 100);
        assert!(c.tie_word_embeddings, "no output.weight: tied");
        assert!((c.rms_norm_eps - 1e-5).abs() < 1e-9);
        assert_eq!(c.max_position_embeddings, 2048);
        assert!(c.layer_windows.iter().all(Option::is_none));
    }

    #[test]
    fn a_window_makes_llama_mistral() {
        let mut m = llama_meta();
        m.insert("llama.attention.sliding_window".into(), G::U32(16));
        let f = TensorFacts {
            has_output: true,
            ..facts()
        };
        let c = model_config(&Metadata::new(&m), f, "x.gguf").unwrap();
        assert_eq!(c.family, Family::Mistral);
        assert_eq!(c.layer_windows, vec![Some(16), Some(16)]);
        assert!(!c.tie_word_embeddings);
    }

    #[test]
    fn unsupported_and_missing_keys_are_named() {
        let mut m = llama_meta();
        m.insert("general.architecture".into(), G::String("phi3".into()));
        let err = format!(
            "{:#}",
            model_config(&Metadata::new(&m), facts(), "x.gguf").unwrap_err()
        );
        assert!(
            err.contains("'phi3' is not supported") && err.contains("llama, qwen2, gemma2"),
            "{err}"
        );
        let mut m = llama_meta();
        m.remove("llama.block_count");
        let err = format!(
            "{:#}",
            model_config(&Metadata::new(&m), facts(), "x.gguf").unwrap_err()
        );
        assert!(err.contains("llama.block_count is missing"), "{err}");
        let mut m = llama_meta();
        m.insert("llama.rope.scaling.type".into(), G::String("yarn".into()));
        let err = format!(
            "{:#}",
            model_config(&Metadata::new(&m), facts(), "x.gguf").unwrap_err()
        );
        assert!(err.contains("'yarn'"), "{err}");
    }

    #[test]
    fn gemma2_scale_window_and_caps() {
        let mut m = HashMap::new();
        for (k, v) in [
            ("general.architecture", G::String("gemma2".into())),
            ("gemma2.embedding_length", G::U32(64)),
            ("gemma2.feed_forward_length", G::U32(128)),
            ("gemma2.block_count", G::U32(4)),
            ("gemma2.attention.head_count", G::U32(4)),
            ("gemma2.attention.head_count_kv", G::U32(2)),
            ("gemma2.attention.key_length", G::U32(32)),
            ("gemma2.attention.value_length", G::U32(32)),
            ("gemma2.attention.sliding_window", G::U32(16)),
            ("gemma2.attn_logit_softcapping", G::F32(50.0)),
            ("gemma2.final_logit_softcapping", G::F32(30.0)),
        ] {
            m.insert(k.to_string(), v);
        }
        let c = model_config(&Metadata::new(&m), facts(), "g.gguf").unwrap();
        assert_eq!(c.family, Family::Gemma2);
        assert_eq!(c.head_dim, 32);
        assert!((c.attention_scale - 32f64.powf(-0.5)).abs() < 1e-12);
        assert_eq!(c.layer_windows, vec![Some(16), None, Some(16), None]);
        assert_eq!(c.attn_logit_softcap, Some(50.0));
        assert_eq!(c.final_logit_softcap, Some(30.0));
        m.insert("gemma2.attention.scale".into(), G::F32(24f32.powf(-0.5)));
        let c = model_config(&Metadata::new(&m), facts(), "g.gguf").unwrap();
        assert!((c.attention_scale - 24f64.powf(-0.5)).abs() < 1e-6);
    }
}

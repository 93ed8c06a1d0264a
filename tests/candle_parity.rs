#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Our decoder against candle-transformers' own llama / qwen2 / mistral / gemma2 models on
//! the same weights (no Python needed): last-position logits of a prompt and of a few
//! cached decode steps must agree within 1e-4 (f32, CPU).
//!
//! Where candle-transformers differs from transformers the comparison uses a config on
//! which both are defined the same, and says so:
//! - gemma2: candle scales q·k by 1/sqrt(head_dim) (transformers: query_pre_attn_scalar^-1/2)
//!   and applies the sliding window on every layer (transformers: even layers only), so the
//!   Gemma-2 comparison sets query_pre_attn_scalar = head_dim and no window;
//! - mistral: candle's window mask keeps W+1 keys (`j + W < i` masked; transformers keeps
//!   W), so the Mistral comparison runs without a window.
//!
//! The windows themselves are checked against transformers in `engine_parity.rs`.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::{gemma2, llama, mistral, qwen2};
use common::{load_decoder, max_abs_diff, tiny_model_dir, weight_files};
use serde_json::{json, Value};
use xmrc_lens::hf::tokenizer::Tokenizer;
use xmrc_lens::model::config::{Activation, ModelConfig};
use xmrc_lens::model::decoder::Decoder;
use xmrc_lens::model::weights::load_var_builder;

const TEXT: &str = "Context: The Rhine flows from the Alps to the North Sea. Question: Where does the Rhine end? Answer:";
const DECODE_STEPS: usize = 4;

fn act(c: &ModelConfig) -> &'static str {
    match c.activation {
        Activation::Silu => "silu",
        Activation::GeluTanh => "gelu_pytorch_tanh",
    }
}

/// A candle-transformers model behind one signature: ids after `offset` → last logits.
type Reference = Box<dyn FnMut(&Tensor, usize) -> candle_core::Result<Tensor>>;

fn last_logits(reference: &mut Reference, ids: &Tensor, offset: usize) -> Vec<f32> {
    let logits = reference(ids, offset).unwrap();
    logits
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Builds candle-transformers' model for `c` (already adjusted to the shared semantics).
fn reference(c: &ModelConfig, vb: candle_nn::VarBuilder<'static>) -> Reference {
    let common = json!({
        "vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size, "num_hidden_layers": c.num_layers,
        "num_attention_heads": c.num_heads, "num_key_value_heads": c.num_kv_heads,
        "max_position_embeddings": c.max_position_embeddings, "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta, "tie_word_embeddings": c.tie_word_embeddings,
    });
    let with = |extra: Value| {
        let mut v = common.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    match c.family {
        xmrc_lens::model::config::Family::Llama => {
            let rope_scaling = c.rope_scaling.map(|s| llama::Llama3RopeConfig {
                factor: s.factor as f32,
                low_freq_factor: s.low_freq_factor as f32,
                high_freq_factor: s.high_freq_factor as f32,
                original_max_position_embeddings: s.original_max_position_embeddings as usize,
                rope_type: llama::Llama3RopeType::Llama3,
            });
            let cfg = llama::Config {
                hidden_size: c.hidden_size,
                intermediate_size: c.intermediate_size,
                vocab_size: c.vocab_size,
                num_hidden_layers: c.num_layers,
                num_attention_heads: c.num_heads,
                num_key_value_heads: c.num_kv_heads,
                use_flash_attn: false,
                rms_norm_eps: c.rms_norm_eps,
                rope_theta: c.rope_theta as f32,
                bos_token_id: None,
                eos_token_id: None,
                rope_scaling,
                max_position_embeddings: c.max_position_embeddings,
                tie_word_embeddings: c.tie_word_embeddings,
            };
            let mut cache = llama::Cache::new(true, DType::F32, &cfg, &Device::Cpu).unwrap();
            let model = llama::Llama::load(vb, &cfg).unwrap();
            Box::new(move |ids, offset| model.forward(ids, offset, &mut cache))
        }
        xmrc_lens::model::config::Family::Qwen2 => {
            let cfg: qwen2::Config = serde_json::from_value(with(json!({
                "sliding_window": c.max_position_embeddings, "max_window_layers": c.num_layers,
                "use_sliding_window": false, "hidden_act": act(c),
            })))
            .unwrap();
            let mut model = qwen2::ModelForCausalLM::new(&cfg, vb).unwrap();
            Box::new(move |ids, offset| model.forward(ids, offset))
        }
        xmrc_lens::model::config::Family::Mistral => {
            let cfg: mistral::Config = serde_json::from_value(with(json!({
                "head_dim": c.head_dim, "hidden_act": act(c), "sliding_window": null,
            })))
            .unwrap();
            let mut model = mistral::Model::new(&cfg, vb).unwrap();
            Box::new(move |ids, offset| model.forward(ids, offset))
        }
        xmrc_lens::model::config::Family::Gemma2 => {
            let cfg: gemma2::Config = serde_json::from_value(with(json!({
                "attention_bias": false, "head_dim": c.head_dim,
                "hidden_activation": act(c), "query_pre_attn_scalar": c.head_dim,
                "final_logit_softcapping": c.final_logit_softcap,
                "attn_logit_softcapping": c.attn_logit_softcap, "sliding_window": null,
            })))
            .unwrap();
            let mut model = gemma2::Model::new(false, &cfg, vb).unwrap();
            Box::new(move |ids, offset| model.forward(ids, offset))
        }
    }
}

/// Our config with the candle-incompatible quirks switched off (see the module comment).
fn shared_semantics(mut c: ModelConfig) -> ModelConfig {
    c.layer_windows = vec![None; c.num_layers];
    if c.family == xmrc_lens::model::config::Family::Gemma2 {
        c.attention_scale = (c.head_dim as f64).powf(-0.5);
    }
    c
}

fn compare(family: &str) {
    let dir = tiny_model_dir(family);
    let (config, _) = load_decoder(&dir);
    let config = shared_semantics(config);
    let files = weight_files(&dir);
    let vb = || load_var_builder(&files, DType::F32, &Device::Cpu).unwrap();
    let ours = Decoder::new(&config, vb()).unwrap();
    let mut theirs = reference(&config, vb());

    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    let prompt = tokenizer.encode(TEXT, true).unwrap().ids;
    assert!(prompt.len() > 20, "prompt too short to exercise attention");

    let mut cache = ours.new_cache();
    let mut our_logits: Vec<f32> = ours
        .forward_fast(&prompt, &mut cache)
        .unwrap()
        .to_vec1()
        .unwrap();
    let ids = Tensor::new(prompt.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let mut their_logits = last_logits(&mut theirs, &ids, 0);
    for step in 0..=DECODE_STEPS {
        let offset = prompt.len() + step;
        let diff = max_abs_diff(&our_logits, &their_logits);
        assert!(diff <= 1e-4, "{family} step {step}: max |Δlogit| = {diff}");
        let next = xmrc_lens::model::generate::rank(&our_logits, 1)[0].0;
        our_logits = ours
            .forward_fast(&[next], &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        let ids = Tensor::new(&[next], &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        their_logits = last_logits(&mut theirs, &ids, offset);
    }
}

#[test]
fn llama_equals_candle_transformers() {
    compare("llama");
}

#[test]
fn qwen2_equals_candle_transformers() {
    compare("qwen2");
}

#[test]
fn mistral_equals_candle_transformers() {
    compare("mistral");
}

#[test]
fn gemma2_equals_candle_transformers() {
    compare("gemma2");
}

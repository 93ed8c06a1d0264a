#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The engine fixtures are what the decoder parity tests stand on, so their own consistency is
//! checked here, without Python: the tiny model folders in `tests/fixtures/models/` (written by
//! `scripts/make_tiny_models.py`) and the transformers outputs in `tests/fixtures/engine/`
//! (written by `scripts/make_engine_fixtures.py`). Shapes in the safetensors headers follow
//! the config; the sharded copy holds the same bytes as the single file; every prompt's ids are
//! what our tokenizer and chat template give; every array has the size the format promises.

use safetensors::SafeTensors;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xmrc_lens::hf::chat_template::{ChatTemplate, Message};
use xmrc_lens::hf::tokenizer::Tokenizer;

const FAMILIES: [&str; 4] = ["llama", "qwen2", "mistral", "gemma2"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn model_dir(family: &str) -> PathBuf {
    fixtures().join("models").join(format!("tiny-{family}"))
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn int(v: &Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer `{key}`")) as usize
}

/// Tensor name -> (shape, bytes) of one safetensors file.
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name} is not f32");
            (name, (view.shape().to_vec(), view.data().to_vec()))
        })
        .collect()
}

#[test]
fn model_folders_have_the_shapes_their_config_promises() {
    for family in FAMILIES {
        let dir = model_dir(family);
        let config = json(&dir.join("config.json"));
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
        let (vocab, hidden) = (int(&config, "vocab_size"), int(&config, "hidden_size"));
        assert_eq!(
            vocab,
            tokenizer.vocab_size(),
            "{family}: vocab_size != tokenizer size"
        );
        let heads = int(&config, "num_attention_heads");
        let kv_heads = int(&config, "num_key_value_heads");
        let head_dim = config["head_dim"]
            .as_u64()
            .map_or(hidden / heads, |d| d as usize);
        let layers = int(&config, "num_hidden_layers");
        let tied = config["tie_word_embeddings"].as_bool().unwrap();
        let t = tensors(&dir.join("model.safetensors"));
        assert_eq!(
            t["model.embed_tokens.weight"].0,
            [vocab, hidden],
            "{family}"
        );
        assert_eq!(
            t.contains_key("lm_head.weight"),
            !tied,
            "{family}: lm_head vs tie"
        );
        for l in 0..layers {
            let p = format!("model.layers.{l}.self_attn");
            assert_eq!(
                t[&format!("{p}.q_proj.weight")].0,
                [heads * head_dim, hidden]
            );
            assert_eq!(
                t[&format!("{p}.k_proj.weight")].0,
                [kv_heads * head_dim, hidden]
            );
            assert_eq!(
                t[&format!("{p}.o_proj.weight")].0,
                [hidden, heads * head_dim]
            );
            let has_bias = t.contains_key(&format!("{p}.q_proj.bias"));
            assert_eq!(has_bias, family == "qwen2", "{family}: qkv bias");
            let norms = t
                .keys()
                .filter(|k| k.starts_with(&format!("model.layers.{l}.")) && k.contains("norm"))
                .count();
            assert_eq!(norms, if family == "gemma2" { 4 } else { 2 }, "{family}");
        }
        let generation = json(&dir.join("generation_config.json"));
        assert!(
            !generation["eos_token_id"].is_null(),
            "{family}: no EOS ids"
        );
    }
}

#[test]
fn sharded_llama_holds_the_same_tensors_as_the_single_file() {
    let single = tensors(&model_dir("llama").join("model.safetensors"));
    let dir = fixtures().join("models/tiny-llama-sharded");
    let index = json(&dir.join("model.safetensors.index.json"));
    let mut merged = BTreeMap::new();
    let mut shards: Vec<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    shards.sort_unstable();
    shards.dedup();
    assert_eq!(shards.len(), 2);
    for shard in shards {
        for (name, tensor) in tensors(&dir.join(shard)) {
            assert_eq!(
                index["weight_map"][&name], shard,
                "{name} in the wrong shard"
            );
            merged.insert(name, tensor);
        }
    }
    assert_eq!(merged, single);
    let total: usize = single.values().map(|(_, b)| b.len()).sum();
    assert_eq!(int(&index["metadata"], "total_size"), total);
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn check_matrix(v: &Value, rows: usize, cols: usize, what: &str) {
    let m = v
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array"));
    assert_eq!(m.len(), rows, "{what}: rows");
    for row in m {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), cols, "{what}: columns");
        assert!(
            row.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)),
            "{what}"
        );
    }
}

#[test]
fn engine_fixtures_match_our_tokenizer_and_have_the_promised_shapes() {
    for family in FAMILIES {
        let fx = json(&fixtures().join(format!("engine/{family}.json")));
        let dir = model_dir(family);
        let config = json(&dir.join("config.json"));
        let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
        let template = ChatTemplate::from_model_dir(&dir).unwrap().unwrap();
        let (vocab, hidden) = (int(&config, "vocab_size"), int(&config, "hidden_size"));
        let layers = int(&config, "num_hidden_layers");
        assert_eq!(int(&fx, "vocab_size"), vocab, "{family}");
        assert_eq!(int(&fx, "num_hidden_layers"), layers, "{family}");
        let prompts = fx["prompts"].as_array().unwrap();
        let names: Vec<&str> = prompts
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["raw_en", "chat_en", "raw_zh", "raw_hi"], "{family}");
        for p in prompts {
            let what = format!("{family}/{}", p["name"]);
            let text = p["text"].as_str().unwrap();
            let add_special = p["add_special_tokens"].as_bool().unwrap();
            if let Some(messages) = p["messages"].as_array() {
                let content = messages[0]["content"].as_str().unwrap();
                let rendered = template.render(&[Message::user(content)], true).unwrap();
                assert_eq!(rendered, text, "{what}: chat rendering");
            }
            let input = ids(&p["input_ids"]);
            let encoded = tokenizer.encode(text, add_special).unwrap();
            assert_eq!(encoded.ids, input, "{what}: ids");
            let t = input.len();
            assert!((40..=120).contains(&t), "{what}: {t} tokens");
            check_matrix(&p["top50"]["values"], t, 50, &format!("{what} top50"));
            assert_eq!(p["top50"]["ids"].as_array().unwrap().len(), t, "{what}");
            let last = p["last_logits"].as_array().unwrap();
            assert_eq!(last.len(), vocab, "{what}: last_logits");
            check_matrix(
                &p["hidden_mean"],
                layers + 1,
                hidden,
                &format!("{what} mean"),
            );
            check_matrix(
                &p["hidden_last"],
                layers + 1,
                hidden,
                &format!("{what} last"),
            );
            let greedy = ids(&p["greedy_ids"]);
            assert_eq!(greedy.len(), 16, "{what}");
            assert!(greedy.iter().all(|&g| (g as usize) < vocab), "{what}");
            // The last position's top-1 is the first greedy id.
            assert_eq!(
                p["top50"]["ids"][t - 1][0].as_u64(),
                Some(u64::from(greedy[0]))
            );
        }
        for b in fx["batches"].as_array().unwrap() {
            let what = format!("{family}/batch {}", b["padding_side"]);
            let rows = b["prompt_names"].as_array().unwrap().len();
            let width = b["input_ids"][0].as_array().unwrap().len();
            for key in ["input_ids", "attention_mask", "position_ids"] {
                let m = b[key].as_array().unwrap();
                assert_eq!(m.len(), rows, "{what} {key}");
                assert!(m.iter().all(|r| r.as_array().unwrap().len() == width));
            }
            check_matrix(&b["last_logits"], rows, vocab, &what);
        }
    }
}

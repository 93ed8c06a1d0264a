#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! GGUF files of the four tiny families (tests/fixtures/models/gguf, written from the tiny
//! safetensors models by scripts/make_tiny_gguf.py with the `gguf` package, as llama.cpp's
//! converter writes them) against their safetensors twins and against transformers reading
//! the same files (tests/fixtures/gguf/<family>.json, scripts/make_gguf_fixtures.py):
//!
//! - F32 files: the same logits as the safetensors twin (exactly; Llama's RoPE rescaling
//!   comes as precomputed factors, so within float rounding there);
//! - Q8_0 files: the logits transformers computes from the same file, within 1e-4 (both
//!   dequantize exactly and run in f32); the distance to the safetensors twin is printed;
//! - the tokenizer rebuilt from `tokenizer.ggml.*` encodes like the model's tokenizer.json;
//! - a SentencePiece (`llama`) vocabulary encodes like sentencepiece itself.

mod common;

use common::{load_decoder, max_abs_diff, repo_path, tiny_model_dir, FAMILIES};
use serde_json::Value;
use std::path::PathBuf;
use xmrc_lens::hf::tokenizer::Tokenizer;
use xmrc_lens::model::chat_mode::ChatMode;
use xmrc_lens::model::device::{DTypeChoice, DeviceChoice};
use xmrc_lens::model::gguf::GgufModel;
use xmrc_lens::model::source::ModelRef;
use xmrc_lens::model::spec::ModelSpec;
use xmrc_lens::model::LoadedModel;

fn gguf_path(family: &str, kind: &str) -> PathBuf {
    repo_path(&format!(
        "tests/fixtures/models/gguf/tiny-{family}.{kind}.gguf"
    ))
}

fn fixture(name: &str) -> Value {
    let path = repo_path(&format!("tests/fixtures/gguf/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    common::json_ids(v)
}

fn floats(v: &Value) -> Vec<f32> {
    common::json_f64s(v).into_iter().map(|x| x as f32).collect()
}

fn load(path: PathBuf, chat: ChatMode) -> LoadedModel {
    let spec = ModelSpec {
        model: ModelRef::GgufFile(path),
        device: DeviceChoice::Cpu,
        dtype: DTypeChoice::F32,
        chat,
    };
    LoadedModel::load(&spec).unwrap()
}

fn last_logits(model: &LoadedModel, ids: &[u32]) -> Vec<f32> {
    let mut cache = model.decoder.new_cache();
    model
        .decoder
        .forward_fast(ids, &mut cache)
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn file_entry<'a>(f: &'a Value, kind: &str) -> &'a Value {
    f["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().contains(&format!(".{kind}.")))
        .unwrap()
}

fn check_family(family: &str) {
    let f = fixture(family);
    let (_, twin) = load_decoder(&tiny_model_dir(family));
    let f32_model = load(gguf_path(family, "f32"), ChatMode::Auto);
    let q8_model = load(gguf_path(family, "q8_0"), ChatMode::Auto);
    assert_eq!(
        f32_model.config.family.name(),
        match family {
            "mistral" => "mistral",
            other => other,
        }
    );
    let (mut worst_f32, mut worst_q8, mut q8_vs_twin) = (0f32, 0f32, 0f32);
    for prompt in file_entry(&f, "f32")["prompts"].as_array().unwrap() {
        let input = ids(&prompt["input_ids"]);
        let mut cache = twin.new_cache();
        let expected: Vec<f32> = twin
            .forward_fast(&input, &mut cache)
            .unwrap()
            .to_vec1()
            .unwrap();
        let got = last_logits(&f32_model, &input);
        worst_f32 = worst_f32.max(max_abs_diff(&got, &expected));
        let q8 = last_logits(&q8_model, &input);
        q8_vs_twin = q8_vs_twin.max(max_abs_diff(&q8, &expected));
    }
    for prompt in file_entry(&f, "q8_0")["prompts"].as_array().unwrap() {
        let input = ids(&prompt["input_ids"]);
        let got = last_logits(&q8_model, &input);
        worst_q8 = worst_q8.max(max_abs_diff(&got, &floats(&prompt["last_logits"])));
    }
    println!(
        "{family}: F32 GGUF vs safetensors max |Δlogit| {worst_f32:.2e}; Q8_0 vs transformers on the same file {worst_q8:.2e}; Q8_0 vs safetensors {q8_vs_twin:.3}"
    );
    // Llama's precomputed RoPE factors (base / factor) round differently from the llama3
    // formula; every other family must be bit-identical.
    let f32_tolerance = if family == "llama" { 1e-5 } else { 0.0 };
    assert!(
        worst_f32 <= f32_tolerance,
        "{family}: F32 GGUF differs by {worst_f32}"
    );
    assert!(
        worst_q8 <= 1e-4,
        "{family}: Q8_0 differs from transformers by {worst_q8}"
    );

    // The tokenizer from the file encodes as the folder's tokenizer.json.
    let reference = Tokenizer::from_file(&tiny_model_dir(family).join("tokenizer.json")).unwrap();
    for case in f["tokenizer_check"]["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ours = f32_model.tokenizer.encode(text, false).unwrap().ids;
        assert_eq!(ours, ids(&case["reference_ids"]), "{family}: {text:?}");
        assert_eq!(
            ours,
            reference.encode(text, false).unwrap().ids,
            "{family}: {text:?}"
        );
        let with_special = f32_model.tokenizer.encode(text, true).unwrap().ids;
        assert_eq!(
            with_special,
            reference.encode(text, true).unwrap().ids,
            "{family} (with special tokens): {text:?}"
        );
    }
    // Chat template, stop ids and special ids as the folder's.
    let folder = LoadedModel::load(&ModelSpec {
        model: ModelRef::Local(tiny_model_dir(family)),
        device: DeviceChoice::Cpu,
        dtype: DTypeChoice::F32,
        chat: ChatMode::Auto,
    })
    .unwrap();
    assert_eq!(f32_model.is_chat(), folder.is_chat(), "{family}");
    if let (Some(a), Some(b)) = (&f32_model.chat_template, &folder.chat_template) {
        let turn_a = a.render_user_turn("Question?", None).unwrap();
        let turn_b = b.render_user_turn("Question?", None).unwrap();
        assert_eq!(turn_a.text, turn_b.text, "{family}");
    }
    // GGUF keeps one EOS id (generation_config.json's list is not in the file); with the
    // template's end-of-turn markers the file's stop ids are a subset of the folder's.
    assert!(
        f32_model.stop_ids.is_subset(&folder.stop_ids) && !f32_model.stop_ids.is_empty(),
        "{family}: {:?} vs {:?}",
        f32_model.stop_ids,
        folder.stop_ids
    );
    assert_eq!(f32_model.special.bos, folder.special.bos, "{family}");
    let summary = f32_model.gguf.as_ref().unwrap();
    assert_eq!(summary.file, format!("tiny-{family}.f32.gguf"));
    assert!(q8_model.gguf.as_ref().unwrap().types.contains_key("Q8_0"));
}

#[test]
fn llama_gguf_matches_its_safetensors_twin() {
    check_family("llama");
}

#[test]
fn qwen2_gguf_matches_its_safetensors_twin() {
    check_family("qwen2");
}

#[test]
fn mistral_gguf_matches_its_safetensors_twin() {
    check_family("mistral");
}

#[test]
fn gemma2_gguf_matches_its_safetensors_twin() {
    check_family("gemma2");
}

#[test]
fn every_family_has_gguf_files() {
    for family in FAMILIES {
        for kind in ["f32", "q8_0"] {
            assert!(gguf_path(family, kind).is_file(), "{family} {kind}");
        }
    }
}

#[test]
fn sentencepiece_vocabulary_encodes_as_sentencepiece() {
    let f = fixture("spm-tokenizer");
    let gguf = GgufModel::open(&repo_path(
        "tests/fixtures/models/gguf/tiny-spm-tokenizer.gguf",
    ))
    .unwrap();
    let tok = gguf.tokenizer().unwrap();
    let mut checked = 0;
    for case in f["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        // sentencepiece reads "<s>" as text; llama.cpp and transformers as the control token.
        if text.contains("<s>") {
            continue;
        }
        let ours = tok.encode(text, false).unwrap().ids;
        assert_eq!(ours, ids(&case["sentencepiece_ids"]), "{text:?}");
        let decoded = tok.inner().decode(&ours, true).unwrap();
        assert_eq!(
            decoded,
            case["sentencepiece_decoded"].as_str().unwrap(),
            "{text:?}"
        );
        checked += 1;
    }
    for case in f["with_bos"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        if text.contains("<s>") {
            continue;
        }
        assert_eq!(
            tok.encode(text, true).unwrap().ids,
            ids(&case["sentencepiece_ids"]),
            "{text:?}"
        );
    }
    assert!(checked >= 14, "only {checked} cases");
    // The file is a model too: its logits as transformers computes them.
    let model = load(
        repo_path("tests/fixtures/models/gguf/tiny-spm-tokenizer.gguf"),
        ChatMode::Off,
    );
    let check = &f["model_check"];
    let got = last_logits(&model, &ids(&check["input_ids"]));
    let diff = max_abs_diff(&got, &floats(&check["last_logits"]));
    assert!(diff <= 1e-4, "SPM model logits differ by {diff}");
}

#[test]
fn bad_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"not a gguf file at all").unwrap();
    let err = format!("{:#}", GgufModel::open(&bad).err().unwrap());
    assert!(
        err.contains("bad.gguf") && err.contains("not a readable GGUF file"),
        "{err}"
    );
    // A tensor type candle does not know (IQ2_XXS = 16): patch the first tensor's type id.
    let mut bytes = std::fs::read(gguf_path("qwen2", "f32")).unwrap();
    let name = b"token_embd.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    // name, n_dims (u32), dims (u64 each), then the type (u32).
    let n_dims = u32::from_le_bytes(
        bytes[at + name.len()..at + name.len() + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    let type_at = at + name.len() + 4 + 8 * n_dims;
    bytes[type_at..type_at + 4].copy_from_slice(&16u32.to_le_bytes());
    let iq = dir.path().join("iq.gguf");
    std::fs::write(&iq, &bytes).unwrap();
    let err = format!("{:#}", GgufModel::open(&iq).err().unwrap());
    assert!(err.contains("IQ2_XXS") && err.contains("Q4_K"), "{err}");
}

/// `trace`, `generate` and `eval` run the GGUF file end to end, and say what it is.
#[test]
fn commands_run_a_gguf_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = gguf_path("qwen2", "q8_0");
    let data = repo_path("tests/fixtures/xquad-mini");
    let out = dir.path().join("t.json");
    common::bin()
        .arg("trace")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .args([
            "--sample",
            "0",
            "--scenario",
            "en-x",
            "--lang",
            "de",
            "--no-oracle",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["model"]["gguf"]["file"], "tiny-qwen2.q8_0.gguf");
    assert_eq!(v["model"]["gguf"]["types"]["Q8_0"], 29);
    assert!(v["relevance"].is_object(), "{}", v["relevance"]);
    let generated = common::bin()
        .arg("generate")
        .arg("--model")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&generated.get_output().stdout).to_string();
    assert!(
        text.contains("tiny-qwen2.q8_0.gguf") && text.contains("F1"),
        "{text}"
    );
    let results = dir.path().join("r.jsonl");
    common::bin()
        .arg("eval")
        .arg("--models")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .args([
            "--samples",
            "2",
            "--scenarios",
            "en-en",
            "--shots",
            "0",
            "--out",
        ])
        .arg(&results)
        .assert()
        .success();
    let lines = std::fs::read_to_string(&results).unwrap();
    // Two unit lines, each naming the file in its model identity.
    let units: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("answer").is_some())
        .collect();
    assert_eq!(units.len(), 2, "{lines}");
    assert!(units
        .iter()
        .all(|u| u["model"]["gguf"]["file"] == "tiny-qwen2.q8_0.gguf"));
}

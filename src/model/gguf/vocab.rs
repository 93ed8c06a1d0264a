//! The tokenizer of a GGUF file (`tokenizer.ggml.*`), rebuilt as a Hugging Face
//! `tokenizers` pipeline:
//!
//! - `gpt2`: byte-level BPE with the file's merges; the pre-tokenizer follows
//!   `tokenizer.ggml.pre` as llama.cpp does (`gpt-2`, `llama-bpe`, `qwen2`, `smollm` and the
//!   types that share their rules);
//! - `llama`: the SentencePiece BPE vocabulary of Llama-2, Mistral and Gemma files: pieces
//!   with scores, merges derived from the scores (the higher the merged piece's score, the
//!   earlier the merge, as SentencePiece picks them), byte fallback (`<0xNN>`), and the space
//!   prefix (`tokenizer.ggml.add_space_prefix`) after every special token, as llama.cpp adds it.
//!
//! Control (type 3) and user-defined (type 4) tokens, and every declared special id, are
//! added tokens, so chat markup such as `<|im_start|>` encodes as one id.

use super::metadata::Metadata;
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

/// `tokenizer.ggml.token_type` values.
const NORMAL: i64 = 1;
const UNKNOWN: i64 = 2;
const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

/// The GPT-2 split rule (also the default of the ByteLevel pre-tokenizer).
const GPT2_REGEX: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Llama-3's split rule (llama.cpp `llama-bpe`).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's split rule: Llama-3's with single digits.
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The `tokenizer.ggml.pre` values and the rule family each uses.
const PRE_TYPES: [(&str, PreRule); 9] = [
    ("gpt-2", PreRule::Gpt2),
    ("gpt2", PreRule::Gpt2),
    ("llama-bpe", PreRule::Llama3),
    ("llama3", PreRule::Llama3),
    ("qwen2", PreRule::Qwen2),
    ("deepseek-r1-qwen", PreRule::Qwen2),
    ("smollm", PreRule::DigitsThenGpt2),
    ("starcoder", PreRule::DigitsThenGpt2),
    ("refact", PreRule::DigitsThenGpt2),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreRule {
    /// GPT-2's regex in the byte-level pre-tokenizer.
    Gpt2,
    /// Llama-3's regex, then byte-level without a regex.
    Llama3,
    /// NFC, Qwen2's regex, then byte-level without a regex.
    Qwen2,
    /// Every digit alone, then GPT-2's regex (llama.cpp: `\p{N}` then the GPT-2 rule).
    DigitsThenGpt2,
}

/// The supported pre-tokenizer names, for messages.
pub fn supported_pre_types() -> String {
    PRE_TYPES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The special ids a GGUF file declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GgufSpecial {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// End of turn / end of message (`tokenizer.ggml.eot_token_id`, `eom_token_id`).
    pub end_of_turn: Vec<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
}

impl GgufSpecial {
    pub fn read(meta: &Metadata) -> Result<Self> {
        let id = |key: &str| meta.u32(&format!("tokenizer.ggml.{key}"));
        let mut end_of_turn = Vec::new();
        for key in ["eot_token_id", "eom_token_id"] {
            if let Some(v) = id(key)? {
                end_of_turn.push(v);
            }
        }
        Ok(Self {
            bos: id("bos_token_id")?,
            eos: id("eos_token_id")?,
            end_of_turn,
            unk: id("unknown_token_id")?,
            pad: id("padding_token_id")?,
        })
    }

    fn all(&self) -> impl Iterator<Item = u32> + '_ {
        [self.bos, self.eos, self.unk, self.pad]
            .into_iter()
            .flatten()
            .chain(self.end_of_turn.iter().copied())
    }
}

/// The tokenizer.json (as a JSON value) of the file's vocabulary.
pub fn tokenizer_json(meta: &Metadata) -> Result<Value> {
    let model = meta.required_string("tokenizer.ggml.model")?;
    let tokens = meta
        .strings("tokenizer.ggml.tokens")?
        .context("GGUF key tokenizer.ggml.tokens is missing")?;
    if tokens.is_empty() {
        bail!("GGUF key tokenizer.ggml.tokens is empty");
    }
    let types = meta.ints("tokenizer.ggml.token_type")?;
    if let Some(types) = &types {
        if types.len() != tokens.len() {
            bail!(
                "tokenizer.ggml.token_type has {} entries for {} tokens",
                types.len(),
                tokens.len()
            );
        }
    }
    let special = GgufSpecial::read(meta)?;
    for id in special.all() {
        if id as usize >= tokens.len() {
            bail!(
                "a special token id ({id}) is outside the vocabulary of {} tokens",
                tokens.len()
            );
        }
    }
    let added = added_tokens(&tokens, types.as_deref(), &special);
    match model {
        "gpt2" => byte_level_bpe(meta, &tokens, added, &special),
        "llama" => sentencepiece_bpe(meta, &tokens, types.as_deref(), added, &special),
        other => bail!(
            "GGUF tokenizer model '{other}' is not supported; supported: gpt2 (byte-level BPE), llama (SentencePiece)"
        ),
    }
}

/// Control and user-defined tokens, plus every declared special id.
fn added_tokens(tokens: &[&str], types: Option<&[i64]>, special: &GgufSpecial) -> Vec<Value> {
    let declared: BTreeSet<u32> = special.all().collect();
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        let ty = types.map_or(NORMAL, |t| t[id]);
        let is_declared = declared.contains(&(id as u32));
        if !(ty == CONTROL || ty == USER_DEFINED || ty == UNKNOWN || is_declared) {
            continue;
        }
        let is_special = ty != USER_DEFINED || is_declared;
        added.push(json!({
            "id": id, "content": token, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": !is_special, "special": is_special,
        }));
    }
    added
}

fn vocab_map(tokens: &[&str]) -> Map<String, Value> {
    let mut vocab = Map::new();
    for (id, token) in tokens.iter().enumerate() {
        // A duplicated piece keeps its first id (later ones are unreachable by encoding).
        vocab.entry(token.to_string()).or_insert(json!(id));
    }
    vocab
}

/// Adds BOS in front of a single sequence when the file asks for it.
fn post_processor(add_bos: bool, bos: Option<(u32, &str)>, byte_level: bool) -> Value {
    let byte = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true});
    let template = bos.filter(|_| add_bos).map(|(id, token)| {
        json!({
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": token, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {token: {"id": token, "ids": [id], "tokens": [token]}},
        })
    });
    match (byte_level, template) {
        (true, Some(t)) => json!({"type": "Sequence", "processors": [byte, t]}),
        (true, None) => byte,
        (false, Some(t)) => t,
        (false, None) => Value::Null,
    }
}

fn byte_level_bpe(
    meta: &Metadata,
    tokens: &[&str],
    added: Vec<Value>,
    special: &GgufSpecial,
) -> Result<Value> {
    let pre = meta.string("tokenizer.ggml.pre")?.unwrap_or("gpt-2");
    let rule = PRE_TYPES
        .iter()
        .find(|(name, _)| *name == pre)
        .map(|(_, rule)| *rule)
        .with_context(|| {
            format!(
                "GGUF pre-tokenizer type '{pre}' (tokenizer.ggml.pre) is not supported; supported: {}",
                supported_pre_types()
            )
        })?;
    let merges = meta
        .strings("tokenizer.ggml.merges")?
        .context("GGUF key tokenizer.ggml.merges is missing (a gpt2 tokenizer needs its merges)")?;
    let split = |regex: &str| json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false});
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    let (normalizer, pre_tokenizer) = match rule {
        PreRule::Gpt2 => (Value::Null, byte_level(true)),
        PreRule::Llama3 => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level(false)]}),
        ),
        PreRule::Qwen2 => (
            json!({"type": "NFC"}),
            json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level(false)]}),
        ),
        PreRule::DigitsThenGpt2 => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Digits", "individual_digits": true}, split(GPT2_REGEX), byte_level(false)]}),
        ),
    };
    let add_bos = meta.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false);
    let bos = special.bos.map(|id| (id, tokens[id as usize]));
    Ok(document(Document {
        added,
        normalizer,
        pre_tokenizer,
        post_processor: post_processor(add_bos, bos, true),
        decoder: json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}),
        model: json!({
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": rule == PreRule::Llama3,
            "vocab": vocab_map(tokens), "merges": merges,
        }),
    }))
}

/// The parts of a tokenizer.json that differ between vocabulary kinds.
struct Document {
    added: Vec<Value>,
    normalizer: Value,
    pre_tokenizer: Value,
    post_processor: Value,
    decoder: Value,
    model: Value,
}

fn document(d: Document) -> Value {
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": d.added,
        "normalizer": d.normalizer,
        "pre_tokenizer": d.pre_tokenizer,
        "post_processor": d.post_processor,
        "decoder": d.decoder,
        "model": d.model,
    })
}

fn sentencepiece_bpe(
    meta: &Metadata,
    tokens: &[&str],
    types: Option<&[i64]>,
    added: Vec<Value>,
    special: &GgufSpecial,
) -> Result<Value> {
    let scores = meta.floats("tokenizer.ggml.scores")?.context(
        "GGUF key tokenizer.ggml.scores is missing (a SentencePiece vocabulary needs its scores)",
    )?;
    if scores.len() != tokens.len() {
        bail!(
            "tokenizer.ggml.scores has {} entries for {} tokens",
            scores.len(),
            tokens.len()
        );
    }
    let merges = match meta.strings("tokenizer.ggml.merges")? {
        Some(m) => m.into_iter().map(str::to_string).collect(),
        None => merges_from_scores(tokens, types, &scores),
    };
    let space_prefix = meta
        .bool("tokenizer.ggml.add_space_prefix")?
        .unwrap_or(true);
    let add_bos = meta.bool("tokenizer.ggml.add_bos_token")?.unwrap_or(true);
    let unk = special
        .unk
        .map(|id| tokens[id as usize])
        .or_else(|| tokens.iter().copied().find(|t| *t == "<unk>"));
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": "\u{2581}"});
    let normalizer = if space_prefix {
        json!({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u{2581}"}, replace]})
    } else {
        replace
    };
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "\u{2581}"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if space_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    let bos = special.bos.map(|id| (id, tokens[id as usize]));
    Ok(document(Document {
        added,
        normalizer,
        pre_tokenizer: Value::Null,
        post_processor: post_processor(add_bos, bos, false),
        decoder: json!({"type": "Sequence", "decoders": decoders}),
        model: json!({
            "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
            "ignore_merges": false, "vocab": vocab_map(tokens), "merges": merges,
        }),
    }))
}

/// SentencePiece BPE merges from piece scores: every split of a normal piece into two
/// pieces of the vocabulary is a merge, ranked by the merged piece's score (highest first),
/// ties by the merged piece's id, then by the left piece's id.
pub fn merges_from_scores(tokens: &[&str], types: Option<&[i64]>, scores: &[f32]) -> Vec<String> {
    let ids: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| (*t, i))
        .collect();
    let mut merges: Vec<(f32, usize, usize, String)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        let ty = types.map_or(NORMAL, |t| t[id]);
        if ty != NORMAL && ty != USER_DEFINED {
            continue;
        }
        let cuts: Vec<usize> = piece.char_indices().map(|(i, _)| i).skip(1).collect();
        for cut in cuts {
            let (left, right) = piece.split_at(cut);
            if let (Some(&l), Some(_)) = (ids.get(left), ids.get(right)) {
                merges.push((scores[id], id, l, format!("{left} {right}")));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    merges.into_iter().map(|m| m.3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::gguf_file::Value as G;

    fn strings(items: &[&str]) -> G {
        G::Array(items.iter().map(|s| G::String(s.to_string())).collect())
    }

    fn build(meta: HashMap<String, G>) -> tokenizers::Tokenizer {
        let json = tokenizer_json(&Metadata::new(&meta)).unwrap();
        tokenizers::Tokenizer::from_bytes(json.to_string().as_bytes()).unwrap()
    }

    fn ids(tok: &tokenizers::Tokenizer, text: &str) -> Vec<u32> {
        tok.encode(text, false).unwrap().get_ids().to_vec()
    }

    #[test]
    fn sentencepiece_merges_follow_scores() {
        let tokens = [
            "<unk>",
            "<s>",
            "</s>",
            "\u{2581}",
            "a",
            "b",
            "ab",
            "\u{2581}ab",
            "<0x0A>",
        ];
        let types = [2i64, 3, 3, 1, 1, 1, 1, 1, 6];
        let scores = [0.0f32, 0.0, 0.0, -3.0, -4.0, -4.0, -1.0, -0.5, 0.0];
        let merges = merges_from_scores(&tokens, Some(&types), &scores);
        assert_eq!(merges, ["\u{2581} ab", "a b"]);
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".into(), G::String("llama".into()));
        m.insert("tokenizer.ggml.tokens".into(), strings(&tokens));
        m.insert(
            "tokenizer.ggml.token_type".into(),
            G::Array(types.iter().map(|t| G::I32(*t as i32)).collect()),
        );
        m.insert(
            "tokenizer.ggml.scores".into(),
            G::Array(scores.iter().map(|s| G::F32(*s)).collect()),
        );
        m.insert("tokenizer.ggml.bos_token_id".into(), G::U32(1));
        m.insert("tokenizer.ggml.eos_token_id".into(), G::U32(2));
        m.insert("tokenizer.ggml.unknown_token_id".into(), G::U32(0));
        let tok = build(m);
        // The space prefix, the merges, and byte fallback for the line break.
        assert_eq!(ids(&tok, "ab"), [7]);
        assert_eq!(ids(&tok, "ab\n"), [7, 8]);
        assert_eq!(ids(&tok, "ba"), [3, 5, 4]);
        // Special tokens are single ids, and the space prefix follows them (llama.cpp).
        assert_eq!(ids(&tok, "</s>ab"), [2, 7]);
        assert_eq!(tok.encode("ab", true).unwrap().get_ids(), [1, 7]);
        assert_eq!(tok.decode(&[7, 8], false).unwrap(), "ab\n");
    }

    fn gpt2_meta(pre: &str) -> HashMap<String, G> {
        // Byte-level pieces: 'Ġ' is the space byte.
        let tokens = [
            "<|im_start|>",
            "1",
            "2",
            "3",
            "Ġ",
            "a",
            "b",
            "ab",
            "Ġab",
            "12",
            "123",
            "Ġ1",
        ];
        let mut types = vec![G::I32(1); tokens.len()];
        types[0] = G::I32(3);
        let mut m = HashMap::new();
        m.insert("tokenizer.ggml.model".into(), G::String("gpt2".into()));
        m.insert("tokenizer.ggml.pre".into(), G::String(pre.into()));
        m.insert("tokenizer.ggml.tokens".into(), strings(&tokens));
        m.insert("tokenizer.ggml.token_type".into(), G::Array(types));
        m.insert(
            "tokenizer.ggml.merges".into(),
            strings(&["a b", "Ġ ab", "1 2", "12 3", "Ġ 1"]),
        );
        m
    }

    #[test]
    fn byte_level_pre_types_split_digits_as_llama_cpp() {
        // GPT-2 keeps digit runs together; smollm splits every digit; llama-bpe groups by 3.
        assert_eq!(ids(&build(gpt2_meta("gpt-2")), "123 ab"), [10, 8]);
        assert_eq!(ids(&build(gpt2_meta("smollm")), "123 ab"), [1, 2, 3, 8]);
        assert_eq!(ids(&build(gpt2_meta("llama-bpe")), "1231"), [10, 1]);
        assert_eq!(ids(&build(gpt2_meta("qwen2")), "123"), [1, 2, 3]);
        assert_eq!(ids(&build(gpt2_meta("gpt-2")), "<|im_start|>ab"), [0, 7]);
        let mut m = gpt2_meta("gpt-2");
        m.insert("tokenizer.ggml.pre".into(), G::String("tekken".into()));
        let err = tokenizer_json(&Metadata::new(&m)).unwrap_err().to_string();
        assert!(err.contains("'tekken'") && err.contains("smollm"), "{err}");
        let mut m = gpt2_meta("gpt-2");
        m.insert("tokenizer.ggml.model".into(), G::String("bert".into()));
        let err = tokenizer_json(&Metadata::new(&m)).unwrap_err().to_string();
        assert!(err.contains("'bert' is not supported"), "{err}");
    }
}

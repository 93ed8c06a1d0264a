//! Synthetic tokenizers: a GPT-2/Qwen-style byte-level BPE trained here on a small
//! multilingual corpus, written out as four chat-model families ship their tokenizer files.
//!
//! Tests, tiny random-weight models and the offline demo use them instead of real downloads.

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Map, Value};
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::sequence::Sequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// Qwen2's pre-tokenizer split (tokenizer.json of Qwen2.5; transformers' `Qwen2Tokenizer`
/// rebuilds exactly this, so the synthetic file must carry it to tokenize as HF does).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama-3's split: as Qwen2's, but digits in runs of up to three.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Vocabulary size of the synthetic family tokenizers: large enough for whole words of the
/// scaffolding, small enough that rare characters still split into bytes.
pub const SYNTH_VOCAB_SIZE: usize = 1500;

/// Short sentences in the 12 XQuAD languages plus the English prompt scaffolding, written for
/// this project.
pub fn multilingual_corpus() -> &'static str {
    include_str!("../../assets/synth/corpus.txt")
}

/// Trains a byte-level BPE (ByteLevel pre-tokenizer without prefix space, full byte alphabet,
/// ByteLevel decoder) on `corpus`, one line at a time. `specials` get the first ids, in order.
/// The same input always gives the same tokenizer.
pub fn train_byte_level_bpe(
    corpus: &str,
    vocab_size: usize,
    specials: &[&str],
) -> Result<Tokenizer> {
    let byte_level = ByteLevel::new(false, true, true);
    let trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(0)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(
            specials
                .iter()
                .map(|s| AddedToken::from(*s, true))
                .collect(),
        )
        .build();
    let mut trainer = TrainerWrapper::from(trainer);
    let mut tokenizer = Tokenizer::new(BPE::default());
    tokenizer
        .with_pre_tokenizer(Some(byte_level))
        .with_decoder(Some(byte_level));
    // Each line ends in a paragraph break, as prompt parts do, so "\n\n" becomes one token.
    let lines = corpus.lines().map(|line| format!("{line}\n\n"));
    tokenizer
        .train(&mut trainer, lines)
        .map_err(|e| anyhow!("training the byte-level BPE failed: {e}"))?;
    Ok(tokenizer)
}

/// The chat-model families whose tokenizer files can be synthesised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatFamily {
    /// ChatML, as Qwen2.5-Instruct.
    ChatMl,
    /// Llama-3.1-Instruct.
    Llama3,
    /// Gemma-2-it.
    Gemma2,
    /// Mistral-7B-Instruct-v0.3.
    Mistral,
}

impl ChatFamily {
    pub const ALL: [ChatFamily; 4] = [
        ChatFamily::ChatMl,
        ChatFamily::Llama3,
        ChatFamily::Gemma2,
        ChatFamily::Mistral,
    ];

    /// Short lowercase name, used for fixture folders and template files.
    pub fn name(self) -> &'static str {
        match self {
            ChatFamily::ChatMl => "chatml",
            ChatFamily::Llama3 => "llama3",
            ChatFamily::Gemma2 => "gemma2",
            ChatFamily::Mistral => "mistral",
        }
    }

    /// The family's special tokens, in id order (ids 0, 1, ...).
    pub fn special_tokens(self) -> &'static [&'static str] {
        match self {
            ChatFamily::ChatMl => &["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
            ChatFamily::Llama3 => &[
                "<|begin_of_text|>",
                "<|end_of_text|>",
                "<|start_header_id|>",
                "<|end_header_id|>",
                "<|eom_id|>",
                "<|eot_id|>",
                "<|python_tag|>",
            ],
            ChatFamily::Gemma2 => &[
                "<pad>",
                "<eos>",
                "<bos>",
                "<unk>",
                "<start_of_turn>",
                "<end_of_turn>",
            ],
            ChatFamily::Mistral => &["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
        }
    }

    /// The BOS token the post-processor prepends, if the family has one.
    pub fn bos(self) -> Option<&'static str> {
        match self {
            ChatFamily::ChatMl => None,
            ChatFamily::Llama3 => Some("<|begin_of_text|>"),
            ChatFamily::Gemma2 => Some("<bos>"),
            ChatFamily::Mistral => Some("<s>"),
        }
    }

    /// The chat template, written to behave like the family's real one.
    pub fn chat_template(self) -> &'static str {
        match self {
            ChatFamily::ChatMl => include_str!("../../assets/synth/templates/chatml.jinja"),
            ChatFamily::Llama3 => include_str!("../../assets/synth/templates/llama3.jinja"),
            ChatFamily::Gemma2 => include_str!("../../assets/synth/templates/gemma2.jinja"),
            ChatFamily::Mistral => include_str!("../../assets/synth/templates/mistral.jinja"),
        }
    }

    /// `tokenizer_config.json` keys shaped like the real file's (special tokens, class, length).
    fn config_fields(self) -> Value {
        match self {
            ChatFamily::ChatMl => json!({
                "add_bos_token": false,
                "add_prefix_space": false,
                "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
                "bos_token": null,
                "clean_up_tokenization_spaces": false,
                "eos_token": "<|im_end|>",
                "errors": "replace",
                "model_max_length": 131072,
                "pad_token": "<|endoftext|>",
                "split_special_tokens": false,
                "tokenizer_class": "Qwen2Tokenizer",
                "unk_token": null
            }),
            ChatFamily::Llama3 => json!({
                "bos_token": "<|begin_of_text|>",
                "clean_up_tokenization_spaces": true,
                "eos_token": "<|eot_id|>",
                "model_input_names": ["input_ids", "attention_mask"],
                "model_max_length": 131072,
                "tokenizer_class": "PreTrainedTokenizerFast"
            }),
            // The real Gemma/Mistral files name SentencePiece classes; this tokenizer is
            // byte-level BPE, so it is loaded as the generic fast tokenizer, which takes
            // tokenizer.json (with its BOS post-processor) as it is.
            ChatFamily::Gemma2 => json!({
                "add_bos_token": true,
                "add_eos_token": false,
                "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
                "bos_token": "<bos>",
                "clean_up_tokenization_spaces": false,
                "eos_token": "<eos>",
                "model_max_length": 8192,
                "pad_token": "<pad>",
                "spaces_between_special_tokens": false,
                "tokenizer_class": "PreTrainedTokenizerFast",
                "unk_token": "<unk>"
            }),
            ChatFamily::Mistral => json!({
                "add_bos_token": true,
                "add_eos_token": false,
                "bos_token": "<s>",
                "clean_up_tokenization_spaces": false,
                "eos_token": "</s>",
                "model_max_length": 32768,
                "pad_token": null,
                "tokenizer_class": "PreTrainedTokenizerFast",
                "unk_token": "<unk>"
            }),
        }
    }
}

/// The family's tokenizer: the synthetic BPE with its specials and post-processor.
pub fn family_tokenizer(family: ChatFamily) -> Result<Tokenizer> {
    let mut tokenizer = train_byte_level_bpe(
        multilingual_corpus(),
        SYNTH_VOCAB_SIZE,
        family.special_tokens(),
    )?;
    // Qwen2 and Llama-3 split with their own regex before the byte mapping (and Qwen2
    // NFC-normalises); GPT-2's built-in split stays for the SentencePiece families' stand-ins.
    let split = match family {
        ChatFamily::ChatMl => Some(QWEN2_SPLIT),
        ChatFamily::Llama3 => Some(LLAMA3_SPLIT),
        ChatFamily::Gemma2 | ChatFamily::Mistral => None,
    };
    if let Some(pattern) = split {
        let split = Split::new(
            SplitPattern::Regex(pattern.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| anyhow!("bad pre-tokenizer regex for {}: {e}", family.name()))?;
        let bytes = ByteLevel::new(false, family == ChatFamily::Llama3, false);
        let pre: Vec<PreTokenizerWrapper> = vec![split.into(), bytes.into()];
        tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(pre)));
    }
    if family == ChatFamily::ChatMl {
        tokenizer.with_normalizer(Some(NFC));
    }
    // Offsets are not trimmed, as in Qwen2's and Llama-3's tokenizer.json.
    let byte_level = ByteLevel::new(false, false, true);
    let processor: PostProcessorWrapper = match family.bos() {
        None => byte_level.into(),
        Some(bos) => {
            let id = tokenizer
                .token_to_id(bos)
                .ok_or_else(|| anyhow!("{bos} is missing from the trained vocabulary"))?;
            let template = TemplateProcessing::builder()
                .try_single(format!("{bos} $A"))
                .and_then(|b| b.try_pair(format!("{bos} $A {bos}:1 $B:1")))
                .map_err(|e| anyhow!("bad post-processor template: {e}"))?
                .special_tokens(vec![(bos.to_string(), id)])
                .build()
                .map_err(|e| anyhow!("bad post-processor for {bos}: {e}"))?;
            match family {
                // Llama-3 runs ByteLevel then the BOS template.
                ChatFamily::Llama3 => {
                    Sequence::new(vec![byte_level.into(), template.into()]).into()
                }
                _ => template.into(),
            }
        }
    };
    tokenizer.with_post_processor(Some(processor));
    Ok(tokenizer)
}

/// The family's `tokenizer_config.json`, with `chat_template` when asked.
pub fn tokenizer_config(
    tokenizer: &Tokenizer,
    family: ChatFamily,
    with_chat_template: bool,
) -> Result<Value> {
    let mut config = Map::new();
    let mut decoder = Map::new();
    for token in family.special_tokens() {
        let id = tokenizer
            .token_to_id(token)
            .ok_or_else(|| anyhow!("{token} is missing from the trained vocabulary"))?;
        decoder.insert(
            id.to_string(),
            json!({
                "content": token,
                "lstrip": false,
                "normalized": false,
                "rstrip": false,
                "single_word": false,
                "special": true
            }),
        );
    }
    config.insert("added_tokens_decoder".into(), Value::Object(decoder));
    if let Value::Object(fields) = family.config_fields() {
        config.extend(fields);
    }
    if with_chat_template {
        config.insert("chat_template".into(), json!(family.chat_template()));
    }
    Ok(Value::Object(config))
}

/// Writes `tokenizer.json` and `tokenizer_config.json` (with `chat_template` when asked) for
/// `family` into `dir`, creating it.
pub fn write_tokenizer_files(
    dir: &Path,
    family: ChatFamily,
    with_chat_template: bool,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the tokenizer folder", dir.display()))?;
    let tokenizer = family_tokenizer(family)?;
    let tokenizer_path = dir.join("tokenizer.json");
    let json = tokenizer
        .to_string(true)
        .map_err(|e| anyhow!("cannot serialise the {} tokenizer: {e}", family.name()))?;
    std::fs::write(&tokenizer_path, json + "\n")
        .with_context(|| format!("{}: cannot write", tokenizer_path.display()))?;

    let config = tokenizer_config(&tokenizer, family, with_chat_template)?;
    let config_path = dir.join("tokenizer_config.json");
    let text = serde_json::to_string_pretty(&config)?;
    std::fs::write(&config_path, text + "\n")
        .with_context(|| format!("{}: cannot write", config_path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::tokenizer::Tokenizer as Wrapper;

    fn wrapper(family: ChatFamily) -> Wrapper {
        Wrapper::from_inner(family_tokenizer(family).unwrap())
    }

    #[test]
    fn training_is_deterministic_and_round_trips() {
        let a = train_byte_level_bpe(multilingual_corpus(), 800, &["<s>"]).unwrap();
        let b = train_byte_level_bpe(multilingual_corpus(), 800, &["<s>"]).unwrap();
        assert_eq!(a.to_string(false).unwrap(), b.to_string(false).unwrap());
        assert_eq!(a.get_vocab_size(true), 800);
        assert_eq!(a.token_to_id("<s>"), Some(0));
        let text = "Context: 图书馆 ห้องสมุด Ärztin\n\nQuestion: ¿Dónde?";
        let enc = a.encode(text, false).unwrap();
        assert_eq!(a.decode(enc.get_ids(), false).unwrap(), text);
    }

    #[test]
    fn corpus_covers_every_xquad_script() {
        let corpus = multilingual_corpus();
        for probe in [
            "Question:",
            "Context:",
            "Answer:",
            "Below is a reading comprehension task",
        ] {
            assert!(corpus.contains(probe), "{probe}");
        }
        // One distinctive letter per language: de es vi zh hi ar el ro ru th tr.
        for probe in ['ß', 'ñ', 'ư', '的', 'क', 'ع', 'λ', 'ț', 'ы', 'ก', 'ğ'] {
            assert!(corpus.contains(probe), "{probe}");
        }
        assert!(corpus.lines().count() >= 250);
    }

    #[test]
    fn bos_families_prepend_bos_once() {
        for family in ChatFamily::ALL {
            let tok = wrapper(family);
            let enc = tok.encode("Answer: flour", true).unwrap();
            match family.bos() {
                Some(bos) => {
                    assert_eq!(enc.ids[0], tok.token_to_id(bos).unwrap(), "{family:?}");
                    assert!(enc.added_by_template[0]);
                    assert_eq!(enc.added_by_template.iter().filter(|a| **a).count(), 1);
                }
                None => assert!(!enc.added_by_template.iter().any(|a| *a)),
            }
        }
    }

    #[test]
    fn display_piece_marks_spaces_and_split_characters() {
        let tok = wrapper(ChatFamily::ChatMl);
        // A word-initial space is part of the piece (Ġ), shown as ␣.
        let enc = tok.encode("Context: the river", false).unwrap();
        let pieces: Vec<String> = enc.ids.iter().map(|id| tok.display_piece(*id)).collect();
        assert!(pieces.iter().any(|p| p.starts_with('␣')), "{pieces:?}");
        assert_eq!(pieces.concat().replace('␣', " "), "Context: the river");
        // A Chinese character absent from the corpus is split into its UTF-8 bytes.
        let enc = tok.encode("龘", false).unwrap();
        let shown: Vec<String> = enc.ids.iter().map(|id| tok.display_piece(*id)).collect();
        assert!(enc.ids.len() > 1, "{shown:?}");
        assert!(shown.iter().all(|p| p.starts_with("<0x")), "{shown:?}");
        assert!(shown.concat().starts_with("<0xE9>"), "{shown:?}");
        // Specials are shown verbatim.
        let im_end = tok.token_to_id("<|im_end|>").unwrap();
        assert_eq!(tok.display_piece(im_end), "<|im_end|>");
        let nl = tok.encode("\n\n", false).unwrap();
        assert_eq!(nl.ids.len(), 1);
        assert_eq!(tok.display_piece(nl.ids[0]), "↵↵");
    }
}

//! A thin wrapper over the `tokenizers` crate: load `tokenizer.json`, encode with character
//! offsets, and show token pieces readably (byte-level BPE and SentencePiece alike).

use anyhow::{anyhow, Context, Result};
use std::path::Path;

/// Marker shown in place of a space inside a token piece.
pub const SPACE_MARK: char = '␣';
/// Marker shown in place of a line break.
pub const NEWLINE_MARK: char = '↵';
/// Marker shown in place of a tab.
pub const TAB_MARK: char = '⇥';

/// An encoded text: one entry per token, offsets in Unicode code points of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// `[start, end)` in characters; special tokens added by the post-processor get `(0, 0)`.
    pub offsets: Vec<(usize, usize)>,
    /// True for tokens the post-processor added (BOS/EOS), false for tokens of the text.
    pub added_by_template: Vec<bool>,
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// How token pieces map back to text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PieceStyle {
    /// GPT-2 style: every byte is mapped to a printable character (`Ġ` = space).
    ByteLevel,
    /// SentencePiece style: `▁` marks a space, `<0xNN>` byte-fallback pieces.
    Metaspace,
}

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    style: PieceStyle,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("style", &self.style)
            .finish()
    }
}

impl Tokenizer {
    /// Loads a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read the tokenizer file", path.display()))?;
        Self::from_bytes(&bytes)
            .with_context(|| format!("{}: not a valid tokenizer.json", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| anyhow!("{e}"))?;
        Ok(Self::from_inner(inner))
    }

    pub fn from_inner(inner: tokenizers::Tokenizer) -> Self {
        // The decoder (or, failing that, the pre-tokenizer) says how pieces encode text.
        let described = format!(
            "{} {}",
            serde_json::to_string(&inner.get_decoder()).unwrap_or_default(),
            serde_json::to_string(&inner.get_pre_tokenizer()).unwrap_or_default()
        );
        let style = if described.contains("\"ByteLevel\"") {
            PieceStyle::ByteLevel
        } else {
            PieceStyle::Metaspace
        };
        Self { inner, style }
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The raw vocabulary piece (`Ġthe`, `▁the`, `<|im_end|>`).
    pub fn piece(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Encodes `text`. `add_special_tokens` runs the post-processor (BOS for Llama-style
    /// tokenizers); pass `false` for text rendered by a chat template, which already holds
    /// its special tokens, so BOS is never doubled.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Encoded> {
        let enc = self
            .inner
            .encode_char_offsets(text, add_special_tokens)
            .map_err(|e| anyhow!("tokenizer failed on the input: {e}"))?;
        let ids = enc.get_ids().to_vec();
        let offsets = enc.get_offsets().to_vec();
        // Tokens of the text carry a sequence id; those the post-processor added do not.
        let added_by_template = (0..ids.len())
            .map(|i| enc.token_to_sequence(i).is_none())
            .collect();
        Ok(Encoded {
            ids,
            offsets,
            added_by_template,
        })
    }

    /// Decodes ids to text (special tokens kept, as they matter when debugging prompts).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| anyhow!("tokenizer could not decode {} ids: {e}", ids.len()))
    }

    /// Whether `id` is an added/special token such as `<|im_end|>` or `<s>`.
    pub fn is_special(&self, id: u32) -> bool {
        self.inner
            .get_added_vocabulary()
            .get_added_tokens_decoder()
            .get(&id)
            .is_some_and(|t| t.special)
    }

    /// A readable form of one token for display: spaces as `␣`, line breaks as `↵`, tabs as
    /// `⇥`, bytes that are not a whole UTF-8 character as `<0xNN>`. Special tokens verbatim.
    pub fn display_piece(&self, id: u32) -> String {
        let Some(piece) = self.piece(id) else {
            return format!("<unk:{id}>");
        };
        if self.is_special(id) {
            return piece;
        }
        match self.style {
            PieceStyle::ByteLevel => display_bytes(&byte_level_to_bytes(&piece)),
            PieceStyle::Metaspace => display_metaspace(&piece),
        }
    }
}

/// Reverses GPT-2's byte-to-character table; characters outside it are kept as UTF-8.
fn byte_level_to_bytes(piece: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len());
    for ch in piece.chars() {
        match char_to_byte(ch) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// GPT-2's `bytes_to_unicode`, inverted: printable Latin-1 bytes map to themselves, the
/// other 68 bytes to U+0100.. in byte order.
fn char_to_byte(ch: char) -> Option<u8> {
    let c = ch as u32;
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    if printable(c) {
        return u8::try_from(c).ok();
    }
    if (0x100..0x100 + 68).contains(&c) {
        let rank = c - 0x100;
        return (0u32..=255)
            .filter(|b| !printable(*b))
            .nth(rank as usize)
            .and_then(|b| u8::try_from(b).ok());
    }
    None
}

/// Shows valid UTF-8 runs readably and stray bytes as `<0xNN>`.
fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&mark_whitespace(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("<0x{b:02X}>"));
        }
    }
    out
}

fn display_metaspace(piece: &str) -> String {
    // Byte-fallback pieces look like `<0x0A>`.
    if let Some(hex) = piece.strip_prefix("<0x").and_then(|p| p.strip_suffix('>')) {
        if let Ok(b) = u8::from_str_radix(hex, 16) {
            return display_bytes(&[b]);
        }
    }
    mark_whitespace(&piece.replace('▁', " "))
}

fn mark_whitespace(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => SPACE_MARK,
            '\n' => NEWLINE_MARK,
            '\t' => TAB_MARK,
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_inverts_gpt2_examples() {
        assert_eq!(char_to_byte('Ġ'), Some(b' '));
        assert_eq!(char_to_byte('Ċ'), Some(b'\n'));
        assert_eq!(char_to_byte('ĉ'), Some(b'\t'));
        assert_eq!(char_to_byte('A'), Some(b'A'));
        assert_eq!(char_to_byte('Ā'), Some(0));
        // 'Ã¤' is the byte-level spelling of 'ä' (0xC3 0xA4).
        assert_eq!(byte_level_to_bytes("Ã¤"), "ä".as_bytes());
        // Every byte has exactly one character.
        let mut seen = std::collections::HashSet::new();
        for c in (0x21u32..0x200).filter_map(char::from_u32) {
            if let Some(b) = char_to_byte(c) {
                assert!(seen.insert(b), "byte {b} mapped twice");
            }
        }
        assert_eq!(seen.len(), 256);
    }

    #[test]
    fn display_marks_whitespace_and_stray_bytes() {
        assert_eq!(display_bytes(b" the\n"), "␣the↵");
        assert_eq!(display_bytes(&[0xE4, 0xB8]), "<0xE4><0xB8>");
        assert_eq!(display_metaspace("▁Hello"), "␣Hello");
        assert_eq!(display_metaspace("<0x0A>"), "↵");
        assert_eq!(display_metaspace("<0xE4>"), "<0xE4>");
    }
}

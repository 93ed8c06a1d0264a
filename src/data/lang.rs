//! The 12 XQuAD languages and what the rest of the tool needs to know about their scripts.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Writing systems of the XQuAD languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Arabic,
    Devanagari,
    Han,
    Thai,
}

impl Script {
    /// Right-to-left scripts are stored (and shown) in logical order.
    pub fn is_rtl(self) -> bool {
        matches!(self, Script::Arabic)
    }
}

/// One of the 12 XQuAD languages, in the order XQuAD lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    De,
    Es,
    Vi,
    Zh,
    Hi,
    Ar,
    El,
    Ro,
    Ru,
    Th,
    Tr,
}

impl Lang {
    /// All languages, English first.
    pub const ALL: [Lang; 12] = [
        Lang::En,
        Lang::De,
        Lang::Es,
        Lang::Vi,
        Lang::Zh,
        Lang::Hi,
        Lang::Ar,
        Lang::El,
        Lang::Ro,
        Lang::Ru,
        Lang::Th,
        Lang::Tr,
    ];

    /// ISO 639-1 code, as in the XQuAD file names.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Es => "es",
            Lang::Vi => "vi",
            Lang::Zh => "zh",
            Lang::Hi => "hi",
            Lang::Ar => "ar",
            Lang::El => "el",
            Lang::Ro => "ro",
            Lang::Ru => "ru",
            Lang::Th => "th",
            Lang::Tr => "tr",
        }
    }

    /// English name; also the name that replaces "English" in x-x prompts.
    pub fn english_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "German",
            Lang::Es => "Spanish",
            Lang::Vi => "Vietnamese",
            Lang::Zh => "Chinese",
            Lang::Hi => "Hindi",
            Lang::Ar => "Arabic",
            Lang::El => "Greek",
            Lang::Ro => "Romanian",
            Lang::Ru => "Russian",
            Lang::Th => "Thai",
            Lang::Tr => "Turkish",
        }
    }

    /// The language's own name for itself.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::Es => "Español",
            Lang::Vi => "Tiếng Việt",
            Lang::Zh => "中文",
            Lang::Hi => "हिन्दी",
            Lang::Ar => "العربية",
            Lang::El => "Ελληνικά",
            Lang::Ro => "Română",
            Lang::Ru => "Русский",
            Lang::Th => "ไทย",
            Lang::Tr => "Türkçe",
        }
    }

    pub fn script(self) -> Script {
        match self {
            Lang::En | Lang::De | Lang::Es | Lang::Vi | Lang::Ro | Lang::Tr => Script::Latin,
            Lang::Ru => Script::Cyrillic,
            Lang::El => Script::Greek,
            Lang::Ar => Script::Arabic,
            Lang::Hi => Script::Devanagari,
            Lang::Zh => Script::Han,
            Lang::Th => Script::Thai,
        }
    }

    /// Whether the script separates words with spaces (Chinese and Thai do not).
    pub fn spaces_between_words(self) -> bool {
        !matches!(self, Lang::Zh | Lang::Th)
    }

    /// Position in [`Lang::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is not one of the 12.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown language '{given}'; expected one of: {}", known_codes())]
pub struct UnknownLang {
    pub given: String,
}

fn known_codes() -> String {
    Lang::ALL.map(Lang::code).join(", ")
}

impl FromStr for Lang {
    type Err = UnknownLang;

    /// Accepts the code in any case, and the English name ("German").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Lang::ALL
            .into_iter()
            .find(|l| {
                l.code().eq_ignore_ascii_case(wanted)
                    || l.english_name().eq_ignore_ascii_case(wanted)
            })
            .ok_or_else(|| UnknownLang {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, l) in Lang::ALL.into_iter().enumerate() {
            assert_eq!(l.index(), i);
            assert!(seen.insert(l.code()));
            assert_eq!(l.code().parse::<Lang>(), Ok(l));
            assert_eq!(l.english_name().to_uppercase().parse::<Lang>(), Ok(l));
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(json, format!("\"{}\"", l.code()));
        }
    }

    #[test]
    fn unknown_code_lists_the_known_ones() {
        let err = "fr".parse::<Lang>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'fr'"), "{msg}");
        assert!(
            msg.contains("en, de, es, vi, zh, hi, ar, el, ro, ru, th, tr"),
            "{msg}"
        );
    }

    #[test]
    fn scripts_and_spacing() {
        assert_eq!(Lang::Zh.script(), Script::Han);
        assert!(!Lang::Th.spaces_between_words());
        assert!(Lang::Hi.spaces_between_words());
        assert!(Lang::Ar.script().is_rtl());
        assert!(!Lang::Ru.script().is_rtl());
    }
}

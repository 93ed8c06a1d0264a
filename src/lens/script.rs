//! The script of a token's text, and the XQuAD language it implies where only one of the
//! twelve languages writes that script (METHOD.md: the lens's top-k "with their script or
//! language"). Latin is shared by six of them, so a Latin token has no language.

use crate::data::Lang;
use serde::{Deserialize, Serialize};
use unicode_script::{Script, UnicodeScript};

/// A token's script tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptTag {
    /// ISO 15924 code of the script of the token's letters (`Latn`, `Cyrl`, `Hani`...);
    /// `Zyyy` when it has none (digits, punctuation, spaces), `Mixd` when letters of two
    /// scripts meet in one token.
    pub script: String,
    /// The one XQuAD language written in that script (`ru` for Cyrillic, `zh` for Han...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
}

impl ScriptTag {
    /// The tag of a token's text (its readable piece).
    pub fn of(text: &str) -> ScriptTag {
        let mut found: Option<Script> = None;
        for c in text.chars() {
            let s = c.script();
            if matches!(s, Script::Common | Script::Inherited | Script::Unknown) {
                continue;
            }
            match found {
                None => found = Some(s),
                Some(f) if f == s => {}
                Some(_) => {
                    return ScriptTag {
                        script: "Mixd".into(),
                        lang: None,
                    }
                }
            }
        }
        let Some(script) = found else {
            return ScriptTag {
                script: "Zyyy".into(),
                lang: None,
            };
        };
        ScriptTag {
            script: script.short_name().to_string(),
            lang: sole_language(script),
        }
    }

    /// `Latn`, `Cyrl·ru`: the short form panes and tables show.
    pub fn label(&self) -> String {
        match self.lang {
            Some(lang) => format!("{}·{}", self.script, lang.code()),
            None => self.script.clone(),
        }
    }
}

/// The XQuAD language that alone writes `script`.
fn sole_language(script: Script) -> Option<Lang> {
    Some(match script {
        Script::Cyrillic => Lang::Ru,
        Script::Greek => Lang::El,
        Script::Arabic => Lang::Ar,
        Script::Devanagari => Lang::Hi,
        Script::Thai => Lang::Th,
        Script::Han => Lang::Zh,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_their_languages() {
        let tag = |t: &str| ScriptTag::of(t).label();
        assert_eq!(tag(" Kaw"), "Latn");
        assert_eq!(tag("Москва"), "Cyrl·ru");
        assert_eq!(tag(" Αθήνα"), "Grek·el");
        assert_eq!(tag("القاهرة"), "Arab·ar");
        assert_eq!(tag("दिल्ली"), "Deva·hi");
        assert_eq!(tag("กรุง"), "Thai·th");
        assert_eq!(tag("北京"), "Hani·zh");
        assert_eq!(tag(" 1984."), "Zyyy");
        assert_eq!(tag(""), "Zyyy");
        assert_eq!(tag("aб"), "Mixd");
        // A combining mark (Inherited) does not make a Vietnamese token mixed.
        assert_eq!(tag("Việt"), "Latn");
    }
}

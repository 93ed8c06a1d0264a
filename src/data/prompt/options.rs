//! What a prompt is asked to be: scenario, language, shots, format, demo seed, cue, system text.

use crate::data::Lang;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which languages the context, the question and the gold answers are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scenario {
    /// Everything in English.
    #[serde(rename = "en-en")]
    EnEn,
    /// English context and answers, question in language x.
    #[serde(rename = "en-x")]
    EnX,
    /// Everything in language x.
    #[serde(rename = "x-x")]
    XX,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::EnEn, Scenario::EnX, Scenario::XX];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::EnEn => "en-en",
            Scenario::EnX => "en-x",
            Scenario::XX => "x-x",
        }
    }

    /// The languages of one prompt, for language `x` (ignored in en-en).
    pub fn langs(self, x: Lang) -> ScenarioLangs {
        let (context, question) = match self {
            Scenario::EnEn => (Lang::En, Lang::En),
            Scenario::EnX => (Lang::En, x),
            Scenario::XX => (x, x),
        };
        // Gold answers are spans of the context, so they share its language.
        ScenarioLangs {
            context,
            question,
            answer: context,
        }
    }
}

/// The languages one scenario assigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScenarioLangs {
    pub context: Lang,
    pub question: Lang,
    pub answer: Lang,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim();
        match Scenario::ALL
            .into_iter()
            .find(|sc| sc.name().eq_ignore_ascii_case(wanted))
        {
            Some(sc) => Ok(sc),
            None => bail!("unknown scenario '{s}'; expected one of: en-en, en-x, x-x"),
        }
    }
}

/// Where the task description goes: v1 before the demonstrations, v2 after the test question.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    V1,
    V2,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::V1, Format::V2];

    pub fn name(self) -> &'static str {
        match self {
            Format::V1 => "v1",
            Format::V2 => "v2",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim();
        match Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(wanted))
        {
            Some(f) => Ok(f),
            None => bail!("unknown prompt format '{s}'; expected v1 or v2"),
        }
    }
}

/// A prompt setting of the paper: scenario, language x, demonstrations and format. One type
/// for every place that names a setting (prompt options, the explorer's selection, trace and
/// unit keys, bookmarks); written flattened, so files keep the four fields side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Setting {
    pub scenario: Scenario,
    /// Language x; ignored in en-en.
    pub lang: Lang,
    /// Number of demonstrations: 0 or 2, the paper's settings.
    #[serde(default)]
    pub shots: u8,
    #[serde(default)]
    pub format: Format,
}

impl Default for Setting {
    /// The paper's main setting: en-x, 0-shot, v1; German as the first non-English language.
    fn default() -> Self {
        Setting {
            scenario: Scenario::EnX,
            lang: Lang::De,
            shots: 0,
            format: Format::V1,
        }
    }
}

impl Setting {
    /// The languages of the context, the question and the gold answers in this setting.
    pub fn langs(&self) -> ScenarioLangs {
        self.scenario.langs(self.lang)
    }
}

/// Everything that shapes one prompt besides the sample and the chat template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptOptions {
    /// Scenario, language x (ignored in en-en), shots and format.
    #[serde(flatten)]
    pub setting: Setting,
    /// Seeds the choice of demonstrations.
    pub seed: u64,
    /// Whether to end with the `Answer:` cue; `None` = on for raw prompts, off for chat.
    pub answer_cue: Option<bool>,
    /// Caller system text: first in raw prompts, the system message in chat prompts.
    pub system: Option<String>,
}

impl Default for PromptOptions {
    /// The paper's main setting: en-x, 0-shot, v1; German as the first non-English language.
    fn default() -> Self {
        Self {
            setting: Setting::default(),
            seed: 0,
            answer_cue: None,
            system: None,
        }
    }
}

impl PromptOptions {
    /// The shot counts the prompt layout knows.
    pub const SHOTS: [u8; 2] = [0, 2];

    pub(crate) fn check(&self) -> Result<()> {
        if !Self::SHOTS.contains(&self.setting.shots) {
            bail!(
                "{} shots asked; prompts take 0 or 2 demonstrations (the paper's settings)",
                self.setting.shots
            );
        }
        Ok(())
    }

    /// The caller system text, when it says anything.
    pub(crate) fn system_text(&self) -> Option<&str> {
        self.system.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// The language the task description asks the answer in.
    pub(crate) fn wording_lang(&self) -> Lang {
        self.setting.langs().answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_and_format_names_round_trip() {
        for sc in Scenario::ALL {
            assert_eq!(sc.to_string().parse::<Scenario>().unwrap(), sc);
            let json = serde_json::to_string(&sc).unwrap();
            assert_eq!(json, format!("\"{sc}\""));
        }
        for f in Format::ALL {
            assert_eq!(f.to_string().to_uppercase().parse::<Format>().unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{f}\""));
        }
        let err = "en-de".parse::<Scenario>().unwrap_err().to_string();
        assert!(err.contains("en-en, en-x, x-x"), "{err}");
        assert!("v3".parse::<Format>().is_err());
    }

    #[test]
    fn scenario_languages() {
        let l = Scenario::EnX.langs(Lang::Zh);
        assert_eq!(
            (l.context, l.question, l.answer),
            (Lang::En, Lang::Zh, Lang::En)
        );
        let l = Scenario::XX.langs(Lang::Zh);
        assert_eq!(
            (l.context, l.question, l.answer),
            (Lang::Zh, Lang::Zh, Lang::Zh)
        );
        let l = Scenario::EnEn.langs(Lang::Zh);
        assert_eq!(
            (l.context, l.question, l.answer),
            (Lang::En, Lang::En, Lang::En)
        );
    }

    #[test]
    fn only_zero_or_two_shots() {
        for shots in 0..=5u8 {
            let opts = PromptOptions {
                setting: Setting {
                    shots,
                    ..Setting::default()
                },
                ..PromptOptions::default()
            };
            assert_eq!(opts.check().is_ok(), shots == 0 || shots == 2, "{shots}");
        }
    }

    #[test]
    fn blank_system_text_counts_as_none() {
        let mut opts = PromptOptions {
            system: Some("  \n".into()),
            ..PromptOptions::default()
        };
        assert_eq!(opts.system_text(), None);
        opts.system = Some("Be brief.".into());
        assert_eq!(opts.system_text(), Some("Be brief."));
    }
}

//! Base or instruct: a model is prompted through its chat template when it has one, unless
//! `--chat` / `--no-chat` say otherwise.

use crate::hf::chat_template::ChatTemplate;
use anyhow::{bail, Context, Result};
use std::fmt;
use std::path::Path;

/// `--chat`, `--no-chat`, or neither.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChatMode {
    /// Chat exactly when the model has a chat template (instruct models do, base models
    /// mostly do not).
    #[default]
    Auto,
    /// Always through the chat template (`--chat`).
    On,
    /// Always raw text (`--no-chat`), even for an instruct model.
    Off,
}

impl ChatMode {
    /// The mode of the two flags (clap keeps them from being given together).
    pub fn from_flags(chat: bool, no_chat: bool) -> Self {
        match (chat, no_chat) {
            (true, _) => Self::On,
            (_, true) => Self::Off,
            _ => Self::Auto,
        }
    }
}

impl fmt::Display for ChatMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::On => "chat",
            Self::Off => "no-chat",
        })
    }
}

/// Whether prompts go through the chat template of the model in `dir`. `--chat` on a model
/// without a template is an error that names the folder.
pub fn decide_chat(mode: ChatMode, has_template: bool, dir: &Path) -> Result<bool> {
    match mode {
        ChatMode::Auto => Ok(has_template),
        ChatMode::Off => Ok(false),
        ChatMode::On if has_template => Ok(true),
        ChatMode::On => bail!(
            "--chat was given, but {} has no chat template (no chat_template.jinja, no \
             chat_template in tokenizer_config.json, no chat_template.json): it looks like a \
             base model; leave out --chat, or pass --no-chat",
            dir.display()
        ),
    }
}

/// The template prompts go through, or `None` for raw text. With `--no-chat` the template
/// is not even read, so a template this tool cannot compile does not stop a raw run.
pub fn chat_template_for(dir: &Path, mode: ChatMode) -> Result<Option<ChatTemplate>> {
    if mode == ChatMode::Off {
        return Ok(None);
    }
    let template = ChatTemplate::from_model_dir(dir).with_context(|| {
        format!(
            "reading the chat template of {} (pass --no-chat to prompt with raw text instead)",
            dir.display()
        )
    })?;
    let chat = decide_chat(mode, template.is_some(), dir)?;
    Ok(template.filter(|_| chat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_to_mode() {
        assert_eq!(ChatMode::from_flags(false, false), ChatMode::Auto);
        assert_eq!(ChatMode::from_flags(true, false), ChatMode::On);
        assert_eq!(ChatMode::from_flags(false, true), ChatMode::Off);
    }

    #[test]
    fn decisions() {
        let dir = Path::new("/models/base");
        assert!(decide_chat(ChatMode::Auto, true, dir).unwrap());
        assert!(!decide_chat(ChatMode::Auto, false, dir).unwrap());
        assert!(!decide_chat(ChatMode::Off, true, dir).unwrap());
        assert!(decide_chat(ChatMode::On, true, dir).unwrap());
        let err = decide_chat(ChatMode::On, false, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/models/base has no chat template"), "{err}");
        assert!(err.contains("--no-chat"), "{err}");
    }

    #[test]
    fn template_follows_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        assert!(chat_template_for(dir.path(), ChatMode::Auto)
            .unwrap()
            .is_none());
        assert!(chat_template_for(dir.path(), ChatMode::On).is_err());
        // A template that does not compile stops auto and --chat, not --no-chat.
        std::fs::write(dir.path().join("chat_template.jinja"), "{% if %}").unwrap();
        let err = chat_template_for(dir.path(), ChatMode::Auto).unwrap_err();
        assert!(format!("{err:#}").contains("--no-chat"), "{err:#}");
        assert!(chat_template_for(dir.path(), ChatMode::Off)
            .unwrap()
            .is_none());
        std::fs::write(
            dir.path().join("chat_template.jinja"),
            "{{ messages[0].content }}",
        )
        .unwrap();
        assert!(chat_template_for(dir.path(), ChatMode::Auto)
            .unwrap()
            .is_some());
        assert!(chat_template_for(dir.path(), ChatMode::Off)
            .unwrap()
            .is_none());
    }
}

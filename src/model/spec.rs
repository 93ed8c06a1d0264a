//! What to load: the model and how to run it, as the command line (or a TUI form) gives it.
//! `LoadedModel::load` consumes it.

use super::chat_mode::ChatMode;
use super::device::{DTypeChoice, DeviceChoice};
use super::source::ModelRef;
use anyhow::{Context, Result};

/// One model to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub model: ModelRef,
    pub device: DeviceChoice,
    pub dtype: DTypeChoice,
    pub chat: ChatMode,
}

impl ModelSpec {
    /// `model` with automatic device, dtype and chat detection.
    pub fn new(model: ModelRef) -> Self {
        Self {
            model,
            device: DeviceChoice::Auto,
            dtype: DTypeChoice::Auto,
            chat: ChatMode::Auto,
        }
    }

    /// A spec from the words of the options (`--model`, `--device`, `--dtype`), e.g. for
    /// a second model given by its own options.
    pub fn parse(model: &str, device: &str, dtype: &str, chat: ChatMode) -> Result<Self> {
        Ok(Self {
            model: model.parse().context("--model")?,
            device: device.parse().context("--device")?,
            dtype: dtype.parse().context("--dtype")?,
            chat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_words() {
        let spec = ModelSpec::parse("org/x@dev", "cpu", "bf16", ChatMode::Off).unwrap();
        assert_eq!(spec.model, ModelRef::hub("org/x", Some("dev")));
        assert_eq!(spec.device, DeviceChoice::Cpu);
        assert_eq!(spec.dtype, DTypeChoice::Bf16);
        assert_eq!(spec.chat, ChatMode::Off);
        let err = ModelSpec::parse("org/x", "tpu", "auto", ChatMode::Auto).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("--device: unknown device 'tpu'"),
            "{err:#}"
        );
        assert_eq!(
            ModelSpec::new(ModelRef::hub("a", None)),
            ModelSpec::parse("a", "auto", "auto", ChatMode::Auto).unwrap()
        );
    }
}

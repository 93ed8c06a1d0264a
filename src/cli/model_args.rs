//! The model options every subcommand that runs a model shares.

use crate::model::chat_mode::ChatMode;
use crate::model::device::{DTypeChoice, DeviceChoice};
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// The model: a hub id `org/name[@revision]`, downloaded into the Hugging Face cache
    /// (HF_HOME, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT); a local folder with config.json,
    /// tokenizer.json and safetensors weights; a GGUF file (or a folder holding one); or one
    /// GGUF file of a hub repository, `org/name[@revision]:FILE.gguf`.
    #[arg(long, env = "XMRC_LENS_MODEL", value_name = "ID[@REV]|DIR|FILE.gguf")]
    pub model: ModelRef,
    #[command(flatten)]
    pub run: RunArgs,
}

/// How any model is run: device, dtype and prompting (shared by commands with several models).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// auto (CUDA when built with --features cuda and a GPU is present, else CPU), cpu,
    /// cuda or cuda:N.
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    pub device: DeviceChoice,
    /// auto (bf16 on CUDA, f32 on CPU), f32, bf16 or f16.
    #[arg(long, default_value = "auto", value_name = "DTYPE")]
    pub dtype: DTypeChoice,
    /// Prompt through the chat template even if detection says otherwise (default: chat
    /// exactly when the model has a chat template).
    #[arg(long, conflicts_with = "no_chat")]
    pub chat: bool,
    /// Prompt with raw text, ignoring the model's chat template.
    #[arg(long)]
    pub no_chat: bool,
}

impl RunArgs {
    /// `--chat`, `--no-chat` or neither.
    pub fn chat_mode(&self) -> ChatMode {
        ChatMode::from_flags(self.chat, self.no_chat)
    }

    /// `model` with these options.
    pub fn spec_for(&self, model: ModelRef) -> ModelSpec {
        ModelSpec {
            model,
            device: self.device,
            dtype: self.dtype,
            chat: self.chat_mode(),
        }
    }
}

impl ModelArgs {
    /// `--chat`, `--no-chat` or neither.
    pub fn chat_mode(&self) -> ChatMode {
        self.run.chat_mode()
    }

    /// The model to load.
    pub fn spec(&self) -> ModelSpec {
        self.spec_for(self.model.clone())
    }

    /// Another model (e.g. the second one of a comparison) with the same device, dtype and
    /// chat options.
    pub fn spec_for(&self, model: ModelRef) -> ModelSpec {
        self.run.spec_for(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        model: ModelArgs,
    }

    fn parse(args: &[&str]) -> Result<ModelSpec, clap::Error> {
        TestCli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .map(|cli| cli.model.spec())
    }

    #[test]
    fn defaults_are_automatic() {
        let spec = parse(&["--model", "org/model-that-is-not-a-folder"]).unwrap();
        assert_eq!(
            spec,
            ModelSpec::new(ModelRef::hub("org/model-that-is-not-a-folder", None))
        );
    }

    #[test]
    fn all_options() {
        let spec = parse(&[
            "--model=org/m@v2",
            "--device",
            "cuda:1",
            "--dtype",
            "bfloat16",
            "--no-chat",
        ])
        .unwrap();
        assert_eq!(spec.model, ModelRef::hub("org/m", Some("v2")));
        assert_eq!(spec.device, DeviceChoice::Cuda(1));
        assert_eq!(spec.dtype, DTypeChoice::Bf16);
        assert_eq!(spec.chat, ChatMode::Off);
        let spec = parse(&["--model", "org/m", "--chat"]).unwrap();
        assert_eq!(spec.chat, ChatMode::On);
    }

    #[test]
    fn local_folders() {
        let dir = tempfile::tempdir().unwrap();
        let shown = dir.path().to_str().unwrap();
        let spec = parse(&["--model", shown]).unwrap();
        assert_eq!(spec.model, ModelRef::Local(dir.path().to_path_buf()));
        let missing = dir.path().join("nope");
        let err = parse(&["--model", missing.to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains("folder not found"), "{err}");
    }

    #[test]
    fn bad_values_are_parse_errors() {
        let err = parse(&["--model", "org/m", "--chat", "--no-chat"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let err = parse(&["--model", "org/m", "--device", "gpu"]).unwrap_err();
        assert!(
            err.to_string().contains("auto, cpu, cuda or cuda:N"),
            "{err}"
        );
        let err = parse(&["--model", "org/m", "--dtype", "int8"]).unwrap_err();
        assert!(err.to_string().contains("unknown dtype 'int8'"), "{err}");
        let err = parse(&["--model", "org/na me"]).unwrap_err();
        assert!(err.to_string().contains("not a hub id"), "{err}");
    }

    #[test]
    fn model_from_the_environment() {
        // The only test here that touches XMRC_LENS_MODEL; the others always pass --model.
        std::env::remove_var("XMRC_LENS_MODEL");
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        std::env::set_var("XMRC_LENS_MODEL", "org/from-env");
        let spec = parse(&[]);
        std::env::remove_var("XMRC_LENS_MODEL");
        assert_eq!(spec.unwrap().model, ModelRef::hub("org/from-env", None));
    }

    #[test]
    fn second_model_shares_the_options() {
        let cli =
            TestCli::try_parse_from(["test", "--model", "org/a", "--device", "cpu", "--chat"])
                .unwrap();
        let b = cli.model.spec_for(ModelRef::hub("org/b", None));
        assert_eq!(b.model, ModelRef::hub("org/b", None));
        assert_eq!((b.device, b.chat), (DeviceChoice::Cpu, ChatMode::On));
    }
}

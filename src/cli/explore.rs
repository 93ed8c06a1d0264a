//! `xmrc-lens explore` (also plain `xmrc-lens`): the terminal explorer.

use super::model_args::RunArgs;
use crate::data::request::DataRequest;
use crate::explorer::{self, Launch, ModelChoice};
use crate::tui;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// The model the explorer opens when none is given: multilingual, instruct, ungated and
/// small enough for a CPU.
pub const DEFAULT_MODEL: &str = "Qwen/Qwen2.5-0.5B-Instruct";

#[derive(Debug, Clone, Args)]
pub struct ExploreArgs {
    /// The model: hub id `org/name[@rev]`, a local folder, a GGUF file, or
    /// `org/name[@rev]:FILE.gguf`. Default: Qwen/Qwen2.5-0.5B-Instruct,
    /// or, when it cannot be had (no network, nothing cached), an offline demo model.
    #[arg(long, env = "XMRC_LENS_MODEL", value_name = "ID[@REV]|DIR|FILE.gguf")]
    pub model: Option<String>,
    /// A second model shown side by side (e.g. the base twin of an instruct model).
    #[arg(long, value_name = "ID[@REV]|DIR|FILE.gguf")]
    pub compare: Option<String>,
    /// Folder of `xquad.<lang>.json` files. Default: env XMRC_LENS_DATA, else the hub
    /// dataset google/xquad, else (offline) the bundled demo set.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Load only these languages (comma-separated; English is always added), e.g. from a
    /// folder that lacks some files; the language tabs show the loaded ones.
    #[arg(long, value_delimiter = ',', value_name = "LANG,...")]
    pub load_langs: Vec<crate::data::Lang>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Reopen a saved session (sessions/<name>.json); without its models it opens in
    /// replay mode over the saved traces.
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,
    /// Start in the offline demo: random-weight model and the bundled demo set.
    #[arg(long)]
    pub demo: bool,
    /// Most traces kept in memory (least recently used dropped first).
    #[arg(long, default_value_t = explorer::state::CACHE_ENTRIES, value_name = "N")]
    pub cache_entries: usize,
    /// Memory budget of the trace cache in MiB.
    #[arg(long, default_value_t = explorer::state::CACHE_BYTES >> 20, value_name = "MIB")]
    pub cache_mib: usize,
}

pub fn run(args: &ExploreArgs) -> Result<()> {
    let model = if args.demo {
        ModelChoice::Demo
    } else {
        match &args.model {
            Some(m) => ModelChoice::Given(
                args.run
                    .spec_for(m.parse().with_context(|| format!("--model {m}"))?),
            ),
            None => ModelChoice::Default(
                args.run
                    .spec_for(DEFAULT_MODEL.parse().context("the default model id")?),
            ),
        }
    };
    let compare = match &args.compare {
        Some(m) => Some(
            args.run
                .spec_for(m.parse().with_context(|| format!("--compare {m}"))?),
        ),
        None => None,
    };
    let data_given = args.data.is_some() || std::env::var_os("XMRC_LENS_DATA").is_some();
    let launch = Launch {
        model,
        compare,
        data: DataRequest {
            data: args.data.clone(),
            load_langs: args.load_langs.clone(),
            ..DataRequest::default()
        },
        demo_data: args.demo,
        data_given,
        session: args.session.clone(),
        cache_entries: args.cache_entries,
        cache_bytes: args.cache_mib << 20,
    };
    tui::run(launch)
}

//! The data options every subcommand that reads XQuAD shares; they become a
//! [`DataRequest`] of the data layer.

use crate::data::request::DataRequest;
use crate::data::Dataset;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder of SQuAD-v1.1 JSON files, one per language (`xquad.<lang>.json`).
    /// Default: env XMRC_LENS_DATA, else the hub dataset (cached under HF_HOME).
    #[arg(long, value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,
    /// Hub dataset used when no folder is given.
    #[arg(
        long,
        value_name = "REPO[@REV]",
        default_value = "google/xquad",
        global = true
    )]
    pub hub_dataset: String,
    /// Keep only ids present in every language (MLQA-style sets) instead of requiring
    /// identical ids in every file (XQuAD).
    #[arg(long, global = true)]
    pub intersect_ids: bool,
    /// Load only these languages (comma-separated; English is always added), e.g. from a
    /// folder that lacks some files. Default: every language (all 12 of XQuAD). The
    /// explorer's language tabs show the loaded ones.
    #[arg(long, value_delimiter = ',', value_name = "LANG,...", global = true)]
    pub load_langs: Vec<crate::data::Lang>,
}

impl DataArgs {
    /// The request these options make.
    pub fn request(&self) -> DataRequest {
        DataRequest {
            data: self.data.clone(),
            hub_dataset: self.hub_dataset.clone(),
            intersect_ids: self.intersect_ids,
            load_langs: self.load_langs.clone(),
        }
    }

    pub fn load(&self) -> Result<Dataset> {
        self.request().load()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_hub_dataset_is_the_requests_default() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            data: DataArgs,
        }
        let cli = Cli::parse_from(["x"]);
        assert_eq!(cli.data.request(), DataRequest::default());
    }
}

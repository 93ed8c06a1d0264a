//! The data options every subcommand that reads XQuAD shares.

use crate::data::loader::{IdPolicy, LoadOptions};
use crate::data::source::{self as data_source, resolve_source, DataSource};
use crate::data::Dataset;
use anyhow::{Context, Result};
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
    pub fn load(&self) -> Result<Dataset> {
        let source = match resolve_source(self.data.as_deref()) {
            DataSource::Hub { .. } => {
                let (repo, revision) = split_revision(&self.hub_dataset);
                DataSource::Hub {
                    repo: repo.to_string(),
                    revision: revision.map(str::to_string),
                }
            }
            dir => dir,
        };
        let opts = LoadOptions {
            langs: (!self.load_langs.is_empty()).then(|| self.load_langs.clone()),
            id_policy: if self.intersect_ids {
                IdPolicy::Intersect
            } else {
                IdPolicy::Identical
            },
        };
        data_source::load(&source, &opts).context("loading the data set")
    }
}

/// `owner/name@rev` -> (`owner/name`, Some(`rev`)).
pub fn split_revision(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('@') {
        Some((repo, rev)) if !rev.is_empty() => (repo, Some(rev)),
        Some((repo, _)) => (repo, None),
        None => (spec, None),
    }
}

/// Finds a sample by index or by id.
pub fn find_sample(data: &Dataset, key: &str) -> Result<usize> {
    if let Ok(index) = key.parse::<usize>() {
        if index < data.len() {
            return Ok(index);
        }
        anyhow::bail!(
            "sample index {index} is out of range: the data set has {} samples (0..{})",
            data.len(),
            data.len().saturating_sub(1)
        );
    }
    data.position_of(key)
        .with_context(|| format!("no sample with id '{key}' in {}", data.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_split() {
        assert_eq!(split_revision("google/xquad"), ("google/xquad", None));
        assert_eq!(
            split_revision("google/xquad@main"),
            ("google/xquad", Some("main"))
        );
        assert_eq!(split_revision("google/xquad@"), ("google/xquad", None));
    }
}

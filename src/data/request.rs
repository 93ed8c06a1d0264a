//! What to load as the data set: a folder or a hub dataset, which languages, how ids are
//! matched. The command line and the explorer's start-up both ask through it.

use super::loader::{IdPolicy, LoadOptions};
use super::source::{self as data_source, resolve_source, DataSource};
use super::{Dataset, Lang};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// A request for the data set (the `--data`, `--hub-dataset`, `--intersect-ids` and
/// `--load-langs` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRequest {
    /// Folder of SQuAD-v1.1 JSON files; None: env XMRC_LENS_DATA, else the hub dataset.
    pub data: Option<PathBuf>,
    /// Hub dataset (`owner/name[@rev]`) used when no folder is given.
    pub hub_dataset: String,
    /// Keep only ids present in every language instead of requiring identical ids.
    pub intersect_ids: bool,
    /// Load only these languages (English is always added); empty: every language.
    pub load_langs: Vec<Lang>,
}

impl Default for DataRequest {
    fn default() -> Self {
        DataRequest {
            data: None,
            hub_dataset: "google/xquad".to_string(),
            intersect_ids: false,
            load_langs: Vec::new(),
        }
    }
}

impl DataRequest {
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

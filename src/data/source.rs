//! Where the data come from: a local folder (`--data`, `XMRC_LENS_DATA`) or the hub dataset,
//! and loading from either. Above both the folder loader and the hub loader, so that neither
//! imports the other.

use super::hub;
use super::loader::{load_dir, DataError, LoadOptions, DATA_DIR_ENV};
use super::{Dataset, Lang};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// A data source: a local folder or a hub dataset (downloaded into the HF cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    Dir(PathBuf),
    Hub {
        repo: String,
        revision: Option<String>,
    },
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Dir(dir) => write!(f, "local folder {}", dir.display()),
            DataSource::Hub {
                repo,
                revision: Some(rev),
            } => write!(f, "hub {repo}@{rev}"),
            DataSource::Hub { repo, .. } => write!(f, "hub {repo}"),
        }
    }
}

/// `--data DIR`, else env `XMRC_LENS_DATA`, else the hub dataset `google/xquad`.
pub fn resolve_source(cli_dir: Option<&Path>) -> DataSource {
    resolve_source_with(cli_dir, std::env::var_os(DATA_DIR_ENV))
}

/// [`resolve_source`] with the environment value passed in (an empty value counts as unset).
pub fn resolve_source_with(cli_dir: Option<&Path>, env_dir: Option<OsString>) -> DataSource {
    if let Some(dir) = cli_dir {
        return DataSource::Dir(dir.to_path_buf());
    }
    match env_dir {
        Some(dir) if !dir.is_empty() => DataSource::Dir(PathBuf::from(dir)),
        _ => DataSource::Hub {
            repo: hub::XQUAD_REPO.to_string(),
            revision: None,
        },
    }
}

/// Loads the data set from its source. The hub honours `HF_HOME`, `HF_HUB_OFFLINE` and `HF_TOKEN`.
pub fn load(source: &DataSource, opts: &LoadOptions) -> Result<Dataset, DataError> {
    match source {
        DataSource::Dir(dir) => load_dir(dir, opts),
        DataSource::Hub { repo, revision } => {
            let settings = crate::hf::hub::HubSettings::from_env()?;
            let langs = opts.langs.clone().unwrap_or_else(|| Lang::ALL.to_vec());
            hub::load_hub_with(&settings, repo, revision.as_deref(), &langs, opts.id_policy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_resolution_order() {
        let cli = Path::new("/cli");
        assert_eq!(
            resolve_source_with(Some(cli), Some("/env".into())),
            DataSource::Dir(cli.to_path_buf())
        );
        assert_eq!(
            resolve_source_with(None, Some("/env".into())),
            DataSource::Dir(PathBuf::from("/env"))
        );
        let hub = DataSource::Hub {
            repo: "google/xquad".to_string(),
            revision: None,
        };
        assert_eq!(resolve_source_with(None, Some("".into())), hub);
        assert_eq!(resolve_source_with(None, None), hub);
        assert_eq!(hub.to_string(), "hub google/xquad");
    }
}

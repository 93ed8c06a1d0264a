//! Hugging Face hub access shared by the data and model sides: the settings read from the
//! environment (cache folder, offline mode, token, endpoint), the hub client built from them,
//! and the lookup of a cached snapshot. What is fetched (XQuAD parquet files, model files)
//! is the business of `data` and `model`.

use hf_hub::api::sync::{Api, ApiBuilder, ApiError};
use hf_hub::{Cache, Repo};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Revision used when none is given.
pub const DEFAULT_REVISION: &str = "main";

/// Neither `HF_HOME` nor `HOME` is set, so there is no Hugging Face cache to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot locate the Hugging Face cache: neither HF_HOME nor HOME is set; set HF_HOME")]
pub struct NoCacheDir;

/// What hub access takes from the environment, read in one place ([`HubSettings::from_env`])
/// so that everything else can be tested with explicit values.
#[derive(Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// The `hub` folder of the HF cache (`$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// `HF_HUB_OFFLINE`: use only the cache, never the network.
    pub offline: bool,
    /// `HF_TOKEN`; without it hf-hub uses the token file of the cache, if any.
    pub token: Option<String>,
    /// `HF_ENDPOINT`, for mirrors.
    pub endpoint: Option<String>,
    /// Where download progress goes; None: hf-hub's bar on stderr when it is a terminal.
    pub progress: Option<DownloadSink>,
}

/// How far a file download has come, for a front end's progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadProgress {
    pub file: String,
    pub done: u64,
    pub total: u64,
}

/// Where download progress goes instead of hf-hub's stderr bar (which would scribble over a
/// full-screen terminal UI). Passed with the settings of one load, never set globally.
#[derive(Clone)]
pub struct DownloadSink(pub Arc<dyn Fn(DownloadProgress) + Send + Sync>);

impl DownloadSink {
    pub fn new(f: impl Fn(DownloadProgress) + Send + Sync + 'static) -> Self {
        DownloadSink(Arc::new(f))
    }

    pub fn send(&self, progress: DownloadProgress) {
        (self.0)(progress)
    }
}

// Two sinks are the same sink only if they are one closure.
impl PartialEq for DownloadSink {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for DownloadSink {}

impl fmt::Debug for DownloadSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownloadSink")
    }
}

// Hand-written so that the token never reaches a log or an error message.
impl fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSettings")
            .field("cache_dir", &self.cache_dir)
            .field("offline", &self.offline)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("endpoint", &self.endpoint)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl HubSettings {
    /// Reads `HF_HOME`, `HOME`, `HF_HUB_OFFLINE`, `HF_TOKEN` and `HF_ENDPOINT`.
    pub fn from_env() -> Result<Self, NoCacheDir> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::from_values(
            std::env::var_os("HF_HOME"),
            std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")),
            var("HF_HUB_OFFLINE").as_deref(),
            var("HF_TOKEN"),
            var("HF_ENDPOINT"),
        )
    }

    /// The settings for given environment values (`None` or empty: unset).
    pub fn from_values(
        hf_home: Option<OsString>,
        home: Option<OsString>,
        offline: Option<&str>,
        token: Option<String>,
        endpoint: Option<String>,
    ) -> Result<Self, NoCacheDir> {
        let cache_dir = match (hf_home.filter(|h| !h.is_empty()), home) {
            (Some(hf_home), _) => PathBuf::from(hf_home).join("hub"),
            (None, Some(home)) if !home.is_empty() => PathBuf::from(home)
                .join(".cache")
                .join("huggingface")
                .join("hub"),
            _ => return Err(NoCacheDir),
        };
        Ok(Self {
            cache_dir,
            offline: offline.is_some_and(is_truthy),
            token: token.filter(|t| !t.is_empty()),
            endpoint: endpoint.filter(|e| !e.is_empty()),
            progress: None,
        })
    }

    /// Cache-only settings for a given cache folder.
    pub fn offline_at(cache_dir: &Path) -> Self {
        Self {
            cache_dir: cache_dir.to_path_buf(),
            offline: true,
            token: None,
            endpoint: None,
            progress: None,
        }
    }
}

impl HubSettings {
    /// The hub client for these settings: downloads land in [`HubSettings::cache_dir`], the
    /// token (if any) goes only into the request header, `HF_ENDPOINT` replaces the host.
    /// `progress` draws hf-hub's progress bar on stderr.
    pub fn api(&self, progress: bool) -> Result<Api, ApiError> {
        let mut builder =
            ApiBuilder::from_cache(Cache::new(self.cache_dir.clone())).with_progress(progress);
        if let Some(token) = &self.token {
            builder = builder.with_token(Some(token.clone()));
        }
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        builder.build()
    }
}

/// The snapshot folder (`<cache>/<kind>--<org>--<name>/snapshots/<commit>`) of a cached
/// revision, or `None` when that revision is not in the cache. The commit comes from
/// `refs/<revision>`; unlike hf-hub's own lookup, which reads that file verbatim, a trailing
/// newline is accepted, and so is a revision that is itself a cached commit hash, as
/// huggingface_hub does.
pub fn cached_snapshot(cache_dir: &Path, repo: &Repo) -> Option<PathBuf> {
    let cache = Cache::new(cache_dir.to_path_buf()).repo(repo.clone());
    let revision = repo.revision();
    let ref_file = cache_dir
        .join(repo.folder_name())
        .join("refs")
        .join(revision);
    let commit = std::fs::read_to_string(ref_file)
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| revision.to_string());
    if commit.is_empty() {
        return None;
    }
    let snapshot = cache.pointer_path(&commit);
    snapshot.is_dir().then_some(snapshot)
}

/// `1`, `true`, `yes` or `on` in any case, as huggingface_hub reads its boolean variables.
pub fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthy_values_follow_huggingface_hub() {
        for v in ["1", "true", "TRUE", "yes", "On", " 1 "] {
            assert!(is_truthy(v), "{v}");
        }
        for v in ["0", "false", "no", "", "offline"] {
            assert!(!is_truthy(v), "{v}");
        }
    }

    #[test]
    fn settings_from_values() {
        let s = HubSettings::from_values(
            Some("/hf".into()),
            Some("/home/u".into()),
            Some("yes"),
            Some("hf_secret".to_string()),
            None,
        )
        .unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/hf/hub"));
        assert!(s.offline);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hf_secret"), "{shown}");

        let s = HubSettings::from_values(
            None,
            Some("/home/u".into()),
            None,
            Some(String::new()),
            None,
        )
        .unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
        assert!(!s.offline);
        assert_eq!(s.token, None);

        let err = HubSettings::from_values(Some("".into()), None, None, None, None).unwrap_err();
        assert!(err.to_string().contains("set HF_HOME"), "{err}");
    }
}

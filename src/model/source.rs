//! Where a model comes from (`--model`) and which of its files loading reads.
//!
//! A `--model` value is a local folder, a local `.gguf` file, a hub id
//! `org/name[@revision]`, or one GGUF file of a hub repository `org/name[@revision]:FILE.gguf`
//! ([`ModelRef`]). [`resolve_model`] ends in a [`ResolvedModel`]: a folder of transformers
//! files ([`ModelFiles`]: the local folder itself, or the snapshot folder of the revision in
//! the standard Hugging Face cache, so a download made by any HF tool is reused and vice
//! versa), or one GGUF file (a folder holding a single `.gguf` and no config.json counts as
//! that file). Folder weights are read from safetensors only (one file or shards listed by
//! an index); PyTorch pickle weights are refused, since loading a pickle can run arbitrary code.

use crate::hf::hub::{cached_snapshot, HubSettings, DEFAULT_REVISION};
use hf_hub::api::sync::{ApiError, ApiRepo};
use hf_hub::{Repo, RepoType};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// The model configuration (architecture and dimensions); required.
pub const CONFIG_FILE: &str = "config.json";
/// Generation defaults (EOS ids); optional.
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";
/// The tokenizer; required.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Special tokens and, for many instruct models, the chat template; optional.
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
/// Stand-alone chat template files, in the order transformers reads them; optional.
pub const CHAT_TEMPLATE_FILES: [&str; 2] = ["chat_template.jinja", "chat_template.json"];
/// Unsharded weights.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Index of sharded weights (`weight_map`: tensor name -> shard file).
pub const WEIGHTS_INDEX_FILE: &str = "model.safetensors.index.json";

/// The optional files, fetched (from the hub) and recorded when present.
const OPTIONAL_FILES: [&str; 4] = [
    GENERATION_CONFIG_FILE,
    TOKENIZER_CONFIG_FILE,
    CHAT_TEMPLATE_FILES[0],
    CHAT_TEMPLATE_FILES[1],
];

/// How to turn pickle weights into safetensors, shown when only pickles are found.
const CONVERT_HINT: &str = "convert once with Python: python -c \"from transformers import \
AutoModelForCausalLM as M, AutoTokenizer as T; M.from_pretrained('IN', torch_dtype='auto')\
.save_pretrained('OUT'); T.from_pretrained('IN').save_pretrained('OUT')\" (save_pretrained \
writes safetensors) and pass --model OUT; for a hub model, a safetensors conversion may exist \
as a pull-request revision (--model org/name@refs/pr/N)";

// ---------------------------------------------------------------------------------------------
// --model values.

/// A `--model` value.
///
/// Parsing ([`FromStr`]) looks at the file system first:
/// - an existing folder is [`ModelRef::Local`], even when it also reads as a hub id
///   (as transformers' `from_pretrained` does); `~/` is expanded with `HOME`;
/// - an existing file is an error (the folder that holds it is meant);
/// - a value that can only be a path (starts with `/`, `.`, `~` or `\`, has a `\` or a
///   drive colon, ends with `/`, or has more than one `/` before `@`) but does not exist is
///   an error "folder not found", never a hub id;
/// - anything else is a hub id `name` or `org/name`, with an optional `@revision` (a branch,
///   tag or commit; default `main`), checked against the hub's naming rules. A missing
///   relative folder like `models/x` therefore reads as a hub id; the hub errors then say
///   that no such folder exists either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    /// A folder on this machine.
    Local(PathBuf),
    /// A model repository on the Hugging Face hub.
    Hub { repo_id: String, revision: String },
    /// A GGUF file on this machine.
    GgufFile(PathBuf),
    /// One GGUF file of a hub repository (`org/name[@revision]:FILE.gguf`).
    HubGguf {
        repo_id: String,
        revision: String,
        file: String,
    },
}

/// Why a `--model` value was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefError {
    #[error("--model is empty: give a hub id (org/name or org/name@revision) or a model folder")]
    Empty,
    #[error("folder not found: {0} (a value that looks like a path is read as a folder, never as a hub id; check the path, or give a hub id such as Qwen/Qwen2.5-0.5B-Instruct)")]
    FolderNotFound(PathBuf),
    #[error("{0} is a file, not a model folder: --model takes the folder that holds config.json, tokenizer.json and the safetensors weights{hint}, or a .gguf file", hint = parent_hint(.0))]
    NotAFolder(PathBuf),
    #[error("GGUF file not found: {0}")]
    GgufNotFound(PathBuf),
    #[error("'{value}': the file after ':' must be a .gguf file inside the repository ({reason}); the syntax is org/name[@revision]:FILE.gguf")]
    BadHubFile { value: String, reason: String },
    #[error("'{value}' is not a hub id: {reason} (a hub id is name or org/name made of letters, digits, '-', '_' and '.', optionally followed by @revision; a local folder must exist)")]
    BadHubId { value: String, reason: String },
}

fn parent_hint(path: &Path) -> String {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => format!(" (perhaps --model {})", parent.display()),
        None => String::new(),
    }
}

/// What is at a path, as far as parsing a `--model` value cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    Folder,
    File,
    Missing,
}

impl PathKind {
    /// Looks at the file system (following links).
    pub fn of(path: &Path) -> Self {
        if path.is_dir() {
            Self::Folder
        } else if path.exists() {
            Self::File
        } else {
            Self::Missing
        }
    }
}

impl ModelRef {
    /// A hub model; `revision` `None` is `main`.
    pub fn hub(repo_id: impl Into<String>, revision: Option<&str>) -> Self {
        Self::Hub {
            repo_id: repo_id.into(),
            revision: revision.unwrap_or(DEFAULT_REVISION).to_string(),
        }
    }

    /// [`FromStr`] with the file system replaced by `kind` (for tests).
    pub fn parse_with(
        value: &str,
        kind: impl Fn(&Path) -> PathKind,
    ) -> Result<Self, ModelRefError> {
        if value.trim().is_empty() {
            return Err(ModelRefError::Empty);
        }
        let path = expand_home(value);
        match kind(&path) {
            PathKind::Folder => return Ok(Self::Local(path)),
            PathKind::File if is_gguf_path(&path) => return Ok(Self::GgufFile(path)),
            PathKind::File => return Err(ModelRefError::NotAFolder(path)),
            PathKind::Missing => {}
        }
        let value = value.trim();
        if let Some(hub_file) = Self::parse_hub_gguf(value)? {
            return Ok(hub_file);
        }
        if is_gguf_path(Path::new(value)) {
            return Err(ModelRefError::GgufNotFound(path));
        }
        let (id, revision) = match value.split_once('@') {
            Some((id, revision)) => (id, Some(revision)),
            None => (value, None),
        };
        if looks_like_path(value, id) {
            return Err(ModelRefError::FolderNotFound(path));
        }
        check_hub_id(value, id, revision)?;
        Ok(Self::hub(id, revision))
    }
}

/// The hub's rules for an id and its revision; errors quote the whole `value`.
fn check_hub_id(value: &str, id: &str, revision: Option<&str>) -> Result<(), ModelRefError> {
    let bad = |reason: String| ModelRefError::BadHubId {
        value: value.to_string(),
        reason,
    };
    check_repo_id(id).map_err(bad)?;
    if let Some(revision) = revision {
        check_revision(revision).map_err(bad)?;
    }
    Ok(())
}

impl ModelRef {
    /// `org/name[@revision]:FILE.gguf`, when `value` has that shape (a `:` followed by a
    /// `.gguf` name, and no path before it).
    fn parse_hub_gguf(value: &str) -> Result<Option<Self>, ModelRefError> {
        let Some((repo, file)) = value.rsplit_once(':') else {
            return Ok(None);
        };
        if !is_gguf_path(Path::new(file))
            || repo.starts_with(['/', '.', '~', '\\'])
            || repo.contains('\\')
            || repo.len() == 1
        {
            return Ok(None);
        }
        let bad = |reason: String| ModelRefError::BadHubFile {
            value: value.to_string(),
            reason,
        };
        let inside = Path::new(file)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if file.is_empty() || !inside {
            return Err(bad("it must be a relative path without '..'".into()));
        }
        let (id, revision) = match repo.split_once('@') {
            Some((id, revision)) => (id, Some(revision)),
            None => (repo, None),
        };
        check_hub_id(value, id, revision)?;
        Ok(Some(Self::HubGguf {
            repo_id: id.to_string(),
            revision: revision.unwrap_or(DEFAULT_REVISION).to_string(),
            file: file.to_string(),
        }))
    }
}

impl FromStr for ModelRef {
    type Err = ModelRefError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse_with(value, PathKind::of)
    }
}

/// The value as it would be typed: the folder, or `org/name` (`@revision` unless `main`).
impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Hub { repo_id, revision } if revision == DEFAULT_REVISION => {
                write!(f, "{repo_id}")
            }
            Self::Hub { repo_id, revision } => write!(f, "{repo_id}@{revision}"),
            Self::GgufFile(path) => write!(f, "{}", path.display()),
            Self::HubGguf {
                repo_id,
                revision,
                file,
            } if revision == DEFAULT_REVISION => write!(f, "{repo_id}:{file}"),
            Self::HubGguf {
                repo_id,
                revision,
                file,
            } => write!(f, "{repo_id}@{revision}:{file}"),
        }
    }
}

/// `~/x` -> `$HOME/x`: the shell leaves `~` alone inside `--model=~/x` or an env variable.
fn expand_home(value: &str) -> PathBuf {
    match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => PathBuf::from(value),
    }
}

/// True for values no hub id can be (see [`ModelRef`]).
fn looks_like_path(value: &str, id: &str) -> bool {
    value.starts_with(['/', '.', '~', '\\'])
        || value.contains('\\')
        || id.ends_with('/')
        || id.contains(':')
        || id.matches('/').count() > 1
}

/// The hub's rules for repository ids (huggingface_hub `validate_repo_id`).
fn check_repo_id(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() > 2 {
        return Err("it has more than one '/'".to_string());
    }
    for part in &parts {
        if part.is_empty() {
            return Err("an empty organisation or name".to_string());
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!("the character {c:?} is not allowed"));
        }
        if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
            return Err("a part starts or ends with '-' or '.'".to_string());
        }
    }
    if parts.last().is_some_and(|name| name.len() > 96) {
        return Err("the name is longer than 96 characters".to_string());
    }
    if id.contains("--") || id.contains("..") {
        return Err("'--' and '..' are not allowed".to_string());
    }
    if id.ends_with(".git") {
        return Err("it ends with .git".to_string());
    }
    Ok(())
}

/// A revision is a branch, tag or commit; branches may hold `/` (`refs/pr/1`). It also
/// names a file under the cache's `refs` folder, so it must stay inside it.
fn check_revision(revision: &str) -> Result<(), String> {
    if revision.is_empty() {
        return Err("the revision after '@' is empty".to_string());
    }
    if revision
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("the revision holds white space".to_string());
    }
    if revision.starts_with('/')
        || revision
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("the revision must not have empty, '.' or '..' parts".to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The files of a model.

/// The resolved files of one model, all inside [`ModelFiles::dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFiles {
    /// The model folder: the local folder, or the snapshot folder of a hub revision (where
    /// `ChatTemplate::from_model_dir` finds the template files).
    pub dir: PathBuf,
    /// The hub commit the files belong to; `None` for a local folder.
    pub commit: Option<String>,
    pub config: PathBuf,
    pub generation_config: Option<PathBuf>,
    pub tokenizer: PathBuf,
    pub tokenizer_config: Option<PathBuf>,
    /// `chat_template.jinja`, else `chat_template.json`, when present. A template may also
    /// sit inside `tokenizer_config.json`.
    pub chat_template: Option<PathBuf>,
    /// `model.safetensors`, or the shards of the index: deduplicated, in sorted order.
    pub weights: Vec<PathBuf>,
    /// `model.safetensors.index.json` for sharded weights.
    pub weights_index: Option<PathBuf>,
}

/// Why the files of a model could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("model folder not found: {0}")]
    FolderNotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{place} has no {}; a model folder needs config.json, tokenizer.json and safetensors weights (model.safetensors, or model.safetensors.index.json and its shards)", list(.missing))]
    MissingFiles { place: String, missing: Vec<String> },
    #[error("{place} has only PyTorch pickle weights ({}): xmrc-lens reads safetensors only, because loading a pickle can run arbitrary code; {CONVERT_HINT}", list(.files))]
    PickleOnly { place: String, files: Vec<String> },
    #[error("{place} has no weights: expected model.safetensors or model.safetensors.index.json{}", other_safetensors_hint(.other_safetensors))]
    NoWeights {
        place: String,
        other_safetensors: Vec<String>,
    },
    #[error("{path}: {message}")]
    BadIndex { path: PathBuf, message: String },
    #[error("{index} lists {} that {place} does not have: {}", count(.missing.len(), "shard"), list(.missing))]
    MissingShards {
        index: PathBuf,
        place: String,
        missing: Vec<String>,
    },
    #[error("cannot load {model}: {missing} not in the Hugging Face cache {} ({reason}){}.\nGo online once (HF_HUB_OFFLINE unset) so the files are downloaded into the cache, or pass a local model folder to --model.", cache.display(), no_folder_hint(.model))]
    NotCached {
        model: String,
        cache: PathBuf,
        /// What is missing, e.g. "config.json (from <snapshot folder>) is".
        missing: String,
        reason: String,
    },
    #[error("cannot load {model} from the Hugging Face hub: {message}{}", no_folder_hint(.model))]
    Hub { model: String, message: String },
    #[error("{place} holds several GGUF files ({}): pass the one to load, --model PATH/FILE.gguf", list(.files))]
    ManyGguf { place: String, files: Vec<String> },
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn other_safetensors_hint(files: &[String]) -> String {
    if files.is_empty() {
        String::new()
    } else {
        format!(
            " (found {}, which is not the Hugging Face transformers layout)",
            list(files)
        )
    }
}

/// A hub id such as `models/x` may have been meant as a relative folder.
fn no_folder_hint(model: &str) -> String {
    let id = model.split_once('@').map_or(model, |(id, _)| id);
    format!("; there is no local folder named {id} either")
}

impl ModelFiles {
    /// The files of a local model folder (also used on hub snapshot folders).
    pub fn from_dir(dir: &Path) -> Result<Self, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::FolderNotFound(dir.to_path_buf()));
        }
        let names = list_files(dir)?;
        let place = format!("folder {}", dir.display());
        let (weights, weights_index) = match check_listing(&place, &names)? {
            WeightsLayout::Single => (vec![dir.join(WEIGHTS_FILE)], None),
            WeightsLayout::Sharded => {
                let index = dir.join(WEIGHTS_INDEX_FILE);
                let shards = read_shard_names(&index)?;
                let missing: Vec<String> = shards
                    .iter()
                    .filter(|shard| !dir.join(shard).is_file())
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    return Err(SourceError::MissingShards {
                        index,
                        place,
                        missing,
                    });
                }
                (shards.iter().map(|s| dir.join(s)).collect(), Some(index))
            }
        };
        let optional = |name: &str| names.contains(name).then(|| dir.join(name));
        Ok(Self {
            dir: dir.to_path_buf(),
            commit: None,
            config: dir.join(CONFIG_FILE),
            generation_config: optional(GENERATION_CONFIG_FILE),
            tokenizer: dir.join(TOKENIZER_FILE),
            tokenizer_config: optional(TOKENIZER_CONFIG_FILE),
            chat_template: CHAT_TEMPLATE_FILES.iter().find_map(|name| optional(name)),
            weights,
            weights_index,
        })
    }
}

/// The names of the plain files (or links to files) directly inside `dir`.
fn list_files(dir: &Path) -> Result<BTreeSet<String>, SourceError> {
    let io = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if let (true, Some(name)) = (path.is_file(), path.file_name().and_then(|n| n.to_str())) {
            names.insert(name.to_string());
        }
    }
    Ok(names)
}

/// How the weights of a model are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WeightsLayout {
    /// `model.safetensors`.
    Single,
    /// `model.safetensors.index.json` and its shards.
    Sharded,
}

/// Checks that the files `names` of `place` hold a model (config, tokenizer, safetensors
/// weights) and returns how its weights are stored; the same rules for a folder and for a
/// hub file list, so the hub is refused before anything is downloaded.
fn check_listing(place: &str, names: &BTreeSet<String>) -> Result<WeightsLayout, SourceError> {
    let missing: Vec<String> = [CONFIG_FILE, TOKENIZER_FILE]
        .into_iter()
        .filter(|name| !names.contains(*name))
        .map(str::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::MissingFiles {
            place: place.to_string(),
            missing,
        });
    }
    choose_weights(place, names)
}

/// The weights layout among the files `names` of `place`; as transformers, a single file
/// wins over an index.
fn choose_weights(place: &str, names: &BTreeSet<String>) -> Result<WeightsLayout, SourceError> {
    if names.contains(WEIGHTS_FILE) {
        return Ok(WeightsLayout::Single);
    }
    if names.contains(WEIGHTS_INDEX_FILE) {
        return Ok(WeightsLayout::Sharded);
    }
    let pickles: Vec<String> = names
        .iter()
        .filter(|n| is_pickle_weights(n))
        .cloned()
        .collect();
    if !pickles.is_empty() {
        return Err(SourceError::PickleOnly {
            place: place.to_string(),
            files: pickles,
        });
    }
    Err(SourceError::NoWeights {
        place: place.to_string(),
        other_safetensors: names
            .iter()
            .filter(|n| n.ends_with(".safetensors"))
            .cloned()
            .collect(),
    })
}

/// PyTorch pickle weights as transformers and older tools write them (`pytorch_model.bin`,
/// its shards and index, `*.pth`, `*.pt`, `*.ckpt`); other `.bin` files such as
/// `training_args.bin` are not weights.
fn is_pickle_weights(name: &str) -> bool {
    let weights_bin = (name.starts_with("pytorch_model") || name.starts_with("model"))
        && (name.ends_with(".bin") || name.ends_with(".bin.index.json"));
    weights_bin || name.ends_with(".pth") || name.ends_with(".pt") || name.ends_with(".ckpt")
}

/// The index file as written by transformers (`metadata` is not needed).
#[derive(serde::Deserialize)]
struct WeightIndex {
    weight_map: BTreeMap<String, String>,
}

/// The shard files of an index: the `weight_map` values, deduplicated, in sorted order.
pub fn read_shard_names(index: &Path) -> Result<Vec<String>, SourceError> {
    let text = std::fs::read_to_string(index).map_err(|source| SourceError::Io {
        path: index.to_path_buf(),
        source,
    })?;
    parse_shard_names(&text).map_err(|message| SourceError::BadIndex {
        path: index.to_path_buf(),
        message,
    })
}

/// [`read_shard_names`] on the text of an index. Shard names must be relative paths that
/// stay inside the model folder and end in `.safetensors`.
pub fn parse_shard_names(text: &str) -> Result<Vec<String>, String> {
    let index: WeightIndex = serde_json::from_str(text).map_err(|e| {
        format!("not a safetensors index ({e}); expected {{\"weight_map\": {{tensor name: shard file}}}}")
    })?;
    let shards: BTreeSet<String> = index.weight_map.into_values().collect();
    if shards.is_empty() {
        return Err("weight_map is empty: the index lists no shard".to_string());
    }
    for shard in &shards {
        let inside = Path::new(shard)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !inside || shard.is_empty() {
            return Err(format!(
                "weight_map names the shard '{shard}', which is not a file inside the model folder"
            ));
        }
        if !shard.ends_with(".safetensors") {
            return Err(format!(
                "weight_map names the shard '{shard}', which is not a .safetensors file; xmrc-lens reads safetensors only"
            ));
        }
    }
    Ok(shards.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// Resolution.

/// One GGUF model file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufFiles {
    pub file: PathBuf,
    /// The hub commit the file belongs to; `None` for a local file.
    pub commit: Option<String>,
}

/// What a `--model` value resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolvedModel {
    /// A transformers folder (config.json, tokenizer.json, safetensors).
    Folder(ModelFiles),
    /// One GGUF file.
    Gguf(GgufFiles),
}

impl ResolvedModel {
    /// The files holding the weights.
    pub fn weight_files(&self) -> Vec<PathBuf> {
        match self {
            Self::Folder(files) => files.weights.clone(),
            Self::Gguf(g) => vec![g.file.clone()],
        }
    }

    /// The folder the model's files are in.
    pub fn dir(&self) -> PathBuf {
        match self {
            Self::Folder(files) => files.dir.clone(),
            Self::Gguf(g) => g.file.parent().map(Path::to_path_buf).unwrap_or_default(),
        }
    }

    pub fn commit(&self) -> Option<&str> {
        match self {
            Self::Folder(files) => files.commit.as_deref(),
            Self::Gguf(g) => g.commit.as_deref(),
        }
    }
}

/// A local folder: transformers files when it has a config.json, else its one GGUF file.
pub fn resolve_local_dir(dir: &Path) -> Result<ResolvedModel, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::FolderNotFound(dir.to_path_buf()));
    }
    if dir.join(CONFIG_FILE).is_file() {
        return ModelFiles::from_dir(dir).map(ResolvedModel::Folder);
    }
    let ggufs = gguf_files_in(dir).map_err(|e| SourceError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    match ggufs.as_slice() {
        [] => ModelFiles::from_dir(dir).map(ResolvedModel::Folder),
        [one] => Ok(ResolvedModel::Gguf(GgufFiles {
            file: one.clone(),
            commit: None,
        })),
        many => Err(SourceError::ManyGguf {
            place: format!("folder {}", dir.display()),
            files: many
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
        }),
    }
}

/// Resolves any `--model` value: folders and GGUF files, local or from the hub (see
/// [`resolve`] for the hub rules).
pub fn resolve_model(
    model: &ModelRef,
    settings: &HubSettings,
) -> Result<ResolvedModel, SourceError> {
    match model {
        ModelRef::Local(dir) => resolve_local_dir(dir),
        ModelRef::GgufFile(file) => {
            if file.is_file() {
                Ok(ResolvedModel::Gguf(GgufFiles {
                    file: file.clone(),
                    commit: None,
                }))
            } else {
                Err(SourceError::FolderNotFound(file.clone()))
            }
        }
        ModelRef::Hub { .. } => resolve(model, settings).map(ResolvedModel::Folder),
        ModelRef::HubGguf {
            repo_id,
            revision,
            file,
        } => {
            let repo = Repo::with_revision(repo_id.clone(), RepoType::Model, revision.clone());
            resolve_hub_gguf(model, &repo, file, settings).map(ResolvedModel::Gguf)
        }
    }
}

/// The files of `model`: a local folder directly; a hub model through the HF cache of
/// `settings`, downloading what is missing unless `settings.offline`. When the hub cannot be
/// reached, a complete cached copy of the revision is used instead. GGUF values are
/// [`resolve_model`]'s.
pub fn resolve(model: &ModelRef, settings: &HubSettings) -> Result<ModelFiles, SourceError> {
    match model {
        ModelRef::Local(dir) => ModelFiles::from_dir(dir),
        ModelRef::GgufFile(_) | ModelRef::HubGguf { .. } => Err(SourceError::Hub {
            model: model.to_string(),
            message: "a GGUF model is not a model folder".to_string(),
        }),
        ModelRef::Hub { repo_id, revision } => {
            let repo = Repo::with_revision(repo_id.clone(), RepoType::Model, revision.clone());
            if settings.offline {
                resolve_cached(
                    model,
                    &repo,
                    settings,
                    "offline mode (HF_HUB_OFFLINE) does not ask the hub",
                )
            } else {
                resolve_online(model, &repo, settings)
            }
        }
    }
}

/// [`resolve_model`] with the HF settings of the environment (`HF_HOME`, `HF_HUB_OFFLINE`,
/// `HF_TOKEN`, `HF_ENDPOINT`).
pub fn resolve_from_env(model: &ModelRef) -> anyhow::Result<ResolvedModel> {
    resolve_from_env_with(model, None)
}

/// [`resolve_from_env`], with the progress of any download sent to `progress` instead of
/// hf-hub's stderr bar.
pub fn resolve_from_env_with(
    model: &ModelRef,
    progress: Option<DownloadSink>,
) -> anyhow::Result<ResolvedModel> {
    match model {
        ModelRef::Local(dir) => Ok(resolve_local_dir(dir)?),
        ModelRef::GgufFile(file) => Ok(resolve_model(
            model,
            &HubSettings::offline_at(file.parent().unwrap_or(Path::new("."))),
        )?),
        ModelRef::Hub { .. } | ModelRef::HubGguf { .. } => {
            let settings = HubSettings {
                progress,
                ..HubSettings::from_env()?
            };
            Ok(resolve_model(model, &settings)?)
        }
    }
}

/// One GGUF file of a hub repository: from the cache, or downloaded into it.
fn resolve_hub_gguf(
    model: &ModelRef,
    repo: &Repo,
    file: &str,
    settings: &HubSettings,
) -> Result<GgufFiles, SourceError> {
    let cached = |reason: &str| -> Result<GgufFiles, SourceError> {
        let not_cached = |missing: String| SourceError::NotCached {
            model: model.to_string(),
            cache: settings.cache_dir.clone(),
            missing,
            reason: reason.to_string(),
        };
        let snapshot = cached_snapshot(&settings.cache_dir, repo).ok_or_else(|| {
            not_cached(format!(
                "revision {} of {} is",
                repo.revision(),
                repo.folder_name()
            ))
        })?;
        let path = snapshot.join(file);
        if !path.is_file() {
            return Err(not_cached(format!(
                "{file} (from the snapshot folder {}) is",
                snapshot.display()
            )));
        }
        Ok(GgufFiles {
            file: path,
            commit: snapshot
                .file_name()
                .and_then(|c| c.to_str())
                .map(str::to_string),
        })
    };
    if settings.offline {
        return cached("offline mode (HF_HUB_OFFLINE) does not ask the hub");
    }
    let hub_error = |message: String| SourceError::Hub {
        model: model.to_string(),
        message,
    };
    let (api_repo, info) = match ask_hub(model, repo, settings, cached)? {
        HubAnswer::Listed(listed) => *listed,
        HubAnswer::Cached(files) => return Ok(files),
    };
    let names: BTreeSet<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    if !names.contains(file) {
        let ggufs = gguf_names(&names);
        return Err(hub_error(if ggufs.is_empty() {
            format!("the repository has no file {file} and no GGUF file at all")
        } else {
            format!(
                "the repository has no file {file}; its GGUF files: {}",
                list(&ggufs)
            )
        }));
    }
    let snapshot = snapshot_dir(settings, repo, &info.sha);
    let fetcher = Fetcher {
        repo: &api_repo,
        snapshot: &snapshot,
        model,
        progress: settings.progress.as_ref(),
    };
    let path = fetcher.fetch(file)?;
    Ok(GgufFiles {
        file: path,
        commit: Some(info.sha),
    })
}

/// The cached snapshot of the revision, without the network.
fn resolve_cached(
    model: &ModelRef,
    repo: &Repo,
    settings: &HubSettings,
    reason: &str,
) -> Result<ModelFiles, SourceError> {
    let cache = &settings.cache_dir;
    let not_cached = |missing: String| SourceError::NotCached {
        model: model.to_string(),
        cache: cache.clone(),
        missing,
        reason: reason.to_string(),
    };
    let repo_dir = cache.join(repo.folder_name());
    if !repo_dir.is_dir() {
        return Err(not_cached(format!(
            "the repository (folder {}) is",
            repo.folder_name()
        )));
    }
    let Some(snapshot) = cached_snapshot(cache, repo) else {
        return Err(not_cached(format!(
            "revision {} (no {}/refs/{} and no snapshot of that name) is",
            repo.revision(),
            repo.folder_name(),
            repo.revision()
        )));
    };
    let commit = snapshot
        .file_name()
        .and_then(|c| c.to_str())
        .map(str::to_string);
    let in_snapshot = |files: &[String]| {
        format!(
            "{} (from the snapshot folder {}) {}",
            list(files),
            snapshot.display(),
            if files.len() == 1 { "is" } else { "are" }
        )
    };
    match ModelFiles::from_dir(&snapshot) {
        Ok(files) => Ok(ModelFiles { commit, ..files }),
        Err(SourceError::MissingFiles { missing, .. })
        | Err(SourceError::MissingShards { missing, .. }) => Err(not_cached(in_snapshot(&missing))),
        Err(SourceError::NoWeights { .. }) => Err(not_cached(in_snapshot(&[format!(
            "{WEIGHTS_FILE} or {WEIGHTS_INDEX_FILE}"
        )]))),
        Err(other) => Err(other),
    }
}

/// The GGUF files among a repository's file names.
fn gguf_names(names: &BTreeSet<String>) -> Vec<String> {
    names
        .iter()
        .filter(|n| is_gguf_path(Path::new(n)))
        .cloned()
        .collect()
}

/// The cache's snapshot folder of commit `sha`, where downloads of that commit land.
fn snapshot_dir(settings: &HubSettings, repo: &Repo, sha: &str) -> PathBuf {
    hf_hub::Cache::new(settings.cache_dir.clone())
        .repo(repo.clone())
        .pointer_path(sha)
}

/// What the hub said about a revision: its file list, or (no answer) the cached copy.
enum HubAnswer<T> {
    Listed(Box<(ApiRepo, hf_hub::api::RepoInfo)>),
    Cached(T),
}

/// Asks the hub for the revision's file list. A refusal (404, 401/403) is an error that a
/// cached copy must not hide; no answer at all falls back, as huggingface_hub does, to
/// `cached` (a complete cached copy) with a warning.
fn ask_hub<T>(
    model: &ModelRef,
    repo: &Repo,
    settings: &HubSettings,
    cached: impl FnOnce(&str) -> Result<T, SourceError>,
) -> Result<HubAnswer<T>, SourceError> {
    use std::io::IsTerminal;
    let hub_error = |message: String| SourceError::Hub {
        model: model.to_string(),
        message,
    };
    let api = settings
        .api(std::io::stderr().is_terminal() && settings.progress.is_none())
        .map_err(|e| hub_error(e.to_string()))?;
    let api_repo = api.repo(repo.clone());
    match api_repo.info() {
        Ok(info) => Ok(HubAnswer::Listed(Box::new((api_repo, info)))),
        Err(ApiError::RequestError(error)) => {
            if let Some(message) = refusal_message(&error) {
                return Err(hub_error(message));
            }
            let reason = format!("the hub could not be reached: {error}");
            let files = cached(&reason)?;
            tracing::warn!("{reason}; using the cached copy of {model}");
            Ok(HubAnswer::Cached(files))
        }
        Err(other) => Err(hub_error(other.to_string())),
    }
}

/// Asks the hub which files the revision has, downloads the needed ones that the cache
/// lacks (shards only after reading the index), and returns the snapshot folder's files.
fn resolve_online(
    model: &ModelRef,
    repo: &Repo,
    settings: &HubSettings,
) -> Result<ModelFiles, SourceError> {
    let hub_error = |message: String| SourceError::Hub {
        model: model.to_string(),
        message,
    };
    let cached = |reason: &str| resolve_cached(model, repo, settings, reason);
    let (api_repo, info) = match ask_hub(model, repo, settings, cached)? {
        HubAnswer::Listed(listed) => *listed,
        HubAnswer::Cached(files) => return Ok(files),
    };
    let names: BTreeSet<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let place = format!("hub repository {model}");
    let ggufs = gguf_names(&names);
    if !names.contains(CONFIG_FILE) && !ggufs.is_empty() {
        let (ModelRef::Hub { repo_id, revision }
        | ModelRef::HubGguf {
            repo_id, revision, ..
        }) = model
        else {
            return Err(hub_error("not a hub model".into()));
        };
        let at = if revision == DEFAULT_REVISION {
            String::new()
        } else {
            format!("@{revision}")
        };
        return Err(hub_error(format!(
            "it holds GGUF files, not a transformers folder: name one as {repo_id}{at}:FILE.gguf (files: {})",
            list(&ggufs)
        )));
    }
    let layout = check_listing(&place, &names)?;

    let snapshot = snapshot_dir(settings, repo, &info.sha);
    let fetcher = Fetcher {
        repo: &api_repo,
        snapshot: &snapshot,
        model,
        progress: settings.progress.as_ref(),
    };
    for name in [CONFIG_FILE, TOKENIZER_FILE].into_iter().chain(
        OPTIONAL_FILES
            .into_iter()
            .filter(|name| names.contains(*name)),
    ) {
        fetcher.fetch(name)?;
    }
    match layout {
        WeightsLayout::Single => {
            fetcher.fetch(WEIGHTS_FILE)?;
        }
        WeightsLayout::Sharded => {
            let index = fetcher.fetch(WEIGHTS_INDEX_FILE)?;
            let shards = read_shard_names(&index)?;
            let absent: Vec<String> = shards
                .iter()
                .filter(|s| !names.contains(*s))
                .cloned()
                .collect();
            if !absent.is_empty() {
                return Err(SourceError::MissingShards {
                    index,
                    place,
                    missing: absent,
                });
            }
            for shard in &shards {
                fetcher.fetch(shard)?;
            }
        }
    }
    let files = ModelFiles::from_dir(&snapshot)?;
    Ok(ModelFiles {
        commit: Some(info.sha),
        ..files
    })
}

pub use crate::hf::hub::{DownloadProgress, DownloadSink};

/// hf-hub's progress callbacks, forwarded to the sink.
struct SinkProgress {
    sink: DownloadSink,
    file: String,
    done: u64,
    total: u64,
}

impl hf_hub::api::Progress for SinkProgress {
    fn init(&mut self, size: usize, _filename: &str) {
        self.total = size as u64;
        self.done = 0;
        self.report();
    }

    fn update(&mut self, size: usize) {
        self.done += size as u64;
        self.report();
    }

    fn finish(&mut self) {
        self.done = self.total;
        self.report();
    }
}

impl SinkProgress {
    fn report(&self) {
        self.sink.send(DownloadProgress {
            file: self.file.clone(),
            done: self.done,
            total: self.total,
        });
    }
}

/// Downloads files of one commit into its snapshot folder.
struct Fetcher<'a> {
    repo: &'a ApiRepo,
    snapshot: &'a Path,
    model: &'a ModelRef,
    progress: Option<&'a DownloadSink>,
}

impl Fetcher<'_> {
    /// The file in the snapshot folder, downloaded when it is not there yet. (hf-hub's own
    /// `get` looks under the commit that `refs/<revision>` named before, which may be an
    /// older one.)
    fn fetch(&self, name: &str) -> Result<PathBuf, SourceError> {
        let target = self.snapshot.join(name);
        if target.is_file() {
            return Ok(target);
        }
        tracing::info!("downloading {name} of {}", self.model);
        let downloaded = match self.progress {
            Some(sink) => self.repo.download_with_progress(
                name,
                SinkProgress {
                    sink: sink.clone(),
                    file: name.to_string(),
                    done: 0,
                    total: 0,
                },
            ),
            None => self.repo.download(name),
        };
        let path = downloaded.map_err(|e| SourceError::Hub {
            model: self.model.to_string(),
            message: format!("downloading {name}: {e}"),
        })?;
        if path != target {
            return Err(SourceError::Hub {
                model: self.model.to_string(),
                message: format!(
                    "{name} arrived as {} instead of {}: the revision moved to a new commit while downloading; run again",
                    path.display(),
                    target.display()
                ),
            });
        }
        Ok(path)
    }
}

/// The hub's refusals (no such model or revision, no access), which a cached copy must not
/// hide; `None` for failures to get an answer at all.
fn refusal_message(error: &ureq::Error) -> Option<String> {
    match error {
        ureq::Error::StatusCode(404) => Some(
            "the hub has no such model or revision (404); check the id and the @revision, or set HF_TOKEN for a private model"
                .to_string(),
        ),
        ureq::Error::StatusCode(status @ (401 | 403)) => Some(format!(
            "access denied ({status}): the model is gated or private; accept its terms on the hub and set HF_TOKEN to a token with read access"
        )),
        _ => None,
    }
}

/// True when `path` names a GGUF file (by its extension).
pub fn is_gguf_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// The GGUF files directly inside `dir`, sorted.
pub fn gguf_files_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    use anyhow::Context as _;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && is_gguf_path(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<ModelRef, ModelRefError> {
        ModelRef::parse_with(value, |_| PathKind::Missing)
    }

    #[test]
    fn hub_ids_with_and_without_revision() {
        assert_eq!(
            parse("Qwen/Qwen2.5-0.5B").unwrap(),
            ModelRef::hub("Qwen/Qwen2.5-0.5B", None)
        );
        assert_eq!(parse("gpt2").unwrap(), ModelRef::hub("gpt2", Some("main")));
        assert_eq!(
            parse("org/name@v1.0").unwrap(),
            ModelRef::hub("org/name", Some("v1.0"))
        );
        assert_eq!(
            parse("org/name@refs/pr/3").unwrap(),
            ModelRef::hub("org/name", Some("refs/pr/3"))
        );
        assert_eq!(
            parse(" org/name ").unwrap(),
            ModelRef::hub("org/name", None)
        );
    }

    #[test]
    fn display_round_trips() {
        for value in ["org/name", "org/name@dev", "gpt2@0123abcd", "/models/x"] {
            let parsed = ModelRef::parse_with(value, |p| {
                if p.is_absolute() {
                    PathKind::Folder
                } else {
                    PathKind::Missing
                }
            })
            .unwrap();
            assert_eq!(parsed.to_string(), value);
        }
        assert_eq!(parse("org/name@main").unwrap().to_string(), "org/name");
    }

    #[test]
    fn existing_folders_win_over_hub_ids() {
        let parsed = ModelRef::parse_with("org/name", |_| PathKind::Folder).unwrap();
        assert_eq!(parsed, ModelRef::Local(PathBuf::from("org/name")));
        let err = ModelRef::parse_with("org/name/config.json", |_| PathKind::File).unwrap_err();
        assert_eq!(
            err,
            ModelRefError::NotAFolder("org/name/config.json".into())
        );
        assert!(
            err.to_string().contains("perhaps --model org/name"),
            "{err}"
        );
    }

    #[test]
    fn missing_paths_are_not_hub_ids() {
        for value in [
            "./x",
            "../x",
            "/abs/model",
            "a/b/c",
            "dir/",
            "C:\\models\\x",
            ".",
            "~/models/x",
            "a\\b",
        ] {
            let err = parse(value).unwrap_err();
            assert!(
                matches!(err, ModelRefError::FolderNotFound(_)),
                "{value}: {err:?}"
            );
            assert!(err.to_string().starts_with("folder not found"), "{err}");
        }
    }

    #[test]
    fn bad_hub_ids_say_why() {
        let cases = [
            ("org/", "folder not found"),
            ("-org/name", "starts or ends"),
            ("org/na me", "' '"),
            ("org--x/name", "'--'"),
            ("org/name.git", ".git"),
            ("org/name@", "empty"),
            ("org/name@a b", "white space"),
            ("org/name@../x", "'..'"),
            ("/", "folder not found"),
            ("@main", "empty organisation or name"),
        ];
        for (value, needle) in cases {
            let err = parse(value).unwrap_err().to_string();
            assert!(err.contains(needle), "{value}: {err}");
        }
        assert_eq!(parse("  ").unwrap_err(), ModelRefError::Empty);
        let long = "a".repeat(97);
        assert!(parse(&long).unwrap_err().to_string().contains("96"));
    }

    #[test]
    fn shard_names_are_sorted_unique_and_inside() {
        let index = r#"{"metadata": {"total_size": 8}, "weight_map": {
            "b": "model-00002-of-00002.safetensors",
            "a": "model-00001-of-00002.safetensors",
            "c": "model-00001-of-00002.safetensors"}}"#;
        assert_eq!(
            parse_shard_names(index).unwrap(),
            [
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors"
            ]
        );
        for (text, needle) in [
            (r#"{"weight_map": {}}"#, "empty"),
            (
                r#"{"weight_map": {"a": "../x.safetensors"}}"#,
                "inside the model folder",
            ),
            (
                r#"{"weight_map": {"a": "/x.safetensors"}}"#,
                "inside the model folder",
            ),
            (
                r#"{"weight_map": {"a": "pytorch_model.bin"}}"#,
                "safetensors only",
            ),
            (r#"{"tensors": {}}"#, "weight_map"),
            ("not json", "not a safetensors index"),
        ] {
            let err = parse_shard_names(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn pickle_weights_are_told_from_other_bins() {
        for name in [
            "pytorch_model.bin",
            "pytorch_model-00001-of-00002.bin",
            "pytorch_model.bin.index.json",
            "consolidated.00.pth",
            "model.bin",
            "weights.pt",
        ] {
            assert!(is_pickle_weights(name), "{name}");
        }
        for name in ["training_args.bin", "tokenizer.model", "model.safetensors"] {
            assert!(!is_pickle_weights(name), "{name}");
        }
    }

    #[test]
    fn single_file_wins_over_index() {
        let names: BTreeSet<String> = [WEIGHTS_FILE, WEIGHTS_INDEX_FILE].map(String::from).into();
        assert_eq!(choose_weights("x", &names).unwrap(), WeightsLayout::Single);
        let names: BTreeSet<String> = ["consolidated.safetensors".to_string()].into();
        let err = choose_weights("folder x", &names).unwrap_err().to_string();
        assert!(err.contains("found consolidated.safetensors"), "{err}");
    }
}

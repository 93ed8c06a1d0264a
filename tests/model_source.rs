#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Model sources: local folders, a pre-populated Hugging Face cache (offline), a hub that
//! cannot be reached, and a stand-in hub on localhost that serves the hub's API, so the
//! download path runs without the network.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use xmrc_lens::hf::chat_template::ChatTemplate;
use xmrc_lens::hf::hub::HubSettings;
use xmrc_lens::hf::tokenizer::Tokenizer;
use xmrc_lens::model::generation_config::SpecialIds;
use xmrc_lens::model::source::{resolve, ModelFiles, ModelRef, SourceError};

const FIXTURE: &str = "tests/fixtures/tokenizers/chatml";
const COMMIT_A: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_B: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// A small but real safetensors file with one tensor.
fn safetensors_bytes(name: &str, values: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![values.len()], &data)
            .unwrap();
    safetensors::serialize([(name, view)], None).unwrap()
}

/// The files of a tiny model, by relative name.
fn tiny_model(sharded: bool) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for name in ["tokenizer.json", "tokenizer_config.json"] {
        files.insert(
            name.to_string(),
            std::fs::read(Path::new(FIXTURE).join(name)).unwrap(),
        );
    }
    files.insert(
        "config.json".to_string(),
        br#"{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 4,
            "num_hidden_layers": 1, "vocab_size": 4, "bos_token_id": null, "eos_token_id": 2}"#
            .to_vec(),
    );
    files.insert(
        "generation_config.json".to_string(),
        br#"{"eos_token_id": [3, 2], "pad_token_id": 1}"#.to_vec(),
    );
    if sharded {
        files.insert(
            "model-00001-of-00002.safetensors".to_string(),
            safetensors_bytes("a", &[1.0, 2.0]),
        );
        files.insert(
            "model-00002-of-00002.safetensors".to_string(),
            safetensors_bytes("b", &[3.0]),
        );
        files.insert(
            "model.safetensors.index.json".to_string(),
            br#"{"metadata": {"total_size": 12}, "weight_map": {
                "b": "model-00002-of-00002.safetensors",
                "a": "model-00001-of-00002.safetensors",
                "a2": "model-00001-of-00002.safetensors"}}"#
                .to_vec(),
        );
    } else {
        files.insert(
            "model.safetensors".to_string(),
            safetensors_bytes("a", &[1.0, 2.0, 3.0]),
        );
    }
    files
}

/// The tiny model with PyTorch pickle weights instead of safetensors.
fn pickle_only_model() -> BTreeMap<String, Vec<u8>> {
    let mut files = tiny_model(false);
    files.remove("model.safetensors");
    files.insert("pytorch_model.bin".to_string(), b"pickle".to_vec());
    files
}

fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Puts `files` into a HF cache as huggingface_hub lays it out: content in `blobs/`, the
/// snapshot folder of `commit` holding links to them (plain copies off unix), and
/// `refs/<revision>` naming the commit (when a revision is given).
fn cache_model(
    cache: &Path,
    repo_id: &str,
    revision: Option<&str>,
    commit: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> PathBuf {
    let repo_dir = cache.join(format!("models--{}", repo_id.replace('/', "--")));
    let snapshot = repo_dir.join("snapshots").join(commit);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo_dir.join("blobs")).unwrap();
    for (name, bytes) in files {
        let blob = repo_dir.join("blobs").join(format!("{commit}-{name}"));
        std::fs::write(&blob, bytes).unwrap();
        let target = snapshot.join(name);
        #[cfg(unix)]
        std::os::unix::fs::symlink(&blob, &target).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&blob, &target).unwrap();
    }
    if let Some(revision) = revision {
        let ref_file = repo_dir.join("refs").join(revision);
        std::fs::create_dir_all(ref_file.parent().unwrap()).unwrap();
        std::fs::write(ref_file, commit).unwrap();
    }
    snapshot
}

/// The tiny model cached as `org/tiny`, `main` at [`COMMIT_A`]; its snapshot folder.
fn cache_tiny(cache: &Path) -> PathBuf {
    cache_model(
        cache,
        "org/tiny",
        Some("main"),
        COMMIT_A,
        &tiny_model(false),
    )
}

fn offline(cache: &Path, value: &str) -> Result<ModelFiles, SourceError> {
    resolve(&value.parse().unwrap(), &HubSettings::offline_at(cache))
}

/// Fails with the whole text when `needle` is not in it.
fn assert_mentions(text: &str, needle: impl AsRef<str>) {
    let needle = needle.as_ref();
    assert!(text.contains(needle), "expected {needle:?} in: {text}");
}

// ---------------------------------------------------------------------------------------------
// Local folders.

#[test]
fn local_folder_with_one_weights_file() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &tiny_model(false));
    let model: ModelRef = dir.path().to_str().unwrap().parse().unwrap();
    assert_eq!(model, ModelRef::Local(dir.path().to_path_buf()));
    let files = resolve(&model, &HubSettings::offline_at(Path::new("/nonexistent"))).unwrap();
    let d = dir.path();
    assert_eq!(
        files,
        ModelFiles {
            dir: d.to_path_buf(),
            commit: None,
            config: d.join("config.json"),
            generation_config: Some(d.join("generation_config.json")),
            tokenizer: d.join("tokenizer.json"),
            tokenizer_config: Some(d.join("tokenizer_config.json")),
            chat_template: None,
            weights: vec![d.join("model.safetensors")],
            weights_index: None,
        }
    );
    std::fs::write(d.join("chat_template.json"), r#"{"chat_template": "x"}"#).unwrap();
    std::fs::write(d.join("chat_template.jinja"), "y").unwrap();
    let files = ModelFiles::from_dir(d).unwrap();
    assert_eq!(files.chat_template, Some(d.join("chat_template.jinja")));
}

#[test]
fn local_sharded_weights_follow_the_index() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &tiny_model(true));
    let files = ModelFiles::from_dir(dir.path()).unwrap();
    assert_eq!(
        files.weights,
        [
            dir.path().join("model-00001-of-00002.safetensors"),
            dir.path().join("model-00002-of-00002.safetensors")
        ]
    );
    assert_eq!(
        files.weights_index,
        Some(dir.path().join("model.safetensors.index.json"))
    );

    std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors")).unwrap();
    let err = ModelFiles::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, SourceError::MissingShards { .. }), "{err:?}");
    let shown = err.to_string();
    assert_mentions(&shown, "model.safetensors.index.json lists 1 shard");
    assert_mentions(&shown, "model-00002-of-00002.safetensors");

    std::fs::write(dir.path().join("model.safetensors.index.json"), "{}").unwrap();
    let err = ModelFiles::from_dir(dir.path()).unwrap_err().to_string();
    assert_mentions(&err, "not a safetensors index");
}

#[test]
fn pickle_weights_are_refused_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = pickle_only_model();
    files.insert("training_args.bin".to_string(), b"pickle".to_vec());
    write_files(dir.path(), &files);
    let err = ModelFiles::from_dir(dir.path()).unwrap_err();
    let SourceError::PickleOnly { files, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(files, &["pytorch_model.bin"]);
    let shown = err.to_string();
    for needle in [
        dir.path().to_str().unwrap(),
        "safetensors only",
        "save_pretrained",
        "refs/pr/N",
    ] {
        assert_mentions(&shown, needle);
    }
    // With safetensors beside them, pickles are simply ignored.
    std::fs::write(
        dir.path().join("model.safetensors"),
        safetensors_bytes("a", &[1.0]),
    )
    .unwrap();
    assert!(ModelFiles::from_dir(dir.path()).is_ok());
}

#[test]
fn missing_files_name_folder_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModelFiles::from_dir(dir.path()).unwrap_err().to_string();
    assert_mentions(
        &err,
        format!(
            "folder {} has no config.json, tokenizer.json",
            dir.path().display()
        ),
    );
    let mut files = tiny_model(false);
    files.remove("model.safetensors");
    write_files(dir.path(), &files);
    let err = ModelFiles::from_dir(dir.path()).unwrap_err().to_string();
    assert_mentions(&err, "has no weights: expected model.safetensors");
    let err = ModelFiles::from_dir(&dir.path().join("gone"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("model folder not found"), "{err}");
}

#[test]
fn a_file_is_not_a_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &tiny_model(false));
    let config = dir.path().join("config.json");
    let err = config
        .to_str()
        .unwrap()
        .parse::<ModelRef>()
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "is a file, not a model folder");
    assert_mentions(&err, format!("perhaps --model {}", dir.path().display()));
}

// ---------------------------------------------------------------------------------------------
// The HF cache, offline.

#[test]
fn offline_hub_model_resolves_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let snapshot = cache_tiny(cache.path());
    let files = offline(cache.path(), "org/tiny").unwrap();
    assert_eq!(files.dir, snapshot);
    assert_eq!(files.commit.as_deref(), Some(COMMIT_A));
    assert_eq!(files.weights, [snapshot.join("model.safetensors")]);

    // What loading reads next works on the snapshot folder.
    let tokenizer = Tokenizer::from_file(&files.tokenizer).unwrap();
    assert!(tokenizer.token_to_id("<|im_end|>").is_some());
    let template = ChatTemplate::from_model_dir(&files.dir).unwrap();
    assert!(
        template.is_some(),
        "the chatml tokenizer_config.json has a template"
    );
    let ids = SpecialIds::from_model_files(&files).unwrap();
    assert_eq!(
        (ids.bos, ids.eos.as_slice(), ids.pad),
        (None, &[2, 3][..], Some(1))
    );
    let bytes = std::fs::read(&files.weights[0]).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(tensors.names(), ["a"]);
}

#[test]
fn offline_revisions_branches_tags_and_commits() {
    let cache = tempfile::tempdir().unwrap();
    let mut old = tiny_model(false);
    old.remove("generation_config.json");
    cache_tiny(cache.path());
    let b = cache_model(cache.path(), "org/tiny", Some("v1"), COMMIT_B, &old);
    let files = offline(cache.path(), "org/tiny@v1").unwrap();
    assert_eq!(
        (files.dir.as_path(), files.generation_config),
        (b.as_path(), None)
    );
    // A commit hash needs no ref.
    let files = offline(cache.path(), &format!("org/tiny@{COMMIT_B}")).unwrap();
    assert_eq!(files.commit.as_deref(), Some(COMMIT_B));
    // Branch names with '/', and a ref file with a trailing newline.
    let pr = cache.path().join("models--org--tiny/refs/refs/pr/1");
    std::fs::create_dir_all(pr.parent().unwrap()).unwrap();
    std::fs::write(&pr, format!("{COMMIT_B}\n")).unwrap();
    assert_eq!(offline(cache.path(), "org/tiny@refs/pr/1").unwrap().dir, b);

    let err = offline(cache.path(), "org/tiny@v2").unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, SourceError::NotCached { .. }), "{err:?}");
    assert_mentions(&shown, "revision v2 (no models--org--tiny/refs/v2");
    assert_mentions(&shown, "HF_HUB_OFFLINE");
}

#[test]
fn offline_sharded_model_and_missing_pieces() {
    let cache = tempfile::tempdir().unwrap();
    let mut files = tiny_model(true);
    let snapshot = cache_model(cache.path(), "org/sharded", Some("main"), COMMIT_A, &files);
    let resolved = offline(cache.path(), "org/sharded").unwrap();
    assert_eq!(resolved.weights.len(), 2);
    assert!(resolved.weights.iter().all(|w| w.starts_with(&snapshot)));

    // A shard that never arrived: named, with the snapshot folder and the cache.
    std::fs::remove_file(snapshot.join("model-00002-of-00002.safetensors")).unwrap();
    let err = offline(cache.path(), "org/sharded")
        .unwrap_err()
        .to_string();
    assert_mentions(&err, format!(
            "model-00002-of-00002.safetensors (from the snapshot folder {}) is not in the Hugging Face cache {}",
            snapshot.display(),
            cache.path().display()
        ));

    files.remove("tokenizer.json");
    files.remove("config.json");
    cache_model(cache.path(), "org/partial", Some("main"), COMMIT_B, &files);
    let err = offline(cache.path(), "org/partial")
        .unwrap_err()
        .to_string();
    assert_mentions(
        &err,
        "config.json, tokenizer.json (from the snapshot folder",
    );
    assert_mentions(&err, "are not in the Hugging Face cache");

    let err = offline(cache.path(), "org/absent").unwrap_err().to_string();
    assert_mentions(
        &err,
        "the repository (folder models--org--absent) is not in",
    );
    assert_mentions(&err, "no local folder named org/absent");
}

#[test]
fn offline_pickle_only_snapshot_is_refused_not_reported_missing() {
    let cache = tempfile::tempdir().unwrap();
    let files = pickle_only_model();
    cache_model(cache.path(), "org/pickle", Some("main"), COMMIT_A, &files);
    let err = offline(cache.path(), "org/pickle").unwrap_err();
    assert!(matches!(err, SourceError::PickleOnly { .. }), "{err:?}");
}

#[test]
fn unreachable_hub_falls_back_to_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    cache_tiny(cache.path());
    let settings = HubSettings {
        cache_dir: cache.path().to_path_buf(),
        offline: false,
        token: Some("hf_never_shown".to_string()),
        endpoint: Some("http://127.0.0.1:9".to_string()),
        progress: None,
    };
    let files = resolve(&"org/tiny".parse().unwrap(), &settings).unwrap();
    assert_eq!(files.commit.as_deref(), Some(COMMIT_A));
    let err = resolve(&"org/other".parse().unwrap(), &settings)
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "the hub could not be reached");
    assert!(!err.contains("hf_never_shown"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// A stand-in hub on localhost.

/// One request the stand-in hub answered.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    range: Option<String>,
    authorization: Option<String>,
}

/// Serves `GET /api/models/<repo>/revision/<rev>` (the file list) and
/// `GET /<repo>/resolve/<rev>/<file>` (with `Range`, the way hf-hub asks: `bytes=0-0` for the
/// metadata, then `bytes=N-`), for one repository at one commit.
struct FakeHub {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeHub {
    fn start(repo_id: &str, commit: &str, files: BTreeMap<String, Vec<u8>>, status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let (repo_id, commit) = (repo_id.to_string(), commit.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let mut headers = BTreeMap::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let range = headers.get("range").cloned();
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    range: range.clone(),
                    authorization: headers.get("authorization").cloned(),
                });
                let response = answer(&repo_id, &commit, &files, status, &path, range.as_deref());
                let _ = stream.write_all(&response);
                let _ = stream.flush();
            }
        });
        Self { endpoint, seen }
    }

    fn settings(&self, cache: &Path) -> HubSettings {
        HubSettings {
            cache_dir: cache.to_path_buf(),
            offline: false,
            token: Some("hf_secret_token".to_string()),
            endpoint: Some(self.endpoint.clone()),
            progress: None,
        }
    }

    /// The files whose content was fetched (metadata probes left out), in order.
    fn downloaded(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.range.as_deref() != Some("bytes=0-0") && s.path.contains("/resolve/"))
            .map(|s| s.path.rsplit('/').next().unwrap().to_string())
            .collect()
    }
}

fn answer(
    repo_id: &str,
    commit: &str,
    files: &BTreeMap<String, Vec<u8>>,
    status: u16,
    path: &str,
    range: Option<&str>,
) -> Vec<u8> {
    let respond = |code: &str, headers: &[(&str, String)], body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {code}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    match status {
        401 => return respond("401 Unauthorized", &[], b"{}"),
        404 => return respond("404 Not Found", &[], b"{}"),
        _ => {}
    }
    if path.starts_with(&format!("/api/models/{repo_id}/revision/")) {
        let siblings: Vec<String> = files
            .keys()
            .map(|name| format!(r#"{{"rfilename": "{name}"}}"#))
            .collect();
        let body = format!(
            r#"{{"sha": "{commit}", "siblings": [{}]}}"#,
            siblings.join(",")
        );
        return respond(
            "200 OK",
            &[("Content-Type", "application/json".into())],
            body.as_bytes(),
        );
    }
    let prefix = format!("/{repo_id}/resolve/");
    let file = path
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, file)| file);
    let Some(bytes) = file.and_then(|f| files.get(f)) else {
        return respond("404 Not Found", &[], b"");
    };
    let start: usize = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = if range == Some("bytes=0-0") {
        1
    } else {
        bytes.len()
    };
    let etag = format!("\"blob-{}\"", file.unwrap_or("").replace('/', "-"));
    let headers = [
        ("ETag", etag),
        ("X-Repo-Commit", commit.to_string()),
        (
            "Content-Range",
            format!("bytes {start}-{}/{}", end - 1, bytes.len()),
        ),
    ];
    respond("206 Partial Content", &headers, &bytes[start..end])
}

#[test]
fn download_fetches_what_loading_needs_then_works_offline() {
    let mut files = tiny_model(true);
    files.insert("README.md".to_string(), b"# tiny".to_vec());
    files.insert("pytorch_model.bin".to_string(), b"pickle".to_vec());
    let hub = FakeHub::start("org/tiny", COMMIT_A, files, 200);
    let cache = tempfile::tempdir().unwrap();
    let model: ModelRef = "org/tiny".parse().unwrap();
    let resolved = resolve(&model, &hub.settings(cache.path())).unwrap();

    let snapshot = cache
        .path()
        .join("models--org--tiny/snapshots")
        .join(COMMIT_A);
    assert_eq!(resolved.dir, snapshot);
    assert_eq!(resolved.commit.as_deref(), Some(COMMIT_A));
    assert_eq!(resolved.weights.len(), 2);
    assert_eq!(
        hub.downloaded(),
        [
            "config.json",
            "tokenizer.json",
            "generation_config.json",
            "tokenizer_config.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ]
    );
    let seen = hub.seen.lock().unwrap().clone();
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some("Bearer hf_secret_token")));
    let shard = std::fs::read(&resolved.weights[1]).unwrap();
    assert_eq!(shard, safetensors_bytes("b", &[3.0]));

    // The cache now serves the same files without the hub, and a second online run
    // downloads nothing.
    assert_eq!(offline(cache.path(), "org/tiny").unwrap(), resolved);
    let before = hub.downloaded().len();
    assert_eq!(
        resolve(&model, &hub.settings(cache.path())).unwrap(),
        resolved
    );
    assert_eq!(hub.downloaded().len(), before);
}

/// A front end hears each file's download through the sink of its load, never a global.
#[test]
fn download_progress_goes_to_the_sink_of_the_load() {
    use std::sync::{Arc, Mutex};
    use xmrc_lens::model::source::{DownloadProgress, DownloadSink};
    let hub = FakeHub::start("org/tiny", COMMIT_A, tiny_model(false), 200);
    let cache = tempfile::tempdir().unwrap();
    let heard: Arc<Mutex<Vec<DownloadProgress>>> = Arc::default();
    let sink = {
        let heard = Arc::clone(&heard);
        DownloadSink::new(move |p| heard.lock().unwrap().push(p))
    };
    let settings = HubSettings {
        progress: Some(sink),
        ..hub.settings(cache.path())
    };
    let resolved = resolve(&"org/tiny".parse().unwrap(), &settings).unwrap();
    let heard = heard.lock().unwrap().clone();
    let weights = resolved.weights[0].file_name().unwrap().to_str().unwrap();
    let last = heard
        .iter()
        .rev()
        .find(|p| p.file == weights)
        .unwrap_or_else(|| panic!("no progress for {weights}: {heard:?}"));
    let size = std::fs::metadata(&resolved.weights[0]).unwrap().len();
    assert_eq!((last.done, last.total), (size, size), "{heard:?}");
    // Every downloaded file was reported, and only those.
    let mut files: Vec<&str> = heard.iter().map(|p| p.file.as_str()).collect();
    files.dedup();
    assert_eq!(files, hub.downloaded());
}

#[test]
fn hub_refusals_are_not_hidden_by_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    cache_tiny(cache.path());
    let model: ModelRef = "org/tiny".parse().unwrap();

    let hub = FakeHub::start("org/tiny", COMMIT_A, BTreeMap::new(), 404);
    let err = resolve(&model, &hub.settings(cache.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "no such model or revision (404)");
    assert_mentions(&err, "no local folder named org/tiny");

    let hub = FakeHub::start("org/tiny", COMMIT_A, BTreeMap::new(), 401);
    let err = resolve(&model, &hub.settings(cache.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "gated or private");
    assert!(!err.contains("hf_secret_token"), "{err}");
}

#[test]
fn hub_repositories_without_safetensors_download_nothing() {
    let files = pickle_only_model();
    let hub = FakeHub::start("org/old", COMMIT_A, files, 200);
    let cache = tempfile::tempdir().unwrap();
    let err = resolve(&"org/old".parse().unwrap(), &hub.settings(cache.path())).unwrap_err();
    assert!(matches!(err, SourceError::PickleOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("hub repository org/old"), "{err}");
    assert!(hub.downloaded().is_empty(), "{:?}", hub.downloaded());

    let mut files = tiny_model(false);
    files.remove("tokenizer.json");
    let hub = FakeHub::start("org/notok", COMMIT_A, files, 200);
    let err = resolve(&"org/notok".parse().unwrap(), &hub.settings(cache.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "hub repository org/notok has no tokenizer.json");
    assert!(hub.downloaded().is_empty());
}

#[test]
fn index_naming_a_shard_the_hub_lacks_is_caught_before_shards_download() {
    let mut files = tiny_model(true);
    files.remove("model-00002-of-00002.safetensors");
    let hub = FakeHub::start("org/broken", COMMIT_B, files, 200);
    let cache = tempfile::tempdir().unwrap();
    let err = resolve(
        &"org/broken@v1".parse().unwrap(),
        &hub.settings(cache.path()),
    )
    .unwrap_err()
    .to_string();
    assert_mentions(&err, "model-00002-of-00002.safetensors");
    assert_mentions(&err, "hub repository org/broken@v1");
    assert!(!hub.downloaded().iter().any(|f| f.ends_with(".safetensors")));
}

// ---------------------------------------------------------------------------------------------
// --model values.

proptest! {
    #[test]
    fn parsing_never_panics(value in "\\PC{0,40}") {
        let _ = value.parse::<ModelRef>();
    }

    #[test]
    fn valid_hub_ids_round_trip(
        org in "[a-zA-Z0-9]([a-zA-Z0-9_]{0,10}[a-zA-Z0-9])?",
        name in "[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,20}[a-zA-Z0-9])?",
        revision in proptest::option::of("[a-z0-9]{1,8}(/[a-z0-9]{1,4})?"),
    ) {
        prop_assume!(!name.contains("..") && !name.contains("--") && !name.ends_with(".git"));
        let id = format!("{org}/{name}");
        prop_assume!(!Path::new(&id).exists());
        let value = match &revision {
            Some(rev) => format!("{id}@{rev}"),
            None => id.clone(),
        };
        let parsed: ModelRef = value.parse().unwrap();
        prop_assert_eq!(&parsed, &ModelRef::hub(id, revision.as_deref()));
        let shown = parsed.to_string();
        prop_assert_eq!(shown.parse::<ModelRef>().unwrap(), parsed);
    }
}

// ---------------------------------------------------------------------------------------------
// GGUF models: a local file, a folder holding one, and `org/name[@rev]:FILE.gguf` from the hub.

fn tiny_gguf_bytes() -> Vec<u8> {
    std::fs::read("tests/fixtures/models/gguf/tiny-qwen2.q8_0.gguf").unwrap()
}

#[test]
fn gguf_file_and_folder_resolve_to_the_file() {
    use xmrc_lens::model::source::{resolve_model, GgufFiles, ResolvedModel};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.Q8_0.gguf");
    std::fs::write(&file, tiny_gguf_bytes()).unwrap();
    let settings = HubSettings::offline_at(dir.path());
    let by_file: ModelRef = file.to_str().unwrap().parse().unwrap();
    assert_eq!(by_file, ModelRef::GgufFile(file.clone()));
    let expected = ResolvedModel::Gguf(GgufFiles {
        file: file.clone(),
        commit: None,
    });
    assert_eq!(resolve_model(&by_file, &settings).unwrap(), expected);
    let by_folder: ModelRef = dir.path().to_str().unwrap().parse().unwrap();
    assert_eq!(resolve_model(&by_folder, &settings).unwrap(), expected);
    // Two GGUF files: the folder does not say which.
    std::fs::write(dir.path().join("model.F32.gguf"), b"x").unwrap();
    let err = resolve_model(&by_folder, &settings)
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "several GGUF files (model.F32.gguf, model.Q8_0.gguf)");
    assert_mentions(&err, "--model PATH/FILE.gguf");
    // A missing .gguf path is a missing file, never a hub id.
    let missing = dir.path().join("gone.gguf");
    let err = missing
        .to_str()
        .unwrap()
        .parse::<ModelRef>()
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "GGUF file not found");
}

#[test]
fn hub_gguf_names_parse_and_print() {
    let m: ModelRef = "org/repo:SmolLM2.Q4_1.gguf".parse().unwrap();
    assert_eq!(
        m,
        ModelRef::HubGguf {
            repo_id: "org/repo".into(),
            revision: "main".into(),
            file: "SmolLM2.Q4_1.gguf".into()
        }
    );
    assert_eq!(m.to_string(), "org/repo:SmolLM2.Q4_1.gguf");
    let m: ModelRef = "org/repo@v2:sub/x.gguf".parse().unwrap();
    assert_eq!(m.to_string(), "org/repo@v2:sub/x.gguf");
    for (value, needle) in [
        ("org/repo:../x.gguf", "without '..'"),
        ("org/re po:x.gguf", "' '"),
        ("org/repo@:x.gguf", "empty"),
    ] {
        let err = value.parse::<ModelRef>().unwrap_err().to_string();
        assert_mentions(&err, needle);
    }
}

#[test]
fn hub_gguf_offline_from_the_cache() {
    use xmrc_lens::model::source::{resolve_model, ResolvedModel};
    let cache = tempfile::tempdir().unwrap();
    let files: BTreeMap<String, Vec<u8>> =
        [("tiny.Q8_0.gguf".to_string(), tiny_gguf_bytes())].into();
    let snapshot = cache_model(
        cache.path(),
        "org/tiny-gguf",
        Some("main"),
        COMMIT_A,
        &files,
    );
    let settings = HubSettings::offline_at(cache.path());
    let model: ModelRef = "org/tiny-gguf:tiny.Q8_0.gguf".parse().unwrap();
    let ResolvedModel::Gguf(g) = resolve_model(&model, &settings).unwrap() else {
        panic!("not a GGUF model")
    };
    assert_eq!(g.file, snapshot.join("tiny.Q8_0.gguf"));
    assert_eq!(g.commit.as_deref(), Some(COMMIT_A));
    let model: ModelRef = "org/tiny-gguf:other.gguf".parse().unwrap();
    let err = resolve_model(&model, &settings).unwrap_err().to_string();
    assert_mentions(&err, "other.gguf (from the snapshot folder");
    assert_mentions(&err, "HF_HUB_OFFLINE");
}

#[test]
fn hub_gguf_downloads_only_the_named_file() {
    use xmrc_lens::model::source::{resolve_model, ResolvedModel};
    let files: BTreeMap<String, Vec<u8>> = [
        ("tiny.Q8_0.gguf".to_string(), tiny_gguf_bytes()),
        ("tiny.F32.gguf".to_string(), b"other".to_vec()),
        ("README.md".to_string(), b"# tiny".to_vec()),
    ]
    .into();
    let hub = FakeHub::start("org/tiny-gguf", COMMIT_B, files, 200);
    let cache = tempfile::tempdir().unwrap();
    let model: ModelRef = "org/tiny-gguf:tiny.Q8_0.gguf".parse().unwrap();
    let ResolvedModel::Gguf(g) = resolve_model(&model, &hub.settings(cache.path())).unwrap() else {
        panic!("not a GGUF model")
    };
    assert_eq!(hub.downloaded(), ["tiny.Q8_0.gguf"]);
    assert_eq!(std::fs::read(&g.file).unwrap(), tiny_gguf_bytes());
    assert_eq!(g.commit.as_deref(), Some(COMMIT_B));
    // The downloaded file loads as a model, offline.
    let spec = xmrc_lens::model::spec::ModelSpec::new(ModelRef::GgufFile(g.file.clone()));
    let loaded = xmrc_lens::model::LoadedModel::load(&spec).unwrap();
    assert_eq!(loaded.config.family.name(), "qwen2");
    // A file the repository does not have: the error lists its GGUF files.
    let model: ModelRef = "org/tiny-gguf:nope.gguf".parse().unwrap();
    let err = resolve_model(&model, &hub.settings(cache.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &err,
        "no file nope.gguf; its GGUF files: tiny.F32.gguf, tiny.Q8_0.gguf",
    );
    // The repository named without a file: say how to name one.
    let model: ModelRef = "org/tiny-gguf".parse().unwrap();
    let err = xmrc_lens::model::source::resolve(&model, &hub.settings(cache.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, "org/tiny-gguf:FILE.gguf");
}

//! Shared helpers of the integration tests: the committed tiny models and fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use xmrc_lens::model::config::ModelConfig;
use xmrc_lens::model::decoder::Decoder;
use xmrc_lens::model::weights::load_var_builder;

pub const FAMILIES: [&str; 4] = ["llama", "qwen2", "mistral", "gemma2"];

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn tiny_model_dir(family: &str) -> PathBuf {
    repo_path(&format!("tests/fixtures/models/tiny-{family}"))
}

/// The safetensors files of a model folder: the shards of an index, else model.safetensors.
pub fn weight_files(dir: &Path) -> Vec<PathBuf> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(index).unwrap()).unwrap();
        let mut files: Vec<String> = v["weight_map"]
            .as_object()
            .unwrap()
            .values()
            .map(|f| f.as_str().unwrap().to_string())
            .collect();
        files.sort();
        files.dedup();
        files.into_iter().map(|f| dir.join(f)).collect()
    } else {
        vec![dir.join("model.safetensors")]
    }
}

/// Copies the files of `src` (not its subfolders) into `dst`, which must exist.
pub fn copy_dir(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
}

/// Loads a tiny model in f32 on the CPU, straight from its folder.
pub fn load_decoder(dir: &Path) -> (ModelConfig, Decoder) {
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let vb = load_var_builder(
        &weight_files(dir),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let decoder = Decoder::new(&config, vb).unwrap();
    (config, decoder)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(f64::MIN_POSITIVE)
}

/// max |a - b| over two f32 tensors of one shape.
pub fn max_abs_tensor_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// The real binary with a clean environment: no model or data folder from the caller, the
/// hub offline, no colour.
pub fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("xmrc-lens").unwrap();
    cmd.env_remove("XMRC_LENS_MODEL")
        .env_remove("XMRC_LENS_DATA")
        .env("HF_HUB_OFFLINE", "1")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs the real binary with `args`, sends it SIGINT once a stderr line contains `marker`, and
/// returns whether it exited successfully and the stderr that followed.
pub fn interrupt_when(args: &[std::ffi::OsString], marker: &str) -> (bool, String) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("xmrc-lens"))
        .args(args)
        .env_remove("XMRC_LENS_MODEL")
        .env_remove("XMRC_LENS_DATA")
        .env("HF_HUB_OFFLINE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if line.contains(marker) {
            break;
        }
        line.clear();
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    (child.wait().unwrap().success(), rest)
}

/// Every gold answer stands in its own language's context at its offset (code points).
pub fn assert_answers_at_offsets(data: &xmrc_lens::data::Dataset) {
    for sample in &data.samples {
        for (lang, entry) in &sample.entries {
            for answer in &entry.answers {
                let at: String = entry
                    .context
                    .chars()
                    .skip(answer.start)
                    .take(answer.text.chars().count())
                    .collect();
                assert_eq!(at, answer.text, "{} {lang}", sample.id);
            }
        }
    }
}

/// The real instruct model fetched by scripts/fetch_real_model.sh (`.ci/run` exports
/// `XMRC_LENS_REAL_MODEL`); `None`, with a note on stderr, when it is not set.
pub fn real_model(test: &str) -> Option<PathBuf> {
    match std::env::var_os("XMRC_LENS_REAL_MODEL").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "XMRC_LENS_REAL_MODEL={} is not a file",
                path.display()
            );
            Some(path)
        }
        None => {
            eprintln!(
                "note: {test} skipped: XMRC_LENS_REAL_MODEL is not set (run \
                 `export XMRC_LENS_REAL_MODEL=$(scripts/fetch_real_model.sh)`)"
            );
            None
        }
    }
}

/// The XQuAD folder of `XMRC_LENS_DATA`, else `../shared/xquad` beside the clone.
pub fn xquad_dir() -> Option<PathBuf> {
    std::env::var_os("XMRC_LENS_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| Some(repo_path("../shared/xquad")))
        .filter(|d| d.join("xquad.en.json").is_file())
}

pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va.sqrt() * vb.sqrt())
}

/// A JSON array of token ids.
pub fn json_ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// A JSON array of numbers.
pub fn json_f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Loads a model folder's safetensors weights in `dtype` on `device` (the tiny models on a GPU).
pub fn load_decoder_on(
    dir: &Path,
    dtype: candle_core::DType,
    device: &candle_core::Device,
) -> (ModelConfig, Decoder) {
    let config = ModelConfig::from_file(&dir.join("config.json")).unwrap();
    let vb = load_var_builder(&weight_files(dir), dtype, device).unwrap();
    let decoder = Decoder::new(&config, vb).unwrap();
    (config, decoder)
}

/// The largest logit's id and its lead over the runner-up (the greedy choice and how close a
/// tie it was).
pub fn top2(logits: &[f32]) -> (u32, f32) {
    let (mut best, mut first, mut second) = (0usize, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for (i, &v) in logits.iter().enumerate() {
        if v > first {
            (second, first, best) = (first, v, i);
        } else if v > second {
            second = v;
        }
    }
    (best as u32, first - second)
}

/// The explorer as the binary starts it, without a terminal: `StartUp::begin` with `models`
/// (the first the primary, a second the compare model; `org/name` a hub id, else a folder),
/// then the data set arriving. The effects (start the worker, load the models) are not
/// carried out: tests feed the worker events themselves. Clock frozen for stable snapshots.
pub fn started_app(
    models: &[&str],
    data: std::sync::Arc<xmrc_lens::data::Dataset>,
) -> (xmrc_lens::tui::app::App, xmrc_lens::explorer::StartUp) {
    use xmrc_lens::data::request::DataRequest;
    use xmrc_lens::explorer::{Launch, ModelChoice};
    use xmrc_lens::model::source::ModelRef;
    use xmrc_lens::model::spec::ModelSpec;
    let spec = |name: &str| {
        ModelSpec::new(if name.contains('/') {
            ModelRef::hub(name, None)
        } else {
            ModelRef::Local(PathBuf::from(name))
        })
    };
    let launch = Launch {
        model: ModelChoice::Given(spec(models[0])),
        compare: models.get(1).map(|m| spec(m)),
        data: DataRequest::default(),
        demo_data: false,
        data_given: false,
        session: None,
        cache_entries: 512,
        cache_bytes: 512 << 20,
    };
    started_with(launch, data)
}

/// [`started_app`] for any launch.
pub fn started_with(
    launch: xmrc_lens::explorer::Launch,
    data: std::sync::Arc<xmrc_lens::data::Dataset>,
) -> (xmrc_lens::tui::app::App, xmrc_lens::explorer::StartUp) {
    use xmrc_lens::explorer::{Event, StartUp};
    let (mut startup, core, _load_data) = StartUp::begin(launch, None);
    let mut app = xmrc_lens::tui::app::App::new(core);
    let _start_worker_and_models = startup.handle(&mut app.core, Event::Data(Ok((data, None))));
    app.frozen_clock = true;
    app.help_path = Some("Your keys: ~/.config/xmrc-lens/keymap.toml".into());
    (app, startup)
}

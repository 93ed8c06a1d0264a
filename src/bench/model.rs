//! Which model a bench runs, on which device and in which dtype: `--model`, or a preset's
//! random-weight folder built once under the cache.

use super::progress;
use crate::model::device::{resolve_device, resolve_dtype, DTypeChoice, DeviceChoice};
use crate::model::load::LoadedModel;
use crate::model::source::ModelRef;
use crate::model::spec::ModelSpec;
use crate::synth::model::{
    cached_model, default_cache_dir, Preset, Progress, WeightDtype, WriteOptions,
};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The model of a bench: `model` when given, else the `preset`'s random weights (`seed`)
/// written under `cache_dir` (default: [`default_cache_dir`]).
#[derive(Clone, Debug)]
pub struct BenchModel {
    pub preset: Preset,
    pub model: Option<ModelRef>,
    pub device: DeviceChoice,
    pub dtype: DTypeChoice,
    pub cache_dir: Option<PathBuf>,
    pub seed: u64,
}

impl BenchModel {
    /// Where built models are kept.
    pub fn cache_dir(&self) -> Result<PathBuf> {
        match &self.cache_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_cache_dir(),
        }
    }

    /// The preset's folder for the dtype the run resolves to (built now if missing).
    pub fn preset_folder(&self) -> Result<PathBuf> {
        let device = resolve_device(self.device)?;
        self.folder(resolve_dtype(self.dtype, &device))
    }

    /// The preset's folder with weights in `dtype`.
    pub fn folder(&self, dtype: DType) -> Result<PathBuf> {
        let cache_dir = self.cache_dir()?;
        build_model(
            &cache_dir,
            self.preset,
            &WriteOptions::new(weight_dtype(dtype)?, self.seed),
        )
    }

    /// `model`, else the preset folder, with the device and dtype as chosen (resolved
    /// first, so a device that is not there fails before anything is built).
    pub fn spec(&self) -> Result<ModelSpec> {
        let device = resolve_device(self.device)?;
        let dtype = resolve_dtype(self.dtype, &device);
        let model = match &self.model {
            Some(model) => model.clone(),
            None => ModelRef::Local(self.folder(dtype)?),
        };
        let mut spec = ModelSpec::new(model);
        spec.device = self.device;
        spec.dtype = self.dtype;
        Ok(spec)
    }

    /// Loads [`Self::spec`].
    pub fn load(&self) -> Result<LoadedModel> {
        let spec = self.spec()?;
        progress(&format!(
            "loading {} ({})",
            spec.model,
            format!("{:?}", self.dtype).to_lowercase()
        ));
        LoadedModel::load(&spec)
    }
}

/// The device as a choice `LoadedModel` resolves to the same device.
pub fn device_choice(device: &Device) -> DeviceChoice {
    match device.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => DeviceChoice::Cuda(gpu_id),
        _ => DeviceChoice::Cpu,
    }
}

pub fn dtype_choice(dtype: WeightDtype) -> DTypeChoice {
    match dtype {
        WeightDtype::F32 => DTypeChoice::F32,
        WeightDtype::Bf16 => DTypeChoice::Bf16,
        WeightDtype::F16 => DTypeChoice::F16,
    }
}

/// The weights file's dtype for a run in `dtype`.
pub fn weight_dtype(dtype: DType) -> Result<WeightDtype> {
    Ok(match dtype {
        DType::F32 => WeightDtype::F32,
        DType::BF16 => WeightDtype::Bf16,
        DType::F16 => WeightDtype::F16,
        other => bail!("benchmark models are written in f32, bf16 or f16, not {other:?}"),
    })
}

/// Waits until the device has finished its queued work (timings end there).
pub fn sync(device: &Device) -> Result<()> {
    device.synchronize().context("waiting for the device")
}

/// "cpu" or "cuda:N", the form the transformers script takes.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
    }
}

/// The preset's folder under the cache, built now if missing or incomplete.
pub fn build_model(cache_dir: &Path, preset: Preset, opts: &WriteOptions) -> Result<PathBuf> {
    let started = Instant::now();
    let mut next_tenth = 1u64;
    let mut report = |p: Progress| {
        // Small models are written in a blink: report only what takes a while.
        if p.total >= 100_000_000 && p.written * 10 >= next_tenth * p.total {
            progress(&format!(
                "writing {preset} weights: {}% of {:.2} GB",
                next_tenth * 10,
                p.total as f64 / 1e9
            ));
            next_tenth = p.written * 10 / p.total + 1;
        }
    };
    let (dir, built) = cached_model(cache_dir, preset, opts, &mut report)
        .with_context(|| format!("building the {preset} model under {}", cache_dir.display()))?;
    if built {
        progress(&format!(
            "built {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        ));
    } else {
        progress(&format!("reusing {}", dir.display()));
    }
    Ok(dir)
}

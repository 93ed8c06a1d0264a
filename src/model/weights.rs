//! Weights: safetensors files memory-mapped (never read into a second buffer) behind a
//! candle `VarBuilder`, converted to the run dtype tensor by tensor as the decoder asks.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use std::path::PathBuf;

/// Opens the given safetensors files (one, or all the shards of an index) as one namespace.
pub fn load_var_builder(
    files: &[PathBuf],
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>> {
    if files.is_empty() {
        bail!("no weight files given (expected model.safetensors or its shards)");
    }
    for file in files {
        if !file.is_file() {
            bail!("weight file {} does not exist", file.display());
        }
        super::safetensors_check::check_safetensors(file)?;
    }
    // SAFETY: memory-mapping is the one way to read multi-gigabyte weights without a second
    // copy. The files are the model's own, opened read-only; like every mmap user (candle,
    // transformers, safetensors) we rely on nobody truncating them while the model is loaded.
    #[allow(unsafe_code)]
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(files, dtype, device) };
    vb.with_context(|| {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!("cannot open safetensors weights {}", names.join(", "))
    })
}

//! `--device` and `--dtype`: what the user asked for, and the candle device and dtype it
//! comes to on this machine and build.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, DeviceLocation};
use std::fmt;
use std::str::FromStr;

/// A `--device` or `--dtype` value that is not one of the accepted words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}': use {expected}")]
pub struct ChoiceError {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// `--device auto|cpu|cuda|cuda:N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// CUDA device 0 when this is a CUDA build and a GPU answers, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// A CUDA device by number (`cuda` is `cuda:0`).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = ChoiceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let error = || ChoiceError {
            what: "device",
            value: value.to_string(),
            expected: "auto, cpu, cuda or cuda:N (N the GPU number, e.g. cuda:1)",
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(error),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// `--dtype auto|f32|bf16|f16` (also `float32`, `bfloat16`, `float16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DTypeChoice {
    /// bf16 on CUDA, f32 on the CPU.
    #[default]
    Auto,
    F32,
    Bf16,
    F16,
}

impl FromStr for DTypeChoice {
    type Err = ChoiceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "f32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "f16" | "float16" | "half" => Ok(Self::F16),
            _ => Err(ChoiceError {
                what: "dtype",
                value: value.to_string(),
                expected: "auto, f32, bf16 or f16 (float32, bfloat16, float16)",
            }),
        }
    }
}

impl fmt::Display for DTypeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        })
    }
}

/// The candle device for a choice. An explicit CUDA device in a build without the `cuda`
/// feature is an error that says how to rebuild; `auto` quietly takes the CPU there, and
/// in a CUDA build falls back to the CPU (with a warning) when no GPU answers.
pub fn resolve_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(n) => {
            if !cfg!(feature = "cuda") {
                bail!(
                    "--device {choice} needs a CUDA build, and this xmrc-lens was built without it: \
                     rebuild with `cargo build --release --features cuda` (needs the CUDA toolkit, nvcc), \
                     or use --device cpu"
                );
            }
            Device::new_cuda(n).with_context(|| {
                format!(
                    "cannot open CUDA device {n}; check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or use --device cpu"
                )
            })
        }
        DeviceChoice::Auto => {
            if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
                match Device::new_cuda(0) {
                    Ok(device) => return Ok(device),
                    Err(error) => {
                        tracing::warn!(
                            "built with CUDA, but no GPU answers ({error}); using the CPU"
                        )
                    }
                }
            }
            Ok(Device::Cpu)
        }
    }
}

/// The dtype for a choice on `device`: `auto` is bf16 on CUDA and f32 elsewhere. Half
/// precision on the CPU is allowed but slow (candle converts for most ops), so it is warned
/// about.
pub fn resolve_dtype(choice: DTypeChoice, device: &Device) -> DType {
    let dtype = match choice {
        DTypeChoice::Auto if device.is_cuda() => DType::BF16,
        DTypeChoice::Auto | DTypeChoice::F32 => DType::F32,
        DTypeChoice::Bf16 => DType::BF16,
        DTypeChoice::F16 => DType::F16,
    };
    if device.is_cpu() && dtype != DType::F32 {
        tracing::warn!(
            "{} on the CPU is slow (most CPU kernels work in f32); --dtype f32 is faster there",
            dtype.as_str()
        );
    }
    dtype
}

/// The number of threads candle's CPU kernels use (`RAYON_NUM_THREADS`, else the cores).
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// "cpu (N threads)", "cuda:0" or "metal:0", for status lines and benchmark reports.
pub fn describe_device(device: &Device) -> String {
    match device.location() {
        DeviceLocation::Cpu => format!("cpu ({} threads)", cpu_threads()),
        DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_words() {
        let cases = [
            ("auto", DeviceChoice::Auto),
            ("CPU", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
            (" cuda:0 ", DeviceChoice::Cuda(0)),
        ];
        for (word, choice) in cases {
            assert_eq!(word.parse::<DeviceChoice>().unwrap(), choice, "{word}");
        }
        for word in ["gpu", "cuda:", "cuda:x", "cuda:-1", "metal", ""] {
            let err = word.parse::<DeviceChoice>().unwrap_err().to_string();
            assert!(err.contains("auto, cpu, cuda or cuda:N"), "{word}: {err}");
        }
        for choice in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(2)] {
            assert_eq!(choice.to_string().parse::<DeviceChoice>().unwrap(), choice);
        }
    }

    #[test]
    fn dtype_words() {
        let cases = [
            ("auto", DTypeChoice::Auto),
            ("f32", DTypeChoice::F32),
            ("float32", DTypeChoice::F32),
            ("BF16", DTypeChoice::Bf16),
            ("bfloat16", DTypeChoice::Bf16),
            ("f16", DTypeChoice::F16),
            ("float16", DTypeChoice::F16),
        ];
        for (word, choice) in cases {
            assert_eq!(word.parse::<DTypeChoice>().unwrap(), choice, "{word}");
            assert_eq!(choice.to_string().parse::<DTypeChoice>().unwrap(), choice);
        }
        let err = "fp8".parse::<DTypeChoice>().unwrap_err().to_string();
        assert!(err.starts_with("unknown dtype 'fp8'"), "{err}");
    }

    #[test]
    fn cpu_dtypes() {
        let cpu = Device::Cpu;
        assert_eq!(resolve_dtype(DTypeChoice::Auto, &cpu), DType::F32);
        assert_eq!(resolve_dtype(DTypeChoice::F32, &cpu), DType::F32);
        assert_eq!(resolve_dtype(DTypeChoice::Bf16, &cpu), DType::BF16);
        assert_eq!(resolve_dtype(DTypeChoice::F16, &cpu), DType::F16);
    }

    #[test]
    fn cpu_is_always_there() {
        let device = resolve_device(DeviceChoice::Cpu).unwrap();
        assert!(device.is_cpu());
        let shown = describe_device(&device);
        assert_eq!(shown, format!("cpu ({} threads)", cpu_threads()));
        assert!(cpu_threads() >= 1);
    }

    #[test]
    #[cfg(not(feature = "cuda"))]
    fn cuda_without_the_feature_says_how_to_rebuild() {
        let err = resolve_device(DeviceChoice::Cuda(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--features cuda"), "{err}");
        assert!(resolve_device(DeviceChoice::Auto).unwrap().is_cpu());
    }
}

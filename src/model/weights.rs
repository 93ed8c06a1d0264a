//! Weights: safetensors files read tensor by tensor, with positioned reads, straight into the
//! buffers the model keeps, behind a candle `VarBuilder`.
//!
//! Why not a memory map: candle copies every tensor out of the map, and the mapped pages stay
//! resident until the map is dropped at the end of loading, so the peak was the file plus its
//! copy (3.8 GB for 2 GB of f32 weights; an 8B model in bf16 did not fit in 24 GB). Read this
//! way, the peak is the weights in the run dtype plus one conversion chunk, and no `unsafe`
//! is needed. The file's pages live in the kernel's page cache, which is not resident memory of
//! the process and is reclaimed under pressure.

use super::safetensors_check::{read_header, Entry};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Shape, Tensor, WithDType};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Elements converted at a time when the file's dtype is not the run dtype: bounds the
/// conversion's transient memory (16 MB of f32).
const CONVERT_CHUNK: usize = 4 << 20;

/// Opens the given safetensors files (one, or all the shards of an index) as one namespace.
pub fn load_var_builder(
    files: &[PathBuf],
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>> {
    if files.is_empty() {
        bail!("no weight files given (expected model.safetensors or its shards)");
    }
    let reader = SafetensorsReader::open(files)?;
    Ok(VarBuilder::from_backend(
        Box::new(reader),
        dtype,
        device.clone(),
    ))
}

/// Where one tensor lies: which file, and its header entry.
struct Located {
    file: usize,
    entry: Entry,
}

/// The opened shards and every tensor's place in them.
pub struct SafetensorsReader {
    files: Vec<OpenFile>,
    tensors: HashMap<String, Located>,
}

struct OpenFile {
    path: PathBuf,
    file: File,
    data_start: u64,
}

impl SafetensorsReader {
    /// Opens and checks every file (float tensors only, no file shorter than its header says).
    pub fn open(paths: &[PathBuf]) -> Result<SafetensorsReader> {
        let mut files = Vec::with_capacity(paths.len());
        let mut tensors = HashMap::new();
        for (index, path) in paths.iter().enumerate() {
            if !path.is_file() {
                bail!("weight file {} does not exist", path.display());
            }
            let header = read_header(path)?;
            for (name, entry) in header.tensors {
                if let Some(first) = tensors.get(&name).map(|l: &Located| l.file) {
                    bail!(
                        "tensor {name} is in both {} and {}",
                        display(&files, first, path),
                        path.display()
                    );
                }
                tensors.insert(name, Located { file: index, entry });
            }
            let file = File::open(path)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
            files.push(OpenFile {
                path: path.clone(),
                file,
                data_start: header.data_start,
            });
        }
        Ok(SafetensorsReader { files, tensors })
    }

    /// The tensor `name` in `dtype` on `device`.
    fn read(&self, name: &str, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        let located = self.tensors.get(name).ok_or_else(|| {
            candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            }
            .bt()
        })?;
        let file = &self.files[located.file];
        let entry = &located.entry;
        let file_dtype = parse_dtype(&entry.dtype)
            .ok_or_else(|| err(file, name, format!("unsupported dtype {}", entry.dtype)))?;
        let count: usize = entry.shape.iter().product();
        let bytes = entry.data_offsets[1] - entry.data_offsets[0];
        if bytes != (count * file_dtype.size_in_bytes()) as u64 {
            return Err(err(
                file,
                name,
                format!(
                    "{bytes} bytes for shape {:?} in {}",
                    entry.shape, entry.dtype
                ),
            ));
        }
        let offset = file.data_start + entry.data_offsets[0];
        let shape = Shape::from(entry.shape.clone());
        let host = if file_dtype == dtype {
            read_as(file_dtype, &file.file, offset, count, shape)
        } else {
            convert_chunks(file_dtype, dtype, &file.file, offset, count, shape)
        }
        .map_err(|e| err(file, name, format!("{e}")))?;
        if device.is_cpu() {
            Ok(host)
        } else {
            host.to_device(device)
        }
    }
}

fn display(files: &[OpenFile], index: usize, fallback: &Path) -> String {
    files
        .get(index)
        .map_or(fallback, |f| f.path.as_path())
        .display()
        .to_string()
}

fn err(file: &OpenFile, name: &str, message: String) -> candle_core::Error {
    candle_core::Error::Msg(format!(
        "reading tensor {name} from {}: {message}",
        file.path.display()
    ))
    .bt()
}

fn parse_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "F32" => DType::F32,
        "F16" => DType::F16,
        "BF16" => DType::BF16,
        "F64" => DType::F64,
        _ => return None,
    })
}

/// `count` values of `dtype` at `offset`, read straight into the tensor's own buffer.
fn read_as(
    dtype: DType,
    file: &File,
    offset: u64,
    count: usize,
    shape: Shape,
) -> candle_core::Result<Tensor> {
    match dtype {
        DType::F32 => read_typed::<f32>(file, offset, count, shape),
        DType::F64 => read_typed::<f64>(file, offset, count, shape),
        DType::F16 => read_typed::<half::f16>(file, offset, count, shape),
        DType::BF16 => read_typed::<half::bf16>(file, offset, count, shape),
        other => candle_core::bail!("cannot read {other:?} weights"),
    }
}

fn read_typed<T: WithDType + bytemuck::Pod>(
    file: &File,
    offset: u64,
    count: usize,
    shape: Shape,
) -> candle_core::Result<Tensor> {
    // Safetensors stores little-endian values; so does every machine candle runs on.
    const _: () = assert!(cfg!(target_endian = "little"));
    let mut values = vec![T::zeroed(); count];
    file.read_exact_at(bytemuck::cast_slice_mut(&mut values), offset)?;
    Tensor::from_vec(values, shape, &Device::Cpu)
}

/// `count` values of `from` at `offset` as `to`, converted a chunk at a time so that only one
/// chunk exists in both dtypes at once.
fn convert_chunks(
    from: DType,
    to: DType,
    file: &File,
    offset: u64,
    count: usize,
    shape: Shape,
) -> candle_core::Result<Tensor> {
    let size = from.size_in_bytes();
    let mut parts = Vec::with_capacity(count.div_ceil(CONVERT_CHUNK).max(1));
    let mut start = 0;
    while start < count || parts.is_empty() {
        let n = CONVERT_CHUNK.min(count - start);
        let chunk = read_as(
            from,
            file,
            offset + (start * size) as u64,
            n,
            Shape::from(n),
        )?;
        parts.push(chunk.to_dtype(to)?);
        start += n;
    }
    let flat = if parts.len() == 1 {
        parts.remove(0)
    } else {
        Tensor::cat(&parts, 0)?
    };
    flat.reshape(shape)
}

impl SimpleBackend for SafetensorsReader {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _hints: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.read(name, dtype, device)?;
        if tensor.shape() != &shape {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: shape,
                got: tensor.shape().clone(),
            }
            .bt());
        }
        Ok(tensor)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        self.read(name, dtype, device)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file with the given tensors, written by the `safetensors` crate.
    fn write(path: &Path, tensors: &[(&str, Tensor)]) {
        let map: Vec<(String, Tensor)> = tensors
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        candle_core::safetensors::save(&map.into_iter().collect(), path).unwrap();
    }

    #[test]
    fn tensors_read_back_exactly_in_their_dtype_and_converted() {
        let dir = tempfile::tempdir().unwrap();
        let a = Tensor::arange(0f32, 24.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3, 4))
            .unwrap();
        let b = (Tensor::arange(0f32, 10.0, &Device::Cpu).unwrap() * 0.5)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let (one, two) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        write(&one, &[("a", a.clone())]);
        write(&two, &[("b", b.clone())]);
        let reader = SafetensorsReader::open(&[one, two]).unwrap();
        assert!(reader.contains_tensor("a") && reader.contains_tensor("b"));
        assert!(!reader.contains_tensor("c"));
        let got = reader
            .get(
                (2, 3, 4).into(),
                "a",
                candle_nn::Init::Const(0.),
                DType::F32,
                &Device::Cpu,
            )
            .unwrap();
        assert_eq!(
            got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        let as_f32 = reader.get_unchecked("b", DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            as_f32.to_vec1::<f32>().unwrap(),
            (0..10).map(|i| i as f32 * 0.5).collect::<Vec<_>>()
        );
        let as_bf16 = reader
            .get_unchecked("b", DType::BF16, &Device::Cpu)
            .unwrap();
        assert_eq!(as_bf16.dtype(), DType::BF16);
        let err = reader
            .get(
                (3, 2).into(),
                "b",
                candle_nn::Init::Const(0.),
                DType::F32,
                &Device::Cpu,
            )
            .unwrap_err();
        assert!(format!("{err}").contains("shape mismatch for b"), "{err}");
        let err = reader
            .get_unchecked("c", DType::F32, &Device::Cpu)
            .unwrap_err();
        assert!(format!("{err}").contains('c'), "{err}");
    }

    #[test]
    fn conversion_in_chunks_equals_conversion_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let n = CONVERT_CHUNK * 2 + 7;
        let values = Tensor::arange(0u32, n as u32, &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let path = dir.path().join("w.safetensors");
        write(&path, &[("w", values.to_dtype(DType::F16).unwrap())]);
        let reader = SafetensorsReader::open(&[path]).unwrap();
        let got = reader.get_unchecked("w", DType::F32, &Device::Cpu).unwrap();
        let expected = values
            .to_dtype(DType::F16)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        assert_eq!(
            got.to_vec1::<f32>().unwrap(),
            expected.to_vec1::<f32>().unwrap()
        );
    }

    #[test]
    fn a_tensor_in_two_shards_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let t = Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap();
        let (one, two) = (
            dir.path().join("1.safetensors"),
            dir.path().join("2.safetensors"),
        );
        write(&one, &[("w", t.clone())]);
        write(&two, &[("w", t)]);
        let err = SafetensorsReader::open(&[one, two]).err().unwrap();
        assert!(format!("{err}").contains("tensor w is in both"), "{err}");
    }
}

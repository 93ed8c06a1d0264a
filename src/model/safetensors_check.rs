//! Reads and checks a safetensors file's header before any weight is read: every tensor a
//! float type (an integer tensor cast to float would change the answer silently), and the
//! file as long as its header promises (an interrupted download otherwise fails deep inside
//! the reader, or not at all). The header's entries are what the weight reader reads by.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Float types the decoder can run on (converted to the run dtype as loaded).
const FLOAT_TYPES: [&str; 4] = ["F16", "BF16", "F32", "F64"];

/// The largest header safetensors allows (100 MB); more means the file is not safetensors.
const MAX_HEADER: u64 = 100_000_000;

/// One tensor of a safetensors header.
#[derive(Deserialize, Debug, Clone)]
pub struct Entry {
    pub dtype: String,
    #[serde(default)]
    pub shape: Vec<usize>,
    /// Byte range of the data, counted from the end of the header.
    pub data_offsets: [u64; 2],
}

/// A checked header: where the data starts in the file, and each tensor by name.
#[derive(Debug, Clone)]
pub struct Header {
    pub data_start: u64,
    pub tensors: BTreeMap<String, Entry>,
}

/// Refuses a file with a non-float tensor or fewer bytes than its header describes.
pub fn check_safetensors(path: &Path) -> Result<()> {
    read_header(path).map(|_| ())
}

/// The header of a safetensors file, checked as [`check_safetensors`] says.
pub fn read_header(path: &Path) -> Result<Header> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len();
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| incomplete(path, size, 8))?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER {
        bail!(
            "{} is not a safetensors file (its header would be {header_len} bytes)",
            path.display()
        );
    }
    if size < 8 + header_len {
        return Err(incomplete(path, size, 8 + header_len));
    }
    let mut header = vec![0u8; usize::try_from(header_len)?];
    file.read_exact(&mut header)?;
    let entries: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .with_context(|| {
            format!(
                "{}: the safetensors header is not valid JSON",
                path.display()
            )
        })?;
    let mut data_end = 0u64;
    let mut tensors = BTreeMap::new();
    for (name, value) in entries {
        if name == "__metadata__" {
            continue;
        }
        let entry: Entry = serde_json::from_value(value)
            .with_context(|| format!("{}: tensor {name} has a malformed entry", path.display()))?;
        if !FLOAT_TYPES.contains(&entry.dtype.as_str()) {
            bail!(
                "tensor {name} in {} is {}: xmrc-lens runs float weights only ({}); casting \
                 integers to float would change the model. Use the model's float checkpoint \
                 (or its GGUF file)",
                path.display(),
                entry.dtype,
                FLOAT_TYPES.join(", ")
            );
        }
        if entry.data_offsets[0] > entry.data_offsets[1] {
            bail!(
                "{}: tensor {name} has its data offsets reversed",
                path.display()
            );
        }
        data_end = data_end.max(entry.data_offsets[1]);
        tensors.insert(name, entry);
    }
    let expected = 8 + header_len + data_end;
    if size < expected {
        return Err(incomplete(path, size, expected));
    }
    Ok(Header {
        data_start: 8 + header_len,
        tensors,
    })
}

fn incomplete(path: &Path, size: u64, expected: u64) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is incomplete: {size} bytes, its header describes {expected}; the download was \
         probably interrupted. Delete the file (for a hub model: its blob under the Hugging \
         Face cache, HF_HOME) and download it again",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, header: &str, data: usize) -> std::path::PathBuf {
        let path = dir.join("model.safetensors");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn float_complete_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let header = r#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        assert!(check_safetensors(&write(dir.path(), header, 8)).is_ok());
    }

    #[test]
    fn integer_tensors_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let header = r#"{"layer.w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#;
        let err = format!(
            "{:#}",
            check_safetensors(&write(dir.path(), header, 8)).unwrap_err()
        );
        assert!(
            err.contains("tensor layer.w") && err.contains("is I32"),
            "{err}"
        );
    }

    #[test]
    fn a_truncated_file_says_so_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let header = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#;
        let path = write(dir.path(), header, 10);
        let err = format!("{:#}", check_safetensors(&path).unwrap_err());
        let expected = 8 + header.len() + 16;
        assert!(
            err.contains("is incomplete")
                && err.contains(&format!("{} bytes", expected - 6))
                && err.contains(&format!("describes {expected}")),
            "{err}"
        );
        std::fs::write(&path, [1u8, 2]).unwrap();
        let err = format!("{:#}", check_safetensors(&path).unwrap_err());
        assert!(err.contains("is incomplete"), "{err}");
    }
}

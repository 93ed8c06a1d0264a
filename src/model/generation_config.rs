//! The special token ids a model's files declare: `bos_token_id`, `eos_token_id` and
//! `pad_token_id` of `config.json` and of the optional `generation_config.json`.
//!
//! Each key may hold an id, a list of ids or `null`. Generation stops on every EOS id of
//! either file (instruct models often list their end-of-turn token only in
//! `generation_config.json`); for BOS and PAD the generation config wins, as in
//! transformers' `GenerationConfig`.

use super::source::ModelFiles;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::Path;

/// The special ids of a model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    /// Union of both files' EOS ids, deduplicated, `config.json`'s first.
    pub eos: Vec<u32>,
    pub pad: Option<u32>,
}

/// The ids of one file.
#[derive(Debug, Default)]
struct FileIds {
    bos: Vec<u32>,
    eos: Vec<u32>,
    pad: Vec<u32>,
}

impl SpecialIds {
    /// Reads `config.json` and, when given, `generation_config.json`; errors name the file
    /// and the key.
    pub fn from_files(config: &Path, generation_config: Option<&Path>) -> Result<Self> {
        let config = read_ids(config)?;
        let generation = generation_config
            .map(read_ids)
            .transpose()?
            .unwrap_or_default();
        Ok(Self::merge(config, generation))
    }

    /// The ids of a resolved model.
    pub fn from_model_files(files: &ModelFiles) -> Result<Self> {
        Self::from_files(&files.config, files.generation_config.as_deref())
    }

    /// The same from the texts of the files (errors call them config.json and
    /// generation_config.json).
    pub fn from_json_strs(config: &str, generation_config: Option<&str>) -> Result<Self> {
        let config = parse_ids(config, "config.json")?;
        let generation = generation_config
            .map(|text| parse_ids(text, "generation_config.json"))
            .transpose()?
            .unwrap_or_default();
        Ok(Self::merge(config, generation))
    }

    /// True when `id` ends generation.
    pub fn is_eos(&self, id: u32) -> bool {
        self.eos.contains(&id)
    }

    fn merge(config: FileIds, generation: FileIds) -> Self {
        let mut eos = Vec::new();
        for id in config.eos.into_iter().chain(generation.eos) {
            if !eos.contains(&id) {
                eos.push(id);
            }
        }
        let first = |preferred: Vec<u32>, fallback: Vec<u32>| {
            preferred.first().or(fallback.first()).copied()
        };
        Self {
            bos: first(generation.bos, config.bos),
            eos,
            pad: first(generation.pad, config.pad),
        }
    }
}

fn read_ids(path: &Path) -> Result<FileIds> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_ids(&text, &path.display().to_string())
}

fn parse_ids(text: &str, name: &str) -> Result<FileIds> {
    let fields: serde_json::Map<String, Value> = serde_json::from_str(text)
        .with_context(|| format!("{name} is not a JSON object of model settings"))?;
    let ids = |key: &str| token_ids(fields.get(key).unwrap_or(&Value::Null), key, name);
    Ok(FileIds {
        bos: ids("bos_token_id")?,
        eos: ids("eos_token_id")?,
        pad: ids("pad_token_id")?,
    })
}

/// An id, a list of ids, or `null`. A negative id means "none" (old configs write
/// `"pad_token_id": -1`).
fn token_ids(value: &Value, key: &str, name: &str) -> Result<Vec<u32>> {
    let bad = || {
        anyhow::anyhow!(
            "{name}: {key} must be a token id, a list of token ids or null, not {value}"
        )
    };
    let one = |item: &Value| -> Result<Option<u32>> {
        match (item.as_u64(), item.as_i64()) {
            (Some(id), _) => u32::try_from(id).map(Some).map_err(|_| bad()),
            (None, Some(negative)) if negative < 0 => Ok(None),
            _ => Err(bad()),
        }
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => Ok(items
            .iter()
            .map(one)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect()),
        item => Ok(one(item)?.into_iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eos_is_the_union_config_first() {
        let ids = SpecialIds::from_json_strs(
            r#"{"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": null}"#,
            Some(r#"{"eos_token_id": [7, 2, 9], "bos_token_id": 5}"#),
        )
        .unwrap();
        assert_eq!(
            ids,
            SpecialIds {
                bos: Some(5),
                eos: vec![2, 7, 9],
                pad: None
            }
        );
        assert!(ids.is_eos(9) && !ids.is_eos(1));
    }

    #[test]
    fn missing_null_list_and_negative_values() {
        let ids = SpecialIds::from_json_strs(
            r#"{"architectures": ["LlamaForCausalLM"], "eos_token_id": [128001, 128009], "pad_token_id": -1}"#,
            None,
        )
        .unwrap();
        assert_eq!(ids.bos, None);
        assert_eq!(ids.eos, [128001, 128009]);
        assert_eq!(ids.pad, None);
        let ids = SpecialIds::from_json_strs(r#"{"pad_token_id": [0]}"#, Some("{}")).unwrap();
        assert_eq!(ids.pad, Some(0));
        assert!(ids.eos.is_empty());
    }

    #[test]
    fn errors_name_file_and_key() {
        let err = SpecialIds::from_json_strs(r#"{"eos_token_id": "</s>"}"#, None).unwrap_err();
        let shown = format!("{err:#}");
        assert!(
            shown.contains("config.json: eos_token_id must be"),
            "{shown}"
        );
        let err = SpecialIds::from_json_strs("{}", Some(r#"{"bos_token_id": 1.5}"#)).unwrap_err();
        assert!(format!("{err:#}").contains("generation_config.json: bos_token_id"));
        let err = SpecialIds::from_json_strs(r#"{"eos_token_id": 5000000000}"#, None).unwrap_err();
        assert!(format!("{err:#}").contains("eos_token_id"));
        let err = SpecialIds::from_json_strs("[1, 2]", None).unwrap_err();
        assert!(format!("{err:#}").contains("config.json is not a JSON object"));
    }

    #[test]
    fn from_files_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(&config, r#"{"eos_token_id": {"id": 2}}"#).unwrap();
        let err = SpecialIds::from_files(&config, None).unwrap_err();
        assert!(format!("{err:#}").contains(&config.display().to_string()));
        let missing = dir.path().join("generation_config.json");
        std::fs::write(&config, r#"{"eos_token_id": 2}"#).unwrap();
        let err = SpecialIds::from_files(&config, Some(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
    }
}

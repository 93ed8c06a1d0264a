//! Typed reads of GGUF metadata (`general.*`, `<arch>.*`, `tokenizer.ggml.*`): every error
//! names the key and what was expected, so a damaged or unusual file says what is wrong.

use anyhow::{anyhow, bail, Result};
use candle_core::quantized::gguf_file::Value;
use std::collections::HashMap;

/// The metadata of one GGUF file.
pub struct Metadata<'a> {
    pub map: &'a HashMap<String, Value>,
}

impl<'a> Metadata<'a> {
    pub fn new(map: &'a HashMap<String, Value>) -> Self {
        Self { map }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => bail!("GGUF key {key} is {other:?}, expected a string"),
        }
    }

    pub fn required_string(&self, key: &str) -> Result<&'a str> {
        self.string(key)?
            .ok_or_else(|| anyhow!("GGUF key {key} is missing"))
    }

    /// An unsigned integer of any width (converters differ: u32, u64, i32).
    pub fn uint(&self, key: &str) -> Result<Option<u64>> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        let v = match value {
            Value::U8(v) => u64::from(*v),
            Value::U16(v) => u64::from(*v),
            Value::U32(v) => u64::from(*v),
            Value::U64(v) => *v,
            Value::I8(v) if *v >= 0 => *v as u64,
            Value::I16(v) if *v >= 0 => *v as u64,
            Value::I32(v) if *v >= 0 => *v as u64,
            Value::I64(v) if *v >= 0 => *v as u64,
            other => bail!("GGUF key {key} is {other:?}, expected a non-negative integer"),
        };
        Ok(Some(v))
    }

    pub fn usize(&self, key: &str) -> Result<Option<usize>> {
        self.uint(key)?
            .map(|v| usize::try_from(v).map_err(|_| anyhow!("GGUF key {key} = {v} is too large")))
            .transpose()
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>> {
        self.uint(key)?
            .map(|v| u32::try_from(v).map_err(|_| anyhow!("GGUF key {key} = {v} is too large")))
            .transpose()
    }

    pub fn float(&self, key: &str) -> Result<Option<f64>> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        let v = match value {
            Value::F32(v) => f64::from(*v),
            Value::F64(v) => *v,
            Value::U32(v) => f64::from(*v),
            Value::I32(v) => f64::from(*v),
            Value::U64(v) => *v as f64,
            Value::I64(v) => *v as f64,
            other => bail!("GGUF key {key} is {other:?}, expected a number"),
        };
        Ok(Some(v))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => bail!("GGUF key {key} is {other:?}, expected true or false"),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&'a [Value]>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.as_slice())),
            Some(other) => bail!(
                "GGUF key {key} is a {:?}, expected an array",
                other.value_type()
            ),
        }
    }

    /// Every item of an array converted by `item`, or an error naming the first that is not
    /// `what`.
    fn array_of<T>(
        &self,
        key: &str,
        what: &str,
        item: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                item(v).ok_or_else(|| anyhow!("GGUF key {key}[{i}] is {v:?}, expected {what}"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>> {
        self.array_of(key, "a string", |v| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn floats(&self, key: &str) -> Result<Option<Vec<f32>>> {
        self.array_of(key, "a number", |v| match v {
            Value::F32(x) => Some(*x),
            Value::F64(x) => Some(*x as f32),
            _ => None,
        })
    }

    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        self.array_of(key, "an integer", |v| match v {
            Value::I32(x) => Some(i64::from(*x)),
            Value::U32(x) => Some(i64::from(*x)),
            Value::I8(x) => Some(i64::from(*x)),
            Value::U8(x) => Some(i64::from(*x)),
            Value::I16(x) => Some(i64::from(*x)),
            Value::U16(x) => Some(i64::from(*x)),
            Value::I64(x) => Some(*x),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads_name_the_key() {
        let mut map = HashMap::new();
        map.insert("a".to_string(), Value::U32(7));
        map.insert("b".to_string(), Value::String("x".into()));
        map.insert("c".to_string(), Value::Array(vec![Value::F32(0.5)]));
        map.insert("d".to_string(), Value::I32(-1));
        let meta = Metadata::new(&map);
        assert_eq!(meta.usize("a").unwrap(), Some(7));
        assert_eq!(meta.float("a").unwrap(), Some(7.0));
        assert_eq!(meta.string("b").unwrap(), Some("x"));
        assert_eq!(meta.floats("c").unwrap(), Some(vec![0.5]));
        assert_eq!(meta.usize("zzz").unwrap(), None);
        let err = meta.usize("d").unwrap_err().to_string();
        assert!(
            err.contains("GGUF key d") && err.contains("non-negative"),
            "{err}"
        );
        let err = meta.string("a").unwrap_err().to_string();
        assert!(err.contains("expected a string"), "{err}");
        let err = meta.strings("a").unwrap_err().to_string();
        assert!(err.contains("expected an array"), "{err}");
        assert!(meta
            .required_string("q")
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }
}

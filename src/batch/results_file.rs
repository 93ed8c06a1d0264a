//! Reading and appending results files safely.
//!
//! A line counts only once its newline is written: the writer appends each line with its
//! newline in one write and flushes, so a crash or Ctrl-C leaves at most one torn line at the
//! end, without a newline. Readers drop it (and say so); `eval` cuts it off before appending.
//! Any other unreadable line is damage, reported with its line number. One writer at a time:
//! the file is locked while `eval` appends to it.

use super::record::{
    pool_path, PoolFile, ResultLine, RunHeader, UnitRecord, OLDEST_RESULTS_VERSION, RESULTS_VERSION,
};
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A torn last line: the bytes after the last newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornLine {
    /// 1-based line number.
    pub line: usize,
    pub bytes: usize,
}

/// What a results file holds.
#[derive(Clone, Debug, Default)]
pub struct ResultsContent {
    pub header: Option<RunHeader>,
    pub units: Vec<UnitRecord>,
    /// Set when the file ends in a torn line (dropped).
    pub torn: Option<TornLine>,
    /// Length of the file up to and including its last complete line.
    pub complete_len: u64,
}

/// Reads a results file. A missing file is empty.
pub fn read_results(path: &Path) -> Result<ResultsContent> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ResultsContent::default()),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    }
    parse_results(&bytes, path)
}

/// Parses the bytes of a results file (`path` names it in errors).
pub fn parse_results(bytes: &[u8], path: &Path) -> Result<ResultsContent> {
    let mut content = ResultsContent::default();
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    content.complete_len = complete as u64;
    // The slice ends in a newline, so `split` yields one empty piece after it: skipped like
    // blank lines.
    for (n, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: ResultLine = serde_json::from_slice(line).with_context(|| {
            format!(
                "{}:{}: not a results line (the file is damaged or not written by xmrc-lens eval)",
                path.display(),
                n + 1
            )
        })?;
        match parsed {
            ResultLine::Run(header) => {
                if !(OLDEST_RESULTS_VERSION..=RESULTS_VERSION).contains(&header.version) {
                    bail!(
                        "{}:{}: results version {} (this xmrc-lens reads versions {OLDEST_RESULTS_VERSION} to {RESULTS_VERSION})",
                        path.display(),
                        n + 1,
                        header.version
                    );
                }
                match &content.header {
                    Some(first) if first.settings != header.settings => bail!(
                        "{}:{}: a second run header with other settings ({})",
                        path.display(),
                        n + 1,
                        first.settings.differences(&header.settings).join("; ")
                    ),
                    Some(_) => {}
                    None => content.header = Some(*header),
                }
            }
            ResultLine::Unit(unit) => content.units.push(*unit),
        }
    }
    if complete < bytes.len() {
        content.torn = Some(TornLine {
            line: bytes[..complete].iter().filter(|&&b| b == b'\n').count() + 1,
            bytes: bytes.len() - complete,
        });
    }
    Ok(content)
}

/// Reads the pool sidecar of a results file (None when there is none).
pub fn read_pool(results: &Path) -> Result<Option<PoolFile>> {
    let path = pool_path(results);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let pool: PoolFile = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{}: not a pool file (damaged?). Deleting it is safe: the next `eval` run \
                     on {} recomputes each finished unit's pooled hidden states (one forward \
                     per unit); until then `report` leaves out the S(en,x) ratios",
                    path.display(),
                    results.display()
                )
            })?;
            if !(OLDEST_RESULTS_VERSION..=RESULTS_VERSION).contains(&pool.version) {
                bail!(
                    "{}: pool version {} (this xmrc-lens reads versions {OLDEST_RESULTS_VERSION} to {RESULTS_VERSION})",
                    path.display(),
                    pool.version
                );
            }
            Ok(Some(pool))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the pool sidecar atomically (temporary file, then rename).
pub fn write_pool(results: &Path, pool: &PoolFile) -> Result<()> {
    crate::atomic_file::write_atomically(&pool_path(results), |w| {
        Ok(serde_json::to_writer(w, pool)?)
    })
}

/// Appends lines to a results file, one write and one flush per line, holding its lock.
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

/// A results file opened for appending, with what it already held.
pub struct Opened {
    pub writer: ResultsWriter,
    pub existing: ResultsContent,
}

impl ResultsWriter {
    /// Opens (or creates) `path` for appending units computed with `header`'s settings.
    /// An existing file must carry the same settings and shard; a torn last line is cut off.
    pub fn open(path: &Path, header: &RunHeader) -> Result<Opened> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {} for appending", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{} is being written by another xmrc-lens eval (its lock is held); give this \
                 run another --out, or another --shard",
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        let existing = read_results(path)?;
        if let Some(torn) = &existing.torn {
            tracing::warn!(
                "{}: dropping the torn last line {} ({} bytes) left by an interrupted run",
                path.display(),
                torn.line,
                torn.bytes
            );
            file.set_len(existing.complete_len)
                .with_context(|| format!("cutting the torn line off {}", path.display()))?;
        }
        let mut writer = ResultsWriter {
            file,
            path: path.to_path_buf(),
        };
        match &existing.header {
            None if existing.units.is_empty() => {
                writer.append(&ResultLine::Run(Box::new(header.clone())))?;
            }
            None => bail!(
                "{}: results without a run header; it was not written by xmrc-lens eval",
                path.display()
            ),
            Some(old) => {
                // Units of another layout version mean other things (targets, part labels):
                // one file never mixes them.
                if old.version != header.version {
                    bail!(
                        "{} holds results version {}, this xmrc-lens writes version {}; their \
                         numbers are not comparable (targets or part labels changed), so \
                         resuming would mix them: write to another --out",
                        path.display(),
                        old.version,
                        header.version
                    );
                }
                let diff = old.settings.differences(&header.settings);
                if !diff.is_empty() {
                    bail!(
                        "{} holds results computed with other settings ({}); resume with the same \
                         options or write to another --out",
                        path.display(),
                        diff.join("; ")
                    );
                }
                if old.shard != header.shard {
                    bail!(
                        "{} holds shard {} but this run is shard {}; give each shard its own --out",
                        path.display(),
                        old.shard.as_deref().unwrap_or("(none)"),
                        header.shard.as_deref().unwrap_or("(none)")
                    );
                }
            }
        }
        Ok(Opened { writer, existing })
    }

    /// Appends one line with its newline, in one write, and flushes.
    pub fn append(&mut self, line: &ResultLine) -> Result<()> {
        let mut text = serde_json::to_string(line)?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::record::RunSettings;

    fn header(max_new_tokens: usize) -> RunHeader {
        RunHeader {
            version: RESULTS_VERSION,
            settings: RunSettings {
                max_new_tokens,
                ..RunSettings::default()
            },
            shard: None,
            tool: "test".into(),
        }
    }

    #[test]
    fn version_1_files_load_as_first_generated_and_unknown_versions_are_named() {
        use crate::attribution::target::TargetChoice;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        drop(ResultsWriter::open(&path, &header(64)).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let mut v1: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        v1["version"] = 1.into();
        v1["settings"].as_object_mut().unwrap().remove("explain");
        std::fs::write(&path, format!("{v1}\n")).unwrap();
        let read = read_results(&path).unwrap();
        let settings = read.header.unwrap().settings;
        assert_eq!(settings.explain, TargetChoice::FirstGenerated);
        v1["version"] = 9.into();
        std::fs::write(&path, format!("{v1}\n")).unwrap();
        let err = format!("{:#}", read_results(&path).unwrap_err());
        assert!(
            err.contains("results version 9") && err.contains("versions 1 to 3"),
            "{err}"
        );
    }

    #[test]
    fn a_new_file_gets_a_header_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let opened = ResultsWriter::open(&path, &header(64)).unwrap();
        assert!(opened.existing.header.is_none());
        drop(opened);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(r#"{"kind":"run","version":3"#), "{text}");
        // A crash mid-line leaves bytes without a newline.
        std::fs::write(&path, format!("{text}{{\"kind\":\"unit\",\"key\":{{")).unwrap();
        let read = read_results(&path).unwrap();
        assert_eq!(read.torn, Some(TornLine { line: 2, bytes: 22 }));
        assert_eq!(read.complete_len as usize, text.len());
        let opened = ResultsWriter::open(&path, &header(64)).unwrap();
        assert!(opened.existing.torn.is_some());
        drop(opened);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn damage_before_the_last_line_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        drop(ResultsWriter::open(&path, &header(64)).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}garbage\n{text}")).unwrap();
        let err = format!("{:#}", read_results(&path).unwrap_err());
        assert!(err.contains("r.jsonl:2: not a results line"), "{err}");
    }

    #[test]
    fn other_settings_or_a_second_writer_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let first = ResultsWriter::open(&path, &header(64)).unwrap();
        let err = ResultsWriter::open(&path, &header(64)).err().unwrap();
        assert!(err.to_string().contains("lock is held"), "{err}");
        drop(first);
        let err = ResultsWriter::open(&path, &header(8)).err().unwrap();
        assert!(err.to_string().contains("max_new_tokens: 64 vs 8"), "{err}");
        let mut sharded = header(64);
        sharded.shard = Some("1/4".into());
        let err = ResultsWriter::open(&path, &sharded).err().unwrap();
        assert!(
            err.to_string().contains("give each shard its own --out"),
            "{err}"
        );
        let mut older = header(64);
        older.version = RESULTS_VERSION - 1;
        let err = ResultsWriter::open(&path, &older).err().unwrap();
        assert!(
            err.to_string().contains(&format!(
                "holds results version {RESULTS_VERSION}, this xmrc-lens writes version {}",
                RESULTS_VERSION - 1
            )),
            "{err}"
        );
        assert!(read_results(&dir.path().join("missing.jsonl"))
            .unwrap()
            .units
            .is_empty());
    }
}

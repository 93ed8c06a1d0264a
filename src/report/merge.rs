//! Loading results files (shards) and merging them into one set of units and pools.
//!
//! The same unit may be in several files (a shard run twice, a file given twice). Greedy
//! decoding is deterministic, so an identical outcome is one unit counted once; a different
//! outcome means the files were made with other models or settings, which no table may mix.

use crate::batch::results_file::{read_pool, read_results, TornLine};
use crate::batch::{PoolFile, PoolKey, RunHeader, UnitKey, UnitRecord};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What one input file contributed.
#[derive(Clone, Debug)]
pub struct InputSummary {
    pub path: PathBuf,
    pub header: Option<RunHeader>,
    /// Unit lines read.
    pub units: usize,
    /// Units already seen (in an earlier file or earlier in this one) with the same outcome.
    pub duplicates: usize,
    pub torn: Option<TornLine>,
    /// Whether a pool sidecar was found, and how many of its pools were merged or skipped
    /// (skipped: every sample already in the merged pool, a duplicate shard's sidecar).
    pub pool: Option<PoolUse>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub merged: usize,
    pub skipped: usize,
}

/// Every unit once, the pools added up, and what each file gave.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    pub inputs: Vec<InputSummary>,
    pub units: Vec<UnitRecord>,
    pub duplicates: usize,
    pub pools: PoolFile,
    /// Settings that differ between files (only with `allow_mixed`).
    pub mixed_settings: Vec<String>,
}

/// Reads and merges `paths`. Files with other settings are refused unless `allow_mixed`.
pub fn load(paths: &[PathBuf], allow_mixed: bool) -> Result<Merged> {
    if paths.is_empty() {
        bail!("no results files given");
    }
    let mut merged = Merged {
        pools: PoolFile::new(),
        ..Merged::default()
    };
    // Where each unit came from: its index in `merged.units` and its file.
    let mut seen: HashMap<UnitKey, (usize, usize)> = HashMap::new();
    let mut first_header: Option<(usize, RunHeader)> = None;
    for (file, path) in paths.iter().enumerate() {
        // `read_results` treats a missing file as empty (for `eval`); here it is a mistake.
        std::fs::metadata(path)
            .with_context(|| format!("results file {} cannot be read", path.display()))?;
        let content = read_results(path)?;
        if let Some(torn) = &content.torn {
            tracing::warn!(
                "{}: dropping the torn last line {} ({} bytes): the run that wrote it was \
                 interrupted",
                path.display(),
                torn.line,
                torn.bytes
            );
        }
        match (&content.header, &first_header) {
            (None, _) if !content.units.is_empty() => bail!(
                "{}: units without a run header; it was not written by xmrc-lens eval",
                path.display()
            ),
            (None, _) => tracing::warn!("{}: holds no units", path.display()),
            (Some(header), None) => first_header = Some((file, header.clone())),
            (Some(header), Some((first, first_h))) => {
                let diff = first_h.settings.differences(&header.settings);
                if !diff.is_empty() {
                    let what = format!(
                        "{} and {} were run with other settings ({})",
                        paths[*first].display(),
                        path.display(),
                        diff.join("; ")
                    );
                    if !allow_mixed {
                        bail!("{what}; pass --allow-mixed to report them together");
                    }
                    merged.mixed_settings.push(what);
                }
            }
        }
        let mut summary = InputSummary {
            path: path.clone(),
            header: content.header.clone(),
            units: content.units.len(),
            duplicates: 0,
            torn: content.torn.clone(),
            pool: None,
        };
        for unit in content.units {
            if let Some(&(at, other)) = seen.get(&unit.key) {
                if let Some(what) = merged.units[at].outcome_differs(&unit) {
                    bail!(
                        "conflicting duplicates: {} — {what} differs in {} and {}; the shards \
                         were run with different models or settings",
                        unit.key,
                        paths[other].display(),
                        path.display()
                    );
                }
                summary.duplicates += 1;
                continue;
            }
            seen.insert(unit.key.clone(), (merged.units.len(), file));
            merged.units.push(unit);
        }
        merged.duplicates += summary.duplicates;
        if let Some(pool) = read_pool(path)? {
            summary.pool = Some(merge_pools(&mut merged.pools, &pool, path)?);
        }
        merged.inputs.push(summary);
    }
    Ok(merged)
}

/// Adds a sidecar's pools. A pool whose samples are all already in the merged pool is a
/// duplicate shard's (skipped, or it would count twice); a partial overlap cannot be undone
/// from the sums, so it is an error.
fn merge_pools(into: &mut PoolFile, file: &PoolFile, path: &Path) -> Result<PoolUse> {
    let mut used = PoolUse::default();
    for entry in &file.pools {
        let (mut present, mut total) = (0usize, 0usize);
        if let Some(ours) = into.get(&entry.key) {
            for lang in entry.pool.languages() {
                for id in entry.pool.ids(lang) {
                    total += 1;
                    present += usize::from(ours.contains(lang, id));
                }
            }
        }
        if total > 0 && present == total {
            used.skipped += 1;
            continue;
        }
        if present > 0 {
            bail!(
                "{}: the pool of {} shares {present} of its {total} samples with the pools \
                 read before; the shards overlap partly, so S(en,x) cannot be computed without \
                 counting samples twice (drop the overlapping shard or rerun it on its own)",
                crate::batch::pool_path(path).display(),
                describe(&entry.key)
            );
        }
        into.entry(&entry.key)
            .merge(&entry.pool)
            .with_context(|| format!("merging {}", crate::batch::pool_path(path).display()))?;
        used.merged += 1;
    }
    Ok(used)
}

fn describe(key: &PoolKey) -> String {
    format!(
        "{} {} {}-shot {}",
        key.model, key.scenario, key.shots, key.format
    )
}

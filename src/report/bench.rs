//! `bench --report`: the speed of `xmrc-lens report` on synthetic unit lines written to a
//! temporary folder (it lives with the report, above the bench engine's layer).

use crate::bench::progress;
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// `--report N`: loading, aggregation and writing of `report` on `lines` synthetic lines,
/// with and without plots; progress is logged unless `json_only`.
pub fn run(lines: usize, seed: u64, json_only: bool) -> Result<Value> {
    use crate::report::{self, merge, synthetic, ReportOptions};
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    progress(&format!("writing {lines} synthetic unit lines"));
    let started = Instant::now();
    let file = synthetic::write_bench(dir.path(), lines, seed)?;
    let generate_s = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let pool_bytes = std::fs::metadata(crate::batch::pool_path(&file))
        .map(|m| m.len())
        .unwrap_or(0);
    let mut runs = Map::new();
    for plots in [false, true] {
        let options = ReportOptions {
            normalizer: crate::eval::normalize::Normalizer::Squad,
            judge: None,
            paper: true,
            plots,
        };
        let out = dir
            .path()
            .join(if plots { "with-plots" } else { "no-plots" });
        let started = Instant::now();
        let merged = merge::load(std::slice::from_ref(&file), false)?;
        let load_s = started.elapsed().as_secs_f64();
        let built = report::build(&merged, &options)?;
        let build_s = started.elapsed().as_secs_f64() - load_s;
        let written = report::write(&built, &out, plots)?;
        let total_s = started.elapsed().as_secs_f64();
        let name = if plots { "with_plots" } else { "no_plots" };
        runs.insert(
            name.into(),
            json!({
                "load_s": load_s,
                "aggregate_s": build_s,
                "write_s": total_s - load_s - build_s,
                "total_s": total_s,
                "lines_per_s": lines as f64 / total_s,
                "files_written": written.len(),
            }),
        );
        if !json_only {
            progress(&format!(
                "report {name}: {total_s:.2} s ({:.0} lines/s; load {load_s:.2} s, aggregate \
                 {build_s:.2} s, write {:.2} s, {} files)",
                lines as f64 / total_s,
                total_s - load_s - build_s,
                written.len()
            ));
        }
    }
    let report = json!({
        "bench": "report",
        "lines": lines,
        "results_mb": bytes as f64 / 1e6,
        "pool_mb": pool_bytes as f64 / 1e6,
        "generate_s": generate_s,
        "threads": 1,
        "runs": runs,
    });
    Ok(report)
}

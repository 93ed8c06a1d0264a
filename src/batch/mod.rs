//! Batch evaluation: many units (model x sample x scenario x language x shots x format)
//! through `pipeline::trace_sample`, one compact JSON line per finished unit, resumable and
//! shardable. `xmrc-lens eval` drives it; `xmrc-lens report` reads what it wrote.

pub mod record;
pub mod results_file;
pub mod runner;
pub mod units;

pub use record::{
    pool_path, Analyses, LensSummary, PoolFile, PoolKey, ResultLine, RunHeader, RunSettings,
    UnitKey, UnitRecord, RESULTS_VERSION,
};

//! xmrc-lens: how a large language model answers a reading-comprehension question asked in
//! one language about a text in another.
//!
//! The engine modules (`data`, `model`, `eval`, `synth`, `worker`) know nothing of the
//! terminal; the command line (`cli`) and, later, the TUI are two faces of the same engine.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod atomic_file;
pub mod attribution;
pub mod batch;
pub mod cli;
pub mod data;
pub mod eval;
pub mod hf;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod session;
pub mod similarity;
pub mod synth;
pub mod tui;
pub mod worker;

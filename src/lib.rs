//! xmrc-lens: how a large language model answers a reading-comprehension question asked in
//! one language about a text in another.
//!
//! The engine modules (`hf`, `data`, `model`, `eval`, `synth`, `worker`) know nothing of the
//! terminal; the command line (`cli`) and the explorer (`tui`) are two faces of the same
//! engine. At the bottom, `hf` holds what `data` and `model` share (hub access, tokenizer,
//! chat templates); `data` and `model` import it and not each other. `bench` measures the
//! engine (speed, memory, transformers side by side) for `xmrc-lens bench`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod atomic_file;
pub mod attribution;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod data;
pub mod eval;
pub mod explorer;
pub mod hf;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod similarity;
pub mod synth;
pub mod tui;

//! Synthetic artefacts made on this machine: tokenizers and random-weight models
//! in the real Hugging Face layout, for tests, the demo mode and benchmarks.

pub mod model;
pub mod tokenizer;

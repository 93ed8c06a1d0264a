//! xmrc-lens: how a large language model answers a reading-comprehension question asked in
//! one language about a text in another.
//!
//! The layers, bottom to top; a module imports only the layers below it (`tests/layering.rs`
//! checks it, and that only the front ends name the terminal crates):
//!
//! 1. `atomic_file`, `hf`: whole-or-nothing writes; what data and model share from the
//!    Hugging Face ecosystem (hub access and cache, tokenizer, chat templates);
//! 2. `data`, `synth`: XQuAD, prompts and their settings, data requests, the demo set;
//!    synthetic tokenizers, templates and models;
//! 3. `eval`: text rules (extraction, normalisers, scores, languages, error labels);
//! 4. `model`: sources, weights, the decoder, generation;
//! 5. `attribution`, `similarity`, `lens`: the instruments;
//! 6. `pipeline`: one sample through every instrument, one function per stage;
//! 7. `batch`, `bench`, `diff`: evaluation runs and results files; the engine bench; two
//!    models' relevance of one sample, aligned and subtracted;
//! 8. `report`, `export`: tables and plots over results files; a trace as a self-contained
//!    HTML page or SVG;
//! 9. `explorer`: everything the explorer decides, with no terminal code;
//! 10. `tui`: the terminal front end of the explorer;
//! 11. `cli`: the subcommands (`explore` opens the `tui`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod atomic_file;
pub mod attribution;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod data;
pub mod diff;
pub mod eval;
pub mod explorer;
pub mod export;
pub mod hf;
pub mod lens;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod similarity;
pub mod synth;
pub mod tui;

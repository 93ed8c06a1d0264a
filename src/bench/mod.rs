//! The bench engine: speed and memory of the engine on a random-weight model with real
//! dimensions (or any model), optionally side by side with transformers on the same folder
//! and tokens; also the latency of a cancel (the report's speed is `report::bench`).
//! `xmrc-lens bench` (`cli::bench`) parses the arguments and prints what these return.
//!
//! The model is built once per preset/dtype/seed under a cache folder (see
//! [`crate::synth::model`]); the prompt is a 2-shot XQuAD prompt made by the project's prompt
//! builder and tokenizer, cut or repeated to exactly the asked length, so both
//! implementations run the same tokens. Each figure is one timed run after an untimed
//! 8-token warm-up.

pub mod cancel;
pub mod measure;
pub mod memory;
pub mod model;
pub mod peer;
pub mod prompt;
pub mod speed;
pub mod table;

pub use measure::{Workload, WARM_UP_TOKENS};
pub use model::BenchModel;
pub use peer::PeerAttention;
pub use speed::SpeedBench;
pub use table::table;

/// A bench's progress line, on stderr so stdout stays the report.
pub fn progress(message: &str) {
    eprintln!("[bench] {message}");
}

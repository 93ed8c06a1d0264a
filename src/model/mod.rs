//! Model side: config, weights, the instrumented decoder, generation and the tokenizer.

pub mod config;
pub mod decoder;
pub mod generate;
pub mod tokenizer;
pub mod weights;

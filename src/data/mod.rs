//! Parallel reading-comprehension data: languages, samples, loaders, prompts.

pub mod demo;
pub mod hub;
pub mod lang;
pub mod loader;
pub mod prompt;
pub mod request;
pub mod sample;
pub mod source;

pub use lang::{Lang, Script};
pub use sample::{Answer, Dataset, Entry, Sample};

//! Model side: where a model comes from (hub, folder or GGUF file), its config and special
//! ids, device and dtype, weights read into memory (or dequantized GGUF), the instrumented decoder, generation and the tokenizer.

pub mod chat_mode;
pub mod config;
pub mod decoder;
pub mod device;
pub mod generate;
pub mod generation_config;
pub mod gguf;
pub mod load;
pub mod safetensors_check;
pub mod source;
pub mod spec;
pub mod weights;

pub use load::LoadedModel;

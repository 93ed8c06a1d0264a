//! Model side: for now the tokenizer wrapper (the decoder arrives with the engine issue).

pub mod chat_mode;
pub mod device;
pub mod generation_config;
pub mod source;
pub mod spec;
pub mod tokenizer;

//! What the data and model sides both take from the Hugging Face ecosystem: hub access and
//! its cache ([`hub`]), the tokenizer wrapper ([`tokenizer`]) and chat-template rendering
//! ([`chat_template`]). `data` and `model` import this layer, not each other.

pub mod chat_template;
pub mod hub;
pub mod tokenizer;

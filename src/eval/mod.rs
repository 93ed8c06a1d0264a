//! Scoring: answer extraction, F1/EM under two normalisers, language id, generation errors.

mod chars;
pub mod extract;
pub mod gen_error;
pub mod jsonl;
pub mod judge;
pub mod langid;
pub mod normalize;
pub mod score;

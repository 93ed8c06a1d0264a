//! The paper's instruments over the engine: AttnLRP relevance per layer, Major Relevance
//! Depth, and the sentence-ablation oracle.

pub mod mrd;
pub mod oracle;
pub mod relevance;
pub mod sentences;
pub mod target;

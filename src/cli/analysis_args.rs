//! The analysis options `trace` and `eval` share: what relevance explains and how, when
//! generation stops, MRD, the oracle's ablation, and the LLM judge.

use crate::attribution::mrd::MrdOptions;
use crate::attribution::oracle::{Ablation, OracleOptions, DEFAULT_MAX_BATCH_TOKENS};
use crate::attribution::relevance::{RelevanceOptions, TargetMode};
use crate::attribution::target::TargetChoice;
use crate::batch::Analyses;
use crate::model::decoder::{GradientRules, DEFAULT_QUERY_BLOCK};
use crate::model::generate::DEFAULT_MAX_NEW_TOKENS;
use crate::pipeline::{StopMode, TraceOptions};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// What relevance explains: the first answer token (step) or all of them (sequence).
    #[arg(long, default_value = "step")]
    pub target: TargetMode,
    /// Which generated tokens relevance and the oracle explain: answer-span (the tokens of
    /// the extracted answer, the marker and lead-in before them fed as input) or
    /// first-generated (the first generated token whatever it is, the old target).
    #[arg(
        long,
        default_value = "answer-span",
        value_name = "answer-span|first-generated"
    )]
    pub explain: TargetChoice,
    /// Propagation rules: attn-lrp (LXT's efficient AttnLRP), cp-lrp, or gradient
    /// (plain gradient x input).
    #[arg(long, default_value = "attn-lrp")]
    pub rules: GradientRules,
    /// Stop after this many new tokens.
    #[arg(long, default_value_t = DEFAULT_MAX_NEW_TOKENS)]
    pub max_new_tokens: usize,
    /// default: EOS, end of turn or the first line break after answer text; eos: EOS and
    /// end of turn only; none: only --max-new-tokens.
    #[arg(long, default_value = "default")]
    pub stop: StopMode,
    /// Token MRD threshold: the share of a token's relevance reached by its MRD layer.
    #[arg(long, default_value_t = 0.95, value_parser = parse_threshold)]
    pub mrd_threshold: f32,
    /// Decoder layers counted by MRD (default: all but the last, N = L - 1).
    #[arg(long, value_parser = at_least_one)]
    pub mrd_layers: Option<usize>,
    /// Oracle ablation: remove the sentence's tokens, or replace each by this token id.
    #[arg(long, value_name = "ID")]
    pub baseline_token: Option<u32>,
    /// Oracle: batched full forwards (rows x padded length up to --oracle-batch-tokens)
    /// instead of reusing the unperturbed prompt's KV cache for each unchanged prefix.
    #[arg(long)]
    pub oracle_batched: bool,
    /// Oracle batch budget with --oracle-batched: rows x padded length per forward.
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_TOKENS, value_parser = at_least_one)]
    pub oracle_batch_tokens: usize,
    /// Queries per block in the attention backward (memory only, same values).
    #[arg(long, default_value_t = DEFAULT_QUERY_BLOCK, value_parser = at_least_one)]
    pub query_block: usize,
    /// Ask this instruct model (hub id or folder) for generation-error labels, with the
    /// paper's appendix A.2 prompt.
    #[arg(long, value_name = "ID|DIR")]
    pub judge: Option<String>,
}

impl AnalysisArgs {
    /// The trace options for these flags, with the instruments `analyses` switches on.
    pub fn trace_options(&self, analyses: Analyses) -> TraceOptions {
        TraceOptions {
            max_new_tokens: self.max_new_tokens,
            stop: self.stop,
            top_k: 5,
            relevance: analyses.relevance.then_some(RelevanceOptions {
                rules: self.rules,
                target: self.target,
                query_block: self.query_block,
            }),
            mrd: MrdOptions {
                threshold: self.mrd_threshold,
                counted_layers: self.mrd_layers,
            },
            similarity: analyses.similarity,
            oracle: analyses.oracle.then_some(OracleOptions {
                ablation: self.ablation(),
                max_batch_tokens: self.oracle_batch_tokens,
                prefix_cache: !self.oracle_batched,
            }),
            lens: analyses.lens,
            dump_hidden: false,
            explain: self.explain,
        }
    }

    pub fn ablation(&self) -> Ablation {
        self.baseline_token
            .map_or(Ablation::Remove, Ablation::Baseline)
    }
}

/// A share in (0, 1]: checked when the arguments are parsed, before any model loads.
fn parse_threshold(text: &str) -> Result<f32, String> {
    let value: f32 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(format!("must be in (0, 1], got {text}"))
    }
}

/// A count of at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a whole number")),
    }
}

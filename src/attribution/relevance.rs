//! AttnLRP latent relevance: one recorded forward, one backward from the target under the
//! chosen rules, and `R_i(t) = Σ_d h_i[t,d] g_i[t,d]` (f32) at every residual-stream level.

use crate::model::decoder::{Decoder, GradientRules, Recording, Seed, DEFAULT_QUERY_BLOCK};
use anyhow::{bail, Result};
use candle_core::{DType, D};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What is explained.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TargetMode {
    /// The logit of the first answer token at the last prompt position.
    #[default]
    Step,
    /// The sum of the answer tokens' logits, the answer teacher-forced after the prompt.
    Sequence,
}

impl TargetMode {
    pub fn name(self) -> &'static str {
        match self {
            TargetMode::Step => "step",
            TargetMode::Sequence => "sequence",
        }
    }
}

impl fmt::Display for TargetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "step" => Ok(TargetMode::Step),
            "sequence" => Ok(TargetMode::Sequence),
            _ => Err(format!("unknown target '{s}'; use step or sequence")),
        }
    }
}

/// How relevance is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelevanceOptions {
    pub rules: GradientRules,
    pub target: TargetMode,
    /// Queries per block in the attention backward (memory knob; no effect on values).
    pub query_block: usize,
}

impl Default for RelevanceOptions {
    fn default() -> Self {
        RelevanceOptions {
            rules: GradientRules::AttnLrp,
            target: TargetMode::Step,
            query_block: DEFAULT_QUERY_BLOCK,
        }
    }
}

/// Relevance of every prompt token at every level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relevance {
    pub rules: GradientRules,
    pub target: TargetMode,
    /// The explained tokens (one for `step`) and the explained value: their summed logits.
    pub target_tokens: Vec<u32>,
    pub target_logit: f64,
    /// `levels x prompt tokens`: row 0 the embeddings, row i the residual stream after
    /// decoder layer i (the last row before the final norm). Raw, signed, unnormalised.
    pub raw: Vec<Vec<f32>>,
    /// Per level: Σ_t R_i(t) / target logit. AttnLRP conserves approximately: the top level
    /// is exactly 1; lower levels drift with biases and the rules' epsilons.
    pub conservation: Vec<f64>,
    pub forward_ms: f64,
    pub backward_ms: f64,
}

/// A recorded forward and the relevance computed from it.
pub struct Attribution {
    pub relevance: Relevance,
    /// The recorded run (prompt, then the teacher-forced answer in `sequence` mode); its
    /// first `prompt_len` positions are the prompt's hidden states.
    pub recording: Recording,
}

/// Explains the model's answer `answer` (token ids, at least one) to `prompt`.
pub fn attribute(
    decoder: &Decoder,
    prompt: &[u32],
    answer: &[u32],
    options: &RelevanceOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Attribution> {
    attribute_after(decoder, None, prompt, answer, options, cancel)
}

/// [`attribute`] given a recording of the start of its input (the generation's recorded
/// prefill): only the rest of the input is run forward. A recording that is not a prefix of
/// the input is not used.
pub fn attribute_after(
    decoder: &Decoder,
    recorded: Option<Recording>,
    prompt: &[u32],
    answer: &[u32],
    options: &RelevanceOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Attribution> {
    if prompt.is_empty() {
        bail!("cannot attribute an empty prompt");
    }
    let Some(&first) = answer.first() else {
        bail!("no answer token to explain: the model generated nothing");
    };
    let (input, seeds): (Vec<u32>, Vec<Seed>) = match options.target {
        TargetMode::Step => (
            prompt.to_vec(),
            vec![Seed {
                position: prompt.len() - 1,
                token: first,
                weight: 1.0,
            }],
        ),
        TargetMode::Sequence => {
            let mut input = prompt.to_vec();
            input.extend_from_slice(&answer[..answer.len() - 1]);
            let seeds = answer
                .iter()
                .enumerate()
                .map(|(k, &token)| Seed {
                    position: prompt.len() - 1 + k,
                    token,
                    weight: 1.0,
                })
                .collect();
            (input, seeds)
        }
    };
    let started = Instant::now();
    let recording = match recorded {
        Some(rec) if input.starts_with(&rec.ids) => {
            let seen = rec.len();
            decoder.record_extend(rec, &input[seen..], cancel)?
        }
        _ => decoder.record_until(&input, cancel)?,
    };
    let forward_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let backward = decoder.backward(
        &recording,
        &seeds,
        options.rules,
        options.query_block,
        cancel,
    )?;
    let t = prompt.len();
    let mut raw = Vec::with_capacity(backward.grads.len());
    for (h, g) in recording.levels.iter().zip(&backward.grads) {
        // Σ_d h·g in f32 (f64 for f64 models) whatever the model dtype.
        let r = (h.to_dtype(g.dtype())? * g)?.sum(D::Minus1)?;
        raw.push(r.narrow(0, 0, t)?.to_dtype(DType::F32)?.to_vec1::<f32>()?);
    }
    let backward_ms = started.elapsed().as_secs_f64() * 1e3;
    let target_logit = backward.target;
    // Conservation is about all inputs, the teacher-forced answer tokens included.
    let conservation = recording
        .levels
        .iter()
        .zip(&backward.grads)
        .map(|(h, g)| -> Result<f64> {
            let total = (h.to_dtype(g.dtype())? * g)?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            Ok(total / target_logit)
        })
        .collect::<Result<Vec<_>>>()?;
    let target_tokens = match options.target {
        TargetMode::Step => vec![first],
        TargetMode::Sequence => answer.to_vec(),
    };
    Ok(Attribution {
        relevance: Relevance {
            rules: options.rules,
            target: options.target,
            target_tokens,
            target_logit,
            raw,
            conservation,
            forward_ms,
            backward_ms,
        },
        recording,
    })
}

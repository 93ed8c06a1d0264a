//! Pooling one run's hidden states into a question mean, a context mean and the last token,
//! per level. The reduction runs where the tensors live (GPU included); only the pooled
//! vectors come back, in f32.

use super::{PerPart, SimPart};
use crate::data::prompt::{Part, PromptToken};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

/// The three pooled vectors of one level, each `hidden_size` long.
pub type LayerPools = PerPart<Vec<f32>>;

/// Pooled vectors of one run for every level 0..=L (index = level, as in `hidden_states`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HiddenSummary {
    pub layers: Vec<LayerPools>,
}

impl HiddenSummary {
    /// Number of levels, L + 1.
    pub fn levels(&self) -> usize {
        self.layers.len()
    }

    /// Length of every vector (0 for an empty summary).
    pub fn hidden_size(&self) -> usize {
        self.layers.first().map_or(0, |l| l.question.len())
    }

    /// At least one level, and every vector of one length.
    pub fn check(&self) -> Result<()> {
        let size = self.hidden_size();
        if size == 0 {
            bail!("a hidden-state summary needs at least one level of non-empty vectors");
        }
        for (level, pools) in self.layers.iter().enumerate() {
            for part in SimPart::ALL {
                let len = pools.get(part).len();
                if len != size {
                    bail!(
                        "hidden-state summary: level {level} {part} has {len} values, not {size}"
                    );
                }
            }
        }
        Ok(())
    }

    /// Both summaries valid and of the same shape (same model).
    pub fn check_same_shape(&self, other: &HiddenSummary) -> Result<()> {
        self.check()?;
        other.check()?;
        if (self.levels(), self.hidden_size()) != (other.levels(), other.hidden_size()) {
            bail!(
                "hidden-state summaries differ in shape: {} levels x {} vs {} levels x {}",
                self.levels(),
                self.hidden_size(),
                other.levels(),
                other.hidden_size()
            );
        }
        Ok(())
    }
}

/// Pools hidden states (`[1, T, hidden]` per level, the HF `output_hidden_states` list) over
/// the prompt's tokens, grouped by their part labels.
pub fn pool_hidden_states(
    hidden_states: &[Tensor],
    tokens: &[PromptToken],
) -> Result<HiddenSummary> {
    let labels: Vec<Part> = tokens.iter().map(|t| t.part).collect();
    pool_by_parts(hidden_states, &labels)
}

/// As [`pool_hidden_states`], with one part label per token position.
pub fn pool_by_parts(hidden_states: &[Tensor], labels: &[Part]) -> Result<HiddenSummary> {
    let indices = |part: Part| -> Vec<u32> {
        (0u32..)
            .zip(labels)
            .filter(|(_, l)| **l == part)
            .map(|(i, _)| i)
            .collect()
    };
    let question = indices(Part::Question);
    let context = indices(Part::Context);
    if question.is_empty() || context.is_empty() {
        bail!("pooling needs question and context tokens in the prompt");
    }
    if hidden_states.is_empty() {
        bail!("pooling needs at least one level of hidden states");
    }
    let layers = hidden_states
        .iter()
        .enumerate()
        .map(|(level, h)| {
            pool_level(h, labels.len(), &question, &context)
                .with_context(|| format!("pooling hidden states of level {level}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HiddenSummary { layers })
}

fn pool_level(h: &Tensor, tokens: usize, question: &[u32], context: &[u32]) -> Result<LayerPools> {
    let (batch, len, _) = h.dims3()?;
    if batch != 1 || len != tokens {
        bail!("expected [1, {tokens}, hidden], got {:?}", h.dims());
    }
    // Hidden states of the differentiable path may carry a graph; pooling needs none.
    let h = h.detach().get(0)?;
    Ok(PerPart {
        question: mean_rows(&h, question)?,
        context: mean_rows(&h, context)?,
        last: h.get(len - 1)?.to_dtype(DType::F32)?.to_vec1()?,
    })
}

/// Mean of the rows `rows` (non-empty) of a `[T, hidden]` tensor, in f32.
fn mean_rows(h: &Tensor, rows: &[u32]) -> Result<Vec<f32>> {
    let first = rows[0];
    // Parts are contiguous in practice: a view is cheaper than a gather.
    let contiguous = rows.iter().zip(first..).all(|(r, i)| *r == i);
    let picked = if contiguous {
        h.narrow(0, first as usize, rows.len())?
    } else {
        h.index_select(&Tensor::from_slice(rows, rows.len(), h.device())?, 0)?
    };
    Ok(picked.to_dtype(DType::F32)?.mean(0)?.to_vec1()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Two levels, 4 tokens, hidden 2: token t at level l is [t + 10 l, -t].
    fn states(dtype: DType) -> Vec<Tensor> {
        (0..2)
            .map(|l| {
                let v: Vec<f32> = (0..4)
                    .flat_map(|t| [t as f32 + 10.0 * l as f32, -(t as f32)])
                    .collect();
                Tensor::from_vec(v, (1, 4, 2), &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn pools_means_and_the_last_token() {
        let labels = [Part::System, Part::Context, Part::Context, Part::Question];
        let s = pool_by_parts(&states(DType::F32), &labels).unwrap();
        assert_eq!(s.levels(), 2);
        assert_eq!(s.hidden_size(), 2);
        assert_eq!(s.layers[0].context, vec![1.5, -1.5]);
        assert_eq!(s.layers[0].question, vec![3.0, -3.0]);
        assert_eq!(s.layers[0].last, vec![3.0, -3.0]);
        assert_eq!(s.layers[1].context, vec![11.5, -1.5]);
        assert_eq!(s.layers[1].last, vec![13.0, -3.0]);
        s.check().unwrap();
        // bf16 states come back as f32 with the same values (all exact in bf16).
        assert_eq!(pool_by_parts(&states(DType::BF16), &labels).unwrap(), s);
    }

    #[test]
    fn scattered_parts_are_gathered() {
        let labels = [Part::Context, Part::Question, Part::Context, Part::Trailer];
        let s = pool_by_parts(&states(DType::F32), &labels).unwrap();
        assert_eq!(s.layers[1].context, vec![11.0, -1.0]);
        assert_eq!(s.layers[1].question, vec![11.0, -1.0]);
        assert_eq!(s.layers[1].last, vec![13.0, -3.0]);
    }

    #[test]
    fn prompt_tokens_give_the_labels() {
        let token = |part| PromptToken {
            id: 0,
            piece: String::new(),
            start: 0,
            end: 0,
            part,
        };
        let tokens: Vec<PromptToken> = [Part::Task, Part::Context, Part::Question, Part::Trailer]
            .into_iter()
            .map(token)
            .collect();
        let s = pool_hidden_states(&states(DType::F32), &tokens).unwrap();
        assert_eq!(s.layers[0].context, vec![1.0, -1.0]);
        assert_eq!(s.layers[0].question, vec![2.0, -2.0]);
    }

    #[test]
    fn refuses_missing_parts_and_wrong_shapes() {
        let no_question = [Part::Context; 4];
        assert!(pool_by_parts(&states(DType::F32), &no_question).is_err());
        let short = [Part::Context, Part::Question];
        let err = pool_by_parts(&states(DType::F32), &short).unwrap_err();
        assert!(
            format!("{err:#}").contains("expected [1, 2, hidden]"),
            "{err:#}"
        );
        assert!(pool_by_parts(&[], &[Part::Context, Part::Question]).is_err());
        let ragged = HiddenSummary {
            layers: vec![PerPart {
                question: vec![1.0],
                context: vec![1.0, 2.0],
                last: vec![1.0],
            }],
        };
        assert!(ragged.check().is_err());
        assert!(HiddenSummary::default().check().is_err());
    }
}

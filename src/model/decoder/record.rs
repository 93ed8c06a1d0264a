//! A forward pass over one prompt that keeps what the hand-written backward pass needs.
//!
//! Why not candle's autograd: candle keeps every intermediate tensor of the graph alive
//! until the backward ends (six `[heads, T, T]` attention tensors per layer) and computes
//! weight gradients nobody reads; a 1,500-token trace of a 0.5B model did not fit in 23 GB.
//! This forward runs the fused kernels, keeps per layer only the residual stream, q, k
//! (after RoPE), v, the MLP's gate and up projections and the mid-block residual, and
//! the backward recomputes attention probabilities one query block at a time.

use super::layers::PathKind;
use super::mask;
use super::rope::RopeTables;
use super::{Decoder, Kernels};
use anyhow::{bail, Result};
use candle_core::Tensor;

/// What one decoder layer's backward needs, all `[1, ...]` in the run dtype.
pub struct LayerRecord {
    /// q and k after RoPE `[1, heads | kv_heads, T, head_dim]`, v `[1, kv_heads, T, head_dim]`.
    pub(super) q: Tensor,
    pub(super) k: Tensor,
    pub(super) v: Tensor,
    /// The residual stream after attention, before the MLP.
    pub(super) mid: Tensor,
    /// The MLP's gate projection (before the activation) and up projection.
    pub(super) gate: Tensor,
    pub(super) up: Tensor,
    /// Gemma-2's sandwich norms take the attention and MLP outputs as inputs.
    pub(super) attn_out: Option<Tensor>,
    pub(super) mlp_out: Option<Tensor>,
}

/// A recorded forward pass over one prompt.
pub struct Recording {
    pub(super) layers: Vec<LayerRecord>,
    pub(super) rope: RopeTables,
    /// `num_layers + 1` residual-stream states `[T, hidden]` in the run dtype: the (scaled)
    /// embeddings, then the output of each decoder layer (the last one before the final norm).
    pub levels: Vec<Tensor>,
    /// The final-normed output `[T, hidden]` (transformers' last hidden state).
    pub normed: Tensor,
    pub ids: Vec<u32>,
}

impl Recording {
    /// Tokens recorded.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Hidden states in transformers' `output_hidden_states` convention (`L + 1` entries,
    /// the last one final-normed), each `[T, hidden]`.
    pub fn hidden_states(&self) -> Vec<Tensor> {
        let last = self.levels.len() - 1;
        let mut states: Vec<Tensor> = self.levels[..last].to_vec();
        states.push(self.normed.clone());
        states
    }
}

impl Decoder {
    /// Runs `ids` through the model, keeping what [`Decoder::backward`] needs.
    pub fn record(&self, ids: &[u32]) -> Result<Recording> {
        self.record_until(ids, None)
    }

    /// [`Decoder::record`], checking `cancel` before every layer (a set flag ends it with
    /// [`super::Cancelled`] within one layer's time).
    pub fn record_until(
        &self,
        ids: &[u32],
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Recording> {
        if ids.is_empty() {
            bail!("cannot record an empty prompt");
        }
        self.check_ids(ids)?;
        let (layers, levels, normed) = self.forward_recorded_after(ids, None, cancel)?;
        let positions: Vec<u32> = (0..ids.len() as u32).collect();
        Ok(Recording {
            layers,
            rope: RopeTables::new(&self.inv_freq, &[positions], self.dtype, &self.device)?,
            levels,
            normed,
            ids: ids.to_vec(),
        })
    }

    /// The recorded forward of `ids` after the positions `past` holds (none: from position
    /// 0): per layer the record of the new positions, the levels `[t, hidden]` and the
    /// final-normed output. Blocked attention with the fused softmax on the CPU; the
    /// additive mask elsewhere. `cancel` is checked before every layer.
    fn forward_recorded_after(
        &self,
        ids: &[u32],
        past: Option<&Recording>,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<(Vec<LayerRecord>, Vec<Tensor>, Tensor)> {
        let offset = past.map_or(0, Recording::len);
        let t = ids.len();
        let ids_t = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let positions: Vec<u32> = (offset as u32..(offset + t) as u32).collect();
        let tables = RopeTables::new(&self.inv_freq, &[positions], self.dtype, &self.device)?;
        // The fused RoPE kernel takes `[T, D/2]` tables.
        let tables = RopeTables {
            cos: tables.cos.squeeze(0)?,
            sin: tables.sin.squeeze(0)?,
        };
        let fused = Kernels::for_device(&self.device, self.dtype) == Kernels::FusedCpu;
        let mut masks: Vec<(Option<usize>, Tensor)> = Vec::new();
        let mut x = self.embed(&ids_t)?;
        let mut levels = Vec::with_capacity(self.blocks.len() + 1);
        let mut layers = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(super::Cancelled.into());
            }
            levels.push(x.squeeze(0)?);
            let mask = match masks.iter().find(|(w, _)| *w == block.window) {
                _ if fused => None,
                Some((_, m)) => Some(m.clone()),
                None => {
                    let m = mask::additive_mask(
                        1,
                        t,
                        offset + t,
                        offset,
                        block.window,
                        None,
                        &self.device,
                    )?;
                    masks.push((block.window, m.clone()));
                    Some(m)
                }
            };
            let kv = past.map(|p| (&p.layers[i].k, &p.layers[i].v));
            let (y, record) = block.forward_recorded(&x, &tables, mask.as_ref(), kv)?;
            layers.push(record);
            x = y;
        }
        let normed = self.norm.forward(&x, PathKind::Fast)?.squeeze(0)?;
        levels.push(x.squeeze(0)?);
        Ok((layers, levels, normed))
    }

    /// [`Decoder::record_until`] as the prefill of a generation: also fills `cache` (empty)
    /// with the recorded keys and values and returns the last position's f32 logits
    /// `[vocab]`, the same numbers [`Decoder::forward_fast`] gives on the CPU, where both run
    /// the same blocked kernels. A relevance trace then extends this recording instead of
    /// running the prompt's forward again.
    pub fn record_prefill(
        &self,
        ids: &[u32],
        cache: &mut super::KvCache,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<(Tensor, Recording)> {
        if !cache.is_empty() {
            bail!("a recorded prefill starts from an empty cache");
        }
        let rec = self.record_until(ids, cancel)?;
        for (layer, kv) in rec.layers.iter().zip(cache.layers.iter_mut()) {
            kv.append(&layer.k, &layer.v)?;
        }
        let logits = self.logits_at(&rec, &[ids.len() - 1])?.flatten_all()?;
        Ok((logits, rec))
    }

    /// The recording of `prefix.ids` followed by `more`: `more` runs after the recorded
    /// keys and values (no forward over the prefix again), and each layer's record is the
    /// two joined along the positions. `cancel` is checked before every layer.
    pub fn record_extend(
        &self,
        prefix: Recording,
        more: &[u32],
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> Result<Recording> {
        if more.is_empty() {
            return Ok(prefix);
        }
        self.check_ids(more)?;
        let total = prefix.len() + more.len();
        let (layers, new_levels, normed) =
            self.forward_recorded_after(more, Some(&prefix), cancel)?;
        let join = |a: &Tensor, b: &Tensor, dim: usize| Tensor::cat(&[a, b], dim);
        let join_opt =
            |a: &Option<Tensor>, b: &Option<Tensor>| -> candle_core::Result<Option<Tensor>> {
                match (a, b) {
                    (Some(a), Some(b)) => Ok(Some(Tensor::cat(&[a, b], 1)?)),
                    _ => Ok(None),
                }
            };
        // The prefix is consumed layer by layer, so each of its layers is freed once joined:
        // the extension holds one layer twice at most, not the whole recording.
        let Recording {
            layers: prefix_layers,
            levels: prefix_levels,
            normed: prefix_normed,
            ids: prefix_ids,
            ..
        } = prefix;
        let layers = prefix_layers
            .into_iter()
            .zip(layers)
            .map(|(a, b)| {
                Ok(LayerRecord {
                    q: join(&a.q, &b.q, 2)?,
                    k: join(&a.k, &b.k, 2)?,
                    v: join(&a.v, &b.v, 2)?,
                    mid: join(&a.mid, &b.mid, 1)?,
                    gate: join(&a.gate, &b.gate, 1)?,
                    up: join(&a.up, &b.up, 1)?,
                    attn_out: join_opt(&a.attn_out, &b.attn_out)?,
                    mlp_out: join_opt(&a.mlp_out, &b.mlp_out)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let levels = prefix_levels
            .into_iter()
            .zip(&new_levels)
            .map(|(a, b)| join(&a, b, 0))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let all: Vec<u32> = (0..total as u32).collect();
        let mut ids = prefix_ids;
        ids.extend_from_slice(more);
        Ok(Recording {
            layers,
            rope: RopeTables::new(&self.inv_freq, &[all], self.dtype, &self.device)?,
            levels,
            normed: join(&prefix_normed, &normed, 0)?,
            ids,
        })
    }

    /// The logit lens at one position: every level's residual state (the embeddings, then
    /// each layer's output) read through the model's own head — final norm, lm_head,
    /// Gemma-2's final soft-cap — as f32 logits `[levels, vocab]`. The last level is the
    /// model's own next-token logits there ([`Decoder::logits_at`]).
    pub fn lens_logits(&self, rec: &Recording, position: usize) -> Result<Tensor> {
        if position >= rec.len() {
            bail!(
                "position {position} is past the recorded {} tokens",
                rec.len()
            );
        }
        let rows = rec
            .levels
            .iter()
            .map(|level| level.narrow(0, position, 1))
            .collect::<candle_core::Result<Vec<_>>>()?;
        // One row per level, normed as the recording norms its last level.
        let stacked = Tensor::cat(&rows, 0)?.unsqueeze(0)?;
        let normed = self.norm.forward(&stacked, PathKind::Fast)?.squeeze(0)?;
        let mut logits = candle_core::Module::forward(&self.lm_head, &normed)?;
        if let Some(cap) = self.config.final_logit_softcap {
            logits = ((logits / cap)?.tanh()? * cap)?;
        }
        Ok(logits.to_dtype(candle_core::DType::F32)?)
    }

    /// f32 logits `[positions, vocab]` of the recording at the given positions.
    pub fn logits_at(&self, rec: &Recording, positions: &[usize]) -> Result<Tensor> {
        if let Some(&bad) = positions.iter().find(|&&p| p >= rec.len()) {
            bail!("position {bad} is past the recorded {} tokens", rec.len());
        }
        let index: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        let index = Tensor::new(index.as_slice(), &self.device)?;
        let rows = rec.normed.index_select(&index, 0)?;
        let mut logits = candle_core::Module::forward(&self.lm_head, &rows)?;
        if let Some(cap) = self.config.final_logit_softcap {
            logits = ((logits / cap)?.tanh()? * cap)?;
        }
        Ok(logits.to_dtype(candle_core::DType::F32)?)
    }
}

//! One decoder for the Llama, Qwen2, Mistral and Gemma-2 families (their differences are
//! switches in [`ModelConfig`]), with two paths over the same weights:
//!
//! - [`Decoder::forward_fast`]: generation with a KV cache, fused candle-nn kernels allowed;
//! - [`Decoder::forward_diff`]: a batch of whole prompts through primitive ops only (each
//!   has a backward pass and a CUDA kernel), returning logits for every position and the
//!   hidden states in transformers' `output_hidden_states` convention, with optional probes
//!   added to the residual stream for gradient read-out.

mod backward;
mod fused;
mod layers;
pub mod mask;
mod record;
pub mod rope;
pub mod rules;

use super::config::ModelConfig;
use anyhow::{bail, Context};
pub use backward::{Seed, DEFAULT_QUERY_BLOCK};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
pub use fused::Kernels;
use layers::{Attention, LayerCache, Mlp, PathKind, RmsNorm};
use record::LayerRecord;
pub use record::Recording;
use rope::RopeTables;
pub use rules::GradientRules;

struct Block {
    input_norm: RmsNorm,
    attention: Attention,
    post_attention_norm: RmsNorm,
    /// Gemma-2's extra norms: after attention's output, before and after the MLP.
    sandwich: Option<(RmsNorm, RmsNorm)>,
    mlp: Mlp,
    window: Option<usize>,
}

impl Block {
    fn new(
        vb: VarBuilder,
        config: &ModelConfig,
        window: Option<usize>,
    ) -> candle_core::Result<Block> {
        let h = config.hidden_size;
        let sandwich = if config.sandwich_norms {
            Some((
                RmsNorm::new(vb.pp("pre_feedforward_layernorm"), h, config)?,
                RmsNorm::new(vb.pp("post_feedforward_layernorm"), h, config)?,
            ))
        } else {
            None
        };
        Ok(Block {
            input_norm: RmsNorm::new(vb.pp("input_layernorm"), h, config)?,
            attention: Attention::new(vb.pp("self_attn"), config)?,
            post_attention_norm: RmsNorm::new(vb.pp("post_attention_layernorm"), h, config)?,
            sandwich,
            mlp: Mlp::new(vb.pp("mlp"), config)?,
            window,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        mask: Option<&Tensor>,
        cache: Option<&mut LayerCache>,
        path: PathKind,
    ) -> candle_core::Result<Tensor> {
        let attn_in = self.input_norm.forward(x, path)?;
        let attn_out = self.attention.forward(&attn_in, rope, mask, cache, path)?;
        self.after_attention(x, &attn_out, path)
    }

    /// [`Block::forward`] on the fast path of one sequence on the CPU (f32/f64): blocked
    /// attention over the cache and the new keys, no mask.
    fn forward_fast_blocked(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        cache: &mut LayerCache,
    ) -> candle_core::Result<Tensor> {
        let path = PathKind::Fast;
        let attn_in = self.input_norm.forward(x, path)?;
        let attn_out = self.attention.forward_cached_blocked(
            &attn_in,
            rope,
            cache,
            self.window,
            DEFAULT_QUERY_BLOCK,
        )?;
        self.after_attention(x, &attn_out, path)
    }

    /// The residual adds and the MLP after attention's output.
    fn after_attention(
        &self,
        x: &Tensor,
        attn_out: &Tensor,
        path: PathKind,
    ) -> candle_core::Result<Tensor> {
        match &self.sandwich {
            // Gemma-2: norm(attn) + x, then norm(mlp(norm(h))) + h.
            Some((pre_ff, post_ff)) => {
                let h = (x + self.post_attention_norm.forward(attn_out, path)?)?;
                let mlp_out = self.mlp.forward(&pre_ff.forward(&h, path)?, path)?;
                h + post_ff.forward(&mlp_out, path)?
            }
            // Llama/Qwen2/Mistral: post_attention_layernorm is the MLP's input norm.
            None => {
                let h = (x + attn_out)?;
                let mlp_out = self
                    .mlp
                    .forward(&self.post_attention_norm.forward(&h, path)?, path)?;
                h + mlp_out
            }
        }
    }
}

impl Block {
    /// The fast forward of one prompt (`x` `[1, T, hidden]`), keeping what the backward
    /// pass needs; `rope` holds the fused kernel's `[T, D/2]` tables.
    /// `mask`: the additive mask, or None for the fused CPU kernels (blocked attention).
    /// `past`: the keys and values of `offset` earlier positions (a recording being
    /// extended); the new positions attend to them and to themselves. The record keeps the
    /// new positions' q, k and v only.
    fn forward_recorded(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        mask: Option<&Tensor>,
        past: Option<(&Tensor, &Tensor)>,
    ) -> candle_core::Result<(Tensor, LayerRecord)> {
        let path = PathKind::Fast;
        let attn_in = self.input_norm.forward(x, path)?;
        let (q, k, v) = self.attention.qkv(&attn_in, rope, path)?;
        let (offset, keys, values) = match past {
            Some((pk, pv)) => (
                pk.dim(2)?,
                Tensor::cat(&[pk, &k], 2)?,
                Tensor::cat(&[pv, &v], 2)?,
            ),
            None => (0, k.clone(), v.clone()),
        };
        let attn_out = match mask {
            Some(mask) => self
                .attention
                .attend(&q, &keys, &values, Some(mask), path)?,
            None => self.attention.attend_blocked_after(
                &q,
                &keys,
                &values,
                self.window,
                offset,
                DEFAULT_QUERY_BLOCK,
            )?,
        };
        let sandwich = self.sandwich.is_some();
        let mid = match &self.sandwich {
            Some(_) => (x + self.post_attention_norm.forward(&attn_out, path)?)?,
            None => (x + &attn_out)?,
        };
        let mlp_in = match &self.sandwich {
            Some((pre_ff, _)) => pre_ff.forward(&mid, path)?,
            None => self.post_attention_norm.forward(&mid, path)?,
        };
        let (gate, up) = self.mlp.gate_up(&mlp_in)?;
        let mlp_out = self.mlp.finish(&gate, &up)?;
        let y = match &self.sandwich {
            Some((_, post_ff)) => (&mid + post_ff.forward(&mlp_out, path)?)?,
            None => (&mid + &mlp_out)?,
        };
        let record = LayerRecord {
            q,
            k,
            v,
            mid,
            gate,
            up,
            attn_out: sandwich.then_some(attn_out),
            mlp_out: sandwich.then_some(mlp_out),
        };
        Ok((y, record))
    }
}

/// Per-layer keys and values of one sequence being generated.
#[derive(Clone)]
pub struct KvCache {
    layers: Vec<LayerCache>,
}

impl KvCache {
    /// Tokens seen so far.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.len().ok()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache of the first `len` tokens only (views, no copy): the state after a shared
    /// prefix, to continue with a different suffix.
    pub fn truncated(&self, len: usize) -> anyhow::Result<KvCache> {
        if len > self.len() {
            bail!("cannot keep {len} tokens of a cache holding {}", self.len());
        }
        let layers = self
            .layers
            .iter()
            .map(|l| l.truncated(len))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(KvCache { layers })
    }

    /// One row of a batched cache as a single-sequence cache: keys `start..start + len` of
    /// row `row` (left padding skipped by `start`).
    pub fn row(&self, row: usize, start: usize, len: usize) -> anyhow::Result<KvCache> {
        if start + len > self.len() {
            bail!(
                "cannot take keys {start}..{} of a cache holding {}",
                start + len,
                self.len()
            );
        }
        let layers = self
            .layers
            .iter()
            .map(|l| l.row(row, start, len))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(KvCache { layers })
    }
}

/// A batch of prompts for the differentiable path. Rows have equal length; padding (left or
/// right) is marked by zeros in `attention_mask`.
#[derive(Clone)]
pub struct DiffInput {
    pub ids: Vec<Vec<u32>>,
    /// 1 for a real token, 0 for padding; None: no padding.
    pub attention_mask: Option<Vec<Vec<u8>>>,
    /// Positions for RoPE; None: counted over real tokens (`cumsum(mask) - 1`, pads at 0),
    /// which is what a left-padded batch needs to equal its unpadded rows.
    pub position_ids: Option<Vec<Vec<u32>>>,
    /// `num_layers + 1` tensors, each broadcastable to `[B, T, hidden]` in the run dtype:
    /// probe 0 is added to the input embeddings, probe `l + 1` to the output of layer `l`.
    /// Make them zero `Var`s and read their gradients to get d(target)/d(residual stream).
    pub probes: Option<Vec<Tensor>>,
    /// Gradient rules written into the graph (detach algebra), for autograd attribution;
    /// the forward values do not change. `Gradient`: the plain gradient.
    pub rules: GradientRules,
    /// Compute logits only for the last n positions of every row (None: all). The lm_head
    /// over a large vocabulary dominates memory for long batches (`B x T x V` floats).
    pub logits_last: Option<usize>,
}

impl DiffInput {
    /// One unpadded prompt.
    pub fn single(ids: &[u32]) -> DiffInput {
        DiffInput {
            ids: vec![ids.to_vec()],
            attention_mask: None,
            position_ids: None,
            probes: None,
            rules: GradientRules::Gradient,
            logits_last: None,
        }
    }
}

/// What the differentiable path returns.
pub struct DiffOutput {
    /// `[B, T, vocab]` (`[B, n, vocab]` with `logits_last: Some(n)`), f32 (f64 for an f64
    /// model).
    pub logits: Tensor,
    /// `num_layers + 1` tensors `[B, T, hidden]` in the run dtype: the (scaled) embeddings,
    /// the outputs of layers 0..L-2, and the final-normed output of the last layer.
    pub hidden_states: Vec<Tensor>,
}

/// The loaded decoder.
/// A forward stopped because its cancel flag was set.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

pub struct Decoder {
    config: ModelConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    lm_head: Linear,
    inv_freq: Vec<f32>,
    device: Device,
    dtype: DType,
}

impl Decoder {
    /// Builds the decoder from weights named as in transformers (`model.layers.N...`).
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> anyhow::Result<Decoder> {
        let device = vb.device().clone();
        let dtype = vb.dtype();
        let model = vb.pp("model");
        let embed = model
            .get(
                (config.vocab_size, config.hidden_size),
                "embed_tokens.weight",
            )
            .context("loading the token embeddings (model.embed_tokens.weight)")?;
        let blocks = config
            .layer_windows
            .iter()
            .enumerate()
            .map(|(i, window)| {
                Block::new(model.pp(format!("layers.{i}")), config, *window)
                    .with_context(|| format!("loading decoder layer {i} (model.layers.{i}.*)"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let norm = RmsNorm::new(model.pp("norm"), config.hidden_size, config)
            .context("loading the final norm (model.norm.weight)")?;
        // Tied when configured, or when the file simply has no lm_head (as candle and
        // transformers both fall back to).
        let lm_head = if config.tie_word_embeddings || !vb.contains_tensor("lm_head.weight") {
            Linear::new(embed.clone(), None)
        } else {
            Linear::new(
                vb.get((config.vocab_size, config.hidden_size), "lm_head.weight")
                    .context("loading lm_head.weight")?,
                None,
            )
        };
        Ok(Decoder {
            config: config.clone(),
            embed,
            blocks,
            norm,
            lm_head,
            inv_freq: rope::inverse_frequencies(config),
            device,
            dtype,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache {
            layers: vec![LayerCache::default(); self.blocks.len()],
        }
    }

    /// Token embeddings `[B, T, hidden]`, scaled by sqrt(hidden) in the run dtype for Gemma.
    fn embed(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let x = self.embed.index_select(&ids.flatten_all()?, 0)?.reshape((
            b,
            t,
            self.config.hidden_size,
        ))?;
        if self.config.scale_embeddings {
            // transformers casts the normaliser to the dtype first (sqrt(3072) → 55.5 in bf16).
            let normaliser = Tensor::new((self.config.hidden_size as f32).sqrt(), &self.device)?
                .to_dtype(self.dtype)?;
            x.broadcast_mul(&normaliser)
        } else {
            Ok(x)
        }
    }

    /// Final norm, lm_head and Gemma-2's final soft-cap; logits in f32 (f64 for f64 models).
    fn head(&self, h: &Tensor, path: PathKind) -> candle_core::Result<(Tensor, Tensor)> {
        let normed = self.norm.forward(h, path)?;
        let mut logits = self.lm_head.forward(&normed)?;
        if let Some(cap) = self.config.final_logit_softcap {
            logits = layers::softcap(&logits, cap, path)?;
        }
        Ok((
            normed,
            logits.to_dtype(layers::accumulation_dtype(self.dtype))?,
        ))
    }

    fn check_ids(&self, ids: &[u32]) -> anyhow::Result<()> {
        if let Some(bad) = ids
            .iter()
            .find(|&&id| id as usize >= self.config.vocab_size)
        {
            bail!(
                "token id {bad} is outside the model's vocabulary ({} entries)",
                self.config.vocab_size
            );
        }
        Ok(())
    }

    /// Feeds `ids` (one sequence) after what `cache` holds; returns the f32 logits `[vocab]`
    /// of the last new position.
    pub fn forward_fast(&self, ids: &[u32], cache: &mut KvCache) -> anyhow::Result<Tensor> {
        Ok(self.forward_fast_tail(ids, cache, 1)?.flatten_all()?)
    }

    /// As [`Decoder::forward_fast`], returning the f32 logits `[k, vocab]` of the last `k`
    /// new positions (teacher-forced scoring after a cached prefix).
    pub fn forward_fast_tail(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        k: usize,
    ) -> anyhow::Result<Tensor> {
        self.forward_fast_tail_until(ids, cache, k, None)
    }

    /// As [`Decoder::forward_fast_tail`], checking `cancel` before every layer: a set flag
    /// ends the forward with [`Cancelled`] within one layer's time, not the whole forward's.
    /// The cache is then incomplete and must be dropped.
    pub fn forward_fast_tail_until(
        &self,
        ids: &[u32],
        cache: &mut KvCache,
        k: usize,
        cancel: Option<&std::sync::atomic::AtomicBool>,
    ) -> anyhow::Result<Tensor> {
        if ids.is_empty() {
            bail!("forward_fast needs at least one token");
        }
        if k == 0 || k > ids.len() {
            bail!(
                "forward_fast_tail: {k} positions asked of {} new tokens",
                ids.len()
            );
        }
        self.check_ids(ids)?;
        let offset = cache.len();
        let t = ids.len();
        let ids_t = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let positions: Vec<u32> = (offset..offset + t).map(|p| p as u32).collect();
        let rope = RopeTables::new(&self.inv_freq, &[positions], self.dtype, &self.device)?;
        let rope = RopeTables {
            cos: rope.cos.squeeze(0)?,
            sin: rope.sin.squeeze(0)?,
        };
        let mut masks: Vec<(Option<usize>, Option<Tensor>)> = Vec::new();
        let blocked = Kernels::for_device(&self.device, self.dtype) == Kernels::FusedCpu;
        let mut x = self.embed(&ids_t)?;
        for (block, layer_cache) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(Cancelled.into());
            }
            if blocked {
                x = block.forward_fast_blocked(&x, &rope, layer_cache)?;
                continue;
            }
            let keys = offset + t;
            let mask = match masks.iter().find(|(w, _)| *w == block.window) {
                Some((_, m)) => m.clone(),
                None => {
                    let m = if mask::needs_mask(t, keys, offset, block.window) {
                        Some(mask::additive_mask(
                            1,
                            t,
                            keys,
                            offset,
                            block.window,
                            None,
                            &self.device,
                        )?)
                    } else {
                        None
                    };
                    masks.push((block.window, m.clone()));
                    m
                }
            };
            x = block.forward(&x, &rope, mask.as_ref(), Some(layer_cache), PathKind::Fast)?;
        }
        let last = x.narrow(1, t - k, k)?;
        let (_, logits) = self.head(&last, PathKind::Fast)?;
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }

    /// Feeds one more block of tokens to each row of a batch after what `cache` holds:
    /// `ids[row]` all of one length `t`; `key_mask[row]` covers every key (cached and new,
    /// `cache.len() + t`), 0 for padding. Positions count each row's real keys, so a
    /// left-padded row sees the positions it would alone. Returns the f32 logits
    /// `[rows, vocab]` of each row's last new position.
    pub fn forward_fast_batch(
        &self,
        ids: &[Vec<u32>],
        key_mask: &[Vec<u8>],
        cache: &mut KvCache,
    ) -> anyhow::Result<Tensor> {
        let rows = ids.len();
        let t = ids.first().map_or(0, Vec::len);
        if rows == 0 || t == 0 || ids.iter().any(|r| r.len() != t) {
            bail!("forward_fast_batch needs rows of one non-zero length");
        }
        let offset = cache.len();
        let keys = offset + t;
        if key_mask.len() != rows || key_mask.iter().any(|m| m.len() != keys) {
            bail!("forward_fast_batch: the key mask must cover {keys} keys per row");
        }
        for row in ids {
            self.check_ids(row)?;
        }
        let positions: Vec<Vec<u32>> = key_mask
            .iter()
            .map(|m| {
                let before = m[..offset].iter().filter(|&&v| v != 0).count();
                let mut p = before as u32;
                m[offset..]
                    .iter()
                    .map(|&v| {
                        let at = p;
                        p += u32::from(v != 0);
                        at
                    })
                    .collect()
            })
            .collect();
        let flat: Vec<u32> = ids.iter().flatten().copied().collect();
        let ids_t = Tensor::from_vec(flat, (rows, t), &self.device)?;
        let rope = RopeTables::new(&self.inv_freq, &positions, self.dtype, &self.device)?;
        let mut masks: Vec<(Option<usize>, Tensor)> = Vec::new();
        let mut x = self.embed(&ids_t)?;
        for (block, layer_cache) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            let mask = match masks.iter().find(|(w, _)| *w == block.window) {
                Some((_, m)) => m.clone(),
                None => {
                    let m = mask::additive_mask(
                        rows,
                        t,
                        keys,
                        offset,
                        block.window,
                        Some(key_mask),
                        &self.device,
                    )?;
                    masks.push((block.window, m.clone()));
                    m
                }
            };
            x = block.forward(&x, &rope, Some(&mask), Some(layer_cache), PathKind::Fast)?;
        }
        let last = x.narrow(1, t - 1, 1)?;
        let (_, logits) = self.head(&last, PathKind::Fast)?;
        Ok(logits.squeeze(1)?.to_dtype(DType::F32)?)
    }

    /// The differentiable forward over a batch of whole prompts.
    pub fn forward_diff(&self, input: &DiffInput) -> anyhow::Result<DiffOutput> {
        let (rows, len) = validate(input, self.blocks.len())?;
        for row in &input.ids {
            self.check_ids(row)?;
        }
        let flat: Vec<u32> = input.ids.iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, (rows, len), &self.device)?;
        let positions = match (&input.position_ids, &input.attention_mask) {
            (Some(p), _) => p.clone(),
            (None, Some(mask)) => mask.iter().map(|row| positions_from_mask(row)).collect(),
            (None, None) => vec![(0..len as u32).collect(); rows],
        };
        let rope = RopeTables::new(&self.inv_freq, &positions, self.dtype, &self.device)?;
        let mut masks: Vec<(Option<usize>, Tensor)> = Vec::new();
        for block in &self.blocks {
            if !masks.iter().any(|(w, _)| *w == block.window) {
                let m = mask::additive_mask(
                    rows,
                    len,
                    len,
                    0,
                    block.window,
                    input.attention_mask.as_deref(),
                    &self.device,
                )?;
                masks.push((block.window, m));
            }
        }
        let probe = |i: usize, x: Tensor| -> candle_core::Result<Tensor> {
            match &input.probes {
                Some(p) => x.broadcast_add(&p[i]),
                None => Ok(x),
            }
        };
        let path = PathKind::Differentiable(input.rules);
        let mut x = probe(0, self.embed(&ids)?)?;
        let mut hidden_states = Vec::with_capacity(self.blocks.len() + 1);
        for (i, block) in self.blocks.iter().enumerate() {
            hidden_states.push(x.clone());
            let mask = masks
                .iter()
                .find(|(w, _)| *w == block.window)
                .map(|(_, m)| m);
            x = probe(i + 1, block.forward(&x, &rope, mask, None, path)?)?;
        }
        let x = match input.logits_last {
            Some(n) if n < len => {
                // The last hidden state stays whole; only the head sees fewer positions.
                hidden_states.push(self.norm.forward(&x, path)?);
                x.narrow(1, len - n.max(1), n.max(1))?
            }
            _ => x,
        };
        let (normed, logits) = self.head(&x, path)?;
        if hidden_states.len() == self.blocks.len() {
            hidden_states.push(normed);
        }
        Ok(DiffOutput {
            logits,
            hidden_states,
        })
    }
}

/// Positions counted over real tokens: `cumsum(mask) - 1`, padding at 0.
pub fn positions_from_mask(mask: &[u8]) -> Vec<u32> {
    let mut seen = 0u32;
    mask.iter()
        .map(|&m| {
            if m != 0 {
                seen += 1;
                seen - 1
            } else {
                0
            }
        })
        .collect()
}

fn validate(input: &DiffInput, layers: usize) -> anyhow::Result<(usize, usize)> {
    let rows = input.ids.len();
    let len = input.ids.first().map_or(0, Vec::len);
    if rows == 0 || len == 0 {
        bail!("forward_diff needs at least one non-empty prompt");
    }
    if input.ids.iter().any(|r| r.len() != len) {
        bail!("forward_diff: rows differ in length; pad them and pass an attention mask");
    }
    fn same_shape<T>(m: &[Vec<T>], rows: usize, len: usize) -> bool {
        m.len() == rows && m.iter().all(|r| r.len() == len)
    }
    if input
        .attention_mask
        .as_ref()
        .is_some_and(|m| !same_shape(m, rows, len))
    {
        bail!("forward_diff: the attention mask must have the shape of the ids ({rows} x {len})");
    }
    if input
        .position_ids
        .as_ref()
        .is_some_and(|m| !same_shape(m, rows, len))
    {
        bail!("forward_diff: position ids must have the shape of the ids ({rows} x {len})");
    }
    if let Some(p) = &input.probes {
        if p.len() != layers + 1 {
            bail!(
                "forward_diff: {} probes given, {} needed (embeddings + each layer)",
                p.len(),
                layers + 1
            );
        }
    }
    Ok((rows, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_skip_padding() {
        assert_eq!(positions_from_mask(&[0, 0, 1, 1, 1]), vec![0, 0, 0, 1, 2]);
        assert_eq!(positions_from_mask(&[1, 1, 0]), vec![0, 1, 0]);
    }
}

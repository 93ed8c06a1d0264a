//! The decoder's backward pass, written out by hand over a [`Recording`], under a choice of
//! [`GradientRules`]: the plain gradient, or AttnLRP / CP-LRP's modified gradients.
//!
//! It returns the (modified) gradient of a target — a weighted sum of logits — at every
//! residual-stream level, which is all that per-layer relevance (`h · g`) needs. Only input
//! gradients are computed (no weight gradients), the attention probabilities are recomputed
//! one block of queries at a time over the keys that block can see, and only one layer's
//! intermediates live at a time: memory stays near the forward's.

use super::fused::{
    BlockGeometry, GateGrad, GateParams, GateUpGrad, Kernels, MaskedSoftmax, ScoreParams,
    SoftmaxBackward,
};
use super::layers::{accumulation_dtype, merge_heads, Attention, Mlp, RmsNorm};
use super::record::{LayerRecord, Recording};
use super::rules::{GradientRules, IDENTITY_EPSILON};
use super::{mask, Block, Decoder};
use crate::model::config::Activation;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor, D};
use candle_nn::Linear;
use std::sync::atomic::{AtomicBool, Ordering};

/// Queries per attention block in the recorded forward and the backward pass: bounds their
/// `[heads, block, T]` temporaries (14 heads x 128 x 1,500 keys x 4 bytes = 11 MB for a
/// 0.5B model); 128 ran a 1,500-token trace faster than 256 or 512 on a 2-core CPU.
pub const DEFAULT_QUERY_BLOCK: usize = 128;

/// One term of a target: `weight * logit(token)` at `position`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seed {
    pub position: usize,
    pub token: u32,
    pub weight: f64,
}

/// Gradients of the target at each level and the target's value.
pub struct Backward {
    /// `num_layers + 1` tensors `[T, hidden]` in f32 (f64 for f64 models), aligned with
    /// [`Recording::levels`].
    pub grads: Vec<Tensor>,
    /// The target: the weighted sum of the seeded logits (after any final soft-cap).
    pub target: f64,
}

impl Decoder {
    /// Gradient of `sum(seed.weight * logit)` at every level of `rec`, under `rules`.
    /// `cancel` is checked between layers.
    pub fn backward(
        &self,
        rec: &Recording,
        seeds: &[Seed],
        rules: GradientRules,
        query_block: usize,
        cancel: Option<&AtomicBool>,
    ) -> Result<Backward> {
        let kernels = Kernels::for_device(&self.device, accumulation_dtype(self.dtype));
        self.backward_using(rec, seeds, rules, query_block, cancel, kernels)
    }

    /// [`Decoder::backward`] with the elementwise kernels chosen (tests compare them).
    pub fn backward_using(
        &self,
        rec: &Recording,
        seeds: &[Seed],
        rules: GradientRules,
        query_block: usize,
        cancel: Option<&AtomicBool>,
        kernels: Kernels,
    ) -> Result<Backward> {
        if kernels == Kernels::FusedCpu && !self.device.is_cpu() {
            bail!("the fused backward kernels run on the CPU only");
        }
        if seeds.is_empty() {
            bail!("backward needs a target: no logit was seeded");
        }
        let acc = accumulation_dtype(self.dtype);
        let (g_normed, target) = self.seed_gradient(rec, seeds, rules, acc)?;
        let levels = &rec.levels;
        let last = levels.len() - 1;
        let mut g = norm_backward(&self.norm, &levels[last], &g_normed, rules)?;
        let mut grads = vec![g.clone()];
        let t = rec.len();
        let mut masks: Vec<(Option<usize>, Tensor)> = Vec::new();
        for (i, (block, layer)) in self.blocks.iter().zip(&rec.layers).enumerate().rev() {
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                bail!("cancelled");
            }
            // The fused kernels mask by index; the tensor ops add a mask.
            let mask = match masks.iter().find(|(w, _)| *w == block.window) {
                _ if kernels == Kernels::FusedCpu => None,
                Some((_, m)) => Some(m.clone()),
                None => {
                    let m = mask::additive_mask(1, t, t, 0, block.window, None, &self.device)?
                        .to_dtype(acc)?;
                    masks.push((block.window, m.clone()));
                    Some(m)
                }
            };
            let step = BlockStep {
                block,
                layer,
                rec,
                mask: mask.as_ref(),
                rules,
                query_block: query_block.max(1),
                kernels,
            };
            g = step
                .backward(&levels[i], &g)
                .with_context(|| format!("backward through decoder layer {i}"))?;
            grads.push(g.clone());
        }
        grads.reverse();
        Ok(Backward { grads, target })
    }

    /// The gradient at the final-normed output and the target's value.
    fn seed_gradient(
        &self,
        rec: &Recording,
        seeds: &[Seed],
        rules: GradientRules,
        acc: DType,
    ) -> Result<(Tensor, f64)> {
        let lm = self.lm_head.weight();
        let mut positions = Vec::with_capacity(seeds.len());
        let mut rows = Vec::with_capacity(seeds.len());
        let mut target = 0.0;
        for seed in seeds {
            if seed.position >= rec.len() {
                bail!(
                    "target position {} is past the {} recorded tokens",
                    seed.position,
                    rec.len()
                );
            }
            if seed.token as usize >= self.config.vocab_size {
                bail!("target token {} is outside the vocabulary", seed.token);
            }
            let w = lm.get(seed.token as usize)?.to_dtype(acc)?;
            let h = rec.normed.get(seed.position)?.to_dtype(acc)?;
            let z = (&h * &w)?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            let (logit, local) = match self.config.final_logit_softcap {
                None => (z, 1.0),
                Some(cap) => {
                    let th = (z / cap).tanh();
                    let logit = cap * th;
                    let local = if rules.identity_nonlinearities() {
                        logit / (z + IDENTITY_EPSILON)
                    } else {
                        1.0 - th * th
                    };
                    (logit, local)
                }
            };
            target += seed.weight * logit;
            positions.push(seed.position as u32);
            rows.push((w * (seed.weight * local))?);
        }
        let index = Tensor::new(positions.as_slice(), &self.device)?;
        let rows = Tensor::stack(&rows, 0)?;
        let zeros = Tensor::zeros(rec.normed.dims(), acc, &self.device)?;
        Ok((zeros.index_add(&index, &rows, 0)?, target))
    }
}

/// One decoder layer's backward.
struct BlockStep<'a> {
    block: &'a Block,
    layer: &'a LayerRecord,
    rec: &'a Recording,
    /// The additive mask `[1, 1, T, T]` for the tensor-op kernels; None with fused ones.
    mask: Option<&'a Tensor>,
    rules: GradientRules,
    query_block: usize,
    kernels: Kernels,
}

impl BlockStep<'_> {
    /// From the gradient at the layer's output to the gradient at its input `x` `[T, hidden]`.
    fn backward(&self, x: &Tensor, g_out: &Tensor) -> Result<Tensor> {
        let (block, layer, rules) = (self.block, self.layer, self.rules);
        let mid = layer.mid.squeeze(0)?;
        // y = mid + mlp branch; mid = x + attention branch.
        let g_mlp_out = match (&block.sandwich, &layer.mlp_out) {
            (Some((_, post_ff)), Some(out)) => {
                norm_backward(post_ff, &out.squeeze(0)?, g_out, rules)?
            }
            _ => g_out.clone(),
        };
        let g_mlp_in = mlp_backward(&block.mlp, layer, &g_mlp_out, rules, self.kernels)?;
        let mlp_norm = match &block.sandwich {
            Some((pre_ff, _)) => pre_ff,
            None => &block.post_attention_norm,
        };
        let g_mid = (g_out + norm_backward(mlp_norm, &mid, &g_mlp_in, rules)?)?;
        let g_attn_out = match &layer.attn_out {
            Some(out) => {
                norm_backward(&block.post_attention_norm, &out.squeeze(0)?, &g_mid, rules)?
            }
            None => g_mid.clone(),
        };
        let g_attn_in = self.attention_backward(&block.attention, &g_attn_out)?;
        Ok((g_mid + norm_backward(&block.input_norm, x, &g_attn_in, rules)?)?)
    }

    /// Through `o_proj(softmax(q·kᵀ·scale [soft-capped, masked]) · v)` and the q, k, v
    /// projections (RoPE included) to the attention's input.
    ///
    /// Query heads are grouped by the kv head they share (`[kv_heads, group · block, D]`),
    /// so no key or value is repeated and the group sums of the k and v gradients happen
    /// inside the matmuls; keys a whole block cannot see (before its first query's window)
    /// are skipped.
    fn attention_backward(&self, att: &Attention, g: &Tensor) -> Result<Tensor> {
        let rules = self.rules;
        let acc = g.dtype();
        let t = g.dim(0)?;
        let (heads, kv, d, n) = (att.heads, att.kv_heads, att.head_dim, att.group());
        let g_o = input_grad(&att.o, g)?
            .reshape((1, t, heads, d))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = self.layer.q.to_dtype(acc)?;
        let k = self.layer.k.to_dtype(acc)?.squeeze(0)?;
        let v = self.layer.v.to_dtype(acc)?.squeeze(0)?;
        let qk_factor = rules.query_key_factor();
        let params = ScoreParams {
            scale: att.scale,
            softcap: att.softcap,
            identity: rules.identity_nonlinearities(),
        };
        let zeros = Tensor::zeros((kv, t, d), acc, g.device())?;
        let (mut g_k, mut g_v) = (zeros.clone(), zeros);
        let mut g_q_blocks = Vec::new();
        for start in (0..t).step_by(self.query_block) {
            let len = self.query_block.min(t - start);
            // Causal: this block's queries see keys lo..end only.
            let end = start + len;
            let lo = self
                .block
                .window
                .map_or(0, |w| (start + 1).saturating_sub(w));
            let keys = end - lo;
            let rows = |x: &Tensor| -> Result<Tensor> {
                Ok(x.narrow(2, start, len)?
                    .contiguous()?
                    .reshape((kv, n * len, d))?)
            };
            let q_b = rows(&q)?;
            let go_b = rows(&g_o)?;
            let k_b = k.narrow(1, lo, keys)?;
            let v_b = v.narrow(1, lo, keys)?;
            // Unscaled q·kᵀ `[kv, n · len, keys]`.
            let raw = q_b.matmul(&k_b.t()?)?;
            let geometry = BlockGeometry {
                start,
                queries: len,
                key_start: lo,
                window: self.block.window,
            };
            let scores = match self.mask {
                Some(mask) => Some(TensorScores::new(
                    &raw,
                    &params,
                    &mask.narrow(2, start, len)?.narrow(3, lo, keys)?,
                    (kv, n, len, keys),
                )?),
                None => None,
            };
            let probs = match &scores {
                Some(s) => s.probs.clone(),
                None => raw.apply_op1_no_bwd(&MaskedSoftmax { geometry, params })?,
            };
            let g_probs = go_b.matmul(&v_b.t()?)?;
            let g_v_b = probs.t()?.matmul(&go_b)?;
            g_v = (g_v + g_v_b.pad_with_zeros(1, lo, t - end)?)?;
            if qk_factor.is_none() {
                continue;
            }
            let g_raw = match &scores {
                Some(s) => s.backward(&probs, &g_probs, &params)?,
                None => {
                    probs.apply_op3_no_bwd(&g_probs, &raw, &SoftmaxBackward { geometry, params })?
                }
            };
            g_q_blocks.push(g_raw.matmul(&k_b)?.reshape((1, heads, len, d))?);
            let g_k_b = g_raw.t()?.matmul(&q_b)?;
            g_k = (g_k + g_k_b.pad_with_zeros(1, lo, t - end)?)?;
        }
        let g_v = merge(&(g_v * rules.value_factor())?.unsqueeze(0)?)?;
        match qk_factor {
            Some(factor) => {
                let g_q = (Tensor::cat(&g_q_blocks, 2)? * factor)?;
                let g_k = (g_k * factor)?.unsqueeze(0)?;
                let g_q = merge(&rope_backward(&g_q, self.rec)?)?;
                let g_k = merge(&rope_backward(&g_k, self.rec)?)?;
                // One matmul through the fused q/k/v weight.
                input_grad(&att.qkv, &Tensor::cat(&[g_q, g_k, g_v], 1)?)
            }
            None => input_grad(&att.v, &g_v),
        }
    }
}

/// The tensor-op path's attention scores of one block (any device).
struct TensorScores {
    /// `q·kᵀ · scale` and its soft-capped value, when there is a soft-cap.
    scaled: Tensor,
    capped: Option<Tensor>,
    probs: Tensor,
}

impl TensorScores {
    /// From raw `q·kᵀ` `[kv, n · len, keys]` and the block's additive mask `[1, 1, len,
    /// keys]`; `dims` = `(kv, n, len, keys)`.
    fn new(
        raw: &Tensor,
        params: &ScoreParams,
        mask: &Tensor,
        dims: (usize, usize, usize, usize),
    ) -> Result<TensorScores> {
        let (kv, n, len, keys) = dims;
        let scaled = (raw * params.scale)?;
        let capped = match params.softcap {
            Some(cap) => Some(((&scaled / cap)?.tanh()? * cap)?),
            None => None,
        };
        let scores = capped
            .as_ref()
            .unwrap_or(&scaled)
            .reshape(dims)?
            .broadcast_add(mask)?
            .reshape((kv, n * len, keys))?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        Ok(TensorScores {
            scaled,
            capped,
            probs,
        })
    }

    /// Softmax backward `p ⊙ (g − Σ p g)`, through the soft-cap, to raw `q·kᵀ`.
    fn backward(&self, probs: &Tensor, g_probs: &Tensor, params: &ScoreParams) -> Result<Tensor> {
        let dot = (g_probs * probs)?.sum_keepdim(D::Minus1)?;
        let g_scores = (probs * g_probs.broadcast_sub(&dot)?)?;
        let g_scaled = match (&self.capped, params.softcap) {
            (Some(capped), Some(cap)) => {
                let local = if params.identity {
                    (capped / (&self.scaled + IDENTITY_EPSILON)?)?
                } else {
                    (1.0 - (capped / cap)?.sqr()?)?
                };
                (g_scores * local)?
            }
            _ => g_scores,
        };
        Ok((g_scaled * params.scale)?)
    }
}

/// Through `down(act(gate(x)) * up(x))` to x.
fn mlp_backward(
    mlp: &Mlp,
    layer: &LayerRecord,
    g: &Tensor,
    rules: GradientRules,
    kernels: Kernels,
) -> Result<Tensor> {
    let acc = g.dtype();
    let g_down = input_grad(&mlp.down, g)?;
    let gate = layer.gate.squeeze(0)?.to_dtype(acc)?;
    let up = layer.up.squeeze(0)?.to_dtype(acc)?;
    if kernels == Kernels::FusedCpu {
        let params = GateParams {
            activation: mlp.activation,
            identity: rules.identity_nonlinearities(),
            factor: rules.gate_up_factor(),
        };
        let mut g_in = input_grad(
            &mlp.up,
            &g_down.apply_op2_no_bwd(&gate, &GateUpGrad(params))?,
        )?;
        if !rules.detach_gate() {
            let g_gate = g_down.apply_op3_no_bwd(&gate, &up, &GateGrad(params))?;
            g_in = (g_in + input_grad(&mlp.gate, &g_gate)?)?;
        }
        return Ok(g_in);
    }
    let g_product = (g_down * rules.gate_up_factor())?;
    let activated = mlp.activate(&gate)?;
    let mut g_in = input_grad(&mlp.up, &(&g_product * &activated)?)?;
    if !rules.detach_gate() {
        let local = if rules.identity_nonlinearities() {
            (activated / (&gate + IDENTITY_EPSILON)?)?
        } else {
            activation_derivative(mlp.activation, &gate)?
        };
        let g_gate = ((g_product * up)? * local)?;
        g_in = (g_in + input_grad(&mlp.gate, &g_gate)?)?;
    }
    Ok(g_in)
}

/// f'(x) of the MLP activation.
fn activation_derivative(activation: Activation, x: &Tensor) -> Result<Tensor> {
    Ok(match activation {
        // silu' = s (1 + x (1 - s)), s = sigmoid(x)
        Activation::Silu => {
            let s = candle_nn::ops::sigmoid(x)?;
            let one_minus = (1.0 - &s)?;
            (&s * ((x * one_minus)? + 1.0)?)?
        }
        // gelu_tanh(x) = x/2 (1 + tanh u), u = c (x + 0.044715 x³), c = sqrt(2/π)
        Activation::GeluTanh => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let x2 = x.sqr()?;
            let u = ((x * ((&x2 * 0.044715)? + 1.0)?)? * c)?;
            let th = u.tanh()?;
            let du = (((&x2 * (3.0 * 0.044715))? + 1.0)? * c)?;
            let left = ((&th + 1.0)? * 0.5)?;
            let right = (((x * 0.5)? * (1.0 - th.sqr()?)?)? * du)?;
            (left + right)?
        }
    })
}

/// Through an RMSNorm (input `x` `[T, hidden]` in the run dtype) to its input.
fn norm_backward(norm: &RmsNorm, x: &Tensor, g: &Tensor, rules: GradientRules) -> Result<Tensor> {
    let acc = g.dtype();
    let x = x.to_dtype(acc)?;
    let inv_rms = (x.sqr()?.mean_keepdim(D::Minus1)? + norm.eps)?
        .sqrt()?
        .recip()?;
    let mut w = norm.weight.to_dtype(acc)?;
    if norm.plus_one {
        w = (w + 1.0)?;
    }
    let g_normed = g.broadcast_mul(&w)?;
    let direct = g_normed.broadcast_mul(&inv_rms)?;
    if rules.detach_normaliser() {
        return Ok(direct);
    }
    // d(x r)/dx with r = (mean(x²) + eps)^-1/2: r g − x r³ mean(x g).
    let along = (&x * &g_normed)?.mean_keepdim(D::Minus1)?;
    let cube = inv_rms.powf(3.0)?;
    Ok((direct - x.broadcast_mul(&(cube * along)?)?)?)
}

/// RoPE is `x cos + rotate_half(x) sin`; its transpose: `g cos + rotate_halfᵀ(g sin)` with
/// `rotate_halfᵀ([a, b]) = [b, −a]`. `g` `[1, heads, T, D]`.
fn rope_backward(g: &Tensor, rec: &Recording) -> Result<Tensor> {
    let acc = g.dtype();
    let cos = rec.rope.cos.to_dtype(acc)?;
    let sin = rec.rope.sin.to_dtype(acc)?;
    let cos = Tensor::cat(&[&cos, &cos], D::Minus1)?.unsqueeze(1)?;
    let sin = Tensor::cat(&[&sin, &sin], D::Minus1)?.unsqueeze(1)?;
    let gs = g.broadcast_mul(&sin)?;
    let half = g.dim(D::Minus1)? / 2;
    let transposed = Tensor::cat(
        &[
            &gs.narrow(D::Minus1, half, half)?,
            &gs.narrow(D::Minus1, 0, half)?.neg()?,
        ],
        D::Minus1,
    )?;
    Ok((g.broadcast_mul(&cos)? + transposed)?)
}

/// `[1, heads, T, D]` → `[T, heads * D]`.
fn merge(g: &Tensor) -> Result<Tensor> {
    Ok(merge_heads(g)?.squeeze(0)?)
}

/// The input gradient of `y = x Wᵀ + b`: `g W`, matmul in the weight's dtype.
fn input_grad(linear: &Linear, g: &Tensor) -> Result<Tensor> {
    let w = linear.weight();
    let acc = g.dtype();
    Ok(g.to_dtype(w.dtype())?.matmul(w)?.to_dtype(acc)?)
}

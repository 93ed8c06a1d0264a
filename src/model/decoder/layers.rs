//! The parts of a decoder block, each with a fused forward (generation) and a
//! differentiable one (attribution, hidden states) over the same weights.

use super::super::config::{Activation, ModelConfig};
use super::fused::{ActivationProduct, BlockGeometry, Kernels, MaskedSoftmax, ScoreParams};
use super::rope::RopeTables;
use super::rules::{GradientRules, IDENTITY_EPSILON};
use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

/// The dtype sensitive sums run in: f32, or f64 when the whole model runs in f64 (as the
/// finite-difference tests do).
pub fn accumulation_dtype(dtype: DType) -> DType {
    if dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    }
}

/// Which ops a forward may use: fused kernels (no backward) or primitives only, with the
/// gradient rules written into the graph as detach algebra (see `rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Fast,
    Differentiable(GradientRules),
}

impl PathKind {
    /// The modified-gradient rules in force; None for the plain gradient.
    fn rules(self) -> Option<GradientRules> {
        match self {
            PathKind::Differentiable(r) if r != GradientRules::Gradient => Some(r),
            _ => None,
        }
    }
}

/// Forward value `x`, gradient times `factor`: `x·f + (x·(1−f)).detach()` (exact for the
/// rules' powers of two).
pub fn scale_gradient(x: &Tensor, factor: f64) -> Result<Tensor> {
    if factor == 1.0 {
        return Ok(x.clone());
    }
    (x * factor)? + (x * (1.0 - factor))?.detach()
}

/// Identity rule: forward `f(x)` (to within `x·1e-10/x`), gradient `f(x)/(x + 1e-10)`.
pub fn identity_rule(x: &Tensor, fx: &Tensor) -> Result<Tensor> {
    x * (fx / (x + IDENTITY_EPSILON)?)?.detach()
}

pub fn linear(vb: &VarBuilder, inputs: usize, outputs: usize, bias: bool) -> Result<Linear> {
    let weight = vb.get((outputs, inputs), "weight")?;
    let bias = if bias {
        Some(vb.get(outputs, "bias")?)
    } else {
        None
    };
    Ok(Linear::new(weight, bias))
}

/// RMSNorm normalised in f32; scaled by `w` (Llama, Qwen2, Mistral) or `1 + w` (Gemma).
pub struct RmsNorm {
    pub(super) weight: Tensor,
    /// `w` or `1 + w` in the run dtype, for the fused kernel.
    pub(super) fused_alpha: Tensor,
    pub(super) plus_one: bool,
    pub(super) eps: f64,
}

impl RmsNorm {
    pub fn new(vb: VarBuilder, size: usize, config: &ModelConfig) -> Result<RmsNorm> {
        let weight = vb.get(size, "weight")?;
        let fused_alpha = if config.norm_plus_one {
            (weight.to_dtype(accumulation_dtype(weight.dtype()))? + 1.0)?
                .to_dtype(weight.dtype())?
        } else {
            weight.clone()
        };
        Ok(RmsNorm {
            weight,
            fused_alpha,
            plus_one: config.norm_plus_one,
            eps: config.rms_norm_eps,
        })
    }

    pub fn forward(&self, x: &Tensor, path: PathKind) -> Result<Tensor> {
        match path {
            // The fused kernel has no f64 version (f64 runs are for numeric checks).
            PathKind::Fast if x.dtype() == DType::F64 => {
                self.forward_primitive(x, GradientRules::Gradient)
            }
            PathKind::Fast => {
                candle_nn::ops::rms_norm(&x.contiguous()?, &self.fused_alpha, self.eps as f32)
            }
            PathKind::Differentiable(rules) => self.forward_primitive(x, rules),
        }
    }

    /// As transformers: `x * rsqrt(mean(x²) + eps)` in f32, then `w * y.to(dtype)`, or for
    /// Gemma `(y * (1 + w.float())).to(dtype)`.
    fn forward_primitive(&self, x: &Tensor, rules: GradientRules) -> Result<Tensor> {
        let dtype = x.dtype();
        let acc = accumulation_dtype(dtype);
        let x32 = x.to_dtype(acc)?;
        let mut inv_rms = (x32.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?
            .sqrt()?
            .recip()?;
        if rules.detach_normaliser() {
            inv_rms = inv_rms.detach();
        }
        let normed = x32.broadcast_mul(&inv_rms)?;
        if self.plus_one {
            let scale = (self.weight.to_dtype(acc)? + 1.0)?;
            normed.broadcast_mul(&scale)?.to_dtype(dtype)
        } else {
            normed.to_dtype(dtype)?.broadcast_mul(&self.weight)
        }
    }
}

/// Gated MLP: `down(act(gate(x)) * up(x))`.
pub struct Mlp {
    pub(super) gate: Linear,
    pub(super) up: Linear,
    pub(super) down: Linear,
    pub(super) activation: Activation,
}

impl Mlp {
    pub fn new(vb: VarBuilder, config: &ModelConfig) -> Result<Mlp> {
        let (h, i, bias) = (
            config.hidden_size,
            config.intermediate_size,
            config.mlp_bias,
        );
        Ok(Mlp {
            gate: linear(&vb.pp("gate_proj"), h, i, bias)?,
            up: linear(&vb.pp("up_proj"), h, i, bias)?,
            down: linear(&vb.pp("down_proj"), i, h, bias)?,
            activation: config.activation,
        })
    }

    pub fn forward(&self, x: &Tensor, path: PathKind) -> Result<Tensor> {
        let (gate, up) = self.gate_up(x)?;
        match path.rules() {
            // The fused product has no backward: the differentiable path keeps tensor ops.
            None if path != PathKind::Fast => self.down.forward(&(self.activate(&gate)? * up)?),
            None => self.finish(&gate, &up),
            Some(rules) => {
                let gate = if rules.detach_gate() {
                    gate.detach()
                } else {
                    gate
                };
                let activated = self.activate(&gate)?;
                let activated = identity_rule(&gate, &activated)?;
                let product = scale_gradient(&(activated * up)?, rules.gate_up_factor())?;
                self.down.forward(&product)
            }
        }
    }

    /// The two input projections: `gate(x)` (before the activation) and `up(x)`.
    pub fn gate_up(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((self.gate.forward(x)?, self.up.forward(x)?))
    }

    /// `down(act(gate) * up)`; `act(gate) * up` in one fused pass on the CPU (no backward:
    /// for the fast path and the recorded forward only).
    pub fn finish(&self, gate: &Tensor, up: &Tensor) -> Result<Tensor> {
        let product = match Kernels::for_device(gate.device(), gate.dtype()) {
            Kernels::FusedCpu => gate
                .contiguous()?
                .apply_op2_no_bwd(&up.contiguous()?, &ActivationProduct(self.activation))?,
            Kernels::TensorOps => (self.activate(gate)? * up)?,
        };
        self.down.forward(&product)
    }

    pub fn activate(&self, gate: &Tensor) -> Result<Tensor> {
        match self.activation {
            Activation::Silu => gate.silu(),
            Activation::GeluTanh => gate.gelu(),
        }
    }
}

/// Keys and values of earlier positions, per layer, for the generation path.
///
/// The keys and values live in buffers with room to spare (`[B, kv_heads, capacity, D]`),
/// so a decode step writes one position in place instead of copying the whole cache into a
/// new tensor. A cache made from another ([`LayerCache::truncated`], [`LayerCache::row`],
/// `clone`) shares the other's buffers for reading and copies them on its first append
/// (copy on write), so neither can overwrite what the other sees.
#[derive(Default)]
pub struct LayerCache {
    /// Views of the filled positions `[B, kv_heads, len, D]`.
    kv: Option<(Tensor, Tensor)>,
    /// The buffers `kv` views, when this cache alone may write them.
    owned: Option<(Tensor, Tensor)>,
}

impl Clone for LayerCache {
    /// Shares the keys and values for reading; the clone copies them on its first append.
    fn clone(&self) -> LayerCache {
        LayerCache {
            kv: self.kv.clone(),
            owned: None,
        }
    }
}

/// Positions a fresh cache buffer holds beyond what it is created with: a generation's new
/// tokens then append in place.
const SPARE_POSITIONS: usize = 256;

impl LayerCache {
    /// The first `len` positions (views of the same storage); empty for 0.
    pub fn truncated(&self, len: usize) -> Result<LayerCache> {
        let kv = match &self.kv {
            Some((k, v)) if len > 0 => Some((k.narrow(2, 0, len)?, v.narrow(2, 0, len)?)),
            _ => None,
        };
        Ok(LayerCache { kv, owned: None })
    }

    pub fn len(&self) -> Result<usize> {
        match &self.kv {
            Some((k, _)) => k.dim(2),
            None => Ok(0),
        }
    }

    /// Row `row` of a batched cache, keys `start..start + len` (views, no copy).
    pub fn row(&self, row: usize, start: usize, len: usize) -> Result<LayerCache> {
        let kv = match &self.kv {
            Some((k, v)) if len > 0 => Some((
                k.narrow(0, row, 1)?.narrow(2, start, len)?,
                v.narrow(0, row, 1)?.narrow(2, start, len)?,
            )),
            _ => None,
        };
        Ok(LayerCache { kv, owned: None })
    }

    /// Appends `k`, `v` (`[B, kv_heads, t, D]`) and returns views of all keys and values.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let len = self.len()?;
        let t = k.dim(2)?;
        let fits = self
            .owned
            .as_ref()
            .map(|(kb, _)| kb.dim(2))
            .transpose()?
            .is_some_and(|capacity| len + t <= capacity);
        if !fits {
            self.grow(k, len + t)?;
        }
        let Some((kb, vb)) = &self.owned else {
            candle_core::bail!("the KV cache has no buffer after growing");
        };
        kb.slice_set(&k.contiguous()?, 2, len)?;
        vb.slice_set(&v.contiguous()?, 2, len)?;
        let views = (kb.narrow(2, 0, len + t)?, vb.narrow(2, 0, len + t)?);
        self.kv = Some(views.clone());
        Ok(views)
    }

    /// New buffers for at least `needed` positions (twice the old room, or the need plus
    /// [`SPARE_POSITIONS`]), holding what the cache holds.
    fn grow(&mut self, like: &Tensor, needed: usize) -> Result<()> {
        let (b, heads, _, d) = like.dims4()?;
        let old = self
            .owned
            .as_ref()
            .map(|(kb, _)| kb.dim(2))
            .transpose()?
            .unwrap_or(0);
        let capacity = (needed + SPARE_POSITIONS).max(old * 2);
        let fresh = || Tensor::zeros((b, heads, capacity, d), like.dtype(), like.device());
        let (kb, vb) = (fresh()?, fresh()?);
        if let Some((k, v)) = &self.kv {
            kb.slice_set(&k.contiguous()?, 2, 0)?;
            vb.slice_set(&v.contiguous()?, 2, 0)?;
        }
        self.owned = Some((kb, vb));
        Ok(())
    }
}

/// Grouped-query self-attention with the family's scale, soft-cap and window.
pub struct Attention {
    /// q, k and v projections in one weight (`[q_dim + 2 kv_dim, hidden]`): one matmul in
    /// the forward and one in the backward instead of three narrow ones.
    pub(super) qkv: Linear,
    /// The v rows of `qkv` (a view): the backward's input gradient when q and k pass none.
    pub(super) v: Linear,
    pub(super) o: Linear,
    pub(super) heads: usize,
    pub(super) kv_heads: usize,
    pub(super) head_dim: usize,
    pub(super) scale: f64,
    pub(super) softcap: Option<f64>,
}

impl Attention {
    pub fn new(vb: VarBuilder, config: &ModelConfig) -> Result<Attention> {
        let h = config.hidden_size;
        let (q, k, v) = (
            linear(&vb.pp("q_proj"), h, config.q_dim(), config.qkv_bias)?,
            linear(&vb.pp("k_proj"), h, config.kv_dim(), config.qkv_bias)?,
            linear(&vb.pp("v_proj"), h, config.kv_dim(), config.qkv_bias)?,
        );
        let weight = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0)?;
        let bias = match (q.bias(), k.bias(), v.bias()) {
            (Some(a), Some(b), Some(c)) => Some(Tensor::cat(&[a, b, c], 0)?),
            _ => None,
        };
        let qkv = Linear::new(weight, bias);
        // The v projection becomes a view of the fused weight: held once.
        let (qd, kvd) = (config.q_dim(), config.kv_dim());
        let v = Linear::new(
            qkv.weight().narrow(0, qd + kvd, kvd)?,
            qkv.bias().map(|b| b.narrow(0, qd + kvd, kvd)).transpose()?,
        );
        drop((q, k));
        Ok(Attention {
            v,
            qkv,
            o: linear(&vb.pp("o_proj"), config.q_dim(), h, config.o_bias)?,
            heads: config.num_heads,
            kv_heads: config.num_kv_heads,
            head_dim: config.head_dim,
            scale: config.attention_scale,
            softcap: config.attn_logit_softcap,
        })
    }

    /// `x` `[B, T, hidden]`; `mask` additive f32 `[B or 1, 1, T, keys]` or None (all
    /// visible); `cache` (fast path) holds earlier keys/values and is extended.
    pub fn forward(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        mask: Option<&Tensor>,
        cache: Option<&mut LayerCache>,
        path: PathKind,
    ) -> Result<Tensor> {
        let (q, k, v) = self.qkv(x, rope, path)?;
        let (k, v) = match cache {
            Some(cache) => cache.append(&k, &v)?,
            None => (k, v),
        };
        self.attend(&q, &k, &v, mask, path)
    }

    /// The fast forward of one sequence (`x` `[1, t, hidden]`) after what `cache` holds, on
    /// the CPU in f32/f64: blocked attention over the cached and new keys, no mask tensor and
    /// no `[heads, t, keys]` buffer.
    pub fn forward_cached_blocked(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        cache: &mut LayerCache,
        window: Option<usize>,
        query_block: usize,
    ) -> Result<Tensor> {
        let offset = cache.len()?;
        let (q, k, v) = self.qkv(x, rope, PathKind::Fast)?;
        let (k, v) = cache.append(&k, &v)?;
        self.attend_blocked_after(&q, &k, &v, window, offset, query_block)
    }

    /// `o_proj(softmax(q·kᵀ) · v)` from q, k (after RoPE) and v.
    pub fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        path: PathKind,
    ) -> Result<Tensor> {
        let probs = self.probabilities(q, k, mask, path)?;
        let out = probs.matmul(&repeat_kv(v, self.group())?)?;
        self.o.forward(&merge_heads(&out)?)
    }

    /// [`Attention::attend`] for one whole prompt on the CPU (f32/f64), causal with an
    /// optional window: one block of `query_block` queries at a time, heads grouped by
    /// their kv head, the fused masked softmax, and keys a block cannot see skipped. No
    /// `[heads, T, T]` buffer (126 MB at 1,500 tokens for a 0.5B model) is ever allocated.
    /// The `t` queries sit at positions `offset..offset + t` over keys `0..offset + t` (a
    /// cached or recorded prefix, then the queries' own).
    pub fn attend_blocked_after(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        window: Option<usize>,
        offset: usize,
        query_block: usize,
    ) -> Result<Tensor> {
        let (_, heads, t, d) = q.dims4()?;
        let (kv, n) = (self.kv_heads, self.group());
        let (k, v) = (k.squeeze(0)?, v.squeeze(0)?);
        let params = ScoreParams {
            scale: self.scale,
            softcap: self.softcap,
            identity: false,
        };
        let mut blocks = Vec::new();
        for start in (0..t).step_by(query_block.max(1)) {
            let len = query_block.max(1).min(t - start);
            let (first, end) = (offset + start, offset + start + len);
            let lo = window.map_or(0, |w| (first + 1).saturating_sub(w));
            let keys = end - lo;
            let q_b = q
                .narrow(2, start, len)?
                .contiguous()?
                .reshape((kv, n * len, d))?;
            let k_b = k.narrow(1, lo, keys)?;
            // The raw scores become the probabilities in place.
            let probs = q_b.matmul(&k_b.t()?)?;
            probs.inplace_op1(&MaskedSoftmax {
                geometry: BlockGeometry {
                    start: first,
                    queries: len,
                    key_start: lo,
                    window,
                },
                params,
            })?;
            blocks.push(
                probs
                    .matmul(&v.narrow(1, lo, keys)?)?
                    .reshape((1, heads, len, d))?,
            );
        }
        let out = Tensor::cat(&blocks, 2)?;
        self.o.forward(&merge_heads(&out)?)
    }

    /// q, k (after RoPE) `[B, heads | kv_heads, T, head_dim]` and v, contiguous.
    pub fn qkv(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        path: PathKind,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, t, _) = x.dims3()?;
        let (heads, kv) = (self.heads, self.kv_heads);
        let y = self
            .qkv
            .forward(x)?
            .reshape((b, t, heads + 2 * kv, self.head_dim))?;
        let split =
            |start: usize, count: usize| y.narrow(2, start, count)?.transpose(1, 2)?.contiguous();
        let (q, k, v) = (split(0, heads)?, split(heads, kv)?, split(heads + kv, kv)?);
        let (q, k) = match path {
            PathKind::Fast => (rope.apply_fused(&q)?, rope.apply_fused(&k)?),
            PathKind::Differentiable(_) => (
                rope.apply_differentiable(&q)?,
                rope.apply_differentiable(&k)?,
            ),
        };
        // LXT's rules sit at the attention function's inputs, after RoPE.
        match path.rules() {
            None => Ok((q, k, v)),
            Some(rules) => {
                let (q, k) = match rules.query_key_factor() {
                    Some(f) => (scale_gradient(&q, f)?, scale_gradient(&k, f)?),
                    None => (q.detach(), k.detach()),
                };
                Ok((q, k, scale_gradient(&v, rules.value_factor())?))
            }
        }
    }

    /// Attention probabilities `[B, heads, queries, keys]` in the run dtype; `k` holds
    /// kv_heads heads.
    pub fn probabilities(
        &self,
        q: &Tensor,
        k: &Tensor,
        mask: Option<&Tensor>,
        path: PathKind,
    ) -> Result<Tensor> {
        let scores = self.scores(q, k, mask, path)?;
        let probs = match path {
            PathKind::Fast => candle_nn::ops::softmax_last_dim(&scores)?,
            PathKind::Differentiable(_) => candle_nn::ops::softmax(&scores, D::Minus1)?,
        };
        probs.to_dtype(q.dtype())
    }

    /// The scaled, soft-capped, masked scores in f32 (f64 for f64 models) that the softmax
    /// takes, as transformers computes its softmax in f32 whatever the run dtype.
    fn scores(
        &self,
        q: &Tensor,
        k: &Tensor,
        mask: Option<&Tensor>,
        path: PathKind,
    ) -> Result<Tensor> {
        let k = repeat_kv(k, self.group())?;
        let raw = (q.matmul(&k.t()?)? * self.scale)?;
        let mut scores = match self.softcap {
            Some(cap) => softcap(&raw, cap, path)?,
            None => raw,
        };
        scores = scores.to_dtype(accumulation_dtype(q.dtype()))?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(&mask.to_dtype(scores.dtype())?)?;
        }
        Ok(scores)
    }

    /// Query heads served by each kv head.
    pub fn group(&self) -> usize {
        self.heads / self.kv_heads
    }
}

/// Gemma-2's `cap · tanh(x / cap)`, with the identity rule under AttnLRP / CP-LRP.
pub fn softcap(x: &Tensor, cap: f64, path: PathKind) -> Result<Tensor> {
    let capped = ((x / cap)?.tanh()? * cap)?;
    match path.rules() {
        Some(_) => identity_rule(x, &capped),
        None => Ok(capped),
    }
}

/// `[B, heads, T, D]` → `[B, T, heads * D]`.
pub fn merge_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, d) = x.dims4()?;
    x.transpose(1, 2)?.reshape((b, t, h * d))
}

/// `[B, kv_heads, S, D]` → `[B, kv_heads * n, S, D]`, each kv head serving n query heads.
pub fn repeat_kv(x: &Tensor, n: usize) -> Result<Tensor> {
    if n == 1 {
        return Ok(x.clone());
    }
    let (b, kv, s, d) = x.dims4()?;
    x.unsqueeze(2)?
        .broadcast_as((b, kv, n, s, d))?
        .reshape((b, kv * n, s, d))
}

#[cfg(test)]
mod tests {
    //! Each rule alone, on a tiny tensor graph: the gradient autograd gives through the
    //! detach algebra is the one the rule prescribes, and the forward value is unchanged.
    use super::*;
    use candle_core::{Device, Var};

    fn input() -> Var {
        Var::new(&[-2.0f64, -0.5, 0.3, 1.7, 4.0], &Device::Cpu).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f64> {
        t.to_vec1().unwrap()
    }

    #[test]
    fn scale_gradient_keeps_the_value_and_scales_the_gradient() {
        let x = input();
        for factor in [0.25, 0.5, 1.0] {
            let y = scale_gradient(x.as_tensor(), factor).unwrap();
            assert_eq!(values(&y), values(x.as_tensor()));
            let g = (&y * 3.0).unwrap().sum_all().unwrap().backward().unwrap();
            let g = values(g.get(x.as_tensor()).unwrap());
            assert!(
                g.iter().all(|v| (v - 3.0 * factor).abs() < 1e-15),
                "{factor}: {g:?}"
            );
        }
    }

    #[test]
    fn identity_rule_passes_f_of_x_over_x() {
        let x = input();
        let fx = x.as_tensor().silu().unwrap();
        let y = identity_rule(x.as_tensor(), &fx).unwrap();
        for (a, b) in values(&y).iter().zip(values(&fx)) {
            assert!((a - b).abs() < 1e-9, "forward {a} vs {b}");
        }
        let g = y.sum_all().unwrap().backward().unwrap();
        let g = values(g.get(x.as_tensor()).unwrap());
        for ((gi, xi), fi) in g.iter().zip(values(x.as_tensor())).zip(values(&fx)) {
            assert!((gi - fi / (xi + IDENTITY_EPSILON)).abs() < 1e-12);
        }
    }

    #[test]
    fn softcap_is_plain_without_rules_and_identity_with_them() {
        let x = input();
        let cap = 3.0;
        let plain = softcap(
            x.as_tensor(),
            cap,
            PathKind::Differentiable(GradientRules::Gradient),
        )
        .unwrap();
        let g = plain.sum_all().unwrap().backward().unwrap();
        for (gi, xi) in values(g.get(x.as_tensor()).unwrap())
            .iter()
            .zip(values(x.as_tensor()))
        {
            let th = (xi / cap).tanh();
            assert!((gi - (1.0 - th * th)).abs() < 1e-12);
        }
        let ruled = softcap(
            x.as_tensor(),
            cap,
            PathKind::Differentiable(GradientRules::AttnLrp),
        )
        .unwrap();
        let g = ruled.sum_all().unwrap().backward().unwrap();
        for (gi, xi) in values(g.get(x.as_tensor()).unwrap())
            .iter()
            .zip(values(x.as_tensor()))
        {
            let capped = cap * (xi / cap).tanh();
            assert!((gi - capped / (xi + IDENTITY_EPSILON)).abs() < 1e-12);
        }
    }

    #[test]
    fn blocked_attention_with_the_fused_softmax_equals_the_masked_one() {
        // GQA (6 heads on 2 kv heads), windows, a soft-cap, ragged blocks; f64 and f32.
        let (heads, kv, t, d) = (6, 2, 11, 4);
        for (dtype, tolerance) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let randn = |shape: &[usize]| {
                Tensor::randn(0.0f64, 1.0, shape, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap()
            };
            let (q, k, v) = (
                randn(&[1, heads, t, d]),
                randn(&[1, kv, t, d]),
                randn(&[1, kv, t, d]),
            );
            let o = Linear::new(randn(&[5, heads * d]), None);
            for softcap in [None, Some(2.0)] {
                let att = Attention {
                    qkv: o.clone(),
                    v: o.clone(),
                    o: o.clone(),
                    heads,
                    kv_heads: kv,
                    head_dim: d,
                    scale: 0.7,
                    softcap,
                };
                for window in [None, Some(1), Some(4)] {
                    let mask =
                        super::super::mask::additive_mask(1, t, t, 0, window, None, &Device::Cpu)
                            .unwrap();
                    let expected = att.attend(&q, &k, &v, Some(&mask), PathKind::Fast).unwrap();
                    for block in [1, 3, 5, 64] {
                        let got = att
                            .attend_blocked_after(&q, &k, &v, window, 0, block)
                            .unwrap();
                        let diff = (&got - &expected)
                            .unwrap()
                            .abs()
                            .unwrap()
                            .max_all()
                            .unwrap()
                            .to_dtype(DType::F64)
                            .unwrap()
                            .to_scalar::<f64>()
                            .unwrap();
                        assert!(
                            diff < tolerance,
                            "{dtype:?} {softcap:?} {window:?} {block}: {diff:e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_kv_cache_appends_in_place_and_copies_when_shared() {
        let dev = Device::Cpu;
        // Position p holds the value p in every slot.
        let keys = |from: usize, n: usize| {
            Tensor::arange(from as f32, (from + n) as f32, &dev)
                .unwrap()
                .reshape((1, 1, n, 1))
                .unwrap()
                .broadcast_as((1, 2, n, 3))
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let positions = |t: &Tensor| -> Vec<f32> {
            t.narrow(1, 0, 1)
                .unwrap()
                .narrow(3, 0, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        let mut cache = LayerCache::default();
        let (k, v) = cache.append(&keys(0, 4), &keys(0, 4)).unwrap();
        assert_eq!(positions(&k), [0., 1., 2., 3.]);
        assert_eq!(positions(&v), [0., 1., 2., 3.]);
        let buffer = cache.owned.as_ref().unwrap().0.clone();
        let mut prefix = cache.truncated(2).unwrap();
        let mut copy = cache.clone();
        // The original appends in place, past what the prefix sees.
        let (k, _) = cache.append(&keys(4, 1), &keys(4, 1)).unwrap();
        assert_eq!(positions(&k), [0., 1., 2., 3., 4.]);
        // In place: the buffer the cache had before now holds position 4 too.
        assert_eq!(
            positions(&buffer.narrow(2, 0, 5).unwrap()),
            [0., 1., 2., 3., 4.]
        );
        // The prefix continues differently without touching the original.
        let (k, _) = prefix.append(&keys(7, 2), &keys(7, 2)).unwrap();
        assert_eq!(positions(&k), [0., 1., 7., 8.]);
        assert_eq!(
            positions(&buffer.narrow(2, 0, 5).unwrap()),
            [0., 1., 2., 3., 4.]
        );
        let (k, _) = copy.append(&keys(9, 1), &keys(9, 1)).unwrap();
        assert_eq!(positions(&k), [0., 1., 2., 3., 9.]);
        let (k, _) = cache.append(&keys(5, 1), &keys(5, 1)).unwrap();
        assert_eq!(positions(&k), [0., 1., 2., 3., 4., 5.]);
        // Growing past the room keeps every position.
        let long = 2 * SPARE_POSITIONS;
        let (k, _) = cache.append(&keys(6, long), &keys(6, long)).unwrap();
        assert_eq!(
            positions(&k),
            (0..6 + long).map(|p| p as f32).collect::<Vec<_>>()
        );
        assert_eq!(cache.len().unwrap(), 6 + long);
    }

    #[test]
    fn rms_norm_with_a_detached_normaliser_is_linear() {
        let config = |plus_one| RmsNorm {
            weight: Tensor::new(&[0.5f64, -1.0, 2.0], &Device::Cpu).unwrap(),
            fused_alpha: Tensor::new(&[0.5f64, -1.0, 2.0], &Device::Cpu).unwrap(),
            plus_one,
            eps: 1e-6,
        };
        let x = Var::new(&[[1.0f64, -2.0, 0.5]], &Device::Cpu).unwrap();
        for plus_one in [false, true] {
            let norm = config(plus_one);
            let y = norm
                .forward(
                    x.as_tensor(),
                    PathKind::Differentiable(GradientRules::AttnLrp),
                )
                .unwrap();
            let g = y.sum_all().unwrap().backward().unwrap();
            let g: Vec<Vec<f64>> = g.get(x.as_tensor()).unwrap().to_vec2().unwrap();
            let xs = [1.0f64, -2.0, 0.5];
            let r = 1.0 / ((xs.iter().map(|v| v * v).sum::<f64>() / 3.0) + 1e-6).sqrt();
            for (i, w) in [0.5f64, -1.0, 2.0].iter().enumerate() {
                let w = if plus_one { 1.0 + w } else { *w };
                assert!((g[0][i] - w * r).abs() < 1e-12, "{plus_one} {i}");
            }
            // x · g equals the output: the norm passes all relevance (identity rule).
            let out: Vec<Vec<f64>> = y.to_vec2().unwrap();
            for i in 0..3 {
                assert!((xs[i] * g[0][i] - out[0][i]).abs() < 1e-12);
            }
        }
    }
}

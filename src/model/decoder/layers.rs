//! The parts of a decoder block, each with a fused forward (generation) and a
//! differentiable one (attribution, hidden states) over the same weights.

use super::super::config::{Activation, ModelConfig};
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
            None => self.finish(&gate, &up),
            Some(rules) => {
                let gate = if rules.detach_gate() { gate.detach() } else { gate };
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

    /// `down(act(gate) * up)`.
    pub fn finish(&self, gate: &Tensor, up: &Tensor) -> Result<Tensor> {
        self.down.forward(&(self.activate(gate)? * up)?)
    }

    pub fn activate(&self, gate: &Tensor) -> Result<Tensor> {
        match self.activation {
            Activation::Silu => gate.silu(),
            Activation::GeluTanh => gate.gelu(),
        }
    }
}

/// Keys and values of earlier positions, per layer, for the generation path.
#[derive(Default, Clone)]
pub struct LayerCache {
    kv: Option<(Tensor, Tensor)>,
}

impl LayerCache {
    pub fn len(&self) -> Result<usize> {
        match &self.kv {
            Some((k, _)) => k.dim(2),
            None => Ok(0),
        }
    }
}

/// Grouped-query self-attention with the family's scale, soft-cap and window.
pub struct Attention {
    pub(super) q: Linear,
    pub(super) k: Linear,
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
        Ok(Attention {
            q: linear(&vb.pp("q_proj"), h, config.q_dim(), config.qkv_bias)?,
            k: linear(&vb.pp("k_proj"), h, config.kv_dim(), config.qkv_bias)?,
            v: linear(&vb.pp("v_proj"), h, config.kv_dim(), config.qkv_bias)?,
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
            Some(cache) => {
                let (k, v) = match cache.kv.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                    None => (k, v),
                };
                cache.kv = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        self.attend(&q, &k, &v, mask, path)
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

    /// q, k (after RoPE) `[B, heads | kv_heads, T, head_dim]` and v, contiguous.
    pub fn qkv(
        &self,
        x: &Tensor,
        rope: &RopeTables,
        path: PathKind,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, t, _) = x.dims3()?;
        let split = |y: Tensor, heads: usize| {
            y.reshape((b, t, heads, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.q.forward(x)?, self.heads)?;
        let k = split(self.k.forward(x)?, self.kv_heads)?;
        let v = split(self.v.forward(x)?, self.kv_heads)?;
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
    fn scores(&self, q: &Tensor, k: &Tensor, mask: Option<&Tensor>, path: PathKind) -> Result<Tensor> {
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

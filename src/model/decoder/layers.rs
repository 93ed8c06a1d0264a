//! The parts of a decoder block, each with a fused forward (generation) and a
//! differentiable one (attribution, hidden states) over the same weights.

use super::super::config::{Activation, ModelConfig};
use super::rope::RopeTables;
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

/// Which ops a forward may use: fused kernels (no backward) or primitives only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Fast,
    Differentiable,
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
    weight: Tensor,
    /// `w` or `1 + w` in the run dtype, for the fused kernel.
    fused_alpha: Tensor,
    plus_one: bool,
    eps: f64,
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
            PathKind::Fast => {
                candle_nn::ops::rms_norm(&x.contiguous()?, &self.fused_alpha, self.eps as f32)
            }
            PathKind::Differentiable => self.forward_primitive(x),
        }
    }

    /// As transformers: `x * rsqrt(mean(x²) + eps)` in f32, then `w * y.to(dtype)`, or for
    /// Gemma `(y * (1 + w.float())).to(dtype)`.
    fn forward_primitive(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let acc = accumulation_dtype(dtype);
        let x32 = x.to_dtype(acc)?;
        let inv_rms = (x32.sqr()?.mean_keepdim(D::Minus1)? + self.eps)?
            .sqrt()?
            .recip()?;
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
    gate: Linear,
    up: Linear,
    down: Linear,
    activation: Activation,
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

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = self.gate.forward(x)?;
        let activated = match self.activation {
            Activation::Silu => gate.silu()?,
            Activation::GeluTanh => gate.gelu()?,
        };
        self.down.forward(&(activated * self.up.forward(x)?)?)
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
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f64,
    softcap: Option<f64>,
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
            PathKind::Differentiable => (
                rope.apply_differentiable(&q)?,
                rope.apply_differentiable(&k)?,
            ),
        };
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
        let k = repeat_kv(&k, self.heads / self.kv_heads)?;
        let v = repeat_kv(&v, self.heads / self.kv_heads)?;
        let mut scores = (q.matmul(&k.t()?)? * self.scale)?;
        if let Some(cap) = self.softcap {
            scores = ((scores / cap)?.tanh()? * cap)?;
        }
        // Softmax in f32 whatever the run dtype, as transformers does.
        let mut scores = scores.to_dtype(accumulation_dtype(x.dtype()))?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(&mask.to_dtype(scores.dtype())?)?;
        }
        let probs = match path {
            PathKind::Fast => candle_nn::ops::softmax_last_dim(&scores)?,
            PathKind::Differentiable => candle_nn::ops::softmax(&scores, D::Minus1)?,
        }
        .to_dtype(x.dtype())?;
        let out = probs.matmul(&v)?;
        let out = out
            .transpose(1, 2)?
            .reshape((b, t, self.heads * self.head_dim))?;
        self.o.forward(&out)
    }
}

/// `[B, kv_heads, S, D]` → `[B, kv_heads * n, S, D]`, each kv head serving n query heads.
fn repeat_kv(x: &Tensor, n: usize) -> Result<Tensor> {
    if n == 1 {
        return Ok(x.clone());
    }
    let (b, kv, s, d) = x.dims4()?;
    x.unsqueeze(2)?
        .broadcast_as((b, kv, n, s, d))?
        .reshape((b, kv * n, s, d))
}

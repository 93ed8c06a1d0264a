//! Rotary position embeddings. Frequencies and the cos/sin tables are computed in f32, as
//! transformers does ("bfloat16 loses precision on long contexts"), then cast to the run dtype.

use super::super::config::{Llama3RopeScaling, ModelConfig};
use candle_core::{DType, Device, Result, Tensor, D};

/// Inverse frequencies `1 / theta^(2i/d)`, rescaled per Llama-3.1 when configured.
pub fn inverse_frequencies(config: &ModelConfig) -> Vec<f32> {
    let dim = config.head_dim;
    let theta = config.rope_theta as f32;
    let base: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1.0 / theta.powf(i as f32 / dim as f32))
        .collect();
    if let Some(factors) = &config.rope_freq_factors {
        // llama.cpp divides each frequency by its factor (GGUF `rope_freqs.weight`).
        return base.iter().zip(factors).map(|(f, d)| f / d).collect();
    }
    match &config.rope_scaling {
        Some(scaling) => base
            .into_iter()
            .map(|f| llama3_rescale(f, scaling))
            .collect(),
        None => base,
    }
}

/// Llama-3.1: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
fn llama3_rescale(freq: f32, s: &Llama3RopeScaling) -> f32 {
    let factor = s.factor as f32;
    let (low, high) = (s.low_freq_factor as f32, s.high_freq_factor as f32);
    let original = s.original_max_position_embeddings as f32;
    let low_freq_wavelen = original / low;
    let high_freq_wavelen = original / high;
    let wavelen = 2.0 * std::f32::consts::PI / freq;
    if wavelen < high_freq_wavelen {
        freq
    } else if wavelen > low_freq_wavelen {
        freq / factor
    } else {
        let smooth = (original / wavelen - low) / (high - low);
        (1.0 - smooth) * freq / factor + smooth * freq
    }
}

/// cos and sin of `position x frequency`, shaped `[rows, len, head_dim/2]`, in `dtype`.
pub struct RopeTables {
    pub cos: Tensor,
    pub sin: Tensor,
}

impl RopeTables {
    /// Tables for one position list per batch row (all rows the same length).
    pub fn new(
        inv_freq: &[f32],
        positions: &[Vec<u32>],
        dtype: DType,
        device: &Device,
    ) -> Result<RopeTables> {
        let rows = positions.len();
        let len = positions.first().map_or(0, Vec::len);
        let half = inv_freq.len();
        let mut angles = Vec::with_capacity(rows * len * half);
        for row in positions {
            for &p in row {
                angles.extend(inv_freq.iter().map(|f| p as f32 * f));
            }
        }
        let angles = Tensor::from_vec(angles, (rows, len, half), device)?;
        Ok(RopeTables {
            cos: angles.cos()?.to_dtype(dtype)?,
            sin: angles.sin()?.to_dtype(dtype)?,
        })
    }

    /// Rotate-half RoPE from primitive ops only (they all have a backward pass and CUDA
    /// kernels): `x*cos + rotate_half(x)*sin`, x `[B, heads, T, D]`.
    pub fn apply_differentiable(&self, x: &Tensor) -> Result<Tensor> {
        let cos = Tensor::cat(&[&self.cos, &self.cos], D::Minus1)?.unsqueeze(1)?;
        let sin = Tensor::cat(&[&self.sin, &self.sin], D::Minus1)?.unsqueeze(1)?;
        let half = x.dim(D::Minus1)? / 2;
        let x1 = x.narrow(D::Minus1, 0, half)?;
        let x2 = x.narrow(D::Minus1, half, half)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
    }

    /// candle-nn's fused kernel (no backward): for the generation path.
    pub fn apply_fused(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::rotary_emb::rope(&x.contiguous()?, &self.cos, &self.sin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaling() -> Llama3RopeScaling {
        Llama3RopeScaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192.0,
        }
    }

    #[test]
    fn llama3_keeps_high_frequencies_and_divides_low_ones() {
        let s = scaling();
        // wavelength 2π/1 ≈ 6.3 < 2048: unchanged.
        assert_eq!(llama3_rescale(1.0, &s), 1.0);
        // wavelength ≈ 62832 > 8192: divided by the factor.
        let low = 1e-4;
        assert!((llama3_rescale(low, &s) - low / 8.0).abs() < 1e-12);
        // In between: strictly between the two.
        let mid = 2.0 * std::f32::consts::PI / 4000.0;
        let r = llama3_rescale(mid, &s);
        assert!(r < mid && r > mid / 8.0);
    }

    #[test]
    fn fused_and_differentiable_rope_agree() -> Result<()> {
        let device = Device::Cpu;
        let inv: Vec<f32> = (0..4)
            .map(|i| 1.0 / 10000f32.powf(i as f32 / 4.0))
            .collect();
        let tables = RopeTables::new(&inv, &[(0..5).collect()], DType::F32, &device)?;
        let x = Tensor::randn(0f32, 1.0, (1, 3, 5, 8), &device)?;
        let a = tables.apply_fused(&x)?;
        let b = tables.apply_differentiable(&x)?;
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6, "{diff}");
        Ok(())
    }
}

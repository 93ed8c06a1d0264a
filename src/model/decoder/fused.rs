//! CPU-only fused kernels for the hand-written backward pass, written over slices in safe
//! Rust and split over rows with rayon.
//!
//! Why: candle's CPU elementwise ops make one pass and one fresh buffer per op; the
//! attention backward's softmax (forward recomputation and backward) and the MLP's gate
//! derivative are ten-odd such passes over `[heads, block, keys]` and `[T, intermediate]`
//! tensors. Each kernel here does the same arithmetic in one pass. Other devices keep the
//! tensor-op path ([`Kernels::TensorOps`]); tests check both agree.

use crate::model::config::Activation;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, InplaceOp1, Layout, Shape,
};
use rayon::prelude::*;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub};

/// Which implementation the backward pass uses for its elementwise stretches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// The fused CPU kernels of this module (CPU, f32 or f64 only).
    FusedCpu,
    /// Candle tensor ops, on any device.
    TensorOps,
}

impl Kernels {
    /// Fused on the CPU in f32/f64, tensor ops elsewhere.
    pub fn for_device(device: &Device, dtype: DType) -> Kernels {
        if device.is_cpu() && matches!(dtype, DType::F32 | DType::F64) {
            Kernels::FusedCpu
        } else {
            Kernels::TensorOps
        }
    }
}

/// The float arithmetic the kernels need, for f32 and f64.
pub(super) trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + MulAssign
    + Neg<Output = Self>
    + AddAssign
    + DivAssign
    + candle_core::WithDType
{
    const ZERO: Self;
    const ONE: Self;
    fn of(v: f64) -> Self;
    fn exp(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt_two_over_pi() -> Self;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn of(v: f64) -> f32 {
        v as f32
    }
    #[inline(always)]
    fn exp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn tanh(self) -> f32 {
        f32::tanh(self)
    }
    #[inline(always)]
    fn sqrt_two_over_pi() -> f32 {
        (2.0f32 / std::f32::consts::PI).sqrt()
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn of(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    #[inline(always)]
    fn tanh(self) -> f64 {
        f64::tanh(self)
    }
    #[inline(always)]
    fn sqrt_two_over_pi() -> f64 {
        (2.0 / std::f64::consts::PI).sqrt()
    }
}

/// e^x in straight-line f32 arithmetic (no libm call, no branch), so that loops over it
/// vectorise: `2^n · p(r)`, `n = round(x · log2 e)`, `r = x − n ln 2` in two parts (Cody and
/// Waite), `p` Cephes' degree-7 polynomial for `expf`. Within 2 ulp of `f32::exp` on [-87, 88]
/// (tested); e^x below that range is 0 and above it saturates at e^88 (softmax and SiLU never
/// need more). NaN stays NaN.
#[inline(always)]
pub(super) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Adding then subtracting 1.5 · 2^23 rounds to the nearest integer in plain adds.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(-87.0, 88.0);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = (clamped - n * C1) - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) << 23) as u32);
    // NaN needs no test: the clamp keeps it, and it runs through the arithmetic. One select
    // (no branch) keeps the loops over this vectorised.
    let e = y * scale;
    if x < -87.0 {
        0.0
    } else {
        e
    }
}

/// `act(gate) · up` in one pass (the fast MLP's middle), inputs `gate`, `up`.
pub(super) struct ActivationProduct(pub Activation);

impl CustomOp2 for ActivationProduct {
    fn name(&self) -> &'static str {
        "xmrc-activation-product"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        fn run<T: Real>(activation: Activation, gate: &[T], up: &[T]) -> CpuStorage {
            let p = GateParams {
                activation,
                identity: false,
                factor: 1.0,
            };
            let mut out = vec![T::ZERO; gate.len()];
            out.par_chunks_mut(MIN_PAR_ELEMS)
                .zip(gate.par_chunks(MIN_PAR_ELEMS))
                .zip(up.par_chunks(MIN_PAR_ELEMS))
                .for_each(|((o, x), u)| {
                    simd(
                        #[inline(always)]
                        || match activation {
                            // Written out so the loop has no match inside and vectorises.
                            Activation::Silu => {
                                for ((o, &x), &u) in o.iter_mut().zip(x).zip(u) {
                                    *o = x / (T::ONE + (-x).exp()) * u;
                                }
                            }
                            Activation::GeluTanh => {
                                for ((o, &x), &u) in o.iter_mut().zip(x).zip(u) {
                                    *o = p.activate(x) * u;
                                }
                            }
                        },
                    )
                });
            T::to_cpu_storage_owned(out)
        }
        let shape = l1.shape().clone();
        if l2.shape() != &shape {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let n = self.name();
        let out = match s1 {
            CpuStorage::F32(_) => run(self.0, slice::<f32>(s1, l1, n)?, slice(s2, l2, n)?),
            CpuStorage::F64(_) => run(self.0, slice::<f64>(s1, l1, n)?, slice(s2, l2, n)?),
            _ => candle_core::bail!("{n}: f32 or f64 only"),
        };
        Ok((out, shape))
    }
}

/// The contiguous slice of a storage, or an error naming the op.
fn slice<'a, T: Real>(s: &'a CpuStorage, l: &Layout, op: &str) -> candle_core::Result<&'a [T]> {
    let data = T::cpu_storage_as_slice(s)?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{op}: input must be contiguous"),
    }
}

/// Rows of at least this many elements go to rayon one by one; shorter rows in chunks.
const MIN_PAR_ELEMS: usize = 16 * 1024;

fn rows_per_task(row: usize) -> usize {
    (MIN_PAR_ELEMS / row.max(1)).max(1)
}

/// Where the query rows and keys of one attention block sit: the scores tensor is
/// `[groups, heads_per_group * queries, keys]`, row `r` of a group is query `start + r %
/// queries`, column `j` key `key_start + j`.
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockGeometry {
    pub start: usize,
    pub queries: usize,
    pub key_start: usize,
    pub window: Option<usize>,
}

impl BlockGeometry {
    /// The visible columns `lo..hi` of row `r` (causal, windowed): always one at least.
    fn visible(&self, r: usize, keys: usize) -> (usize, usize) {
        let q = self.start + r % self.queries;
        let hi = (q + 1).saturating_sub(self.key_start).min(keys);
        let first = self
            .window
            .map_or(0, |w| (q + 1).saturating_sub(w))
            .saturating_sub(self.key_start);
        (first.min(hi), hi)
    }
}

/// The scalar parts of the attention scores: `softcap(raw · scale)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScoreParams {
    pub scale: f64,
    pub softcap: Option<f64>,
    /// AttnLRP / CP-LRP pass the soft-cap's relevance with the identity rule.
    pub identity: bool,
}

impl ScoreParams {
    /// `(scaled raw, score)` of one raw `q·k`, as the tensor path computes them.
    #[inline(always)]
    fn score<T: Real>(&self, raw: T) -> (T, T) {
        let scaled = raw * T::of(self.scale);
        match self.softcap {
            Some(cap) => (scaled, (scaled * T::of(1.0 / cap)).tanh() * T::of(cap)),
            None => (scaled, scaled),
        }
    }

    /// d score / d scaled raw under the rules (1 without a soft-cap).
    #[inline(always)]
    fn local<T: Real>(&self, scaled: T, capped: T) -> T {
        match self.softcap {
            None => T::ONE,
            Some(_) if self.identity => capped / (scaled + T::of(super::rules::IDENTITY_EPSILON)),
            Some(cap) => {
                let c = capped * T::of(1.0 / cap);
                T::ONE - c * c
            }
        }
    }
}

/// Masked softmax of the scores of raw `q·kᵀ` (`[groups, rows, keys]`), with the
/// causal/window mask of [`BlockGeometry`]: masked probabilities are exactly 0.
pub(super) struct MaskedSoftmax {
    pub geometry: BlockGeometry,
    pub params: ScoreParams,
}

impl MaskedSoftmax {
    /// The probabilities in a new buffer (the backward's recompute keeps the raw scores).
    fn run<T: Real>(&self, raw: &[T], shape: &Shape) -> CpuStorage {
        let mut out = raw.to_vec();
        self.run_in_place(&mut out, shape);
        T::to_cpu_storage_owned(out)
    }

    /// The softmax over the raw scores' own buffer: the forward's scores are never read
    /// again, so it needs no second `[rows, keys]` buffer.
    fn run_in_place<T: Real>(&self, scores: &mut [T], shape: &Shape) {
        let keys = shape.dims().last().copied().unwrap_or(1).max(1);
        let rows_per_group = shape.elem_count() / keys / group_count(shape);
        let chunk = rows_per_task(keys);
        scores
            .par_chunks_mut(keys * chunk)
            .enumerate()
            .for_each(|(c, rows)| {
                simd(
                    #[inline(always)]
                    || {
                        for (i, row) in rows.chunks_mut(keys).enumerate() {
                            let r = (c * chunk + i) % rows_per_group;
                            let (lo, hi) = self.geometry.visible(r, keys);
                            row[..lo].fill(T::ZERO);
                            row[hi..].fill(T::ZERO);
                            let row = &mut row[lo..hi];
                            match self.params.softcap {
                                None => {
                                    let scale = T::of(self.params.scale);
                                    for o in row.iter_mut() {
                                        *o *= scale;
                                    }
                                }
                                Some(_) => {
                                    for o in row.iter_mut() {
                                        *o = self.params.score(*o).1;
                                    }
                                }
                            }
                            normalise_row(row);
                        }
                    },
                )
            });
    }
}

/// `out` (scores) becomes `softmax(out)`.
#[inline(always)]
fn normalise_row<T: Real>(out: &mut [T]) {
    let max = lanes_fold(
        out,
        T::of(f64::NEG_INFINITY),
        |a, b| if b > a { b } else { a },
    );
    for o in out.iter_mut() {
        *o = (*o - max).exp();
    }
    let sum = lanes_fold(out, T::ZERO, |a, b| a + b);
    let inv = T::ONE / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// Runs `f` compiled for the widest vector instructions this CPU has (AVX-512 or AVX2 with
/// FMA, detected at run time; plain SSE2 otherwise): the binary targets baseline x86-64, so
/// the loops inlined into `f` vectorise 4 lanes wide without it. The arithmetic is the same
/// IEEE operations in any width, so results do not depend on the CPU.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// Lanes of [`lanes_fold`]: enough independent accumulators to fill an AVX-512 register.
const LANES: usize = 16;

/// `values` folded with `f` over [`LANES`] interleaved accumulators, then across them: the
/// compiler vectorises this, where one running accumulator is a serial chain (float
/// addition is not associative, so it may not reorder it itself).
#[inline(always)]
fn lanes_fold<T: Real>(values: &[T], init: T, f: impl Fn(T, T) -> T) -> T {
    let mut acc = [init; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = f(*a, v);
        }
    }
    let mut total = init;
    for &v in chunks.remainder() {
        total = f(total, v);
    }
    acc.into_iter().fold(total, f)
}

/// Groups (leading dimension) of a rank-3 scores shape; 1 otherwise.
fn group_count(shape: &Shape) -> usize {
    match shape.dims() {
        [g, _, _] => (*g).max(1),
        _ => 1,
    }
}

/// The softmax in place, for the fast forward (the backward keeps the raw scores).
impl InplaceOp1 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "xmrc-masked-softmax-in-place"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        let Some((a, b)) = l.contiguous_offsets() else {
            candle_core::bail!("{}: input must be contiguous", InplaceOp1::name(self))
        };
        match s {
            CpuStorage::F32(v) => self.run_in_place(&mut v[a..b], l.shape()),
            CpuStorage::F64(v) => self.run_in_place(&mut v[a..b], l.shape()),
            _ => candle_core::bail!("{}: f32 or f64 only", InplaceOp1::name(self)),
        }
        Ok(())
    }
}

impl CustomOp1 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "xmrc-masked-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let shape = l.shape().clone();
        let out = match s {
            CpuStorage::F32(_) => self.run(slice::<f32>(s, l, CustomOp1::name(self))?, &shape),
            CpuStorage::F64(_) => self.run(slice::<f64>(s, l, CustomOp1::name(self))?, &shape),
            _ => candle_core::bail!("{}: f32 or f64 only", CustomOp1::name(self)),
        };
        Ok((out, shape))
    }
}

/// The softmax backward to the raw scores: `g_raw = p (g_p − Σ p g_p) · local · scale`,
/// inputs `probs`, `g_probs` and raw `q·kᵀ` (read only under a soft-cap), all `[groups,
/// rows, keys]`.
pub(super) struct SoftmaxBackward {
    pub geometry: BlockGeometry,
    pub params: ScoreParams,
}

impl SoftmaxBackward {
    fn run<T: Real>(
        &self,
        probs: &[T],
        g_probs: &[T],
        raw: &[T],
        shape: &Shape,
    ) -> candle_core::Result<CpuStorage> {
        let keys = shape.dims().last().copied().unwrap_or(1).max(1);
        let rows_per_group = shape.elem_count() / keys / group_count(shape);
        let mut out = vec![T::ZERO; probs.len()];
        let chunk = rows_per_task(keys);
        let width = keys * chunk;
        out.par_chunks_mut(width)
            .zip(probs.par_chunks(width))
            .zip(g_probs.par_chunks(width))
            .zip(raw.par_chunks(width))
            .enumerate()
            .for_each(|(c, (((out, p), gp), raw))| {
                simd(
                    #[inline(always)]
                    || {
                        let rows = out
                            .chunks_mut(keys)
                            .zip(p.chunks(keys))
                            .zip(gp.chunks(keys))
                            .zip(raw.chunks(keys));
                        for (i, (((o, p), gp), raw)) in rows.enumerate() {
                            let r = (c * chunk + i) % rows_per_group;
                            let (lo, hi) = self.geometry.visible(r, keys);
                            self.row(&p[lo..hi], &gp[lo..hi], &raw[lo..hi], &mut o[lo..hi]);
                        }
                    },
                )
            });
        Ok(T::to_cpu_storage_owned(out))
    }

    #[inline(always)]
    fn row<T: Real>(&self, p: &[T], gp: &[T], raw: &[T], out: &mut [T]) {
        let mut dot = T::ZERO;
        for (&p, &g) in p.iter().zip(gp) {
            dot += g * p;
        }
        let scale = T::of(self.params.scale);
        if self.params.softcap.is_none() {
            for ((o, &p), &g) in out.iter_mut().zip(p).zip(gp) {
                *o = p * (g - dot) * scale;
            }
            return;
        }
        for (((o, &p), &g), &r) in out.iter_mut().zip(p).zip(gp).zip(raw) {
            let (scaled, capped) = self.params.score(r);
            *o = p * (g - dot) * self.params.local(scaled, capped) * scale;
        }
    }
}

impl CustomOp3 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "xmrc-softmax-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let shape = l1.shape().clone();
        if l2.shape() != &shape || l3.shape() != &shape {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let n = self.name();
        let out = match s1 {
            CpuStorage::F32(_) => self.run(
                slice::<f32>(s1, l1, n)?,
                slice::<f32>(s2, l2, n)?,
                slice::<f32>(s3, l3, n)?,
                &shape,
            )?,
            CpuStorage::F64(_) => self.run(
                slice::<f64>(s1, l1, n)?,
                slice::<f64>(s2, l2, n)?,
                slice::<f64>(s3, l3, n)?,
                &shape,
            )?,
            _ => candle_core::bail!("{n}: f32 or f64 only"),
        };
        Ok((out, shape))
    }
}

/// The MLP's `act(gate)` and its local derivative under the rules.
#[derive(Clone, Copy, Debug)]
pub(super) struct GateParams {
    pub activation: Activation,
    /// AttnLRP / CP-LRP: identity rule `act(x) / (x + ε)` instead of `act'(x)`.
    pub identity: bool,
    /// The rules' factor on the gate·up product's gradient.
    pub factor: f64,
}

impl GateParams {
    #[inline(always)]
    fn activate<T: Real>(&self, x: T) -> T {
        match self.activation {
            Activation::Silu => x / (T::ONE + (-x).exp()),
            Activation::GeluTanh => {
                let c = T::sqrt_two_over_pi();
                T::of(0.5) * x * (T::ONE + (c * x * (T::ONE + T::of(0.044715) * x * x)).tanh())
            }
        }
    }

    #[inline(always)]
    fn local<T: Real>(&self, x: T, activated: T) -> T {
        if self.identity {
            return activated / (x + T::of(super::rules::IDENTITY_EPSILON));
        }
        match self.activation {
            Activation::Silu => {
                let s = T::ONE / (T::ONE + (-x).exp());
                s * (x * (T::ONE - s) + T::ONE)
            }
            Activation::GeluTanh => {
                let c = T::of((2.0 / std::f64::consts::PI).sqrt());
                let x2 = x * x;
                let th = (x * (x2 * T::of(0.044715) + T::ONE) * c).tanh();
                let du = (x2 * T::of(3.0 * 0.044715) + T::ONE) * c;
                (th + T::ONE) * T::of(0.5) + x * T::of(0.5) * (T::ONE - th * th) * du
            }
        }
    }
}

/// `g · act(gate)`: the gradient at the up projection's output; inputs `g`, `gate`.
pub(super) struct GateUpGrad(pub GateParams);

impl CustomOp2 for GateUpGrad {
    fn name(&self) -> &'static str {
        "xmrc-mlp-up-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        fn run<T: Real>(p: &GateParams, g: &[T], gate: &[T]) -> CpuStorage {
            let mut out = vec![T::ZERO; g.len()];
            out.par_chunks_mut(MIN_PAR_ELEMS)
                .zip(g.par_chunks(MIN_PAR_ELEMS))
                .zip(gate.par_chunks(MIN_PAR_ELEMS))
                .for_each(|((o, g), x)| {
                    simd(
                        #[inline(always)]
                        || {
                            let f = T::of(p.factor);
                            // One loop per activation: a match inside would keep the
                            // loop from vectorising.
                            match p.activation {
                                Activation::Silu => {
                                    for ((o, &g), &x) in o.iter_mut().zip(g).zip(x) {
                                        *o = g * f * (x / (T::ONE + (-x).exp()));
                                    }
                                }
                                Activation::GeluTanh => {
                                    for ((o, &g), &x) in o.iter_mut().zip(g).zip(x) {
                                        *o = g * f * p.activate(x);
                                    }
                                }
                            }
                        },
                    )
                });
            T::to_cpu_storage_owned(out)
        }
        let shape = l1.shape().clone();
        if l2.shape() != &shape {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let n = self.name();
        let out = match s1 {
            CpuStorage::F32(_) => run(&self.0, slice::<f32>(s1, l1, n)?, slice(s2, l2, n)?),
            CpuStorage::F64(_) => run(&self.0, slice::<f64>(s1, l1, n)?, slice(s2, l2, n)?),
            _ => candle_core::bail!("{n}: f32 or f64 only"),
        };
        Ok((out, shape))
    }
}

/// `g · up · local(gate)`: the gradient at the gate projection's output; inputs `g`,
/// `gate`, `up`.
pub(super) struct GateGrad(pub GateParams);

impl CustomOp3 for GateGrad {
    fn name(&self) -> &'static str {
        "xmrc-mlp-gate-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        fn run<T: Real>(p: &GateParams, g: &[T], gate: &[T], up: &[T]) -> CpuStorage {
            let mut out = vec![T::ZERO; g.len()];
            out.par_chunks_mut(MIN_PAR_ELEMS)
                .zip(g.par_chunks(MIN_PAR_ELEMS))
                .zip(gate.par_chunks(MIN_PAR_ELEMS))
                .zip(up.par_chunks(MIN_PAR_ELEMS))
                .for_each(|(((o, g), x), u)| {
                    simd(
                        #[inline(always)]
                        || {
                            let f = T::of(p.factor);
                            let rows = o.iter_mut().zip(g).zip(x).zip(u);
                            // One loop per case, the same arithmetic as `local`: a match
                            // inside would keep the loop from vectorising.
                            let eps = T::of(super::rules::IDENTITY_EPSILON);
                            match (p.activation, p.identity) {
                                (Activation::Silu, false) => {
                                    for (((o, &g), &x), &u) in rows {
                                        let s = T::ONE / (T::ONE + (-x).exp());
                                        *o = g * f * u * (s * (x * (T::ONE - s) + T::ONE));
                                    }
                                }
                                (Activation::Silu, true) => {
                                    for (((o, &g), &x), &u) in rows {
                                        let a = x / (T::ONE + (-x).exp());
                                        *o = g * f * u * (a / (x + eps));
                                    }
                                }
                                (Activation::GeluTanh, identity) => {
                                    for (((o, &g), &x), &u) in rows {
                                        let local = if identity {
                                            p.local(x, p.activate(x))
                                        } else {
                                            p.local(x, T::ZERO)
                                        };
                                        *o = g * f * u * local;
                                    }
                                }
                            }
                        },
                    )
                });
            T::to_cpu_storage_owned(out)
        }
        let shape = l1.shape().clone();
        if l2.shape() != &shape || l3.shape() != &shape {
            candle_core::bail!("{}: shapes differ", self.name());
        }
        let n = self.name();
        let out = match s1 {
            CpuStorage::F32(_) => run(
                &self.0,
                slice::<f32>(s1, l1, n)?,
                slice(s2, l2, n)?,
                slice(s3, l3, n)?,
            ),
            CpuStorage::F64(_) => run(
                &self.0,
                slice::<f64>(s1, l1, n)?,
                slice(s2, l2, n)?,
                slice(s3, l3, n)?,
            ),
            _ => candle_core::bail!("{n}: f32 or f64 only"),
        };
        Ok((out, shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite positive f32.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_f32_is_within_two_ulp_of_libm_on_its_range() {
        let mut worst = 0;
        let steps = 2_000_000;
        for i in 0..=steps {
            let x = -87.0 + 175.0 * i as f32 / steps as f32;
            let (ours, libm) = (exp_f32(x), x.exp());
            if libm.is_normal() {
                worst = worst.max(ulps(ours, libm));
            }
        }
        assert!(worst <= 2, "worst {worst} ulp");
        for x in [0.0f32, -0.0, 1.0, -1.0, 1e-8, -1e-8] {
            assert!(ulps(exp_f32(x), x.exp()) <= 1, "{x}");
        }
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn exp_f32_ends_flush_saturate_and_keep_nan() {
        assert_eq!(exp_f32(-88.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(1000.0), exp_f32(88.0));
        assert!(exp_f32(88.0).is_finite());
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn the_activation_product_equals_the_tensor_ops() {
        let dev = Device::Cpu;
        let gate = candle_core::Tensor::randn(0f32, 3.0, (5, 7001), &dev).unwrap();
        let up = candle_core::Tensor::randn(0f32, 1.0, (5, 7001), &dev).unwrap();
        for (activation, expected) in [
            (Activation::Silu, (gate.silu().unwrap() * &up).unwrap()),
            (Activation::GeluTanh, (gate.gelu().unwrap() * &up).unwrap()),
        ] {
            let got = gate
                .apply_op2_no_bwd(&up, &ActivationProduct(activation))
                .unwrap();
            let diff = (got - expected)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-5, "{activation:?}: {diff}");
        }
    }

    /// The in-place softmax (the fast forward's) gives the same bits as the one that writes
    /// a new buffer (the backward's recompute), rows summing to 1 with masked entries 0, for
    /// every mask shape, and equals candle's softmax of the scaled, capped visible scores.
    #[test]
    fn the_in_place_softmax_equals_the_softmax_into_a_new_buffer() {
        let dev = Device::Cpu;
        let raw = candle_core::Tensor::randn(0f32, 4.0, (2, 3 * 5, 37), &dev).unwrap();
        for window in [None, Some(4)] {
            for softcap in [None, Some(2.5)] {
                let op = MaskedSoftmax {
                    geometry: BlockGeometry {
                        start: 30,
                        queries: 5,
                        key_start: 2,
                        window,
                    },
                    params: ScoreParams {
                        scale: 0.125,
                        softcap,
                        identity: false,
                    },
                };
                let expected = raw.apply_op1_no_bwd(&op).unwrap();
                let in_place = raw.copy().unwrap();
                in_place.inplace_op1(&op).unwrap();
                let (a, b) = (
                    in_place.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                    expected.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                );
                assert_eq!(a, b, "window {window:?}, softcap {softcap:?}");
                // Each row sums to 1 and has masked zeros (the window hides early keys).
                for row in a.chunks(37) {
                    let sum: f32 = row.iter().sum();
                    assert!((sum - 1.0).abs() < 1e-5, "{sum}");
                }
                if window.is_some() {
                    assert_eq!(a[0], 0.0);
                }
                // Against a plain f64 softmax of the visible, scaled (and capped) scores.
                let raw_rows = raw.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for (r, (got, raw_row)) in a.chunks(37).zip(raw_rows.chunks(37)).enumerate() {
                    let (lo, hi) = op.geometry.visible(r % 15, 37);
                    let scores: Vec<f64> = raw_row[lo..hi]
                        .iter()
                        .map(|&x| {
                            let scaled = x as f64 * 0.125;
                            softcap.map_or(scaled, |c| (scaled / c).tanh() * c)
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                    for (j, &p) in got.iter().enumerate() {
                        let expected = if (lo..hi).contains(&j) {
                            (scores[j - lo] - max).exp() / total
                        } else {
                            0.0
                        };
                        assert!((p as f64 - expected).abs() < 1e-6, "row {r} key {j}");
                    }
                }
            }
        }
    }
}

//! Which gradient the decoder's backward pass computes: the plain gradient, or the modified
//! gradients of LXT's efficient AttnLRP and CP-LRP, whose gradient x input is the relevance.
//!
//! The rules follow `lxt/efficient/patches.py` op by op (see `../shared/METHOD.md`):
//! - every RMSNorm: the normaliser `rsqrt(mean(x²) + eps)` is a constant;
//! - SiLU/GELU and Gemma-2's tanh soft-caps: identity rule, gradient `f(x) / (x + 1e-10)`;
//! - `act(gate) * up`: half the gradient (uniform rule);
//! - attention inputs after RoPE: a quarter of the gradient on query and key, half on value;
//! - everything else (linear layers with biases, softmax, RoPE, masks, residual adds,
//!   lm_head): the plain gradient.
//!
//! CP-LRP (LXT's `cp_LRP` maps) keeps the normaliser rule, detaches query, key and the MLP
//! gate, and gives value and `up` their full gradient.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The propagation rules of a backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GradientRules {
    /// AttnLRP (Achtibat et al. 2024) as LXT's efficient implementation computes it.
    #[default]
    AttnLrp,
    /// Conservative propagation: no relevance through softmax or the MLP gate.
    CpLrp,
    /// The ordinary gradient (gradient x input): for checks against autograd.
    Gradient,
}

impl GradientRules {
    pub const ALL: [GradientRules; 3] = [
        GradientRules::AttnLrp,
        GradientRules::CpLrp,
        GradientRules::Gradient,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GradientRules::AttnLrp => "attn-lrp",
            GradientRules::CpLrp => "cp-lrp",
            GradientRules::Gradient => "gradient",
        }
    }

    /// The RMS normaliser is treated as a constant.
    pub fn detach_normaliser(self) -> bool {
        self != GradientRules::Gradient
    }

    /// Element-wise non-linearities pass `f(x)/(x+eps)` instead of `f'(x)`.
    pub fn identity_nonlinearities(self) -> bool {
        self != GradientRules::Gradient
    }

    /// Gradient factor on query and key after RoPE; None: detached (no gradient at all).
    pub fn query_key_factor(self) -> Option<f64> {
        match self {
            GradientRules::AttnLrp => Some(0.25),
            GradientRules::CpLrp => None,
            GradientRules::Gradient => Some(1.0),
        }
    }

    /// Gradient factor on value.
    pub fn value_factor(self) -> f64 {
        match self {
            GradientRules::AttnLrp => 0.5,
            GradientRules::CpLrp | GradientRules::Gradient => 1.0,
        }
    }

    /// Gradient factor on the product `act(gate) * up`.
    pub fn gate_up_factor(self) -> f64 {
        match self {
            GradientRules::AttnLrp => 0.5,
            GradientRules::CpLrp | GradientRules::Gradient => 1.0,
        }
    }

    /// No gradient flows into the MLP gate projection.
    pub fn detach_gate(self) -> bool {
        self == GradientRules::CpLrp
    }
}

impl fmt::Display for GradientRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for GradientRules {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GradientRules::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown rules '{s}'; use attn-lrp, cp-lrp or gradient"))
    }
}

/// LXT's identity-rule epsilon: a plain `+1e-10` on the input, not sign-aware.
pub const IDENTITY_EPSILON: f64 = 1e-10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in GradientRules::ALL {
            assert_eq!(r.name().parse::<GradientRules>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.name());
        }
        assert!("lrp".parse::<GradientRules>().is_err());
    }

    #[test]
    fn factors_follow_lxt() {
        let a = GradientRules::AttnLrp;
        assert_eq!(
            (a.query_key_factor(), a.value_factor(), a.gate_up_factor()),
            (Some(0.25), 0.5, 0.5)
        );
        let cp = GradientRules::CpLrp;
        assert_eq!(
            (
                cp.query_key_factor(),
                cp.value_factor(),
                cp.gate_up_factor()
            ),
            (None, 1.0, 1.0)
        );
        assert!(cp.detach_gate() && cp.detach_normaliser() && !a.detach_gate());
        let g = GradientRules::Gradient;
        assert!(!g.detach_normaliser() && !g.identity_nonlinearities());
    }
}

//! AdamW's update on the CPU as three in-place custom ops (first moment, second moment,
//! weights), each one pass over the variable with no allocation; the arithmetic of
//! [`super::AdamW`]'s tensor-op path, which other devices take.

use candle_core::{bail, CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor};

/// `s = decay·s + (1 − decay)·g` (or `g²` with `square`): a moment of the gradients.
struct Moment {
    decay: f32,
    square: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let g = crate::model::cpu_values("adamw", s2, l2)?;
        let s = crate::model::cpu_values_mut("adamw", s1, l1)?;
        if s.len() != g.len() {
            bail!("adamw: {} gradients for {} values", g.len(), s.len());
        }
        let rest = 1.0 - self.decay;
        for (s, g) in s.iter_mut().zip(g) {
            let g = if self.square { g * g } else { *g };
            *s = *s * self.decay + g * rest;
        }
        Ok(())
    }
}

/// `θ = θ·(1 − lr·wd) − lr·(m·scale_m) / (√(v·scale_v) + eps)`.
struct Apply {
    lr: f32,
    keep: f32,
    scale_m: f32,
    scale_v: f32,
    eps: f32,
}

impl InplaceOp3 for Apply {
    fn name(&self) -> &'static str {
        "adamw-apply"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let m = crate::model::cpu_values("adamw", s2, l2)?;
        let v = crate::model::cpu_values("adamw", s3, l3)?;
        let theta = crate::model::cpu_values_mut("adamw", s1, l1)?;
        if theta.len() != m.len() || theta.len() != v.len() {
            bail!(
                "adamw: moments of {} and {} for {} values",
                m.len(),
                v.len(),
                theta.len()
            );
        }
        for ((t, m), v) in theta.iter_mut().zip(m).zip(v) {
            let update = (m * self.scale_m) / ((v * self.scale_v).sqrt() + self.eps);
            *t = *t * self.keep - update * self.lr;
        }
        Ok(())
    }
}

/// Whether the fused update applies to `t` (contiguous f32 on the CPU).
pub fn applies(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == candle_core::DType::F32 && t.is_contiguous()
}

/// Hyper-parameters of one AdamW step, bias corrections included.
pub struct Step {
    /// Learning rate.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator guard.
    pub eps: f64,
    /// First-moment bias correction, `1 / (1 − β₁ᵗ)`.
    pub scale_m: f64,
    /// Second-moment bias correction, `1 / (1 − β₂ᵗ)`.
    pub scale_v: f64,
}

/// Updates `m`, `v` and `theta` in place from the gradient `g`.
pub fn step(theta: &Tensor, m: &Tensor, v: &Tensor, g: &Tensor, s: &Step) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(
        &g,
        &Moment {
            decay: s.beta1 as f32,
            square: false,
        },
    )?;
    v.inplace_op2(
        &g,
        &Moment {
            decay: s.beta2 as f32,
            square: true,
        },
    )?;
    theta.inplace_op3(
        m,
        v,
        &Apply {
            lr: s.lr as f32,
            keep: (1.0 - s.lr * s.weight_decay) as f32,
            scale_m: s.scale_m as f32,
            scale_v: s.scale_v as f32,
            eps: s.eps as f32,
        },
    )
}

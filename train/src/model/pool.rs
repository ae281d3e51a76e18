//! 2×2 max-pool, stride 2, as a candle custom op on the CPU: the forward pass is one loop,
//! and the backward pass sends each output gradient to the arg-max of its window (the first
//! largest pixel in row order), as the definition of the gradient says. Shapes:
//! `[N, C, H, W]` → `[N, C, H/2, W/2]`, an odd last row or column dropped.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::cpu;

/// The f32 values of a contiguous CPU tensor.
fn values<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    cpu::values("max-pool", storage, layout)
}

/// The forward op.
struct MaxPool2;

/// The backward op: `(input, output gradient)` → input gradient.
struct MaxPool2Grad;

/// Index in the `[h, w]` plane starting at `base` of the largest pixel of window `(i, j)`.
pub(super) fn argmax(x: &[f32], base: usize, w: usize, i: usize, j: usize) -> usize {
    let first = base + 2 * i * w + 2 * j;
    let mut best = first;
    for k in [first + 1, first + w, first + w + 1] {
        if x[k] > x[best] {
            best = k;
        }
    }
    best
}

impl CustomOp1 for MaxPool2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = layout.shape().dims4()?;
        let x = values(storage, layout)?;
        let (ph, pw) = (h / 2, w / 2);
        let mut out = Vec::with_capacity(n * c * ph * pw);
        for plane in 0..n * c {
            for i in 0..ph {
                for j in 0..pw {
                    out.push(x[argmax(x, plane * h * w, w, i, j)]);
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, ph, pw))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad_res.contiguous()?,
            &MaxPool2Grad,
        )?))
    }
}

impl CustomOp2 for MaxPool2Grad {
    fn name(&self) -> &'static str {
        "max-pool-2x2-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let x = values(s1, l1)?;
        let g = values(s2, l2)?;
        let (ph, pw) = (h / 2, w / 2);
        if g.len() != n * c * ph * pw {
            bail!(
                "max-pool gradient: {} values for a {n}x{c}x{ph}x{pw} output",
                g.len()
            );
        }
        let mut out = vec![0f32; x.len()];
        for plane in 0..n * c {
            for i in 0..ph {
                for j in 0..pw {
                    out[argmax(x, plane * h * w, w, i, j)] += g[(plane * ph + i) * pw + j];
                }
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// 2×2 max-pool through the custom op (CPU, f32).
pub fn max_pool2_cpu(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(MaxPool2)
}

//! 2×2 max-pool, stride 2, as a candle custom op on the CPU: the forward pass is one loop,
//! and the backward pass sends each output gradient to the arg-max of its window (the first
//! largest pixel in row order), as the definition of the gradient says. Shapes:
//! `[N, C, H, W]` → `[N, C, H/2, W/2]`, an odd last row or column dropped.
//!
//! The training fast path fuses the ReLU before it and the layout change after the channel-first
//! convolution ([`super::conv`]): `[C, N, H, W]` → `[N, C, H/2, W/2]` = ReLU(max of window),
//! which equals max-pooling the ReLU (both are monotone) with a quarter of the ReLU's work.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

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
fn argmax(x: &[f32], base: usize, w: usize, i: usize, j: usize) -> usize {
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

/// ReLU then 2×2 max-pool, channel-first in, batch-first out.
struct ReluMaxPool2Cnhw;

/// Its backward op: `(input [C, N, H, W], output gradient [N, C, H/2, W/2])` → input gradient.
struct ReluMaxPool2CnhwGrad;

impl CustomOp1 for ReluMaxPool2Cnhw {
    fn name(&self) -> &'static str {
        "relu-max-pool-2x2-cnhw"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (c, n, h, w) = layout.shape().dims4()?;
        let x = values(storage, layout)?;
        let (ph, pw) = (h / 2, w / 2);
        let mut out = vec![0f32; n * c * ph * pw];
        if !out.is_empty() {
            out.par_chunks_mut(c * ph * pw)
                .enumerate()
                .for_each(|(image, out)| {
                    for (ch, out) in out.chunks_exact_mut(ph * pw).enumerate() {
                        let base = (ch * n + image) * h * w;
                        for i in 0..ph {
                            for j in 0..pw {
                                out[i * pw + j] = x[argmax(x, base, w, i, j)].max(0.0);
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, ph, pw))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(
            &grad_res.contiguous()?,
            &ReluMaxPool2CnhwGrad,
        )?))
    }
}

impl CustomOp2 for ReluMaxPool2CnhwGrad {
    fn name(&self) -> &'static str {
        "relu-max-pool-2x2-cnhw-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (c, n, h, w) = l1.shape().dims4()?;
        let x = values(s1, l1)?;
        let g = values(s2, l2)?;
        let (ph, pw) = (h / 2, w / 2);
        if l2.shape().dims() != [n, c, ph, pw] {
            bail!(
                "max-pool gradient: {:?} for a {c}x{n}x{h}x{w} input",
                l2.shape()
            );
        }
        let mut dx = vec![0f32; x.len()];
        if !dx.is_empty() {
            dx.par_chunks_mut(n * h * w)
                .enumerate()
                .for_each(|(ch, dx)| {
                    for image in 0..n {
                        let base = image * h * w;
                        let x = &x[ch * n * h * w..][..n * h * w];
                        let g = &g[(image * c + ch) * ph * pw..][..ph * pw];
                        for i in 0..ph {
                            for j in 0..pw {
                                let best = argmax(x, base, w, i, j);
                                if x[best] > 0.0 {
                                    dx[best] = g[i * pw + j];
                                }
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

/// ReLU and 2×2 max-pool of a channel-first `[C, N, H, W]` tensor into batch-first
/// `[N, C, H/2, W/2]` (CPU, f32).
pub fn relu_max_pool2_cnhw(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(ReluMaxPool2Cnhw)
}

/// 2×2 max-pool through the custom op (CPU, f32).
pub fn max_pool2_cpu(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(MaxPool2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::tests::{max_diff, random};
    use candle_core::Var;

    #[test]
    fn channel_first_relu_pool_matches_relu_then_pool() {
        for side in [11, 26] {
            let x = Var::from_tensor(&random(&[3, 2, side, side], 1)).unwrap();
            let ours = relu_max_pool2_cnhw(&x).unwrap();
            let theirs = super::super::ops::max_pool2_reshaped(
                &x.permute((1, 0, 2, 3)).unwrap().relu().unwrap(),
            )
            .unwrap();
            assert!(max_diff(&ours, &theirs) < 1e-6);
            let probe = random(ours.dims(), 2);
            let loss = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap();
            let g1 = loss(&ours).backward().unwrap();
            let g2 = loss(&theirs).backward().unwrap();
            let d = max_diff(g1.get(&x).unwrap(), g2.get(&x).unwrap());
            assert!(d < 1e-6, "side {side}: gradients differ by {d}");
        }
    }
}

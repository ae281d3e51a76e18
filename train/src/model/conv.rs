//! Dense k×k convolution, stride 1, no padding, as candle custom ops on the CPU: the whole
//! batch's im2col patches go through one matrix product, with the bias folded in as a row of
//! ones, so forward and both gradients are one product each.
//!
//! Shapes: `x [N, C, H, W]`, `w [O, C, k, k]`, `b [O]` → `y [O, N, H−k+1, W−k+1]`, channel
//! first, the product's own layout (the pooling that follows reads it and writes
//! `[N, O, …]`). Backward: `[dw | db] = dy · [cols; 1]ᵀ`; `dx = col2im(wᵀ · dy)`, computed only
//! when `x` needs a gradient (never for the input images).

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

use super::cpu::values;
use super::gemm::{matmul, Mat};

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
}

impl Dims {
    fn oh(&self) -> usize {
        self.h + 1 - self.k
    }
    fn ow(&self) -> usize {
        self.w + 1 - self.k
    }
    /// Output positions of the whole batch: the columns of the patch matrix.
    fn np(&self) -> usize {
        self.n * self.oh() * self.ow()
    }
    /// Rows of the patch matrix without the row of ones.
    fn ckk(&self) -> usize {
        self.c * self.k * self.k
    }
}

/// Checks `x [N, C, H, W]` against a `k×k` kernel.
fn dims(x: &Layout, c: usize, k: usize) -> Result<Dims> {
    let (n, xc, h, w) = x.shape().dims4()?;
    if xc != c || h < k || w < k {
        bail!(
            "conv: input {:?} does not fit a {c}-channel {k}x{k} kernel",
            x.shape()
        );
    }
    Ok(Dims { n, c, h, w, k })
}

/// The patch matrix `[C·k·k + 1, N·H'·W']`: row `(c, dy, dx)` holds `x[n, c, oy+dy, ox+dx]` at
/// column `(n, oy, ox)`; the last row is ones (the bias).
fn im2col(x: &[f32], d: Dims) -> Vec<f32> {
    let (oh, ow, np) = (d.oh(), d.ow(), d.np());
    let mut cols = vec![0f32; (d.ckk() + 1) * np];
    cols.par_chunks_mut(np).enumerate().for_each(|(row, out)| {
        if row == d.ckk() {
            out.fill(1.0);
            return;
        }
        let (c, dy, dx) = (row / (d.k * d.k), row / d.k % d.k, row % d.k);
        for n in 0..d.n {
            let plane = &x[(n * d.c + c) * d.h * d.w..][..d.h * d.w];
            for oy in 0..oh {
                let src = &plane[(oy + dy) * d.w + dx..][..ow];
                out[(n * oh + oy) * ow..][..ow].copy_from_slice(src);
            }
        }
    });
    cols
}

/// Adds the patch gradients `dcols [C·k·k, N·H'·W']` back onto the pixels they came from.
fn col2im(dcols: &[f32], d: Dims) -> Vec<f32> {
    let (oh, ow, np) = (d.oh(), d.ow(), d.np());
    let mut dx = vec![0f32; d.n * d.c * d.h * d.w];
    dx.par_chunks_mut(d.c * d.h * d.w)
        .enumerate()
        .for_each(|(n, image)| {
            for (row, grads) in dcols.chunks_exact(np).enumerate() {
                let (c, dy, kx) = (row / (d.k * d.k), row / d.k % d.k, row % d.k);
                let plane = &mut image[c * d.h * d.w..][..d.h * d.w];
                for oy in 0..oh {
                    let src = &grads[(n * oh + oy) * ow..][..ow];
                    let dst = &mut plane[(oy + dy) * d.w + kx..][..ow];
                    for (o, g) in dst.iter_mut().zip(src) {
                        *o += g;
                    }
                }
            }
        });
    dx
}

/// Forward: `(x, w, b)` → `y [O, N, H', W']`.
struct Conv;

/// Parameter gradients: `(x, dy)` → `[O, C·k·k + 1]`, the weight gradient with the bias
/// gradient as its last column.
struct ConvParamGrad {
    k: usize,
}

/// Input gradient: `(w, dy)` → `dx [N, C, H, W]`.
struct ConvInputGrad;

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "conv2d-im2col"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (o, c, k, k2) = l2.shape().dims4()?;
        if k != k2 || l3.shape().dims1()? != o {
            bail!("conv: weight {:?} with bias {:?}", l2.shape(), l3.shape());
        }
        let d = dims(l1, c, k)?;
        let x = values("conv", s1, l1)?;
        let (w, b) = (values("conv", s2, l2)?, values("conv", s3, l3)?);
        let ckk = d.ckk();
        let mut wb = Vec::with_capacity(o * (ckk + 1));
        for (row, bias) in w.chunks_exact(ckk).zip(b) {
            wb.extend_from_slice(row);
            wb.push(*bias);
        }
        let cols = im2col(x, d);
        let mut y = vec![0f32; o * d.np()];
        matmul(
            &mut y,
            Mat::new(&wb, o, ckk + 1),
            Mat::new(&cols, ckk + 1, d.np()),
            false,
        )?;
        Ok((CpuStorage::F32(y), Shape::from((o, d.n, d.oh(), d.ow()))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (o, c, k, _) = w.dims4()?;
        let dy = dy.contiguous()?;
        let grads = x
            .contiguous()?
            .apply_op2_no_bwd(&dy, &ConvParamGrad { k })?;
        let dw = grads.narrow(1, 0, c * k * k)?.reshape(w.shape())?;
        let db = grads.narrow(1, c * k * k, 1)?.reshape(o)?;
        let dx = if x.track_op() {
            Some(w.contiguous()?.apply_op2_no_bwd(&dy, &ConvInputGrad)?)
        } else {
            None
        };
        Ok((dx, Some(dw), Some(db)))
    }
}

/// Checks `dy [O, N, H', W']` against the convolution of `d` with `o` filters.
fn check_grad(l: &Layout, o: usize, d: Dims) -> Result<()> {
    if l.shape().dims() != [o, d.n, d.oh(), d.ow()] {
        bail!("conv gradient: {:?} for {o} filters on {d:?}", l.shape());
    }
    Ok(())
}

impl CustomOp2 for ConvParamGrad {
    fn name(&self) -> &'static str {
        "conv2d-im2col-param-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, c, _, _) = l1.shape().dims4()?;
        let d = dims(l1, c, self.k)?;
        let o = l2.shape().dims()[0];
        check_grad(l2, o, d)?;
        let (x, dy) = (values("conv", s1, l1)?, values("conv", s2, l2)?);
        let cols = im2col(x, d);
        let mut grads = vec![0f32; o * (d.ckk() + 1)];
        matmul(
            &mut grads,
            Mat::new(dy, o, d.np()),
            Mat::transposed(&cols, d.ckk() + 1, d.np()),
            false,
        )?;
        Ok((CpuStorage::F32(grads), Shape::from((o, d.ckk() + 1))))
    }
}

impl CustomOp2 for ConvInputGrad {
    fn name(&self) -> &'static str {
        "conv2d-im2col-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (o, c, k, _) = l1.shape().dims4()?;
        let (_, n, oh, ow) = l2.shape().dims4()?;
        let d = Dims {
            n,
            c,
            h: oh + k - 1,
            w: ow + k - 1,
            k,
        };
        check_grad(l2, o, d)?;
        let (w, dy) = (values("conv", s1, l1)?, values("conv", s2, l2)?);
        let mut dcols = vec![0f32; d.ckk() * d.np()];
        matmul(
            &mut dcols,
            Mat::transposed(w, o, d.ckk()),
            Mat::new(dy, o, d.np()),
            false,
        )?;
        let dx = col2im(&dcols, d);
        Ok((CpuStorage::F32(dx), Shape::from((n, c, d.h, d.w))))
    }
}

/// Convolution of `x [N, C, H, W]` with `w [O, C, k, k]` and bias `b [O]`, no padding, stride
/// 1, on the CPU in f32: `[O, N, H−k+1, W−k+1]`, channel first.
pub fn conv2d_cnhw(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Conv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::tests::{max_diff, random};
    use candle_core::{Device, Var};

    /// candle's convolution, permuted to channel-first.
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        let o = w.dims4().unwrap().0;
        x.conv2d(w, 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, o, 1, 1)).unwrap())
            .unwrap()
            .permute((1, 0, 2, 3))
            .unwrap()
    }

    #[test]
    fn values_and_gradients_match_candle_conv2d() {
        for (x_shape, w_shape) in [
            ([3, 4, 9, 8], [5, 4, 3, 3]),
            ([2, 1, 12, 12], [6, 1, 3, 3]),
            ([2, 3, 5, 5], [4, 3, 1, 1]),
        ] {
            let x = Var::from_tensor(&random(&x_shape, 1)).unwrap();
            let w = Var::from_tensor(&random(&w_shape, 2)).unwrap();
            let b = Var::from_tensor(&random(&w_shape[..1], 3)).unwrap();
            let ours = conv2d_cnhw(&x, &w, &b).unwrap();
            let theirs = reference(&x, &w, &b);
            let d = max_diff(&ours, &theirs);
            assert!(d < 1e-4, "{x_shape:?}: values differ by {d}");
            let probe = random(ours.dims(), 4);
            let loss = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap();
            let g1 = loss(&ours).backward().unwrap();
            let g2 = loss(&theirs).backward().unwrap();
            for (name, v) in [("input", &x), ("weight", &w), ("bias", &b)] {
                let d = max_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
                assert!(d < 1e-4, "{x_shape:?}: {name} gradients differ by {d}");
            }
        }
    }

    #[test]
    fn images_get_no_gradient() {
        let x = random(&[2, 1, 6, 6], 1);
        let w = Var::from_tensor(&random(&[3, 1, 3, 3], 2)).unwrap();
        let b = Var::from_tensor(&random(&[3], 3)).unwrap();
        let grads = conv2d_cnhw(&x, &w, &b)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(&x).is_none());
        assert!(grads.get(&w).is_some());
    }

    #[test]
    fn a_mismatched_weight_is_an_error() {
        let x = random(&[1, 2, 6, 6], 1);
        let w = random(&[3, 4, 3, 3], 2);
        let b = Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(conv2d_cnhw(&x, &w, &b).is_err());
    }
}

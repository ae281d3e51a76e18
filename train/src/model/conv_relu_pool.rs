//! Dense k×k convolution, stride 1, no padding, then ReLU and 2×2 max-pool, as one candle
//! custom op on the CPU: the whole batch's im2col patches go through one matrix product with
//! the bias folded in as a row of ones, and the full-size convolution output never becomes a
//! tensor of the graph (candle's backward would zero-fill and add it again); the op keeps the
//! arg-max of each window for its backward pass.
//!
//! Shapes: `x [N, C, H, W]`, `w [O, C, k, k]`, `b [O]` → `[N, O, H'/2, W'/2]` with
//! `H' = H−k+1` (an odd last row or column dropped). Backward: the pooled gradient is
//! scattered to the saved arg-maxes as `dy [O, N, H', W']` (channel first: the product's own
//! layout); `[dw | db] = dy · [cols; 1]ᵀ`; `dx = col2im(wᵀ · dy)`, computed only when `x` needs
//! a gradient (never for the input images). ReLU is applied after the pooling, which equals
//! pooling the ReLU (both are monotone) at a quarter of the work.

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

use super::cpu::{values, Scratch};
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
fn im2col(x: &[f32], d: Dims) -> Scratch {
    let (oh, ow, np) = (d.oh(), d.ow(), d.np());
    let mut cols = Scratch::new((d.ckk() + 1) * np);
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
                // A loop, not copy_from_slice: rows are a dozen values, too short for memcpy.
                for (o, v) in out[(n * oh + oy) * ow..][..ow].iter_mut().zip(src) {
                    *o = *v;
                }
            }
        }
    });
    cols
}

/// Adds the patch gradients `dcols [C·k·k, N·H'·W']` onto the zeroed pixels `dx` they came from.
fn col2im(dcols: &[f32], d: Dims, dx: &mut [f32]) {
    let (oh, ow, np) = (d.oh(), d.ow(), d.np());
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
}

/// Pooled values one thread's task covers at least: rayon's cost per task is that of a few
/// hundred comparisons.
const PLANE_VALUES: usize = 1024;

/// Pools one `[H', W']` plane of the convolution (`y`, starting at index `base` of the whole
/// output) into `out [H'/2, W'/2]` after the ReLU, and the index of each window's largest
/// value (the first in row order, as `pool::argmax` does) into `best_at`, [`DEAD`] where it is not
/// positive.
fn pool_plane(y: &[f32], base: usize, ow: usize, out: &mut [f32], best_at: &mut [u32]) {
    let pw = ow / 2;
    for (i, (out, best_at)) in out
        .chunks_exact_mut(pw.max(1))
        .zip(best_at.chunks_exact_mut(pw.max(1)))
        .enumerate()
    {
        let top = &y[2 * i * ow..][..2 * pw];
        let bottom = &y[(2 * i + 1) * ow..][..2 * pw];
        let at = base + 2 * i * ow;
        for (j, ((o, b), (t, u))) in out
            .iter_mut()
            .zip(best_at.iter_mut())
            .zip(top.chunks_exact(2).zip(bottom.chunks_exact(2)))
            .enumerate()
        {
            let (mut v, mut k) = (t[0], 0);
            if t[1] > v {
                (v, k) = (t[1], 1);
            }
            if u[0] > v {
                (v, k) = (u[0], ow);
            }
            if u[1] > v {
                (v, k) = (u[1], ow + 1);
            }
            if v > 0.0 {
                *o = v;
                *b = (at + 2 * j + k) as u32;
            }
        }
    }
}

/// Marks a window whose maximum was not positive: the ReLU passes no gradient.
const DEAD: u32 = u32::MAX;

/// Forward: `(x, w, b)` → `[N, O, H'/2, W'/2]`, keeping each window's arg-max.
struct ConvReluPool {
    /// Per output value, the index in `y [O, N, H', W']` of its window's largest value, or
    /// [`DEAD`]; written by the forward pass, read by the backward pass.
    argmax: Mutex<Vec<u32>>,
}

/// Backward: `(x, w, g [N, O, PH, PW])` → one vector holding `[dw | db]` (`[O, C·k·k + 1]`,
/// the bias gradient as the last column) followed, when `input` is set, by `dx [N, C, H, W]`.
struct ConvReluPoolGrad<'a> {
    argmax: &'a [u32],
    input: bool,
}

impl CustomOp3 for ConvReluPool {
    fn name(&self) -> &'static str {
        "conv2d-relu-max-pool"
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
        let mut y = Scratch::new(o * d.np());
        if y.len() >= DEAD as usize {
            bail!("conv: {} outputs are too many for one batch", y.len());
        }
        matmul(
            &mut y,
            Mat::new(&wb, o, ckk + 1),
            Mat::new(&cols, ckk + 1, d.np()),
            false,
        )?;
        let (oh, ow) = (d.oh(), d.ow());
        let (ph, pw) = (oh / 2, ow / 2);
        let mut out = vec![0f32; d.n * o * ph * pw];
        let mut best_at = vec![DEAD; out.len()];
        if !out.is_empty() {
            // Output plane (n, o) pools plane (o, n) of y; planes go to the threads a few
            // dozen at a time (one plane of the second layer is 25 values, less than a task's
            // own cost).
            let planes = (PLANE_VALUES / (ph * pw).max(1)).max(1);
            out.par_chunks_mut(planes * ph * pw)
                .zip(best_at.par_chunks_mut(planes * ph * pw))
                .enumerate()
                .for_each(|(task, (out, best_at))| {
                    let mine = out
                        .chunks_exact_mut(ph * pw)
                        .zip(best_at.chunks_exact_mut(ph * pw));
                    for (p, (out, best_at)) in mine.enumerate() {
                        let plane = task * planes + p;
                        let (n, ch) = (plane / o, plane % o);
                        let base = (ch * d.n + n) * oh * ow;
                        pool_plane(&y[base..base + oh * ow], base, ow, out, best_at);
                    }
                });
        }
        *self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv: arg-max poisoned".into()))? = best_at;
        Ok((CpuStorage::F32(out), Shape::from((d.n, o, ph, pw))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (o, c, k, _) = w.dims4()?;
        let argmax = self
            .argmax
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv: arg-max poisoned".into()))?;
        let op = ConvReluPoolGrad {
            argmax: &argmax,
            input: x.track_op(),
        };
        let grads = x
            .contiguous()?
            .apply_op3_no_bwd(&w.contiguous()?, &grad.contiguous()?, &op)?;
        let params = o * (c * k * k + 1);
        let wb = grads.narrow(0, 0, params)?.reshape((o, c * k * k + 1))?;
        let dw = wb.narrow(1, 0, c * k * k)?.reshape(w.shape())?;
        let db = wb.narrow(1, c * k * k, 1)?.reshape(o)?;
        let dx = if op.input {
            Some(
                grads
                    .narrow(0, params, x.elem_count())?
                    .reshape(x.shape())?,
            )
        } else {
            None
        };
        Ok((dx, Some(dw), Some(db)))
    }
}

impl CustomOp3 for ConvReluPoolGrad<'_> {
    fn name(&self) -> &'static str {
        "conv2d-relu-max-pool-grad"
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
        let (o, c, k, _) = l2.shape().dims4()?;
        let d = dims(l1, c, k)?;
        let (x, w) = (values("conv", s1, l1)?, values("conv", s2, l2)?);
        let g = values("conv", s3, l3)?;
        if l3.shape().dims() != [d.n, o, d.oh() / 2, d.ow() / 2] || g.len() != self.argmax.len() {
            bail!("conv gradient: {:?} for {o} filters on {d:?}", l3.shape());
        }
        // The pooled gradient back at the arg-maxes: dy [O, N·H'·W'].
        let mut dy = Scratch::new(o * d.np());
        dy.fill(0.0);
        for (g, &at) in g.iter().zip(self.argmax) {
            if at != DEAD {
                dy[at as usize] = *g;
            }
        }
        let params = o * (d.ckk() + 1);
        let input = if self.input { d.n * d.c * d.h * d.w } else { 0 };
        let mut out = vec![0f32; params + input];
        let (wb, dx) = out.split_at_mut(params);
        {
            let cols = im2col(x, d);
            matmul(
                wb,
                Mat::new(&dy, o, d.np()),
                Mat::transposed(&cols, d.ckk() + 1, d.np()),
                false,
            )?;
        }
        if self.input {
            let mut dcols = Scratch::new(d.ckk() * d.np());
            matmul(
                &mut dcols,
                Mat::transposed(w, o, d.ckk()),
                Mat::new(&dy, o, d.np()),
                false,
            )?;
            col2im(&dcols, d, dx);
        }
        let len = out.len();
        Ok((CpuStorage::F32(out), Shape::from(len)))
    }
}

/// Convolution of `x [N, C, H, W]` with `w [O, C, k, k]` and bias `b [O]` (no padding,
/// stride 1), ReLU, 2×2 max-pool: `[N, O, (H−k+1)/2, (W−k+1)/2]`, on the CPU in f32.
pub fn conv_relu_pool(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        ConvReluPool {
            argmax: Mutex::new(Vec::new()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::tests::{max_diff, random};
    use candle_core::{Device, Var};

    /// candle's convolution, ReLU, and the max-pool whose gradient is checked against its
    /// definition in `ops` (candle's own is wrong, see there).
    fn reference(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        let o = w.dims4().unwrap().0;
        let y = x
            .conv2d(w, 0, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, o, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        crate::model::ops::max_pool2(&y).unwrap()
    }

    #[test]
    fn values_and_gradients_match_candle_conv2d_relu_pool() {
        for (x_shape, w_shape) in [
            ([3, 4, 9, 8], [5, 4, 3, 3]),
            ([2, 1, 13, 13], [6, 1, 3, 3]),
            ([2, 3, 6, 6], [4, 3, 1, 1]),
        ] {
            let x = Var::from_tensor(&random(&x_shape, 1)).unwrap();
            let w = Var::from_tensor(&random(&w_shape, 2)).unwrap();
            let b = Var::from_tensor(&random(&w_shape[..1], 3)).unwrap();
            let ours = conv_relu_pool(&x, &w, &b).unwrap();
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
        let grads = conv_relu_pool(&x, &w, &b)
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
        assert!(conv_relu_pool(&x, &w, &b).is_err());
    }
}

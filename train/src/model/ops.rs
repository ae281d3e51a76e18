//! Convolution and max-pooling written as compositions of candle ops, so that their
//! backward passes are matrix products and masks rather than candle's direct CPU loops
//! (`conv_transpose2d` for conv2d's input gradient, upsample + compare for max-pool).
//!
//! Shapes: inputs `[N, C, H, W]`; weights `[O, C/groups, k, k]` as candle-nn and PyTorch store
//! them, so checkpoints and exports are unchanged.

use candle_core::{Result, Tensor};

/// `[N, C, H, W]` → `[N, C, k·k, (H−k+1)·(W−k+1)]`: the k×k neighbourhood of each output
/// position of a valid convolution (im2col), built from k·k shifted views.
fn patches(xs: &Tensor, k: usize) -> Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    let (oh, ow) = (h + 1 - k, w + 1 - k);
    let mut shifted = Vec::with_capacity(k * k);
    for dy in 0..k {
        for dx in 0..k {
            shifted.push(xs.narrow(2, dy, oh)?.narrow(3, dx, ow)?);
        }
    }
    Tensor::stack(&shifted, 2)?.reshape((n, c, k * k, oh * ow))
}

/// Adds `padding` zero pixels on every side of `[N, C, H, W]`.
fn pad(xs: &Tensor, padding: usize) -> Result<Tensor> {
    if padding == 0 {
        return Ok(xs.clone());
    }
    xs.pad_with_zeros(2, padding, padding)?
        .pad_with_zeros(3, padding, padding)
}

/// Dense k×k convolution, stride 1: `[N, C, H, W]` → `[N, O, H', W']` with weight
/// `[O, C, k, k]` and bias `[O]`, as one matrix product over im2col patches.
pub fn conv2d(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: usize,
) -> Result<Tensor> {
    let (o, c, k, _) = weight.dims4()?;
    let xs = pad(xs, padding)?;
    let (n, _, h, w) = xs.dims4()?;
    let (oh, ow) = (h + 1 - k, w + 1 - k);
    let cols = if k == 1 {
        xs.reshape((n, c, oh * ow))?
    } else {
        patches(&xs, k)?.reshape((n, c * k * k, oh * ow))?
    };
    let ys = weight.reshape((o, c * k * k))?.broadcast_matmul(&cols)?;
    let ys = match bias {
        Some(b) => ys.broadcast_add(&b.reshape((1, o, 1))?)?,
        None => ys,
    };
    ys.reshape((n, o, oh, ow))
}

/// Depthwise k×k convolution, stride 1: each of the C channels has its own filter,
/// weight `[C, 1, k, k]`, bias `[C]`.
pub fn depthwise2d(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    padding: usize,
) -> Result<Tensor> {
    let (c, _, k, _) = weight.dims4()?;
    let xs = pad(xs, padding)?;
    let (n, _, h, w) = xs.dims4()?;
    let (oh, ow) = (h + 1 - k, w + 1 - k);
    let cols = patches(&xs, k)?;
    let ys = cols
        .broadcast_mul(&weight.reshape((1, c, k * k, 1))?)?
        .sum(2)?;
    let ys = match bias {
        Some(b) => ys.broadcast_add(&b.reshape((1, c, 1))?)?,
        None => ys,
    };
    ys.reshape((n, c, oh, ow))
}

/// 2×2 max-pool, stride 2, dropping an odd last row or column as candle and PyTorch do: a
/// custom op on the CPU (model/pool.rs), a reshape and two max reductions elsewhere.
pub fn max_pool2(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && xs.dtype() == candle_core::DType::F32 {
        return super::pool::max_pool2_cpu(xs);
    }
    max_pool2_reshaped(xs)
}

/// 2×2 max-pool from a reshape and two max reductions, for devices without the custom op.
pub fn max_pool2_reshaped(xs: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = xs.dims4()?;
    let (ph, pw) = (h / 2, w / 2);
    let xs = if h % 2 == 1 || w % 2 == 1 {
        xs.narrow(2, 0, 2 * ph)?
            .narrow(3, 0, 2 * pw)?
            .contiguous()?
    } else {
        xs.clone()
    };
    xs.reshape((n, c, ph, 2, pw, 2))?.max(5)?.max(3)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use candle_nn::Conv2dConfig;

    const TOL: f32 = 1e-4;

    /// A tensor of `shape` uniform in [-1, 1) drawn from `seed`.
    pub(crate) fn random(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// Largest absolute difference of two tensors of the same shape.
    pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Compares values and the gradients of input, weight and bias of `ours` and `theirs`,
    /// both applied to the same variables, through a random linear loss.
    fn check(
        x_shape: &[usize],
        w_shape: &[usize],
        ours: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>,
        theirs: impl Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor>,
    ) {
        let x = Var::from_tensor(&random(x_shape, 1)).unwrap();
        let w = Var::from_tensor(&random(w_shape, 2)).unwrap();
        let b = Var::from_tensor(&random(&w_shape[..1], 3)).unwrap();
        let a = ours(&x, &w, &b).unwrap();
        let t = theirs(&x, &w, &b).unwrap();
        assert!(
            max_diff(&a, &t) < TOL,
            "values differ by {}",
            max_diff(&a, &t)
        );
        let probe = random(a.dims(), 4);
        let ga = (&a * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gt = (&t * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (name, v) in [("input", &x), ("weight", &w), ("bias", &b)] {
            match (ga.get(v), gt.get(v)) {
                (Some(g1), Some(g2)) => {
                    let d = max_diff(g1, g2);
                    assert!(d < TOL, "{name} gradients differ by {d}");
                }
                (g1, g2) => panic!(
                    "the {name} has no gradient on {}",
                    match (g1, g2) {
                        (None, None) => "either side",
                        (None, _) => "our side",
                        _ => "candle's side",
                    }
                ),
            }
        }
    }

    #[test]
    fn conv2d_matches_candle_values_and_gradients() {
        for padding in [0, 1] {
            check(
                &[3, 4, 9, 8],
                &[5, 4, 3, 3],
                |x, w, b| conv2d(x, w, Some(b), padding),
                |x, w, b| {
                    let cfg = Conv2dConfig {
                        padding,
                        ..Default::default()
                    };
                    x.conv2d(w, cfg.padding, 1, 1, 1)?
                        .broadcast_add(&b.reshape((1, 5, 1, 1))?)
                },
            );
        }
    }

    #[test]
    fn pointwise_conv_matches_candle() {
        check(
            &[2, 6, 5, 5],
            &[7, 6, 1, 1],
            |x, w, b| conv2d(x, w, Some(b), 0),
            |x, w, b| {
                x.conv2d(w, 0, 1, 1, 1)?
                    .broadcast_add(&b.reshape((1, 7, 1, 1))?)
            },
        );
    }

    #[test]
    fn depthwise_matches_candle_grouped_conv() {
        for padding in [0, 1] {
            check(
                &[2, 6, 7, 7],
                &[6, 1, 3, 3],
                |x, w, b| depthwise2d(x, w, Some(b), padding),
                |x, w, b| {
                    x.conv2d(w, padding, 1, 1, 6)?
                        .broadcast_add(&b.reshape((1, 6, 1, 1))?)
                },
            );
        }
    }

    /// Gradient of `sum(max_pool2(x) * probe)` by definition: each window's probe value goes
    /// to the window's largest pixel.
    fn pool_gradient_by_definition(x: &Tensor, probe: &Tensor) -> Tensor {
        let (n, c, h, w) = x.dims4().unwrap();
        let xv = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let pv = probe.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut g = vec![0f32; xv.len()];
        let (ph, pw) = (h / 2, w / 2);
        for b in 0..n * c {
            for i in 0..ph {
                for j in 0..pw {
                    let at = |y: usize, x: usize| b * h * w + y * w + x;
                    let best = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .into_iter()
                        .map(|(dy, dx)| at(2 * i + dy, 2 * j + dx))
                        .max_by(|&a, &b| xv[a].total_cmp(&xv[b]))
                        .unwrap();
                    g[best] += pv[b * ph * pw + i * pw + j];
                }
            }
        }
        Tensor::from_vec(g, (n, c, h, w), &Device::Cpu).unwrap()
    }

    #[test]
    fn max_pool_values_match_candle_and_gradients_match_the_definition() {
        for (side, pool) in [
            (11, max_pool2 as fn(&Tensor) -> Result<Tensor>),
            (26, max_pool2),
            (11, max_pool2_reshaped),
            (26, max_pool2_reshaped),
        ] {
            let x = Var::from_tensor(&random(&[2, 3, side, side], 1)).unwrap();
            let ours = pool(&x).unwrap();
            assert!(max_diff(&ours, &x.max_pool2d(2).unwrap()) < TOL);
            let probe = random(ours.dims(), 2);
            let grads = (&ours * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let d = max_diff(
                grads.get(&x).unwrap(),
                &pool_gradient_by_definition(&x, &probe),
            );
            assert!(
                d < TOL,
                "side {side}: gradient differs from the definition by {d}"
            );
        }
    }

    /// candle 0.11.1's `max_pool2d` backward multiplies the upsampled gradient by the mean of
    /// the arg-max mask (1/4 for a single maximum) instead of dividing by the number of maxima,
    /// and on odd sides its nearest-neighbour upsampling misaligns with the windows. This is why
    /// the models pool with [`max_pool2`]. The test fails once candle is fixed: then revisit.
    #[test]
    fn candle_max_pool_gradient_is_a_quarter_of_the_definition() {
        let x = Var::from_tensor(&random(&[1, 2, 8, 8], 5)).unwrap();
        let probe = random(&[1, 2, 4, 4], 6);
        let candle = (x.max_pool2d(2).unwrap() * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let expected = (pool_gradient_by_definition(&x, &probe) * 0.25).unwrap();
        assert!(max_diff(candle.get(&x).unwrap(), &expected) < TOL);
    }
}

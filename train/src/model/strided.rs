//! The strided CNN: no pooling, two stride-2 convolutions, the form tract runs fastest
//! (max-pools were 40% of the seed's tract time).
//!
//! `[N,1,28,28]` → conv 3×3 stride 2 1→16, ReLU → `[N,16,13,13]` → conv 3×3 stride 2 16→32,
//! ReLU → `[N,32,6,6]` → flatten `[N,1152]` → fc 1152→64, ReLU → fc 64→10 `[N,10]`.

use candle_core::{Module, Result, Tensor};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// Channel and unit counts of the strided CNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StridedConfig {
    /// Filters of the first convolution.
    pub conv1: usize,
    /// Filters of the second convolution.
    pub conv2: usize,
    /// Units of the hidden fully connected layer.
    pub hidden: usize,
}

impl Default for StridedConfig {
    fn default() -> Self {
        Self {
            conv1: 16,
            conv2: 32,
            hidden: 64,
        }
    }
}

/// The strided CNN; variable names as the seed's.
#[derive(Clone, Debug)]
pub struct Strided {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl Strided {
    /// Builds the network, creating or loading its variables through `vb`.
    pub fn new(cfg: &StridedConfig, vb: VarBuilder) -> Result<Self> {
        let conv = Conv2dConfig {
            stride: 2,
            ..Default::default()
        };
        Ok(Self {
            conv1: conv2d(1, cfg.conv1, 3, conv, vb.pp("conv1"))?,
            conv2: conv2d(cfg.conv1, cfg.conv2, 3, conv, vb.pp("conv2"))?,
            fc1: linear(cfg.conv2 * 36, cfg.hidden, vb.pp("fc1"))?,
            fc2: linear(cfg.hidden, 10, vb.pp("fc2"))?,
        })
    }
}

impl Module for Strided {
    /// candle-nn's layers throughout (no pooling, so none of candle's max-pool gradient).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.conv1.forward(xs)?.relu()?;
        let xs = self.conv2.forward(&xs)?.relu()?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::tests::{max_diff, random};
    use candle_core::Var;

    /// A stride-2 convolution by definition: the stride-1 one at every other position.
    fn every_other(x: &Tensor, w: &Tensor) -> Tensor {
        let y = x.conv2d(w, 0, 1, 1, 1).unwrap();
        let (n, o, h, _) = y.dims4().unwrap();
        let keep = h.div_ceil(2);
        let y = y.pad_with_zeros(2, 0, 2 * keep - h).unwrap();
        let y = y.pad_with_zeros(3, 0, 2 * keep - h).unwrap();
        y.reshape((n, o, keep, 2, keep, 2))
            .unwrap()
            .narrow(3, 0, 1)
            .unwrap()
            .narrow(5, 0, 1)
            .unwrap()
            .reshape((n, o, keep, keep))
            .unwrap()
    }

    /// candle's stride-2 convolution gradients equal the definition's (candle's max-pool
    /// gradient was wrong, so its strided convolution is checked too).
    #[test]
    fn candle_stride_two_convolution_values_and_gradients_are_right() {
        for side in [28, 13] {
            let x = Var::from_tensor(&random(&[2, 3, side, side], 1)).unwrap();
            let w = Var::from_tensor(&random(&[4, 3, 3, 3], 2)).unwrap();
            let ours = x.conv2d(&w, 0, 2, 1, 1).unwrap();
            let theirs = every_other(&x, &w);
            assert!(max_diff(&ours, &theirs) < 1e-4, "side {side}: values");
            let probe = random(ours.dims(), 3);
            let loss = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap();
            let (g1, g2) = (
                loss(&ours).backward().unwrap(),
                loss(&theirs).backward().unwrap(),
            );
            for v in [&x, &w] {
                let d = max_diff(g1.get(v).unwrap(), g2.get(v).unwrap());
                assert!(d < 1e-4, "side {side}: gradients differ by {d}");
            }
        }
    }
}

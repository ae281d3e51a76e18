//! The seed CNN.
//!
//! `[N,1,28,28]` → conv 3×3 1→32, ReLU, max-pool 2 → `[N,32,13,13]` → conv 3×3 32→64, ReLU,
//! max-pool 2 → `[N,64,5,5]` → flatten `[N,1600]` → fc 1600→128, ReLU → fc 128→10 `[N,10]`.

use candle_core::{Module, Result, Tensor};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::conv_relu_pool::conv_relu_pool;
use super::ops::max_pool2;

/// Channel and unit counts of the seed CNN; smaller counts give pruned or slimmer variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedConfig {
    /// Filters of the first convolution.
    pub conv1: usize,
    /// Filters of the second convolution.
    pub conv2: usize,
    /// Units of the hidden fully connected layer.
    pub hidden: usize,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self {
            conv1: 32,
            conv2: 64,
            hidden: 128,
        }
    }
}

/// The seed CNN; variable names follow PyTorch's (`conv1.weight`, `fc2.bias`, …).
#[derive(Clone, Debug)]
pub struct Seed {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl Seed {
    /// Builds the network, creating or loading its variables through `vb`.
    pub fn new(cfg: &SeedConfig, vb: VarBuilder) -> Result<Self> {
        let conv = Conv2dConfig::default();
        Ok(Self {
            conv1: conv2d(1, cfg.conv1, 3, conv, vb.pp("conv1"))?,
            conv2: conv2d(cfg.conv1, cfg.conv2, 3, conv, vb.pp("conv2"))?,
            fc1: linear(cfg.conv2 * 25, cfg.hidden, vb.pp("fc1"))?,
            fc2: linear(cfg.hidden, 10, vb.pp("fc2"))?,
        })
    }
}

impl Seed {
    /// The same network through candle-nn's own layers (`Conv2d::forward`, `max_pool2d`): the
    /// plain-candle reference for tests and benchmarks. Its max-pool gradients are candle's
    /// (see [`super::ops`]).
    pub fn forward_candle(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.conv1.forward(xs)?.relu()?.max_pool2d(2)?;
        let xs = self.conv2.forward(&xs)?.relu()?.max_pool2d(2)?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

impl Seed {
    /// The CPU path: convolution, ReLU and max-pool as one custom op per layer, each
    /// convolution one matrix product over the batch (see [`super::conv_relu_pool`]).
    fn forward_cpu(
        &self,
        xs: &Tensor,
        w1: &Tensor,
        b1: &Tensor,
        w2: &Tensor,
        b2: &Tensor,
    ) -> Result<Tensor> {
        let xs = conv_relu_pool(xs, w1, b1)?;
        let xs = conv_relu_pool(&xs, w2, b2)?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

impl Module for Seed {
    /// On the CPU in f32 the custom-op path; elsewhere candle-nn's convolutions with our
    /// max-pool, whose gradient is right (see [`super::ops`]).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if xs.device().is_cpu() && xs.dtype() == candle_core::DType::F32 {
            if let (Some(b1), Some(b2)) = (self.conv1.bias(), self.conv2.bias()) {
                return self.forward_cpu(xs, self.conv1.weight(), b1, self.conv2.weight(), b2);
            }
        }
        self.forward_composed(xs)
    }
}

impl Seed {
    /// candle-nn's convolutions with our max-pool: the path of other devices, and the
    /// reference the CPU path's values and gradients are tested against.
    pub fn forward_composed(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = max_pool2(&self.conv1.forward(xs)?.relu()?)?;
        let xs = max_pool2(&self.conv2.forward(&xs)?.relu()?)?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ops::tests::{max_diff, random};
    use crate::model::{ArchConfig, Model};
    use candle_core::Device;

    /// The regression test of issue 6: the custom-op CPU path trains the same network.
    #[test]
    fn issue6_cpu_path_gives_the_composed_paths_loss_gradients() {
        let config = ArchConfig::Seed(SeedConfig::default());
        let (Model::Seed(seed), varmap) = Model::fresh(&config, 3, &Device::Cpu).unwrap() else {
            unreachable!()
        };
        let xs = random(&[5, 1, 28, 28], 9);
        let labels = Tensor::new(&[3u32, 1, 4, 1, 5], &Device::Cpu).unwrap();
        let loss = |logits: Tensor| candle_nn::loss::cross_entropy(&logits, &labels).unwrap();
        let ours = loss(seed.forward(&xs).unwrap());
        let theirs = loss(seed.forward_composed(&xs).unwrap());
        let d = max_diff(&ours, &theirs);
        assert!(d < 1e-5, "losses differ by {d}");
        let (g1, g2) = (ours.backward().unwrap(), theirs.backward().unwrap());
        for (name, var) in varmap.data().lock().unwrap().iter() {
            let (a, b) = (g1.get(var).unwrap(), g2.get(var).unwrap());
            let d = max_diff(a, b);
            assert!(d < 1e-4, "{name}: gradients differ by {d}");
            assert!(
                max_diff(a, &a.zeros_like().unwrap()) > 0.0,
                "{name}: no gradient"
            );
        }
    }
}

//! The lightweight CNN for small boards, built from depthwise-separable convolutions in the
//! MobileNet spirit.
//!
//! `[N,1,28,28]` → conv 3×3 1→16, ReLU, max-pool 2 → `[N,16,13,13]` → depthwise 3×3, ReLU,
//! pointwise 16→48, ReLU, max-pool 2 → `[N,48,5,5]` → depthwise 3×3 (padding 1), ReLU,
//! pointwise 48→64, ReLU → `[N,64,5,5]` → flatten → fc 1600→64, ReLU → fc 64→10 `[N,10]`.

use candle_core::{Module, Result, Tensor};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::conv;
use super::ops::{depthwise2d, max_pool2};

/// Channel and unit counts of the lightweight CNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LightConfig {
    /// Filters of the plain first convolution.
    pub stem: usize,
    /// Output channels of the first separable block.
    pub mid: usize,
    /// Output channels of the second separable block.
    pub out: usize,
    /// Units of the hidden fully connected layer.
    pub hidden: usize,
}

impl Default for LightConfig {
    fn default() -> Self {
        Self {
            stem: 16,
            mid: 48,
            out: 64,
            hidden: 64,
        }
    }
}

/// A depthwise 3×3 convolution followed by a pointwise 1×1 one, each with ReLU.
#[derive(Clone, Debug)]
struct Separable {
    dw: Conv2d,
    pw: Conv2d,
    padding: usize,
}

impl Separable {
    fn new(c_in: usize, c_out: usize, padding: usize, vb: VarBuilder) -> Result<Self> {
        let dw = Conv2dConfig {
            padding,
            groups: c_in,
            ..Default::default()
        };
        Ok(Self {
            dw: conv2d(c_in, c_in, 3, dw, vb.pp("dw"))?,
            pw: conv2d(c_in, c_out, 1, Conv2dConfig::default(), vb.pp("pw"))?,
            padding,
        })
    }
}

impl Module for Separable {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = depthwise2d(xs, self.dw.weight(), self.dw.bias(), self.padding)?.relu()?;
        conv(&self.pw, &xs, 0)?.relu()
    }
}

/// The lightweight CNN.
#[derive(Clone, Debug)]
pub struct Light {
    stem: Conv2d,
    block1: Separable,
    block2: Separable,
    fc1: Linear,
    fc2: Linear,
}

impl Light {
    /// Builds the network, creating or loading its variables through `vb`.
    pub fn new(cfg: &LightConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            stem: conv2d(1, cfg.stem, 3, Conv2dConfig::default(), vb.pp("stem"))?,
            block1: Separable::new(cfg.stem, cfg.mid, 0, vb.pp("block1"))?,
            block2: Separable::new(cfg.mid, cfg.out, 1, vb.pp("block2"))?,
            fc1: linear(cfg.out * 25, cfg.hidden, vb.pp("fc1"))?,
            fc2: linear(cfg.hidden, 10, vb.pp("fc2"))?,
        })
    }
}

impl Light {
    /// The same network through candle-nn's own layers: the plain-candle reference.
    pub fn forward_candle(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.stem.forward(xs)?.relu()?.max_pool2d(2)?;
        let b1 = &self.block1;
        let xs = b1
            .pw
            .forward(&b1.dw.forward(&xs)?.relu()?)?
            .relu()?
            .max_pool2d(2)?;
        let b2 = &self.block2;
        let xs = b2.pw.forward(&b2.dw.forward(&xs)?.relu()?)?.relu()?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

impl Module for Light {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = max_pool2(&conv(&self.stem, xs, 0)?.relu()?)?;
        let xs = max_pool2(&self.block1.forward(&xs)?)?;
        let xs = self.block2.forward(&xs)?;
        let xs = self.fc1.forward(&xs.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&xs)
    }
}

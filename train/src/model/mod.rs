//! Digit classifiers: each maps `[N, 1, 28, 28]` normalised images to `[N, 10]` logits.

mod conv_relu_pool;
mod cost;
mod cpu;
mod gemm;
mod graph;
mod init;
mod light;
pub mod ops;
mod pool;
mod seed;
mod strided;

pub use cost::{Cost, Layer};
pub(crate) use cpu::{values as cpu_values, values_mut as cpu_values_mut};
pub use graph::{shapes, Shape, Step};
pub use init::init_uniform;
pub use light::{Light, LightConfig};
pub use seed::{Seed, SeedConfig};
pub use strided::{Strided, StridedConfig};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

/// Applies a candle-nn convolution layer's weights through [`ops::conv2d`].
fn conv(layer: &candle_nn::Conv2d, xs: &Tensor, padding: usize) -> candle_core::Result<Tensor> {
    ops::conv2d(xs, layer.weight(), layer.bias(), padding)
}

/// The architectures `train --arch` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// The seed CNN (conv 32, conv 64, fc 128).
    Seed,
    /// The depthwise-separable network for small boards.
    Light,
    /// Two stride-2 convolutions and no pooling: the fastest form under tract.
    Strided,
}

impl Arch {
    /// The default configuration of this architecture.
    pub fn config(self) -> ArchConfig {
        match self {
            Arch::Seed => ArchConfig::Seed(SeedConfig::default()),
            Arch::Light => ArchConfig::Light(LightConfig::default()),
            Arch::Strided => ArchConfig::Strided(StridedConfig::default()),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Seed => "seed",
            Arch::Light => "light",
            Arch::Strided => "strided",
        })
    }
}

/// An architecture with its sizes; stored in every checkpoint so it rebuilds itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum ArchConfig {
    /// The seed CNN or a slimmer copy of it.
    Seed(SeedConfig),
    /// The lightweight CNN.
    Light(LightConfig),
    /// The strided CNN.
    Strided(StridedConfig),
}

impl ArchConfig {
    /// Which architecture this is.
    pub fn arch(&self) -> Arch {
        match self {
            ArchConfig::Seed(_) => Arch::Seed,
            ArchConfig::Light(_) => Arch::Light,
            ArchConfig::Strided(_) => Arch::Strided,
        }
    }

    /// Its channel and unit counts.
    pub fn counts(&self) -> Vec<usize> {
        match *self {
            ArchConfig::Seed(c) => vec![c.conv1, c.conv2, c.hidden],
            ArchConfig::Light(c) => vec![c.stem, c.mid, c.out, c.hidden],
            ArchConfig::Strided(c) => vec![c.conv1, c.conv2, c.hidden],
        }
    }

    /// This architecture with its channel and unit counts (in the order of
    /// [`ArchConfig::counts`]) set to `counts`; `None` when there are not as many.
    pub fn with_counts(&self, counts: &[usize]) -> Option<ArchConfig> {
        Some(match (*self, counts) {
            (ArchConfig::Seed(_), &[conv1, conv2, hidden]) => ArchConfig::Seed(SeedConfig {
                conv1,
                conv2,
                hidden,
            }),
            (ArchConfig::Light(_), &[stem, mid, out, hidden]) => ArchConfig::Light(LightConfig {
                stem,
                mid,
                out,
                hidden,
            }),
            (ArchConfig::Strided(_), &[conv1, conv2, hidden]) => {
                ArchConfig::Strided(StridedConfig {
                    conv1,
                    conv2,
                    hidden,
                })
            }
            _ => return None,
        })
    }

    /// This architecture with every channel and unit count multiplied by `factor` (at least
    /// one each): a wider network to train and then prune back, or a slimmer one.
    pub fn widened(&self, factor: f32) -> ArchConfig {
        let w = |n: usize| ((n as f32 * factor).round() as usize).max(1);
        let counts: Vec<usize> = self.counts().into_iter().map(w).collect();
        self.with_counts(&counts).unwrap_or(*self)
    }

    /// Weight initialisation gain (see [`init_uniform`]): PyTorch's default for the shallow
    /// seed CNN, He's for the deeper light one.
    pub fn init_gain(&self) -> f32 {
        match self {
            ArchConfig::Seed(_) | ArchConfig::Strided(_) => 1.0,
            ArchConfig::Light(_) => 6f32.sqrt(),
        }
    }
}

/// A built network of any architecture.
#[derive(Clone, Debug)]
pub enum Model {
    /// See [`Seed`].
    Seed(Seed),
    /// See [`Light`].
    Light(Light),
    /// See [`Strided`].
    Strided(Strided),
}

impl Model {
    /// Builds the network for `config`, creating or loading its variables through `vb`.
    pub fn new(config: &ArchConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(match config {
            ArchConfig::Seed(c) => Model::Seed(Seed::new(c, vb)?),
            ArchConfig::Light(c) => Model::Light(Light::new(c, vb)?),
            ArchConfig::Strided(c) => Model::Strided(Strided::new(c, vb)?),
        })
    }

    /// Builds the network with fresh trainable variables in a new [`VarMap`], initialised from
    /// `seed` so that runs repeat exactly.
    pub fn fresh(
        config: &ArchConfig,
        seed: u64,
        device: &Device,
    ) -> candle_core::Result<(Self, VarMap)> {
        let varmap = VarMap::new();
        let model = Model::new(config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        init_uniform(&varmap, seed, config.init_gain())?;
        Ok((model, varmap))
    }
}

impl Model {
    /// The forward pass through candle-nn's own layers, as a plain candle program would
    /// write it: the reference our layers are tested and benchmarked against.
    pub fn forward_candle(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Model::Seed(m) => m.forward_candle(xs),
            Model::Light(m) => m.forward_candle(xs),
            Model::Strided(m) => m.forward(xs),
        }
    }
}

impl Module for Model {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Model::Seed(m) => m.forward(xs),
            Model::Light(m) => m.forward(xs),
            Model::Strided(m) => m.forward(xs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(config: &ArchConfig) -> usize {
        let (_, varmap) = Model::fresh(config, 0, &Device::Cpu).unwrap();
        varmap.all_vars().iter().map(|v| v.elem_count()).sum()
    }

    #[test]
    fn seed_cost_matches_the_article() {
        let config = Arch::Seed.config();
        let cost = config.cost();
        assert_eq!(cost.macs, 2_631_040);
        assert_eq!(cost.params, 225_034);
        assert_eq!(counted(&config), cost.params);
    }

    #[test]
    fn light_costs_at_most_a_quarter_of_the_seed() {
        let config = Arch::Light.config();
        let cost = config.cost();
        assert_eq!(counted(&config), cost.params);
        assert!(cost.macs * 4 <= 2_631_040, "{} MACs", cost.macs);
    }

    #[test]
    fn both_architectures_map_images_to_ten_logits() {
        for arch in [Arch::Seed, Arch::Light, Arch::Strided] {
            let (model, _) = Model::fresh(&arch.config(), 1, &Device::Cpu).unwrap();
            let xs = Tensor::zeros((3, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
            assert_eq!(model.forward(&xs).unwrap().dims(), &[3, 10], "{arch}");
        }
    }

    #[test]
    fn our_layers_compute_what_candle_nn_layers_compute() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let v: Vec<f32> = (0..4 * 784).map(|_| rng.random_range(-0.5..2.8)).collect();
        let xs = Tensor::from_vec(v, (4, 1, 28, 28), &Device::Cpu).unwrap();
        for arch in [Arch::Seed, Arch::Light] {
            let (model, _) = Model::fresh(&arch.config(), 2, &Device::Cpu).unwrap();
            let ours = model.forward(&xs).unwrap();
            let theirs = model.forward_candle(&xs).unwrap();
            let d = ops::tests::max_diff(&ours, &theirs);
            assert!(d < 1e-4, "{arch}: logits differ by {d}");
        }
    }

    #[test]
    fn slimmer_seed_configs_build() {
        let config = ArchConfig::Seed(SeedConfig {
            conv1: 8,
            conv2: 16,
            hidden: 32,
        });
        assert_eq!(counted(&config), config.cost().params);
    }

    #[test]
    fn widened_configs_scale_every_count_and_build() {
        let wide = Arch::Strided.config().widened(2.0);
        assert_eq!(
            wide,
            ArchConfig::Strided(StridedConfig {
                conv1: 32,
                conv2: 64,
                hidden: 128,
            })
        );
        assert_eq!(counted(&wide), wide.cost().params);
        assert_eq!(Arch::Light.config().widened(1.0), Arch::Light.config());
    }
}

//! One description of each architecture: its layers in forward order as a small graph of
//! layer kinds (tract's way), from `[N, 1, 28, 28]` to `[N, 10]`. The cost, the pruning, the
//! fp32 export and the INT8 calibration and export all read it; the networks in this folder
//! are checked against it (their variables are the ones it names, of the shapes it gives).

use super::{ArchConfig, Cost, Layer};

/// Side of the square input image.
const INPUT_SIDE: usize = 28;
/// Classes of the last layer.
const CLASSES: usize = 10;

/// One layer of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Convolution with weights `NAME.weight` `[out, C/groups, kernel, kernel]` and bias
    /// `NAME.bias` `[out]`.
    Conv {
        /// Variable prefix.
        name: &'static str,
        /// Output channels.
        out: usize,
        /// Kernel side.
        kernel: usize,
        /// Zero padding on each side.
        pad: usize,
        /// Channel groups (the input's channels for a depthwise convolution).
        groups: usize,
        /// Stride in both directions.
        stride: usize,
    },
    /// Rectified linear unit.
    Relu,
    /// 2×2 max-pool, stride 2.
    Pool,
    /// `[N, C, H, W]` → `[N, C·H·W]`.
    Flatten,
    /// Fully connected layer with weight `NAME.weight` `[out, in]` and bias `NAME.bias`.
    Dense {
        /// Variable prefix.
        name: &'static str,
        /// Output units.
        out: usize,
    },
}

/// The shape of one image's values between two steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `[channels, side, side]`.
    Map {
        /// Channels.
        channels: usize,
        /// Height and width.
        side: usize,
    },
    /// `[units]`.
    Flat(usize),
}

impl Shape {
    /// Values per image.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Map { channels, side } => channels * side * side,
            Shape::Flat(n) => n,
        }
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A 3×3 convolution without padding.
const fn conv3(name: &'static str, out: usize, groups: usize, stride: usize, pad: usize) -> Step {
    Step::Conv {
        name,
        out,
        kernel: 3,
        pad,
        groups,
        stride,
    }
}

/// A 1×1 (pointwise) convolution.
const fn conv1(name: &'static str, out: usize) -> Step {
    Step::Conv {
        name,
        out,
        kernel: 1,
        pad: 0,
        groups: 1,
        stride: 1,
    }
}

impl ArchConfig {
    /// The layers of this network in forward order.
    pub fn steps(&self) -> Vec<Step> {
        use Step::{Dense, Flatten, Pool, Relu};
        let head = |hidden: usize| {
            [
                Flatten,
                Dense {
                    name: "fc1",
                    out: hidden,
                },
                Relu,
                Dense {
                    name: "fc2",
                    out: CLASSES,
                },
            ]
        };
        match *self {
            ArchConfig::Seed(c) => [
                vec![
                    conv3("conv1", c.conv1, 1, 1, 0),
                    Relu,
                    Pool,
                    conv3("conv2", c.conv2, 1, 1, 0),
                    Relu,
                    Pool,
                ],
                head(c.hidden).to_vec(),
            ]
            .concat(),
            ArchConfig::Light(c) => [
                vec![
                    conv3("stem", c.stem, 1, 1, 0),
                    Relu,
                    Pool,
                    conv3("block1.dw", c.stem, c.stem, 1, 0),
                    Relu,
                    conv1("block1.pw", c.mid),
                    Relu,
                    Pool,
                    conv3("block2.dw", c.mid, c.mid, 1, 1),
                    Relu,
                    conv1("block2.pw", c.out),
                    Relu,
                ],
                head(c.hidden).to_vec(),
            ]
            .concat(),
            ArchConfig::Strided(c) => [
                vec![
                    conv3("conv1", c.conv1, 1, 2, 0),
                    Relu,
                    conv3("conv2", c.conv2, 1, 2, 0),
                    Relu,
                ],
                head(c.hidden).to_vec(),
            ]
            .concat(),
        }
    }

    /// The shape after each of [`ArchConfig::steps`], the input `[1, 28, 28]` first.
    pub fn shapes(&self) -> Vec<Shape> {
        shapes(&self.steps())
    }

    /// Parameters and multiply-accumulates per image, layer by layer.
    pub fn cost(&self) -> Cost {
        let steps = self.steps();
        let shapes = shapes(&steps);
        let layers = steps
            .iter()
            .zip(shapes.windows(2))
            .filter_map(|(step, io)| match (*step, io[0], io[1]) {
                (
                    Step::Conv {
                        name,
                        out,
                        kernel,
                        groups,
                        ..
                    },
                    Shape::Map { channels, .. },
                    Shape::Map { side, .. },
                ) => Some(Layer::conv(name, channels, out, kernel, groups, side)),
                (Step::Dense { name, out }, input, _) => {
                    Some(Layer::linear(name, input.len(), out))
                }
                _ => None,
            })
            .collect();
        Cost::new(layers)
    }

    /// The variables the network holds, with their shapes, in forward order.
    pub fn variables(&self) -> Vec<(String, Vec<usize>)> {
        let steps = self.steps();
        let shapes = shapes(&steps);
        let mut out = Vec::new();
        for (step, input) in steps.iter().zip(&shapes) {
            match *step {
                Step::Conv {
                    name,
                    out: o,
                    kernel,
                    groups,
                    ..
                } => {
                    let c = match *input {
                        Shape::Map { channels, .. } => channels,
                        Shape::Flat(n) => n,
                    };
                    out.push((
                        format!("{name}.weight"),
                        vec![o, c / groups.max(1), kernel, kernel],
                    ));
                    out.push((format!("{name}.bias"), vec![o]));
                }
                Step::Dense { name, out: o } => {
                    out.push((format!("{name}.weight"), vec![o, input.len()]));
                    out.push((format!("{name}.bias"), vec![o]));
                }
                _ => {}
            }
        }
        out
    }
}

/// The shape after each step, the input `[1, 28, 28]` first.
pub fn shapes(steps: &[Step]) -> Vec<Shape> {
    let mut at = Shape::Map {
        channels: 1,
        side: INPUT_SIDE,
    };
    let mut out = vec![at];
    for step in steps {
        at = match (*step, at) {
            (
                Step::Conv {
                    out,
                    kernel,
                    pad,
                    stride,
                    ..
                },
                Shape::Map { side, .. },
            ) => Shape::Map {
                channels: out,
                side: (side + 2 * pad).saturating_sub(kernel) / stride.max(1) + 1,
            },
            (Step::Pool, Shape::Map { channels, side }) => Shape::Map {
                channels,
                side: side / 2,
            },
            (Step::Flatten, s) => Shape::Flat(s.len()),
            (Step::Dense { out, .. }, _) => Shape::Flat(out),
            (_, s) => s,
        };
        out.push(at);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, Model, SeedConfig};
    use candle_core::Device;

    fn configs() -> Vec<ArchConfig> {
        let mut all: Vec<ArchConfig> = [Arch::Seed, Arch::Light, Arch::Strided]
            .iter()
            .flat_map(|a| [a.config(), a.config().widened(2.0), a.config().widened(0.5)])
            .collect();
        all.push(ArchConfig::Seed(SeedConfig {
            conv1: 8,
            conv2: 16,
            hidden: 32,
        }));
        all
    }

    #[test]
    fn every_network_holds_the_variables_its_description_names() {
        for config in configs() {
            let (_, varmap) = Model::fresh(&config, 0, &Device::Cpu).unwrap();
            let data = varmap.data().lock().unwrap();
            let mut held: Vec<(String, Vec<usize>)> = data
                .iter()
                .map(|(k, v)| (k.clone(), v.dims().to_vec()))
                .collect();
            held.sort();
            let mut described = config.variables();
            described.sort();
            assert_eq!(held, described, "{config:?}");
        }
    }

    #[test]
    fn every_description_ends_in_ten_classes_and_costs_what_it_holds() {
        for config in configs() {
            assert_eq!(config.shapes().last(), Some(&Shape::Flat(CLASSES)));
            let held: usize = config
                .variables()
                .iter()
                .map(|(_, d)| d.iter().product::<usize>())
                .sum();
            assert_eq!(config.cost().params, held, "{config:?}");
        }
    }

    #[test]
    fn the_seed_is_the_articles_network() {
        let shapes = Arch::Seed.config().shapes();
        // conv 26×26×32, pool 13, conv 11×11×64, pool 5: fc1 reads 1,600 values.
        assert_eq!(
            shapes[6],
            Shape::Map {
                channels: 64,
                side: 5
            }
        );
        assert_eq!(shapes[7], Shape::Flat(1600));
        assert_eq!(Arch::Seed.config().cost().macs, 2_631_040);
    }
}

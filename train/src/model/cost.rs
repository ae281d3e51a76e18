//! Parameter and multiply-accumulate counts, computed from layer shapes.

use serde::Serialize;

/// Cost of one layer for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Variable prefix of the layer.
    pub name: &'static str,
    /// Weights and biases.
    pub params: usize,
    /// Multiply-accumulates per image.
    pub macs: usize,
}

impl Layer {
    /// A `k×k` convolution with `groups` groups producing `out_side²` positions.
    pub fn conv(
        name: &'static str,
        c_in: usize,
        c_out: usize,
        k: usize,
        groups: usize,
        out_side: usize,
    ) -> Self {
        let per_output = c_in / groups * k * k;
        Self {
            name,
            params: c_out * per_output + c_out,
            macs: out_side * out_side * c_out * per_output,
        }
    }

    /// A fully connected layer.
    pub fn linear(name: &'static str, n_in: usize, n_out: usize) -> Self {
        Self {
            name,
            params: n_in * n_out + n_out,
            macs: n_in * n_out,
        }
    }
}

/// Cost of a whole network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Layer by layer, in forward order.
    pub layers: Vec<Layer>,
    /// Total parameters.
    pub params: usize,
    /// Total multiply-accumulates per image.
    pub macs: usize,
}

impl Cost {
    /// Sums `layers`.
    pub fn new(layers: Vec<Layer>) -> Self {
        let params = layers.iter().map(|l| l.params).sum();
        let macs = layers.iter().map(|l| l.macs).sum();
        Self {
            layers,
            params,
            macs,
        }
    }
}

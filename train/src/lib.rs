//! Host side of mnist-edge: load MNIST, train the seed CNN and its lighter variants with
//! candle, checkpoint and resume, evaluate, plot and benchmark.
//!
//! Tensors follow candle's NCHW layout: a batch of digits is `[N, 1, 28, 28]` f32, already
//! normalised with [`mnist::MEAN`] and [`mnist::STD`]; a model returns logits `[N, 10]`.

pub mod atomic;
pub mod compress;
pub mod data;
pub mod error;
pub mod fit;
pub mod measure;
pub mod model;
pub mod onnx;
pub mod script;
pub mod ship;

pub use error::{Error, Result};

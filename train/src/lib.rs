//! Host side of mnist-edge, one folder per stage of the pipeline, each importing only from the
//! stages before it:
//!
//! - [`data`]: MNIST (fetch, check, batch, augment) and the camera-like scenes and pages;
//! - [`model`]: the architectures and their CPU kernels;
//! - [`measure`]: accuracy, per-epoch metrics, plots, statistics of repeated runs;
//! - [`fit`]: the training loop, its configuration, optimizers, schedules, checkpoints, and
//!   the training-step benchmark;
//! - [`onnx`]: fp32 export, verification under tract, latency;
//! - [`compress`]: structured pruning and INT8 quantization;
//! - [`ship`]: publishing into `models/` and the whole pipeline in one command;
//! - below them all: [`error`], [`atomic`] writes and [`progress`] of long work.
//!
//! Tensors follow candle's NCHW layout: a batch of digits is `[N, 1, 28, 28]` f32, already
//! normalised with [`data::mnist::MEAN`] and [`data::mnist::STD`]; a model returns logits
//! `[N, 10]`.

pub mod atomic;
pub mod compress;
pub mod data;
pub mod error;
pub mod fit;
pub mod measure;
pub mod model;
pub mod onnx;
pub mod progress;
pub mod script;
pub mod ship;

pub use error::{Error, Result};

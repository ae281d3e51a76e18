//! Device side of mnist-edge: runs a digit ONNX model with tract.
//!
//! The model file is self-describing: its `metadata_props` carry the [`contract::Contract`]
//! (input size, normalisation, polarity, labels) that `train export` writes, so a model and
//! its preprocessing cannot drift apart. Frame capture, digit finding and reporting (issue 4)
//! build on [`infer::Classifier`].

pub mod contract;
pub mod error;
pub mod infer;

pub use error::{Error, Result};

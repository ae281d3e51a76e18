//! Device side of mnist-edge: reads handwritten digits from camera frames, image files and
//! MJPEG streams with tract and imageproc.
//!
//! Stages, one module each: [`capture`] (frame sources) → [`locate`] (find the digits: ink,
//! rulings, components) → [`normalise`] (MNIST-style 28×28) → [`infer`] (tract, one batch per
//! frame) → [`segment`] (touching digits cut apart, pieces in a second batch) → [`report`]
//! (JSON lines, annotated pictures). [`read::Reader`] runs locate→infer on a frame;
//! [`evaluate`] scores readings of generated scenes and pages against their truth. The
//! model file is self-describing: its `metadata_props` carry the [`contract::Contract`]
//! (input size, normalisation, polarity, labels) that `train export` writes, so a model and
//! its preprocessing cannot drift apart.

pub mod agree;
pub mod bench;
pub mod capture;
pub mod contract;
pub mod error;
pub mod evaluate;
pub mod idx;
pub mod infer;
pub mod join;
pub mod locate;
pub mod machine;
pub mod models;
pub mod normalise;
pub mod out;
pub mod picture;
pub mod read;
pub mod report;
pub mod scene;
pub mod segment;
pub mod serve;

pub use error::{Error, Result};

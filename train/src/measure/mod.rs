//! What people read of a model and a run: accuracy and confusion, per-epoch metrics, plots
//! and pictures, and the statistics of repeated measurements.

pub mod evaluate;
pub mod metrics;
pub mod picture;
pub mod plot;
pub mod stats;

//! The training stage: what a run computes ([`config`]), the one loop for every architecture
//! ([`trainer`]), optimizers, learning-rate schedules, checkpoints to resume from, the device,
//! and the training-step benchmark.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod optim;
pub mod schedule;
pub mod trainer;

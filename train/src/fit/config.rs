//! What a training run computes: architecture, optimizer, schedule, augmentation, data
//! limits, fine-tuning and distillation. Stored in every checkpoint, so a resumed run is
//! checked against the run it continues.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::augment::AugmentConfig;
use crate::error::{Error, Result};
use crate::fit::optim::OptimizerConfig;
use crate::fit::schedule::Schedule;
use crate::model::{Arch, ArchConfig};

/// Everything that decides what a run computes; stored in its checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Architecture and sizes.
    pub arch: ArchConfig,
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per optimizer step (the effective batch).
    pub batch: usize,
    /// Micro-batches per step: gradients of `accumulate` micro-batches are summed.
    pub accumulate: usize,
    /// Optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Peak learning rate.
    pub lr: f64,
    /// How the learning rate moves over the run.
    pub schedule: Schedule,
    /// Seed of initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Random rotation and shift of training images; `None` trains on them as they are.
    pub augment: Option<AugmentConfig>,
    /// Train on only the first N training images (smoke runs, tests).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Evaluate on only the first N test images (smoke runs, tests).
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Start from the weights of this checkpoint (fine-tuning) instead of a fresh network.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// Folder of extra training digits (`train camera-digits`) added to MNIST's.
    #[serde(default)]
    pub extra: Option<PathBuf>,
    /// Learn from a teacher network's softened outputs as well as from the labels.
    #[serde(default)]
    pub distill: Option<Distill>,
    /// Also train on the marks that are not digits in `extra` (towards equal odds).
    #[serde(default)]
    pub not_digits: bool,
}

/// Knowledge distillation (Hinton et al. 2015): the loss is `(1 − weight) · CE(labels) +
/// weight · T² · CE(softmax(teacher / T), softmax(student / T))`, which lets a pruned network
/// recover what the larger one it came from knew, beyond the hard labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distill {
    /// Checkpoint of the teacher (any architecture).
    pub teacher: PathBuf,
    /// Share of the teacher's term in the loss, in [0, 1].
    pub weight: f64,
    /// Softening temperature T (> 0).
    pub temperature: f64,
    /// Learning without forgetting (Li & Hoiem 2016): MNIST's own images are distilled
    /// towards this network's outputs (the one being fine-tuned), only the extra digits towards
    /// `teacher`'s, so what the network already reads well stays its target.
    #[serde(default)]
    pub keep: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            arch: Arch::Seed.config(),
            epochs: 3,
            batch: 64,
            accumulate: 1,
            optimizer: OptimizerConfig::default(),
            lr: 2e-3,
            schedule: Schedule::Onecycle,
            seed: 42,
            augment: Some(AugmentConfig::default()),
            train_limit: None,
            test_limit: None,
            init: None,
            extra: None,
            distill: None,
            not_digits: false,
        }
    }
}

impl TrainConfig {
    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch == 0 || self.accumulate == 0 {
            return bad("--batch and --accumulate must be at least 1");
        }
        if self.accumulate > self.batch {
            return bad("--accumulate cannot exceed --batch (each micro-batch needs an image)");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("--lr must be a positive number");
        }
        if let Some(d) = &self.distill {
            if !(0.0..=1.0).contains(&d.weight) {
                return bad("--distill-weight must be in [0, 1]");
            }
            if !(d.temperature > 0.0 && d.temperature.is_finite()) {
                return bad("--temperature must be a positive number");
            }
        }
        Ok(())
    }
}

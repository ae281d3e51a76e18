//! Per-epoch training metrics, written as CSV and JSON after every epoch.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{Error, Result};

/// What one epoch achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean cross-entropy over the epoch's training batches.
    pub train_loss: f64,
    /// Fraction of training images classified right (on the fly, augmented).
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test images.
    pub test_loss: f64,
    /// Fraction of test images classified right.
    pub test_accuracy: f64,
    /// Training images per second (forward, backward, optimizer).
    pub images_per_s: f64,
    /// Wall-clock seconds of the epoch's training.
    pub seconds: f64,
    /// Wall-clock seconds of the test evaluation after it (0 in runs written before it was
    /// recorded): an epoch takes `seconds + test_seconds`.
    #[serde(default)]
    pub test_seconds: f64,
}

const HEADER: &str =
    "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,images_per_s,seconds,test_seconds";

/// Writes `history` to `metrics.csv` and `metrics.json` in `dir`.
pub fn write(dir: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut csv = format!("{HEADER}\n");
    for m in history {
        csv.push_str(&format!(
            "{},{:.6e},{:.6},{:.6},{:.6},{:.6},{:.1},{:.2},{:.2}\n",
            m.epoch,
            m.lr,
            m.train_loss,
            m.train_accuracy,
            m.test_loss,
            m.test_accuracy,
            m.images_per_s,
            m.seconds,
            m.test_seconds
        ));
    }
    atomic::write(&dir.join("metrics.csv"), csv.as_bytes())?;
    let json = serde_json::to_vec_pretty(history)
        .map_err(|e| Error::io(dir.join("metrics.json"), e.into()))?;
    atomic::write(&dir.join("metrics.json"), &json)
}

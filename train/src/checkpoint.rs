//! Checkpoints: one safetensors file with the model's weights under PyTorch-style names, the
//! optimizer's state while training, and a JSON header (metadata key `mnist_edge`) that says
//! which architecture to build, how far training got and what it measured. One file means a
//! crash can never leave weights and state from different epochs side by side.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::metrics::EpochMetrics;
use crate::model::{ArchConfig, Model};
use crate::optim::{self, Optimizer};
use crate::trainer::TrainConfig;
use crate::{atomic, Error, Result};

/// Metadata key of the JSON header.
pub const META_KEY: &str = "mnist_edge";

/// What a checkpoint says about itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// The architecture and its sizes.
    pub arch: ArchConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// The run's settings (absent in a weights-only file).
    #[serde(default)]
    pub train: Option<TrainConfig>,
    /// Metrics of every completed epoch.
    #[serde(default)]
    pub history: Vec<EpochMetrics>,
    /// SHA-256 identifying the training data.
    #[serde(default)]
    pub dataset_sha256: Option<String>,
    /// The `train` version that wrote the file.
    pub tool: String,
    /// How the network was pruned from a larger one (kept by fine-tuning runs), if it was.
    #[serde(default)]
    pub pruning: Option<String>,
}

impl Header {
    /// The pruning history for a model's metadata: what was pruned, or `none`.
    pub fn pruning_note(&self) -> String {
        self.pruning.clone().unwrap_or_else(|| "none".into())
    }
}

/// A checkpoint read back: its header and all its tensors.
pub struct Checkpoint {
    /// The header.
    pub header: Header,
    /// Weights and, for a training checkpoint, optimizer state.
    pub tensors: HashMap<String, Tensor>,
}

/// Writes weights (and optimizer state, when given) with `header` to `path` atomically.
pub fn save(
    path: &Path,
    header: &Header,
    varmap: &VarMap,
    optimizer: Option<&dyn Optimizer>,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = optim::named_vars(varmap)?
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    if let Some(o) = optimizer {
        tensors.extend(o.state());
    }
    let json = serde_json::to_string(header).map_err(|e| Error::checkpoint(path, e.to_string()))?;
    let meta = HashMap::from([(META_KEY.to_string(), json)]);
    let bytes = safetensors::serialize(tensors, Some(meta))
        .map_err(|e| Error::checkpoint(path, e.to_string()))?;
    atomic::write(path, &bytes)
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::checkpoint(path, format!("not a safetensors file ({e})")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| {
            Error::checkpoint(path, "not an mnist-edge checkpoint: no `mnist_edge` header")
        })?;
    let header: Header = serde_json::from_str(json)
        .map_err(|e| Error::checkpoint(path, format!("unreadable header ({e})")))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| Error::checkpoint(path, format!("corrupt tensors ({e})")))?;
    Ok(Checkpoint { header, tensors })
}

impl Checkpoint {
    /// Rebuilds the model with this checkpoint's weights, as trainable variables.
    pub fn model(&self, path: &Path, device: &Device) -> Result<(Model, VarMap)> {
        let (model, varmap) = Model::fresh(&self.header.arch, 0, device)?;
        for (name, var) in optim::named_vars(&varmap)? {
            let t = self
                .tensors
                .get(&name)
                .ok_or_else(|| Error::checkpoint(path, format!("weight {name} is missing")))?;
            if t.shape() != var.shape() {
                return Err(Error::checkpoint(
                    path,
                    format!(
                        "weight {name} has shape {:?}, the architecture needs {:?}",
                        t.dims(),
                        var.dims()
                    ),
                ));
            }
            var.set(t)?;
        }
        Ok((model, varmap))
    }
}

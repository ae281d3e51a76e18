//! Checkpoints: one safetensors file with the model's weights under PyTorch-style names, the
//! optimizer's state while training, and a JSON header (metadata key `mnist_edge`) that says
//! which architecture to build, how far training got and what it measured. One file means a
//! crash can never leave weights and state from different epochs side by side.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{Error, Result};
use crate::fit::config::TrainConfig;
use crate::fit::optim::{self, Optimizer};
use crate::measure::metrics::EpochMetrics;
use crate::model::{ArchConfig, Model};

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
    /// The header of an untrained checkpoint of `arch`, for tests.
    #[cfg(test)]
    pub(crate) fn blank(arch: ArchConfig) -> Header {
        Header {
            arch,
            epoch: 0,
            steps: 0,
            train: None,
            history: Vec::new(),
            dataset_sha256: None,
            tool: "test".into(),
            pruning: None,
        }
    }

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
    let mut tensors = weights(varmap)?;
    if let Some(o) = optimizer {
        tensors.extend(o.state());
    }
    let json = serde_json::to_string(header).map_err(|e| Error::checkpoint(path, e.to_string()))?;
    let meta = HashMap::from([(META_KEY.to_string(), json)]);
    let bytes = safetensors::serialize(tensors, Some(meta))
        .map_err(|e| Error::checkpoint(path, e.to_string()))?;
    atomic::write(path, &bytes)
}

/// Most channels or units a checkpoint's layer may have (the widest network trained here has
/// 256).
pub const MAX_UNITS: usize = 1 << 16;

/// The weights of `varmap` by name, as a checkpoint stores them.
pub fn weights(varmap: &VarMap) -> Result<Vec<(String, Tensor)>> {
    Ok(optim::named_vars(varmap)?
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect())
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
    // The header says how big a network to build: it must be no bigger than what the file
    // holds, or a crafted header (`hidden: 2e9`) allocates terabytes before any check.
    let counts = header.arch.counts();
    if let Some(&n) = counts.iter().find(|&&n| n == 0 || n > MAX_UNITS) {
        return Err(Error::checkpoint(
            path,
            format!("the header asks for a layer of {n} channels or units (1 to {MAX_UNITS})"),
        ));
    }
    let held: usize = tensors.values().map(|t| t.elem_count()).sum();
    let params = header.arch.cost().params;
    if params > held {
        return Err(Error::checkpoint(
            path,
            format!("the header describes {params} parameters, the file holds {held} values"),
        ));
    }
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
            if t.dtype() != var.dtype() {
                return Err(Error::checkpoint(
                    path,
                    format!(
                        "weight {name} is {:?}; checkpoints hold {:?} weights",
                        t.dtype(),
                        var.dtype()
                    ),
                ));
            }
            var.set(t)
                .map_err(|e| Error::checkpoint(path, format!("weight {name}: {e}")))?;
        }
        Ok((model, varmap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Model, StridedConfig};

    /// A weights-only checkpoint of a tiny strided network whose header says `hidden`.
    fn crafted(dir: &Path, hidden: u64) -> std::path::PathBuf {
        let arch = ArchConfig::Strided(StridedConfig {
            conv1: 2,
            conv2: 2,
            hidden: 4,
        });
        let (_, varmap) = Model::fresh(&arch, 0, &Device::Cpu).unwrap();
        let header = Header::blank(arch);
        let path = dir.join("tiny.safetensors");
        save(&path, &header, &varmap, None).unwrap();
        let mut json = serde_json::to_value(&header).unwrap();
        json["arch"]["hidden"] = hidden.into();
        let tensors = weights(&varmap).unwrap();
        let meta = HashMap::from([(META_KEY.to_string(), json.to_string())]);
        std::fs::write(&path, safetensors::serialize(tensors, Some(meta)).unwrap()).unwrap();
        path
    }

    #[test]
    fn issue15_an_f16_checkpoint_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = crafted(dir.path(), 4);
        let bytes = std::fs::read(&path).unwrap();
        let ckpt = load(&path, &Device::Cpu).unwrap();
        let tensors: Vec<(String, Tensor)> = ckpt
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.to_dtype(candle_core::DType::F16).unwrap()))
            .collect();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = meta.metadata().clone();
        std::fs::write(&path, safetensors::serialize(tensors, meta).unwrap()).unwrap();
        let err = load(&path, &Device::Cpu)
            .and_then(|c| c.model(&path, &Device::Cpu).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tiny.safetensors") && err.contains("F16"),
            "{err}"
        );
    }

    #[test]
    fn issue15_a_header_asking_for_a_huge_network_is_refused_before_building_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&crafted(dir.path(), 4), &Device::Cpu).is_ok());
        for (hidden, says) in [(2_000_000_000u64, "1 to 65536"), (5000, "parameters")] {
            let err = load(&crafted(dir.path(), hidden), &Device::Cpu)
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.contains("tiny.safetensors") && err.contains(says),
                "{err}"
            );
        }
    }
}

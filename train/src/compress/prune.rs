//! Structured pruning of the dense CNNs (seed and strided): whole filters of `conv1` and
//! `conv2` and whole units of `fc1` are removed by the L1 norm of their weights, and a smaller
//! *dense* network of the same architecture is built from the survivors, so a board does less
//! work (not just a sparser file): conv1 `[k1,1,3,3]`, conv2 `[k2,k1,3,3]`,
//! fc1 `[k3, k2·M]` (M = 5·5 pooled positions for the seed, 6·6 for the strided net, as the
//! network's description gives them),
//! fc2 `[10, k3]`.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::fit::checkpoint::{Checkpoint, Header};
use crate::model::{shapes, Shape, Step};

/// Indices of the `keep` largest of `scores`, in their original order.
fn top(scores: &[f32], keep: usize) -> Vec<u32> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut kept: Vec<u32> = order[..keep.clamp(1, scores.len())]
        .iter()
        .map(|&i| i as u32)
        .collect();
    kept.sort_unstable();
    kept
}

/// L1 norm of each slice along dimension 0.
fn l1_rows(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.abs()?.flatten_from(1)?.sum(1)?.to_vec1::<f32>()?)
}

/// Keeps the fraction `keep` of each layer's filters (or units), chosen by L1 norm, layer by
/// layer along the network's description ([`crate::model::ArchConfig::steps`]): each layer first loses the
/// inputs its predecessor dropped, then its own weakest outputs; the last layer keeps its ten.
pub fn prune(ckpt: &Checkpoint, keep: f32, device: &Device) -> Result<Checkpoint> {
    let refused = || {
        Error::Config("pruning is for the seed and strided CNNs (dense convolutions) only".into())
    };
    let arch = ckpt.header.arch;
    let steps = arch.steps();
    let shapes = shapes(&steps);
    // The layers with weights, with the shape each reads.
    let mut layers: Vec<(&'static str, usize, Shape)> = Vec::new();
    for (step, input) in steps.iter().zip(&shapes) {
        match *step {
            Step::Conv {
                groups: 1,
                name,
                out,
                ..
            }
            | Step::Dense { name, out } => layers.push((name, out, *input)),
            Step::Conv { .. } => return Err(refused()),
            _ => {}
        }
    }
    if !(keep > 0.0 && keep <= 1.0) {
        return Err(Error::Config("--keep must be in (0, 1]".into()));
    }
    let get = |name: &str| {
        ckpt.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Weights(format!("the checkpoint has no {name}")))
    };
    let count = |n: usize| ((n as f32 * keep).round() as usize).max(1);
    let idx = |v: &[u32]| Tensor::new(v, device);

    let mut tensors = HashMap::new();
    let mut counts = Vec::new();
    let mut kept_note = Vec::new();
    // The outputs the previous layer kept, out of how many.
    let mut before: Option<(Vec<u32>, usize)> = None;
    for (i, &(name, out, input)) in layers.iter().enumerate() {
        let mut w = get(&format!("{name}.weight"))?;
        let mut b = get(&format!("{name}.bias"))?;
        if let Some((kept, of)) = &before {
            // Each of the previous layer's outputs feeds this many of this layer's inputs:
            // one channel, or after a flatten all the positions of one feature map.
            let per = (input.len() / (*of).max(1)) as u32;
            let per = if matches!(input, Shape::Map { .. }) {
                1
            } else {
                per
            };
            let columns: Vec<u32> = kept
                .iter()
                .flat_map(|&c| (0..per).map(move |p| c * per + p))
                .collect();
            w = w.index_select(&idx(&columns)?, 1)?;
        }
        if i + 1 < layers.len() {
            let k = top(&l1_rows(&w)?, count(out));
            w = w.index_select(&idx(&k)?, 0)?;
            b = b.index_select(&idx(&k)?, 0)?;
            counts.push(k.len());
            kept_note.push(format!("{name} {}/{out}", k.len()));
            before = Some((k, out));
        }
        tensors.insert(format!("{name}.weight"), w);
        tensors.insert(format!("{name}.bias"), b);
    }
    let header = Header {
        arch: arch.with_counts(&counts).ok_or_else(refused)?,
        epoch: 0,
        steps: 0,
        train: None,
        history: Vec::new(),
        dataset_sha256: ckpt.header.dataset_sha256.clone(),
        tool: ckpt.header.tool.clone(),
        pruning: Some(format!(
            "structured (L1 norm, keep {keep}): {} kept{}",
            kept_note.join(", "),
            ckpt.header
                .pruning
                .as_ref()
                .map(|p| format!("; before that {p}"))
                .unwrap_or_default()
        )),
    };
    Ok(Checkpoint { header, tensors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ArchConfig, SeedConfig, StridedConfig};
    use candle_core::Module;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// A fresh checkpoint of `arch` whose odd filters and units are silenced (zero weights
    /// and bias): they contribute nothing, so pruning them must not change any output.
    fn silenced(arch: ArchConfig, device: &Device) -> Checkpoint {
        let (_, varmap) = crate::model::Model::fresh(&arch, 3, device).unwrap();
        let mut tensors: HashMap<String, Tensor> = crate::fit::optim::named_vars(&varmap)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        for layer in ["conv1", "conv2", "fc1"] {
            for part in ["weight", "bias"] {
                let name = format!("{layer}.{part}");
                let t = &tensors[&name];
                let rows = t.dim(0).unwrap();
                let mask: Vec<f32> = (0..rows).map(|r| ((r + 1) % 2) as f32).collect();
                let mut shape = vec![1; t.rank()];
                shape[0] = rows;
                let mask = Tensor::new(mask, device).unwrap().reshape(shape).unwrap();
                let masked = t.broadcast_mul(&mask).unwrap();
                tensors.insert(name, masked);
            }
        }
        Checkpoint {
            header: Header::blank(arch),
            tensors,
        }
    }

    #[test]
    fn keeps_the_strongest_filters_and_computes_what_the_big_net_computes_without_the_rest() {
        let device = Device::Cpu;
        let path = std::path::Path::new("x");
        let x = Tensor::randn(0f32, 1.0, (2, 1, 28, 28), &device).unwrap();
        let half_seed = ArchConfig::Seed(SeedConfig {
            conv1: 16,
            conv2: 32,
            hidden: 64,
        });
        let half_strided = ArchConfig::Strided(StridedConfig {
            conv1: 8,
            conv2: 16,
            hidden: 32,
        });
        for (arch, half_arch) in [
            (ArchConfig::Seed(SeedConfig::default()), half_seed),
            (ArchConfig::Strided(StridedConfig::default()), half_strided),
        ] {
            let big = silenced(arch, &device);
            let (m0, _) = big.model(path, &device).unwrap();
            let y0 = m0.forward(&x).unwrap();
            // Keeping everything is the identity.
            let all = prune(&big, 1.0, &device).unwrap();
            let (m1, _) = all.model(path, &device).unwrap();
            assert!(max_diff(&y0, &m1.forward(&x).unwrap()) < 1e-5);
            // Half: exactly the silenced half goes, and the outputs stay the same.
            let half = prune(&big, 0.5, &device).unwrap();
            assert_eq!(half.header.arch, half_arch);
            let norms = l1_rows(&half.tensors["conv1.weight"]).unwrap();
            assert!(norms.iter().all(|&n| n > 0.0), "{arch:?}: {norms:?}");
            let (m2, _) = half.model(path, &device).unwrap();
            let d = max_diff(&y0, &m2.forward(&x).unwrap());
            assert!(d < 1e-5, "{arch:?}: {d}");
        }
    }

    #[test]
    fn the_light_cnn_is_refused_in_one_line() {
        let device = Device::Cpu;
        let arch = ArchConfig::Light(crate::model::LightConfig::default());
        let ckpt = Checkpoint {
            header: Header::blank(arch),
            tensors: HashMap::new(),
        };
        let Err(e) = prune(&ckpt, 0.5, &device) else {
            panic!("the light CNN was pruned");
        };
        let e = e.to_string();
        assert!(e.contains("seed and strided"), "{e}");
    }
}

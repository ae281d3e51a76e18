//! Structured pruning of the dense CNNs (seed and strided): whole filters of `conv1` and
//! `conv2` and whole units of `fc1` are removed by the L1 norm of their weights, and a smaller
//! *dense* network of the same architecture is built from the survivors, so a board does less
//! work (not just a sparser file): conv1 `[k1,1,3,3]`, conv2 `[k2,k1,3,3]`,
//! fc1 `[k3, k2·M]` (M = 5·5 pooled positions for the seed, 6·6 for the strided net),
//! fc2 `[10, k3]`.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};
use crate::fit::checkpoint::{Checkpoint, Header};
use crate::model::{ArchConfig, SeedConfig, StridedConfig};

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

/// Keeps the fraction `keep` of each layer's filters (or units), chosen by L1 norm.
pub fn prune(ckpt: &Checkpoint, keep: f32, device: &Device) -> Result<Checkpoint> {
    // (conv1, conv2, hidden) and the positions of one conv2 feature map in fc1's input.
    let (sizes, map) = match ckpt.header.arch {
        ArchConfig::Seed(c) => ((c.conv1, c.conv2, c.hidden), 25u32),
        ArchConfig::Strided(c) => ((c.conv1, c.conv2, c.hidden), 36),
        ArchConfig::Light(_) => {
            return Err(Error::Config(
                "pruning is for the seed and strided CNNs (dense convolutions) only".into(),
            ))
        }
    };
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

    let w1 = get("conv1.weight")?;
    let k1 = top(&l1_rows(&w1)?, count(sizes.0));
    let w1 = w1.index_select(&idx(&k1)?, 0)?;
    let b1 = get("conv1.bias")?.index_select(&idx(&k1)?, 0)?;

    let w2 = get("conv2.weight")?.index_select(&idx(&k1)?, 1)?;
    let k2 = top(&l1_rows(&w2)?, count(sizes.1));
    let w2 = w2.index_select(&idx(&k2)?, 0)?;
    let b2 = get("conv2.bias")?.index_select(&idx(&k2)?, 0)?;

    let columns: Vec<u32> = k2
        .iter()
        .flat_map(|&c| (0..map).map(move |p| c * map + p))
        .collect();
    let f1 = get("fc1.weight")?.index_select(&idx(&columns)?, 1)?;
    let k3 = top(&l1_rows(&f1)?, count(sizes.2));
    let f1 = f1.index_select(&idx(&k3)?, 0)?;
    let fb1 = get("fc1.bias")?.index_select(&idx(&k3)?, 0)?;
    let f2 = get("fc2.weight")?.index_select(&idx(&k3)?, 1)?;
    let fb2 = get("fc2.bias")?;

    let tensors = HashMap::from([
        ("conv1.weight".to_string(), w1),
        ("conv1.bias".to_string(), b1),
        ("conv2.weight".to_string(), w2),
        ("conv2.bias".to_string(), b2),
        ("fc1.weight".to_string(), f1),
        ("fc1.bias".to_string(), fb1),
        ("fc2.weight".to_string(), f2),
        ("fc2.bias".to_string(), fb2),
    ]);
    let header = Header {
        arch: match ckpt.header.arch {
            ArchConfig::Strided(_) => ArchConfig::Strided(StridedConfig {
                conv1: k1.len(),
                conv2: k2.len(),
                hidden: k3.len(),
            }),
            _ => ArchConfig::Seed(SeedConfig {
                conv1: k1.len(),
                conv2: k2.len(),
                hidden: k3.len(),
            }),
        },
        epoch: 0,
        steps: 0,
        train: None,
        history: Vec::new(),
        dataset_sha256: ckpt.header.dataset_sha256.clone(),
        tool: ckpt.header.tool.clone(),
        pruning: Some(format!(
            "structured (L1 norm, keep {keep}): conv1 {}/{}, conv2 {}/{}, fc1 {}/{} kept{}",
            k1.len(),
            sizes.0,
            k2.len(),
            sizes.1,
            k3.len(),
            sizes.2,
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

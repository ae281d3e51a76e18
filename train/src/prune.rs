//! Structured pruning of the seed CNN: whole filters of `conv1` and `conv2` and whole units
//! of `fc1` are removed by the L1 norm of their weights, and a smaller *dense* seed network is
//! built from the survivors, so a board does less work (not just a sparser file):
//! conv1 `[k1,1,3,3]`, conv2 `[k2,k1,3,3]`, fc1 `[k3, k2·25]`, fc2 `[10, k3]`.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use crate::checkpoint::{Checkpoint, Header};
use crate::model::ArchConfig;
use crate::model::SeedConfig;
use crate::{Error, Result};

/// Positions of one pooled feature map in fc1's input (`conv2` channels × 5 × 5).
const MAP: usize = 25;

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
    let ArchConfig::Seed(cfg) = &ckpt.header.arch else {
        return Err(Error::Config(
            "pruning is for the seed CNN (dense convolutions) only".into(),
        ));
    };
    if !(keep > 0.0 && keep <= 1.0) {
        return Err(Error::Config("--keep must be in (0, 1]".into()));
    }
    let get = |name: &str| {
        ckpt.tensors
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Config(format!("the checkpoint has no {name}")))
    };
    let count = |n: usize| ((n as f32 * keep).round() as usize).max(1);
    let idx = |v: &[u32]| Tensor::new(v, device);

    let w1 = get("conv1.weight")?;
    let k1 = top(&l1_rows(&w1)?, count(cfg.conv1));
    let w1 = w1.index_select(&idx(&k1)?, 0)?;
    let b1 = get("conv1.bias")?.index_select(&idx(&k1)?, 0)?;

    let w2 = get("conv2.weight")?.index_select(&idx(&k1)?, 1)?;
    let k2 = top(&l1_rows(&w2)?, count(cfg.conv2));
    let w2 = w2.index_select(&idx(&k2)?, 0)?;
    let b2 = get("conv2.bias")?.index_select(&idx(&k2)?, 0)?;

    let columns: Vec<u32> = k2
        .iter()
        .flat_map(|&c| (0..MAP as u32).map(move |p| c * MAP as u32 + p))
        .collect();
    let f1 = get("fc1.weight")?.index_select(&idx(&columns)?, 1)?;
    let k3 = top(&l1_rows(&f1)?, count(cfg.hidden));
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
        arch: ArchConfig::Seed(SeedConfig {
            conv1: k1.len(),
            conv2: k2.len(),
            hidden: k3.len(),
        }),
        epoch: 0,
        steps: 0,
        train: None,
        history: Vec::new(),
        dataset_sha256: ckpt.header.dataset_sha256.clone(),
        tool: ckpt.header.tool.clone(),
    };
    Ok(Checkpoint { header, tensors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Module;

    #[test]
    fn keeps_the_strongest_filters_and_computes_what_the_big_net_computes_without_the_rest() {
        let device = Device::Cpu;
        let arch = ArchConfig::Seed(SeedConfig::default());
        let (_, varmap) = crate::model::Model::fresh(&arch, 3, &device).unwrap();
        let tensors: HashMap<String, Tensor> = crate::optim::named_vars(&varmap)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        let big = Checkpoint {
            header: Header {
                arch,
                epoch: 0,
                steps: 0,
                train: None,
                history: Vec::new(),
                dataset_sha256: None,
                tool: "test".into(),
            },
            tensors,
        };
        // Keeping everything is the identity.
        let all = prune(&big, 1.0, &device).unwrap();
        let path = std::path::Path::new("x");
        let x = Tensor::randn(0f32, 1.0, (2, 1, 28, 28), &device).unwrap();
        let (m0, _) = big.model(path, &device).unwrap();
        let (m1, _) = all.model(path, &device).unwrap();
        let d = (m0.forward(&x).unwrap() - m1.forward(&x).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(d < 1e-5, "{d}");
        // Half: the sizes halve and the kept conv1 filters are the largest by L1.
        let half = prune(&big, 0.5, &device).unwrap();
        assert_eq!(
            half.header.arch,
            ArchConfig::Seed(SeedConfig {
                conv1: 16,
                conv2: 32,
                hidden: 64
            })
        );
        let norms = l1_rows(&big.tensors["conv1.weight"]).unwrap();
        let kept = l1_rows(&half.tensors["conv1.weight"]).unwrap();
        let mut sorted = norms.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let min_kept = kept.iter().copied().fold(f32::MAX, f32::min);
        assert!((min_kept - sorted[15]).abs() < 1e-6);
        half.model(path, &device).unwrap();
    }
}

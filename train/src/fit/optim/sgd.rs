//! Stochastic gradient descent with momentum, PyTorch's formulation:
//! `b ← μ·b + (g + λ·θ)`, `θ ← θ − lr·b`.

use std::collections::HashMap;

use candle_core::{Tensor, Var};

use super::{restore, zeros_like, Optimizer, OptimizerConfig};
use crate::error::Result;

/// SGD with a momentum buffer per variable.
pub struct Sgd {
    vars: Vec<(String, Var)>,
    buf: Vec<Var>,
    t: u64,
    config: OptimizerConfig,
}

impl Sgd {
    /// An optimizer over `vars` with empty momentum buffers.
    pub fn new(vars: Vec<(String, Var)>, config: &OptimizerConfig) -> Result<Self> {
        let buf = vars
            .iter()
            .map(|(_, v)| zeros_like(v))
            .collect::<Result<_>>()?;
        Ok(Self {
            vars,
            buf,
            t: 0,
            config: *config,
        })
    }
}

impl Optimizer for Sgd {
    fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    fn step(&mut self, grads: &[Option<Tensor>], lr: f64) -> Result<()> {
        self.t += 1;
        let c = &self.config;
        for (i, (_, theta)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(i).and_then(Option::as_ref) else {
                continue;
            };
            let g = (g + (theta.as_tensor() * c.weight_decay)?)?;
            let b = ((self.buf[i].as_tensor() * c.momentum)? + g)?;
            theta.set(&(theta.as_tensor() - (&b * lr)?)?)?;
            self.buf[i].set(&b)?;
        }
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .zip(&self.buf)
            .map(|((n, _), b)| (format!("sgd.momentum.{n}"), b.as_tensor().clone()))
            .collect()
    }

    fn load_state(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            restore(&self.buf[i], tensors, &format!("sgd.momentum.{name}"))?;
        }
        self.t = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn momentum_accumulates_like_pytorch() {
        let var = Var::from_tensor(&Tensor::new(&[1.0f32], &Device::Cpu).unwrap()).unwrap();
        let config = OptimizerConfig {
            weight_decay: 0.0,
            momentum: 0.5,
            ..Default::default()
        };
        let mut sgd = Sgd::new(vec![("w".into(), var.clone())], &config).unwrap();
        let g = Tensor::new(&[2.0f32], &Device::Cpu).unwrap();
        sgd.step(&[Some(g.clone())], 0.1).unwrap(); // b = 2, θ = 1 - 0.2 = 0.8
        sgd.step(&[Some(g)], 0.1).unwrap(); // b = 1 + 2 = 3, θ = 0.8 - 0.3 = 0.5
        let v = var.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((v - 0.5).abs() < 1e-6, "{v}");
    }
}

//! AdamW (Loshchilov & Hutter): Adam moments with weight decay applied to the weights
//! directly; the same arithmetic as candle-nn's `AdamW`, with its moments exposed.

use std::collections::HashMap;

use candle_core::{Tensor, Var};

use super::{fused, restore, zeros_like, Optimizer, OptimizerConfig};
use crate::error::Result;

/// AdamW with first moments `m` and second moments `v` per variable.
pub struct AdamW {
    vars: Vec<(String, Var)>,
    m: Vec<Var>,
    v: Vec<Var>,
    t: u64,
    config: OptimizerConfig,
}

impl AdamW {
    /// An optimizer over `vars` with zero moments.
    pub fn new(vars: Vec<(String, Var)>, config: &OptimizerConfig) -> Result<Self> {
        let m = vars
            .iter()
            .map(|(_, v)| zeros_like(v))
            .collect::<Result<_>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| zeros_like(v))
            .collect::<Result<_>>()?;
        Ok(Self {
            vars,
            m,
            v,
            t: 0,
            config: *config,
        })
    }
}

/// One AdamW update of `theta` through candle tensor ops (any device).
fn step_with_tensor_ops(theta: &Var, m: &Var, v: &Var, g: &Tensor, s: &fused::Step) -> Result<()> {
    let next_m = ((m.as_tensor() * s.beta1)? + (g * (1.0 - s.beta1))?)?;
    let next_v = ((v.as_tensor() * s.beta2)? + (g.sqr()? * (1.0 - s.beta2))?)?;
    let m_hat = (&next_m * s.scale_m)?;
    let v_hat = (&next_v * s.scale_v)?;
    let decayed = (theta.as_tensor() * (1.0 - s.lr * s.weight_decay))?;
    let update = (m_hat / (v_hat.sqrt()? + s.eps)?)?;
    theta.set(&(decayed - (update * s.lr)?)?)?;
    m.set(&next_m)?;
    v.set(&next_v)?;
    Ok(())
}

impl Optimizer for AdamW {
    fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    fn step(&mut self, grads: &[Option<Tensor>], lr: f64) -> Result<()> {
        self.t += 1;
        let c = &self.config;
        let scale_m = 1.0 / (1.0 - c.beta1.powi(self.t as i32));
        let scale_v = 1.0 / (1.0 - c.beta2.powi(self.t as i32));
        for (i, (_, theta)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(i).and_then(Option::as_ref) else {
                continue;
            };
            let s = fused::Step {
                lr,
                weight_decay: c.weight_decay,
                beta1: c.beta1,
                beta2: c.beta2,
                eps: c.eps,
                scale_m,
                scale_v,
            };
            let (m, v) = (&self.m[i], &self.v[i]);
            if fused::applies(theta) && fused::applies(m) && fused::applies(v) {
                fused::step(theta, m, v, g, &s)?;
            } else {
                step_with_tensor_ops(theta, m, v, g, &s)?;
            }
        }
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.t
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let m = self
            .vars
            .iter()
            .zip(&self.m)
            .map(|((n, _), s)| (format!("adamw.m.{n}"), s.as_tensor().clone()));
        let v = self
            .vars
            .iter()
            .zip(&self.v)
            .map(|((n, _), s)| (format!("adamw.v.{n}"), s.as_tensor().clone()));
        m.chain(v).collect()
    }

    fn load_state(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        for (i, (name, _)) in self.vars.iter().enumerate() {
            restore(&self.m[i], tensors, &format!("adamw.m.{name}"))?;
            restore(&self.v[i], tensors, &format!("adamw.v.{name}"))?;
        }
        self.t = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::Optimizer as _;

    #[test]
    fn matches_candle_nn_adamw() {
        let dev = Device::Cpu;
        let init = Tensor::new(&[[0.5f32, -1.0, 2.0], [0.1, 0.0, -0.3]], &dev).unwrap();
        let ours = Var::from_tensor(&init).unwrap();
        let theirs = Var::from_tensor(&init).unwrap();
        let config = OptimizerConfig::default();
        let mut a = AdamW::new(vec![("w".into(), ours.clone())], &config).unwrap();
        let params = candle_nn::ParamsAdamW {
            lr: 0.01,
            beta1: config.beta1,
            beta2: config.beta2,
            eps: config.eps,
            weight_decay: config.weight_decay,
        };
        let mut b = candle_nn::AdamW::new(vec![theirs.clone()], params).unwrap();
        for k in 0..4 {
            let g = Tensor::new(&[[1.0f32, -2.0, 0.5], [0.0, 3.0, k as f32]], &dev).unwrap();
            a.step(&[Some(g.clone())], 0.01).unwrap();
            let mut store = theirs.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            store.insert(theirs.as_tensor(), g);
            b.step(&store).unwrap();
        }
        let diff = (ours.as_tensor() - theirs.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
        assert_ne!(
            ours.as_tensor().to_vec2::<f32>().unwrap(),
            init.to_vec2::<f32>().unwrap()
        );
        assert_eq!(a.state().len(), 2);
        assert_eq!(a.state()[0].1.dtype(), DType::F32);
    }

    #[test]
    fn fused_cpu_update_matches_the_tensor_op_update() {
        let shape = (64, 37);
        let init = crate::model::ops::tests::random(&[64, 37], 1);
        let (a, b) = (
            Var::from_tensor(&init).unwrap(),
            Var::from_tensor(&init).unwrap(),
        );
        let zeros = || Var::zeros(shape, DType::F32, &Device::Cpu).unwrap();
        let (ma, va, mb, vb) = (zeros(), zeros(), zeros(), zeros());
        for t in 1..=5 {
            let g = crate::model::ops::tests::random(&[64, 37], 10 + t);
            let s = fused::Step {
                lr: 0.01,
                weight_decay: 1e-4,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                scale_m: 1.0 / (1.0 - 0.9f64.powi(t as i32)),
                scale_v: 1.0 / (1.0 - 0.999f64.powi(t as i32)),
            };
            fused::step(&a, &ma, &va, &g, &s).unwrap();
            step_with_tensor_ops(&b, &mb, &vb, &g, &s).unwrap();
        }
        for (x, y) in [(&a, &b), (&ma, &mb), (&va, &vb)] {
            let d = crate::model::ops::tests::max_diff(x.as_tensor(), y.as_tensor());
            assert!(d < 1e-6, "differ by {d}");
        }
        assert!(crate::model::ops::tests::max_diff(a.as_tensor(), &init) > 1e-3);
    }

    #[test]
    fn state_round_trips() {
        let dev = Device::Cpu;
        let var = Var::ones(3, DType::F32, &dev).unwrap();
        let config = OptimizerConfig::default();
        let mut a = AdamW::new(vec![("w".into(), var.clone())], &config).unwrap();
        let g = Tensor::new(&[1f32, 2.0, 3.0], &dev).unwrap();
        a.step(&[Some(g.clone())], 0.1).unwrap();
        let saved: HashMap<_, _> = a.state().into_iter().collect();
        let copy = Var::from_tensor(var.as_tensor()).unwrap();
        let mut b = AdamW::new(vec![("w".into(), copy.clone())], &config).unwrap();
        b.load_state(&saved, a.steps()).unwrap();
        a.step(&[Some(g.clone())], 0.1).unwrap();
        b.step(&[Some(g)], 0.1).unwrap();
        let diff = (var.as_tensor() - copy.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-7);
    }
}

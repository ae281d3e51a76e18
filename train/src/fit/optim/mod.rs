//! Optimizers whose whole state can be saved in a checkpoint and restored, so an interrupted
//! run resumes exactly where it stopped (candle-nn keeps its AdamW moments private).

mod adamw;
mod fused;
mod sgd;

pub use adamw::AdamW;
pub use sgd::Sgd;

use std::collections::HashMap;

use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The optimizers `train --optimizer` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with decoupled weight decay.
    Adamw,
    /// Stochastic gradient descent with momentum.
    Sgd,
}

/// Hyper-parameters of the optimizers (the learning rate comes from the schedule).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// Decoupled weight decay for AdamW, L2 penalty for SGD.
    pub weight_decay: f64,
    /// Momentum of SGD.
    pub momentum: f64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's denominator guard.
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adamw,
            weight_decay: 1e-4,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// A first-order optimizer over named variables.
pub trait Optimizer {
    /// The variables it updates, in the order `step` expects their gradients.
    fn vars(&self) -> &[(String, Var)];
    /// Applies one update with learning rate `lr`; `grads[i]` belongs to `vars()[i]`
    /// (`None`: the variable got no gradient and keeps its value).
    fn step(&mut self, grads: &[Option<Tensor>], lr: f64) -> Result<()>;
    /// Updates applied so far.
    fn steps(&self) -> u64;
    /// The state tensors, named for a checkpoint.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores the state saved by [`Optimizer::state`] after `steps` updates.
    fn load_state(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) -> Result<()>;
}

/// The trainable variables of `varmap`, sorted by name.
pub fn named_vars(varmap: &VarMap) -> Result<Vec<(String, Var)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Config("variable map poisoned".into()))?;
    let mut vars: Vec<_> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

/// Builds the optimizer `config` names over `vars`.
pub fn build(config: &OptimizerConfig, vars: Vec<(String, Var)>) -> Result<Box<dyn Optimizer>> {
    Ok(match config.kind {
        OptimizerKind::Adamw => Box::new(AdamW::new(vars, config)?),
        OptimizerKind::Sgd => Box::new(Sgd::new(vars, config)?),
    })
}

/// A zero-filled variable shaped like `var`, to hold per-variable optimizer state.
fn zeros_like(var: &Var) -> Result<Var> {
    Ok(Var::zeros(var.shape(), var.dtype(), var.device())?)
}

/// Copies `tensors[name]` into `slot`, checking the shape.
fn restore(slot: &Var, tensors: &HashMap<String, Tensor>, name: &str) -> Result<()> {
    let t = tensors
        .get(name)
        .ok_or_else(|| Error::Weights(format!("optimizer state {name} is missing")))?;
    if t.shape() != slot.shape() {
        return Err(Error::Weights(format!(
            "optimizer state {name} has shape {:?}, expected {:?}",
            t.dims(),
            slot.dims()
        )));
    }
    slot.set(&t.to_device(slot.device())?)?;
    Ok(())
}

//! Seeded initialisation: candle cannot seed its CPU random generator, so weights are drawn
//! here from ChaCha8, uniform in ±gain/√fan_in. Gain 1 is PyTorch's default for conv and
//! linear layers; gain √6 is He's, which keeps activations from fading through deep ReLU
//! stacks without normalisation. Biases are uniform in ±1/√fan_in.

use candle_core::{Result, Tensor};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};

/// Overwrites every variable of `varmap`, in name order, with values drawn from `seed`.
pub fn init_uniform(varmap: &VarMap, seed: u64, gain: f32) -> Result<()> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("variable map poisoned".into()))?;
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for name in names {
        let var = &vars[name];
        // A bias takes the fan-in of its layer's weight.
        let weight = match name.strip_suffix(".bias") {
            Some(prefix) => vars.get(&format!("{prefix}.weight")).unwrap_or(var),
            None => var,
        };
        let fan_in: usize = weight.dims().iter().skip(1).product::<usize>().max(1);
        let gain = if name.ends_with(".bias") { 1.0 } else { gain };
        let bound = gain / (fan_in as f32).sqrt();
        let values: Vec<f32> = (0..var.elem_count())
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

//! Turns digits into tensors: images `[N, 1, 28, 28]` f32 normalised as
//! `(pixel / 255 - MEAN) / STD`, labels `[N]` u32.

use candle_core::{Device, Tensor};

use crate::data::mnist::{MEAN, PIXELS, SIDE, STD};
use crate::error::Result;

/// Normalises one 784-pixel digit into `out`.
pub fn normalise_into(pixels: &[u8], out: &mut Vec<f32>) {
    edge::contract::normalise(pixels, MEAN, STD, out);
}

/// Builds the input tensor `[N, 1, 28, 28]` from `N` digits of 784 pixels.
pub fn images<'a>(digits: impl IntoIterator<Item = &'a [u8]>, device: &Device) -> Result<Tensor> {
    let mut data = Vec::new();
    for d in digits {
        normalise_into(d, &mut data);
    }
    let n = data.len() / PIXELS;
    Ok(Tensor::from_vec(data, (n, 1, SIDE, SIDE), device)?)
}

/// Builds the label tensor `[N]` u32.
pub fn labels(labels: impl IntoIterator<Item = u8>, device: &Device) -> Result<Tensor> {
    let v: Vec<u32> = labels.into_iter().map(u32::from).collect();
    let n = v.len();
    Ok(Tensor::from_vec(v, n, device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_matches_the_contract() {
        let mut px = vec![0u8; PIXELS];
        px[1] = 255;
        let t = images([px.as_slice()], &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 1, 28, 28]);
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!((v[0] - (-0.1307 / 0.3081)).abs() < 1e-6);
        assert!((v[1] - (1.0 - 0.1307) / 0.3081).abs() < 1e-6);
    }
}

//! Post-training static INT8 quantization of the dense CNNs (seed and strided) into ONNX's
//! QOperator form, which tract runs on its integer kernels: `QuantizeLinear` → `QLinearConv`
//! (u8 activations, i8 weights, per-tensor scales, ReLU folded into an output zero point of
//! 0) → `MaxPool` on u8 (seed; the strided net's convolutions have stride 2 instead) → … →
//! fc1 as a 1×1 `QLinearConv` → `DequantizeLinear` → the 10-way `Gemm` in float.
//! Activation ranges are calibrated on training images, by min-max or a percentile.

use candle_core::{Device, Tensor, D};
use edge::contract::Contract;
use tract_onnx::pb::tensor_proto::DataType;

use crate::data::batch;
use crate::data::mnist::{Digits, PIXELS};
use crate::error::{Error, Result};
use crate::model::{ArchConfig, Step};
use crate::onnx::graph::{
    finish, int, ints, provenance, with_accuracy, Builder, Provenance, INPUT,
};
use crate::onnx::verify::ExportReport;

/// How activation ranges are taken from the calibration images.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Calibration {
    /// The largest value seen.
    MinMax,
    /// This percentile of the values seen (clips rare outliers, finer steps).
    Percentile(f32),
}

impl std::fmt::Display for Calibration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Calibration::MinMax => write!(f, "min-max"),
            Calibration::Percentile(p) => write!(f, "percentile {p}"),
        }
    }
}

/// One layer computed on integers: a dense convolution without padding, or a fully
/// connected layer run as a 1×1 one, its ReLU folded in; its output range is calibrated.
struct Quantized {
    name: &'static str,
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    /// A fully connected layer (after the flatten).
    dense: bool,
    /// Whether a 2×2 max-pool follows (on u8).
    pool: bool,
}

/// The float layers of a network the INT8 export takes, read from its description
/// ([`ArchConfig::steps`]): dense convolutions with ReLU and optional pooling, a flatten, fully
/// connected layers with ReLU, and the last fully connected layer, kept in float.
struct Float {
    layers: Vec<Quantized>,
    /// The last layer's name, weight and bias.
    last: (&'static str, Tensor, Tensor),
}

impl Float {
    fn new(arch: &ArchConfig, weight: &impl Fn(&str) -> Option<Tensor>) -> Result<Self> {
        let refused = || {
            Error::Config(
                "INT8 export is for the seed and strided CNNs (dense convolutions)".into(),
            )
        };
        let pair = |n: &str| -> Result<(Tensor, Tensor)> {
            let get = |p: &str| {
                weight(&format!("{n}.{p}"))
                    .ok_or_else(|| Error::Weights(format!("{n}.{p} is missing")))
            };
            Ok((get("weight")?, get("bias")?))
        };
        let steps = arch.steps();
        let mut layers: Vec<Quantized> = Vec::new();
        let mut last = None;
        let mut flat = false;
        let mut i = 0;
        while i < steps.len() {
            let relu = steps.get(i + 1) == Some(&Step::Relu);
            match steps[i] {
                Step::Conv {
                    name,
                    pad: 0,
                    groups: 1,
                    stride,
                    ..
                } if relu && !flat => {
                    let pool = steps.get(i + 2) == Some(&Step::Pool);
                    let (weight, bias) = pair(name)?;
                    layers.push(Quantized {
                        name,
                        weight,
                        bias,
                        stride,
                        dense: false,
                        pool,
                    });
                    i += 2 + usize::from(pool);
                }
                Step::Flatten if !flat => {
                    flat = true;
                    i += 1;
                }
                Step::Dense { name, .. } if flat && relu => {
                    let (weight, bias) = pair(name)?;
                    layers.push(Quantized {
                        name,
                        weight,
                        bias,
                        stride: 1,
                        dense: true,
                        pool: false,
                    });
                    i += 2;
                }
                Step::Dense { name, .. } if flat && i + 1 == steps.len() => {
                    let (w, b) = pair(name)?;
                    last = Some((name, w, b));
                    i += 1;
                }
                _ => return Err(refused()),
            }
        }
        let last = last.ok_or_else(refused)?;
        Ok(Float { layers, last })
    }

    /// The ReLU output of every quantized layer for a batch `[N, 1, 28, 28]`.
    fn activations(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut out = Vec::with_capacity(self.layers.len());
        let mut x = x.clone();
        for l in &self.layers {
            let a = if l.dense {
                x.flatten_from(1)?
                    .matmul(&l.weight.t()?)?
                    .broadcast_add(&l.bias)?
                    .relu()?
            } else {
                x.conv2d(&l.weight, 0, l.stride, 1, 1)?
                    .broadcast_add(&l.bias.reshape((1, l.bias.dim(0)?, 1, 1))?)?
                    .relu()?
            };
            x = if l.pool { a.max_pool2d(2)? } else { a.clone() };
            out.push(a);
        }
        Ok(out)
    }
}

/// Upper ends of the activation ranges of the quantized layers over `images` (u8, ink
/// bright).
pub fn calibrate(
    arch: &ArchConfig,
    weight: impl Fn(&str) -> Option<Tensor>,
    images: &Digits,
    how: Calibration,
) -> Result<Vec<f32>> {
    let float = Float::new(arch, &weight)?;
    let n = float.layers.len();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); n];
    let mut max = vec![0f32; n];
    for chunk in images.images.chunks(200 * PIXELS) {
        let x = batch::images(chunk.chunks(PIXELS), &Device::Cpu)?;
        for (k, a) in float.activations(&x)?.iter().enumerate() {
            let v = a.flatten_all()?.to_vec1::<f32>()?;
            max[k] = v.iter().copied().fold(max[k], f32::max);
            if let Calibration::Percentile(_) = how {
                // A strided sample keeps memory small and the percentile honest.
                values[k].extend(v.iter().step_by(7).copied());
            }
        }
    }
    Ok(match how {
        Calibration::MinMax => max,
        Calibration::Percentile(p) => {
            let mut out = vec![0f32; n];
            for (k, v) in values.iter_mut().enumerate() {
                v.sort_by(f32::total_cmp);
                let at = ((p / 100.0) * (v.len().saturating_sub(1)) as f32).round() as usize;
                out[k] = v.get(at).copied().unwrap_or(max[k]).max(1e-6);
            }
            out
        }
    })
}

/// Per-tensor symmetric i8 weights and their scale.
fn quantize_weights(w: &Tensor) -> Result<(Vec<u8>, f32)> {
    let v = w.flatten_all()?.to_vec1::<f32>()?;
    let scale = v.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12) / 127.0;
    let q = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect();
    Ok((q, scale))
}

/// Encodes a seed or strided CNN with weights `weight` as an INT8 QOperator ONNX graph whose activation
/// ranges are `ranges` (from [`calibrate`]).
pub fn to_onnx_int8(
    arch: &ArchConfig,
    weight: impl Fn(&str) -> Option<Tensor>,
    ranges: &[f32],
    contract: &Contract,
    props: &[(String, String)],
) -> Result<Vec<u8>> {
    let float = Float::new(arch, &weight)?;
    let mut g = Builder::default();
    let f32_scalar = |g: &mut Builder, name: &str, v: f32| {
        g.raw(name, &[], DataType::Float, v.to_le_bytes().to_vec())
    };
    let u8_scalar = |g: &mut Builder, name: &str, v: u8| g.raw(name, &[], DataType::Uint8, vec![v]);
    // The input: normalised pixels span [(0 − mean)/std, (1 − mean)/std].
    let lo = -contract.mean / contract.std;
    let hi = (1.0 - contract.mean) / contract.std;
    let s_in = (hi - lo) / 255.0;
    let zp_in = (-lo / s_in).round().clamp(0.0, 255.0) as u8;
    let sx = f32_scalar(&mut g, "input.scale", s_in);
    let zx = u8_scalar(&mut g, "input.zero_point", zp_in);
    let mut x = g.node("QuantizeLinear", "input", &[INPUT, &sx, &zx], vec![]);
    let (mut s_x, mut x_scale, mut x_zp) = (s_in, sx, zx);
    let zero_i8 = g.raw("zero_i8", &[], DataType::Int8, vec![0]);
    if ranges.len() != float.layers.len() {
        return Err(Error::Config(format!(
            "{} activation ranges for {} quantized layers",
            ranges.len(),
            float.layers.len()
        )));
    }
    for (k, l) in float.layers.iter().enumerate() {
        let (name, w, b, pool, stride) = (l.name, &l.weight, &l.bias, l.pool, l.stride as i64);
        let (wq, s_w) = quantize_weights(w)?;
        let mut dims: Vec<i64> = w.dims().iter().map(|&d| d as i64).collect();
        if dims.len() == 2 {
            // fc1 as a 1×1 convolution over [N, C·H·W, 1, 1].
            dims.extend([1, 1]);
            let shape: Vec<u8> = [0i64, -1, 1, 1]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            let shape = g.raw(&format!("{name}.shape"), &[4], DataType::Int64, shape);
            x = g.node("Reshape", name, &[&x, &shape], vec![]);
        }
        let wn = g.raw(&format!("{name}.weight_q"), &dims, DataType::Int8, wq);
        let ws = f32_scalar(&mut g, &format!("{name}.weight_scale"), s_w);
        let bias: Vec<u8> = b
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|v| ((v / (s_x * s_w)).round() as i32).to_le_bytes())
            .collect();
        let bn = g.raw(&format!("{name}.bias_q"), &[dims[0]], DataType::Int32, bias);
        let s_y = ranges[k] / 255.0;
        let ys = f32_scalar(&mut g, &format!("{name}.out_scale"), s_y);
        let yz = u8_scalar(&mut g, &format!("{name}.out_zero_point"), 0);
        let k_side = dims[2];
        x = g.node(
            "QLinearConv",
            name,
            &[&x, &x_scale, &x_zp, &wn, &ws, &zero_i8, &ys, &yz, &bn],
            vec![
                ints("kernel_shape", &[k_side, k_side]),
                ints("strides", &[stride, stride]),
                ints("pads", &[0; 4]),
                int("group", 1),
            ],
        );
        if pool {
            x = g.node(
                "MaxPool",
                "pool",
                &[&x],
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            );
        }
        (s_x, x_scale, x_zp) = (s_y, ys, yz);
    }
    let _ = s_x;
    x = g.node(
        "DequantizeLinear",
        &format!("{}_out", float.layers.last().map_or("input", |l| l.name)),
        &[&x, &x_scale, &x_zp],
        vec![],
    );
    x = g.node("Flatten", "flatten", &[&x], vec![int("axis", 1)]);
    let (last, w2, b2) = (float.last.0, &float.last.1, &float.last.2);
    let classes = w2.dim(0)? as i64;
    let f32_bytes = |t: &Tensor| -> Result<Vec<u8>> {
        Ok(t.flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect())
    };
    let w2n = g.raw(
        &format!("{last}.weight"),
        &[classes, w2.dim(D::Minus1)? as i64],
        DataType::Float,
        f32_bytes(w2)?,
    );
    let b2n = g.raw(
        &format!("{last}.bias"),
        &[classes],
        DataType::Float,
        f32_bytes(b2)?,
    );
    g.node("Gemm", last, &[&x, &w2n, &b2n], vec![int("transB", 1)]);
    Ok(finish(
        g,
        &format!("{} int8", arch.arch()),
        classes,
        contract,
        props,
    ))
}

/// The name of the network's last layer, which the INT8 export keeps in float.
fn last_layer(arch: &ArchConfig) -> &'static str {
    arch.steps()
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Dense { name, .. } => Some(*name),
            _ => None,
        })
        .unwrap_or("the last layer")
}

/// Training images the activation ranges are calibrated on.
const CALIBRATION: std::ops::Range<usize> = 0..2000;
/// Training images the calibration method is chosen on (never the test set): the last
/// 5,000 of the training set. The network was trained on them like on the rest, so they are
/// held back from calibration only, not from training; they tell the methods apart, while
/// the test set judges the result.
const VALIDATION: usize = 5_000;

/// The calibration images and the images the method is chosen on, from a training set of
/// any size: calibration takes the first [`CALIBRATION`], the choice the last [`VALIDATION`]
/// after them.
fn calibration_sets(train: &Digits, out: &std::path::Path) -> Result<(Digits, Digits)> {
    let n = train.len();
    if n <= CALIBRATION.end {
        return Err(Error::verification(
            out,
            format!(
                "the training set has {n} images; INT8 calibration needs more than {} ({} to \
                 calibrate on, the rest to choose the method on)",
                CALIBRATION.end, CALIBRATION.end
            ),
        ));
    }
    let choose = n.saturating_sub(VALIDATION).max(CALIBRATION.end)..n;
    Ok((slice(train, CALIBRATION), slice(train, choose)))
}
/// Largest accuracy an INT8 model may lose against its fp32 checkpoint.
pub const MAX_LOSS: f64 = 0.001;

fn slice(d: &Digits, r: std::ops::Range<usize>) -> Digits {
    let r = r.start.min(d.len())..r.end.min(d.len());
    Digits {
        images: d.images[r.start * PIXELS..r.end * PIXELS].to_vec(),
        labels: d.labels[r].to_vec(),
    }
}

/// Quantizes the checkpoint at `from` and writes the INT8 ONNX model to `out`: calibrates
/// by min-max and by percentiles, keeps the method most accurate (tract) on training images
/// not calibrated on, then requires the test accuracy under tract to be within [`MAX_LOSS`] of
/// the fp32 checkpoint's before anything is written.
pub fn export_int8(
    from: &std::path::Path,
    out: &std::path::Path,
    data: &crate::data::mnist::Mnist,
    min_confidence: Option<f32>,
) -> Result<(ExportReport, Calibration)> {
    let ckpt = crate::fit::checkpoint::load(from, &Device::Cpu)?;
    export_int8_checkpoint(&ckpt, from, out, data, min_confidence)
}

/// [`export_int8`] of a checkpoint already in memory (`from` names it in messages).
pub fn export_int8_checkpoint(
    ckpt: &crate::fit::checkpoint::Checkpoint,
    from: &std::path::Path,
    out: &std::path::Path,
    data: &crate::data::mnist::Mnist,
    min_confidence: Option<f32>,
) -> Result<(ExportReport, Calibration)> {
    let device = Device::Cpu;
    let (model, _) = ckpt.model(from, &device)?;
    let arch = ckpt.header.arch;
    let weight = |name: &str| ckpt.tensors.get(name).cloned();
    let contract = Contract {
        min_confidence,
        ..Contract::default()
    };
    let (calibration, validation) = calibration_sets(&data.train, out)?;
    let mut best: Option<(f64, Calibration, Vec<f32>)> = None;
    for how in [
        Calibration::MinMax,
        Calibration::Percentile(99.99),
        Calibration::Percentile(99.9),
    ] {
        let ranges = calibrate(&arch, weight, &calibration, how)?;
        let bytes = to_onnx_int8(&arch, weight, &ranges, &contract, &[])?;
        let v = crate::onnx::verify::verify(&bytes, out, &validation, None)?;
        tracing::info!(
            "calibration {how}: {:.2}% on {} training images not calibrated on",
            100.0 * v.accuracy,
            v.count
        );
        if best.as_ref().is_none_or(|b| v.accuracy > b.0) {
            best = Some((v.accuracy, how, ranges));
        }
    }
    let Some((_, how, ranges)) = best else {
        return Err(Error::verification(out, "no calibration was tried"));
    };
    let props = provenance(Provenance {
        arch: &arch,
        precision: "int8",
        pruning: ckpt.header.pruning_note(),
        quantization: format!(
            "static, QOperator, per-tensor symmetric i8 weights, u8 activations, {how} calibration on {} training images; {} in fp32",
            calibration.len(),
            last_layer(&arch)
        ),
        dataset: ckpt.header.dataset_sha256.clone().unwrap_or_else(|| data.sha256.clone()),
    });
    let draft = to_onnx_int8(&arch, weight, &ranges, &contract, &props)?;
    let checked = crate::onnx::verify::verify(&draft, out, &data.test, None)?;
    let candle = crate::measure::evaluate::evaluate(&model, &data.test, &device, 500)?;
    if checked.accuracy + MAX_LOSS < candle.accuracy {
        return Err(Error::verification(out, format!(
            "INT8 accuracy {:.2}% is more than {:.1} point under the fp32 model's {:.2}%; nothing written",
            100.0 * checked.accuracy,
            100.0 * MAX_LOSS,
            100.0 * candle.accuracy
        )));
    }
    let props = with_accuracy(props, checked.accuracy);
    let bytes = to_onnx_int8(&arch, weight, &ranges, &contract, &props)?;
    edge::infer::Classifier::from_bytes(&bytes, out)?;
    crate::atomic::write(out, &bytes)?;
    let verification = crate::onnx::verify::Verification {
        bytes: bytes.len(),
        ..checked
    };
    Ok((
        ExportReport {
            verification,
            candle_accuracy: candle.accuracy,
            candle,
        },
        how,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> Digits {
        Digits {
            images: vec![0; n * PIXELS],
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        }
    }

    /// With 55,000 or fewer training images the choice of method once had no images and
    /// `verify` panicked on the first of them.
    #[test]
    fn issue17_a_small_training_set_is_calibrated_and_chosen_on_or_refused_in_one_line() {
        let out = std::path::Path::new("m.onnx");
        for (n, chosen) in [(60_000, 5_000), (10_000, 5_000), (3_000, 1_000), (2_001, 1)] {
            let (cal, val) = calibration_sets(&digits(n), out).unwrap();
            assert_eq!((cal.len(), val.len()), (2_000, chosen), "{n} images");
        }
        let e = calibration_sets(&digits(2_000), out)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.onnx: the training set has 2000 images"),
            "{e}"
        );
    }
}

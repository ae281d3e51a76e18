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
use crate::model::ArchConfig;
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

/// The float layers of a seed or strided CNN, with weights as candle tensors.
struct Float {
    conv1: (Tensor, Tensor),
    conv2: (Tensor, Tensor),
    fc1: (Tensor, Tensor),
    fc2: (Tensor, Tensor),
    /// Stride of both convolutions: 1 (seed) or 2 (strided).
    stride: usize,
    /// Whether a 2×2 max-pool follows each convolution (seed).
    pool: bool,
}

impl Float {
    fn new(arch: &ArchConfig, weight: &impl Fn(&str) -> Option<Tensor>) -> Result<Self> {
        let (stride, pool) = match arch {
            ArchConfig::Seed(_) => (1, true),
            ArchConfig::Strided(_) => (2, false),
            ArchConfig::Light(_) => {
                return Err(Error::Config(
                    "INT8 export is for the seed and strided CNNs (dense convolutions)".into(),
                ))
            }
        };
        let pair = |n: &str| -> Result<(Tensor, Tensor)> {
            let get = |p: &str| {
                weight(&format!("{n}.{p}"))
                    .ok_or_else(|| Error::Weights(format!("{n}.{p} is missing")))
            };
            Ok((get("weight")?, get("bias")?))
        };
        Ok(Float {
            conv1: pair("conv1")?,
            conv2: pair("conv2")?,
            fc1: pair("fc1")?,
            fc2: pair("fc2")?,
            stride,
            pool,
        })
    }

    /// The three ReLU outputs for a batch `[N, 1, 28, 28]`.
    fn activations(&self, x: &Tensor) -> Result<[Tensor; 3]> {
        let conv = |x: &Tensor, (w, b): &(Tensor, Tensor)| -> Result<Tensor> {
            Ok(x.conv2d(w, 0, self.stride, 1, 1)?
                .broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?
                .relu()?)
        };
        let pool = |x: &Tensor| -> Result<Tensor> {
            Ok(if self.pool {
                x.max_pool2d(2)?
            } else {
                x.clone()
            })
        };
        let a1 = conv(x, &self.conv1)?;
        let a2 = conv(&pool(&a1)?, &self.conv2)?;
        let flat = pool(&a2)?.flatten_from(1)?;
        let a3 = flat
            .matmul(&self.fc1.0.t()?)?
            .broadcast_add(&self.fc1.1)?
            .relu()?;
        Ok([a1, a2, a3])
    }
}

/// Upper ends of the three activation ranges over `images` (u8, ink bright).
pub fn calibrate(
    arch: &ArchConfig,
    weight: impl Fn(&str) -> Option<Tensor>,
    images: &Digits,
    how: Calibration,
) -> Result<[f32; 3]> {
    let float = Float::new(arch, &weight)?;
    let mut values: [Vec<f32>; 3] = Default::default();
    let mut max = [0f32; 3];
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
            let mut out = [0f32; 3];
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
    ranges: [f32; 3],
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
    let stride = float.stride as i64;
    let layers: [(&str, &(Tensor, Tensor), bool, i64); 3] = [
        ("conv1", &float.conv1, float.pool, stride),
        ("conv2", &float.conv2, float.pool, stride),
        ("fc1", &float.fc1, false, 1),
    ];
    for (k, (name, (w, b), pool, stride)) in layers.into_iter().enumerate() {
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
        "fc1_out",
        &[&x, &x_scale, &x_zp],
        vec![],
    );
    x = g.node("Flatten", "flatten", &[&x], vec![int("axis", 1)]);
    let (w2, b2) = &float.fc2;
    let classes = w2.dim(0)? as i64;
    let f32_bytes = |t: &Tensor| -> Result<Vec<u8>> {
        Ok(t.flatten_all()?
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect())
    };
    let w2n = g.raw(
        "fc2.weight",
        &[classes, w2.dim(D::Minus1)? as i64],
        DataType::Float,
        f32_bytes(w2)?,
    );
    let b2n = g.raw("fc2.bias", &[classes], DataType::Float, f32_bytes(b2)?);
    g.node("Gemm", "fc2", &[&x, &w2n, &b2n], vec![int("transB", 1)]);
    Ok(finish(
        g,
        &format!("{} int8", arch.arch()),
        classes,
        contract,
        props,
    ))
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
    let mut best: Option<(f64, Calibration, [f32; 3])> = None;
    for how in [
        Calibration::MinMax,
        Calibration::Percentile(99.99),
        Calibration::Percentile(99.9),
    ] {
        let ranges = calibrate(&arch, weight, &calibration, how)?;
        let bytes = to_onnx_int8(&arch, weight, ranges, &contract, &[])?;
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
            "static, QOperator, per-tensor symmetric i8 weights, u8 activations, {how} calibration on {} training images; fc2 in fp32",
            calibration.len()
        ),
        dataset: ckpt.header.dataset_sha256.clone().unwrap_or_else(|| data.sha256.clone()),
    });
    let draft = to_onnx_int8(&arch, weight, ranges, &contract, &props)?;
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
    let bytes = to_onnx_int8(&arch, weight, ranges, &contract, &props)?;
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

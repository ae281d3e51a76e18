//! Checks an ONNX digit model with tract, the runtime the boards use: accuracy on the
//! official test images, agreement with candle's logits when the model it came from is at
//! hand, file size, parameters and batch-1 latency.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Module};
use edge::infer::Classifier;
use prost::Message;
use serde::Serialize;
use tract_onnx::pb::ModelProto;

use crate::data::batch;
use crate::data::mnist::{Digits, PIXELS};
use crate::error::{Error, Result};
use crate::measure::evaluate::{summarise, Evaluation};
use crate::measure::stats::median;
use crate::model::Model;

/// Largest difference allowed between tract's and candle's fp32 logits.
pub const LOGIT_TOLERANCE: f32 = 1e-4;

/// What verification measured.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    /// The model file.
    pub model: PathBuf,
    /// File size in bytes.
    pub bytes: usize,
    /// Parameters in the file's initializers.
    pub params: usize,
    /// Accuracy on the test images as computed by tract.
    pub accuracy: f64,
    /// Test images evaluated.
    pub count: usize,
    /// Per-class accuracy (tract).
    pub per_class: Vec<f64>,
    /// Largest |tract − candle| over all logits, when checked against candle.
    pub max_logit_diff: Option<f32>,
    /// Median tract latency of one image, microseconds.
    pub latency_us: f64,
    /// The tract evaluation, with its confusion matrix.
    #[serde(skip)]
    pub evaluation: Evaluation,
    /// tract's predicted class of every test image, in order.
    #[serde(skip)]
    pub predictions: Vec<u8>,
}

/// Verifies the ONNX `bytes` (named `path` in errors) on `test`; with `reference`, also
/// requires tract's logits to match candle's within [`LOGIT_TOLERANCE`].
pub fn verify(
    bytes: &[u8],
    path: &Path,
    test: &Digits,
    reference: Option<&Model>,
) -> Result<Verification> {
    if test.is_empty() {
        return Err(Error::verification(path, "no images to check it on"));
    }
    let classifier = Classifier::from_bytes(bytes, path)?;
    let mut confusion = vec![vec![0u32; 10]; 10];
    let mut max_diff: Option<f32> = None;
    let mut loss_sum = 0.0;
    let mut predictions = Vec::with_capacity(test.len());
    for start in (0..test.len()).step_by(500) {
        let end = (start + 500).min(test.len());
        let pixels = &test.images[start * PIXELS..end * PIXELS];
        let mut input = Vec::with_capacity(pixels.len());
        classifier.contract().normalise(pixels, &mut input);
        let logits = classifier.logits(&input)?;
        if let Some(model) = reference {
            let xs = batch::images(pixels.chunks(PIXELS), &Device::Cpu)?;
            let theirs = model.forward(&xs)?.flatten_all()?.to_vec1::<f32>()?;
            let d = logits
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            max_diff = Some(max_diff.unwrap_or(0.0).max(d));
        }
        for (row, &label) in logits.chunks(10).zip(&test.labels[start..end]) {
            let top = edge::infer::softmax_top(row);
            loss_sum -= (top.confidence.ln() + row[top.class] - row[label as usize]) as f64;
            confusion[label as usize][top.class] += 1;
            predictions.push(top.class as u8);
        }
    }
    if let Some(d) = max_diff {
        if d > LOGIT_TOLERANCE {
            return Err(Error::verification(
                path,
                format!("tract's logits differ from candle's by {d:e} (limit {LOGIT_TOLERANCE:e})"),
            ));
        }
    }
    let evaluation = summarise(confusion, loss_sum);
    let latency_us = latency(&classifier, test)?;
    Ok(Verification {
        model: path.to_path_buf(),
        bytes: bytes.len(),
        params: count_params(bytes, path)?,
        accuracy: evaluation.accuracy,
        count: evaluation.count,
        per_class: evaluation.per_class.clone(),
        max_logit_diff: max_diff,
        latency_us,
        evaluation,
        predictions,
    })
}

/// Median wall time of one batch-1 inference over 300 runs after 30 warm-up runs.
fn latency(classifier: &Classifier, test: &Digits) -> Result<f64> {
    let mut input = Vec::new();
    classifier.contract().normalise(test.image(0), &mut input);
    let mut times = Vec::with_capacity(300);
    for k in 0..330 {
        let t = Instant::now();
        classifier.logits(&input)?;
        if k >= 30 {
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(median(&times))
}

/// Parameters stored in an ONNX file's initializers.
pub fn count_params(bytes: &[u8], path: &Path) -> Result<usize> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| Error::model(path, format!("not an ONNX model ({e})")))?;
    let graph = model.graph.unwrap_or_default();
    Ok(graph
        .initializer
        .iter()
        .map(|t| t.dims.iter().product::<i64>().max(0) as usize)
        .sum())
}

/// What an export (fp32 or INT8) wrote and measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    /// The verification of the written file.
    #[serde(flatten)]
    pub verification: Verification,
    /// Accuracy of the candle model on the same images.
    pub candle_accuracy: f64,
    /// The candle model's full evaluation (per class, confusion matrix).
    #[serde(skip)]
    pub candle: crate::measure::evaluate::Evaluation,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty image set once panicked in the latency measurement (`test.image(0)`).
    #[test]
    fn issue17_verifying_on_no_images_is_an_error_not_a_panic() {
        let none = Digits {
            images: Vec::new(),
            labels: Vec::new(),
        };
        let e = verify(b"", Path::new("m.onnx"), &none, None).unwrap_err();
        assert!(matches!(e, Error::Verification { .. }), "{e}");
        assert_eq!(e.to_string(), "m.onnx: no images to check it on");
    }
}

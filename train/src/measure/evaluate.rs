//! Accuracy of a model on a set of digits: overall, per class, and the confusion matrix.

use candle_core::{DType, Device, Module, Tensor, D};
use serde::Serialize;

use crate::data::batch;
use crate::data::mnist::{Digits, CLASSES};
use crate::error::Result;

/// The result of [`evaluate`].
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Images evaluated.
    pub count: usize,
    /// Fraction classified right.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction right among the images of each true class.
    pub per_class: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u32>>,
}

/// Runs `model` over `digits` in batches of `batch` images.
pub fn evaluate(
    model: &dyn Module,
    digits: &Digits,
    device: &Device,
    batch: usize,
) -> Result<Evaluation> {
    let mut confusion = vec![vec![0u32; CLASSES]; CLASSES];
    let mut loss_sum = 0.0f64;
    let batch = batch.max(1);
    for start in (0..digits.len()).step_by(batch) {
        let end = (start + batch).min(digits.len());
        let xs = batch::images((start..end).map(|i| digits.image(i)), device)?;
        let ys = batch::labels(digits.labels[start..end].iter().copied(), device)?;
        let logits = model.forward(&xs)?;
        let loss = candle_nn::loss::cross_entropy(&logits, &ys)?.to_dtype(DType::F64)?;
        loss_sum += loss.to_scalar::<f64>()? * (end - start) as f64;
        let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        for (p, &t) in predicted.iter().zip(&digits.labels[start..end]) {
            confusion[t as usize][*p as usize] += 1;
        }
    }
    Ok(summarise(confusion, loss_sum))
}

/// Accuracy figures from a confusion matrix and the summed loss.
pub fn summarise(confusion: Vec<Vec<u32>>, loss_sum: f64) -> Evaluation {
    let count: u32 = confusion.iter().flatten().sum();
    let right: u32 = (0..CLASSES).map(|c| confusion[c][c]).sum();
    let per_class = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let n: u32 = row.iter().sum();
            if n == 0 {
                0.0
            } else {
                row[c] as f64 / n as f64
            }
        })
        .collect();
    Evaluation {
        count: count as usize,
        accuracy: if count == 0 {
            0.0
        } else {
            right as f64 / count as f64
        },
        loss: if count == 0 {
            0.0
        } else {
            loss_sum / count as f64
        },
        per_class,
        confusion,
    }
}

/// Predicted classes of `logits` `[N, 10]`.
pub fn predictions(logits: &Tensor) -> Result<Vec<u32>> {
    Ok(logits.argmax(D::Minus1)?.to_vec1::<u32>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_a_small_confusion_matrix() {
        let mut c = vec![vec![0u32; 10]; 10];
        c[0][0] = 3;
        c[0][6] = 1;
        c[1][1] = 4;
        let e = summarise(c, 8.0);
        assert_eq!(e.count, 8);
        assert!((e.accuracy - 7.0 / 8.0).abs() < 1e-12);
        assert!((e.per_class[0] - 0.75).abs() < 1e-12);
        assert!((e.per_class[1] - 1.0).abs() < 1e-12);
        assert!((e.loss - 1.0).abs() < 1e-12);
    }
}

//! Same answers everywhere: a model's logits `[N, classes]` on the official MNIST test digits,
//! written on one machine and compared on another (an x86_64 laptop against an aarch64 or
//! armv7 board, or qemu), so a cross build is checked on what users see: its predictions.

use std::fmt::Write as _;
use std::path::Path;

use crate::idx::PIXELS;
use crate::infer::{softmax_top, Classifier};
use crate::{Error, Result};

/// Images per tract run: the same on every machine, so each compares like with like.
pub const BATCH: usize = 500;

/// Logits of a model on a set of labelled digits, with the predicted classes.
#[derive(Clone, Debug, Default)]
pub struct TestRun {
    /// Classes per image.
    pub classes: usize,
    /// `[N × classes]` logits.
    pub logits: Vec<f32>,
    /// Predicted class of each image.
    pub predictions: Vec<u8>,
    /// True class of each image.
    pub labels: Vec<u8>,
}

impl TestRun {
    /// Fraction of images predicted right.
    pub fn accuracy(&self) -> f64 {
        let right = self
            .predictions
            .iter()
            .zip(&self.labels)
            .filter(|(p, l)| p == l)
            .count();
        right as f64 / self.labels.len().max(1) as f64
    }
}

/// Runs `classifier` on `images` (28×28, ink bright) in batches of [`BATCH`].
pub fn run(classifier: &Classifier, images: &[u8], labels: &[u8]) -> Result<TestRun> {
    let classes = classifier.contract().labels.len();
    let mut out = TestRun {
        classes,
        labels: labels.to_vec(),
        ..TestRun::default()
    };
    let mut input = Vec::with_capacity(BATCH * PIXELS);
    for chunk in images.chunks(BATCH * PIXELS) {
        input.clear();
        classifier.contract().normalise(chunk, &mut input);
        let logits = classifier.logits(&input)?;
        out.predictions
            .extend(logits.chunks(classes).map(|r| softmax_top(r).class as u8));
        out.logits.extend(logits);
    }
    Ok(out)
}

/// Writes one line per image: the prediction, then the logits (shortest exact decimal form).
pub fn write_logits(path: &Path, run: &TestRun) -> Result<()> {
    let mut text = String::with_capacity(run.logits.len() * 12);
    for (p, row) in run.predictions.iter().zip(run.logits.chunks(run.classes)) {
        let _ = write!(text, "{p}");
        for v in row {
            let _ = write!(text, " {v}");
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Reads a file of [`write_logits`]: predictions and `[N × classes]` logits.
pub fn read_logits(path: &Path, classes: usize) -> Result<(Vec<u8>, Vec<f32>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let (mut predictions, mut logits) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let bad = |what: &str| Error::data(path, format!("line {}: {what}", i + 1));
        let mut words = line.split_whitespace();
        let p = words
            .next()
            .and_then(|w| w.parse::<u8>().ok())
            .ok_or_else(|| bad("no predicted class"))?;
        let row = words
            .map(|w| w.parse::<f32>().map_err(|_| bad("a logit is not a number")))
            .collect::<Result<Vec<_>>>()?;
        if row.len() != classes {
            return Err(bad(&format!("{} logits, expected {classes}", row.len())));
        }
        predictions.push(p);
        logits.extend(row);
    }
    Ok((predictions, logits))
}

/// How a run agrees with a reference written elsewhere.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Agreement {
    /// Images compared.
    pub images: usize,
    /// Images whose predicted class differs.
    pub predictions_differ: usize,
    /// Largest absolute difference of any logit.
    pub max_logit_diff: f32,
}

/// Compares `run` with a reference file of [`write_logits`]; a different count is an error.
pub fn compare(run: &TestRun, reference: &Path) -> Result<Agreement> {
    let (predictions, logits) = read_logits(reference, run.classes)?;
    if predictions.len() != run.predictions.len() {
        return Err(Error::data(
            reference,
            format!(
                "holds {} images, this run {}",
                predictions.len(),
                run.predictions.len()
            ),
        ));
    }
    Ok(Agreement {
        images: predictions.len(),
        predictions_differ: predictions
            .iter()
            .zip(&run.predictions)
            .filter(|(a, b)| a != b)
            .count(),
        max_logit_diff: logits
            .iter()
            .zip(&run.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TestRun {
        TestRun {
            classes: 2,
            logits: vec![0.1, -2.5e-7, 3.0, 1.0 / 3.0],
            predictions: vec![0, 0],
            labels: vec![0, 1],
        }
    }

    #[test]
    fn logits_survive_the_file_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logits.txt");
        let run = sample();
        write_logits(&path, &run).unwrap();
        let (p, l) = read_logits(&path, 2).unwrap();
        assert_eq!(p, run.predictions);
        // Shortest round-trip decimals: the same f32 bits come back.
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&l), bits(&run.logits));
        assert!((run.accuracy() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn differences_are_counted_and_measured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.txt");
        write_logits(&path, &sample()).unwrap();
        let mut other = sample();
        other.logits[3] += 0.25;
        other.predictions[1] = 1;
        let a = compare(&other, &path).unwrap();
        assert_eq!((a.images, a.predictions_differ), (2, 1));
        assert!((a.max_logit_diff - 0.25).abs() < 1e-6);
    }

    #[test]
    fn a_malformed_reference_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, "0 0.5 0.5\n1 0.5 x\n").unwrap();
        let err = compare(&sample(), &path).unwrap_err().to_string();
        assert!(
            err.ends_with("bad.txt: line 2: a logit is not a number"),
            "{err}"
        );
    }
}

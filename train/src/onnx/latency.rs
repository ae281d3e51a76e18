//! Batch-1 latency of ONNX digit models side by side: tract (through the edge's
//! [`Classifier`], as the boards run it) for every model, and onnxruntime for the same files
//! when a python with it is given (`train/bench/ort_latency.py`). Models and runtimes take
//! turns within every round, so all see the same machine load; medians over rounds, and
//! ratios to the first model (the baseline), are reported.

use std::path::{Path, PathBuf};
use std::time::Instant;

use edge::infer::Classifier;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::stats::median;
use crate::script::Script;

/// Single-image inferences timed per model, runtime and round.
const RUNS: usize = 200;

/// The onnxruntime timing script, driven over its standard input.
const ORT_LATENCY: &str = include_str!("../../bench/ort_latency.py");

/// One model's latencies.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The ONNX file.
    pub model: PathBuf,
    /// File size.
    pub bytes: u64,
    /// Median over rounds of tract's median batch-1 latency, µs.
    pub tract_us: f64,
    /// `tract_us` over the first model's.
    pub tract_vs_first: f64,
    /// The same under onnxruntime (one thread), when measured.
    pub onnxruntime_us: Option<f64>,
    /// `tract_us` over the first model's onnxruntime latency.
    pub tract_vs_first_onnxruntime: Option<f64>,
    /// Every round's tract median.
    pub tract_rounds: Vec<f64>,
}

/// The side-by-side result.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    /// onnxruntime's version, when measured.
    pub onnxruntime: Option<String>,
    /// Rounds run.
    pub rounds: usize,
    /// One row per model, in the order given.
    pub rows: Vec<Row>,
}

/// Median tract latency of `RUNS` single-image inferences of `model` on `input`.
fn tract_us(model: &Classifier, input: &[f32]) -> Result<f64> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        model.logits(input)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(median(&times))
}

/// Measures `models` for `rounds` rounds; with `python`, onnxruntime takes its turn as well.
pub fn run(models: &[PathBuf], rounds: usize, python: Option<&Path>) -> Result<LatencyReport> {
    if models.is_empty() {
        return Err(Error::Config(
            "no models to time: name one or more ONNX files".into(),
        ));
    }
    let mut loaded = Vec::with_capacity(models.len());
    for path in models {
        let c = Classifier::load(path)?;
        let bytes = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        loaded.push((c, bytes));
    }
    let mut ort = match python {
        Some(p) => Some(Script::start(
            p,
            ORT_LATENCY,
            &[],
            "the onnxruntime timing script did not answer (is onnxruntime installed in this python?)",
        )?),
        None => None,
    };
    // The same digit-shaped pattern for every model, at the input size its contract names
    // (each normalises by its own contract).
    let inputs: Vec<Vec<f32>> = loaded
        .iter()
        .map(|(c, _)| {
            let side = c.contract().side;
            let pixels: Vec<u8> = (0..side * side)
                .map(|i| {
                    if (i / side + i % side) % 9 < 3 {
                        255
                    } else {
                        0
                    }
                })
                .collect();
            let mut v = Vec::new();
            c.contract().normalise(&pixels, &mut v);
            v
        })
        .collect();
    // One untimed round warms caches and tract's plans.
    for ((c, _), x) in loaded.iter().zip(&inputs) {
        tract_us(c, x)?;
    }
    let mut tract: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    let mut onnx: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
    for _ in 0..rounds.max(1) {
        for (k, ((c, _), x)) in loaded.iter().zip(&inputs).enumerate() {
            tract[k].push(tract_us(c, x)?);
            if let Some(s) = ort.as_mut() {
                onnx[k].push(s.ask_number(&format!("{RUNS} {}", models[k].display()), "us")?);
            }
        }
    }
    let first = median(&tract[0]);
    let first_ort = ort.as_ref().map(|_| median(&onnx[0]));
    let rows = models
        .iter()
        .zip(&loaded)
        .enumerate()
        .map(|(k, (model, (_, bytes)))| {
            let us = median(&tract[k]);
            Row {
                model: model.clone(),
                bytes: *bytes,
                tract_us: us,
                tract_vs_first: us / first,
                onnxruntime_us: ort.as_ref().map(|_| median(&onnx[k])),
                tract_vs_first_onnxruntime: first_ort.map(|o| us / o),
                tract_rounds: tract[k].clone(),
            }
        })
        .collect();
    Ok(LatencyReport {
        onnxruntime: ort.map(|s| s.hello["onnxruntime"].as_str().unwrap_or("?").to_string()),
        rounds: rounds.max(1),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty model list once panicked on the first model's median.
    #[test]
    fn issue17_timing_no_models_is_an_error_not_a_panic() {
        let e = run(&[], 1, None).unwrap_err().to_string();
        assert!(e.contains("no models to time"), "{e}");
    }
}

//! Training-step throughput: our step (our layers, forward, backward, our AdamW) against plain
//! candle (the same network through candle-nn's `Conv2d` and `max_pool2d`, with candle-nn's
//! `AdamW::backward_step`), alternated in one run so both see the same machine load.
//! With `pytorch` set, the same network and optimizer in PyTorch (`train/bench/pytorch_step.py`,
//! run by that python as a child process) takes its turn in every repeat too. Reports medians
//! over repeats.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use candle_nn::Optimizer as _;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::data::batch;
use crate::error::Result;
use crate::fit::device;
use crate::fit::optim::{self, OptimizerConfig};
use crate::fit::trainer::train_step;
use crate::measure::stats::median;
use crate::model::{ArchConfig, Model};
use crate::script::Script;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The network.
    pub arch: ArchConfig,
    /// Images per step.
    pub batch: usize,
    /// Timed steps per repeat.
    pub steps: usize,
    /// Untimed steps before the first repeat.
    pub warmup: usize,
    /// Repeats of each side; the median is reported.
    pub repeats: usize,
    /// A python with PyTorch, to measure PyTorch's step alongside (CPU only).
    pub pytorch: Option<PathBuf>,
    /// Leave plain candle out (to profile ours alone); its figures are then NaN.
    pub skip_candle: bool,
}

/// Throughput of both sides.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Architecture measured.
    pub arch: String,
    /// Device measured on.
    pub device: String,
    /// The CPU measured on, with the SIMD level detected (figures differ between CPUs).
    pub cpu: edge::machine::Cpu,
    /// Images per step.
    pub batch: usize,
    /// Median images per second of our training step.
    pub images_per_s: f64,
    /// Median images per second of plain candle's training step.
    pub baseline_images_per_s: f64,
    /// `images_per_s / baseline_images_per_s`.
    pub ratio: f64,
    /// Every repeat of ours.
    pub runs: Vec<f64>,
    /// Every repeat of the baseline.
    pub baseline_runs: Vec<f64>,
    /// PyTorch's side, when asked for.
    pub pytorch: Option<PyTorchReport>,
}

/// PyTorch's throughput on the same step.
#[derive(Clone, Debug, Serialize)]
pub struct PyTorchReport {
    /// PyTorch's version.
    pub version: String,
    /// Threads PyTorch used.
    pub threads: usize,
    /// Median images per second.
    pub images_per_s: f64,
    /// `images_per_s` of ours divided by PyTorch's: the target is ≥ 1.
    pub ratio: f64,
    /// Every repeat.
    pub runs: Vec<f64>,
}

/// The PyTorch step script, driven over its standard input.
const PYTORCH_STEP: &str = include_str!("../../bench/pytorch_step.py");

/// Starts the PyTorch step at `batch` images.
fn pytorch(program: &Path, batch: usize) -> Result<Script> {
    Script::start(
        program,
        PYTORCH_STEP,
        &[batch.to_string()],
        "the PyTorch step script did not answer (is torch installed? see train/bench/setup-pytorch.sh)",
    )
}

/// Runs the benchmark on random digits.
pub fn run(config: &BenchConfig, device: &Device) -> Result<BenchReport> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = config.batch.max(1);
    let pixels: Vec<u8> = (0..n * crate::data::mnist::PIXELS)
        .map(|_| rng.random::<u8>())
        .collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..10u8)).collect();

    let (model, varmap) = Model::fresh(&config.arch, 1, device)?;
    let mut ours = optim::build(&OptimizerConfig::default(), optim::named_vars(&varmap)?)?;
    let (base_model, base_varmap) = Model::fresh(&config.arch, 1, device)?;
    let d = OptimizerConfig::default();
    let params = candle_nn::ParamsAdamW {
        lr: 1e-3,
        beta1: d.beta1,
        beta2: d.beta2,
        eps: d.eps,
        weight_decay: d.weight_decay,
    };
    let mut theirs = candle_nn::AdamW::new(base_varmap.all_vars(), params)?;
    let xs = batch::images(pixels.chunks(crate::data::mnist::PIXELS), device)?;
    let ys = batch::labels(labels.iter().copied(), device)?;
    let mut baseline_step = || -> Result<()> {
        let loss = candle_nn::loss::cross_entropy(&base_model.forward_candle(&xs)?, &ys)?;
        theirs.backward_step(&loss)?;
        loss.to_scalar::<f32>()?;
        Ok(())
    };
    let mut torch = match &config.pytorch {
        Some(python) => Some(pytorch(python, n)?),
        None => None,
    };
    let mut our_step = || {
        train_step(
            &model,
            ours.as_mut(),
            &pixels,
            &labels,
            &[],
            n,
            1e-3,
            device,
            None,
        )
    };
    for _ in 0..config.warmup {
        our_step()?;
        if !config.skip_candle {
            baseline_step()?;
        }
    }
    if let Some(t) = torch.as_mut() {
        t.ask_number(&config.warmup.max(1).to_string(), "images_per_s")?;
    }
    let (mut runs, mut baseline_runs, mut torch_runs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..config.repeats.max(1) {
        let t = Instant::now();
        for _ in 0..config.steps.max(1) {
            our_step()?;
        }
        runs.push((config.steps.max(1) * n) as f64 / t.elapsed().as_secs_f64());
        if !config.skip_candle {
            let t = Instant::now();
            for _ in 0..config.steps.max(1) {
                baseline_step()?;
            }
            baseline_runs.push((config.steps.max(1) * n) as f64 / t.elapsed().as_secs_f64());
        }
        if let Some(t) = torch.as_mut() {
            torch_runs.push(t.ask_number(&config.steps.max(1).to_string(), "images_per_s")?);
        }
    }
    let images_per_s = median(&runs);
    let baseline_images_per_s = median(&baseline_runs);
    Ok(BenchReport {
        arch: config.arch.arch().to_string(),
        device: device::name(device),
        cpu: edge::machine::Cpu::detect(),
        batch: n,
        images_per_s,
        baseline_images_per_s,
        ratio: images_per_s / baseline_images_per_s,
        pytorch: torch.map(|t| PyTorchReport {
            version: t.hello["torch"].as_str().unwrap_or("?").to_string(),
            threads: t.hello["threads"].as_u64().unwrap_or(0) as usize,
            images_per_s: median(&torch_runs),
            ratio: images_per_s / median(&torch_runs),
            runs: torch_runs,
        }),
        runs,
        baseline_runs,
    })
}

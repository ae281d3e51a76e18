//! The training commands: `train`, `eval` (a checkpoint on the test set) and `bench` (the
//! training step against plain candle and PyTorch).

use std::path::Path;

use anyhow::Result;

use train::data::augment::{AugmentConfig, Handwriting};
use train::data::styles::Styles;
use train::fit::bench::{self, BenchConfig};
use train::fit::checkpoint;
use train::fit::config::TrainConfig;
use train::fit::optim::{OptimizerConfig, OptimizerKind};
use train::fit::trainer::{self, RunOptions};
use train::measure::evaluate::evaluate;
use train::{fit::device, measure::plot};

use crate::args::*;
use crate::load_data;

pub fn train_command(a: TrainArgs) -> Result<()> {
    let device = device::open(&a.device)?;
    let lr = a.lr.unwrap_or(match a.optimizer {
        OptimizerKind::Adamw => 2e-3,
        OptimizerKind::Sgd => 0.05,
    });
    if !(a.width > 0.0 && a.width <= 16.0) {
        anyhow::bail!("--width must be in (0, 16], got {}", a.width);
    }
    let config = TrainConfig {
        arch: a.arch.config().widened(a.width),
        epochs: a.epochs,
        batch: a.batch,
        accumulate: a.accumulate,
        optimizer: OptimizerConfig {
            kind: a.optimizer,
            weight_decay: a.weight_decay,
            momentum: a.momentum,
            ..Default::default()
        },
        lr,
        schedule: a.schedule,
        seed: a.seed,
        augment: (!a.no_augment).then(|| AugmentConfig {
            handwriting: a.handwriting.then(Handwriting::default),
            styles: a.styles.then(Styles::default),
            ..AugmentConfig::default()
        }),
        train_limit: a.train_limit,
        test_limit: a.test_limit,
        init: a.init,
        extra: a.extra,
        not_digits: a.not_digits,
        distill: a.teacher.map(|teacher| train::fit::config::Distill {
            teacher,
            weight: a.distill_weight,
            temperature: a.temperature,
            keep: a.keep,
        }),
    };
    let out = a
        .out
        .unwrap_or_else(|| Path::new("runs").join(a.arch.to_string()));
    let mnist = load_data(a.data)?;
    let opts = RunOptions {
        out: out.clone(),
        resume: a.resume,
        device,
        eval_batch: 500,
        progress: std::sync::Arc::new(crate::progress::Bars),
    };
    let outcome = trainer::train(config, &mnist, &opts)?;
    edge::say!(
        "{}: test accuracy {:.2}% after {} epochs; weights {}, metrics and pictures in {}",
        a.arch,
        100.0 * outcome.evaluation.accuracy,
        outcome.history.len(),
        outcome.weights.display(),
        out.display()
    );
    Ok(())
}

/// `train eval`.
pub fn eval(
    EvalArgs {
        checkpoint,
        data,
        json,
        confusion,
        device,
    }: EvalArgs,
) -> Result<()> {
    let device = device::open(&device)?;
    let ckpt = checkpoint::load(&checkpoint, &device)?;
    let (model, _) = ckpt.model(&checkpoint, &device)?;
    let mnist = load_data(data)?;
    let eval = evaluate(&model, &mnist.test, &device, 500)?;
    if let Some(path) = &confusion {
        plot::confusion(&eval, &format!("{}", checkpoint.display()), path)?;
    }
    if json {
        let mut v = serde_json::to_value(&eval)?;
        v["checkpoint"] = checkpoint.display().to_string().into();
        v["arch"] = ckpt.header.arch.arch().to_string().into();
        edge::say!("{v}");
    } else {
        edge::say!(
            "{}: {} on {} test images",
            checkpoint.display(),
            ckpt.header.arch.arch(),
            eval.count
        );
        edge::say!(
            "accuracy {:.2}%  loss {:.4}",
            100.0 * eval.accuracy,
            eval.loss
        );
        for (digit, acc) in eval.per_class.iter().enumerate() {
            edge::say!("  {digit}: {:.2}%", 100.0 * acc);
        }
    }
    Ok(())
}

/// `train bench`.
pub fn bench(
    BenchArgs {
        arch,
        batch,
        steps,
        warmup,
        repeats,
        json,
        device,
        pytorch,
        skip_candle,
    }: BenchArgs,
) -> Result<()> {
    let device = device::open(&device)?;
    let config = BenchConfig {
        arch: arch.config(),
        batch,
        steps,
        warmup,
        repeats,
        pytorch,
        skip_candle,
    };
    let report = bench::run(&config, &device)?;
    if json {
        edge::say!("{}", serde_json::to_string(&report)?);
    } else {
        edge::say!(
            "training step, {} at batch {} on {}, median of {} repeats:",
            report.arch,
            batch,
            report.device,
            repeats
        );
        edge::say!("  CPU {}", report.cpu);
        edge::say!(
            "  train (ours)          {:>8.0} images/s",
            report.images_per_s
        );
        edge::say!(
            "  plain candle AdamW    {:>8.0} images/s",
            report.baseline_images_per_s
        );
        edge::say!("  ratio                 {:>8.2}", report.ratio);
        if let Some(t) = &report.pytorch {
            edge::say!(
                "  PyTorch {:<8} {} threads {:>8.0} images/s",
                t.version,
                t.threads,
                t.images_per_s
            );
            edge::say!("  ratio to PyTorch      {:>8.2}", t.ratio);
        }
    }
    Ok(())
}

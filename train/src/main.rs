//! `train`: fetch MNIST, train, evaluate and benchmark digit CNNs. Parses arguments, calls the
//! library, prints results on standard output and the error chain on standard error.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use train::data::augment::AugmentConfig;
use train::data::fetch;
use train::data::mnist::{self, Mnist};
use train::fit::bench::{self, BenchConfig};
use train::fit::checkpoint;
use train::fit::config::TrainConfig;
use train::fit::optim::{OptimizerConfig, OptimizerKind};
use train::fit::schedule::Schedule;
use train::fit::trainer::{self, RunOptions};
use train::measure::evaluate::evaluate;
use train::model::Arch;
use train::{data::scene, fit::device, measure::plot, onnx::export, onnx::verify, ship::publish};

/// Folder MNIST is read from when neither --data nor MNIST_DIR says otherwise.
const DEFAULT_DATA: &str = "data/mnist";

#[derive(Parser)]
#[command(
    name = "train",
    version,
    about = "Train, evaluate and benchmark MNIST digit CNNs with candle"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `train scenes` renders.
#[derive(Clone, Copy, ValueEnum)]
enum SceneKind {
    Table,
    Pages,
    Sketch,
}

/// Which frames `train camera-digits` harvests from (never the `sketch` renderer: it stays a
/// check the model did not train on).
#[derive(Clone, Copy, ValueEnum)]
enum HarvestKind {
    Table,
    Pages,
}

#[derive(Subcommand)]
enum Command {
    /// Download the four official MNIST files and check their SHA-256 sums.
    Fetch {
        #[command(flatten)]
        data: DataArg,
        /// Mirror base URL to try, in order (repeatable); defaults to MNIST_MIRROR's, then the
        /// public mirrors.
        #[arg(long = "mirror")]
        mirrors: Vec<String>,
    },
    /// Train a network; writes checkpoint, metrics and pictures into --out.
    Train(TrainArgs),
    /// Accuracy of a checkpoint on the official 10,000 test images.
    Eval {
        /// Checkpoint or weights file (.safetensors) written by `train train`.
        #[arg(long)]
        checkpoint: PathBuf,
        #[command(flatten)]
        data: DataArg,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Also draw the confusion matrix into this PNG file.
        #[arg(long)]
        confusion: Option<PathBuf>,
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Images per second of the training step, ours beside plain candle's.
    Bench {
        #[arg(long, value_enum, default_value_t = Arch::Seed)]
        arch: Arch,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Timed steps per repeat.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = "cpu")]
        device: String,
        /// A python with PyTorch (train/bench/setup-pytorch.sh makes one): its training step of
        /// the same network takes its turn in every repeat.
        #[arg(long)]
        pytorch: Option<PathBuf>,
        /// Leave plain candle's turn out (to profile ours alone, e.g. under perf).
        #[arg(long)]
        skip_candle: bool,
    },
    /// Batch-1 latency of ONNX models side by side under tract (and onnxruntime, given a
    /// python with it); the first model is the baseline.
    Latency {
        /// ONNX models; the first is the baseline.
        #[arg(short, long = "model", required = true)]
        models: Vec<PathBuf>,
        /// Rounds in which every model (and runtime) takes a turn; medians are reported.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// A python with onnxruntime (CI's: ~/.cache/mnist-edge/ort-venv/bin/python).
        #[arg(long)]
        onnxruntime: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Ship a trained model into models/: weights, model card, pictures, manifest entry.
    Publish {
        /// The run's checkpoint or weights file.
        #[arg(long)]
        from: PathBuf,
        /// Name of the shipped model (files NAME.safetensors, NAME.md, ...).
        #[arg(long)]
        name: String,
        /// The models folder.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// The command that trained it, for the model card.
        #[arg(long)]
        command: String,
        /// Make it the default model of `edge`.
        #[arg(long)]
        default: bool,
        /// Ship the ONNX model quantized to INT8 (QOperator, calibrated, verified).
        #[arg(long)]
        int8: bool,
        /// The edge's confidence threshold for this model (stored in its ONNX metadata);
        /// choose it on scenes of the dev split, never the test split.
        #[arg(long)]
        min_confidence: Option<f32>,
        #[command(flatten)]
        data: DataArg,
    },
    /// Write a checkpoint as an ONNX model, verified with tract before it replaces anything.
    Export {
        /// Checkpoint or weights file (.safetensors).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The ONNX file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        json: bool,
    },
    /// Check any digit ONNX model with tract: accuracy, size, parameters, batch-1 latency.
    Verify {
        #[arg(long)]
        model: PathBuf,
        /// Write tract's predicted digit for each test image, one line, to this file.
        #[arg(long)]
        predictions: Option<PathBuf>,
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        json: bool,
    },
    /// Remove the weakest filters and units (L1 norm) of a seed checkpoint; fine-tune the
    /// result with `train train --init`.
    Prune {
        #[command(flatten)]
        data: DataArg,
        /// Seed checkpoint to prune.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Fraction of each layer's filters and units kept.
        #[arg(long, default_value_t = 0.5)]
        keep: f32,
        /// Where to write the pruned weights.
        #[arg(long)]
        out: PathBuf,
    },
    /// The whole host side: train (wide) → camera digits → fine-tune → prune → fine-tune →
    /// INT8 → verify → model card; finished stages are not redone when run again.
    Pipeline {
        #[command(flatten)]
        data: DataArg,
        /// Run folder.
        #[arg(long, default_value = "runs/pipeline")]
        out: PathBuf,
        /// Architecture trained first, then pruned.
        #[arg(long, value_enum, default_value_t = Arch::Strided)]
        arch: Arch,
        /// Train it this many times wider; pruning takes it back down.
        #[arg(long, default_value_t = 2.0)]
        width: f32,
        /// Epochs of the first training.
        #[arg(long, default_value_t = 12, alias = "seed-epochs")]
        epochs: usize,
        /// Scenes rendered for camera digits.
        #[arg(long, default_value_t = 3000)]
        scenes: usize,
        /// Epochs of fine-tuning on camera digits.
        #[arg(long, default_value_t = 2)]
        cam_epochs: usize,
        /// Fraction of filters and units kept by pruning.
        #[arg(long, default_value_t = 0.5)]
        keep: f32,
        /// Epochs of fine-tuning after pruning.
        #[arg(long, default_value_t = 8)]
        pruned_epochs: usize,
        /// Fine-tune on the camera scenes' marks that are not digits too (towards equal odds).
        #[arg(long)]
        not_digits: bool,
        /// Share of the unpruned network's outputs in that fine-tuning (distillation; 0: off).
        #[arg(long, default_value_t = 0.7)]
        distill_weight: f64,
        /// Use only the first N training images (smoke runs).
        #[arg(long)]
        train_limit: Option<usize>,
        /// The edge's confidence threshold for the model (stored in its metadata); with
        /// --not-digits it is 0.5 unless set, otherwise the edge's default.
        #[arg(long)]
        min_confidence: Option<f32>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Quantize a seed checkpoint to an INT8 ONNX model (QOperator form, run by tract on its
    /// integer kernels), verified before it replaces anything.
    Quantize {
        #[command(flatten)]
        data: DataArg,
        /// Seed checkpoint (fp32).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The ONNX file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Training digits as the edge sees them: MNIST training digits in camera-like scenes,
    /// found and normalised by the edge's code (for fine-tuning with `train train --extra`).
    CameraDigits {
        #[command(flatten)]
        data: DataArg,
        /// Folder for the IDX image and label files.
        #[arg(long)]
        out: PathBuf,
        /// Number of scenes to render (about 19 digits each).
        #[arg(long, default_value_t = 3000)]
        scenes: usize,
        /// `table`: digits on paper on a table; `pages`: notebook pages, with touching
        /// digits (and the segmenter's pieces of them).
        #[arg(long, value_enum, default_value_t = HarvestKind::Table)]
        kind: HarvestKind,
    },
    /// Camera-like scenes of MNIST test digits with ground truth, for `edge eval`.
    Scenes {
        #[command(flatten)]
        data: DataArg,
        /// Folder for the frames and truth.jsonl.
        #[arg(long)]
        out: PathBuf,
        /// `dev` for tuning, `test` for reported figures (disjoint digits and seeds).
        #[arg(long, value_enum, default_value_t = scene::Split::Test)]
        split: scene::Split,
        /// Number of frames.
        #[arg(long, default_value_t = 200)]
        count: usize,
        /// Frame width and height.
        #[arg(long, num_args = 2, value_names = ["W", "H"], default_values_t = [640u32, 480])]
        size: Vec<u32>,
        /// `table`: sheets on a table, digits spaced apart; `pages`: notebook pages (paper,
        /// pen, size, spacing, light drawn per page); `sketch`: the same pages from the second,
        /// independent renderer, as a check.
        #[arg(long, value_enum, default_value_t = SceneKind::Table)]
        kind: SceneKind,
    },
    /// Parameters and multiply-accumulates of each architecture, layer by layer.
    Archs {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DataArg {
    /// Folder with the MNIST IDX files, gzipped or raw [env: MNIST_DIR] [default: data/mnist]
    #[arg(long, env = "MNIST_DIR", hide_env = true)]
    data: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArg,
    #[arg(long, value_enum, default_value_t = Arch::Seed)]
    arch: Arch,
    /// Multiply the architecture's channel and unit counts by this (e.g. 2: train wide, then prune).
    #[arg(long, default_value_t = 1.0)]
    width: f32,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Images per optimizer step (the effective batch).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Split each step into N micro-batches and sum their gradients.
    #[arg(long, default_value_t = 1)]
    accumulate: usize,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    optimizer: OptimizerKind,
    /// Peak learning rate [default: 2e-3 for adamw, 0.05 for sgd]
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, value_enum, default_value_t = Schedule::Onecycle)]
    schedule: Schedule,
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train on the images as they are, without random rotation and shift.
    #[arg(long)]
    no_augment: bool,
    /// Output folder [default: runs/ARCH]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run whose checkpoint is in --out.
    #[arg(long)]
    resume: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Use only the first N training images (smoke runs).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Use only the first N test images (smoke runs).
    #[arg(long)]
    test_limit: Option<usize>,
    /// Fine-tune: start from this checkpoint's weights (its architecture wins over --arch).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Add the training digits of this folder (written by `train camera-digits`).
    #[arg(long)]
    extra: Option<PathBuf>,
    /// Train on --extra's marks that are not digits too, towards equal odds for every digit.
    #[arg(long, requires = "extra")]
    not_digits: bool,
    /// Distil from this checkpoint: learn its softened outputs as well as the labels.
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// Share of the teacher's term in the loss.
    #[arg(long, default_value_t = 0.7, requires = "teacher")]
    distill_weight: f64,
    /// Temperature that softens the teacher's and student's outputs.
    #[arg(long, default_value_t = 4.0, requires = "teacher")]
    temperature: f64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fetch { data, mirrors } => {
            let dir = data.data.unwrap_or_else(|| DEFAULT_DATA.into());
            let mirrors = if mirrors.is_empty() {
                fetch::mirrors()
            } else {
                mirrors
            };
            for (name, outcome) in fetch::fetch(&dir, &mirrors)? {
                match outcome {
                    fetch::Outcome::Present => edge::say!("{name}: present, checksum ok"),
                    fetch::Outcome::Downloaded(url) => {
                        edge::say!("{name}: downloaded from {url}, checksum ok")
                    }
                }
            }
            Ok(())
        }
        Command::Train(args) => train_command(args),
        Command::Eval {
            checkpoint,
            data,
            json,
            confusion,
            device,
        } => {
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
        Command::Latency {
            models,
            rounds,
            onnxruntime,
            json,
        } => {
            let report = train::onnx::latency::run(&models, rounds, onnxruntime.as_deref())?;
            if json {
                edge::say!("{}", serde_json::to_string(&report)?);
                return Ok(());
            }
            edge::say!(
                "batch-1 latency, median of {} rounds of 200 runs, one thread{}",
                report.rounds,
                report
                    .onnxruntime
                    .as_ref()
                    .map(|v| format!("; onnxruntime {v}"))
                    .unwrap_or_default()
            );
            edge::say!(
                "{:<34} {:>9} {:>10} {:>9} {:>13} {:>13}",
                "model",
                "bytes",
                "tract µs",
                "vs first",
                "onnxrt µs",
                "vs first ort"
            );
            for r in &report.rows {
                edge::say!(
                    "{:<34} {:>9} {:>10.1} {:>8.2}× {:>13} {:>13}",
                    r.model.display(),
                    r.bytes,
                    r.tract_us,
                    r.tract_vs_first,
                    r.onnxruntime_us
                        .map(|u| format!("{u:.1}"))
                        .unwrap_or_default(),
                    r.tract_vs_first_onnxruntime
                        .map(|x| format!("{x:.2}×"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Bench {
            arch,
            batch,
            steps,
            warmup,
            repeats,
            json,
            device,
            pytorch,
            skip_candle,
        } => {
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
        Command::Publish {
            from,
            name,
            models,
            command,
            default,
            int8,
            min_confidence,
            data,
        } => {
            if min_confidence.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                anyhow::bail!("--min-confidence must be a probability in [0, 1]");
            }
            let mnist = load_data(data)?;
            let p = publish::Publish {
                from,
                name,
                models,
                command,
                default,
                int8,
                min_confidence,
            };
            let entry = publish::publish(&p, &mnist, &candle_core::Device::Cpu)?;
            edge::say!("{}", serde_json::to_string_pretty(&entry)?);
            Ok(())
        }
        Command::Export {
            checkpoint,
            out,
            data,
            json,
        } => {
            let mnist = load_data(data)?;
            let report = export::export(&checkpoint, &out, &mnist, None)?;
            if json {
                edge::say!("{}", serde_json::to_string(&report)?);
            } else {
                let v = &report.verification;
                edge::say!(
                    "{}: {} bytes, {} parameters",
                    out.display(),
                    v.bytes,
                    v.params
                );
                edge::say!(
                    "  tract accuracy {:.2}% (candle {:.2}%), logits within {:.1e} of candle's",
                    100.0 * v.accuracy,
                    100.0 * report.candle_accuracy,
                    v.max_logit_diff.unwrap_or(0.0)
                );
                edge::say!("  tract batch-1 latency {:.0} µs (median)", v.latency_us);
            }
            Ok(())
        }
        Command::Verify {
            model,
            predictions,
            data,
            json,
        } => {
            let mnist = load_data(data)?;
            let bytes = std::fs::read(&model).with_context(|| model.display().to_string())?;
            let v = verify::verify(&bytes, &model, &mnist.test, None)?;
            if let Some(path) = predictions {
                let line: String = v.predictions.iter().map(|p| char::from(b'0' + p)).collect();
                std::fs::write(&path, line + "\n").with_context(|| path.display().to_string())?;
            }
            if json {
                edge::say!("{}", serde_json::to_string(&v)?);
            } else {
                edge::say!(
                    "{}: {} bytes, {} parameters",
                    model.display(),
                    v.bytes,
                    v.params
                );
                edge::say!(
                    "  tract accuracy {:.2}% on {} test images",
                    100.0 * v.accuracy,
                    v.count
                );
                edge::say!("  tract batch-1 latency {:.0} µs (median)", v.latency_us);
            }
            Ok(())
        }
        Command::Scenes {
            data,
            out,
            split,
            count,
            size,
            kind,
        } => {
            let mnist = load_data(data)?;
            let (width, height) = (size[0].max(64), size[1].max(64));
            let style = match kind {
                SceneKind::Table => None,
                SceneKind::Pages => Some(train::data::page::Style::Notebook),
                SceneKind::Sketch => Some(train::data::page::Style::Sketch),
            };
            let truths = match style {
                None => {
                    let cfg = scene::SceneConfig {
                        count,
                        width,
                        height,
                        split,
                    };
                    scene::generate(&mnist, &out, &cfg)?
                }
                Some(style) => {
                    let cfg = train::data::page::PageConfig {
                        count,
                        width,
                        height,
                        split,
                        style,
                    };
                    train::data::page::generate(&mnist, &out, &cfg)?
                }
            };
            let digits: usize = truths.iter().map(|t| t.digits.len()).sum();
            let numbers: usize = truths.iter().map(|t| t.numbers.len()).sum();
            edge::say!(
                "{}: {} frames, {digits} digits in {numbers} numbers",
                out.display(),
                truths.len()
            );
            Ok(())
        }
        Command::Prune {
            data,
            checkpoint: from,
            keep,
            out,
        } => {
            let device = candle_core::Device::Cpu;
            let ckpt = checkpoint::load(&from, &device)?;
            let pruned = train::compress::prune::prune(&ckpt, keep, &device)?;
            let (model, varmap) = pruned.model(&out, &device)?;
            checkpoint::save(&out, &pruned.header, &varmap, None)?;
            let mnist = load_data(data)?;
            let eval = evaluate(&model, &mnist.test, &device, 500)?;
            let (before, after) = (ckpt.header.arch.cost(), pruned.header.arch.cost());
            edge::say!(
                "{}: {:?}, {} parameters ({:.0}%), {} MACs ({:.0}%), {:.2}% before fine-tuning",
                out.display(),
                pruned.header.arch,
                after.params,
                100.0 * after.params as f64 / before.params as f64,
                after.macs,
                100.0 * after.macs as f64 / before.macs as f64,
                100.0 * eval.accuracy
            );
            Ok(())
        }
        Command::Pipeline {
            data,
            out,
            arch,
            width,
            epochs,
            scenes,
            cam_epochs,
            keep,
            pruned_epochs,
            distill_weight,
            not_digits,
            train_limit,
            min_confidence,
            json,
        } => {
            if min_confidence.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                anyhow::bail!("--min-confidence must be a probability in [0, 1]");
            }
            let mnist = load_data(data)?;
            let cfg = train::ship::pipeline::PipelineConfig {
                out,
                arch,
                width,
                epochs,
                scenes,
                cam_epochs,
                keep,
                pruned_epochs,
                distill_weight,
                not_digits,
                train_limit,
                min_confidence,
            };
            let stages = train::ship::pipeline::run(&cfg, &mnist)?;
            if json {
                edge::say!("{}", serde_json::to_string(&stages)?);
            } else {
                edge::say!(
                    "{:<28} {:>9} {:>9} {:>10} {:>8}  output",
                    "stage",
                    "accuracy",
                    "params",
                    "bytes",
                    "seconds"
                );
                for s in &stages {
                    edge::say!(
                        "{:<28} {:>9} {:>9} {:>10} {:>8}  {}{}",
                        s.name,
                        s.accuracy
                            .map(|a| format!("{:.2}%", 100.0 * a))
                            .unwrap_or_default(),
                        s.params.map(|p| p.to_string()).unwrap_or_default(),
                        s.bytes.map(|b| b.to_string()).unwrap_or_default(),
                        format!("{:.0}", s.seconds),
                        s.output.display(),
                        if s.skipped { " (done before)" } else { "" }
                    );
                }
            }
            Ok(())
        }
        Command::Quantize {
            data,
            checkpoint: from,
            out,
        } => {
            let mnist = load_data(data)?;
            let (report, how) = train::compress::quantize::export_int8(&from, &out, &mnist, None)?;
            let v = &report.verification;
            edge::say!(
                "{}: INT8 ({how} calibration), {} bytes, tract accuracy {:.2}% (fp32 checkpoint {:.2}%), tract batch-1 {:.0} µs",
                out.display(),
                v.bytes,
                100.0 * v.accuracy,
                100.0 * report.candle_accuracy,
                v.latency_us
            );
            Ok(())
        }
        Command::CameraDigits {
            data,
            out,
            scenes,
            kind,
        } => {
            let mnist = load_data(data)?;
            let got = match kind {
                HarvestKind::Table => train::data::harvest::harvest(&mnist, scenes)?,
                HarvestKind::Pages => train::data::harvest::harvest_pages(&mnist, scenes)?,
            };
            mnist::write_extra(&out, &got.digits, &got.not_digits)?;
            edge::say!(
                "{}: {} digits kept of {} written in {scenes} scenes ({} of them cut from touching digits), and {} marks that are not digits",
                out.display(),
                got.digits.len(),
                got.written,
                got.pieces,
                got.not_digits.len() / mnist::PIXELS
            );
            Ok(())
        }
        Command::Archs { json } => {
            let costs: Vec<_> = <Arch as clap::ValueEnum>::value_variants()
                .iter()
                .map(|a| (a.to_string(), a.config().cost()))
                .collect();
            if json {
                let v: serde_json::Map<String, serde_json::Value> = costs
                    .into_iter()
                    .map(|(a, c)| Ok((a, serde_json::to_value(c)?)))
                    .collect::<Result<_>>()?;
                edge::say!("{}", serde_json::Value::Object(v));
            } else {
                for (arch, cost) in costs {
                    edge::say!(
                        "{arch}: {} parameters, {} MACs per image",
                        cost.params,
                        cost.macs
                    );
                    for l in cost.layers {
                        edge::say!(
                            "  {:<10} {:>8} params {:>10} MACs",
                            l.name,
                            l.params,
                            l.macs
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

fn train_command(a: TrainArgs) -> Result<()> {
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
        augment: (!a.no_augment).then(AugmentConfig::default),
        train_limit: a.train_limit,
        test_limit: a.test_limit,
        init: a.init,
        extra: a.extra,
        not_digits: a.not_digits,
        distill: a.teacher.map(|teacher| train::fit::config::Distill {
            teacher,
            weight: a.distill_weight,
            temperature: a.temperature,
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

/// Loads MNIST from --data, MNIST_DIR or the default folder; the default folder is filled
/// from the public mirrors when it holds none of the files (a fresh machine).
fn load_data(arg: DataArg) -> Result<Mnist> {
    let (dir, is_default) = match arg.data {
        Some(d) => (d, false),
        None => (PathBuf::from(DEFAULT_DATA), true),
    };
    if is_default && mnist::is_absent(&dir) {
        tracing::info!("no MNIST in {}: downloading it", dir.display());
        fetch::fetch(&dir, &fetch::mirrors()).context("fetching MNIST")?;
    }
    Ok(mnist::load(&dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Each subcommand's help opens with its own line: `prune` once showed the line meant for
    /// `archs`, and `archs` had none.
    #[test]
    fn issue17_every_subcommand_has_its_own_help_line() {
        let cli = Cli::command();
        let about = |name: &str| {
            cli.find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default()
        };
        assert!(about("prune").starts_with("Remove the weakest filters"));
        assert!(about("archs").starts_with("Parameters and multiply-accumulates"));
        let mut seen = std::collections::HashSet::new();
        for sub in cli.get_subcommands() {
            let line = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(
                !line.is_empty(),
                "`train {}` has no help line",
                sub.get_name()
            );
            assert!(
                seen.insert(line),
                "`train {}` repeats a help line",
                sub.get_name()
            );
        }
    }
}

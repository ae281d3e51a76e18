//! The command line of `train`: its subcommands and their options. Parsing only; the
//! commands are in [`crate::data`], [`crate::fit`] and [`crate::ship`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use train::data::scene;
use train::fit::optim::OptimizerKind;
use train::fit::schedule::Schedule;
use train::model::Arch;

#[derive(Parser)]
#[command(
    name = "train",
    version,
    about = "Train, evaluate and benchmark MNIST digit CNNs with candle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `train scenes` renders.
#[derive(Clone, Copy, ValueEnum)]
pub enum SceneKind {
    Table,
    Pages,
    Sketch,
}

/// Which frames `train camera-digits` harvests from (never the `sketch` renderer: it stays a
/// check the model did not train on).
#[derive(Clone, Copy, ValueEnum)]
pub enum HarvestKind {
    Table,
    Pages,
}

#[derive(Subcommand)]
pub enum Command {
    /// Download the four official MNIST files and check their SHA-256 sums.
    Fetch(FetchArgs),
    /// Train a network; writes checkpoint, metrics and pictures into --out.
    Train(TrainArgs),
    /// Accuracy of a checkpoint on the official 10,000 test images.
    Eval(EvalArgs),
    /// Images per second of the training step, ours beside plain candle's.
    Bench(BenchArgs),
    /// Batch-1 latency of ONNX models side by side under tract (and onnxruntime, given a
    /// python with it); the first model is the baseline.
    Latency(LatencyArgs),
    /// Ship a trained model into models/: weights, model card, pictures, manifest entry.
    Publish(PublishArgs),
    /// Write a checkpoint as an ONNX model, verified with tract before it replaces anything.
    Export(ExportArgs),
    /// Check any digit ONNX model with tract: accuracy, size, parameters, batch-1 latency.
    Verify(VerifyArgs),
    /// Remove the weakest filters and units (L1 norm) of a seed checkpoint; fine-tune the
    /// result with `train train --init`.
    Prune(PruneArgs),
    /// The whole host side: train (wide) → camera digits → fine-tune → prune → fine-tune →
    /// INT8 → verify → model card; finished stages are not redone when run again.
    Pipeline(PipelineArgs),
    /// Quantize a seed checkpoint to an INT8 ONNX model (QOperator form, run by tract on its
    /// integer kernels), verified before it replaces anything.
    Quantize(QuantizeArgs),
    /// Training digits as the edge sees them: MNIST training digits in camera-like scenes,
    /// found and normalised by the edge's code (for fine-tuning with `train train --extra`).
    CameraDigits(CameraDigitsArgs),
    /// Camera-like scenes of MNIST test digits with ground truth, for `edge eval`.
    Scenes(ScenesArgs),
    /// Parameters and multiply-accumulates of each architecture, layer by layer.
    Archs(ArchsArgs),
}

#[derive(Args)]
pub struct DataArg {
    /// Folder with the MNIST IDX files, gzipped or raw [env: MNIST_DIR] [default: data/mnist]
    #[arg(long, env = "MNIST_DIR", hide_env = true)]
    pub data: Option<PathBuf>,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArg,
    #[arg(long, value_enum, default_value_t = Arch::Seed)]
    pub arch: Arch,
    /// Multiply the architecture's channel and unit counts by this (e.g. 2: train wide, then prune).
    #[arg(long, default_value_t = 1.0)]
    pub width: f32,
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Images per optimizer step (the effective batch).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Split each step into N micro-batches and sum their gradients.
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adamw)]
    pub optimizer: OptimizerKind,
    /// Peak learning rate [default: 2e-3 for adamw, 0.05 for sgd]
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, value_enum, default_value_t = Schedule::Onecycle)]
    pub schedule: Schedule,
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Train on the images as they are, without random rotation and shift.
    #[arg(long)]
    pub no_augment: bool,
    /// Vary the training digits as other hands and pens do: slant (±0.3), thicker and thinner
    /// strokes, a smooth wobble of up to 1.5 pixels
    #[arg(long, conflicts_with = "no_augment")]
    pub handwriting: bool,
    /// Draw the styles much of Europe and Asia writes and MNIST seldom has: a crossbar
    /// through 3 in 10 sevens, a flag on 3 in 10 ones (half of them with a foot), and 3 in 10
    /// open fours closed at the top
    #[arg(long, conflicts_with = "no_augment")]
    pub styles: bool,
    /// Output folder [default: runs/ARCH]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run whose checkpoint is in --out.
    #[arg(long)]
    pub resume: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Use only the first N training images (smoke runs).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Use only the first N test images (smoke runs).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Fine-tune: start from this checkpoint's weights (its architecture wins over --arch).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Add the training digits of this folder (written by `train camera-digits`).
    #[arg(long)]
    pub extra: Option<PathBuf>,
    /// Train on --extra's marks that are not digits too, towards equal odds for every digit.
    #[arg(long, requires = "extra")]
    pub not_digits: bool,
    /// Distil from this checkpoint: learn its softened outputs as well as the labels.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Share of the teacher's term in the loss.
    #[arg(long, default_value_t = 0.7, requires = "teacher")]
    pub distill_weight: f64,
    /// Temperature that softens the teacher's and student's outputs.
    #[arg(long, default_value_t = 4.0, requires = "teacher")]
    pub temperature: f64,
    /// Distil MNIST's own images from this checkpoint instead (usually --init's), the extra
    /// digits from --teacher: the fine-tuned network keeps what it read before.
    #[arg(long, requires = "teacher")]
    pub keep: Option<PathBuf>,
}

/// Options of `train fetch`.
#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Mirror base URL to try, in order (repeatable); defaults to MNIST_MIRROR's, then the
    /// public mirrors.
    #[arg(long = "mirror")]
    pub mirrors: Vec<String>,
}

/// Options of `train eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Checkpoint or weights file (.safetensors) written by `train train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the confusion matrix into this PNG file.
    #[arg(long)]
    pub confusion: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Options of `train bench`.
#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value_t = Arch::Seed)]
    pub arch: Arch,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// A python with PyTorch (train/bench/setup-pytorch.sh makes one): its training step of
    /// the same network takes its turn in every repeat.
    #[arg(long)]
    pub pytorch: Option<PathBuf>,
    /// Leave plain candle's turn out (to profile ours alone, e.g. under perf).
    #[arg(long)]
    pub skip_candle: bool,
}

/// Options of `train latency`.
#[derive(Args)]
pub struct LatencyArgs {
    /// ONNX models; the first is the baseline.
    #[arg(short, long = "model", required = true)]
    pub models: Vec<PathBuf>,
    /// Rounds in which every model (and runtime) takes a turn; medians are reported.
    #[arg(long, default_value_t = 7)]
    pub rounds: usize,
    /// A python with onnxruntime (CI's: ~/.cache/mnist-edge/ort-venv/bin/python).
    #[arg(long)]
    pub onnxruntime: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Options of `train publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The run's checkpoint or weights file.
    #[arg(long)]
    pub from: PathBuf,
    /// Name of the shipped model (files NAME.safetensors, NAME.md, ...).
    #[arg(long)]
    pub name: String,
    /// The models folder.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// The command that trained it, for the model card.
    #[arg(long)]
    pub command: String,
    /// Make it the default model of `edge`.
    #[arg(long)]
    pub default: bool,
    /// Ship the ONNX model quantized to INT8 (QOperator, calibrated, verified).
    #[arg(long)]
    pub int8: bool,
    /// The edge's confidence threshold for this model (stored in its ONNX metadata);
    /// choose it on scenes of the dev split, never the test split.
    #[arg(long, value_parser = edge::contract::parse_probability)]
    pub min_confidence: Option<f32>,
    #[command(flatten)]
    pub data: DataArg,
}

/// Options of `train export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Checkpoint or weights file (.safetensors).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The ONNX file to write.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub data: DataArg,
    #[arg(long)]
    pub json: bool,
}

/// Options of `train verify`.
#[derive(Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// Write tract's predicted digit for each test image, one line, to this file.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArg,
    #[arg(long)]
    pub json: bool,
}

/// Options of `train prune`.
#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Seed checkpoint to prune.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Fraction of each layer's filters and units kept.
    #[arg(long, default_value_t = 0.5)]
    pub keep: f32,
    /// Where to write the pruned weights.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `train pipeline`.
#[derive(Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Run folder.
    #[arg(long, default_value = "runs/pipeline")]
    pub out: PathBuf,
    /// Architecture trained first, then pruned.
    #[arg(long, value_enum, default_value_t = Arch::Strided)]
    pub arch: Arch,
    /// Train it this many times wider; pruning takes it back down.
    #[arg(long, default_value_t = 2.0)]
    pub width: f32,
    /// Epochs of the first training.
    #[arg(long, default_value_t = 12, alias = "seed-epochs")]
    pub epochs: usize,
    /// Scenes rendered for camera digits.
    #[arg(long, default_value_t = 3000)]
    pub scenes: usize,
    /// Epochs of fine-tuning on camera digits.
    #[arg(long, default_value_t = 2)]
    pub cam_epochs: usize,
    /// Fraction of filters and units kept by pruning.
    #[arg(long, default_value_t = 0.5)]
    pub keep: f32,
    /// Epochs of fine-tuning after pruning.
    #[arg(long, default_value_t = 8)]
    pub pruned_epochs: usize,
    /// Fine-tune on the camera scenes' marks that are not digits too (towards equal odds).
    #[arg(long)]
    pub not_digits: bool,
    /// Share of the unpruned network's outputs in that fine-tuning (distillation; 0: off).
    #[arg(long, default_value_t = 0.7)]
    pub distill_weight: f64,
    /// Use only the first N training images (smoke runs).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// The edge's confidence threshold for the model (stored in its metadata); with
    /// --not-digits it is 0.5 unless set, otherwise the edge's default.
    #[arg(long, value_parser = edge::contract::parse_probability)]
    pub min_confidence: Option<f32>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `train quantize`.
#[derive(Args)]
pub struct QuantizeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Seed checkpoint (fp32).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The ONNX file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `train camera-digits`.
#[derive(Args)]
pub struct CameraDigitsArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Folder for the IDX image and label files.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of scenes to render (about 19 digits each).
    #[arg(long, default_value_t = 3000)]
    pub scenes: usize,
    /// `table`: digits on paper on a table; `pages`: notebook pages, with touching
    /// digits (and the segmenter's pieces of them).
    #[arg(long, value_enum, default_value_t = HarvestKind::Table)]
    pub kind: HarvestKind,
}

/// Options of `train scenes`.
#[derive(Args)]
pub struct ScenesArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Folder for the frames and truth.jsonl.
    #[arg(long)]
    pub out: PathBuf,
    /// `dev` for tuning, `test` for reported figures (disjoint digits and seeds).
    #[arg(long, value_enum, default_value_t = scene::Split::Test)]
    pub split: scene::Split,
    /// Number of frames.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Frame width and height.
    #[arg(long, num_args = 2, value_names = ["W", "H"], default_values_t = [640u32, 480])]
    pub size: Vec<u32>,
    /// `table`: sheets on a table, digits spaced apart; `pages`: notebook pages (paper,
    /// pen, size, spacing, light drawn per page); `sketch`: the same pages from the second,
    /// independent renderer, as a check.
    #[arg(long, value_enum, default_value_t = SceneKind::Table)]
    pub kind: SceneKind,
}

/// Options of `train archs`.
#[derive(Args)]
pub struct ArchsArgs {
    /// Print them as JSON.
    #[arg(long)]
    pub json: bool,
}

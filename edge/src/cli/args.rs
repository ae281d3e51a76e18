//! The command line of `edge`: its subcommands, their options and the parsers of option
//! values. Parsing only; `main.rs` runs what it asks for.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use edge::capture;

#[derive(Parser)]
#[command(
    name = "edge",
    version,
    about = "Read handwritten digits from a camera, image files or an MJPEG stream"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Clone)]
pub struct ModelArgs {
    /// ONNX digit model; without it, the default model of models/models.json.
    #[arg(long, short)]
    pub model: Option<PathBuf>,
    /// Probability under which a blob is reported as unknown (`"digit": null`) [default: the
    /// model's `mnist_edge.min_confidence`, else 0.8]
    #[arg(long, value_parser = edge::contract::parse_probability)]
    pub min_confidence: Option<f32>,
    /// Ink polarity: dark ink on paper, light chalk on a board, or decided per frame.
    #[arg(long, value_enum, default_value_t = InkArg::Auto)]
    pub ink: InkArg,
}

#[derive(clap::Args, Clone)]
pub struct CameraArgs {
    /// Camera resolution, e.g. 640x480 (the camera picks its closest mode).
    #[arg(long, default_value = "640x480", value_parser = parse_resolution)]
    pub resolution: (u32, u32),
    /// Camera frame rate.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Ask for YUYV instead of MJPEG (no decoding, more USB bandwidth).
    #[arg(long)]
    pub yuyv: bool,
}

#[derive(clap::Args, Clone)]
pub struct StreamArgs {
    /// Layout of the frames of --pipe or --input -: auto tells Y4M and MJPEG by their first
    /// bytes; the raw ones (luma read, colour skipped) need --size.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub pipe_format: FormatArg,
    /// Size of raw frames, WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Auto,
    Gray8,
    I420,
    Nv12,
    Yuyv,
    Mjpeg,
    Y4m,
}

impl From<FormatArg> for capture::StreamFormat {
    fn from(f: FormatArg) -> Self {
        use capture::StreamFormat as S;
        match f {
            FormatArg::Auto => S::Auto,
            FormatArg::Gray8 => S::Gray8,
            FormatArg::I420 => S::I420,
            FormatArg::Nv12 => S::Nv12,
            FormatArg::Yuyv => S::Yuyv,
            FormatArg::Mjpeg => S::Mjpeg,
            FormatArg::Y4m => S::Y4m,
        }
    }
}

/// A frame rate above 0 and at most 1000.
pub fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a frame rate above 0 and at most 1000"
        )),
    }
}

/// A frame size of at least 1×1 and at most `capture::MAX_SIDE` a side.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = parse_resolution(s)?;
    if w == 0 || h == 0 || w > capture::MAX_SIDE || h > capture::MAX_SIDE {
        return Err(format!(
            "'{s}': each side must be 1 to {} pixels",
            capture::MAX_SIDE
        ));
    }
    Ok((w, h))
}

pub fn parse_resolution(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{s}' is not WIDTHxHEIGHT"))
    };
    Ok((parse(w)?, parse(h)?))
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InkArg {
    Auto,
    Dark,
    Light,
}

#[derive(Subcommand)]
pub enum Command {
    /// Read frames and print one JSON object per frame.
    Run {
        #[command(flatten)]
        model: ModelArgs,
        /// Image files, directories or glob patterns; `-` reads frames from standard input
        /// (as --pipe-format says).
        #[arg(long, short, num_args = 1.., conflicts_with_all = ["mjpeg", "camera", "pipe"])]
        input: Vec<PathBuf>,
        /// Run this shell command and read frames from its standard output (rpicam-vid,
        /// gst-launch-1.0, ffmpeg: see README "On the boards"); restarted when it exits.
        #[arg(long, value_name = "COMMAND", env = "EDGE_PIPE", conflicts_with_all = ["mjpeg", "camera"])]
        pipe: Option<String>,
        #[command(flatten)]
        stream: StreamArgs,
        /// HTTP MJPEG stream (phone or IP camera).
        #[arg(long, env = "EDGE_MJPEG", conflicts_with = "camera")]
        mjpeg: Option<String>,
        /// Camera index (see `edge cameras`); needs the `camera` feature.
        #[arg(long, env = "EDGE_CAMERA")]
        camera: Option<u32>,
        #[command(flatten)]
        camera_mode: CameraArgs,
        /// Write each frame with boxes and labels drawn to this folder.
        #[arg(long)]
        annotate: Option<PathBuf>,
        /// Stop after this many frames.
        #[arg(long)]
        max_frames: Option<u64>,
        /// Read at most this many frames a second (a live source's others are dropped), to
        /// leave the board's CPU to other work.
        #[arg(long, value_parser = parse_fps)]
        max_fps: Option<f64>,
        /// Serve the live page (annotated stream and readings) on PORT or HOST:PORT; a port
        /// alone binds 127.0.0.1.
        #[arg(long, value_name = "ADDR")]
        serve: Option<String>,
        /// Give up, with exit status 75, when the live source has given no frame for this
        /// long (30, 90s, 5m), for systemd's Restart=on-failure; without it a lost camera,
        /// program or stream is reopened for as long as the run lasts.
        #[arg(long, value_name = "DURATION", value_parser = capture::parse_duration)]
        give_up_after: Option<Duration>,
    },
    /// Score readings of generated scenes (`train scenes`) against their ground truth.
    Eval {
        #[command(flatten)]
        model: ModelArgs,
        /// Folder with the frames and truth.jsonl.
        #[arg(long)]
        scenes: PathBuf,
        /// Print the score as JSON.
        #[arg(long)]
        json: bool,
        /// Write annotated frames of wrongly read scenes to this folder.
        #[arg(long)]
        annotate: Option<PathBuf>,
    },
    /// Per-stage latency and frames per second over a set of frames, models side by side.
    Bench {
        /// Models to compare; the first is the baseline. Without any, the default model.
        #[arg(long, short)]
        model: Vec<PathBuf>,
        /// Frames: files, directories or globs.
        #[arg(long, short, num_args = 1.., required = true)]
        input: Vec<PathBuf>,
        /// Also a file of frames as a camera program writes them to a pipe (--pipe-format,
        /// --size), read from memory: rows for it follow the files' rows.
        #[arg(long, value_name = "FILE")]
        stream: Option<PathBuf>,
        #[command(flatten)]
        stream_format: StreamArgs,
        /// Passes over the frames; medians are taken over all frames of all passes.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Also run each model's quantized convolutions on tract's integer kernels, as its ONNX
        /// file states them (the reader runs them on its float kernels, on the same grid):
        /// a row after each model's own.
        #[arg(long)]
        integer_kernels: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read the 10,000 official MNIST test digits: accuracy, and agreement with logits written
    /// on another machine (a cross build checked against the laptop's answers).
    Mnist {
        /// ONNX digit model; without it, the default model of models/models.json.
        #[arg(long, short)]
        model: Option<PathBuf>,
        /// Folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or .gz); default
        /// $MNIST_DIR.
        #[arg(long, env = "MNIST_DIR")]
        data: PathBuf,
        /// Write each digit's prediction and logits to this file.
        #[arg(long)]
        logits: Option<PathBuf>,
        /// Compare with a file written by --logits; fail on any other prediction or a logit
        /// further off than --tolerance.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// Largest absolute logit difference accepted by --compare.
        #[arg(long, default_value_t = 1e-4)]
        tolerance: f32,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the cameras this machine can open.
    Cameras,
}

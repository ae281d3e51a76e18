//! `edge`: reads handwritten digits from image files, MJPEG streams and cameras with a digit
//! ONNX model. Results go to standard output as JSON lines, logs to standard error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use edge::capture::{self, FrameSource};
use edge::infer::Classifier;
use edge::locate::Ink;
use edge::read::Reader;
use edge::report::{annotate, FrameReport, Freshness};
use edge::serve::{parse_addr, LivePage};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "edge",
    version,
    about = "Read handwritten digits from a camera, image files or an MJPEG stream"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ModelArgs {
    /// ONNX digit model; without it, the default model of models/models.json.
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// Probability under which a blob is reported as unknown (`"digit": null`) [default: the
    /// model's `mnist_edge.min_confidence`, else 0.8]
    #[arg(long, value_parser = parse_probability)]
    min_confidence: Option<f32>,
    /// Ink polarity: dark ink on paper, light chalk on a board, or decided per frame.
    #[arg(long, value_enum, default_value_t = InkArg::Auto)]
    ink: InkArg,
}

#[derive(clap::Args, Clone)]
struct CameraArgs {
    /// Camera resolution, e.g. 640x480 (the camera picks its closest mode).
    #[arg(long, default_value = "640x480", value_parser = parse_resolution)]
    resolution: (u32, u32),
    /// Camera frame rate.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Ask for YUYV instead of MJPEG (no decoding, more USB bandwidth).
    #[arg(long)]
    yuyv: bool,
}

#[derive(clap::Args, Clone)]
struct StreamArgs {
    /// Layout of the frames of --pipe or --input -: auto tells Y4M and MJPEG by their first
    /// bytes; the raw ones (luma read, colour skipped) need --size.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pipe_format: FormatArg,
    /// Size of raw frames, WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
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
/// A probability: a number from 0 to 1 (NaN is not one), as the model contract asks of its
/// `mnist_edge.min_confidence`.
fn parse_probability(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a probability from 0 to 1")),
    }
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a frame rate above 0 and at most 1000"
        )),
    }
}

/// A frame size of at least 1×1 and at most `capture::MAX_SIDE` a side.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = parse_resolution(s)?;
    if w == 0 || h == 0 || w > capture::MAX_SIDE || h > capture::MAX_SIDE {
        return Err(format!(
            "'{s}': each side must be 1 to {} pixels",
            capture::MAX_SIDE
        ));
    }
    Ok((w, h))
}

fn parse_resolution(s: &str) -> Result<(u32, u32), String> {
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
enum InkArg {
    Auto,
    Dark,
    Light,
}

#[derive(Subcommand)]
enum Command {
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
        Command::Run {
            model,
            input,
            pipe,
            stream,
            mjpeg,
            camera,
            camera_mode,
            annotate,
            max_frames,
            max_fps,
            serve,
            give_up_after,
        } => {
            let reader = reader(&model)?;
            let live = match serve {
                Some(addr) => {
                    let page = LivePage::start(parse_addr(&addr)?)?;
                    tracing::info!("live page on http://{}/", page.addr());
                    Some(page)
                }
                None => None,
            };
            let label = match (&pipe, &mjpeg, camera) {
                (Some(p), _, _) => format!("--pipe {p}"),
                (_, Some(u), _) => u.clone(),
                (_, _, Some(i)) => format!("camera {i}"),
                _ => "standard input".to_string(),
            };
            let camera = camera.map(|i| (i, camera_mode));
            let mut source =
                open_source(&input, pipe.as_deref(), &stream, mjpeg.as_deref(), camera)?;
            let watchdog = match give_up_after {
                Some(_) if !source.is_live() => bail!(
                    "--give-up-after: only a live source (--camera, --pipe, --mjpeg, or --input - \
                     from a program) is given up on; files end by themselves"
                ),
                Some(after) => Some(capture::Watchdog::start(after, move |quiet| {
                    tracing::error!(
                        "{label}: no frame for {:.1} s (--give-up-after): giving up",
                        quiet.as_secs_f32()
                    );
                    std::process::exit(i32::from(capture::GAVE_UP));
                })),
                None => None,
            };
            run_frames(
                &reader,
                source.as_mut(),
                annotate.as_deref(),
                (max_frames, max_fps),
                live.as_ref(),
                watchdog.as_ref(),
            )?;
            drop(watchdog);
            if live.is_some() {
                tracing::info!("the frames have ended; still serving the last one (Ctrl-C stops)");
                loop {
                    std::thread::park();
                }
            }
            Ok(())
        }
        Command::Eval {
            model,
            scenes,
            json,
            annotate,
        } => eval(&reader(&model)?, &scenes, json, annotate.as_deref()),
        Command::Bench {
            model,
            input,
            stream,
            stream_format,
            repeats,
            json,
        } => bench(
            &model,
            &input,
            stream.as_deref().map(|p| (p, &stream_format)),
            repeats,
            json,
        ),
        Command::Mnist {
            model,
            data,
            logits,
            compare,
            tolerance,
            json,
        } => mnist(
            model.as_deref(),
            &data,
            logits.as_deref(),
            compare.as_deref(),
            tolerance,
            json,
        ),
        Command::Cameras => cameras(),
    }
}

fn mnist(
    model: Option<&Path>,
    data: &Path,
    logits: Option<&Path>,
    compare: Option<&Path>,
    tolerance: f32,
    json: bool,
) -> Result<()> {
    let path = model_path(model)?;
    let classifier = Classifier::load(&path)?;
    let (images, labels) = edge::idx::test_set(data)?;
    let run = edge::agree::run(&classifier, &images, &labels)?;
    if let Some(out) = logits {
        edge::agree::write_logits(out, &run)?;
    }
    let agreement = compare
        .map(|reference| edge::agree::compare(&run, reference))
        .transpose()?;
    let arch = std::env::consts::ARCH;
    if json {
        let v = serde_json::json!({
            "model": path,
            "arch": arch,
            "images": labels.len(),
            "accuracy": run.accuracy(),
            "agreement": agreement,
        });
        edge::say!("{v}");
    } else {
        edge::say!(
            "{}: {:.2}% of {} MNIST test digits read right ({arch})",
            path.display(),
            100.0 * run.accuracy(),
            labels.len()
        );
        if let Some(a) = &agreement {
            edge::say!(
                "against {}: {} of {} predictions differ, largest logit difference {:e}",
                compare
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                a.predictions_differ,
                a.images,
                a.max_logit_diff
            );
        }
    }
    if let (Some(a), Some(reference)) = (&agreement, compare) {
        if a.predictions_differ > 0 || a.max_logit_diff > tolerance {
            bail!(
                "{}: {} predictions differ and logits are up to {:e} apart (tolerance {tolerance:e})",
                reference.display(),
                a.predictions_differ,
                a.max_logit_diff
            );
        }
    }
    Ok(())
}

fn model_path(model: Option<&Path>) -> Result<PathBuf> {
    match model {
        Some(m) => Ok(m.to_path_buf()),
        None => Ok(edge::models::default_model()?),
    }
}

fn reader(args: &ModelArgs) -> Result<Reader> {
    let path = model_path(args.model.as_deref())?;
    let classifier = Classifier::load(&path)?;
    tracing::info!("model {}", path.display());
    let mut reader = Reader::new(classifier);
    if let Some(t) = args.min_confidence {
        reader.min_confidence = t;
    }
    reader.locate.ink = match args.ink {
        InkArg::Auto => Ink::Auto,
        InkArg::Dark => Ink::Dark,
        InkArg::Light => Ink::Light,
    };
    Ok(reader)
}

fn open_source(
    input: &[PathBuf],
    pipe: Option<&str>,
    stream: &StreamArgs,
    mjpeg: Option<&str>,
    camera: Option<(u32, CameraArgs)>,
) -> Result<Box<dyn FrameSource>> {
    let format = capture::StreamFormat::from(stream.pipe_format);
    let size = stream.size;
    // Live sources are read on their own thread and give their newest frame.
    if let Some(command) = pipe {
        let command = command.to_string();
        return live(move || {
            Ok(Box::new(capture::Pipe::spawn(&command, format, size)?) as Box<dyn FrameSource>)
        });
    }
    if input.len() == 1 && input[0].as_os_str() == "-" {
        // Standard input from a file keeps every frame; from a program it is live.
        let from_file = std::fs::metadata("/dev/stdin").is_ok_and(|m| m.is_file());
        if from_file {
            return Ok(Box::new(capture::Stdin::new(format, size)?));
        }
        return live(move || {
            Ok(Box::new(capture::Stdin::new(format, size)?) as Box<dyn FrameSource>)
        });
    }
    if input.iter().any(|p| p.as_os_str() == "-") {
        bail!("--input -: standard input is read alone, not beside files");
    }
    if let Some(url) = mjpeg {
        let url = url.to_string();
        return live(move || Ok(Box::new(capture::Mjpeg::open(&url)?) as Box<dyn FrameSource>));
    }
    if let Some((index, mode)) = camera {
        return live(move || open_camera(index, mode));
    }
    if input.is_empty() {
        bail!("nothing to read: give --input PATH…, --input -, --pipe COMMAND, --mjpeg URL or --camera N");
    }
    Ok(Box::new(capture::Files::new(capture::expand_inputs(
        input,
    )?)))
}

/// A live source opened and read on its own thread (see `capture::Latest`).
fn live<F>(open: F) -> Result<Box<dyn FrameSource>>
where
    F: FnOnce() -> edge::Result<Box<dyn FrameSource>> + Send + 'static,
{
    Ok(Box::new(capture::Latest::spawn(open)?))
}

#[cfg(feature = "camera")]
fn open_camera(index: u32, mode: CameraArgs) -> edge::Result<Box<dyn FrameSource>> {
    let config = capture::camera::CameraConfig {
        index,
        resolution: mode.resolution,
        fps: mode.fps,
        mjpeg: !mode.yuyv,
    };
    Ok(Box::new(capture::camera::Camera::open(config)?))
}

#[cfg(not(feature = "camera"))]
fn open_camera(_index: u32, _mode: CameraArgs) -> edge::Result<Box<dyn FrameSource>> {
    Err(edge::Error::source(
        "--camera",
        "this edge was built without camera support: rebuild with `--features camera`",
    ))
}

#[cfg(feature = "camera")]
fn cameras() -> Result<()> {
    let cameras = capture::camera::list()?;
    if cameras.is_empty() {
        tracing::warn!(
            "no camera found (is one plugged in, and is this user in the `video` group?)"
        );
    }
    for line in cameras {
        edge::say!("{line}");
    }
    Ok(())
}

#[cfg(not(feature = "camera"))]
fn cameras() -> Result<()> {
    bail!("this edge was built without camera support: rebuild with `--features camera`")
}

/// Writes a line to stdout; `false` when the reader has gone (a closed pipe ends the run quietly).
fn emit(out: &mut impl Write, line: &str) -> Result<bool> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to standard output"),
    }
}

fn run_frames(
    reader: &Reader,
    source: &mut dyn FrameSource,
    annotate_dir: Option<&Path>,
    (max_frames, max_fps): (Option<u64>, Option<f64>),
    live: Option<&LivePage>,
    watchdog: Option<&capture::Watchdog>,
) -> Result<()> {
    let period = max_fps.map(|f| Duration::from_secs_f64(1.0 / f));
    let mut last_start: Option<Instant> = None;
    if let Some(dir) = annotate_dir {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut read, mut skipped) = (0u64, 0u64);
    // An error is logged once the source goes on after it: when the source ends on it with
    // nothing read, it is the run's one line of error instead.
    let mut last_error: Option<edge::Error> = None;
    let mut unlogged = false;
    let mut taken = std::collections::HashSet::new();
    while max_frames.is_none_or(|m| read < m) {
        if let (Some(p), Some(t)) = (period, last_start) {
            // --max-fps: wait out the period; a live source then gives its newest frame.
            std::thread::sleep(p.saturating_sub(t.elapsed()));
        }
        let next = source.next_frame();
        if unlogged && (next.is_some() || read > 0) {
            if let Some(e) = &last_error {
                tracing::warn!("skipped: {e}");
            }
            unlogged = false;
        }
        let Some(next) = next else {
            break;
        };
        let frame = match next {
            Ok(f) => {
                if let Some(w) = watchdog {
                    w.fed();
                }
                f
            }
            Err(e) => {
                skipped += 1;
                last_error = Some(e);
                unlogged = true;
                continue;
            }
        };
        let start = Instant::now();
        last_start = Some(start);
        let reading = reader.read(&frame.image)?;
        let mut report = FrameReport::new(
            &frame.source,
            frame.index,
            frame.image.dimensions(),
            frame.decode,
            &reading,
        );
        if source.is_live() {
            report.live = Some(Freshness::of(frame.captured, start, frame.dropped));
        }
        // Drawn once for the folder and the live page alike.
        let drawn =
            (annotate_dir.is_some() || live.is_some()).then(|| annotate(&frame.image, &reading));
        if let (Some(dir), Some(drawn)) = (annotate_dir, &drawn) {
            // Two sources may share a stem (a/x.jpg and b/x.jpg, x.jpg beside x.png): the later
            // picture gets a suffix instead of replacing the earlier one.
            let base = annotated_name(&frame.source, frame.index);
            let mut name = base.clone();
            let mut k = 1;
            while !taken.insert(name.clone()) {
                k += 1;
                name = format!("{}-{k}.png", base.trim_end_matches(".png"));
            }
            let path = dir.join(&name);
            // Written whole under a temporary name, then renamed: no half picture is left.
            let part = dir.join(format!(".{name}.part"));
            drawn
                .save_with_format(&part, image::ImageFormat::Png)
                .and_then(|()| std::fs::rename(&part, &path).map_err(image::ImageError::IoError))
                .with_context(|| path.display().to_string())?;
            // Debugging aid (README): what the finder saw.
            if std::env::var_os("EDGE_SAVE_INK").is_some() {
                let ink = path.with_extension("ink.png");
                reading
                    .found
                    .strength
                    .save(&ink)
                    .with_context(|| ink.display().to_string())?;
            }
        }
        let line = serde_json::to_string(&report)?;
        if let (Some(page), Some(drawn)) = (live, &drawn) {
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
                .encode_image(drawn)
                .context("encoding the live frame")?;
            page.publish(jpeg, line.clone());
        }
        read += 1;
        if !emit(&mut out, &line)? {
            return Ok(());
        }
    }
    if source.is_live() {
        tracing::info!(
            "{read} frames read, {skipped} skipped, {} dropped (newer ones came first)",
            source.dropped()
        );
    } else {
        tracing::info!("{read} frames read, {skipped} skipped");
    }
    if read == 0 && skipped > 0 {
        match last_error {
            Some(e) if skipped == 1 => bail!("nothing read: {e}"),
            Some(e) => bail!("none of the {skipped} frames could be read; the last: {e}"),
            None => bail!("none of the {skipped} frames could be read"),
        }
    }
    Ok(())
}

fn annotated_name(source: &str, index: u64) -> String {
    let stem = Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{}-{index:06}.png", edge::report::file_safe(&stem))
}

fn eval(reader: &Reader, scenes: &Path, json: bool, annotate_dir: Option<&Path>) -> Result<()> {
    let frames = edge::evaluate::load_truth(scenes)?.len();
    let bar = indicatif::ProgressBar::new(frames as u64);
    let e = edge::evaluate::evaluate(reader, scenes, annotate_dir, || bar.inc(1))?;
    bar.finish_and_clear();
    if e.skipped > 0 {
        tracing::warn!(
            "{} frames could not be read; their digits count as missed",
            e.skipped
        );
    }
    let score = &e.score;
    let median_ms = e.median_frame.as_secs_f64() * 1e3;
    let mut out = std::io::stdout().lock();
    if json {
        let factors: serde_json::Map<String, serde_json::Value> = e
            .factors
            .rows
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    serde_json::json!({
                        "recall": s.recall(),
                        "precision": s.precision(),
                        "numbers_exact": s.number_rate(),
                        "counts": s,
                    }),
                )
            })
            .collect();
        let value = serde_json::json!({
            "scenes": scenes,
            "model": reader.classifier.path(),
            "recall": score.recall(),
            "precision": score.precision(),
            "numbers_exact": score.number_rate(),
            "marks_rejected": (score.marks > 0).then(|| score.rejection()),
            "median_frame_ms": median_ms,
            "counts": score,
            "factors": factors,
        });
        emit(&mut out, &value.to_string())?;
        return Ok(());
    }
    let mut lines = vec![
        format!("scenes     {} ({} frames)", scenes.display(), score.frames),
        format!("model      {}", reader.classifier.path().display()),
        format!(
            "recall     {:.2}%  ({} of {} digits found and read right; {} found)",
            100.0 * score.recall(),
            score.read_right,
            score.digits,
            score.found
        ),
        format!(
            "precision  {:.2}%  ({} of {} reported digits right)",
            100.0 * score.precision(),
            score.reported_right,
            score.reported
        ),
        format!(
            "numbers    {:.2}%  ({} of {} read exactly)",
            100.0 * score.number_rate(),
            score.numbers_exact,
            score.numbers
        ),
    ];
    if score.marks > 0 {
        lines.push(format!(
            "not digits {:.1}% of {} scribbles rejected",
            100.0 * score.rejection(),
            score.marks
        ));
    }
    lines.push(format!(
        "frame      {median_ms:.2} ms median (decode to reading, one thread)"
    ));
    if !e.factors.rows.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "{:<18} {:>7} {:>8} {:>10} {:>9}",
            "factor", "digits", "recall", "precision", "numbers"
        ));
        for (k, s) in &e.factors.rows {
            lines.push(format!(
                "{:<18} {:>7} {:>7.2}% {:>9.2}% {:>8.2}%",
                k,
                s.digits,
                100.0 * s.recall(),
                100.0 * s.precision(),
                100.0 * s.number_rate()
            ));
        }
    }
    if let Some(dir) = annotate_dir {
        lines.push(format!(
            "{} frames with misses drawn in {}",
            e.annotated,
            dir.display()
        ));
    }
    for line in lines {
        if !emit(&mut out, &line)? {
            break;
        }
    }
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

/// Per-stage medians of one model over the bench frames, in milliseconds.
#[derive(serde::Serialize)]
struct BenchRow {
    model: PathBuf,
    /// `files`, or `stream FORMAT` for the frames of --stream.
    input: String,
    frames: usize,
    decode: f64,
    locate: f64,
    normalise: f64,
    infer: f64,
    total: f64,
    fps: f64,
}

fn bench(
    models: &[PathBuf],
    input: &[PathBuf],
    stream: Option<(&Path, &StreamArgs)>,
    repeats: usize,
    json: bool,
) -> Result<()> {
    let paths = capture::expand_inputs(input)?;
    let frames: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| Ok((p.display().to_string(), capture::read_file(p)?)))
        .collect::<Result<_>>()?;
    let stream = match stream {
        Some((path, args)) => {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            let format = capture::StreamFormat::from(args.pipe_format);
            format.check(&path.display().to_string(), args.size)?;
            Some((path.display().to_string(), bytes, format, args.size))
        }
        None => None,
    };
    let models = if models.is_empty() {
        vec![model_path(None)?]
    } else {
        models.to_vec()
    };
    let readers: Vec<Reader> = models
        .iter()
        .map(|m| Ok(Reader::new(Classifier::load(m)?)))
        .collect::<Result<_>>()?;
    // Stage samples per input and model; models alternate frame by frame so that machine
    // noise hits all alike.
    let inputs = 1 + usize::from(stream.is_some());
    let mut samples: Vec<Vec<[Vec<Duration>; 5]>> = (0..inputs)
        .map(|_| (0..readers.len()).map(|_| Default::default()).collect())
        .collect();
    let record = |s: &mut [Vec<Duration>; 5], decode: Duration, reading: &edge::read::Reading| {
        let t = reading.times;
        for (k, d) in [
            decode,
            t.locate,
            t.normalise,
            t.infer,
            decode + t.locate + t.normalise + t.infer,
        ]
        .into_iter()
        .enumerate()
        {
            s[k].push(d);
        }
    };
    let bar = indicatif::ProgressBar::new((repeats.max(1) * frames.len()) as u64);
    let mut stream_frames = 0;
    for _ in 0..repeats.max(1) {
        for (name, bytes) in &frames {
            for (reader, s) in readers.iter().zip(samples[0].iter_mut()) {
                let (image, decode) = capture::decode_timed(bytes, name)?;
                record(s, decode, &reader.read(&image)?);
            }
            bar.inc(1);
        }
        if let Some((name, bytes, format, size)) = &stream {
            // From the bytes in memory to the grey frame the finder takes, as from a pipe.
            let mut frames_of = capture::StreamReader::new(
                name,
                Box::new(std::io::Cursor::new(bytes.clone())),
                *format,
                *size,
            );
            stream_frames = 0;
            loop {
                let start = Instant::now();
                let Some((image, _)) = frames_of.next_image()? else {
                    break;
                };
                let decode = start.elapsed();
                stream_frames += 1;
                for (reader, s) in readers.iter().zip(samples[1].iter_mut()) {
                    record(s, decode, &reader.read(&image)?);
                }
            }
        }
    }
    bar.finish_and_clear();
    let mut rows: Vec<BenchRow> = Vec::new();
    for (k, per_model) in samples.iter_mut().enumerate() {
        let (label, count) = match (&stream, k) {
            (Some((_, _, format, _)), 1) => (format!("stream {format:?}"), stream_frames),
            _ => ("files".to_string(), frames.len()),
        };
        for (m, s) in models.iter().zip(per_model.iter_mut()) {
            let ms: Vec<f64> = s
                .iter_mut()
                .map(|v| median(v).as_secs_f64() * 1e3)
                .collect();
            rows.push(BenchRow {
                model: m.clone(),
                input: label.clone(),
                frames: count,
                decode: ms[0],
                locate: ms[1],
                normalise: ms[2],
                infer: ms[3],
                total: ms[4],
                fps: 1e3 / ms[4].max(1e-9),
            });
        }
    }
    if json {
        edge::say!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    edge::say!(
        "median ms per frame over {} frames × {} passes, one thread",
        frames.len(),
        repeats.max(1)
    );
    edge::say!(
        "{:<28} {:<14} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>8}",
        "model",
        "input",
        "decode",
        "locate",
        "normalise",
        "infer",
        "total",
        "fps",
        "vs first"
    );
    for r in &rows {
        edge::say!(
            "{:<28} {:<14} {:>7.3} {:>7.3} {:>9.3} {:>7.3} {:>7.3} {:>7.0} {:>7.2}×",
            r.model.display().to_string(),
            r.input,
            r.decode,
            r.locate,
            r.normalise,
            r.infer,
            r.total,
            r.fps,
            rows[0].total / r.total.max(1e-9)
        );
    }
    Ok(())
}

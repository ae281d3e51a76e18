//! `edge run`: frames from a source (files, standard input, a pipe, an MJPEG stream or a
//! camera), each read and reported as one JSON line, drawn for `--annotate` and the live page.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use edge::capture::{self, FrameSource};
use edge::read::Reader;
use edge::report::{annotate, FrameReport, Freshness};
use edge::serve::LivePage;

use crate::args::{CameraArgs, StreamArgs};

pub fn open_source(
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
pub fn open_camera(index: u32, mode: CameraArgs) -> edge::Result<Box<dyn FrameSource>> {
    let config = capture::camera::CameraConfig {
        index,
        resolution: mode.resolution,
        fps: mode.fps,
        mjpeg: !mode.yuyv,
    };
    Ok(Box::new(capture::camera::Camera::open(config)?))
}

#[cfg(not(feature = "camera"))]
pub fn open_camera(_index: u32, _mode: CameraArgs) -> edge::Result<Box<dyn FrameSource>> {
    Err(edge::Error::source(
        "--camera",
        "this edge was built without camera support: rebuild with `--features camera`",
    ))
}

#[cfg(feature = "camera")]
pub fn cameras() -> Result<()> {
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
pub fn cameras() -> Result<()> {
    bail!("this edge was built without camera support: rebuild with `--features camera`")
}

/// How long a stop asked by a signal waits for the frame loop before the process exits
/// anyway: a camera that gives no frame, or a pipe's program that writes none, holds the
/// loop in its read.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Lets SIGTERM (what `podman stop`, Kubernetes and systemd send) and SIGINT (Ctrl-C) end
/// `edge run` cleanly: the returned flag is set, the frame loop stops after the frame in
/// hand and the page stops serving; a loop held in a read is ended after [`STOP_GRACE`]. As
/// a container's first process, edge would otherwise ignore SIGTERM and wait for SIGKILL.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals =
        signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).context("handling SIGTERM")?;
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "SIGINT"
                };
                tracing::info!("{name}: stopping");
                flag.store(true, Ordering::SeqCst);
                std::thread::sleep(STOP_GRACE);
                tracing::info!("the source gave no frame to end on; exiting");
                capture::end_programs();
                std::process::exit(0);
            }
        })
        .context("starting the signal thread")?;
    Ok(stop)
}

/// Writes a line to stdout; `false` when the reader has gone (a closed pipe ends the run quietly).
pub fn emit(out: &mut impl Write, line: &str) -> Result<bool> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to standard output"),
    }
}

pub fn run_frames(
    reader: &Reader,
    source: &mut dyn FrameSource,
    annotate_dir: Option<&Path>,
    (max_frames, max_fps): (Option<u64>, Option<f64>),
    live: Option<&LivePage>,
    watchdog: Option<&capture::Watchdog>,
    stop: &AtomicBool,
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
    while max_frames.is_none_or(|m| read < m) && !stop.load(Ordering::SeqCst) {
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
    // A stop by signal is no failure of the source, even when it came before any frame: the
    // pipe's program that the stop ended gives an error of its own (it ended), which is ours.
    if read == 0 && skipped > 0 && !stop.load(Ordering::SeqCst) {
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

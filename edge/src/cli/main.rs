//! `edge`: reads handwritten digits from image files, MJPEG streams and cameras with a digit
//! ONNX model. Results go to standard output as JSON lines, logs to standard error.
//!
//! This file runs what the command line ([`args`]) asks for; `edge run`'s frame loop is in
//! [`frames`], the reports of `eval` and `bench` in [`print`], the work itself in the library.

mod args;
mod frames;
mod print;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Parser;
use edge::capture;
use edge::infer::Classifier;
use edge::locate::Ink;
use edge::read::Reader;
use edge::serve::{parse_addr, LivePage};

use args::{Cli, Command, InkArg, ModelArgs};
use frames::{cameras, open_source, run_frames};
use print::{bench, eval};

fn main() -> ExitCode {
    edge::machine::keep_freed_memory();
    edge::out::logs_to_stderr();
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
            // First of all: a stop asked while the source opens (a camera program starting)
            // must end that program too, which SIGTERM's default action would leave running.
            let stop = frames::stop_on_signals()?;
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
                    // The camera program goes too: systemd's restart must find the camera free.
                    capture::end_programs();
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
                &stop,
            )?;
            drop(watchdog);
            if live.is_some() && !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tracing::info!("the frames have ended; still serving the last one (Ctrl-C stops)");
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::park_timeout(std::time::Duration::from_millis(100));
                }
            }
            // A live source's reading thread is not dropped at exit: a camera program it
            // started again after a stop broke its read (a signal can interrupt the read,
            // as under qemu) would be left holding the camera.
            drop(source);
            capture::end_programs();
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
            integer_kernels,
            json,
        } => bench(
            &model,
            &input,
            stream.as_deref().map(|p| (p, &stream_format)),
            repeats,
            integer_kernels,
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

pub fn model_path(model: Option<&Path>) -> Result<PathBuf> {
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

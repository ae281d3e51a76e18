//! What `edge eval` and `edge bench` print: tables for people, JSON for programs. The
//! figures come from the library ([`edge::evaluate`], [`edge::bench`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use edge::capture;
use edge::infer::{Classifier, Kernels};
use edge::read::Reader;

use crate::args::StreamArgs;
use crate::frames::emit;
use crate::model_path;

pub fn eval(reader: &Reader, scenes: &Path, json: bool, annotate_dir: Option<&Path>) -> Result<()> {
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

/// `edge bench`: the frames of `input` (and of `stream`) read by every model, per-stage
/// medians printed as a table or JSON.
pub fn bench(
    models: &[PathBuf],
    input: &[PathBuf],
    stream: Option<(&Path, &StreamArgs)>,
    repeats: usize,
    integer_kernels: bool,
    json: bool,
) -> Result<()> {
    let paths = capture::expand_inputs(input)?;
    let files: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| Ok((p.display().to_string(), capture::read_file(p)?)))
        .collect::<Result<_>>()?;
    let stream = match stream {
        Some((path, args)) => {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            let format = capture::StreamFormat::from(args.pipe_format);
            format.check(&path.display().to_string(), args.size)?;
            Some(edge::bench::Stream {
                name: path.display().to_string(),
                bytes,
                format,
                size: args.size,
            })
        }
        None => None,
    };
    let models = if models.is_empty() {
        vec![model_path(None)?]
    } else {
        models.to_vec()
    };
    let mut kernels = vec![Kernels::from_env()?];
    if integer_kernels && kernels[0] != Kernels::Integer {
        kernels.push(Kernels::Integer);
    }
    let readers: Vec<(PathBuf, Reader)> = models
        .iter()
        .flat_map(|m| kernels.iter().map(move |&k| (m, k)))
        .map(|(m, k)| Ok((m.clone(), Reader::new(Classifier::load_with(m, k)?))))
        .collect::<Result<_>>()?;
    let bar = indicatif::ProgressBar::new((repeats.max(1) * files.len()) as u64);
    let rows = edge::bench::run(&readers, &files, stream.as_ref(), repeats, || bar.inc(1))?;
    bar.finish_and_clear();
    if json {
        edge::say!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    edge::say!(
        "median ms per frame over {} frames × {} passes, one thread, on {}",
        files.len(),
        repeats.max(1),
        edge::machine::Cpu::detect()
    );
    edge::say!(
        "{:<28} {:<8} {:<14} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7} {:>8}",
        "model",
        "kernels",
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
            "{:<28} {:<8} {:<14} {:>7.3} {:>7.3} {:>9.3} {:>7.3} {:>7.3} {:>7.0} {:>7.2}×",
            r.model.display().to_string(),
            r.kernels,
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

//! `edge eval`: reads every frame of a scene folder (`train scenes`), scores the readings
//! against `truth.jsonl` ([`Score`]), breaks the figures down by the pages' factors
//! ([`Breakdown`]) and, when asked, writes the frames with misses as pictures: the reading's
//! boxes as `edge run --annotate` draws them, and every written digit that was not read right
//! in orange with its true label.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::{Rgb, RgbImage};
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect as IRect;

use crate::capture;
use crate::picture::text;
use crate::read::{Reader, Reading};
use crate::report::annotate;
use crate::scene::{Breakdown, Outcome, SceneTruth, Score, TRUTH_FILE};
use crate::{Error, Result};

/// What `edge eval` found over one scene folder.
pub struct Evaluation {
    /// Overall figures.
    pub score: Score,
    /// Figures per factor (pages only; empty for table scenes).
    pub factors: Breakdown,
    /// Median time per frame, decode to reading.
    pub median_frame: Duration,
    /// Frames that could not be decoded (their digits count as missed).
    pub skipped: usize,
    /// Pictures of frames with misses written.
    pub annotated: usize,
}

/// Reads the truth of a scene folder, one object per line.
pub fn load_truth(scenes: &Path) -> Result<Vec<SceneTruth>> {
    let path = scenes.join(TRUTH_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::data(&path, format!("line {}: not a scene: {e}", i + 1)))
        })
        .collect()
}

/// Scores `reader` on every frame of `scenes`; `annotate_dir` receives a picture of each frame
/// with a miss (a digit not read right, a wrong report, a number not read exactly); `tick`
/// is called once a frame (progress).
pub fn evaluate(
    reader: &Reader,
    scenes: &Path,
    annotate_dir: Option<&Path>,
    mut tick: impl FnMut(),
) -> Result<Evaluation> {
    let truths = load_truth(scenes)?;
    if let Some(dir) = annotate_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut eval = Evaluation {
        score: Score::default(),
        factors: Breakdown::default(),
        median_frame: Duration::ZERO,
        skipped: 0,
        annotated: 0,
    };
    let mut totals = Vec::with_capacity(truths.len());
    for truth in &truths {
        let path = scenes.join(&truth.file);
        let decoded = capture::read_file(&path)
            .and_then(|bytes| capture::decode_timed(&bytes, &path.display().to_string()));
        let (image, decode) = match decoded {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("skipped: {e}");
                let o = Outcome::of(truth, &[], &[]);
                eval.score.add(truth, &[], &[]);
                eval.factors.add(truth, &o);
                eval.skipped += 1;
                tick();
                continue;
            }
        };
        let reading = reader.read(&image)?;
        for line in crate::scene::mistakes(truth, &reading.digits) {
            tracing::debug!("{line}");
        }
        let o = Outcome::of(truth, &reading.digits, &reading.numbers);
        eval.score.add(truth, &reading.digits, &reading.numbers);
        eval.factors.add(truth, &o);
        let t = reading.times;
        totals.push(decode + t.locate + t.normalise + t.infer);
        let missed = o.right.iter().any(|r| !r)
            || o.exact.iter().any(|e| !e)
            || o.unmatched_reports > 0
            || o.reported
                .iter()
                .zip(&o.right)
                .any(|(rep, right)| *rep && !right);
        if let (Some(dir), true) = (annotate_dir, missed) {
            let out = miss_picture_path(dir, &truth.file);
            let picture = annotate_misses(&image, &reading, truth, &o);
            picture.save(&out).map_err(|e| Error::Io {
                path: out.clone(),
                error: std::io::Error::other(e),
            })?;
            eval.annotated += 1;
        }
        tick();
    }
    totals.sort_unstable();
    eval.median_frame = totals.get(totals.len() / 2).copied().unwrap_or_default();
    Ok(eval)
}

/// Where the picture of a frame with misses goes: the frame's own name (unique within its
/// folder, subfolders flattened with `_`) as PNG.
fn miss_picture_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{}.png", crate::report::file_safe(file)))
}

const MISSED: Rgb<u8> = Rgb([255, 140, 0]);

/// The annotated reading with each written digit not read right boxed in orange, its true
/// label under the box.
pub fn annotate_misses(
    frame: &image::GrayImage,
    reading: &Reading,
    truth: &SceneTruth,
    o: &Outcome,
) -> RgbImage {
    let mut img = annotate(frame, reading);
    let scale = if frame.height() >= 400 { 2 } else { 1 };
    for (d, right) in truth.digits.iter().zip(&o.right) {
        if *right {
            continue;
        }
        let [x, y, w, h] = d.bbox;
        let rect = IRect::at(x as i32 - 3, y as i32 - 3).of_size(w + 6, h + 6);
        draw_hollow_rect_mut(&mut img, rect, MISSED);
        let label = if d.touching {
            format!("{}t", d.digit)
        } else {
            d.digit.clone()
        };
        text(
            &mut img,
            x as i32 + w as i32 - 6 * scale as i32,
            (y + h) as i32 + 5,
            &label,
            scale,
            MISSED,
        );
    }
    img
}

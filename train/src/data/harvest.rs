//! Training digits from the camera's point of view: MNIST *training* digits written into
//! camera-like scenes (see [`crate::data::scene`]), sent through JPEG, found and normalised by the
//! edge's own code, and kept with their labels where the finder's box matches the written one
//! (the same matching `edge eval` scores by, so a box holding two merged digits is kept once).
//! Fine-tuning on them teaches the model what the edge will feed it, not only what MNIST is.
//! What the finder took for a digit where none is written (the scenes' scribbles, mostly) is
//! kept too, as marks that are not digits.
//!
//! From notebook pages ([`harvest_pages`], the `pages` renderer only: the `sketch` renderer
//! stays a check the model never trained on) three more things are kept, all of them what
//! handwriting puts in front of the model and MNIST never did: pencil, marker and small
//! digits as the finder cuts them; a blob holding two or more touching digits, as a mark that
//! is not a digit (a pair is not one digit, and the reader only cuts a blob whose whole the
//! model doubts); and the pieces the reader's segmenter cuts from such a blob, labelled where
//! a piece is one written digit and not digits where it straddles two.

use edge::capture::decode;
use edge::locate::{locate, LocateConfig, Rect};
use edge::normalise;
use edge::scene::{match_digits, SceneTruth};
use edge::segment;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::mnist::{Digits, Mnist, SIDE};
use crate::data::page::{PageConfig, Style};
use crate::data::scene::{jpeg, render, SceneConfig, Split};
use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};

/// How many digits a harvest kept, and of how many written.
#[derive(Clone, Debug, Default)]
pub struct Harvest {
    /// The normalised digits and their labels.
    pub digits: Digits,
    /// Digits written into the scenes.
    pub written: usize,
    /// Normalised marks that the finder reported where no digit is written (28×28 each).
    pub not_digits: Vec<u8>,
    /// How many of `digits` are pieces the segmenter cut from touching digits.
    pub pieces: usize,
}

/// Renders `count` scenes of training digits and keeps the edge-normalised digits it finds.
pub fn harvest(mnist: &Mnist, count: usize, progress: &dyn Progress) -> Result<Harvest> {
    let cfg = SceneConfig {
        count,
        split: Split::Train,
        ..SceneConfig::default()
    };
    let (train, range, stream) = Split::Train.source(mnist);
    let locate_cfg = LocateConfig::default();
    let task = progress.start("scenes", count as u64, Unit::Items);
    let mut out = Harvest::default();
    for i in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(stream + i as u64);
        let (frame, truth) = render(train, range.clone(), &cfg, &mut rng);
        let bytes =
            jpeg(&frame, &mut rng).map_err(|e| Error::Frame(format!("encoding a scene: {e}")))?;
        let frame = decode(&bytes, "scene")?;
        let found = locate(&frame, &locate_cfg);
        out.written += truth.digits.len();
        let rects: Vec<_> = found.digits.iter().map(|b| b.rect).collect();
        for (t, blob) in truth.digits.iter().zip(match_digits(&truth, &rects)) {
            if let (Some(k), Some(label)) = (blob, label_of(&t.digit)) {
                out.digits
                    .images
                    .extend(normalise::digit(&frame, &found, &found.digits[k], SIDE));
                out.digits.labels.push(label);
            }
        }
        // Marks touching no written digit at all: not parts of digits, so not digits.
        for (blob, rect) in found.digits.iter().zip(&rects) {
            let written = truth.digits.iter().any(|t| {
                let [x, y, w, h] = t.bbox;
                Rect { x, y, w, h }.iou(*rect) > 0.0
            });
            if !written {
                out.not_digits
                    .extend(normalise::digit(&frame, &found, blob, SIDE));
            }
        }
        task.advance(1);
    }
    drop(task);
    Ok(out)
}

/// The class of a written digit's truth ("0" to "9"); anything else is no label, and its
/// digit is not kept (it once became a "0").
fn label_of(digit: &str) -> Option<u8> {
    digit.parse::<u8>().ok().filter(|&d| d < 10)
}

/// Width over height under which a mark is one stroke, as a "1" is.
const NARROW: f32 = 0.35;

/// Overlap with one written digit from which a segmenter's piece is that digit: half of a
/// "0" overlaps it by 0.5, so a piece must cover more of its digit than that.
const PIECE_IOU: f32 = 0.7;

/// Straddling pieces kept per blob: the three slants cut nearly the same pieces.
const STRADDLING_KEPT: usize = 2;

/// Overlap under which a segmenter's piece holds no one written digit: it straddles two.
const STRADDLES: f32 = 0.25;

/// Renders `count` notebook pages of training digits and keeps what the finder and the
/// segmenter make of them (see the module's header).
pub fn harvest_pages(mnist: &Mnist, count: usize, progress: &dyn Progress) -> Result<Harvest> {
    let cfg = PageConfig {
        count,
        width: 640,
        height: 480,
        split: Split::Train,
        style: Style::Notebook,
    };
    let (train, range, stream) = Split::Train.checked_source(mnist)?;
    let locate_cfg = LocateConfig::default();
    let task = progress.start("pages", count as u64, Unit::Items);
    let mut out = Harvest::default();
    for i in 0..count {
        // Its own stream: no page repeats a table scene's draws.
        let mut rng = ChaCha8Rng::seed_from_u64(stream + 40_000_000 + i as u64);
        let rendered = crate::data::page::render(train, range.clone(), &cfg, &mut rng);
        let bytes = crate::data::page::encode(&rendered.frame, rendered.quality)
            .map_err(|e| Error::Frame(format!("encoding a page: {e}")))?;
        let frame = decode(&bytes, "page")?;
        keep_page(&frame, &rendered.truth, &locate_cfg, &mut out);
        task.advance(1);
    }
    drop(task);
    Ok(out)
}

/// The digits, merged blobs and segmenter pieces of one page (see [`harvest_pages`]).
fn keep_page(frame: &image::GrayImage, truth: &SceneTruth, cfg: &LocateConfig, out: &mut Harvest) {
    let found = locate(frame, cfg);
    out.written += truth.digits.len();
    let rects: Vec<Rect> = found.digits.iter().map(|b| b.rect).collect();
    let written: Vec<Rect> = truth
        .digits
        .iter()
        .map(|t| {
            let [x, y, w, h] = t.bbox;
            Rect { x, y, w, h }
        })
        .collect();
    let label = |k: usize| label_of(&truth.digits[k].digit);
    // The written digits whose centre lies in a box: a box with two holds two digits, however
    // well it overlaps one of them (a "1" beside a "5").
    let centres_in = |r: Rect| -> Vec<usize> {
        (0..written.len())
            .filter(|&k| {
                let t = written[k];
                let (cx, cy) = (t.x + t.w / 2, t.y + t.h / 2);
                cx >= r.x && cx < r.x + r.w && cy >= r.y && cy < r.y + r.h
            })
            .collect()
    };
    let matched = match_digits(truth, &rects);
    let mut heights: Vec<u32> = rects.iter().map(|r| r.h).collect();
    heights.sort_unstable();
    let typical = heights.get(heights.len() / 2).copied().unwrap_or(0) as f32;
    for (b, (blob, rect)) in found.digits.iter().zip(&rects).enumerate() {
        let inside = centres_in(*rect);
        if let Some(k) = matched.iter().position(|&m| m == Some(b)) {
            if inside.len() < 2 {
                if let Some(l) = label(k) {
                    out.digits
                        .images
                        .extend(normalise::digit(frame, &found, blob, SIDE));
                    out.digits.labels.push(l);
                }
                continue;
            }
        }
        // A lone thin stroke (what is left of a ruling, a margin line) is shaped like a "1":
        // telling them apart is the finder's work, and teaching the model to doubt it would
        // lose real ones.
        let stroke = (rect.w as f32) < NARROW * rect.h as f32;
        let touches = written.iter().any(|t| t.iou(*rect) > 0.0);
        if (!touches && !stroke) || inside.len() >= 2 {
            out.not_digits
                .extend(normalise::digit(frame, &found, blob, SIDE));
        }
        if inside.len() < 2 {
            continue;
        }
        let mut straddling = 0;
        for cut in segment::candidates(&found, blob, typical).pieces {
            let best = inside
                .iter()
                .map(|&k| (k, written[k].iou(cut.rect)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((k, overlap)) = best else { continue };
            let pixels = normalise::piece(frame, &found, blob, Some(&cut), SIDE);
            let holds = centres_in(cut.rect).len();
            let stroke = (cut.rect.w as f32) < NARROW * cut.rect.h as f32;
            if holds >= 2 {
                out.not_digits.extend(pixels);
            } else if overlap >= PIECE_IOU {
                if let Some(l) = label(k) {
                    out.digits.images.extend(pixels);
                    out.digits.labels.push(l);
                    out.pieces += 1;
                }
            } else if overlap < STRADDLES && !stroke && straddling < STRADDLING_KEPT {
                out.not_digits.extend(pixels);
                straddling += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue17_a_truth_digit_that_is_not_0_to_9_is_no_label_not_a_zero() {
        assert_eq!(label_of("7"), Some(7));
        assert_eq!(label_of("0"), Some(0));
        for bad in ["", "x", "10", "-1", "7a"] {
            assert_eq!(label_of(bad), None, "{bad:?}");
        }
    }
}

//! Camera-like scenes for judging the edge: MNIST *test* digits written as numbers on a sheet
//! of paper on a table (or in chalk on a board), in frames (640×480 by default) with uneven
//! light, shadows, slight rotation and perspective, scribbles that are not digits, blur, sensor
//! noise and JPEG, with their ground truth (`edge::scene::SceneTruth`, one line per frame).
//!
//! Two splits never share a digit image or a random stream: `dev` (test images 0..5000) for
//! tuning the finder, `test` (5000..10000) for the figures that are reported.

use std::io::Write;
use std::path::Path;

use edge::scene::{SceneTruth, TruthDigit, TRUTH_FILE};
use image::imageops::{resize, FilterType};
use image::{GrayImage, Luma};
use imageproc::drawing::draw_line_segment_mut;
use imageproc::geometric_transformations::{warp, Border, Interpolation, Projection};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::atomic;
use crate::data::mnist::{Digits, SIDE};
use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};

/// Which digits and random stream a scene set uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Split {
    /// For tuning: test images 0..5000.
    Dev,
    /// For reporting: test images 5000..10000.
    Test,
    /// For training the camera domain (`train camera-digits`): training images only.
    Train,
}

impl Split {
    /// The images a split draws from `mnist` and the first seed of its random stream.
    pub fn source(
        self,
        mnist: &crate::data::mnist::Mnist,
    ) -> (&Digits, std::ops::Range<usize>, u64) {
        let half = mnist.test.len().min(5000);
        match self {
            Split::Dev => (&mnist.test, 0..half, 1_000_000),
            Split::Test => (&mnist.test, half..mnist.test.len(), 2_000_000),
            Split::Train => (&mnist.train, 0..mnist.train.len(), 3_000_000),
        }
    }

    /// [`Split::source`], or an error naming the split when it has no images.
    pub fn checked_source(
        self,
        mnist: &crate::data::mnist::Mnist,
    ) -> Result<(&Digits, std::ops::Range<usize>, u64)> {
        let source = self.source(mnist);
        if source.1.is_empty() {
            return Err(Error::Config(format!("the {self:?} split has no images")));
        }
        Ok(source)
    }
}

/// How many scenes and of what size.
#[derive(Clone, Debug)]
pub struct SceneConfig {
    /// Number of frames.
    pub count: usize,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Which split.
    pub split: Split,
}

impl Default for SceneConfig {
    fn default() -> Self {
        SceneConfig {
            count: 200,
            width: 640,
            height: 480,
            split: Split::Test,
        }
    }
}

/// Writes `cfg.count` scenes and `truth.jsonl` to `out` and returns the truths.
pub fn generate(
    mnist: &crate::data::mnist::Mnist,
    out: &Path,
    cfg: &SceneConfig,
    progress: &dyn Progress,
) -> Result<Vec<SceneTruth>> {
    let (test, range, stream) = cfg.split.checked_source(mnist)?;
    write_frames(out, cfg.count, progress, |i| {
        let mut rng = ChaCha8Rng::seed_from_u64(stream + i as u64);
        let file = format!("scene-{i:04}.jpg");
        let (frame, mut truth) = render(test, range.clone(), cfg, &mut rng);
        truth.file = file.clone();
        let bytes = jpeg(&frame, &mut rng).map_err(|e| Error::io(out.join(&file), e))?;
        Ok((file, bytes, truth))
    })
}

/// Writes the `count` frames that `frame(i)` makes (file name, bytes, truth) into `out`, each
/// through a temporary file, as `progress` watches, then their `truth.jsonl`; returns the
/// truths.
pub(crate) fn write_frames(
    out: &Path,
    count: usize,
    progress: &dyn Progress,
    mut frame: impl FnMut(usize) -> Result<(String, Vec<u8>, SceneTruth)>,
) -> Result<Vec<SceneTruth>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let task = progress.start("frames", count as u64, Unit::Items);
    let mut truths = Vec::with_capacity(count);
    for i in 0..count {
        let (file, bytes, truth) = frame(i)?;
        atomic::write(&out.join(&file), &bytes)?;
        truths.push(truth);
        task.advance(1);
    }
    drop(task);
    let mut lines = Vec::new();
    for t in &truths {
        serde_json::to_writer(&mut lines, t).map_err(|e| Error::io(out, e.into()))?;
        lines.write_all(b"\n").map_err(|e| Error::io(out, e))?;
    }
    atomic::write(&out.join(TRUTH_FILE), &lines)?;
    Ok(truths)
}

/// The frame as a camera would send it: JPEG at a random quality between 55 and 90.
pub fn jpeg(frame: &GrayImage, rng: &mut ChaCha8Rng) -> std::io::Result<Vec<u8>> {
    let quality = rng.random_range(55..=90u8);
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(frame)
        .map_err(std::io::Error::other)?;
    Ok(bytes)
}

/// Box of ink in paper coordinates, kept while drawing so it can be mapped to the frame.
struct Mark {
    points: Vec<(f32, f32)>,
}

impl Mark {
    fn frame_box(&self, p: &Projection) -> [u32; 4] {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in &self.points {
            let (fx, fy) = *p * (x + 0.5, y + 0.5);
            x0 = x0.min(fx);
            y0 = y0.min(fy);
            x1 = x1.max(fx);
            y1 = y1.max(fy);
        }
        let (x0, y0) = (x0.floor().max(0.0) as u32, y0.floor().max(0.0) as u32);
        [
            x0,
            y0,
            (x1.ceil() as u32).saturating_sub(x0).max(1),
            (y1.ceil() as u32).saturating_sub(y0).max(1),
        ]
    }
}

fn inside(b: [u32; 4], w: u32, h: u32, margin: u32) -> bool {
    b[0] >= margin && b[1] >= margin && b[0] + b[2] + margin <= w && b[1] + b[3] + margin <= h
}

fn overlaps(a: [f32; 4], b: [f32; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// Draws one scene from the images `range` of `test`: the paper (or board) with its
/// writing, warped into the frame and lit.
pub fn render(
    test: &Digits,
    range: std::ops::Range<usize>,
    cfg: &SceneConfig,
    rng: &mut ChaCha8Rng,
) -> (GrayImage, SceneTruth) {
    let (w, h) = (cfg.width, cfg.height);
    let (wf, hf) = (w as f32, h as f32);
    let board = rng.random_bool(0.15);
    let (ground, ink) = if board {
        (
            rng.random_range(30.0..75.0f32),
            rng.random_range(185.0..240.0f32),
        )
    } else {
        (
            rng.random_range(185.0..245.0f32),
            rng.random_range(10.0..70.0f32),
        )
    };
    let mut paper = vec![ground; (w * h) as usize];

    // Where the paper lands in the frame: rotation, scale, shift and a little perspective.
    let angle = rng.random_range(-6.0..6.0f32).to_radians();
    let scale = if board {
        rng.random_range(1.15..1.25)
    } else {
        rng.random_range(0.86..1.02f32)
    };
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    let (dx, dy) = (
        rng.random_range(-0.04..0.04) * wf,
        rng.random_range(-0.04..0.04) * hf,
    );
    let corners = [(0.0, 0.0), (wf, 0.0), (wf, hf), (0.0, hf)];
    let moved = corners.map(|(x, y)| {
        let (x, y) = ((x - cx) * scale, (y - cy) * scale);
        let (s, c) = angle.sin_cos();
        let j = 0.02 * wf;
        (
            x * c - y * s + cx + dx + rng.random_range(-j..j),
            x * s + y * c + cy + dy + rng.random_range(-j..j),
        )
    });
    let projection = Projection::from_control_points(corners, moved)
        .unwrap_or_else(|| Projection::translate(0.0, 0.0));

    // Writing: lines of numbers inside the paper's margins, kept only where the frame shows them.
    let margin = 0.08 * wf;
    let size = rng.random_range(30.0..56.0f32);
    let mut digits: Vec<TruthDigit> = Vec::new();
    let mut numbers: Vec<Vec<usize>> = Vec::new();
    let mut boxes: Vec<[f32; 4]> = Vec::new();
    let mut y = margin + rng.random_range(0.0..size);
    while y + 1.3 * size < hf - margin {
        let mut x = margin + rng.random_range(0.0..2.0 * size);
        for _ in 0..rng.random_range(1..=3) {
            let count = rng.random_range(1..=4);
            // Choose the digits and their sizes first, to see whether the number fits.
            let mut planned = Vec::new();
            let mut nx = x;
            for _ in 0..count {
                let idx = rng.random_range(range.clone());
                let height = size * rng.random_range(0.9..1.1);
                let (crop, cw, ch) = tight(test.image(idx));
                let k = height / ch as f32;
                let (pw, ph) = (
                    (cw as f32 * k).round().max(1.0),
                    (ch as f32 * k).round().max(1.0),
                );
                let py = y + rng.random_range(-0.1..0.1) * size;
                planned.push((idx, crop, nx, py, pw, ph));
                nx += pw + rng.random_range(0.08..0.3) * size;
            }
            if nx > wf - margin {
                break;
            }
            let marks: Vec<Mark> = planned
                .iter()
                .map(|(_, _, px, py, pw, ph)| Mark {
                    points: vec![
                        (*px, *py),
                        (px + pw - 1.0, *py),
                        (*px, py + ph - 1.0),
                        (px + pw - 1.0, py + ph - 1.0),
                    ],
                })
                .collect();
            if marks
                .iter()
                .any(|m| !inside(m.frame_box(&projection), w, h, 6))
            {
                x = nx + rng.random_range(1.2..2.5) * size;
                continue;
            }
            let mut members = Vec::new();
            for (idx, crop, px, py, pw, ph) in planned {
                let mark = draw_digit(&mut paper, w, &crop, (px, py, pw, ph), ink);
                members.push(digits.len());
                boxes.push([px, py, pw, ph]);
                digits.push(TruthDigit {
                    digit: test.labels[idx].to_string(),
                    bbox: mark.frame_box(&projection),
                    touching: false,
                });
            }
            numbers.push(members);
            x = nx + rng.random_range(1.2..2.5) * size;
        }
        y += size * rng.random_range(1.6..2.2);
    }

    // Marks that are not digits: scribbles in free space.
    let mut distractors = Vec::new();
    for _ in 0..rng.random_range(0..=2) {
        let (bw, bh) = (
            size * rng.random_range(0.8..2.2),
            size * rng.random_range(0.5..1.2),
        );
        let (bx, by) = (
            rng.random_range(margin..(wf - margin - bw).max(margin + 1.0)),
            rng.random_range(margin..(hf - margin - bh).max(margin + 1.0)),
        );
        let pad = 0.5 * size;
        if boxes
            .iter()
            .any(|b| overlaps(*b, [bx - pad, by - pad, bw + 2.0 * pad, bh + 2.0 * pad]))
        {
            continue;
        }
        let mark = draw_scribble(&mut paper, w, h, [bx, by, bw, bh], ink, rng);
        let fb = mark.frame_box(&projection);
        if inside(fb, w, h, 6) {
            distractors.push(fb);
            boxes.push([bx, by, bw, bh]);
        }
    }

    // Into the frame: the table where the paper is not.
    let paper_img = GrayImage::from_raw(
        w,
        h,
        paper
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect(),
    )
    .unwrap_or_else(|| GrayImage::new(w, h));
    let warped = warp(
        &paper_img,
        projection,
        Interpolation::Bilinear,
        Border::Constant(Luma([0])),
    );
    let cover = warp(
        &GrayImage::from_pixel(w, h, Luma([255])),
        projection,
        Interpolation::Bilinear,
        Border::Constant(Luma([0])),
    );
    let table = rng.random_range(50.0..150.0f32);
    let (grain, grain_f) = (
        rng.random_range(5.0..20.0f32),
        rng.random_range(0.02..0.08f32),
    );

    // Light: a gradient, a vignette and sometimes a soft-edged shadow.
    let base = rng.random_range(0.7..1.05f32);
    let (gx, gy) = (
        rng.random_range(-0.5..0.5f32),
        rng.random_range(-0.5..0.5f32),
    );
    let vignette = rng.random_range(0.0..0.35f32);
    let shadow = rng.random_bool(0.5).then(|| {
        let (sx, sy) = (rng.random_range(0.0..wf), rng.random_range(0.0..hf));
        let dir = rng.random_range(0.0..std::f32::consts::TAU);
        (
            sx,
            sy,
            dir.cos(),
            dir.sin(),
            rng.random_range(0.45..0.7f32),
            rng.random_range(4.0..30.0f32),
        )
    });
    let mut lit = GrayImage::new(w, h);
    for (x, y, px) in lit.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32, y as f32);
        let a = f32::from(cover.get_pixel(x, y)[0]) / 255.0;
        let t = table + grain * (xf * grain_f + 3.0 * (yf * 0.013).sin()).sin();
        let v = a * f32::from(warped.get_pixel(x, y)[0]) + (1.0 - a) * t;
        let (nx, ny) = ((xf - cx) / wf, (yf - cy) / hf);
        let mut light =
            base * (1.0 + gx * nx + gy * ny) * (1.0 - vignette * (nx * nx + ny * ny) * 2.0);
        if let Some((sx, sy, c, s, depth, soft)) = shadow {
            let d = (xf - sx) * c + (yf - sy) * s;
            let t = (d / soft).clamp(-1.0, 1.0) * 0.5 + 0.5;
            light *= 1.0 - (1.0 - depth) * t;
        }
        *px = Luma([(v * light).clamp(0.0, 255.0) as u8]);
    }
    let blurred = imageproc::filter::gaussian_blur_f32(&lit, rng.random_range(0.4..1.1));
    let noise = rng.random_range(1.0..5.0f32);
    let frame = GrayImage::from_fn(w, h, |x, y| {
        let v = f32::from(blurred.get_pixel(x, y)[0]) + noise * gaussian(rng);
        Luma([v.round().clamp(0.0, 255.0) as u8])
    });
    let truth = SceneTruth {
        file: String::new(),
        ink: if board { "light" } else { "dark" }.into(),
        digits,
        numbers,
        distractors,
        page: None,
    };
    (frame, truth)
}

/// The tight crop of an MNIST digit's ink, with its width and height.
fn tight(pixels: &[u8]) -> (GrayImage, u32, u32) {
    let side = SIDE as u32;
    let (mut x0, mut y0, mut x1, mut y1) = (side, side, 0, 0);
    for (i, &v) in pixels.iter().enumerate() {
        if v > 0 {
            let (x, y) = (i as u32 % side, i as u32 / side);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if x1 < x0 {
        return (GrayImage::new(1, 1), 1, 1);
    }
    let crop = GrayImage::from_fn(x1 + 1 - x0, y1 + 1 - y0, |x, y| {
        Luma([pixels[((y + y0) * side + x + x0) as usize]])
    });
    let (cw, ch) = crop.dimensions();
    (crop, cw, ch)
}

/// Writes a digit scaled into `(x, y, w, h)` of the paper with ink level `ink`.
fn draw_digit(
    paper: &mut [f32],
    width: u32,
    crop: &GrayImage,
    (x, y, w, h): (f32, f32, f32, f32),
    ink: f32,
) -> Mark {
    let scaled = resize(crop, w as u32, h as u32, FilterType::CatmullRom);
    let mut points = Vec::new();
    for (sx, sy, p) in scaled.enumerate_pixels() {
        let a = f32::from(p[0]) / 255.0;
        if a <= 0.0 {
            continue;
        }
        let (px, py) = (x as u32 + sx, y as u32 + sy);
        let i = (py * width + px) as usize;
        if let Some(v) = paper.get_mut(i) {
            *v = *v * (1.0 - a) + ink * a;
            if a > 0.35 {
                points.push((px as f32, py as f32));
            }
        }
    }
    if points.is_empty() {
        points.push((x, y));
    }
    Mark { points }
}

/// A random scribble (a thick polyline) in `[x, y, w, h]`.
fn draw_scribble(
    paper: &mut [f32],
    width: u32,
    height: u32,
    b: [f32; 4],
    ink: f32,
    rng: &mut ChaCha8Rng,
) -> Mark {
    let mut mask = GrayImage::new(width, height);
    let n = rng.random_range(4..8);
    let pts: Vec<(f32, f32)> = (0..n)
        .map(|_| {
            (
                b[0] + rng.random_range(0.0..b[2]),
                b[1] + rng.random_range(0.0..b[3]),
            )
        })
        .collect();
    let thick = rng.random_range(2..=4);
    for seg in pts.windows(2) {
        for t in 0..thick {
            let o = t as f32 - thick as f32 / 2.0;
            draw_line_segment_mut(
                &mut mask,
                (seg[0].0 + o, seg[0].1),
                (seg[1].0 + o, seg[1].1),
                Luma([255]),
            );
            draw_line_segment_mut(
                &mut mask,
                (seg[0].0, seg[0].1 + o),
                (seg[1].0, seg[1].1 + o),
                Luma([255]),
            );
        }
    }
    let mut points = Vec::new();
    for (x, y, p) in mask.enumerate_pixels() {
        if p[0] > 0 {
            let v = &mut paper[(y * width + x) as usize];
            *v = ink;
            points.push((x as f32, y as f32));
        }
    }
    if points.is_empty() {
        points.push((b[0], b[1]));
    }
    Mark { points }
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

//! Notebook pages seen by a board's camera, for judging the finder on what people write on
//! the paper they have at hand: MNIST *test* digits written as numbers in 1–4 lines on plain,
//! ruled, squared or dotted paper, with ballpoint, gel, felt-tip, marker or pencil, 18–120 px
//! tall, spaced from overlapping through touching to wide, with baseline drift and slant, then
//! photographed (tilt, perspective, the page partly out of frame, uneven light, the shadow of
//! a hand, glare, vignetting, blur, noise, JPEG). Every factor is drawn at random per page and
//! written into the truth (`edge::scene::PageFactors`, `TruthDigit::touching`).
//!
//! Two renderers share only the writing's layout ([`layout`]): [`notebook`] (`--kind pages`)
//! and [`sketch`] (`--kind sketch`), each with its own code for paper, pen, light and camera.
//! The second exists as a check: a finder rule tuned on one must hold on the other.

pub mod layout;
pub mod notebook;
pub mod sketch;

use std::path::Path;

use edge::scene::{PageFactors, SceneTruth, TruthDigit};
use image::GrayImage;
use imageproc::geometric_transformations::Projection;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::mnist::{Digits, Mnist};
use crate::data::scene::Split;
use crate::error::{Error, Result};

pub use layout::{Layout, Paper, Pen};

/// Which renderer draws the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// [`notebook`]: paper and rules drawn on a page image, warped into the frame.
    Notebook,
    /// [`sketch`]: every frame pixel mapped back onto the page and shaded there.
    Sketch,
}

impl Style {
    /// The name written into the truth.
    pub fn name(self) -> &'static str {
        match self {
            Style::Notebook => "pages",
            Style::Sketch => "sketch",
        }
    }

    /// Offset of this style's random streams from the split's, so no page repeats a table
    /// scene's or the other style's draws.
    fn stream(self) -> u64 {
        match self {
            Style::Notebook => 10_000_000,
            Style::Sketch => 20_000_000,
        }
    }
}

/// How many pages, of what size and from which split.
#[derive(Clone, Debug)]
pub struct PageConfig {
    /// Number of frames.
    pub count: usize,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Which digits and random stream.
    pub split: Split,
    /// Which renderer.
    pub style: Style,
}

/// One digit as a renderer drew it: the page pixels of its ink (alpha over 0.35).
pub struct Drawn {
    /// Page coordinates of its ink.
    pub points: Vec<(u32, u32)>,
}

/// A rendered frame and what is on it.
pub struct Rendered {
    /// The frame as the camera delivers it (before JPEG).
    pub frame: GrayImage,
    /// The truth, without the file name.
    pub truth: SceneTruth,
    /// JPEG quality the camera uses for it.
    pub quality: u8,
}

/// Writes `cfg.count` pages and `truth.jsonl` to `out` and returns the truths.
pub fn generate(
    mnist: &Mnist,
    out: &Path,
    cfg: &PageConfig,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<SceneTruth>> {
    let (digits, range, stream) = cfg.split.checked_source(mnist)?;
    crate::data::scene::write_frames(out, cfg.count, progress, |i| {
        let mut rng = ChaCha8Rng::seed_from_u64(stream + cfg.style.stream() + i as u64);
        let file = format!("page-{i:04}.jpg");
        let mut r = render(digits, range.clone(), cfg, &mut rng);
        r.truth.file = file.clone();
        let bytes = encode(&r.frame, r.quality).map_err(|e| Error::io(out.join(&file), e))?;
        Ok((file, bytes, r.truth))
    })
}

/// Renders one page with `cfg.style`.
pub fn render(
    digits: &Digits,
    range: std::ops::Range<usize>,
    cfg: &PageConfig,
    rng: &mut ChaCha8Rng,
) -> Rendered {
    let paper = Paper::draw(rng);
    let pen = Pen::draw(rng);
    let camera = Camera::draw(cfg.width, cfg.height, rng);
    let layout = Layout::plan(digits, range, &camera, paper, rng);
    let (frame, drawn) = match cfg.style {
        Style::Notebook => notebook::render(digits, &layout, &camera, pen, rng),
        Style::Sketch => sketch::render(digits, &layout, &camera, pen, rng),
    };
    let truth = truth_of(&layout, &drawn, &camera, cfg, pen);
    Rendered {
        frame,
        truth,
        quality: rng.random_range(50..=92u8),
    }
}

/// The frame as a camera's JPEG encoder sends it.
pub fn encode(frame: &GrayImage, quality: u8) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(frame)
        .map_err(std::io::Error::other)?;
    Ok(bytes)
}

/// Where the page lies in the frame: the page is an image `page_w × page_h` mapped into the
/// `width × height` frame by `to_frame` (tilt, zoom, perspective, shift; parts of the page may
/// fall outside).
pub struct Camera {
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Page width in page pixels.
    pub page_w: u32,
    /// Page height in page pixels.
    pub page_h: u32,
    /// Page pixels to frame pixels.
    pub to_frame: Projection,
    /// Frame pixels per page pixel, near the page's centre.
    pub zoom: f32,
}

impl Camera {
    fn draw(width: u32, height: u32, rng: &mut ChaCha8Rng) -> Camera {
        let (wf, hf) = (width as f32, height as f32);
        // An A5-ish sheet a little larger than the frame; the camera sees most of it.
        let (page_w, page_h) = ((wf * 1.15) as u32, (hf * 1.15) as u32);
        let (pw, ph) = (page_w as f32, page_h as f32);
        let zoom = rng.random_range(0.8..1.2f32);
        let angle = rng.random_range(-10.0..10.0f32).to_radians();
        let (s, c) = angle.sin_cos();
        let (dx, dy) = (
            rng.random_range(-0.08..0.08) * wf,
            rng.random_range(-0.08..0.08) * hf,
        );
        let tilt = rng.random_range(0.0..0.06f32) * wf;
        let corners = [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)];
        let to = corners.map(|(x, y)| {
            let (x, y) = ((x - pw / 2.0) * zoom, (y - ph / 2.0) * zoom);
            (
                x * c - y * s + wf / 2.0 + dx + rng.random_range(-tilt..=tilt),
                x * s + y * c + hf / 2.0 + dy + rng.random_range(-tilt..=tilt),
            )
        });
        let to_frame = Projection::from_control_points(corners, to)
            .unwrap_or_else(|| Projection::scale(zoom, zoom));
        Camera {
            width,
            height,
            page_w,
            page_h,
            to_frame,
            zoom,
        }
    }

    /// Frame box `[x, y, w, h]` of page points, or `None` when any falls within `margin` of
    /// the frame's edge or outside it.
    pub fn frame_box(&self, points: &[(f32, f32)], margin: f32) -> Option<[u32; 4]> {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in points {
            let (fx, fy) = self.to_frame * (x + 0.5, y + 0.5);
            x0 = x0.min(fx);
            y0 = y0.min(fy);
            x1 = x1.max(fx);
            y1 = y1.max(fy);
        }
        let (w, h) = (self.width as f32, self.height as f32);
        if points.is_empty() || x0 < margin || y0 < margin || x1 > w - margin || y1 > h - margin {
            return None;
        }
        let (bx, by) = (x0.floor() as u32, y0.floor() as u32);
        Some([
            bx,
            by,
            (x1.ceil() as u32).saturating_sub(bx).max(1),
            (y1.ceil() as u32).saturating_sub(by).max(1),
        ])
    }
}

/// The truth of a rendered page: each drawn digit's frame box and whether its ink touches a
/// neighbour's (8-connected, in page pixels).
fn truth_of(
    layout: &Layout,
    drawn: &[Drawn],
    camera: &Camera,
    cfg: &PageConfig,
    pen: Pen,
) -> SceneTruth {
    let (pw, ph) = (camera.page_w as usize, camera.page_h as usize);
    let mut owner = vec![u32::MAX; pw * ph];
    let mut touching = vec![false; drawn.len()];
    for (k, d) in drawn.iter().enumerate() {
        for &(x, y) in &d.points {
            let (x, y) = (x as usize, y as usize);
            for yy in y.saturating_sub(1)..(y + 2).min(ph) {
                for xx in x.saturating_sub(1)..(x + 2).min(pw) {
                    let o = owner[yy * pw + xx];
                    if o != u32::MAX && o as usize != k {
                        touching[k] = true;
                        touching[o as usize] = true;
                    }
                }
            }
        }
        for &(x, y) in &d.points {
            owner[y as usize * pw + x as usize] = k as u32;
        }
    }
    let mut digits = Vec::with_capacity(drawn.len());
    for ((planned, d), touching) in layout.digits.iter().zip(drawn).zip(touching) {
        let points: Vec<(f32, f32)> = d
            .points
            .iter()
            .map(|&(x, y)| (x as f32, y as f32))
            .collect();
        // Layout kept only digits well inside the frame; a box always exists.
        let bbox = camera.frame_box(&points, 0.0).unwrap_or([0, 0, 1, 1]);
        digits.push(TruthDigit {
            digit: planned.label.to_string(),
            bbox,
            touching,
        });
    }
    SceneTruth {
        file: String::new(),
        ink: "dark".into(),
        digits,
        numbers: layout.numbers.clone(),
        distractors: Vec::new(),
        page: Some(PageFactors {
            style: cfg.style.name().into(),
            paper: layout.paper.name().into(),
            pen: pen.name().into(),
            lines: layout.lines,
        }),
    }
}

/// A standard normal sample (Box–Muller).
pub(crate) fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests;

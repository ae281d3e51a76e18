//! What a frame's reading becomes for people and programs: one JSON object per frame
//! (JSON lines on standard output) and annotated pictures with boxes and labels drawn.

use std::time::Duration;

use image::{GrayImage, Rgb, RgbImage};
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect as IRect;
use serde::{Deserialize, Serialize};

use crate::picture::text;
use crate::read::Reading;

/// One digit in a frame's report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DigitReport {
    /// The digit's label, or `null` when it is unknown (confidence under the threshold).
    pub digit: Option<String>,
    /// The model's probability for its best class.
    pub confidence: f32,
    /// `[x, y, w, h]` in frame pixels.
    pub bbox: [u32; 4],
}

/// Milliseconds spent per stage on one frame.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// Decoding the JPEG or PNG.
    pub decode: f64,
    /// Finding the digits.
    pub locate: f64,
    /// Cropping and centring them.
    pub normalise: f64,
    /// Running the model on the batch.
    pub infer: f64,
    /// All of the above.
    pub total: f64,
}

/// How fresh a live source's frame was (cameras, MJPEG streams, pipes).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Freshness {
    /// Frames dropped just before this one: newer frames came while the reader was busy.
    pub dropped: u64,
    /// Milliseconds from the frame's capture to the start of its reading.
    pub age_ms: f64,
    /// Milliseconds from the frame's capture to its result.
    pub latency_ms: f64,
}

impl Freshness {
    /// The freshness of a frame captured at `captured`, read from `start` to now.
    pub fn of(captured: std::time::Instant, start: std::time::Instant, dropped: u64) -> Self {
        Freshness {
            dropped,
            age_ms: ms(start.saturating_duration_since(captured)),
            latency_ms: ms(captured.elapsed()),
        }
    }
}

/// The report of one frame: one line of JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FrameReport {
    /// File name, stream URL or camera.
    pub source: String,
    /// Frame index within the source (0 for image files).
    pub frame: u64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The digits found, known and unknown.
    pub digits: Vec<DigitReport>,
    /// The numbers, left to right and top to bottom; an unknown digit reads as `?`.
    pub numbers: Vec<String>,
    /// Per-stage timings in milliseconds.
    pub timings_ms: Timings,
    /// For a live source's frame: drops, age and latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<Freshness>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

impl FrameReport {
    /// The report of `reading`, taken from a `width × height` frame that took `decode`.
    pub fn new(
        source: &str,
        frame: u64,
        size: (u32, u32),
        decode: Duration,
        reading: &Reading,
    ) -> Self {
        let t = reading.times;
        FrameReport {
            source: source.to_string(),
            frame,
            width: size.0,
            height: size.1,
            digits: reading
                .digits
                .iter()
                .map(|d| DigitReport {
                    digit: d.label.clone(),
                    confidence: (d.confidence * 1e4).round() / 1e4,
                    bbox: [d.rect.x, d.rect.y, d.rect.w, d.rect.h],
                })
                .collect(),
            numbers: reading.number_strings(),
            timings_ms: Timings {
                decode: ms(decode),
                locate: ms(t.locate),
                normalise: ms(t.normalise),
                infer: ms(t.infer),
                total: ms(decode + t.locate + t.normalise + t.infer),
            },
            live: None,
        }
    }
}

/// `name` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `_`,
/// for a picture's file name made from a source name.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

const KNOWN: Rgb<u8> = Rgb([0, 200, 0]);
const UNKNOWN: Rgb<u8> = Rgb([230, 30, 30]);
const NUMBER: Rgb<u8> = Rgb([30, 90, 255]);

/// The frame in colour with a box and label per digit and each number written above it.
pub fn annotate(frame: &GrayImage, reading: &Reading) -> RgbImage {
    let mut img = RgbImage::from_fn(frame.width(), frame.height(), |x, y| {
        let v = frame.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    let scale = if frame.height() >= 400 { 2 } else { 1 };
    for d in &reading.digits {
        let colour = if d.label.is_some() { KNOWN } else { UNKNOWN };
        let r = d.rect;
        for grow in 0..2i32 {
            let rect = IRect::at(r.x as i32 - 1 - grow, r.y as i32 - 1 - grow)
                .of_size(r.w + 2 + 2 * grow as u32, r.h + 2 + 2 * grow as u32);
            draw_hollow_rect_mut(&mut img, rect, colour);
        }
        let label = d.label.as_deref().unwrap_or("?");
        text(
            &mut img,
            r.x as i32,
            (r.y + r.h) as i32 + 3,
            label,
            scale,
            colour,
        );
    }
    for (number, members) in reading.number_strings().iter().zip(&reading.numbers) {
        let Some(first) = members.first() else {
            continue;
        };
        let r = reading.digits[*first].rect;
        let y = r.y as i32 - 4 - 8 * scale as i32;
        text(&mut img, r.x as i32, y, number, scale, NUMBER);
    }
    img
}

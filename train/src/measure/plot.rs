//! Pictures of a run: loss and accuracy curves per epoch, and the confusion matrix.

use std::path::Path;

use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_line_segment_mut};
use imageproc::rect::Rect;

use crate::error::Result;
use crate::measure::evaluate::Evaluation;
use crate::measure::metrics::EpochMetrics;
use crate::measure::picture::{save_png, text, text_width};

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([20, 20, 20]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);
const BLUE: Rgb<u8> = Rgb([31, 119, 180]);
const ORANGE: Rgb<u8> = Rgb([255, 127, 14]);

/// One line of a chart: legend label, colour and `(x, y)` points.
struct Series<'a> {
    label: &'a str,
    color: Rgb<u8>,
    points: Vec<(f64, f64)>,
}

/// Writes `curves.png`: loss (left) and accuracy in % (right), train and test, per epoch.
pub fn curves(history: &[EpochMetrics], path: &Path) -> Result<()> {
    let mut img = RgbImage::from_pixel(1100, 440, WHITE);
    let pts = |f: &dyn Fn(&EpochMetrics) -> f64| {
        history
            .iter()
            .map(|m| (m.epoch as f64, f(m)))
            .collect::<Vec<_>>()
    };
    chart(
        &mut img,
        (70, 40, 440, 330),
        "cross-entropy loss",
        &[
            Series {
                label: "train",
                color: BLUE,
                points: pts(&|m| m.train_loss),
            },
            Series {
                label: "test",
                color: ORANGE,
                points: pts(&|m| m.test_loss),
            },
        ],
    );
    chart(
        &mut img,
        (620, 40, 440, 330),
        "accuracy %",
        &[
            Series {
                label: "train",
                color: BLUE,
                points: pts(&|m| 100.0 * m.train_accuracy),
            },
            Series {
                label: "test",
                color: ORANGE,
                points: pts(&|m| 100.0 * m.test_accuracy),
            },
        ],
    );
    save_png(&img, path)
}

fn chart(img: &mut RgbImage, (x0, y0, w, h): (i32, i32, i32, i32), title: &str, series: &[Series]) {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        xmin = xmin.min(x);
        xmax = xmax.max(x);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmin > xmax {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    if xmax - xmin < 1.0 {
        xmin -= 0.5;
        xmax += 0.5;
    }
    let pad = ((ymax - ymin) * 0.08).max(1e-3);
    ymin -= pad;
    ymax += pad;
    let px = |x: f64| x0 as f32 + ((x - xmin) / (xmax - xmin)) as f32 * w as f32;
    let py = |y: f64| (y0 + h) as f32 - ((y - ymin) / (ymax - ymin)) as f32 * h as f32;

    text(
        img,
        x0 + (w - text_width(title, 2)) / 2,
        y0 - 30,
        title,
        2,
        BLACK,
    );
    for k in 0..=5 {
        let y = ymin + (ymax - ymin) * k as f64 / 5.0;
        let yy = py(y);
        draw_line_segment_mut(img, (x0 as f32, yy), ((x0 + w) as f32, yy), GRID);
        let label = tick(y, ymax - ymin);
        text(
            img,
            x0 - 8 - text_width(&label, 1),
            yy as i32 - 4,
            &label,
            1,
            BLACK,
        );
    }
    let step = ((xmax - xmin) / 10.0).ceil().max(1.0);
    let mut x = xmin.ceil();
    while x <= xmax {
        let xx = px(x);
        draw_line_segment_mut(img, (xx, y0 as f32), (xx, (y0 + h) as f32), GRID);
        let label = format!("{x:.0}");
        text(
            img,
            xx as i32 - text_width(&label, 1) / 2,
            y0 + h + 8,
            &label,
            1,
            BLACK,
        );
        x += step;
    }
    text(
        img,
        x0 + (w - text_width("epoch", 1)) / 2,
        y0 + h + 24,
        "epoch",
        1,
        BLACK,
    );
    draw_hollow_rect_mut(
        img,
        Rect::at(x0, y0).of_size(w as u32 + 1, h as u32 + 1),
        BLACK,
    );
    for (k, s) in series.iter().enumerate() {
        for pair in s.points.windows(2) {
            let (a, b) = (
                (px(pair[0].0), py(pair[0].1)),
                (px(pair[1].0), py(pair[1].1)),
            );
            for d in [-1.0, 0.0, 1.0] {
                draw_line_segment_mut(img, (a.0, a.1 + d), (b.0, b.1 + d), s.color);
            }
        }
        for &(x, y) in &s.points {
            draw_filled_rect_mut(
                img,
                Rect::at(px(x) as i32 - 3, py(y) as i32 - 3).of_size(7, 7),
                s.color,
            );
        }
        let ly = y0 + 10 + 16 * k as i32;
        draw_filled_rect_mut(img, Rect::at(x0 + w - 80, ly).of_size(16, 8), s.color);
        text(img, x0 + w - 58, ly, s.label, 1, BLACK);
    }
}

fn tick(v: f64, range: f64) -> String {
    let decimals = if range >= 10.0 {
        1
    } else if range >= 0.5 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// Writes the confusion matrix as a picture: rows are true digits, columns predictions;
/// the diagonal is shaded by per-class accuracy, errors by their count.
pub fn confusion(eval: &Evaluation, title: &str, path: &Path) -> Result<()> {
    let cell = 48;
    let (x0, y0) = (90, 90);
    let mut img = RgbImage::from_pixel(
        (x0 + 10 * cell + 30) as u32,
        (y0 + 10 * cell + 50) as u32,
        WHITE,
    );
    text(&mut img, 10, 12, title, 2, BLACK);
    let summary = format!(
        "{} images, accuracy {:.2}%",
        eval.count,
        100.0 * eval.accuracy
    );
    text(&mut img, 10, 40, &summary, 1, BLACK);
    text(
        &mut img,
        x0 + 5 * cell - text_width("predicted", 1) / 2,
        y0 - 30,
        "predicted",
        1,
        BLACK,
    );
    text(&mut img, 10, y0 + 5 * cell - 4, "true", 1, BLACK);
    let worst = eval
        .confusion
        .iter()
        .enumerate()
        .flat_map(|(t, row)| {
            row.iter()
                .enumerate()
                .filter(move |(p, _)| *p != t)
                .map(|(_, &n)| n)
        })
        .max()
        .unwrap_or(0)
        .max(1);
    for (t, row) in eval.confusion.iter().enumerate() {
        let n: u32 = row.iter().sum::<u32>().max(1);
        for (p, &count) in row.iter().enumerate() {
            let shade = if p == t {
                let f = count as f64 / n as f64;
                let k = (255.0 * (1.0 - f.powi(4))) as u8;
                Rgb([k, k.saturating_add(40), 255])
            } else if count > 0 {
                let k = (255.0 * (1.0 - 0.8 * (count as f64 / worst as f64).sqrt())) as u8;
                Rgb([255, k, k])
            } else {
                WHITE
            };
            let (cx, cy) = (x0 + p as i32 * cell, y0 + t as i32 * cell);
            draw_filled_rect_mut(
                &mut img,
                Rect::at(cx, cy).of_size(cell as u32, cell as u32),
                shade,
            );
            draw_hollow_rect_mut(
                &mut img,
                Rect::at(cx, cy).of_size(cell as u32 + 1, cell as u32 + 1),
                GRID,
            );
            if count > 0 {
                let label = count.to_string();
                let ink = if p == t && count * 2 > n {
                    WHITE
                } else {
                    BLACK
                };
                text(
                    &mut img,
                    cx + (cell - text_width(&label, 1)) / 2,
                    cy + cell / 2 - 4,
                    &label,
                    1,
                    ink,
                );
            }
        }
        let d = t.to_string();
        text(
            &mut img,
            x0 - 20,
            y0 + t as i32 * cell + cell / 2 - 8,
            &d,
            2,
            BLACK,
        );
        text(
            &mut img,
            x0 + t as i32 * cell + cell / 2 - 8,
            y0 - 20,
            &d,
            2,
            BLACK,
        );
    }
    save_png(&img, path)
}

//! The first page renderer (`--kind pages`): the page is drawn as an image (paper grain,
//! antialiased rules, grid or dots), each digit is thinned to its centre line and written
//! again with a round pen of the pen's width, the page is warped into the frame over a table,
//! then lit (gradient, vignette, the soft shadow of a hand, glare) and put through the camera
//! (blur, motion blur, sensor noise).

use image::{GrayImage, Luma};
use imageproc::distance_transform::euclidean_squared_distance_transform;
use imageproc::geometric_transformations::{warp, Border, Interpolation};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::layout::{tight, Layout, PaperKind, PenKind, Planned};
use super::{gaussian, Camera, Drawn, Pen};
use crate::data::mnist::Digits;

/// Draws the page of `layout` with `pen` and photographs it with `camera`.
pub fn render(
    digits: &Digits,
    layout: &Layout,
    camera: &Camera,
    pen: Pen,
    rng: &mut ChaCha8Rng,
) -> (GrayImage, Vec<Drawn>) {
    let (pw, ph) = (camera.page_w as usize, camera.page_h as usize);
    let paper = layout.paper;
    let grain = rng.random_range(0.5..3.0f32);
    let mut page: Vec<f32> = (0..pw * ph)
        .map(|_| paper.tone + grain * gaussian(rng))
        .collect();
    rulings(&mut page, pw, ph, layout);
    let drawn = layout
        .digits
        .iter()
        .map(|d| write_digit(&mut page, pw, ph, digits.image(d.idx), d, pen, rng))
        .collect();
    let page_img = to_gray(&page, pw, ph);
    let (w, h) = (camera.width, camera.height);
    let warped = warp_into_frame(&page_img, camera, w, h);
    let cover = warp_into_frame(
        &GrayImage::from_pixel(camera.page_w, camera.page_h, Luma([255])),
        camera,
        w,
        h,
    );
    let frame = photograph(&warped, &cover, w, h, rng);
    (frame, drawn)
}

fn to_gray(v: &[f32], w: usize, h: usize) -> GrayImage {
    let bytes = v
        .iter()
        .map(|p| p.round().clamp(0.0, 255.0) as u8)
        .collect();
    GrayImage::from_raw(w as u32, h as u32, bytes)
        .unwrap_or_else(|| GrayImage::new(w as u32, h as u32))
}

fn warp_into_frame(page: &GrayImage, camera: &Camera, w: u32, h: u32) -> GrayImage {
    // `warp` keeps the input's size; the page is larger than the frame, so crop after.
    let full = warp(
        page,
        camera.to_frame,
        Interpolation::Bilinear,
        Border::Constant(Luma([0])),
    );
    image::imageops::crop_imm(&full, 0, 0, w.min(full.width()), h.min(full.height())).to_image()
}

/// Rules, a margin line, a grid or dots, antialiased: each darkens the paper by its contrast
/// times its coverage of the pixel.
fn rulings(page: &mut [f32], pw: usize, ph: usize, layout: &Layout) {
    let p = layout.paper;
    let cover = |d: f32, width: f32| (width / 2.0 + 0.5 - d.abs()).clamp(0.0, 1.0);
    let nearest = |v: f32| {
        let k = ((v - p.offset) / p.pitch).round();
        v - (p.offset + k * p.pitch)
    };
    if p.pitch <= 1.0 {
        return;
    }
    for y in 0..ph {
        for x in 0..pw {
            let (xf, yf) = (x as f32, y as f32);
            let c = match p.kind {
                PaperKind::Plain => 0.0,
                PaperKind::Ruled => p.contrast * cover(nearest(yf), p.line_width),
                PaperKind::Margin => (p.contrast * cover(nearest(yf), p.line_width))
                    .max(p.margin.1 * cover(xf - p.margin.0, p.line_width + 0.5)),
                PaperKind::Squared => {
                    p.contrast
                        * cover(nearest(yf), p.line_width).max(cover(nearest(xf), p.line_width))
                }
                PaperKind::Dotted => {
                    let r = (nearest(xf).powi(2) + nearest(yf).powi(2)).sqrt();
                    p.contrast * cover(r, p.line_width + 1.0)
                }
            };
            page[y * pw + x] *= 1.0 - c;
        }
    }
}

/// Writes one digit: its MNIST shape sheared and scaled into place, thinned to a centre
/// line (Zhang–Suen), then drawn with a round pen of `pen.width × h` (pencil: grainy and
/// uneven). Returns its ink pixels.
fn write_digit(
    page: &mut [f32],
    pw: usize,
    ph: usize,
    image: &[u8],
    d: &Planned,
    pen: Pen,
    rng: &mut ChaCha8Rng,
) -> Drawn {
    let (crop, cw, ch) = tight(image);
    let radius = (pen.width * d.h / 2.0).max(0.5);
    let pad = radius.ceil() as i64 + 2;
    let e = d.extent();
    let x0 = (e[0].floor() as i64 - pad).max(0);
    let y0 = (e[1].floor() as i64 - pad).max(0);
    let x1 = (e[2].ceil() as i64 + pad).min(pw as i64 - 1);
    let y1 = (e[3].ceil() as i64 + pad).min(ph as i64 - 1);
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return Drawn { points: Vec::new() };
    }
    let (rw, rh) = ((x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize);
    let sample = |u: f32, v: f32| -> f32 {
        // Bilinear in the crop, zero outside.
        let (u, v) = (u - 0.5, v - 0.5);
        let (iu, iv) = (u.floor(), v.floor());
        let (fu, fv) = (u - iu, v - iv);
        let at = |x: f32, y: f32| {
            if x < 0.0 || y < 0.0 || x >= cw as f32 || y >= ch as f32 {
                0.0
            } else {
                f32::from(crop[y as usize * cw + x as usize]) / 255.0
            }
        };
        let top = at(iu, iv) * (1.0 - fu) + at(iu + 1.0, iv) * fu;
        let bottom = at(iu, iv + 1.0) * (1.0 - fu) + at(iu + 1.0, iv + 1.0) * fu;
        top * (1.0 - fv) + bottom * fv
    };
    let mut shape = vec![0u8; rw * rh];
    for ry in 0..rh {
        let py = (y0 as usize + ry) as f32 + 0.5;
        let v = (py - d.y) / d.h * ch as f32;
        let shift = d.slant * (d.y + d.h - py);
        for rx in 0..rw {
            let px = (x0 as usize + rx) as f32 + 0.5;
            let u = (px - d.x - shift) / d.w * cw as f32;
            shape[ry * rw + rx] = u8::from(sample(u, v) > 0.45);
        }
    }
    thin(&mut shape, rw, rh);
    let skeleton = GrayImage::from_raw(
        rw as u32,
        rh as u32,
        shape.iter().map(|&s| s * 255).collect(),
    )
    .unwrap_or_else(|| GrayImage::new(rw as u32, rh as u32));
    if !shape.contains(&1) {
        return Drawn { points: Vec::new() };
    }
    let dist = euclidean_squared_distance_transform(&skeleton);
    // Pencil lays graphite unevenly: a slow pressure change along the digit and paper tooth.
    let pressure = rng.random_range(0.75..1.0f32);
    let mut points = Vec::new();
    for ry in 0..rh {
        for rx in 0..rw {
            let dd = dist.get_pixel(rx as u32, ry as u32)[0].sqrt() as f32;
            let mut a = (radius + 0.5 - dd).clamp(0.0, 1.0);
            if a <= 0.0 {
                continue;
            }
            if pen.kind == PenKind::Pencil {
                let wave = 0.85 + 0.15 * ((rx as f32 * 0.21) + (ry as f32 * 0.13)).sin();
                a *= pressure * wave * rng.random_range(0.55..1.0f32);
            }
            let (px, py) = (x0 as usize + rx, y0 as usize + ry);
            let p = &mut page[py * pw + px];
            *p *= 1.0 - pen.contrast * a;
            if a > 0.35 {
                points.push((px as u32, py as u32));
            }
        }
    }
    Drawn { points }
}

/// Zhang–Suen thinning of a 0/1 mask, in place: strokes become one pixel wide, connected.
pub fn thin(mask: &mut [u8], w: usize, h: usize) {
    if w < 3 || h < 3 {
        return;
    }
    loop {
        let mut changed = false;
        for step in 0..2 {
            let mut remove = Vec::new();
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    if mask[y * w + x] == 0 {
                        continue;
                    }
                    let at = |dx: isize, dy: isize| {
                        mask[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
                    };
                    // P2..P9, clockwise from the pixel above.
                    let n = [
                        at(0, -1),
                        at(1, -1),
                        at(1, 0),
                        at(1, 1),
                        at(0, 1),
                        at(-1, 1),
                        at(-1, 0),
                        at(-1, -1),
                    ];
                    let b: u8 = n.iter().sum();
                    let a = (0..8).filter(|&i| n[i] == 0 && n[(i + 1) % 8] == 1).count();
                    let keep = if step == 0 {
                        n[0] * n[2] * n[4] != 0 || n[2] * n[4] * n[6] != 0
                    } else {
                        n[0] * n[2] * n[6] != 0 || n[0] * n[4] * n[6] != 0
                    };
                    if (2..=6).contains(&b) && a == 1 && !keep {
                        remove.push(y * w + x);
                    }
                }
            }
            changed |= !remove.is_empty();
            for i in remove {
                mask[i] = 0;
            }
        }
        if !changed {
            break;
        }
    }
}

/// The camera's view: the table where the page is not, light, blur and noise.
fn photograph(
    warped: &GrayImage,
    cover: &GrayImage,
    w: u32,
    h: u32,
    rng: &mut ChaCha8Rng,
) -> GrayImage {
    let (wf, hf) = (w as f32, h as f32);
    let table = rng.random_range(40.0..160.0f32);
    let wood = rng.random_range(3.0..18.0f32);
    let base = rng.random_range(0.65..1.05f32);
    let (gx, gy) = (
        rng.random_range(-0.5..0.5f32),
        rng.random_range(-0.5..0.5f32),
    );
    let vignette = rng.random_range(0.0..0.4f32);
    // A hand or a phone over the page: a soft dark ellipse reaching in from outside the frame.
    let hand = rng.random_bool(0.4).then(|| {
        let edge = rng.random_range(0..4);
        let t = rng.random_range(0.2..0.8f32);
        let (cx, cy) = match edge {
            0 => (t * wf, -0.1 * hf),
            1 => (1.1 * wf, t * hf),
            2 => (t * wf, 1.1 * hf),
            _ => (-0.1 * wf, t * hf),
        };
        (
            cx,
            cy,
            rng.random_range(0.15..0.35) * wf,
            rng.random_range(0.15..0.35) * hf,
            rng.random_range(0.35..0.65f32),
        )
    });
    let glare = rng.random_bool(0.25).then(|| {
        (
            rng.random_range(0.1..0.9) * wf,
            rng.random_range(0.1..0.9) * hf,
            rng.random_range(0.05..0.15) * wf,
            rng.random_range(0.25..0.7f32),
        )
    });
    let mut lit = GrayImage::new(w, h);
    for (x, y, px) in lit.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32, y as f32);
        let a = f32::from(cover.get_pixel(x, y)[0]) / 255.0;
        let t = table + wood * (yf * 0.05 + 2.0 * (xf * 0.011).sin()).sin();
        let v = a * f32::from(warped.get_pixel(x, y)[0]) + (1.0 - a) * t;
        let (nx, ny) = ((xf - wf / 2.0) / wf, (yf - hf / 2.0) / hf);
        let mut light =
            base * (1.0 + gx * nx + gy * ny) * (1.0 - vignette * (nx * nx + ny * ny) * 2.0);
        if let Some((cx, cy, rx, ry, depth)) = hand {
            let r = (((xf - cx) / rx).powi(2) + ((yf - cy) / ry).powi(2)).sqrt();
            let t = ((1.6 - r) / 0.6).clamp(0.0, 1.0);
            light *= 1.0 - (1.0 - depth) * t;
        }
        let mut v = v * light;
        if let Some((cx, cy, r, g)) = glare {
            let d2 = ((xf - cx).powi(2) + (yf - cy).powi(2)) / (r * r);
            v += (255.0 - v).max(0.0) * g * (-d2).exp();
        }
        *px = Luma([v.clamp(0.0, 255.0) as u8]);
    }
    let mut img = imageproc::filter::gaussian_blur_f32(&lit, rng.random_range(0.4..1.2));
    if rng.random_bool(0.3) {
        img = motion_blur(&img, rng);
    }
    let noise = rng.random_range(1.0..5.0f32);
    GrayImage::from_fn(w, h, |x, y| {
        let v = f32::from(img.get_pixel(x, y)[0]) + noise * gaussian(rng);
        Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// The mean of the image shifted along a random direction over 2–6 pixels.
fn motion_blur(img: &GrayImage, rng: &mut ChaCha8Rng) -> GrayImage {
    let len = rng.random_range(2.0..6.0f32);
    let dir = rng.random_range(0.0..std::f32::consts::PI);
    let steps = len.ceil() as i32 + 1;
    let (w, h) = img.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let mut sum = 0f32;
        for k in 0..steps {
            let t = k as f32 / (steps - 1) as f32 - 0.5;
            let sx = (x as f32 + t * len * dir.cos())
                .round()
                .clamp(0.0, w as f32 - 1.0);
            let sy = (y as f32 + t * len * dir.sin())
                .round()
                .clamp(0.0, h as f32 - 1.0);
            sum += f32::from(img.get_pixel(sx as u32, sy as u32)[0]);
        }
        Luma([(sum / steps as f32).round() as u8])
    })
}

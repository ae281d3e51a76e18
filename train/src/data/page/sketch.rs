//! The second page renderer (`--kind sketch`), written apart from [`super::notebook`] as a
//! check on it: every frame pixel is mapped back onto the page and shaded there. Paper is a
//! tone with fibrous value noise, rulings come from their analytic distance; the pen is a
//! level set of the MNIST digit's grey ramp (a thin pen cuts high on the ramp, a thick one
//! low and then spreads), laid down as optical density (pencil: grainy, in patches); light is
//! a smooth field of gains from a coarse random grid, a hard-edged phone shadow with a
//! penumbra and a specular band; the camera adds defocus, shot noise that grows with
//! brightness, column noise, and sometimes a digital zoom (downscale then upscale).

use image::{GrayImage, Luma};
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
    // Optical density of ink on the page (0 = bare paper).
    let mut density = vec![0f32; pw * ph];
    let full = -(1.0 - pen.contrast).max(0.02).ln();
    let drawn = layout
        .digits
        .iter()
        .map(|d| lay_ink(&mut density, pw, ph, digits.image(d.idx), d, pen, full, rng))
        .collect();
    let back = camera.to_frame.invert();
    let seed: u32 = rng.random();
    let fibre = rng.random_range(0.01..0.05f32);
    let desk = rng.random_range(30.0..140.0f32);
    let light = Light::draw(camera.width, camera.height, rng);
    let (w, h) = (camera.width, camera.height);
    let mut shade = vec![0f32; (w * h) as usize];
    for fy in 0..h {
        for fx in 0..w {
            let (x, y) = back * (fx as f32 + 0.5, fy as f32 + 0.5);
            let inside = x >= 0.0 && y >= 0.0 && x < pw as f32 && y < ph as f32;
            let v = if inside {
                let tone = layout.paper.tone
                    * (1.0 + fibre * (value_noise(x * 0.08, y * 0.3, seed) - 0.5))
                    * (1.0 - ruling(layout, x, y));
                tone * (-bilinear(&density, pw, ph, x, y, self::density)).exp()
            } else {
                desk * (0.9 + 0.2 * value_noise(fx as f32 * 0.02, fy as f32 * 0.02, seed ^ 7))
            };
            shade[(fy * w + fx) as usize] = v * light.gain(fx as f32, fy as f32);
        }
    }
    (expose(shade, w, h, rng), drawn)
}

/// How much a ruling darkens the page at `(x, y)`, from its distance to the nearest line.
fn ruling(layout: &Layout, x: f32, y: f32) -> f32 {
    let p = layout.paper;
    if p.pitch <= 1.0 {
        return 0.0;
    }
    let off = |v: f32| {
        let t = (v - p.offset).rem_euclid(p.pitch);
        t.min(p.pitch - t)
    };
    // A line of width w covers a pixel fully within w/2 and fades over one pixel beyond.
    let line = |d: f32, w: f32| 1.0 - ((d - w / 2.0) / 1.0).clamp(0.0, 1.0);
    match p.kind {
        PaperKind::Plain => 0.0,
        PaperKind::Ruled => p.contrast * line(off(y), p.line_width),
        PaperKind::Margin => {
            let m = p.margin.1 * line((x - p.margin.0).abs(), p.line_width + 0.6);
            (p.contrast * line(off(y), p.line_width)).max(m)
        }
        PaperKind::Squared => p.contrast * line(off(x).min(off(y)), p.line_width),
        PaperKind::Dotted => p.contrast * line(off(x).hypot(off(y)), p.line_width + 1.2),
    }
}

/// Adds the ink of one digit to the page's density: the bilinear MNIST ramp cut at a level
/// that gives the pen's width, spread by a square of the remaining width for thick pens.
#[allow(clippy::too_many_arguments)]
fn lay_ink(
    density: &mut [f32],
    pw: usize,
    ph: usize,
    image: &[u8],
    d: &Planned,
    pen: Pen,
    full: f32,
    rng: &mut ChaCha8Rng,
) -> Drawn {
    let (crop, cw, ch) = tight(image);
    // MNIST's own strokes are about 0.12 of a digit's height at the middle of the ramp.
    let (level, spread) = if pen.width < 0.12 {
        (0.5 + (0.12 - pen.width) * 6.0, 0.0)
    } else {
        (0.4, (pen.width - 0.12) * d.h / 2.0)
    };
    let r = spread.round() as i64;
    let e = d.extent();
    let x0 = (e[0].floor() as i64 - r - 1).max(0) as usize;
    let y0 = (e[1].floor() as i64 - r - 1).max(0) as usize;
    let x1 = ((e[2].ceil() as i64 + r + 1).max(0) as usize).min(pw);
    let y1 = ((e[3].ceil() as i64 + r + 1).max(0) as usize).min(ph);
    if x1 <= x0 || y1 <= y0 {
        return Drawn { points: Vec::new() };
    }
    let (rw, rh) = (x1 - x0, y1 - y0);
    let mut cover = vec![0f32; rw * rh];
    for ry in 0..rh {
        let py = (y0 + ry) as f32 + 0.5;
        let sy = (py - d.y) / d.h * ch as f32 - 0.5;
        let shift = d.slant * (d.y + d.h - py);
        for rx in 0..rw {
            let px = (x0 + rx) as f32 + 0.5;
            let sx = (px - d.x - shift) / d.w * cw as f32 - 0.5;
            let v = bilinear(&crop, cw, ch, sx + 0.5, sy + 0.5, grey);
            cover[ry * rw + rx] = ((v - level + 0.12) / 0.24).clamp(0.0, 1.0);
        }
    }
    if r > 0 {
        cover = spread_max(&cover, rw, rh, r as usize);
    }
    let patch_seed: u32 = rng.random();
    let mut points = Vec::new();
    for ry in 0..rh {
        for rx in 0..rw {
            let mut a = cover[ry * rw + rx];
            if a <= 0.0 {
                continue;
            }
            let (px, py) = (x0 + rx, y0 + ry);
            if pen.kind == PenKind::Pencil {
                // Graphite catches on the paper's tooth, and pressure comes and goes.
                let tooth = value_noise(px as f32 * 0.9, py as f32 * 0.9, patch_seed);
                let patch = value_noise(px as f32 * 0.07, py as f32 * 0.07, patch_seed ^ 1);
                a *= (0.45 + 0.55 * tooth) * (0.7 + 0.3 * patch);
            }
            let cell = &mut density[py * pw + px];
            *cell = cell.max(full * a);
            if a > 0.35 {
                points.push((px as u32, py as u32));
            }
        }
    }
    Drawn { points }
}

/// The maximum over a `(2r+1)²` square, clipped to the buffer.
fn spread_max(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r + 1).min(w));
            rows[y * w + x] = src[y * w + a..y * w + b]
                .iter()
                .copied()
                .fold(0.0, f32::max);
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            out[y * w + x] = (a..b).map(|yy| rows[yy * w + x]).fold(0.0, f32::max);
        }
    }
    out
}

/// Bilinear sample of the `w × h` grid `v` at pixel-centre coordinates `(x, y)` (pixel
/// `(i, j)` has its centre at `(i + 0.5, j + 0.5)`), zero outside; `value` reads one cell.
fn bilinear<T: Copy>(v: &[T], w: usize, h: usize, x: f32, y: f32, value: fn(T) -> f32) -> f32 {
    let (x, y) = (x - 0.5, y - 0.5);
    let (ix, iy) = (x.floor(), y.floor());
    let (fx, fy) = (x - ix, y - iy);
    let at = |xx: f32, yy: f32| {
        if xx < 0.0 || yy < 0.0 || xx >= w as f32 || yy >= h as f32 {
            0.0
        } else {
            value(v[yy as usize * w + xx as usize])
        }
    };
    (at(ix, iy) * (1.0 - fx) + at(ix + 1.0, iy) * fx) * (1.0 - fy)
        + (at(ix, iy + 1.0) * (1.0 - fx) + at(ix + 1.0, iy + 1.0) * fx) * fy
}

fn density(d: f32) -> f32 {
    d
}

fn grey(v: u8) -> f32 {
    f32::from(v) / 255.0
}

/// Smooth value noise in 0..1: a hashed lattice, interpolated with a smoothstep.
fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let hash = |i: i32, j: i32| {
        let mut h = (i as u32).wrapping_mul(0x8da6_b343)
            ^ (j as u32).wrapping_mul(0xd816_3841)
            ^ seed.wrapping_mul(0xcb1a_b31f);
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1_e995);
        h ^= h >> 15;
        (h & 0xffff) as f32 / 65535.0
    };
    let (ix, iy) = (x.floor(), y.floor());
    let (fx, fy) = (x - ix, y - iy);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (i, j) = (ix as i32, iy as i32);
    let top = hash(i, j) * (1.0 - sx) + hash(i + 1, j) * sx;
    let bottom = hash(i, j + 1) * (1.0 - sx) + hash(i + 1, j + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// Light over the frame: gains on a coarse grid (lamps, windows), a phone's shadow with a
/// penumbra, and a specular band where a lamp reflects.
struct Light {
    grid: [[f32; 5]; 4],
    w: f32,
    h: f32,
    shadow: Option<(f32, f32, f32, f32, f32)>,
    band: Option<(f32, f32, f32, f32)>,
}

impl Light {
    fn draw(w: u32, h: u32, rng: &mut ChaCha8Rng) -> Light {
        let level = rng.random_range(0.6..1.05f32);
        let mut grid = [[0f32; 5]; 4];
        for row in &mut grid {
            for g in row.iter_mut() {
                *g = level * rng.random_range(0.75..1.1f32);
            }
        }
        let shadow = rng.random_bool(0.35).then(|| {
            (
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(0.2..0.8) * w as f32,
                rng.random_range(0.2..0.8) * h as f32,
                rng.random_range(3.0..25.0f32),
                rng.random_range(0.35..0.7f32),
            )
        });
        let band = rng.random_bool(0.2).then(|| {
            (
                rng.random_range(0.0..std::f32::consts::PI),
                rng.random_range(0.2..0.8) * w as f32,
                rng.random_range(8.0..40.0f32),
                rng.random_range(0.2..0.6f32),
            )
        });
        Light {
            grid,
            w: w as f32,
            h: h as f32,
            shadow,
            band,
        }
    }

    /// Multiplier of the scene's brightness at frame pixel `(x, y)`; the specular band adds
    /// toward white, so it is folded in as a gain above 1.
    fn gain(&self, x: f32, y: f32) -> f32 {
        let gx = (x / self.w * 4.0).clamp(0.0, 3.999);
        let gy = (y / self.h * 3.0).clamp(0.0, 2.999);
        let (i, j) = (gx as usize, gy as usize);
        let (fx, fy) = (gx - i as f32, gy - j as f32);
        let s = |t: f32| t * t * (3.0 - 2.0 * t);
        let (fx, fy) = (s(fx), s(fy));
        let g = &self.grid;
        let mut v = (g[j][i] * (1.0 - fx) + g[j][i + 1] * fx) * (1.0 - fy)
            + (g[j + 1][i] * (1.0 - fx) + g[j + 1][i + 1] * fx) * fy;
        // cos⁴ fall-off of a wide lens.
        let (nx, ny) = ((x - self.w / 2.0) / self.w, (y - self.h / 2.0) / self.w);
        v *= 1.0 / (1.0 + 0.6 * (nx * nx + ny * ny)).powi(2);
        if let Some((angle, cx, cy, soft, depth)) = self.shadow {
            let d = (x - cx) * angle.cos() + (y - cy) * angle.sin();
            v *= 1.0 - (1.0 - depth) * ((d / soft) * 0.5 + 0.5).clamp(0.0, 1.0);
        }
        if let Some((angle, c, width, strength)) = self.band {
            let d = (x - c) * angle.cos() + (y - self.h / 2.0) * angle.sin();
            v *= 1.0 + strength * (-(d / width).powi(2)).exp();
        }
        v
    }
}

/// The sensor: defocus (two box passes), sometimes a digital zoom, shot and column noise.
fn expose(shade: Vec<f32>, w: u32, h: u32, rng: &mut ChaCha8Rng) -> GrayImage {
    let (wu, hu) = (w as usize, h as usize);
    let mut v = shade;
    let r = rng.random_range(0..=1usize);
    for _ in 0..2 {
        if r > 0 {
            v = box_blur(&v, wu, hu, r);
        }
    }
    if rng.random_bool(0.25) {
        // A camera zoomed digitally: every second pixel, interpolated back.
        let half: Vec<f32> = (0..(wu / 2) * (hu / 2))
            .map(|i| v[(i / (wu / 2)) * 2 * wu + (i % (wu / 2)) * 2])
            .collect();
        v = (0..wu * hu)
            .map(|i| {
                let (x, y) = ((i % wu) as f32 / 2.0, (i / wu) as f32 / 2.0);
                bilinear(&half, wu / 2, hu / 2, x + 0.5, y + 0.5, density)
            })
            .collect();
    }
    let shot = rng.random_range(0.1..0.4f32);
    let columns: Vec<f32> = (0..wu).map(|_| rng.random_range(-1.5..1.5f32)).collect();
    GrayImage::from_fn(w, h, |x, y| {
        let p = v[y as usize * wu + x as usize].max(0.0);
        let noisy = p + shot * p.sqrt() * gaussian(rng) + columns[x as usize];
        Luma([noisy.round().clamp(0.0, 255.0) as u8])
    })
}

fn box_blur(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut s, mut n) = (0f32, 0f32);
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    s += v[yy * w + xx];
                    n += 1.0;
                }
            }
            out[y * w + x] = s / n;
        }
    }
    out
}

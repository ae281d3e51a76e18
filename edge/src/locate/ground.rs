//! The paper under the ink: the finder's map of a frame (half or full resolution), sensor
//! noise, the polarity of the ink, the local ground level that follows uneven light and
//! shadows, and the ink strength of every pixel over it, with the running extreme filters
//! these are made of. Maps are `[H, W]` grey levels.

use image::GrayImage;

use super::{Ink, FULL};

/// The frame at full resolution, each pixel the rounded mean of the 2×2 block it starts: the
/// same mean as the half-resolution map's, so sensor and JPEG noise are halved alike, but
/// taken at every pixel, so gaps of two pixels between small strokes stay open.
pub(super) fn full_resolution(frame: &GrayImage) -> GrayImage {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let raw = frame.as_raw();
    let mut out = Vec::with_capacity(w * h);
    if w > 0 {
        // The last row and column stand in for the ones past the frame's edge.
        for (y, top) in raw.chunks_exact(w).enumerate() {
            let below = &raw[(y + 1).min(h - 1) * w..][..w];
            let sum = |a: u8, b: u8, c: u8, d: u8| {
                ((u16::from(a) + u16::from(b) + u16::from(c) + u16::from(d) + 2) / 4) as u8
            };
            out.extend(
                top.windows(2)
                    .zip(below.windows(2))
                    .map(|(t, b)| sum(t[0], t[1], b[0], b[1])),
            );
            out.push(sum(top[w - 1], top[w - 1], below[w - 1], below[w - 1]));
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| frame.clone())
}

/// The frame at half resolution, each pixel the rounded mean of a 2×2 block.
pub(super) fn downsample(frame: &GrayImage) -> GrayImage {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (hw, hh) = ((w / 2).max(1), (h / 2).max(1));
    let raw = frame.as_raw();
    let mut out = vec![0u8; hw * hh];
    if w < 2 || h < 2 {
        return GrayImage::from_raw(
            hw as u32,
            hh as u32,
            vec![raw.first().copied().unwrap_or(0); hw * hh],
        )
        .unwrap_or_else(|| GrayImage::new(1, 1));
    }
    for (y, dst) in out.chunks_exact_mut(hw).enumerate() {
        let a = &raw[2 * y * w..2 * y * w + 2 * hw];
        let b = &raw[(2 * y + 1) * w..(2 * y + 1) * w + 2 * hw];
        for ((d, pa), pb) in dst.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
            let sum = u16::from(pa[0]) + u16::from(pa[1]) + u16::from(pb[0]) + u16::from(pb[1]);
            *d = ((sum + 2) / 4) as u8;
        }
    }
    GrayImage::from_raw(hw as u32, hh as u32, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Ink strength of a grey level `p` over its ground `g`: 1 − darker/brighter, less the noise
/// floor, as 0..=255.
#[inline]
pub fn strength_of(p: f32, g: f32, dark: bool, floor: f32) -> u8 {
    let c = if dark {
        (g - p - floor) / g.max(1.0)
    } else {
        (p - g - floor) / p.max(1.0)
    };
    (c * (255.0 / FULL)).clamp(0.0, 255.0) as u8
}

/// Sensor noise σ in grey levels, from the median difference of horizontal neighbours.
pub(super) fn noise_sigma(gray: &GrayImage) -> f32 {
    let w = gray.width() as usize;
    let mut hist = [0u32; 256];
    for row in gray.as_raw().chunks(w).step_by(4) {
        for pair in row.windows(2).step_by(3) {
            hist[usize::from(pair[0].abs_diff(pair[1]))] += 1;
        }
    }
    let half = hist.iter().sum::<u32>() / 2;
    let mut seen = 0;
    let median = hist
        .iter()
        .position(|&n| {
            seen += n;
            seen > half
        })
        .unwrap_or(0);
    // For Gaussian noise, the median |difference| is 0.954σ.
    median as f32 / 0.954
}

/// Decides the polarity by a vote of contrasted 32×32 blocks: ink is the minority of a block's
/// pixels, so a block whose mean lies nearer its maximum holds dark ink, nearer its minimum
/// light ink. Smooth gradients (light, shadows) and paper edges split evenly and barely vote.
/// A block votes once its range is more than sensor noise makes ([`VOTE_RANGE`] noise
/// floors) and more than paper grain and JPEG make ([`VOTE_LEAST`] grey levels): pencil
/// writing, 0.15–0.35 darker than its paper, must vote, or only the paper's edges do.
///
/// A stroke is narrow whatever its polarity, while the edge of a shadow or of a lit patch is a
/// step between two wide areas: a block that the edge of a shadow crosses near a corner is
/// mostly dark with a bright sliver, and leans as chalk would. So a block's vote counts only
/// if its extreme pixel is part of a mark narrower than a stroke: `closed` (the map's grey
/// closing with a stroke-wide square, which fills dark strokes) lifts its darkest pixel, or
/// `opened` (the opening, which removes light strokes) lowers its brightest one, by at least
/// half the block's range. On a dim, shadowed pencil page the pencil blocks are too faint to
/// vote, and without this the shadow's edge alone decided for chalk. Light ink needs a clear
/// majority of the votes ([`polarity_of`]).
pub(super) fn vote_polarity(
    gray: &GrayImage,
    floor: f32,
    closed: &GrayImage,
    opened: &GrayImage,
) -> Ink {
    const B: usize = 32;
    let need = (VOTE_RANGE * floor).clamp(VOTE_LEAST, 255.0) as u8;
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    let (closed, opened) = (closed.as_raw(), opened.as_raw());
    let (mut dark, mut light) = (0i64, 0i64);
    for by in (0..h / B).map(|b| b * B) {
        for bx in (0..w / B).map(|b| b * B) {
            let (mut lo, mut hi, mut sum, mut n) = (255u8, 0u8, 0u32, 0u32);
            let (mut at_lo, mut at_hi) = (0usize, 0usize);
            for y in (by..by + B).step_by(4) {
                for (i, &p) in raw.iter().enumerate().skip(y * w + bx).take(B) {
                    if p < lo {
                        (lo, at_lo) = (p, i);
                    }
                    if p > hi {
                        (hi, at_hi) = (p, i);
                    }
                    sum += u32::from(p);
                    n += 1;
                }
            }
            if hi - lo < need {
                continue;
            }
            let mean = sum as f32 / n as f32;
            let lean = (f32::from(hi) - mean) - (mean - f32::from(lo));
            // A strong lean is a vote; a block split half and half is not.
            let range = f32::from(hi - lo);
            let narrow = |lift: u8| f32::from(lift) >= 0.5 * range;
            let (dark_mark, light_mark) = (
                closed.get(at_lo).map_or(0, |&c| c.saturating_sub(lo)),
                opened.get(at_hi).map_or(0, |&o| hi.saturating_sub(o)),
            );
            if lean < -0.3 * range && narrow(dark_mark) {
                dark += 1;
            } else if lean > 0.3 * range && narrow(light_mark) {
                light += 1;
            }
        }
    }
    polarity_of(dark, light)
}

/// The polarity of a frame whose blocks voted `dark` and `light` ([`vote_polarity`]): chalk on
/// a board makes every block that holds writing vote light and hardly any vote dark, while on
/// paper the light votes come from what is not writing (a printed grid's cells, a band of
/// glare, a sliver of paper beside the table) and compete with the ink's dark ones. Light ink
/// needs a clear majority ([`LIGHT_MAJORITY`] times the dark votes): a page read as chalk
/// loses all its writing, and votes split nearly evenly are a page.
fn polarity_of(dark: i64, light: i64) -> Ink {
    if light > LIGHT_MAJORITY * dark {
        Ink::Light
    } else {
        Ink::Dark
    }
}

/// How many times the dark votes the light votes must be for light ink ([`polarity_of`]).
const LIGHT_MAJORITY: i64 = 2;

/// Noise floors (see [`LocateConfig::noise_floor`]) a block's range must exceed to vote on the
/// polarity.
pub(super) const VOTE_RANGE: f32 = 5.0;

/// Grey levels a block's range must exceed to vote on the polarity.
pub(super) const VOTE_LEAST: f32 = 20.0;

/// The local ground: a grey-level closing (dark ink) or opening (light ink) with a square of
/// side `2r + 1`: strokes narrower than that vanish from it, while the edges of shadows and of
/// the paper stay where they are, so they do not read as ink.
pub(super) fn ground_level(img: &GrayImage, ink: Ink, stroke: u32) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let dark = ink != Ink::Light;
    let r = (stroke as usize).div_ceil(2).max(1);
    let mut ground = img.as_raw().clone();
    for max in [dark, !dark] {
        extreme_filter(&mut ground, w, h, r, max);
    }
    GrayImage::from_raw(w as u32, h as u32, ground).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Ink strength of every pixel over its ground (see [`strength_of`]).
pub(super) fn ink_strength(img: &GrayImage, ground: &GrayImage, ink: Ink, floor: f32) -> GrayImage {
    let dark = ink != Ink::Light;
    let strength: Vec<u8> = img
        .as_raw()
        .iter()
        .zip(ground.as_raw())
        .map(|(&p, &g)| strength_of(f32::from(p), f32::from(g), dark, floor))
        .collect();
    let (w, h) = img.dimensions();
    GrayImage::from_raw(w, h, strength).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Replaces each pixel of the `w × h` image by the maximum (`max`) or minimum of its
/// `(2r+1) × (2r+1)` neighbourhood (clipped to the image): rows, then columns, each as
/// [`window_extreme`] over the whole image at once, padded with the neutral value.
pub(crate) fn extreme_filter(img: &mut [u8], w: usize, h: usize, r: usize, max: bool) {
    let neutral = if max { 0u8 } else { 255 };
    let k = 2 * r + 1;
    rows_extreme(img, w, h, r, max);
    // Columns: r neutral rows above and below; a window of k rows is a step of w.
    let mut cols = vec![neutral; (h + 2 * r) * w];
    cols[r * w..(r + h) * w].copy_from_slice(img);
    let down = window_extreme(cols, k, w, max);
    img.copy_from_slice(&down[..w * h]);
}

/// Replaces each pixel of the `w × h` image by the maximum (`max`) or minimum of the `2r + 1`
/// pixels of its row around it (clipped to the row): each row padded by `r` neutral pixels on
/// both sides, laid end to end, so a window never leaves its row.
pub(super) fn rows_extreme(img: &mut [u8], w: usize, h: usize, r: usize, max: bool) {
    let neutral = if max { 0u8 } else { 255 };
    let stride = w + 2 * r;
    let mut rows = vec![neutral; h * stride];
    for (dst, src) in rows.chunks_exact_mut(stride).zip(img.chunks_exact(w)) {
        dst[r..r + w].copy_from_slice(src);
    }
    let across = window_extreme(rows, 2 * r + 1, 1, max);
    for (dst, src) in img.chunks_exact_mut(w).zip(across.chunks(stride)) {
        dst.copy_from_slice(&src[..w]);
    }
}

/// `out[i]` = extreme of `src[i]`, `src[i + step]`, …, `src[i + (k−1)·step]`, for every `i`
/// where the window fits: windows of 2, 4, 8 … elements by doubling, then two overlapping
/// ones; every pass is an element-wise max or min of two shifted slices, which vectorises.
pub(super) fn window_extreme(src: Vec<u8>, k: usize, step: usize, max: bool) -> Vec<u8> {
    let pass = |cur: &[u8], shift: usize| -> Vec<u8> {
        let n = cur.len().saturating_sub(shift);
        let (a, b) = (&cur[..n], &cur[shift.min(cur.len())..]);
        if max {
            a.iter().zip(b).map(|(&x, &y)| x.max(y)).collect()
        } else {
            a.iter().zip(b).map(|(&x, &y)| x.min(y)).collect()
        }
    };
    let mut cur = src;
    let mut span = 1;
    while span * 2 <= k {
        cur = pass(&cur, span * step);
        span *= 2;
    }
    if span < k {
        cur = pass(&cur, (k - span) * step);
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each full-resolution pixel is the rounded mean of the 2×2 block it starts, the last
    /// row and column standing in past the edge, on frames of odd sizes and of one row or one
    /// column.
    #[test]
    fn the_full_resolution_map_is_the_mean_of_each_pixels_block() {
        for (w, h) in [(7usize, 5usize), (1, 1), (9, 1), (1, 6), (640, 3)] {
            let frame = GrayImage::from_fn(w as u32, h as u32, |x, y| {
                image::Luma([((x * 37 + y * 91 + x * y * 7) % 256) as u8])
            });
            let at = |x: usize, y: usize| {
                u16::from(frame.get_pixel(x.min(w - 1) as u32, y.min(h - 1) as u32)[0])
            };
            let map = full_resolution(&frame);
            for y in 0..h {
                for x in 0..w {
                    let mean = (at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1) + 2) / 4;
                    assert_eq!(u16::from(map.get_pixel(x as u32, y as u32)[0]), mean);
                }
            }
        }
    }

    /// Issue 13: squared pages with a band of glare or a strip of table beside them split
    /// their votes nearly evenly (5 dark to 6 light on one, 2 to 3 on another) and were read
    /// as chalk, losing every digit; a board's writing votes light nearly alone.
    #[test]
    fn issue13_votes_split_nearly_evenly_are_a_page_of_dark_ink() {
        assert_eq!(polarity_of(5, 6), Ink::Dark);
        assert_eq!(polarity_of(2, 3), Ink::Dark);
        assert_eq!(polarity_of(0, 0), Ink::Dark);
        assert_eq!(polarity_of(0, 12), Ink::Light);
        assert_eq!(polarity_of(3, 30), Ink::Light);
    }
}

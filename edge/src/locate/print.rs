//! The paper's print as part of its ground, on the finder's map `[H, W]` (dark ink only).
//!
//! A fine grid (5 mm squares seen from arm's length) is printed about as dark as pencil: its
//! lines cover a fifth of the page and more, so the level under which most of the page lies
//! is the grid's ([`super::ink::InkLevels::above_ground`]), and pencil digits, one or two
//! squares tall and barely darker than the lines they cross, stay under a mark's core. Taking
//! the lines out of the ink afterwards ([`super::rulings`]) cannot help: the digits were never
//! ink. What tells the print from the writing before any level is chosen: a printed line is
//! straight and runs across the page at one tilt (the page is flat), longer than any stroke of
//! small writing, while a digit's strokes are short and bend. So the ground is also taken
//! along the print: a closing along lines at the print's tilt ([`Tilts`]), over a window longer
//! than a stroke ([`LENGTH`]), keeps each printed line at its own grey and fills the writing
//! in, and the darker of that and the square ground is the paper with its print. Over it a
//! pencil stroke keeps the contrast it has over the line it crosses (the two darken the paper
//! in turn, so their ratio is the pencil's own), and the grid reads as paper.

use image::GrayImage;

use super::ground::rows_extreme;
use super::lines::{round, transpose, MAX_TILT};

/// Length of the window along a printed line, in map pixels: longer than any straight stroke
/// of writing small enough to be read at full resolution ([`super::SMALL_WRITING`] frame
/// pixels tall) and, at half resolution, than the stroke of a digit 120 frame pixels tall.
pub const LENGTH: usize = 61;

/// Step of the search for the print's tilt, in degrees: over a window of [`LENGTH`], a line
/// half a step off drifts a quarter of a pixel, and the lines of a page seen in perspective,
/// converging by a degree or so across the frame, by about a pixel, within the blur of a
/// printed line (following each line at a tilt a step either side as well measured the same
/// on the dev splits, and cost a tenth of a page frame).
const STEP: f32 = 0.5;

/// The tilts of a page's print, as tangents: of its near-horizontal lines (`y = y₀ + x·tan`)
/// and of its near-vertical ones (`x = x₀ + y·tan`). The same at either resolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tilts {
    /// Of the lines that run across.
    pub across: f32,
    /// Of the lines that run down.
    pub down: f32,
}

impl Tilts {
    /// The tilts of the print on `strength` (ink strength over the square ground, in which the
    /// print shows as thin strong lines) ([`tilt_of_columns`]).
    pub fn of(strength: &GrayImage) -> Tilts {
        let (w, h) = (strength.width() as usize, strength.height() as usize);
        // The sums run along columns: those of the map turned for lines across, its rows
        // (the columns of the turned map) for lines down.
        Tilts {
            across: tilt_of_columns(&transpose(strength.as_raw(), w, h), w, h),
            down: tilt_of_columns(strength.as_raw(), h, w),
        }
    }
}

/// The tangent of the tilt of the near-horizontal printed lines of a `w × h` strength map
/// given by its columns (`w` of them, `h` pixels each, laid out as rows): the tilt within
/// [`MAX_TILT`] at which the sums of strength along lines are most uneven from one line to the
/// next (at the print's tilt each printed line adds up in one or two sums, the gaps between
/// them in others; the writing adds up evenly at every tilt).
fn tilt_of_columns(columns: &[u8], w: usize, h: usize) -> f32 {
    // A line y = y₀ + x·tan adds column x into the sums shifted by round(x·tan).
    let pad = (w as f32 * MAX_TILT.to_radians().tan()).ceil() as usize + 1;
    let mut sums = vec![0u32; h + 2 * pad];
    // Every fourth column: the print runs the whole width, so a quarter of it finds it.
    let mut unevenness = |tan: f32| -> u64 {
        sums.iter_mut().for_each(|s| *s = 0);
        for (x, column) in columns.chunks_exact(h).enumerate().step_by(4) {
            let start = (pad as i32 - round(x as f32 * tan)) as usize;
            for (s, &v) in sums[start..start + h].iter_mut().zip(column) {
                *s += u32::from(v);
            }
        }
        sums.windows(2)
            .map(|p| {
                let d = i64::from(p[1]) - i64::from(p[0]);
                (d * d) as u64
            })
            .sum()
    };
    let steps = (MAX_TILT / STEP) as i32;
    let tan_of = |i: i32| (i as f32 * STEP).to_radians().tan();
    // Whole degrees first, then the half degrees either side of the best; on a tie the
    // smaller tilt.
    let coarse = (-steps..=steps)
        .step_by(2)
        .max_by_key(|&i| (unevenness(tan_of(i)), -i.abs()))
        .unwrap_or(0);
    let best = [coarse - 1, coarse, coarse + 1]
        .into_iter()
        .filter(|i| i.abs() <= steps)
        .max_by_key(|&i| (unevenness(tan_of(i)), -i.abs()))
        .unwrap_or(coarse);
    tan_of(best)
}

/// A grey-level closing of `img` (`w × h`) along lines `y = y₀ + x·tan` over windows of
/// `len` pixels: the image is sheared so that those lines run along rows (each stretch of
/// columns at one offset copied as a whole), and each row is closed (a running maximum, then
/// a minimum) without leaving the image.
pub fn close_along(img: &[u8], w: usize, h: usize, tan: f32, len: usize) -> Vec<u8> {
    let offsets: Vec<i32> = (0..w).map(|x| round(x as f32 * tan)).collect();
    let (lo, hi) = (
        offsets.iter().copied().min().unwrap_or(0),
        offsets.iter().copied().max().unwrap_or(0),
    );
    let rows = h + (hi - lo) as usize;
    // Stretches of columns at one offset: (first column, end, row shift).
    let mut stretches: Vec<(usize, usize, usize)> = Vec::new();
    for (x, &o) in offsets.iter().enumerate() {
        let shift = (hi - o) as usize;
        match stretches.last_mut() {
            Some(last) if last.2 == shift => last.1 = x + 1,
            _ => stretches.push((x, x + 1, shift)),
        }
    }
    // Pixel (x, y) sits at row y + shift(x) of the sheared image.
    let mut sheared = vec![0u8; rows * w];
    for y in 0..h {
        for &(a, b, shift) in &stretches {
            let to = (y + shift) * w;
            sheared[to + a..to + b].copy_from_slice(&img[y * w + a..y * w + b]);
        }
    }
    let r = len / 2;
    // Outside the image: 0 for the maximum, 255 for the minimum, so it never wins either.
    rows_extreme(&mut sheared, w, rows, r, true);
    for &(a, b, shift) in &stretches {
        for row in (0..shift).chain(shift + h..rows) {
            sheared[row * w + a..row * w + b].fill(255);
        }
    }
    rows_extreme(&mut sheared, w, rows, r, false);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for &(a, b, shift) in &stretches {
            let from = (y + shift) * w;
            out[y * w + a..y * w + b].copy_from_slice(&sheared[from + a..from + b]);
        }
    }
    out
}

/// Darkens `ground` (the square closing of `map`, dark ink) to the paper with its print: the
/// darker of it and the closings of `map` along the lines across and down at `tilts`, over
/// windows of `len`.
pub fn into_ground(map: &GrayImage, ground: &mut GrayImage, tilts: Tilts, len: usize) {
    let (w, h) = (map.width() as usize, map.height() as usize);
    if w < len || h < len {
        return;
    }
    let across = close_along(map.as_raw(), w, h, tilts.across, len);
    let down = transpose(
        &close_along(&transpose(map.as_raw(), w, h), h, w, tilts.down, len),
        h,
        w,
    );
    for ((g, &a), &d) in ground.iter_mut().zip(&across).zip(&down) {
        *g = (*g).min(a).min(d);
    }
}

/// The least faint level over the print ([`super::ink::InkLevels::faint`]) on a page whose
/// print had lifted it to `lifted`: where a printed line bends off the closing's window, or
/// darkens unevenly along its length, a trace of it stays, up to about three quarters of the
/// texture level it set (the faint level is twice that).
pub fn residue_level(lifted: u8) -> u8 {
    (u16::from(lifted) * 3 / 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `(x, y)` lies on a line across and on a line down of a grid every 12 pixels,
    /// its lines 2 pixels wide and tilted by `tan`.
    fn on_grid(x: usize, y: usize, tan: f32) -> (bool, bool) {
        (
            (y as f32 - x as f32 * tan).rem_euclid(12.0) < 2.0,
            (x as f32 + y as f32 * tan).rem_euclid(12.0) < 2.0,
        )
    }

    /// A page of paper (200) with a grid of lines (170) every 12 pixels, tilted by `tan`.
    fn grid(w: usize, h: usize, tan: f32) -> Vec<u8> {
        let mut img = vec![200u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let (across, down) = on_grid(x, y, tan);
                if across || down {
                    img[y * w + x] = 170;
                }
            }
        }
        img
    }

    /// Within a step: half a step off, a line drifts a quarter of a pixel over a window.
    #[test]
    fn the_tilt_of_a_grid_is_found_within_a_step() {
        let (w, h) = (160, 120);
        for deg in [-6.0f32, 0.0, 3.5, 11.0] {
            let tan = deg.to_radians().tan();
            // Strength: the lines bright on a dark page.
            let s: Vec<u8> = grid(w, h, tan).iter().map(|&v| 200 - v).collect();
            let s = GrayImage::from_raw(w as u32, h as u32, s).unwrap();
            let found = Tilts::of(&s).across.atan().to_degrees();
            assert!((found - deg).abs() <= STEP + 1e-3, "{deg}° found {found}°");
        }
    }

    #[test]
    fn a_closing_along_the_print_keeps_its_lines_and_fills_short_strokes() {
        let (w, h) = (160, 120);
        let tan = 4f32.to_radians().tan();
        let mut img = grid(w, h, tan);
        // A short stroke, 12 pixels long, darker than the lines, across the lines.
        for y in 50..62 {
            img[y * w + 80] = 120;
            img[y * w + 81] = 120;
        }
        let closed = close_along(&img, w, h, tan, LENGTH);
        // The near-horizontal lines away from the stroke and the image's edges keep their grey.
        let mut on_lines = 0;
        for y in 25..95 {
            for x in 25..135 {
                // The middle of a line across (its edges are half a pixel from where the
                // sheared rows round to).
                let middle = (0.5..1.5).contains(&(y as f32 - x as f32 * tan).rem_euclid(12.0));
                if middle && !on_grid(x, y, tan).1 && !(78..84).contains(&x) {
                    assert_eq!(closed[y * w + x], 170, "({x}, {y})");
                    on_lines += 1;
                }
            }
        }
        assert!(on_lines > 200);
        // The stroke is filled in with the paper, or with a line where it crosses one.
        for y in 50..62 {
            assert!(
                closed[y * w + 80] >= 170,
                "stroke at y {y}: {}",
                closed[y * w + 80]
            );
        }
    }

    #[test]
    fn with_the_print_in_the_ground_a_grid_has_no_strength_and_pencil_keeps_its_own() {
        let (w, h) = (200, 160);
        let tan = (-5f32).to_radians().tan();
        let sharp = grid(w, h, tan);
        // The camera's blur: a 3×3 mean.
        let mut img: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let mut sum = 0u32;
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        sum += u32::from(sharp[yy * w + xx]);
                    }
                }
                let n =
                    ((y + 2).min(h) - y.saturating_sub(1)) * ((x + 2).min(w) - x.saturating_sub(1));
                (sum / n as u32) as u8
            })
            .collect();
        // A pencil stroke 0.2 darker than what it crosses, 14 pixels long.
        for y in 70..84 {
            for x in 100..102 {
                img[y * w + x] = (f32::from(img[y * w + x]) * 0.8) as u8;
            }
        }
        let map = GrayImage::from_raw(w as u32, h as u32, img.clone()).unwrap();
        let mut ground = map.clone();
        super::super::ground::extreme_filter(&mut ground, w, h, 12, true);
        super::super::ground::extreme_filter(&mut ground, w, h, 12, false);
        let strength = |g: &GrayImage| -> Vec<f32> {
            img.iter()
                .zip(g.as_raw())
                .map(|(&p, &g)| 1.0 - f32::from(p) / f32::from(g))
                .collect()
        };
        let before = strength(&ground);
        let sq = GrayImage::from_raw(
            w as u32,
            h as u32,
            before.iter().map(|&c| (c * 255.0) as u8).collect(),
        )
        .unwrap();
        let tilts = Tilts::of(&sq);
        assert!((tilts.across - tan).abs() < 0.005, "{tilts:?}");
        into_ground(&map, &mut ground, tilts, LENGTH);
        let after = strength(&ground);
        let inner = |x: usize, y: usize| (30..w - 30).contains(&x) && (30..h - 30).contains(&y);
        let pencil = |x: usize, y: usize| (70..84).contains(&y) && (100..102).contains(&x);
        let grid_pixels = |s: &[f32]| -> Vec<f32> {
            let mut v: Vec<f32> = (0..w * h)
                .filter(|&i| inner(i % w, i / w) && !pencil(i % w, i / w))
                .map(|i| s[i])
                .collect();
            v.sort_by(f32::total_cmp);
            v
        };
        let (was, left) = (grid_pixels(&before), grid_pixels(&after));
        let at = |v: &[f32], q: usize| v[v.len() * q / 100];
        // The grid keeps about half its strength at its strongest tenth (a trace where the
        // rasterised lines step off the sheared rows); where two lines cross, about one line's.
        for q in [80, 90] {
            assert!(
                at(&left, q) < 0.6 * at(&was, q),
                "{q}%: {} then {}",
                at(&was, q),
                at(&left, q)
            );
        }
        for y in 70..84 {
            for x in 100..102 {
                assert!(
                    after[y * w + x] > 0.17,
                    "pencil at ({x}, {y}): {}",
                    after[y * w + x]
                );
            }
        }
    }
}

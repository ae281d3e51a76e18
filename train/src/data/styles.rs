//! Ways of writing a digit that much of Europe and Asia uses and MNIST's American writers
//! seldom did, drawn onto a `[28, 28]` u8 MNIST digit with its own pen: a crossbar through a
//! seven's stem, a flag at the top of a one, sometimes with a foot, and a four closed at the
//! top (the open arm erased, a diagonal drawn from the stem's top to the crossbar's end: the
//! printed form; only 5.5% of MNIST's training fours enclose a hole). The stroke is as wide as
//! the digit's own (the median run of ink across a row) and as bright as its brightest ink, so
//! the added stroke is written with the same pen as the rest. Other digits are left as they
//! are: MNIST holds both kinds of nine.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::mnist::SIDE;

/// How often a digit that has another common style is redrawn in it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Styles {
    /// Chance that a seven gets a crossbar, and that a one gets a flag.
    pub chance: f32,
    /// Chance that a one given a flag also gets a foot (a flag alone is the commoner).
    pub foot: f32,
    /// Chance that an open four is closed; 0 in configs saved before closed fours were drawn,
    /// so a resumed run goes on as it began.
    #[serde(default)]
    pub four: f32,
}

impl Default for Styles {
    fn default() -> Self {
        Self {
            chance: 0.3,
            foot: 0.5,
            four: 0.3,
        }
    }
}

/// Grey level above which a pixel is a stroke's core when the pen is measured.
const CORE: u8 = 128;

/// Redraws `pixels` (784 values, a digit labelled `label`) in another style, at the chances of
/// `styles`; returns whether it drew anything.
pub fn restyle(pixels: &mut [u8], label: u8, styles: &Styles, rng: &mut impl Rng) -> bool {
    let chance = match label {
        1 | 7 => styles.chance,
        4 => styles.four,
        _ => return false,
    };
    // No draw from `rng` for a style never drawn: a run saved before closed fours (`four` 0)
    // and resumed goes on with the same random stream.
    if pixels.len() != SIDE * SIDE || chance <= 0.0 || rng.random::<f32>() >= chance {
        return false;
    }
    let Some(ink) = Extent::of(pixels) else {
        return false;
    };
    let pen = Pen::of(pixels);
    match label {
        7 => cross_seven(pixels, &ink, pen, rng),
        4 => close_four(pixels, &ink, pen),
        _ => {
            let foot = rng.random::<f32>() < styles.foot;
            flag_one(pixels, &ink, pen, foot, rng)
        }
    }
}

/// The rows and columns a digit's core ink spans, inclusive.
struct Extent {
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
}

impl Extent {
    fn of(pixels: &[u8]) -> Option<Self> {
        let mut e = Extent {
            top: SIDE,
            bottom: 0,
            left: SIDE,
            right: 0,
        };
        for (i, _) in pixels.iter().enumerate().filter(|(_, &v)| v > CORE) {
            let (x, y) = (i % SIDE, i / SIDE);
            e.top = e.top.min(y);
            e.bottom = e.bottom.max(y);
            e.left = e.left.min(x);
            e.right = e.right.max(x);
        }
        (e.top <= e.bottom).then_some(e)
    }

    fn height(&self) -> f32 {
        (self.bottom - self.top + 1) as f32
    }

    fn width(&self) -> f32 {
        (self.right - self.left + 1) as f32
    }
}

/// The digit's pen: stroke width in pixels and the grey of its core.
#[derive(Clone, Copy, Debug)]
struct Pen {
    width: f32,
    grey: f32,
}

impl Pen {
    /// A stroke crosses most rows once, so the median run of core ink along a row is the
    /// pen's width.
    fn of(pixels: &[u8]) -> Self {
        let core: Vec<bool> = pixels.iter().map(|&v| v > CORE).collect();
        let runs = edge::locate::ink_runs(&core, SIDE);
        let width = runs.get(runs.len() / 2).copied().unwrap_or(2).max(1) as f32;
        let grey = f32::from(pixels.iter().copied().max().unwrap_or(255));
        Pen { width, grey }
    }
}

/// Mean column of the core ink in row `y`, if the row has any.
fn ink_column(pixels: &[u8], y: usize) -> Option<f32> {
    let row = &pixels[y * SIDE..(y + 1) * SIDE];
    let xs: Vec<f32> = (0..SIDE)
        .filter(|&x| row[x] > CORE)
        .map(|x| x as f32)
        .collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f32>() / xs.len() as f32)
}

/// A crossbar through the stem a little below the middle of the seven's height, centred on the
/// stem, about two thirds of the digit's width long and nearly level.
fn cross_seven(pixels: &mut [u8], ink: &Extent, pen: Pen, rng: &mut impl Rng) -> bool {
    let y = ink.top as f32 + rng.random_range(0.45..0.62) * ink.height();
    let Some(x) = ink_column(pixels, (y.round() as usize).min(SIDE - 1)) else {
        return false;
    };
    let half = rng.random_range(0.25..0.4) * ink.width().max(0.5 * ink.height());
    let tilt = rng.random_range(-0.12..0.12) * half;
    stroke(pixels, (x - half, y + tilt), (x + half, y - tilt), pen);
    true
}

/// A flag from the top of the one down to its left, and with `foot` a bar under its bottom.
fn flag_one(pixels: &mut [u8], ink: &Extent, pen: Pen, foot: bool, rng: &mut impl Rng) -> bool {
    let (Some(xt), Some(xb)) = (ink_column(pixels, ink.top), ink_column(pixels, ink.bottom)) else {
        return false;
    };
    let h = ink.height();
    let length = rng.random_range(0.25..0.4) * h;
    // Between about 25° and 50° below the horizontal.
    let angle = rng.random_range(0.45f32..0.85);
    let top = (xt, ink.top as f32);
    stroke(
        pixels,
        top,
        (xt - length * angle.cos(), top.1 + length * angle.sin()),
        pen,
    );
    if foot {
        let half = rng.random_range(0.15..0.28) * h;
        let y = ink.bottom as f32;
        stroke(pixels, (xb - half, y), (xb + half, y), pen);
    }
    true
}

/// Closes an open four at the top: its stem is the line through the ink of its lowest rows
/// (below the crossbar a four is its stem alone), its crossbar the row in the middle band with
/// the most ink left of the stem, its arm the ink above the crossbar left of the stem. The arm
/// is erased and a diagonal drawn from the stem's top to the crossbar's left end. A four that
/// does not show those parts (already closed, a stem shorter than the arm, a crossbar too short
/// or too low) is left as it is: a wrong guess would teach a nine or a seven as a four.
fn close_four(pixels: &mut [u8], ink: &Extent, pen: Pen) -> bool {
    let core = &|x: usize, y: usize| pixels[y * SIDE + x] > CORE;
    let (top, h, w) = (ink.top as f32, ink.height(), pen.width);
    // The stem: a least-squares line x = a + b·y through the lowest 30% of the rows.
    let low: Vec<(f32, f32)> = ((top + 0.7 * h) as usize..=ink.bottom)
        .filter_map(|y| ink_column(pixels, y).map(|x| (y as f32, x)))
        .collect();
    if low.len() < 3 {
        return false;
    }
    let n = low.len() as f32;
    let (my, mx) = low
        .iter()
        .fold((0.0, 0.0), |(sy, sx), &(y, x)| (sy + y / n, sx + x / n));
    let (cov, var) = low.iter().fold((0.0, 0.0), |(c, v), &(y, x)| {
        (c + (y - my) * (x - mx), v + (y - my) * (y - my))
    });
    let slope = if var > 0.0 { cov / var } else { 0.0 };
    let stem = |y: f32| mx + slope * (y - my);
    // Left of the stem's left edge (and its soft rim).
    let left_of_stem = |x: usize, y: usize| (x as f32) < stem(y as f32) - w / 2.0 - 1.0;
    // The crossbar: the row between 35% and 85% of the height with the most ink left of the
    // stem (the first such row).
    let mut bar = (0usize, 0usize);
    for y in (top + 0.35 * h) as usize..=((top + 0.85 * h) as usize).min(SIDE - 1) {
        let count = (0..SIDE)
            .filter(|&x| core(x, y) && left_of_stem(x, y))
            .count();
        if count > bar.0 {
            bar = (count, y);
        }
    }
    let (count, yc) = bar;
    if (count as f32) < 2f32.max(0.25 * (stem(yc as f32) - ink.left as f32)) {
        return false;
    }
    // The crossbar's left end: the leftmost ink in the rows the bar's pen covers.
    let reach = (w / 2.0) as usize + 1;
    let Some(left) = (yc.saturating_sub(reach)..=(yc + reach).min(SIDE - 1))
        .flat_map(|y| (0..SIDE).filter(move |&x| core(x, y)))
        .min()
    else {
        return false;
    };
    let above = |x: usize, y: usize| (y as f32) < yc as f32 - w / 2.0 - 0.5 && left_of_stem(x, y);
    let arm = (0..SIDE * SIDE)
        .filter(|&i| core(i % SIDE, i / SIDE) && above(i % SIDE, i / SIDE))
        .count();
    // The stem's top: the highest ink on the stem's line.
    let Some(stem_top) = (0..SIDE).find(|&y| {
        (0..SIDE).any(|x| core(x, y) && (x as f32 - stem(y as f32)).abs() <= w / 2.0 + 1.5)
    }) else {
        return false;
    };
    let (yc_f, left_f) = (yc as f32, left as f32);
    if arm < 3
        || stem_top as f32 > top + 0.3 * h
        || stem(yc_f) - left_f < 0.3 * h
        || yc_f > top + 0.8 * h
    {
        return false;
    }
    let mut closed = pixels.to_vec();
    for (i, p) in closed.iter_mut().enumerate() {
        if above(i % SIDE, i / SIDE) {
            *p = 0;
        }
    }
    let start = (stem(stem_top as f32), stem_top as f32);
    stroke(&mut closed, start, (left_f + w / 2.0, yc_f), pen);
    // A closed four encloses a triangle; where the drawing closed none (the parts guessed
    // wrong, or a pen so thick it fills the triangle) the digit stays as it was.
    if enclosed(&closed) < 3 {
        return false;
    }
    pixels.copy_from_slice(&closed);
    true
}

/// Background pixels (not core ink) that no 4-connected path through background joins to the
/// border: the inside of a loop.
fn enclosed(pixels: &[u8]) -> usize {
    let mut outside = vec![false; SIDE * SIDE];
    let mut stack: Vec<usize> = (0..SIDE)
        .flat_map(|k| [k, (SIDE - 1) * SIDE + k, k * SIDE, k * SIDE + SIDE - 1])
        .collect();
    while let Some(i) = stack.pop() {
        if outside[i] || pixels[i] > CORE {
            continue;
        }
        outside[i] = true;
        let (x, y) = (i % SIDE, i / SIDE);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < SIDE {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - SIDE);
        }
        if y + 1 < SIDE {
            stack.push(i + SIDE);
        }
    }
    (0..SIDE * SIDE)
        .filter(|&i| !outside[i] && pixels[i] <= CORE)
        .count()
}

/// Draws a straight stroke of `pen` from `a` to `b` (pixel centres), its edge soft over one
/// pixel as a scanned pen's is; ink already there is kept where it is brighter.
fn stroke(pixels: &mut [u8], a: (f32, f32), b: (f32, f32), pen: Pen) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    let radius = pen.width / 2.0;
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (px, py) = (x as f32, y as f32);
            let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
            let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
            let d = ((px - cx).powi(2) + (py - cy).powi(2)).sqrt();
            let cover = (radius + 0.5 - d).clamp(0.0, 1.0);
            let v = (pen.grey * cover).round() as u8;
            let p = &mut pixels[y * SIDE + x];
            *p = (*p).max(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A "1" or the stem of a "7": a vertical stroke 3 pixels wide, rows 4..24, columns 13..16,
    /// with a top bar (columns 8..20, rows 4..7) when `bar`.
    fn digit(bar: bool) -> Vec<u8> {
        let mut p = vec![0u8; SIDE * SIDE];
        for y in 4..24 {
            for x in 13..16 {
                p[y * SIDE + x] = 255;
            }
        }
        if bar {
            for y in 4..7 {
                for x in 8..20 {
                    p[y * SIDE + x] = 255;
                }
            }
        }
        p
    }

    fn always() -> Styles {
        Styles {
            chance: 1.0,
            foot: 1.0,
            four: 1.0,
        }
    }

    /// Core ink pixels of row `y` left of column `x`.
    fn core_left_of(p: &[u8], y: usize, x: usize) -> usize {
        (0..x).filter(|&c| p[y * SIDE + c] > CORE).count()
    }

    #[test]
    fn issue13_a_seven_gets_a_crossbar_through_its_stem_in_its_own_pen() {
        let before = digit(true);
        let mut after = before.clone();
        assert!(restyle(
            &mut after,
            7,
            &always(),
            &mut ChaCha8Rng::seed_from_u64(1)
        ));
        // New ink on both sides of the stem, below the top bar and above the foot of the stem.
        let rows: Vec<usize> = (8..22)
            .filter(|&y| {
                core_left_of(&after, y, 13) > 0 && (16..SIDE).any(|x| after[y * SIDE + x] > CORE)
            })
            .collect();
        assert!(!rows.is_empty(), "no crossbar");
        // The bar is about as thick as the pen (3 pixels), not a hairline or a blob.
        assert!((2..=5).contains(&rows.len()), "bar rows {rows:?}");
        // Nothing of the old digit is lost.
        assert!(before.iter().zip(&after).all(|(b, a)| a >= b));
    }

    #[test]
    fn issue13_a_one_gets_a_flag_to_its_upper_left_and_a_foot() {
        let mut one = digit(false);
        assert!(restyle(
            &mut one,
            1,
            &always(),
            &mut ChaCha8Rng::seed_from_u64(2)
        ));
        // The flag: ink left of the stem in the upper third only.
        assert!((5..11).any(|y| core_left_of(&one, y, 12) > 0), "no flag");
        assert!(
            (12..21).all(|y| core_left_of(&one, y, 12) == 0),
            "flag too low"
        );
        // The foot: ink both sides of the stem on its bottom row.
        let y = 23;
        assert!(core_left_of(&one, y, 13) > 0 && (16..SIDE).any(|x| one[y * SIDE + x] > CORE));
    }

    /// An open four: an arm down column 8 from row 4 to the crossbar along row 16 (columns
    /// 8..22), and a stem down columns 17..20 from row 4 to row 24, all 3 pixels wide.
    fn open_four() -> Vec<u8> {
        let mut p = vec![0u8; SIDE * SIDE];
        for y in 4..24 {
            for x in 0..SIDE {
                let arm = (7..10).contains(&x) && (4..17).contains(&y);
                let bar = (15..18).contains(&y) && (7..22).contains(&x);
                if arm || bar || (17..20).contains(&x) {
                    p[y * SIDE + x] = 255;
                }
            }
        }
        p
    }

    #[test]
    fn issue13_an_open_four_is_closed_by_a_diagonal_from_its_stem_top() {
        let mut four = open_four();
        assert_eq!(enclosed(&four), 0, "the four starts open");
        assert!(restyle(
            &mut four,
            4,
            &always(),
            &mut ChaCha8Rng::seed_from_u64(4)
        ));
        // The arm's top is gone, the stem and crossbar stay, and the diagonal closes a
        // triangle above the crossbar.
        assert!(four[5 * SIDE + 8] <= CORE, "arm left standing");
        assert!(four[20 * SIDE + 18] > CORE && four[16 * SIDE + 12] > CORE);
        assert!(enclosed(&four) >= 10, "no hole: {}", enclosed(&four));
        // The diagonal runs from the stem's top down to the crossbar's left end.
        assert!(four[10 * SIDE + 13] > CORE || four[10 * SIDE + 14] > CORE);
    }

    #[test]
    fn a_four_without_an_arm_left_of_its_stem_is_left_alone() {
        // A stem and a crossbar only: no arm to erase, nothing to close.
        let mut p = open_four();
        for y in 4..15 {
            for x in 7..10 {
                p[y * SIDE + x] = 0;
            }
        }
        let before = p.clone();
        assert!(!restyle(
            &mut p,
            4,
            &always(),
            &mut ChaCha8Rng::seed_from_u64(4)
        ));
        assert_eq!(p, before);
    }

    #[test]
    fn styles_saved_before_closed_fours_close_none_and_draw_as_before() {
        let old: Styles = serde_json::from_str(r#"{"chance":0.3,"foot":0.5}"#).unwrap();
        assert_eq!(old.four, 0.0);
        // A four leaves the random stream where it was, as before fours had a style.
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut p = open_four();
        assert!(!restyle(&mut p, 4, &old, &mut rng));
        let next: u64 = rng.random();
        assert_eq!(next, ChaCha8Rng::seed_from_u64(6).random::<u64>());
    }

    #[test]
    fn other_digits_and_the_chance_of_none_leave_the_digit_as_it_was() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for label in [0, 2, 3, 5, 6, 8, 9] {
            let mut p = digit(true);
            assert!(!restyle(&mut p, label, &always(), &mut rng));
            assert_eq!(p, digit(true));
        }
        let never = Styles {
            chance: 0.0,
            ..always()
        };
        let mut p = digit(true);
        assert!(!restyle(&mut p, 7, &never, &mut rng));
        assert_eq!(p, digit(true));
        let mut empty = vec![0u8; SIDE * SIDE];
        assert!(!restyle(&mut empty, 1, &always(), &mut rng));
    }
}

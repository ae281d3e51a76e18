//! Finds the digits in a grey frame `[H, W]`: a background estimate that follows uneven light
//! and shadows, ink strength relative to it (either polarity), connected components (by runs,
//! tested against imageproc's labelling), rejection of what is not a digit (specks, paper
//! edges, lines, solid blobs), merging of the strokes of one digit, and grouping into numbers
//! read left to right, line after line.

mod components;
mod geometry;
mod ground;
mod group;
pub mod ink;
pub mod rulings;
mod select;

use image::{GrayImage, ImageBuffer, Luma};

pub use geometry::{Blob, Rect};
pub use ground::strength_of;
pub use select::WIDEST;

use ground::{
    downsample, extreme_filter, full_resolution, ground_level, ink_strength, noise_sigma,
    vote_polarity,
};
use group::group;
use select::{along_a_ruling, bordered_by_ground, select, ON_RULING};

/// Which way the ink differs from its ground.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ink {
    /// Decide per frame: a mostly dark frame is read as light ink on a dark board.
    Auto,
    /// Dark ink on light paper.
    Dark,
    /// Light ink (chalk) on a dark board.
    Light,
}

/// Settings of the digit finder; the defaults suit 640×480 frames of a sheet of paper.
#[derive(Clone, Debug)]
pub struct LocateConfig {
    /// Ink polarity, or `Auto`.
    pub ink: Ink,
    /// Widest stroke in pixels; wider dark (or light) areas are taken for ground.
    pub stroke: u32,
    /// Relative contrast (1 − darker/brighter, less the noise floor) that a mark's core must
    /// reach to be ink (see [`ink`]: pencil's core, blurred, is about 0.1).
    pub threshold: f32,
    /// Relative contrast down to which a mark's pixels are taken together.
    pub faint: f32,
    /// Fraction of a mark's core strength under which its pixels are blurred edge.
    pub edge: f32,
    /// Take the paper's rules and grid lines out of the ink ([`rulings`]).
    pub rulings: bool,
    /// Least grey-level difference taken as ink; raised to 4σ of the measured sensor noise.
    pub noise_floor: f32,
    /// Smallest digit height in pixels.
    pub min_height: u32,
    /// Largest digit height as a fraction of the frame height (paper edges are taller).
    pub max_height: f32,
}

impl Default for LocateConfig {
    fn default() -> Self {
        LocateConfig {
            ink: Ink::Auto,
            stroke: 24,
            threshold: 0.07,
            faint: 0.035,
            edge: 0.5,
            rulings: true,
            noise_floor: 4.0,
            min_height: 10,
            max_height: 0.4,
        }
    }
}

/// What the finder saw in one frame. It works on a map of the frame: at half resolution
/// (`[H/2, W/2]`, each pixel the mean of 2×2, which also denoises), or at full resolution for
/// small writing (see [`SMALL_WRITING`]); boxes are given in frame pixels.
pub struct Located {
    /// The polarity used.
    pub ink: Ink,
    /// Grey-level difference taken as noise.
    pub floor: f32,
    /// Frame pixels per map pixel, across and down: 2 or 1.
    pub scale: u32,
    /// The frame as the finder's map.
    pub map: GrayImage,
    /// Local ground level on the map (strokes removed).
    pub ground: GrayImage,
    /// Ink strength on the map: 0 is ground, 255 is full ink, whatever the polarity.
    pub strength: GrayImage,
    /// Connected-component label of each ink pixel of the map, 0 for ground.
    pub labels: ImageBuffer<Luma<u32>, Vec<u32>>,
    /// For each label (index 0 unused), whether some digit is made of it: a digit's input
    /// leaves out the ink of other digits, not the stray fragments of its own strokes.
    pub owned: Vec<bool>,
    /// Candidate digits, boxes in frame pixels, in reading order.
    pub digits: Vec<Blob>,
    /// Numbers in reading order, each the indices of its digits from left to right.
    pub numbers: Vec<Vec<usize>>,
}

/// Half-resolution pixels within which a pixel of a stroke's blurred edge finds the stroke's
/// core: half the width of the thickest pen's stroke on a 60-pixel digit.
const REACH: usize = 3;

/// Relative contrast under which a stroke is faint: pencil lays 0.15–0.35, a ballpoint 0.5 and
/// more. Graphite sits on the paper's tooth, so a pencil stroke breaks where the paper shows
/// through; the pieces of faint strokes are joined across one-pixel gaps
/// ([`components::join_faint`]), while ink flows into continuous lines and the gaps between
/// strong strokes are the gaps between digits.
const FAINT_STROKE: f32 = 0.35;

/// Relative contrast at which the strength map saturates.
pub(crate) const FULL: f32 = 1.0;

/// Height in frame pixels under which writing is small: the gap between two strokes of such a
/// digit, or between two digits written close, is a pixel or two, which the 2×2 mean of the
/// half-resolution map blurs shut, so neighbouring digits run together into one mark and the
/// loops of a small "8" fill in. A frame whose marks are this small (a page held at arm's
/// length, a whole sheet before a 640×480 camera) is read again at full resolution.
pub const SMALL_WRITING: u32 = 30;

/// Finds the digits of `frame`: on the half-resolution map, and again at full resolution where
/// the writing is small ([`SMALL_WRITING`]).
pub fn locate(frame: &GrayImage, cfg: &LocateConfig) -> Located {
    let mut half = locate_at(frame, cfg, 2);
    half.marks.sort_unstable();
    match half.marks.get(half.marks.len() / 2) {
        Some(&h) if h < SMALL_WRITING => locate_at(frame, cfg, 1).found,
        // Ink, but no mark a digit tall: the thin strokes of small writing fall apart at half
        // resolution (a stroke two pixels wide across two map pixels keeps half its strength).
        None if half.pieces > 0 => locate_at(frame, cfg, 1).found,
        _ => half.found,
    }
}

/// What one pass of the finder gives: the digits, and the heights (frame pixels) of every mark
/// at least a digit tall, by which the writing's size is judged.
struct Pass {
    found: Located,
    marks: Vec<u32>,
    /// Marks of ink of any size.
    pieces: usize,
}

/// Finds the digits of `frame` on a map `scale` frame pixels to the map pixel (1 or 2).
fn locate_at(frame: &GrayImage, cfg: &LocateConfig, scale: u32) -> Pass {
    let scale = scale.clamp(1, 2);
    // Map pixels per half-resolution pixel: the sizes below are said at half resolution.
    let per_half = 2 / scale;
    let map = if scale == 2 {
        downsample(frame)
    } else {
        full_resolution(frame)
    };
    // Sensor noise that survives the map's 2×2 mean (which halves it) sets the noise floor.
    let floor = cfg.noise_floor.max(4.0 * noise_sigma(frame) / 2.0);
    let ink = match cfg.ink {
        Ink::Auto => vote_polarity(&map, floor),
        fixed => fixed,
    };
    let ground = ground_level(&map, ink, cfg.stroke.div_ceil(scale));
    let level = |c: f32| (c / FULL * 255.0).round().clamp(1.0, 255.0) as u8;
    let strength = ink_strength(&map, &ground, ink, floor);
    let (mw, mh) = strength.dimensions();
    let (mw, mh) = (mw as usize, mh as usize);
    // A stroke's reach: its core lies within this many map pixels of its edges.
    let mut local = strength.as_raw().clone();
    extreme_filter(&mut local, mw, mh, REACH * per_half as usize, true);
    let levels = ink::InkLevels {
        faint: level(cfg.faint),
        mark: level(cfg.threshold),
        edge: cfg.edge,
    }
    .above_ground(&strength);
    let mut mask = ink::mask(&strength, &local, levels);
    let lines = if cfg.rulings {
        rulings::remove(mask.as_mut(), strength.as_raw(), mw, mh, per_half)
    } else {
        Vec::new()
    };
    let (labels, components) = components::label(&mask);
    // Faint ink: no stronger stroke within reach of the pixel (pencil's darkest, see
    // `FAINT_STROKE`).
    let faint: Vec<bool> = local
        .iter()
        .map(|&m| f32::from(m) < FAINT_STROKE * 255.0 / FULL)
        .collect();
    let components = components::join_faint(&labels, components, &faint, per_half as usize);
    let pieces = components.len();
    let map_cfg = LocateConfig {
        min_height: cfg.min_height.div_ceil(scale),
        ..cfg.clone()
    };
    let (mut digits, marks) = select(components, map.width(), map.height(), &map_cfg, per_half);
    let marks = marks.into_iter().map(|h| h * scale).collect();
    digits.retain(|d| bordered_by_ground(&map, &ground, &labels, d, ink));
    if !lines.is_empty() {
        let near = ON_RULING * per_half as f32;
        digits.retain(|d| !along_a_ruling(&labels, &strength, d, &lines, near));
    }
    // Writing on one page has one size: marks far smaller than the typical digit are specks,
    // dots and scribbles.
    if digits.len() >= 3 {
        let mut heights: Vec<u32> = digits.iter().map(|d| d.rect.h).collect();
        heights.sort_unstable();
        let typical = heights[heights.len() / 2] as f32;
        digits.retain(|d| d.rect.h as f32 >= 0.55 * typical);
    }
    let (fw, fh) = frame.dimensions();
    for d in &mut digits {
        let r = d.rect;
        let (x, y) = ((r.x * scale).min(fw - 1), (r.y * scale).min(fh - 1));
        d.rect = Rect {
            x,
            y,
            w: (r.w * scale).min(fw - x),
            h: (r.h * scale).min(fh - y),
        };
    }
    // Digits in reading order: number after number, each left to right.
    let order = group(&digits);
    let mut slots: Vec<Option<Blob>> = digits.into_iter().map(Some).collect();
    let mut digits = Vec::with_capacity(slots.len());
    let mut numbers = Vec::with_capacity(order.len());
    for number in order {
        let start = digits.len();
        digits.extend(number.iter().filter_map(|&i| slots[i].take()));
        numbers.push((start..digits.len()).collect());
    }
    let mut owned = vec![false; labels.as_raw().iter().max().map_or(1, |&m| m as usize + 1)];
    for d in &digits {
        for &l in &d.labels {
            if let Some(o) = owned.get_mut(l as usize) {
                *o = true;
            }
        }
    }
    Pass {
        found: Located {
            ink,
            floor,
            scale,
            map,
            ground,
            strength,
            labels,
            owned,
            digits,
            numbers,
        },
        marks,
        pieces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_filter_matches_a_plain_window_scan() {
        let (w, h) = (29usize, 13usize);
        let img: Vec<u8> = (0..w * h).map(|i| ((i * 73 + 11) % 251) as u8).collect();
        for r in [1usize, 2, 3, 6, 40] {
            for max in [true, false] {
                let mut out = img.clone();
                extreme_filter(&mut out, w, h, r, max);
                for y in 0..h {
                    for x in 0..w {
                        let window = (y.saturating_sub(r)..(y + r + 1).min(h)).flat_map(|yy| {
                            let row = &img[yy * w..(yy + 1) * w];
                            row[x.saturating_sub(r)..(x + r + 1).min(w)].iter().copied()
                        });
                        let want = if max {
                            window.max().unwrap()
                        } else {
                            window.min().unwrap()
                        };
                        assert_eq!(out[y * w + x], want, "r {r} max {max} at {x},{y}");
                    }
                }
            }
        }
    }
    use imageproc::drawing::{draw_filled_rect_mut, draw_line_segment_mut};
    use imageproc::rect::Rect as IRect;

    /// Paper at `paper` with a darker gradient, and "digits" drawn as thick strokes.
    fn page(paper: u8, ink: u8) -> GrayImage {
        let mut img = GrayImage::from_fn(320, 240, |x, _| {
            Luma([(paper as f32 * (1.0 - 0.4 * x as f32 / 320.0)) as u8])
        });
        for (k, x0) in [40.0f32, 75.0, 180.0].iter().enumerate() {
            for t in 0..4 {
                let dx = t as f32;
                // A "1" and two "7"-like shapes, 40 px tall, in the shadowed and lit parts.
                draw_line_segment_mut(&mut img, (x0 + dx, 60.0), (x0 + dx, 100.0), Luma([ink]));
                if k > 0 {
                    draw_line_segment_mut(
                        &mut img,
                        (x0 - 20.0, 60.0 + dx),
                        (x0 + dx, 60.0 + dx),
                        Luma([ink]),
                    );
                }
            }
        }
        img
    }

    #[test]
    fn the_column_pass_matches_the_row_pass_on_the_transpose() {
        let (w, h) = (23usize, 17usize);
        let img: Vec<u8> = (0..w * h).map(|i| ((i * 97 + 5) % 253) as u8).collect();
        let transposed: Vec<u8> = (0..w * h).map(|i| img[(i % h) * w + i / h]).collect();
        for max in [true, false] {
            let mut a = img.clone();
            extreme_filter(&mut a, w, h, 3, max);
            let mut b = transposed.clone();
            extreme_filter(&mut b, h, w, 3, max);
            let back: Vec<u8> = (0..w * h).map(|i| b[(i % w) * h + i / w]).collect();
            assert_eq!(a, back, "max {max}");
        }
    }

    #[test]
    fn finds_dark_digits_across_uneven_light_and_groups_them() {
        let img = page(230, 40);
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.ink, Ink::Dark);
        assert_eq!(found.digits.len(), 3, "{:?}", found.digits);
        // The first two are close together, the third far: two numbers.
        assert_eq!(found.numbers.len(), 2);
        assert_eq!(found.numbers[0].len(), 2);
        for d in &found.digits {
            assert!((38..=44).contains(&d.rect.h), "{:?}", d.rect);
        }
    }

    #[test]
    fn finds_chalk_on_a_dark_board() {
        let img = page(60, 220);
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.ink, Ink::Light);
        assert_eq!(found.digits.len(), 3, "{:?}", found.digits);
    }

    #[test]
    fn edges_lines_specks_and_blobs_are_not_digits() {
        let mut img = GrayImage::from_pixel(320, 240, Luma([220]));
        // The table beyond the paper's edge.
        draw_filled_rect_mut(&mut img, IRect::at(0, 200).of_size(320, 40), Luma([90]));
        // A ruled line, a speck and a solid blob.
        draw_filled_rect_mut(&mut img, IRect::at(20, 50).of_size(200, 3), Luma([60]));
        draw_filled_rect_mut(&mut img, IRect::at(250, 60).of_size(2, 2), Luma([60]));
        draw_filled_rect_mut(&mut img, IRect::at(120, 110).of_size(30, 30), Luma([40]));
        // No writing to vote on the polarity: say it.
        let cfg = LocateConfig {
            ink: Ink::Dark,
            ..LocateConfig::default()
        };
        let found = locate(&img, &cfg);
        assert!(found.digits.is_empty(), "{:?}", found.digits);
    }

    #[test]
    fn a_digit_across_a_hard_shadow_edge_is_still_a_digit() {
        let mut img = GrayImage::from_pixel(200, 200, Luma([220]));
        // A "0" in pale ink (as a blurred pen gives): a hollow box 24×40 with 4-pixel strokes.
        draw_filled_rect_mut(&mut img, IRect::at(80, 60).of_size(24, 40), Luma([90]));
        draw_filled_rect_mut(&mut img, IRect::at(84, 64).of_size(16, 32), Luma([220]));
        // A shadow darkens everything below row 88 to 42%, ink and paper alike.
        for (_, y, p) in img.enumerate_pixels_mut() {
            if y >= 88 {
                p[0] = (f32::from(p[0]) * 0.42) as u8;
            }
        }
        let cfg = LocateConfig {
            ink: Ink::Dark,
            ..LocateConfig::default()
        };
        let found = locate(&img, &cfg);
        assert_eq!(found.digits.len(), 1, "{:?}", found.digits);
    }

    /// Five small "0"s (hollow boxes 10×18, strokes 2 px) in a row, `gap` pixels apart.
    fn small_zeros(gap: u32) -> GrayImage {
        let mut img = GrayImage::from_pixel(320, 240, Luma([215]));
        for k in 0..5 {
            let x = 41 + k * (10 + gap) as i32;
            draw_filled_rect_mut(&mut img, IRect::at(x, 50).of_size(10, 18), Luma([60]));
            draw_filled_rect_mut(&mut img, IRect::at(x + 2, 52).of_size(6, 14), Luma([215]));
        }
        img
    }

    #[test]
    fn issue13_small_digits_written_close_are_found_apart_at_full_resolution() {
        // Two pixels apart, 18 px tall: the half-resolution map runs them together.
        let img = small_zeros(2);
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.scale, 1);
        assert_eq!(found.digits.len(), 5, "{:?}", found.digits);
        for d in &found.digits {
            assert!((9..=12).contains(&d.rect.w), "{:?}", d.rect);
        }
        let half = locate_at(&img, &LocateConfig::default(), 2).found;
        assert!(half.digits.len() < 5, "{:?}", half.digits);
        // Writing of ordinary size stays on the half-resolution map.
        let big = page(230, 40);
        assert_eq!(locate(&big, &LocateConfig::default()).scale, 2);
    }

    #[test]
    fn issue13_a_digit_broken_where_the_pen_skipped_is_one_digit_among_digits_of_its_size() {
        let mut img = GrayImage::from_pixel(320, 240, Luma([220]));
        // Three "1"s 40 px tall, then a "3" whose pen skipped across its middle: two arcs
        // 16 px tall, 8 px apart (half the pieces' height, a fifth of the writing's).
        for k in 0..3 {
            draw_filled_rect_mut(
                &mut img,
                IRect::at(40 + 30 * k, 100).of_size(4, 40),
                Luma([50]),
            );
        }
        for (y, h) in [(100, 16), (124, 16)] {
            draw_filled_rect_mut(&mut img, IRect::at(160, y).of_size(20, 4), Luma([50]));
            draw_filled_rect_mut(&mut img, IRect::at(176, y).of_size(4, h), Luma([50]));
            draw_filled_rect_mut(
                &mut img,
                IRect::at(160, y + h as i32 - 4).of_size(20, 4),
                Luma([50]),
            );
        }
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.digits.len(), 4, "{:?}", found.digits);
        let three = found.digits.iter().find(|d| d.rect.x >= 150).unwrap();
        assert!((38..=42).contains(&three.rect.h), "{:?}", three.rect);
    }

    #[test]
    fn issue13_a_number_with_narrow_ones_stays_one_number_and_a_space_a_digit_wide_parts_two() {
        let mut img = GrayImage::from_pixel(320, 240, Luma([220]));
        // "11" with 26 px (0.65 of the height) between the strokes, then a "1" 76 px on.
        for x in [40, 70, 150] {
            draw_filled_rect_mut(&mut img, IRect::at(x, 100).of_size(4, 40), Luma([50]));
        }
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.digits.len(), 3, "{:?}", found.digits);
        assert_eq!(found.numbers, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn a_broken_stroke_is_merged_into_one_digit() {
        let mut img = GrayImage::from_pixel(200, 200, Luma([220]));
        // A "5"-like digit whose top bar is detached from its body by a 3-pixel gap.
        draw_filled_rect_mut(&mut img, IRect::at(80, 60).of_size(24, 4), Luma([40]));
        draw_filled_rect_mut(&mut img, IRect::at(80, 67).of_size(4, 16), Luma([40]));
        draw_filled_rect_mut(&mut img, IRect::at(80, 83).of_size(22, 4), Luma([40]));
        draw_filled_rect_mut(&mut img, IRect::at(100, 83).of_size(4, 18), Luma([40]));
        draw_filled_rect_mut(&mut img, IRect::at(80, 99).of_size(22, 4), Luma([40]));
        let found = locate(&img, &LocateConfig::default());
        assert_eq!(found.digits.len(), 1, "{:?}", found.digits);
        assert_eq!(found.digits[0].labels.len(), 2);
        // 43 rows of ink, within one row: the 2×2 mean halves a row of ink that shares its
        // half-resolution row with paper, and the half-maximum cut may leave it out or not.
        assert!(
            (42..=44).contains(&found.digits[0].rect.h),
            "{:?}",
            found.digits[0].rect
        );
    }

    #[test]
    fn tiny_and_thin_frames_find_nothing_without_panicking() {
        for (w, h) in [(1, 1), (2, 2), (3, 1), (1, 500), (500, 3), (17, 9)] {
            let img = GrayImage::from_fn(w, h, |x, y| Luma([((x * 31 + y * 17) % 256) as u8]));
            let found = locate(&img, &LocateConfig::default());
            assert!(found.digits.is_empty(), "{w}x{h}");
        }
    }

    #[test]
    fn rects_union_and_overlap() {
        let a = Rect {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
        };
        let b = Rect {
            x: 5,
            y: 5,
            w: 10,
            h: 10,
        };
        assert_eq!(
            a.union(b),
            Rect {
                x: 0,
                y: 0,
                w: 15,
                h: 15
            }
        );
        assert!((a.iou(b) - 25.0 / 175.0).abs() < 1e-6);
        assert!((a.iou(a) - 1.0).abs() < 1e-6);
    }
}

//! Tests of [`super`] (`locate.rs`).

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
    let half = locate_at(&img, &LocateConfig::default(), 2, None).found;
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

#[test]
fn issue13_lit_patches_on_a_dim_page_do_not_turn_the_ink_to_chalk() {
    // A dim page (grey 70) with four patches of light 32 pixels square (grey 170, light
    // through a window): each holds a quarter of the block it lies in, a bright minority, as
    // chalk on a board would be, but wider than any stroke.
    let mut img = GrayImage::from_pixel(320, 240, Luma([70]));
    for i in 0..4 {
        draw_filled_rect_mut(
            &mut img,
            IRect::at(64 * i + 16, 16).of_size(32, 32),
            Luma([170]),
        );
    }
    // Dark strokes (a "1" and a "7", grey 30) in the dim part.
    for t in 0..3 {
        let dx = t as f32;
        draw_line_segment_mut(&mut img, (60.0 + dx, 150.0), (60.0 + dx, 190.0), Luma([30]));
        draw_line_segment_mut(
            &mut img,
            (110.0 + dx, 150.0),
            (110.0 + dx, 190.0),
            Luma([30]),
        );
        draw_line_segment_mut(
            &mut img,
            (90.0, 150.0 + dx),
            (110.0, 150.0 + dx),
            Luma([30]),
        );
    }
    let found = locate(&img, &LocateConfig::default());
    assert_eq!(found.ink, Ink::Dark);
    assert_eq!(found.digits.len(), 2, "{:?}", found.digits);
}

/// A page of squared paper (grey 200, lines of 170 every 12 pixels, 2 wide, tilted 3°, under
/// the camera's blur) with pencil "0"s 20 pixels tall, `pencil` times the grey of whatever
/// they cover, eight in a row twice.
fn pencil_on_a_fine_grid(pencil: f32) -> (GrayImage, Vec<Rect>) {
    let (w, h) = (640u32, 480u32);
    let tan = 3f32.to_radians().tan();
    let sharp = GrayImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32, y as f32);
        let across = (y - x * tan).rem_euclid(12.0) < 2.0;
        let down = (x + y * tan).rem_euclid(12.0) < 2.0;
        Luma([if across || down { 170 } else { 200 }])
    });
    let mut img = imageproc::filter::box_filter(&sharp, 1, 1);
    let mut boxes = Vec::new();
    for (row, y0) in [150u32, 260].into_iter().enumerate() {
        for k in 0..8u32 {
            let x0 = 120 + k * 30 + row as u32 * 7;
            // A "0": the rim of a 12 × 20 box, strokes 2 pixels.
            for y in y0..y0 + 20 {
                for x in x0..x0 + 12 {
                    if x < x0 + 2 || x >= x0 + 10 || y < y0 + 2 || y >= y0 + 18 {
                        let v = f32::from(img.get_pixel(x, y)[0]) * pencil;
                        img.put_pixel(x, y, Luma([v as u8]));
                    }
                }
            }
            boxes.push(Rect {
                x: x0,
                y: y0,
                w: 12,
                h: 20,
            });
        }
    }
    (img, boxes)
}

/// Issue 13: small pencil writing on a fine grid, barely darker than the grid's lines (its 0.2
/// of contrast against their 0.15), was never ink: the grid set the level a mark's core must
/// reach. With the print taken into the ground the digits are found, and the grid is not.
#[test]
fn issue13_pencil_as_faint_as_a_fine_grid_is_found() {
    let (img, boxes) = pencil_on_a_fine_grid(0.8);
    let found = locate(&img, &LocateConfig::default());
    let hit = |b: &Rect| found.digits.iter().any(|d| d.rect.iou(*b) > 0.5);
    let hits = boxes.iter().filter(|b| hit(b)).count();
    assert!(hits >= 15, "{hits} of 16 found: {:?}", found.digits);
    let stray = found
        .digits
        .iter()
        .filter(|d| !boxes.iter().any(|b| d.rect.iou(*b) > 0.2))
        .count();
    assert_eq!(stray, 0, "{:?}", found.digits);
}

/// A page of squared paper seen in perspective, as a page held at a slant shows it (lines of
/// grey `line` on 200, 2 wide, every 14 pixels at the top and 18 at the bottom, the lines down
/// leaning from -5° to 5° across the frame), under the camera's blur and a grain, with nothing
/// written on it.
fn empty_grid_in_perspective(line: u8) -> GrayImage {
    let (w, h) = (640u32, 480u32);
    let sharp = GrayImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        // The pitch grows down the frame; the lines down lean out from the middle.
        let pitch = 14.0 + 4.0 * yf / h as f32;
        let across = (yf / pitch * 14.0 + xf * 0.03).rem_euclid(14.0) < 2.0;
        let lean = (xf - 320.0) / 320.0 * 5f32.to_radians().tan();
        let down = ((xf - 320.0) / (1.0 + 0.25 * yf / h as f32) + yf * lean).rem_euclid(14.0) < 2.0;
        let grain = ((x * 7919 + y * 104_729) % 7) as u8;
        Luma([if across || down { line } else { 200 } - grain])
    });
    imageproc::filter::box_filter(&sharp, 1, 1)
}

/// Issue 13: a grid taken into the ground leaves a trace where its lines fan out from the
/// one tilt the closing follows; the faint level stays over it ([`print::residue_level`]).
#[test]
fn issue13_an_empty_grid_in_perspective_has_no_digits() {
    for line in [170u8, 150, 130] {
        let found = locate(&empty_grid_in_perspective(line), &LocateConfig::default());
        assert!(found.digits.is_empty(), "lines {line}: {:?}", found.digits);
    }
}

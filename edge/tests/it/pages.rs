//! `edge run` on what people write on notebook pages (issue 13): digits that touch, pencil,
//! squared paper. Frames are composed here from official MNIST test digits (read through
//! `MNIST_DIR`) and written as PNG files, then read by the binary as a user's files would be.

use std::path::Path;

use image::{GrayImage, Luma};

use crate::agree::mnist_dir;
use crate::common::{edge, reports};

/// The first test image of each label, as (label, 28×28 pixels).
fn one_of_each() -> Vec<(u8, Vec<u8>)> {
    let (images, labels) = edge::idx::test_set(&mnist_dir()).unwrap();
    (0..10u8)
        .map(|d| {
            let i = labels.iter().position(|&l| l == d).unwrap();
            (d, images[i * 784..(i + 1) * 784].to_vec())
        })
        .collect()
}

/// The tight crop of a 28×28 digit: (pixels, width, height).
fn tight(img: &[u8]) -> (Vec<u8>, usize, usize) {
    let rows: Vec<usize> = (0..28)
        .filter(|&y| img[y * 28..y * 28 + 28].iter().any(|&v| v > 0))
        .collect();
    let cols: Vec<usize> = (0..28)
        .filter(|&x| (0..28).any(|y| img[y * 28 + x] > 0))
        .collect();
    let (y0, y1, x0, x1) = (
        rows[0],
        *rows.last().unwrap(),
        cols[0],
        *cols.last().unwrap(),
    );
    let (w, h) = (x1 + 1 - x0, y1 + 1 - y0);
    let crop = (0..w * h)
        .map(|i| img[(i / w + y0) * 28 + i % w + x0])
        .collect();
    (crop, w, h)
}

/// A 640×480 sheet of paper (grey level `paper`), optionally squared with lines of contrast
/// 0.35 every `grid` pixels (as dark as the darkest printed grids, so the finder's faint
/// levels see it).
fn sheet(paper: f32, grid: Option<u32>) -> Vec<f32> {
    (0..640 * 480)
        .map(|i| {
            let (x, y) = (i % 640, i / 640);
            let on_grid = grid.is_some_and(|g| x % g == 0 || y % g == 0);
            if on_grid {
                paper * 0.8
            } else {
                paper
            }
        })
        .collect()
}

/// Writes `digit` `height` pixels tall with its left edge at `x` and its bottom on `base`,
/// darkening the paper by `contrast` where the ink is full; returns its right edge.
fn write(page: &mut [f32], digit: &[u8], x: f32, base: f32, height: f32, contrast: f32) -> f32 {
    write_with(page, digit, x, base, height, |_, _| contrast)
}

/// [`write`] with the contrast of the pen at each point of the digit, given as fractions of
/// its width and height from its top left corner.
fn write_with(
    page: &mut [f32],
    digit: &[u8],
    x: f32,
    base: f32,
    height: f32,
    contrast: impl Fn(f32, f32) -> f32,
) -> f32 {
    let (crop, cw, ch) = tight(digit);
    let k = height / ch as f32;
    let w = cw as f32 * k;
    for py in (base - height) as usize..base as usize {
        for px in x as usize..(x + w).ceil() as usize {
            let (u, v) = (
                (px as f32 + 0.5 - x) / k - 0.5,
                (py as f32 + 0.5 - base + height) / k - 0.5,
            );
            let (iu, iv) = (u.floor().max(0.0) as usize, v.floor().max(0.0) as usize);
            let (fu, fv) = (
                (u - iu as f32).clamp(0.0, 1.0),
                (v - iv as f32).clamp(0.0, 1.0),
            );
            let at =
                |a: usize, b: usize| f32::from(crop[b.min(ch - 1) * cw + a.min(cw - 1)]) / 255.0;
            let a = (at(iu, iv) * (1.0 - fu) + at(iu + 1, iv) * fu) * (1.0 - fv)
                + (at(iu, iv + 1) * (1.0 - fu) + at(iu + 1, iv + 1) * fu) * fv;
            let c = contrast(u / cw as f32, v / ch as f32);
            page[py * 640 + px] *= 1.0 - c * a;
        }
    }
    x + w
}

fn save(page: &[f32], path: &Path) {
    let img = GrayImage::from_fn(640, 480, |x, y| {
        Luma([page[(y * 640 + x) as usize].round().clamp(0.0, 255.0) as u8])
    });
    imageproc::filter::gaussian_blur_f32(&img, 0.8)
        .save(path)
        .unwrap();
}

/// The numbers `edge run` reads in each frame of `dir`, by file name.
fn numbers(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = reports(edge().arg("run").arg("--input").arg(dir))
        .into_iter()
        .map(|r| {
            let name = Path::new(&r.source)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, r.numbers)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn issue13_touching_digits_are_read_as_two() {
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    let pairs = [
        (3, 5),
        (2, 7),
        (4, 6),
        (8, 0),
        (5, 9),
        (7, 2),
        (6, 3),
        (9, 4),
    ];
    for (k, (a, b)) in pairs.iter().enumerate() {
        let mut page = sheet(225.0, None);
        // Two digits whose ink overlaps by three pixels, and a number far away on the line.
        let right = write(&mut page, &digits[*a].1, 150.0, 260.0, 60.0, 0.85);
        write(&mut page, &digits[*b].1, right - 3.0, 260.0, 60.0, 0.85);
        write(&mut page, &digits[1].1, 450.0, 260.0, 60.0, 0.85);
        save(&page, &dir.path().join(format!("pair-{k}.png")));
    }
    let read = numbers(dir.path());
    let right = read
        .iter()
        .zip(pairs)
        .filter(|((_, n), (a, b))| n.first() == Some(&format!("{a}{b}")))
        .count();
    assert!(right >= 6, "{right} of 8 touching pairs read: {read:?}");
}

#[test]
fn issue13_two_lines_touching_where_a_digit_reaches_into_the_next_are_both_read() {
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    // Above "14a0", below "75b9": the digits of the lines 16 pixels apart, but "b" written
    // higher, into the "a" above it by four pixels.
    let pairs = [
        (6, 3),
        (2, 2),
        (3, 2),
        (9, 5),
        (4, 7),
        (5, 8),
        (8, 6),
        (7, 9),
        (0, 3),
        (2, 6),
        (3, 8),
        (9, 0),
    ];
    for (k, (a, b)) in pairs.iter().enumerate() {
        let mut page = sheet(230.0, None);
        let mut x = 100.0;
        for d in [1, 4, *a, 0] {
            x = write(&mut page, &digits[d].1, x, 200.0, 50.0, 0.85) + 12.0;
        }
        let mut x = 100.0;
        for (i, d) in [7, 5, *b, 9].into_iter().enumerate() {
            let base = if i == 2 { 246.0 } else { 266.0 };
            x = write(&mut page, &digits[d].1, x, base, 50.0, 0.85) + 12.0;
        }
        save(&page, &dir.path().join(format!("lines-{k:02}.png")));
    }
    let read = numbers(dir.path());
    let right = read
        .iter()
        .zip(pairs)
        .filter(|((_, n), (a, b))| *n == [format!("14{a}0"), format!("75{b}9")])
        .count();
    // Cut only across the least inked row of the blob's middle, 4 of the 12 read.
    assert!(right >= 6, "{right} of 12 pairs of lines read: {read:?}");
}

/// The numbers `edge run` reads on plain paper of grey `paper` holding one number: `written`,
/// `height` pixels tall, 10 pixels apart, its ink `contrast` darker than the paper.
fn one_number(paper: f32, written: &[usize], height: f32, contrast: f32) -> Vec<String> {
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    let mut page = sheet(paper, None);
    let mut x = 120.0;
    for &d in written {
        x = write(&mut page, &digits[d].1, x, 260.0, height, contrast) + 10.0;
    }
    save(&page, &dir.path().join("number.png"));
    numbers(dir.path()).remove(0).1
}

#[test]
fn issue13_pencil_is_read() {
    // Pencil: a fifth darker than the paper where the graphite is full.
    assert_eq!(one_number(230.0, &[2, 0, 4, 7], 50.0, 0.2), ["2047"]);
}

#[test]
fn issue13_pencil_in_a_dim_frame_is_read() {
    // Paper in a phone's shadow (grey 50), pencil darkening it by 7 grey levels at most.
    assert_eq!(one_number(50.0, &[3, 5, 8, 6], 40.0, 0.15), ["3586"]);
}

#[test]
fn issue13_digits_on_squared_paper_are_read_and_the_grid_is_not() {
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    let mut page = sheet(230.0, Some(25));
    let mut x = 110.0;
    // (Not MNIST's first test "3": wide and open, the page model doubts it as a pair; these
    // tests are about the grid and the ink, the model's hard digits are scored by `edge eval`.)
    for d in [5usize, 8, 6, 1] {
        x = write(&mut page, &digits[d].1, x, 262.0, 45.0, 0.8) + 12.0;
    }
    save(&page, &dir.path().join("squared.png"));
    assert_eq!(numbers(dir.path())[0].1, ["5861"]);
}

#[test]
fn issue13_pencil_on_a_sheet_lying_on_a_dark_table_is_read_as_dark_ink() {
    // Where pencil writing is too faint to vote, only the sheet's edges decide the ink's
    // polarity, and wide bands of table beside the sheet say "light ink".
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    let mut page = sheet(230.0, None);
    for (i, p) in page.iter_mut().enumerate() {
        let (x, y) = (i % 640, i / 640);
        if x < 112 || y < 112 {
            *p = 60.0;
        }
    }
    let lines = [[6usize, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]];
    for (k, line) in lines.iter().enumerate() {
        let mut x = 140.0;
        for &d in line {
            x = write(
                &mut page,
                &digits[d].1,
                x,
                200.0 + 110.0 * k as f32,
                50.0,
                0.2,
            ) + 10.0;
        }
    }
    save(&page, &dir.path().join("table.png"));
    let read = &numbers(dir.path())[0].1;
    assert_eq!(read, &["61415926", "27182818"], "{read:?}");
}

#[test]
fn issue13_specks_beside_the_writing_do_not_make_its_digits_too_tall() {
    // More small marks than digits (dots, grain): the writing's size is that of what reads as
    // digits, or every digit would be taken for two lines run together and go unread.
    let digits = one_of_each();
    let dir = tempfile::tempdir().unwrap();
    let mut page = sheet(225.0, None);
    let mut x = 150.0;
    for d in [6usize, 0, 2, 9] {
        x = write(&mut page, &digits[d].1, x, 200.0, 50.0, 0.85) + 12.0;
    }
    for k in 0..12 {
        // Crosses a little taller than the smallest digit the finder takes, below the digits.
        let (cx, cy) = (60.0 + 45.0 * k as f32, 380.0 + 20.0 * (k % 2) as f32);
        for (i, p) in page.iter_mut().enumerate() {
            let (dx, dy) = ((i % 640) as f32 - cx, (i / 640) as f32 - cy);
            if dx.abs() <= 7.0 && dy.abs() <= 7.0 && (dx.abs() - dy.abs()).abs() <= 1.5 {
                *p *= 0.2;
            }
        }
    }
    save(&page, &dir.path().join("specks.png"));
    let read = &numbers(dir.path())[0].1;
    assert!(read.contains(&"6029".to_string()), "{read:?}");
}

/// A ballpoint that fades under lighter pressure leaves a stretch of stroke under a third as
/// dark as the rest: the finder's cut at a stroke's edges parts the digit there, and its strong
/// part alone reads as another digit or not at all (a "3" as a "1", a "9" as a "0"). Each
/// digit is read whole, its faded stretch included.
#[test]
fn issue13_a_digit_whose_stroke_fades_is_read_whole() {
    let (images, labels) = edge::idx::test_set(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // MNIST's fourth and fifth test digit of each label, the right two fifths of each faded.
    for nth in [3, 4] {
        let mut page = sheet(225.0, None);
        let mut x = 40.0;
        for d in 0..10u8 {
            let (i, _) = labels
                .iter()
                .enumerate()
                .filter(|(_, &l)| l == d)
                .nth(nth)
                .unwrap();
            let digit = &images[i * 784..(i + 1) * 784];
            let pen = |u: f32, _| if u > 0.6 { 0.25 } else { 0.85 };
            x = write_with(&mut page, digit, x, 250.0, 45.0, pen) + 14.0;
        }
        save(&page, &dir.path().join(format!("faded-{nth}.png")));
    }
    let read: Vec<String> = numbers(dir.path())
        .into_iter()
        .map(|(_, n)| n.concat())
        .collect();
    assert_eq!(read, ["0123456789", "0123456789"], "{read:?}");
}

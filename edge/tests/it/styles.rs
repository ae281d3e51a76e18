//! The shipped default reads the sevens, ones and fours much of Europe and Asia writes (issue
//! 13, part 3): MNIST's own test sevens given a crossbar, its ones given a flag, with and
//! without a foot, and its fours closed at the top, drawn here with this test's own geometry
//! (not `train`'s styles), in the digit's own pen width and grey.

use std::path::Path;

use edge::infer::Classifier;

use crate::agree::mnist_dir;

const SIDE: usize = 28;

/// Draws a straight stroke `width` pixels wide from `a` to `b` at the digit's brightest grey.
fn stroke(img: &mut [u8], a: (f32, f32), b: (f32, f32), width: f32) {
    let grey = f32::from(img.iter().copied().max().unwrap_or(255));
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (px, py) = (x as f32, y as f32);
            let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
            let d = (px - a.0 - t * dx).hypot(py - a.1 - t * dy);
            let v = (grey * (width / 2.0 + 0.7 - d).clamp(0.0, 1.0)) as u8;
            img[y * SIDE + x] = img[y * SIDE + x].max(v);
        }
    }
}

/// Rows and columns of the ink above 100, and the pen width (ink area over inked rows).
struct Ink {
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
    width: f32,
}

fn ink(img: &[u8]) -> Ink {
    let on: Vec<(usize, usize)> = (0..SIDE * SIDE)
        .filter(|&i| img[i] > 100)
        .map(|i| (i % SIDE, i / SIDE))
        .collect();
    let rows = (0..SIDE).filter(|&y| on.iter().any(|p| p.1 == y)).count();
    Ink {
        top: on.iter().map(|p| p.1).min().unwrap_or(0),
        bottom: on.iter().map(|p| p.1).max().unwrap_or(0),
        left: on.iter().map(|p| p.0).min().unwrap_or(0),
        right: on.iter().map(|p| p.0).max().unwrap_or(0),
        width: (on.len() as f32 / rows.max(1) as f32 * 0.8).max(1.5),
    }
}

/// Mean column of the ink in row `y`.
fn column(img: &[u8], y: usize) -> Option<f32> {
    let xs: Vec<usize> = (0..SIDE).filter(|&x| img[y * SIDE + x] > 100).collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<usize>() as f32 / xs.len() as f32)
}

fn crossed(img: &mut [u8]) {
    let k = ink(img);
    let y = k.top as f32 + 0.5 * (k.bottom - k.top) as f32;
    if let Some(c) = column(img, y.round() as usize) {
        let half = 0.3 * (k.right - k.left + 1) as f32;
        stroke(img, (c - half, y + 0.5), (c + half, y - 0.5), k.width);
    }
}

fn flagged(img: &mut [u8], foot: bool) {
    let k = ink(img);
    let h = (k.bottom - k.top + 1) as f32;
    if let (Some(xt), Some(xb)) = (column(img, k.top), column(img, k.bottom)) {
        let top = (xt, k.top as f32);
        stroke(img, top, (xt - 0.28 * h, top.1 + 0.22 * h), k.width);
        if foot {
            let y = k.bottom as f32;
            stroke(img, (xb - 0.22 * h, y), (xb + 0.22 * h, y), k.width);
        }
    }
}

/// Closes an open four at the top, or `None` where its parts are not found: the crossbar is
/// the row of widest ink between 40% and 80% of the height, the stem the line through the mean
/// ink columns of the bottom quarter and of the rows just under the bar; the ink above the bar
/// left of the stem (the arm) is erased and a diagonal drawn from the stem's highest ink to
/// the bar's leftmost.
fn closed(img: &[u8]) -> Option<Vec<u8>> {
    let mut img = img.to_vec();
    let k = ink(&img);
    let h = (k.bottom - k.top + 1) as f32;
    let w = k.width;
    let on = |img: &[u8], x: usize, y: usize| img[y * SIDE + x] > 100;
    let span = |y: usize| {
        let xs: Vec<usize> = (0..SIDE).filter(|&x| on(&img, x, y)).collect();
        xs.last().map_or(0, |&r| r - xs[0])
    };
    let band = k.top + (0.4 * h) as usize..=k.top + (0.8 * h) as usize;
    let bar = band.max_by_key(|&y| (span(y), std::cmp::Reverse(y)))?;
    let mean_column = |rows: &mut dyn Iterator<Item = usize>| {
        let pts: Vec<(f32, f32)> = rows
            .filter(|&y| y <= k.bottom)
            .filter_map(|y| column(&img, y).map(|c| (y as f32, c)))
            .collect();
        let n = pts.len() as f32;
        (n > 0.0).then(|| {
            let (sy, sx) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
            (sy / n, sx / n)
        })
    };
    let (y1, x1) = mean_column(&mut (k.bottom - (h as usize) / 4..=k.bottom))?;
    let under = bar + w as usize + 1;
    let (y2, x2) = mean_column(&mut (under..under + 3))?;
    let slope = if (y1 - y2).abs() > 0.5 {
        (x1 - x2) / (y1 - y2)
    } else {
        0.0
    };
    let stem = |y: f32| x1 + slope * (y - y1);
    let img_ref = &img;
    let left = (bar.saturating_sub(1)..=(bar + 1).min(SIDE - 1))
        .flat_map(|y| (0..SIDE).filter(move |&x| img_ref[y * SIDE + x] > 100))
        .min()? as f32;
    if stem(bar as f32) - left < 0.3 * h {
        return None;
    }
    let arm = |x: usize, y: usize| {
        (y as f32) < bar as f32 - w / 2.0 && (x as f32) < stem(y as f32) - w / 2.0 - 0.5
    };
    if (0..SIDE * SIDE)
        .filter(|&i| arm(i % SIDE, i / SIDE) && on(&img, i % SIDE, i / SIDE))
        .count()
        < 3
    {
        return None;
    }
    let top = (0..SIDE).find(|&y| {
        (0..SIDE).any(|x| on(&img, x, y) && !arm(x, y) && (x as f32 - stem(y as f32)).abs() <= w)
    })?;
    if top as f32 > k.top as f32 + 0.35 * h {
        return None;
    }
    for (i, p) in img.iter_mut().enumerate() {
        if arm(i % SIDE, i / SIDE) {
            *p = 0;
        }
    }
    let start = (stem(top as f32), top as f32);
    stroke(&mut img, start, (left + w / 2.0, bar as f32), w);
    Some(img)
}

/// Share of `digits` the default model reads as `label` at its own confidence threshold.
fn read_as(model: &Classifier, digits: &[Vec<u8>], label: usize) -> f32 {
    let threshold = model.contract().min_confidence.unwrap_or(0.5);
    let read = model.classify(&digits.concat()).unwrap();
    let right = read
        .iter()
        .filter(|p| p.class == label && p.confidence >= threshold)
        .count();
    right as f32 / digits.len() as f32
}

#[test]
fn issue13_the_default_model_reads_crossed_sevens_and_ones_with_a_flag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Classifier::load(&root.join("../models/strided-pages-int8.onnx")).unwrap();
    let (images, labels) = edge::idx::test_set(&mnist_dir()).unwrap();
    let of = |label: u8| -> Vec<Vec<u8>> {
        (0..labels.len())
            .filter(|&i| labels[i] == label)
            .take(400)
            .map(|i| images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE].to_vec())
            .collect()
    };
    let mut sevens = of(7);
    sevens.iter_mut().for_each(|d| crossed(d));
    let (mut flags, mut feet) = (of(1), of(1));
    flags.iter_mut().for_each(|d| flagged(d, false));
    feet.iter_mut().for_each(|d| flagged(d, true));
    let read = [
        read_as(&model, &sevens, 7),
        read_as(&model, &flags, 1),
        read_as(&model, &feet, 1),
    ];
    // The default trained on them reads 97%, 99.5% and 99% of them; the one before, 93%, 46%
    // and 94%, and the first page-trained default 93%, 36% and 92%.
    assert!(
        read.iter().all(|&r| r >= 0.95),
        "crossed sevens, flagged ones, flagged ones with a foot read {read:?}"
    );
}

#[test]
fn issue13_the_default_model_reads_fours_closed_at_the_top() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Classifier::load(&root.join("../models/strided-pages-int8.onnx")).unwrap();
    let (images, labels) = edge::idx::test_set(&mnist_dir()).unwrap();
    let fours: Vec<Vec<u8>> = (0..labels.len())
        .filter(|&i| labels[i] == 4)
        .take(400)
        .filter_map(|i| closed(&images[i * SIDE * SIDE..(i + 1) * SIDE * SIDE]))
        .collect();
    assert!(
        fours.len() >= 250,
        "only {} of 400 fours closed",
        fours.len()
    );
    // 287 are closed; the default trained on closed fours reads 90% of them, the one before
    // 67%, and the same training without closed fours 67%.
    let read = read_as(&model, &fours, 4);
    assert!(read >= 0.85, "closed fours read {read}");
}

//! The shipped default reads the sevens and ones much of Europe and Asia writes (issue 13,
//! part 3): MNIST's own test sevens given a crossbar and its ones given a flag, with and
//! without a foot, drawn here with this test's own geometry (not `train`'s styles), in the
//! digit's own pen width and grey.

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

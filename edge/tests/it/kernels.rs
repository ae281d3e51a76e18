//! The reader runs a quantized model's convolutions on tract's float kernels, on the model's
//! own quantization grid (issue 13: its integer kernels read a page frame 16 times slower on
//! an AVX2 CPU): on the official MNIST test digits the two must read alike.

use std::path::Path;

use edge::infer::{Classifier, Kernels};

use crate::agree::mnist_dir;

fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b })
}

#[test]
fn issue13_the_default_model_reads_mnist_alike_on_float_and_integer_kernels() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("../models/strided-pages-int8.onnx");
    let float = Classifier::load_with(&model, Kernels::Float).unwrap();
    let integer = Classifier::load_with(&model, Kernels::Integer).unwrap();
    let (images, labels) = edge::idx::test_set(&mnist_dir()).unwrap();
    let n = 2000;
    let mut input = Vec::new();
    float.contract().normalise(&images[..n * 784], &mut input);
    let (a, b) = (
        float.logits(&input).unwrap(),
        integer.logits(&input).unwrap(),
    );
    let classes = a.len() / n;
    let (mut differ, mut right, mut largest) = (0, [0, 0], 0f32);
    for (i, (ra, rb)) in a.chunks(classes).zip(b.chunks(classes)).enumerate() {
        let (ca, cb) = (argmax(ra), argmax(rb));
        differ += usize::from(ca != cb);
        right[0] += usize::from(ca == usize::from(labels[i]));
        right[1] += usize::from(cb == usize::from(labels[i]));
        for (x, y) in ra.iter().zip(rb) {
            largest = largest.max((x - y).abs());
        }
    }
    // The first 2,000 test digits are read 98.9% right (99.31% of all 10,000).
    assert!(
        right[1] >= n * 98 / 100,
        "the integer kernels read {right:?} of {n}"
    );
    assert!(
        differ <= n / 1000,
        "{differ} of {n} digits read differently"
    );
    assert!(largest < 0.5, "logits differ by up to {largest}");
}

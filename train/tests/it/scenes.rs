//! `train scenes`: camera-like frames of MNIST test digits with truth the edge can be judged by.

use edge::infer::Classifier;
use edge::read::Reader;
use edge::scene::{SceneTruth, Score};

use crate::common::{mnist_dir, ok, train, workspace};

fn truths(dir: &std::path::Path) -> Vec<SceneTruth> {
    std::fs::read_to_string(dir.join("truth.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn issue4_scenes_are_reproducible_hold_their_truth_and_the_edge_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        ok(train()
            .args(["scenes", "--count", "6", "--split", "dev", "--data"])
            .arg(mnist_dir())
            .arg("--out")
            .arg(out));
    }
    let (ta, tb) = (truths(&a), truths(&b));
    assert_eq!(ta, tb, "same split and count must give the same scenes");
    assert_eq!(
        std::fs::read(a.join("scene-0003.jpg")).unwrap(),
        std::fs::read(b.join("scene-0003.jpg")).unwrap()
    );
    for t in &ta {
        let img = image::open(a.join(&t.file)).unwrap();
        assert_eq!((img.width(), img.height()), (640, 480));
        assert!(!t.digits.is_empty(), "{}: no digits", t.file);
        for d in &t.digits {
            assert!(
                d.bbox[0] + d.bbox[2] <= 640 && d.bbox[1] + d.bbox[3] <= 480,
                "{d:?}"
            );
            assert!(
                d.bbox[3] >= 20,
                "digits are written at least 20 px tall: {d:?}"
            );
        }
        let mut indices: Vec<usize> = t.numbers.iter().flatten().copied().collect();
        indices.sort_unstable();
        assert_eq!(
            indices,
            (0..t.digits.len()).collect::<Vec<_>>(),
            "every digit in exactly one number"
        );
    }
    // The other split draws other scenes.
    let c = dir.path().join("c");
    ok(train()
        .args(["scenes", "--count", "6", "--split", "test", "--data"])
        .arg(mnist_dir())
        .arg("--out")
        .arg(&c));
    assert_ne!(truths(&c), ta);
    // The shipped model reads them: a loose floor here, the figures are in the README.
    let reader = Reader::new(Classifier::load(&workspace().join("models/seed.onnx")).unwrap());
    let mut score = Score::default();
    for t in &ta {
        let frame = image::open(a.join(&t.file)).unwrap().to_luma8();
        let reading = reader.read(&frame).unwrap();
        score.add(t, &reading.digits, &reading.numbers);
    }
    assert!(score.recall() > 0.9 && score.precision() > 0.9, "{score:?}");
}

/// The labels of an IDX label file written by `train camera-digits`.
fn idx_labels(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()[8..].to_vec()
}

#[test]
fn issue13_the_page_harvest_keeps_touching_digits_as_pieces_and_pairs_as_not_digits() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(train()
        .args([
            "camera-digits",
            "--kind",
            "pages",
            "--scenes",
            "24",
            "--out",
        ])
        .arg(dir.path()));
    // "…: N digits kept of M written in 24 scenes (P of them cut from touching digits), and K marks…"
    let numbers: Vec<usize> = out
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let [kept, written, _, pieces, marks] = numbers[numbers.len() - 5..] else {
        panic!("{out}");
    };
    assert!(kept > written / 2 && pieces > 0 && marks > 0, "{out}");
    let labels = idx_labels(&dir.path().join("labels-idx1-ubyte"));
    assert_eq!(labels.len(), kept);
    assert!(labels.iter().all(|&l| l <= 9));
    let not_digits = std::fs::read(dir.path().join("not-digits-idx3-ubyte")).unwrap();
    assert_eq!(not_digits.len(), 16 + marks * 28 * 28);
}

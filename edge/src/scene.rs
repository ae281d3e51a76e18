//! Ground truth of camera-like scenes (written by `train scenes`, one JSON object per frame in
//! `truth.jsonl`) and the score of readings against it: digit recall (found and read right),
//! precision of the digits reported, and the rate of numbers read exactly.

use serde::{Deserialize, Serialize};

use crate::locate::Rect;
use crate::read::ReadDigit;

/// File in a scene folder that holds the ground truth, one line per frame.
pub const TRUTH_FILE: &str = "truth.jsonl";

/// One digit written in a scene.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TruthDigit {
    /// Its label.
    pub digit: String,
    /// `[x, y, w, h]` of its ink in frame pixels.
    pub bbox: [u32; 4],
}

/// The truth of one scene.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SceneTruth {
    /// Frame file name, relative to the folder.
    pub file: String,
    /// `dark` (ink on paper) or `light` (chalk on a board).
    pub ink: String,
    /// Every digit written.
    pub digits: Vec<TruthDigit>,
    /// Numbers in reading order, as indices into `digits` from left to right.
    pub numbers: Vec<Vec<usize>>,
    /// Boxes of marks that are not digits (scribbles, a pen).
    pub distractors: Vec<[u32; 4]>,
}

/// Least overlap (intersection over union) for a reported box to stand for a written digit.
pub const MATCH_IOU: f32 = 0.5;

/// Counts over a set of frames.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Score {
    /// Frames scored.
    pub frames: usize,
    /// Digits written.
    pub digits: usize,
    /// Written digits found and read right.
    pub read_right: usize,
    /// Written digits found (read right, wrong or as unknown).
    pub found: usize,
    /// Digits reported with a label.
    pub reported: usize,
    /// Reported digits that match a written digit with the same label.
    pub reported_right: usize,
    /// Numbers written.
    pub numbers: usize,
    /// Numbers read exactly: the same digits, in one reported number, read right.
    pub numbers_exact: usize,
    /// Marks that are not digits (scribbles).
    pub marks: usize,
    /// Marks on which a digit was reported (not rejected).
    pub marks_read: usize,
}

impl Score {
    /// Written digits found and read right, over all written.
    pub fn recall(&self) -> f64 {
        ratio(self.read_right, self.digits)
    }
    /// Reported digits that are right, over all reported with a label.
    pub fn precision(&self) -> f64 {
        ratio(self.reported_right, self.reported)
    }
    /// Numbers read exactly, over all written.
    pub fn number_rate(&self) -> f64 {
        ratio(self.numbers_exact, self.numbers)
    }
    /// Marks that are not digits and were not reported as digits, over all such marks.
    pub fn rejection(&self) -> f64 {
        1.0 - ratio(self.marks_read, self.marks)
    }

    /// Adds one frame: `digits` and `numbers` as [`crate::read::Reading`] holds them.
    pub fn add(&mut self, truth: &SceneTruth, digits: &[ReadDigit], numbers: &[Vec<usize>]) {
        self.frames += 1;
        self.digits += truth.digits.len();
        self.numbers += truth.numbers.len();
        let rects: Vec<Rect> = digits.iter().map(|d| d.rect).collect();
        let of_truth = match_digits(truth, &rects);
        let right = |t: usize| {
            of_truth[t]
                .filter(|&r| digits[r].label.as_deref() == Some(truth.digits[t].digit.as_str()))
        };
        self.found += of_truth.iter().flatten().count();
        self.read_right += (0..truth.digits.len())
            .filter(|&t| right(t).is_some())
            .count();
        self.reported += digits.iter().filter(|d| d.label.is_some()).count();
        self.marks += truth.distractors.len();
        self.marks_read += truth
            .distractors
            .iter()
            .filter(|&&b| {
                digits
                    .iter()
                    .any(|d| d.label.is_some() && rect(b).iou(d.rect) >= 0.25)
            })
            .count();
        self.reported_right += (0..truth.digits.len())
            .filter(|&t| right(t).is_some())
            .count();
        for number in &truth.numbers {
            let read: Option<Vec<usize>> = number.iter().map(|&t| right(t)).collect();
            if read.is_some_and(|read| numbers.contains(&read)) {
                self.numbers_exact += 1;
            }
        }
    }
}

/// For each written digit of `truth`, the index of the found box standing for it: greedy by
/// overlap (IoU ≥ [`MATCH_IOU`]), best pairs first, each box used once, so two written digits
/// merged into one box are not both counted as found.
pub fn match_digits(truth: &SceneTruth, found: &[Rect]) -> Vec<Option<usize>> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (t, td) in truth.digits.iter().enumerate() {
        let tr = rect(td.bbox);
        for (r, fr) in found.iter().enumerate() {
            let iou = tr.iou(*fr);
            if iou >= MATCH_IOU {
                pairs.push((iou, t, r));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut of_truth = vec![None; truth.digits.len()];
    let mut used = vec![false; found.len()];
    for (_, t, r) in pairs {
        if of_truth[t].is_none() && !used[r] {
            of_truth[t] = Some(r);
            used[r] = true;
        }
    }
    of_truth
}

/// One line per written digit not read right: its label and box, and the reading that overlaps it most.
pub fn mistakes(truth: &SceneTruth, digits: &[ReadDigit]) -> Vec<String> {
    let mut out = Vec::new();
    for td in &truth.digits {
        let tr = rect(td.bbox);
        let best = digits
            .iter()
            .map(|d| (tr.iou(d.rect), d))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let ok = best.is_some_and(|(iou, d)| {
            iou >= MATCH_IOU && d.label.as_deref() == Some(td.digit.as_str())
        });
        if !ok {
            let seen = match best {
                Some((iou, d)) if iou > 0.0 => format!(
                    "read {} ({:.2}) at {:?}, IoU {iou:.2}",
                    d.label.as_deref().unwrap_or("?"),
                    d.confidence,
                    [d.rect.x, d.rect.y, d.rect.w, d.rect.h]
                ),
                _ => "not found".to_string(),
            };
            out.push(format!(
                "{}: {} at {:?}: {seen}",
                truth.file, td.digit, td.bbox
            ));
        }
    }
    for d in digits.iter().filter(|d| d.label.is_some()) {
        if !truth
            .digits
            .iter()
            .any(|t| rect(t.bbox).iou(d.rect) >= MATCH_IOU)
        {
            let on_mark = truth.distractors.iter().any(|b| rect(*b).iou(d.rect) > 0.0);
            out.push(format!(
                "{}: reported {} ({:.2}) at {:?} where no digit is written{}",
                truth.file,
                d.label.as_deref().unwrap_or("?"),
                d.confidence,
                [d.rect.x, d.rect.y, d.rect.w, d.rect.h],
                if on_mark { " (on a scribble)" } else { "" }
            ));
        }
    }
    out
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

fn rect(b: [u32; 4]) -> Rect {
    Rect {
        x: b[0],
        y: b[1],
        w: b[2],
        h: b[3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(label: Option<&str>, bbox: [u32; 4]) -> ReadDigit {
        ReadDigit {
            label: label.map(str::to_string),
            confidence: 0.9,
            rect: rect(bbox),
        }
    }

    #[test]
    fn scores_recall_precision_and_exact_numbers() {
        let truth = SceneTruth {
            file: "a.jpg".into(),
            ink: "dark".into(),
            digits: vec![
                TruthDigit {
                    digit: "4".into(),
                    bbox: [10, 10, 20, 30],
                },
                TruthDigit {
                    digit: "2".into(),
                    bbox: [35, 10, 20, 30],
                },
                TruthDigit {
                    digit: "7".into(),
                    bbox: [100, 10, 20, 30],
                },
            ],
            numbers: vec![vec![0, 1], vec![2]],
            distractors: vec![],
        };
        let read = vec![
            digit(Some("4"), [11, 10, 19, 30]),
            digit(Some("2"), [35, 11, 20, 29]),
            digit(Some("1"), [100, 10, 20, 30]),
            digit(Some("0"), [200, 10, 20, 30]),
            digit(None, [300, 10, 20, 30]),
        ];
        let mut s = Score::default();
        s.add(&truth, &read, &[vec![0, 1], vec![2], vec![3]]);
        assert_eq!((s.read_right, s.found, s.digits), (2, 3, 3));
        assert_eq!((s.reported_right, s.reported), (2, 4));
        assert_eq!((s.numbers_exact, s.numbers), (1, 2));
        // The same digits split into two numbers do not make the number exact.
        let mut split = Score::default();
        split.add(&truth, &read, &[vec![0], vec![1], vec![2]]);
        assert_eq!(split.numbers_exact, 0);
    }
}

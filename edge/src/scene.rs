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
    /// Its ink touches or overlaps a neighbour's (pages only; absent means apart).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub touching: bool,
}

/// What a page is made of (`train scenes --kind pages|sketch`): the factors `edge eval`
/// breaks its figures down by. Absent for the older table scenes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct PageFactors {
    /// The renderer that drew it (`pages` or `sketch`).
    pub style: String,
    /// Paper: `plain`, `ruled`, `margin` (ruled with a margin line), `squared` or `dotted`.
    pub paper: String,
    /// Pen: `ballpoint`, `gel`, `felt`, `marker` or `pencil`.
    pub pen: String,
    /// Lines of writing on the page.
    pub lines: u32,
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
    /// The page's factors, for pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PageFactors>,
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
        let o = Outcome::of(truth, digits, numbers);
        self.add_outcome(truth, &o, |_| true, |_| true);
        self.reported += o.unmatched_reports;
        self.marks += truth.distractors.len();
        self.marks_read += o.marks_read;
    }

    /// Adds the written digits and numbers of one frame that `digit` and `number` keep, and the
    /// reports matched to those digits.
    fn add_outcome(
        &mut self,
        truth: &SceneTruth,
        o: &Outcome,
        digit: impl Fn(usize) -> bool,
        number: impl Fn(&[usize]) -> bool,
    ) {
        self.frames += 1;
        for t in (0..truth.digits.len()).filter(|&t| digit(t)) {
            self.digits += 1;
            self.found += usize::from(o.found[t]);
            self.read_right += usize::from(o.right[t]);
            self.reported += usize::from(o.reported[t]);
            self.reported_right += usize::from(o.right[t]);
        }
        for (k, n) in truth.numbers.iter().enumerate() {
            if number(n) {
                self.numbers += 1;
                self.numbers_exact += usize::from(o.exact[k]);
            }
        }
    }
}

/// What became of each written digit and number of one frame.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Each written digit has a box standing for it.
    pub found: Vec<bool>,
    /// … and that box was read as its label.
    pub right: Vec<bool>,
    /// … and that box was reported with a label (right or wrong).
    pub reported: Vec<bool>,
    /// Each written number was read exactly.
    pub exact: Vec<bool>,
    /// Digits reported with a label where no digit is written.
    pub unmatched_reports: usize,
    /// Marks that are not digits on which a digit was reported.
    pub marks_read: usize,
}

impl Outcome {
    /// Matches the readings of one frame to its truth (see [`match_digits`]).
    pub fn of(truth: &SceneTruth, digits: &[ReadDigit], numbers: &[Vec<usize>]) -> Outcome {
        let rects: Vec<Rect> = digits.iter().map(|d| d.rect).collect();
        let of_truth = match_digits(truth, &rects);
        let right_box = |t: usize| {
            of_truth[t]
                .filter(|&r| digits[r].label.as_deref() == Some(truth.digits[t].digit.as_str()))
        };
        let matched: Vec<usize> = of_truth.iter().flatten().copied().collect();
        let exact = truth
            .numbers
            .iter()
            .map(|number| {
                let read: Option<Vec<usize>> = number.iter().map(|&t| right_box(t)).collect();
                read.is_some_and(|read| numbers.contains(&read))
            })
            .collect();
        Outcome {
            found: of_truth.iter().map(Option::is_some).collect(),
            right: (0..truth.digits.len())
                .map(|t| right_box(t).is_some())
                .collect(),
            reported: of_truth
                .iter()
                .map(|r| r.is_some_and(|r| digits[r].label.is_some()))
                .collect(),
            exact,
            unmatched_reports: (0..digits.len())
                .filter(|r| digits[*r].label.is_some() && !matched.contains(r))
                .count(),
            marks_read: truth
                .distractors
                .iter()
                .filter(|&&b| {
                    digits
                        .iter()
                        .any(|d| d.label.is_some() && rect(b).iou(d.rect) >= 0.25)
                })
                .count(),
        }
    }
}

/// Heights of written digits, in frame pixels, that [`Breakdown`] reports apart.
pub const HEIGHT_BUCKETS: [(u32, u32); 5] = [(0, 30), (30, 40), (40, 60), (60, 90), (90, u32::MAX)];

/// Figures per factor of the pages: paper, pen and style per frame; digit height and
/// touching per digit (a number counts as touching when any of its digits does, and by its
/// tallest digit's height). Reports where no digit is written count against the frame's
/// factors only, since they have no digit height or neighbour.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Breakdown {
    /// `factor=value` → its score, in a fixed order.
    pub rows: std::collections::BTreeMap<String, Score>,
}

impl Breakdown {
    /// Adds one frame's outcome.
    pub fn add(&mut self, truth: &SceneTruth, o: &Outcome) {
        if truth.digits.is_empty() && o.unmatched_reports == 0 {
            return;
        }
        let mut frame_keys = Vec::new();
        if let Some(p) = &truth.page {
            frame_keys.push(format!("style={}", p.style));
            frame_keys.push(format!("paper={}", p.paper));
            frame_keys.push(format!("pen={}", p.pen));
            frame_keys.push(format!("lines={}", p.lines));
        }
        for key in frame_keys {
            let s = self.rows.entry(key).or_default();
            s.add_outcome(truth, o, |_| true, |_| true);
            s.reported += o.unmatched_reports;
        }
        let height = |t: usize| truth.digits[t].bbox[3];
        for (lo, hi) in HEIGHT_BUCKETS {
            let name = if hi == u32::MAX {
                format!("height={lo}+")
            } else {
                format!("height={lo:02}-{}", hi - 1)
            };
            let inside = |h: u32| (lo..hi).contains(&h);
            if truth.digits.iter().any(|d| inside(d.bbox[3])) {
                self.rows.entry(name).or_default().add_outcome(
                    truth,
                    o,
                    |t| inside(height(t)),
                    |n| inside(n.iter().map(|&t| height(t)).max().unwrap_or(0)),
                );
            }
        }
        for (name, want) in [("touching=yes", true), ("touching=no", false)] {
            let touching = |t: usize| truth.digits[t].touching;
            if truth.digits.iter().any(|d| d.touching == want) {
                self.rows.entry(name.into()).or_default().add_outcome(
                    truth,
                    o,
                    |t| touching(t) == want,
                    |n| n.iter().any(|&t| touching(t)) == want,
                );
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
                    touching: false,
                },
                TruthDigit {
                    digit: "2".into(),
                    bbox: [35, 10, 20, 30],
                    touching: false,
                },
                TruthDigit {
                    digit: "7".into(),
                    bbox: [100, 10, 20, 30],
                    touching: false,
                },
            ],
            numbers: vec![vec![0, 1], vec![2]],
            distractors: vec![],
            page: None,
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

    #[test]
    fn the_breakdown_counts_each_digit_under_its_own_height_and_touching() {
        let truth = SceneTruth {
            file: "p.jpg".into(),
            ink: "dark".into(),
            digits: vec![
                TruthDigit {
                    digit: "1".into(),
                    bbox: [10, 10, 10, 20],
                    touching: true,
                },
                TruthDigit {
                    digit: "2".into(),
                    bbox: [20, 10, 10, 20],
                    touching: true,
                },
                TruthDigit {
                    digit: "3".into(),
                    bbox: [100, 10, 40, 70],
                    touching: false,
                },
            ],
            numbers: vec![vec![0, 1], vec![2]],
            distractors: vec![],
            page: Some(PageFactors {
                style: "pages".into(),
                paper: "ruled".into(),
                pen: "pencil".into(),
                lines: 1,
            }),
        };
        // The touching pair read as one unknown blob; the tall 3 read right; a false report.
        let read = vec![
            digit(None, [10, 10, 20, 20]),
            digit(Some("3"), [100, 10, 40, 70]),
            digit(Some("7"), [300, 10, 20, 20]),
        ];
        let numbers = [vec![0], vec![1], vec![2]];
        let o = Outcome::of(&truth, &read, &numbers);
        let mut b = Breakdown::default();
        b.add(&truth, &o);
        let row = |k: &str| b.rows.get(k).cloned().unwrap_or_default();
        assert_eq!(
            (row("touching=yes").digits, row("touching=yes").read_right),
            (2, 0)
        );
        assert_eq!(
            (row("touching=no").digits, row("touching=no").read_right),
            (1, 1)
        );
        assert_eq!(
            (row("height=00-29").digits, row("height=60-89").read_right),
            (2, 1)
        );
        assert_eq!(row("height=60-89").numbers_exact, 1);
        // The false report counts against the page's factors, not against a digit height.
        assert_eq!(
            (row("pen=pencil").reported, row("pen=pencil").reported_right),
            (2, 1)
        );
        assert_eq!(row("height=60-89").reported, 1);
        let mut whole = Score::default();
        whole.add(&truth, &read, &numbers);
        assert_eq!(row("paper=ruled"), Score { marks: 0, ..whole });
    }
}

//! What is written where on a page, shared by both renderers: the paper's kind and rulings,
//! the pen, and each digit's place (page pixels), drawn at random per page. Writing follows
//! the paper as people write on it: on the rules of ruled paper, a digit one or two squares
//! tall on squared paper, right of a margin line.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Camera;
use crate::data::mnist::{Digits, SIDE};

/// The kind of paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaperKind {
    /// No rulings.
    Plain,
    /// Horizontal rules.
    Ruled,
    /// Horizontal rules and a vertical margin line.
    Margin,
    /// A square grid.
    Squared,
    /// A grid of dots.
    Dotted,
}

/// The paper: its tone, and its rulings' geometry and contrast.
#[derive(Clone, Copy, Debug)]
pub struct Paper {
    /// Kind of rulings.
    pub kind: PaperKind,
    /// Grey level of the paper under even light (white, cream or recycled grey).
    pub tone: f32,
    /// Distance between rules, grid lines or dots, in page pixels (set by the layout).
    pub pitch: f32,
    /// Position of the first rule or grid line, in page pixels.
    pub offset: f32,
    /// Contrast of the rules or grid (1 − line/paper).
    pub contrast: f32,
    /// Width of a rule or grid line, in page pixels.
    pub line_width: f32,
    /// Column of the margin line, in page pixels, and its contrast.
    pub margin: (f32, f32),
}

impl Paper {
    /// A paper drawn at random (pitch and offset follow from the writing, in [`Layout::plan`]).
    pub fn draw(rng: &mut ChaCha8Rng) -> Paper {
        let kind = match rng.random_range(0..10) {
            0..=2 => PaperKind::Plain,
            3..=4 => PaperKind::Ruled,
            5 => PaperKind::Margin,
            6..=8 => PaperKind::Squared,
            _ => PaperKind::Dotted,
        };
        let tone = match rng.random_range(0..3) {
            0 => rng.random_range(228.0..250.0f32),
            1 => rng.random_range(212.0..236.0),
            _ => rng.random_range(172.0..206.0),
        };
        Paper {
            kind,
            tone,
            pitch: 0.0,
            offset: 0.0,
            contrast: match kind {
                PaperKind::Dotted => rng.random_range(0.15..0.4f32),
                _ => rng.random_range(0.07..0.3),
            },
            line_width: rng.random_range(0.8..2.2f32),
            margin: (0.0, rng.random_range(0.12..0.35f32)),
        }
    }

    /// The name written into the truth.
    pub fn name(&self) -> &'static str {
        match self.kind {
            PaperKind::Plain => "plain",
            PaperKind::Ruled => "ruled",
            PaperKind::Margin => "margin",
            PaperKind::Squared => "squared",
            PaperKind::Dotted => "dotted",
        }
    }
}

/// The kind of pen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PenKind {
    /// Thin, fairly dark strokes.
    Ballpoint,
    /// Medium, dark.
    Gel,
    /// Thick, dark.
    Felt,
    /// Thicker still.
    Marker,
    /// Faint grey and uneven.
    Pencil,
}

/// A pen: stroke width as a fraction of the digit's height, and contrast against the paper.
#[derive(Clone, Copy, Debug)]
pub struct Pen {
    /// Kind of pen.
    pub kind: PenKind,
    /// Stroke width over digit height.
    pub width: f32,
    /// Contrast of full ink: 1 − ink/paper.
    pub contrast: f32,
}

impl Pen {
    /// A pen drawn at random.
    pub fn draw(rng: &mut ChaCha8Rng) -> Pen {
        let (kind, width, contrast) = match rng.random_range(0..5) {
            0 => (PenKind::Ballpoint, 0.05..0.08f32, 0.5..0.85f32),
            1 => (PenKind::Gel, 0.07..0.10, 0.7..0.92),
            2 => (PenKind::Felt, 0.10..0.14, 0.7..0.92),
            3 => (PenKind::Marker, 0.14..0.20, 0.75..0.95),
            // Graphite is 0.15–0.35 darker than the paper on average; the renderers' grain
            // takes about 40% off full pressure, so full pressure is drawn that much above.
            _ => (PenKind::Pencil, 0.05..0.09, 0.22..0.5),
        };
        Pen {
            kind,
            width: rng.random_range(width),
            contrast: rng.random_range(contrast),
        }
    }

    /// The name written into the truth.
    pub fn name(&self) -> &'static str {
        match self.kind {
            PenKind::Ballpoint => "ballpoint",
            PenKind::Gel => "gel",
            PenKind::Felt => "felt",
            PenKind::Marker => "marker",
            PenKind::Pencil => "pencil",
        }
    }
}

/// One digit to write: which MNIST image, and where (page pixels). The tight crop of its ink
/// fills `w × h` at the top-left `(x, y)`, sheared so its top lies `slant · h` right of its
/// bottom.
#[derive(Clone, Debug)]
pub struct Planned {
    /// MNIST image index.
    pub idx: usize,
    /// Its label.
    pub label: u8,
    /// Left of the unsheared box.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// Shear: horizontal shift of the top over the bottom, per unit of height.
    pub slant: f32,
}

impl Planned {
    /// The page box the sheared digit covers: `[x0, y0, x1, y1]`.
    pub fn extent(&self) -> [f32; 4] {
        let s = self.slant * self.h;
        [
            self.x + s.min(0.0),
            self.y,
            self.x + self.w + s.max(0.0),
            self.y + self.h,
        ]
    }
}

/// The writing of one page.
pub struct Layout {
    /// The paper, its pitch and offset set to the writing.
    pub paper: Paper,
    /// Every digit written, number after number.
    pub digits: Vec<Planned>,
    /// Numbers as indices into `digits`, left to right, in reading order.
    pub numbers: Vec<Vec<usize>>,
    /// Lines of writing that hold at least one number.
    pub lines: u32,
}

/// The tight crop of an MNIST digit's ink: `(pixels, width, height)`, row-major.
pub fn tight(pixels: &[u8]) -> (Vec<u8>, usize, usize) {
    let (mut x0, mut y0, mut x1, mut y1) = (SIDE, SIDE, 0, 0);
    for (i, &v) in pixels.iter().enumerate() {
        if v > 0 {
            let (x, y) = (i % SIDE, i / SIDE);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if x1 < x0 {
        return (vec![0], 1, 1);
    }
    let (w, h) = (x1 + 1 - x0, y1 + 1 - y0);
    let crop = (0..w * h)
        .map(|i| pixels[(i / w + y0) * SIDE + i % w + x0])
        .collect();
    (crop, w, h)
}

impl Layout {
    /// Plans the writing: 1–4 lines, 1–4 numbers a line, 1–6 digits a number, one writer's
    /// height (18–120 frame pixels, log-uniform) for the page, spacing per number from
    /// overlapping to wide, baseline drift and slant. Numbers with any digit outside the frame
    /// (or within 4 pixels of its edge) are not written.
    pub fn plan(
        digits: &Digits,
        range: std::ops::Range<usize>,
        camera: &Camera,
        mut paper: Paper,
        rng: &mut ChaCha8Rng,
    ) -> Layout {
        let frame_h = (rng.random_range(18f32.ln()..120f32.ln())).exp();
        let height = frame_h / camera.zoom;
        let (pw, ph) = (camera.page_w as f32, camera.page_h as f32);
        // Line pitch: rules are about 1.3–2 digit heights apart; on a grid a digit takes one
        // or two squares and a line of writing a whole number of squares.
        let pitch = match paper.kind {
            PaperKind::Squared | PaperKind::Dotted => {
                paper.pitch = height / rng.random_range(0.9..2.1f32);
                paper.pitch * (1.25 * height / paper.pitch).ceil().max(1.0)
            }
            PaperKind::Ruled | PaperKind::Margin => {
                paper.pitch = height * rng.random_range(1.25..2.0f32);
                paper.pitch
            }
            PaperKind::Plain => height * rng.random_range(1.2..2.1f32),
        };
        paper.offset = rng.random_range(0.0..paper.pitch.max(1.0));
        paper.margin.0 = pw * rng.random_range(0.1..0.2f32);
        let lines_wanted = rng.random_range(1..=4u32);
        let slant = rng.random_range(-0.3..0.3f32);
        // The block of writing sits around the middle of the page, so the camera sees it.
        let block = pitch * lines_wanted as f32;
        let mut baseline = ph / 2.0 - block / 2.0 + height + rng.random_range(-0.1..0.1) * ph;
        if paper.pitch > 0.0 && paper.kind != PaperKind::Plain {
            // Write on a rule (or grid line): snap the baseline to the nearest one.
            let k = ((baseline - paper.offset) / paper.pitch).round();
            baseline = paper.offset + k * paper.pitch;
        }
        let left = if paper.kind == PaperKind::Margin {
            paper.margin.0 + rng.random_range(0.3..1.0) * height
        } else {
            pw * rng.random_range(0.08..0.2f32)
        };
        let mut layout = Layout {
            paper,
            digits: Vec::new(),
            numbers: Vec::new(),
            lines: 0,
        };
        for _ in 0..lines_wanted {
            let drift = rng.random_range(-0.04..0.04f32);
            let mut x = left + rng.random_range(0.0..1.5) * height;
            let mut wrote = false;
            for _ in 0..rng.random_range(1..=4) {
                let count = rng.random_range(1..=6);
                // Spacing of this number's digits, as a fraction of their height.
                let gap = match rng.random_range(0..20) {
                    0..=4 => -0.14..-0.03f32,
                    5..=9 => -0.03..0.03,
                    10..=14 => 0.03..0.15,
                    _ => 0.15..0.45,
                };
                let mut planned = Vec::with_capacity(count);
                let mut nx = x;
                for _ in 0..count {
                    let idx = rng.random_range(range.clone());
                    let (_, cw, ch) = tight(digits.image(idx));
                    let h = height * rng.random_range(0.88..1.12);
                    let w = cw as f32 * h / ch as f32;
                    let base = baseline + drift * (nx - left) + rng.random_range(-0.06..0.06) * h;
                    let d = Planned {
                        idx,
                        label: digits.labels[idx],
                        x: nx,
                        y: base - h,
                        w,
                        h,
                        slant: slant + rng.random_range(-0.06..0.06),
                    };
                    let e = d.extent();
                    nx = e[2] + rng.random_range(gap.clone()) * h;
                    planned.push(d);
                }
                x = nx + rng.random_range(0.9..2.2) * height;
                if nx > pw {
                    break;
                }
                let visible = planned.iter().all(|d| {
                    let e = d.extent();
                    let corners = [(e[0], e[1]), (e[2], e[1]), (e[0], e[3]), (e[2], e[3])];
                    e[0] >= 0.0
                        && e[1] >= 0.0
                        && e[2] < pw - 1.0
                        && e[3] < ph - 1.0
                        && camera.frame_box(&corners, 4.0).is_some()
                });
                if !visible {
                    continue;
                }
                let start = layout.digits.len();
                layout.digits.extend(planned);
                layout.numbers.push((start..layout.digits.len()).collect());
                wrote = true;
            }
            layout.lines += u32::from(wrote);
            baseline += pitch;
        }
        layout
    }
}

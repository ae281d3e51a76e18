//! Touching digits: quick handwriting joins neighbouring digits, and a thick pen joins more of
//! them, so one blob may hold two to four digits. Candidate segmentations cut the blob where
//! its ink is thinnest across the writing direction (minima of the column profile of its own
//! ink), along the writing's slant (three shears, since people slant their digits both ways),
//! each cut both straight and bent around the strokes of digits that lean over each other
//! ([`course`]); the reader classifies every candidate piece in the frame's one batch and keeps the
//! segmentation whose weakest piece the model is surest of ([`choose`]), and a piece the model
//! does not take for a digit makes its segmentation fail. A run of digits that no cut parts
//! wholly is taken in part ([`choose_in_part`]): its pieces read without ambiguity are
//! reported, the others as unknown.

use crate::locate::{ink_runs, Blob, Located, Rect};
use crate::normalise::Cut;

/// Width over height from which a blob may hold two digits: a single digit's ink is rarely
/// wider than 0.55 of its height once it is written upright (a "0" or a "4" come nearest),
/// while two touching digits are wider.
pub const TWO_DIGITS: f32 = 0.55;

/// Width over height that each further digit adds.
const PER_DIGIT: f32 = 0.45;

/// Slants tried for the cuts (horizontal shift per row).
const SLANTS: [f32; 3] = [-0.25, 0.0, 0.25];

/// Each piece must span this fraction of a digit's height (the blob's, or the writing's typical
/// digit where the blob is taller): every digit spans most of the line's height, so a cut that
/// leaves a short piece has cut a stroke off, not a digit.
const PIECE_HEIGHT: f32 = 0.7;

/// Candidate segmentations of one blob: the distinct pieces, and each segmentation as the
/// indices of its pieces from left to right (a piece shared by several is classified once).
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// Every distinct piece.
    pub pieces: Vec<Cut>,
    /// Segmentations, as indices into `pieces`.
    pub segmentations: Vec<Vec<usize>>,
}

/// Cut positions tried per slant: the deepest local minima of the column profile. Numbers
/// written quickly run five or six digits together, and a narrow "1" between two wide digits
/// leaves a shallow valley, so the five deepest are tried.
const CUTS: usize = 5;

/// Most pieces one blob is cut into: a blob of up to [`crate::locate::WIDEST`] times its height
/// holds up to four wide digits, or six when some are ones.
const MOST: usize = 6;

/// Candidate segmentations of `blob` into 2–`MOST` pieces, cut near the deepest minima of its
/// column profile anywhere but its outer eighths (a "1" beside an "8" is cut at a third of
/// the width, not the half); none for a blob too narrow to hold two digits or not of the
/// frame's digit height (`typical`, the median height of its digits, see [`LINE_HEIGHT`];
/// taller by [`RISE`] along its width). Each cut runs down the blob along the course that
/// crosses the least ink ([`course`]).
pub fn candidates(found: &Located, blob: &Blob, typical: f32) -> Candidates {
    let mut out = Candidates::default();
    let r = blob.rect;
    let aspect = r.w as f32 / r.h.max(1) as f32;
    let h = r.h as f32;
    let tallest = LINE_HEIGHT.1 * typical + RISE * r.w as f32;
    if aspect < TWO_DIGITS || r.h < 8 || h < LINE_HEIGHT.0 * typical || h > tallest {
        return out;
    }
    let most = (2.0 + ((aspect - TWO_DIGITS) / PER_DIGIT).floor()).clamp(2.0, MOST as f32) as usize;
    // The blob's own ink on the finder's map: a mask over its box, and its pixels.
    let scale = found.scale.max(1);
    let px = scale as f32;
    let MapBox { hx0, hy0, hx1, hy1 } = MapBox::of(found, r);
    let (mask, mw) = blob_mask(found, blob);
    let mh = mask.len() / mw.max(1);
    let ink: Vec<(u32, u32)> = (0..mask.len())
        .filter(|&i| mask[i])
        .map(|i| ((i % mw) as u32, (i / mw) as u32))
        .collect();
    // Too little ink to hold two digits: 12 half-resolution pixels.
    if ink.len() * ((scale * scale) as usize) < 48 {
        return out;
    }
    let map = MapBox { hx0, hy0, hx1, hy1 };
    let y_mid = r.y as f32 + r.h as f32 / 2.0;
    // A digit's height: the blob's, or the writing's where the blob is taller (digits run
    // together along a drifting baseline stand at different heights).
    let digit_h = h.min(typical.max(1.0));
    let band = ((BEND * digit_h / px).round() as i32).max(1);
    // Running through ink costs by the stroke's width: crossing one stroke costs the same
    // whatever the pen.
    let per_pixel = INK / stroke_width(&mask, mw);
    // The ink each distinct piece holds, to classify a piece reached by several cuts once.
    let mut held: Vec<Vec<u32>> = Vec::new();
    for slant in SLANTS {
        // Frame x of each ink pixel's centre, sheared along the slant.
        let at = |(x, y): (u32, u32)| {
            px * ((hx0 + x) as f32 + 0.5) - slant * (px * ((hy0 + y) as f32 + 0.5) - y_mid)
        };
        let sheared: Vec<f32> = ink.iter().map(|&p| at(p)).collect();
        let lo = sheared.iter().copied().fold(f32::MAX, f32::min) - 1.0;
        let hi = sheared.iter().copied().fold(f32::MIN, f32::max) + 1.0;
        // Column profile in bins of two frame pixels (one half-resolution column), smoothed.
        let bins = (((hi - lo) / 2.0).ceil() as usize).max(1);
        let mut profile = vec![0f32; bins];
        for &s in &sheared {
            profile[(((s - lo) / 2.0) as usize).min(bins - 1)] += 1.0;
        }
        let at = |j: isize| profile.get(j as usize).copied().unwrap_or(0.0);
        let smooth: Vec<f32> = (0..bins as isize)
            .map(|i| at(i - 1) + 2.0 * at(i) + at(i + 1))
            .collect();
        let (first, last) = (bins / 8 + 1, bins - bins / 8 - 1);
        let mut minima: Vec<usize> = (first.max(1)..last.min(bins - 1))
            .filter(|&i| smooth[i] <= smooth[i - 1] && smooth[i] <= smooth[i + 1])
            .collect();
        minima.sort_by(|&a, &b| smooth[a].total_cmp(&smooth[b]));
        // Neighbouring bins of one valley are one cut.
        let mut cuts: Vec<usize> = Vec::new();
        for m in minima {
            if cuts.len() < CUTS && cuts.iter().all(|&c| c.abs_diff(m) > 1) {
                cuts.push(m);
            }
        }
        // Where digits overlap, their ink fills the columns between them and the profile has
        // no valley there, but the outline does: the gap between their tops, or bottoms.
        for valley in outline_valleys(&sheared, &ink, lo, bins, mh, first.max(1)..last) {
            if cuts.iter().all(|&c| c.abs_diff(valley) > 1) {
                cuts.push(valley);
            }
        }
        cuts.sort_unstable();
        // Each cut's course: the sheared line through the valley, and that line bent around
        // the strokes.
        let lines: Vec<_> = cuts
            .iter()
            .map(|&c| {
                let s = lo + 2.0 * c as f32 + 1.0;
                move |y: usize| {
                    let fy = px * ((hy0 as usize + y) as f32 + 0.5);
                    (s + slant * (fy - y_mid)) / px - 0.5 - hx0 as f32
                }
            })
            .collect();
        let bent: Vec<Vec<u32>> = lines
            .iter()
            .map(|line| course(&mask, mw, line, band, per_pixel))
            .collect();
        // The straight cut too: on small digits the map is too coarse for a course to find
        // its way between two strokes, and there the straight cut parts them.
        let straight: Vec<Vec<u32>> = lines
            .iter()
            .map(|line| (0..mh).map(|y| line(y).ceil().max(0.0) as u32).collect())
            .collect();
        let kinds = [straight, bent];
        for courses in &kinds {
            let n = cuts.len();
            for chosen in 1u32..(1 << n) {
                let chosen: Vec<&Vec<u32>> = (0..n)
                    .filter(|&i| chosen & (1 << i) != 0)
                    .map(|i| &courses[i])
                    .collect();
                if chosen.len() + 1 > most {
                    continue;
                }
                let Some(pieces) = pieces(&ink, &chosen, &map, r, digit_h, px) else {
                    continue;
                };
                let indices: Vec<usize> = pieces
                    .into_iter()
                    .map(|(cut, ours)| match held.iter().position(|q| *q == ours) {
                        Some(i) => i,
                        None => {
                            out.pieces.push(cut);
                            held.push(ours);
                            out.pieces.len() - 1
                        }
                    })
                    .collect();
                if !out.segmentations.contains(&indices) {
                    out.segmentations.push(indices);
                }
            }
        }
    }
    out
}

/// Depth, as a share of the blob's height, from which a valley of its upper or lower outline
/// is the gap between two digits' tops or bottoms ([`outline_valleys`]); a digit's own outline
/// dips less (the notch of a "3", the top of a "4" between its strokes).
const OUTLINE_DEPTH: f32 = 1.0 / 3.0;

/// The deepest valley of the blob's upper outline and of its lower outline, in the column
/// profile's bins (`sheared` the sheared frame x of each `ink` pixel, bin 0 at `lo`, `bins`
/// bins of two frame pixels, the mask `mh` rows tall), within `inner` and at least
/// [`OUTLINE_DEPTH`] of the blob's height from its top or bottom: two digits written
/// overlapping leave no valley in the column profile, but their outlines part between them.
fn outline_valleys(
    sheared: &[f32],
    ink: &[(u32, u32)],
    lo: f32,
    bins: usize,
    mh: usize,
    inner: std::ops::Range<usize>,
) -> Vec<usize> {
    // Rows of ink from the top and from the bottom, per bin (the blob's height where empty).
    let mut from_top = vec![mh as f32; bins];
    let mut from_bottom = vec![mh as f32; bins];
    for (&s, &(_, y)) in sheared.iter().zip(ink) {
        let b = (((s - lo) / 2.0) as usize).min(bins - 1);
        from_top[b] = from_top[b].min(y as f32);
        from_bottom[b] = from_bottom[b].min((mh as f32 - 1.0 - y as f32).max(0.0));
    }
    let least = OUTLINE_DEPTH * mh as f32;
    [from_top, from_bottom]
        .iter()
        .filter_map(|depth| {
            inner
                .clone()
                .filter(|&i| i >= 1 && i + 1 < bins)
                .filter(|&i| depth[i] >= depth[i - 1] && depth[i] >= depth[i + 1])
                .filter(|&i| depth[i] >= least && depth[i] < mh as f32)
                .max_by(|&a, &b| depth[a].total_cmp(&depth[b]))
        })
        .collect()
}

/// How far a cut's course may bend from its straight line, as a fraction of the digit's
/// height: neighbouring digits lean over each other (a "7"'s bar over the next digit, the
/// tail of a "2" under it) by up to about a third of a digit.
const BEND: f32 = 0.3;

/// A course's cost for each stroke it enters ([`ENTER`]) and each ink pixel it runs through
/// ([`INK`]); bending costs [`BENT`] per row at the edge of its band and [`STEP`] per sideways
/// step. It crosses as few strokes as it can: two digits touch at one place, while a way
/// around their contact would cut through a digit's loop twice; along one stroke, it
/// crosses where the ink is shortest.
const ENTER: f32 = 1.0;
/// See [`ENTER`]: the cost of running through one stroke's width of ink.
const INK: f32 = 0.5;

/// The median length of the mask's horizontal runs of ink (`mw` columns a row): the pen's
/// stroke width in map pixels, at least one.
fn stroke_width(mask: &[bool], mw: usize) -> f32 {
    let runs = ink_runs(mask, mw);
    runs.get(runs.len() / 2).map_or(1.0, |&r| r.max(1) as f32)
}
/// See [`INK`].
const BENT: f32 = 0.04;
/// See [`INK`].
const STEP: f32 = 0.01;

/// The course of one cut down a blob's `mask` (`mw` columns, one row per map row): per row,
/// the first column of the part right of it. It runs within `band` columns of `centre(row)`
/// (the straight cut), moving at most one column a row, and crosses the least ink: where two
/// digits touch it crosses the touching stroke, and where they only lean over each other it
/// goes around their strokes, so neither digit keeps a stroke of the other.
fn course(
    mask: &[bool],
    mw: usize,
    centre: impl Fn(usize) -> f32,
    band: i32,
    per_pixel: f32,
) -> Vec<u32> {
    let mh = mask.len() / mw.max(1);
    let width = 2 * band as usize + 1;
    // Per row, the band's first column (clamped into the box) and the cost of reaching each.
    let mut first = Vec::with_capacity(mh);
    let mut cost = vec![f32::INFINITY; mh * width];
    let mut back = vec![0i8; mh * width];
    for y in 0..mh {
        let c = centre(y).clamp(0.0, mw.saturating_sub(1) as f32);
        let f = (c.round() as i32 - band).max(0);
        first.push(f);
        for j in 0..width {
            let x = f + j as i32;
            if x as usize >= mw {
                break;
            }
            let inked = mask[y * mw + x as usize];
            let here =
                if inked { per_pixel } else { 0.0 } + BENT * (x as f32 - c).abs() / band as f32;
            if y == 0 {
                cost[j] = here + if inked { ENTER } else { 0.0 };
                continue;
            }
            let (mut best, mut from) = (f32::INFINITY, 0i8);
            for d in -1i32..=1 {
                let k = x + d - first[y - 1];
                if k < 0 || k >= width as i32 || x + d >= mw as i32 {
                    continue;
                }
                let entered = inked && !mask[(y - 1) * mw + (x + d) as usize];
                // A sideways step parts the two pixels at its corners: where both are ink it
                // cuts a diagonal stroke without running through a pixel of it.
                let corner =
                    d != 0 && mask[(y - 1) * mw + x as usize] && mask[y * mw + (x + d) as usize];
                let v = cost[(y - 1) * width + k as usize]
                    + if d == 0 { 0.0 } else { STEP }
                    + if entered { ENTER } else { 0.0 }
                    + if corner { ENTER + per_pixel } else { 0.0 };
                if v < best {
                    (best, from) = (v, d as i8);
                }
            }
            cost[y * width + j] = here + best;
            back[y * width + j] = from;
        }
    }
    let mut out = vec![0u32; mh];
    let Some(last) = mh.checked_sub(1) else {
        return out;
    };
    let mut j = (0..width)
        .min_by(|&a, &b| cost[last * width + a].total_cmp(&cost[last * width + b]))
        .unwrap_or(0);
    for y in (0..mh).rev() {
        let x = first[y] + j as i32;
        out[y] = x as u32;
        if y > 0 {
            let k = x + i32::from(back[y * width + j]) - first[y - 1];
            j = k.clamp(0, width as i32 - 1) as usize;
        }
    }
    out
}

/// The pieces between consecutive `courses` (left to right; a course that crosses the one
/// before it is held at it), each with the indices of the `ink` (map pixels relative to `map`)
/// it holds; `None` when a piece is too small or too short to be a digit (`digit_h`, see
/// [`PIECE_HEIGHT`]).
fn pieces(
    ink: &[(u32, u32)],
    courses: &[&Vec<u32>],
    map: &MapBox,
    r: Rect,
    digit_h: f32,
    px: f32,
) -> Option<Vec<(Cut, Vec<u32>)>> {
    let rows = (map.hy1 - map.hy0) as usize;
    // Every boundary per row, kept in order.
    let mut bounds: Vec<Vec<u32>> = Vec::with_capacity(courses.len() + 2);
    bounds.push(vec![0; rows]);
    for c in courses {
        let before = &bounds[bounds.len() - 1];
        let b: Vec<u32> = c.iter().zip(before).map(|(&x, &p)| x.max(p)).collect();
        bounds.push(b);
    }
    bounds.push(vec![u32::MAX; rows]);
    let scale = px as u32;
    let mut out = Vec::with_capacity(bounds.len() - 1);
    for w in bounds.windows(2) {
        let (left, right) = (&w[0], &w[1]);
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        let mut ours = Vec::new();
        for (i, &(x, y)) in ink.iter().enumerate() {
            let row = y as usize;
            if x >= left[row] && x < right[row] {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                ours.push(i as u32);
            }
        }
        let n = ours.len() as f32;
        let tall = px * (y1 + 1).saturating_sub(y0) as f32;
        if ours.is_empty() || n * px * px < 24.0 || tall < PIECE_HEIGHT * digit_h {
            return None;
        }
        let frame_x = |b: u32| (map.hx0.saturating_add(b)).saturating_mul(scale);
        let spans = left
            .iter()
            .zip(right)
            .map(|(&a, &b)| (if a == 0 { 0 } else { frame_x(a) }, frame_x(b)))
            .collect();
        let (bx, by) = (
            ((map.hx0 + x0) * scale).max(r.x),
            ((map.hy0 + y0) * scale).max(r.y),
        );
        let (ex, ey) = (
            ((map.hx0 + x1 + 1) * scale).min(r.x + r.w),
            ((map.hy0 + y1 + 1) * scale).min(r.y + r.h),
        );
        let cut = Cut {
            top: map.hy0 * scale,
            step: scale,
            spans,
            rows: (f32::NEG_INFINITY, f32::INFINITY),
            rect: Rect {
                x: bx,
                y: by,
                w: ex.saturating_sub(bx).max(1),
                h: ey.saturating_sub(by).max(1),
            },
        };
        out.push((cut, ours));
    }
    Some(out)
}

struct MapBox {
    hx0: u32,
    hy0: u32,
    hx1: u32,
    hy1: u32,
}

impl MapBox {
    fn of(found: &Located, r: Rect) -> MapBox {
        let scale = found.scale.max(1);
        let (hw, hh) = found.labels.dimensions();
        MapBox {
            hx0: r.x / scale,
            hy0: r.y / scale,
            hx1: (r.x + r.w).div_ceil(scale).min(hw),
            hy1: (r.y + r.h).div_ceil(scale).min(hh),
        }
    }
}

/// The blob's own ink on the finder's map over its box (row by row, `mw` map pixels a row),
/// and `mw`.
pub(crate) fn blob_mask(found: &Located, blob: &Blob) -> (Vec<bool>, usize) {
    let MapBox { hx0, hy0, hx1, hy1 } = MapBox::of(found, blob.rect);
    let mask = (hy0..hy1)
        .flat_map(|hy| (hx0..hx1).map(move |hx| (hx, hy)))
        .map(|(hx, hy)| blob.labels.contains(&found.labels.get_pixel(hx, hy)[0]))
        .collect();
    (mask, hx1.saturating_sub(hx0) as usize)
}

/// Two lines of writing run together into one blob ([`TALLEST`]): where a stroke of one
/// line reaches into the next they touch at a point, so the blob is cut across into an upper
/// and a lower piece, one segmentation per row tried (`line_rows`, the writing's digits
/// `typical` frame pixels tall); none for a row that leaves a piece too little ink. The reader
/// reads every way and keeps one whose parts are the lines' writing ([`lines_parted`]).
pub fn stacked(found: &Located, blob: &Blob, typical: f32) -> Candidates {
    let r = blob.rect;
    let scale = found.scale.max(1);
    let px = scale as f32;
    let MapBox { hx0, hy0, hx1, hy1 } = MapBox::of(found, r);
    let (mask, mw) = blob_mask(found, blob);
    let row = |hy: u32| {
        let at = (hy - hy0) as usize * mw;
        &mask[at..at + mw]
    };
    let ink: Vec<usize> = (hy0..hy1)
        .map(|hy| row(hy).iter().filter(|&&m| m).count())
        .collect();
    let part = |top: f32, bottom: f32| -> Option<Cut> {
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (u32::MAX, u32::MAX, 0, 0, 0u32);
        for hy in hy0..hy1 {
            let y = px * hy as f32;
            if y < top || y >= bottom {
                continue;
            }
            for (hx, _) in (hx0..hx1).zip(row(hy)).filter(|(_, &m)| m) {
                (x0, y0, x1, y1) = (x0.min(hx), y0.min(hy), x1.max(hx), y1.max(hy));
                n += 1;
            }
        }
        // At least 6 half-resolution pixels of ink (24 frame pixels).
        if n == 0 || (n as f32) * px * px < 24.0 {
            return None;
        }
        let rect = Rect {
            x: (x0 * scale).max(r.x),
            y: (y0 * scale).max(r.y),
            w: ((x1 + 1 - x0) * scale).max(1),
            h: ((y1 + 1 - y0) * scale).max(1),
        };
        Some(Cut {
            top: 0,
            step: 1,
            spans: Vec::new(),
            rows: (top, bottom),
            rect,
        })
    };
    let mut out = Candidates::default();
    for cut in line_rows(&ink, typical / px) {
        // The cut row's few pixels go with the upper line.
        let y_cut = px * (hy0 as usize + cut + 1) as f32;
        if let (Some(up), Some(down)) = (part(f32::NEG_INFINITY, y_cut), part(y_cut, f32::INFINITY))
        {
            let at = out.pieces.len();
            out.pieces.extend([up, down]);
            out.segmentations.push(vec![at, at + 1]);
        }
    }
    out
}

/// Rows (of `ink`, the blob's ink per map row) across which to part two lines of writing
/// `typical` map pixels tall, each in the blob's middle band (0.3–0.7 of its height): the row
/// the least ink crosses, and the rows that leave the upper or the lower part one line's
/// height (one writer writes one size on a page, and where two lines touch diagonally, a
/// "6" reaching down into a "3", the row of least ink lies inside a digit), each as it is
/// and moved to the least ink within a tenth of that height (a base stroke touching the
/// line below makes the rows above it the least inked). Distinct rows, the least ink's first.
fn line_rows(ink: &[usize], typical: f32) -> Vec<usize> {
    let rows = ink.len();
    if rows < 2 {
        return Vec::new();
    }
    let (lo, hi) = (rows * 3 / 10, (rows * 7 / 10).min(rows - 1));
    let least = |from: usize, to: usize, near: usize| {
        (from.max(lo)..=to.min(hi)).min_by_key(|&y| (ink[y], y.abs_diff(near)))
    };
    let mid = rows / 2;
    let reach = (0.1 * typical).round() as usize;
    let mut out: Vec<usize> = least(lo, hi, mid).into_iter().collect();
    let line = typical.round() as usize;
    let below_first = line.saturating_sub(1);
    let above_last = rows.saturating_sub(line + 1);
    for near in [below_first, above_last] {
        let near = near.clamp(lo, hi);
        let nearest = least(near.saturating_sub(reach), near + reach, near);
        for y in nearest.into_iter().chain([near]) {
            if !out.contains(&y) {
                out.push(y);
            }
        }
    }
    out
}

/// Whether a blob of box `r` is two lines of writing run together, on a frame whose digits
/// are `typical` pixels tall: taller than [`TALLEST`] digits, and either no wider than one
/// digit ([`ONE_DIGIT_WIDEST`]) or taller than a run of touching digits on one drifting line
/// can be ([`LINE_HEIGHT`], [`RISE`]). Lines written close touch wherever a stroke of one
/// reaches into the next, and a thick pen or small writing makes them touch more often.
pub fn two_lines(r: Rect, typical: f32) -> bool {
    let (w, h) = (r.w as f32, r.h as f32);
    h > TALLEST * typical && (w <= ONE_DIGIT_WIDEST * h || h > LINE_HEIGHT.1 * typical + RISE * w)
}

/// How the model read one line's part of a blob of two lines, and its shape.
#[derive(Clone, Copy, Debug)]
pub struct LinePart {
    /// Read as a digit the model is sure of ([`SURE`]).
    pub sure: bool,
    /// Read as a "1".
    pub one: bool,
    /// Width over height.
    pub aspect: f32,
    /// Width over the frame's typical digit width.
    pub wider: f32,
}

/// Whether the parts of a blob of two lines, cut apart by [`stacked`], are the two lines'
/// writing: each part a digit the model is sure of, or as wide as touching digits
/// ([`may_cut`]), since a line's part holds as many digits as were written there and the
/// reader then cuts it like any run; and not both ones, as a straight stroke twice the
/// digits' height (a paper edge, a stretch of margin line) cut in two reads, while two ones
/// written one above the other and touching are far rarer.
pub fn lines_parted(parts: [LinePart; 2]) -> bool {
    let line = |p: &LinePart| p.sure || may_cut(p.aspect, p.wider, false);
    parts.iter().all(line) && !parts.iter().all(|p| p.one)
}

/// Width over height beyond which one digit is rare enough that a blob the model reads as a
/// digit may still be two: wide zeros and twos reach about 1.0.
pub const WIDER_THAN_ONE: f32 = 1.1;

/// Width, over the median width of the frame's digits, from which a blob may hold two
/// (touching narrow digits, which [`WIDER_THAN_ONE`] alone would never cut); the finder
/// counts such blobs as digits written with no gap when it judges a writer's spacing.
pub use crate::locate::WIDER_THAN_TYPICAL;

/// Width over height beyond which a blob is rarely one digit; left uncut, it is reported as
/// unknown unless the model reads it as one digit (see [`too_wide`]).
pub const ONE_DIGIT_WIDEST: f32 = 1.5;

/// Confidence of the model in a whole blob as one digit from which the blob is one digit: it
/// is not cut, however surely its pieces read, and it is reported however wide. The halves of
/// one wide digit (the long base of a "2", a broad "0" or "6") read as digits themselves, often
/// more surely than the whole, while digits that touch seldom look like one digit to the
/// model: on the dev splits, 6 of the 359 touching runs that were cut right read this surely
/// as a whole, and 14 of the 33 single digits that were cut in two did.
pub const ONE_DIGIT: f32 = 0.75;

/// Whether a blob whose whole the model reads at `whole` is read as one digit and reported
/// (not under the reader's `min_confidence`): then neither [`choose`] nor [`choose_in_part`]
/// takes any of its segmentations, and its pieces need not be read.
pub fn one_digit(whole: f32, min_confidence: f32) -> bool {
    whole >= ONE_DIGIT && whole >= min_confidence
}

/// Whether a blob `aspect` times as wide as tall, whose whole the model reads at `whole`, is
/// too wide to be one digit: wider than [`ONE_DIGIT_WIDEST`] and not read as one digit
/// ([`ONE_DIGIT`]). Some hands write zeros, twos and fives wide, and the model reads those
/// surely, while two or more digits run together it almost never takes surely for one.
pub fn too_wide(aspect: f32, whole: f32) -> bool {
    aspect > ONE_DIGIT_WIDEST && whole < ONE_DIGIT
}

/// Height over the frame's median digit height beyond which a blob is not one digit but
/// digits of two lines of writing run together (one writer writes one size on a page); it is
/// reported as unknown.
pub const TALLEST: f32 = 1.6;

/// Confidence every piece must reach to cut a blob no wider than one digit: a wrong cut
/// reports two wrong digits where the whole reported one unknown.
pub const SURE: f32 = 0.9;

/// Confidence every piece must reach to cut a blob the model does not take for a digit: the
/// whole would be reported unknown anyway, and a model trained on cuts that straddle two
/// digits as marks that are not digits rarely reads such a piece this surely.
pub const SURE_OF_DOUBTED: f32 = 0.7;

/// Heights, relative to the median digit of the frame, of blobs that may be touching digits:
/// digits that touch stand on one line of writing and share its height; what is much
/// taller or shorter is something else (an edge, a scribble, a speck).
pub const LINE_HEIGHT: (f32, f32) = (0.7, 1.5);

/// Rise of a line of writing per pixel along it that a run of touching digits may add to its
/// height ([`LINE_HEIGHT`]): a page held up to 10° askew, or a writer's drifting baseline,
/// lifts a number's last digit above its first by up to a fifth of its length.
pub const RISE: f32 = 0.18;

/// Which reading of a blob to keep: `whole` is the model's confidence in the blob as one
/// digit, `splits[i]` the confidences of candidate `i`'s pieces, `aspect` the blob's width
/// over height and `wider` its width over the frame's typical digit's. Only a blob wider
/// than one digit comes ([`WIDER_THAN_ONE`], [`WIDER_THAN_TYPICAL`]), or one the model doubts
/// that is as wide as two digits can be (see [`may_cut`]), is cut: the model reads the halves of a single digit as digits too, and surely (a "0" cut in two is two ones,
/// a wide "2" cut gives a "2" and a "1"); nor is a blob the model reads as one digit
/// ([`ONE_DIGIT`]). A segmentation is kept when every piece is a digit
/// the model is sure of ([`SURE`], a wrong cut reports two wrong digits where the whole
/// reported one; [`SURE_OF_DOUBTED`] where the whole is not a digit) and its weakest piece is surer than the whole. Returns the
/// candidate's index, or `None` for the whole.
pub fn choose(
    whole: f32,
    aspect: f32,
    wider: f32,
    splits: &[Vec<f32>],
    min_confidence: f32,
) -> Option<usize> {
    if !may_cut(aspect, wider, whole < min_confidence) || whole >= ONE_DIGIT {
        return None;
    }
    let (best, weakest) = splits
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.iter().copied().fold(f32::MAX, f32::min)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let sure = if whole < min_confidence {
        SURE_OF_DOUBTED
    } else {
        SURE
    };
    (weakest >= min_confidence.max(sure) && weakest > whole).then_some(best)
}

/// Mean confidence of its pieces from which a segmentation that [`choose`] refused is still
/// taken in part: touching digits run together unevenly (one pair only touches where the next
/// overlaps), so a cut may part most digits of a run cleanly and leave one piece straddling
/// two; a run whose best cut reads this well is mostly parted right.
pub const MOSTLY_SURE: f32 = 0.7;

/// Confidence a piece of a segmentation taken in part must reach to be reported: beside a
/// doubtful cut a piece may carry a stroke of its neighbour, so only a piece read without
/// ambiguity is reported, and the others as unknown.
pub const CERTAIN: f32 = 0.97;

/// The segmentation to take in part when [`choose`] keeps none, for a blob that is not one
/// digit anyway (the model doubts the whole at `whole`, or it is [`too_wide`]) and would be
/// reported unknown: the candidate whose pieces read best
/// on average, when that mean reaches [`MOSTLY_SURE`] and half of its pieces or more are sure
/// ([`SURE_OF_DOUBTED`]). The reader reports its pieces under [`CERTAIN`] as unknown.
pub fn choose_in_part(
    whole: f32,
    aspect: f32,
    splits: &[Vec<f32>],
    min_confidence: f32,
) -> Option<usize> {
    if whole >= min_confidence && !too_wide(aspect, whole) {
        return None;
    }
    let (best, mean) = splits
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty())
        .map(|(i, c)| (i, c.iter().sum::<f32>() / c.len() as f32))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let sure = min_confidence.max(SURE_OF_DOUBTED);
    let sure_pieces = splits[best].iter().filter(|&&c| c >= sure).count();
    (mean >= MOSTLY_SURE && 2 * sure_pieces >= splits[best].len()).then_some(best)
}

/// Whether [`choose`] could cut a blob of this width over height (`aspect`) and width over
/// the frame's typical digit width (`wider`), `doubted` when the model does not take the
/// whole for a digit; the reader classifies candidate pieces of these blobs only. Two narrow
/// digits written close ("17", "41") make a blob no wider than one "0"; a model that has met
/// touching pairs as marks that are not digits doubts such a blob, so one that is doubted
/// and as wide as two digits can be ([`TWO_DIGITS`]) may be cut too.
pub fn may_cut(aspect: f32, wider: f32, doubted: bool) -> bool {
    aspect >= WIDER_THAN_ONE || wider >= WIDER_THAN_TYPICAL || (doubted && aspect >= TWO_DIGITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mask from rows of `#` (ink) and `.` (ground), and its width.
    fn mask(rows: &[&str]) -> (Vec<bool>, usize) {
        let mw = rows[0].len();
        (
            rows.iter()
                .flat_map(|r| r.bytes().map(|b| b == b'#'))
                .collect(),
            mw,
        )
    }

    /// Ink pixels the course runs through, and the diagonal strokes its sideways steps part.
    fn crossed(mask: &[bool], mw: usize, course: &[u32]) -> usize {
        let at = |x: u32, y: usize| mask[y * mw + x as usize];
        let through = course
            .iter()
            .enumerate()
            .filter(|&(y, &x)| at(x, y))
            .count();
        let corners = course
            .windows(2)
            .enumerate()
            .filter(|&(y, w)| w[0] != w[1] && at(w[1], y) && at(w[0], y + 1))
            .count();
        through + corners
    }

    #[test]
    fn issue13_a_cut_bends_around_a_bar_leaning_over_the_next_digit() {
        // A "7" whose bar reaches over the "0" beside it without touching it: the straight
        // cut at column 6 would give the bar's end to the "0".
        let (m, mw) = mask(&[
            "#######.....",
            ".....#..###.",
            "....#..#...#",
            "...#...#...#",
            "..#....#...#",
            "..#.....###.",
        ]);
        let course = course(&m, mw, |_| 6.0, 3, INK / stroke_width(&m, mw));
        assert_eq!(crossed(&m, mw, &course), 0, "{course:?}");
        assert!(course[0] >= 7, "the bar stays whole with the 7: {course:?}");
        assert!(
            course[2..5].iter().all(|&x| x <= 7),
            "the 0 stays whole: {course:?}"
        );
    }

    #[test]
    fn issue13_a_cut_parts_two_touching_rings_at_their_contact_not_through_a_ring() {
        // Two zeros touching along a short stretch: slipping diagonally into a ring and out
        // again crosses no ink pixel but cuts the ring twice; the contact is crossed once.
        let (m, mw) = mask(&[
            ".###..###.",
            "#...##...#",
            "#...##...#",
            "#...##...#",
            ".###..###.",
        ]);
        let course = course(&m, mw, |_| 5.0, 3, INK / stroke_width(&m, mw));
        assert!(course.iter().all(|&x| x == 4 || x == 5), "{course:?}");
        assert_eq!(crossed(&m, mw, &course), 3, "{course:?}");
    }

    #[test]
    fn a_blob_taller_than_a_drifting_run_can_be_is_two_lines() {
        let rect = |w, h| Rect { x: 0, y: 0, w, h };
        // Digits 20 tall: one digit above another, no wider than one digit.
        assert!(two_lines(rect(20, 42), 20.0));
        // A run of touching digits rising along its 120 pixels stays one line...
        assert!(!two_lines(rect(120, 45), 20.0));
        // ...but no drift makes a run 60 tall: that is two lines of runs.
        assert!(two_lines(rect(120, 60), 20.0));
        // One line's height is not two lines.
        assert!(!two_lines(rect(20, 30), 20.0));
    }

    /// [`outline_valleys`] of a mask read as a blob on the half-resolution map (one profile
    /// bin a column).
    fn valleys_of(rows: &[&str]) -> Vec<usize> {
        let (m, mw) = mask(rows);
        let ink: Vec<(u32, u32)> = (0..m.len())
            .filter(|&i| m[i])
            .map(|i| ((i % mw) as u32, (i / mw) as u32))
            .collect();
        let sheared: Vec<f32> = ink.iter().map(|&(x, _)| 2.0 * (x as f32 + 0.5)).collect();
        outline_valleys(&sheared, &ink, 0.0, mw, rows.len(), 1..mw - 1)
    }

    #[test]
    fn issue13_two_digits_written_overlapping_are_parted_where_their_outlines_dip() {
        // Two "0"s whose sides bow into each other and touch over the middle rows only: the
        // column profile is flat (two pixels of ink a column), the outlines dip between them.
        let touching = [
            ".###......###.",
            "#...#....#...#",
            "#....#..#....#",
            "#.....##.....#",
            "#.....##.....#",
            "#....#..#....#",
            "#...#....#...#",
            ".###......###.",
        ];
        let v = valleys_of(&touching);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().all(|c| (6..=7).contains(c)), "{v:?}");
        // Sides that touch over most of the height leave a dip of a row: a digit's own notch.
        let alongside = [
            ".###..###.",
            "#...##...#",
            "#...##...#",
            "#...##...#",
            "#...##...#",
            "#...##...#",
            "#...##...#",
            ".###..###.",
        ];
        assert!(valleys_of(&alongside).is_empty());
    }

    #[test]
    fn issue13_two_lines_are_cut_also_where_each_part_is_one_line_tall() {
        // Two lines of 50-row digits touching over four rows (46–53): the upper digit's waist
        // (rows 30–36) is the least inked row of the middle band, the touch the most.
        let ink: Vec<usize> = (0..100)
            .map(|y| match y {
                30..=36 => 1,
                46..=53 => 9,
                _ => 4,
            })
            .collect();
        let rows = line_rows(&ink, 50.0);
        // The waist's row nearest the middle first, then the row that leaves either line 50
        // rows tall moved to the least ink within five rows (above the touch), then as it is.
        assert_eq!(rows, [36, 45, 49]);
    }

    #[test]
    fn lines_are_parted_when_each_part_is_a_sure_digit_or_a_run() {
        let part = |sure, one, aspect| LinePart {
            sure,
            one,
            aspect,
            wider: aspect,
        };
        // A sure digit above a run of touching digits the model doubts as one.
        assert!(lines_parted([
            part(true, false, 0.7),
            part(false, false, 1.6)
        ]));
        // A fragment the model doubts is not a line's writing.
        assert!(!lines_parted([
            part(true, false, 0.7),
            part(false, false, 0.5)
        ]));
        // A straight stroke twice the digits' height cut in two reads as two ones.
        assert!(!lines_parted([
            part(true, true, 0.2),
            part(true, true, 0.2)
        ]));
        assert!(lines_parted([
            part(true, true, 0.2),
            part(true, false, 0.7)
        ]));
    }

    #[test]
    fn a_blob_wider_than_a_digit_is_one_only_when_the_model_is_sure_of_it() {
        assert!(!too_wide(1.4, 0.1));
        assert!(too_wide(1.6, 0.7));
        assert!(!too_wide(1.6, 0.8));
        assert!(!too_wide(1.6, 0.95));
        // Not taken in part: the sure whole stands.
        assert_eq!(choose_in_part(0.95, 1.7, &[vec![0.99, 0.8]], 0.4), None);
        assert_eq!(choose_in_part(0.7, 1.7, &[vec![0.99, 0.8]], 0.4), Some(0));
    }

    #[test]
    fn the_stroke_width_is_the_median_run_of_ink_across_a_row() {
        let (m, mw) = mask(&["..###..", ".###...", "..###..", "...###."]);
        assert_eq!(stroke_width(&m, mw), 3.0);
        assert_eq!(stroke_width(&[false; 6], 3), 1.0);
    }

    #[test]
    fn a_split_is_kept_only_when_every_piece_is_a_surer_digit() {
        // Two pieces both sure, the whole unsure, wider than one digit: cut.
        assert_eq!(choose(0.4, 1.2, 1.0, &[vec![0.95, 0.92]], 0.5), Some(0));
        // One piece not sure enough: no cut (0.7 is enough only where the whole is no digit).
        assert_eq!(choose(0.6, 1.2, 1.0, &[vec![0.95, 0.7]], 0.5), None);
        assert_eq!(choose(0.4, 1.2, 1.0, &[vec![0.95, 0.6]], 0.5), None);
        // Read as a digit and no wider than one: never cut, however sure the halves.
        assert_eq!(choose(0.6, 0.9, 1.0, &[vec![0.99, 0.99]], 0.5), None);
        // The whole already surer than the weakest piece: no cut.
        assert_eq!(choose(0.97, 1.5, 1.0, &[vec![0.99, 0.95]], 0.5), None);
        // The better of two candidates by its weakest piece.
        assert_eq!(
            choose(
                0.2,
                1.5,
                1.0,
                &[vec![0.99, 0.6], vec![0.91, 0.95, 0.93]],
                0.5
            ),
            Some(1)
        );
        assert_eq!(choose(0.2, 1.5, 1.0, &[], 0.5), None);
        // No wider than one digit by its shape, but twice as wide as the frame's digits: cut.
        assert_eq!(choose(0.2, 0.9, 2.0, &[vec![0.99, 0.99]], 0.5), Some(0));
    }

    /// Issue 13, table scenes: a wide "2" (56 × 36 pixels, read 0.90 as a whole) was cut into
    /// a "2" and a "2" read at 0.99 and 1.00, two false digits where one was written.
    #[test]
    fn issue13_a_blob_the_model_reads_as_one_digit_is_not_cut_however_sure_its_halves() {
        assert_eq!(choose(0.9, 1.56, 1.87, &[vec![0.99, 1.0]], 0.4), None);
        assert_eq!(choose(0.75, 1.56, 1.87, &[vec![0.99, 1.0]], 0.4), None);
        // Read less surely as one digit, the same blob is cut where its pieces are surer.
        assert_eq!(choose(0.7, 1.56, 1.87, &[vec![0.99, 1.0]], 0.4), Some(0));
        // And wide as it is, it is reported: not too wide for one digit.
        assert!(!too_wide(1.56, 0.9));
    }

    /// The reader does not read the pieces of a blob read as one digit ([`one_digit`]): no
    /// candidate of any shape could be chosen, whole or in part.
    #[test]
    fn no_segmentation_is_taken_from_a_blob_read_as_one_digit() {
        let splits = [vec![1.0, 1.0], vec![1.0, 1.0, 1.0, 1.0], vec![0.99; 6]];
        let mut seen = 0;
        for whole in [0.5, 0.7, ONE_DIGIT, 0.8, 0.95, 1.0] {
            for min_confidence in [0.0, 0.4, ONE_DIGIT, 0.9] {
                if !one_digit(whole, min_confidence) {
                    continue;
                }
                seen += 1;
                for aspect in [0.5, 1.2, 1.6, 3.0, 4.5] {
                    let wider = aspect * 2.0;
                    assert_eq!(choose(whole, aspect, wider, &splits, min_confidence), None);
                    assert_eq!(choose_in_part(whole, aspect, &splits, min_confidence), None);
                }
            }
        }
        assert_eq!(seen, 14);
        // Under the reader's threshold a blob may be taken in part however surely it reads.
        assert!(!one_digit(0.8, 0.9));
        assert!(choose_in_part(0.8, 3.0, &splits, 0.9).is_some());
    }

    #[test]
    fn a_blob_the_model_doubts_is_cut_when_it_is_as_wide_as_two_digits() {
        // As wide as two narrow digits, of the frame's digit width, the whole not a digit.
        assert_eq!(choose(0.3, 0.8, 1.2, &[vec![0.95, 0.97]], 0.5), Some(0));
        // Pieces surer than the doubted whole, but not sure: the whole stays.
        assert_eq!(choose(0.3, 0.8, 1.2, &[vec![0.95, 0.6]], 0.5), None);
        // The same blob read surely as one digit stays whole.
        assert_eq!(choose(0.6, 0.8, 1.2, &[vec![0.95, 0.97]], 0.5), None);
        // Doubted, but narrower than two digits: a "1" or a "7" is never cut.
        assert_eq!(choose(0.3, 0.45, 1.0, &[vec![0.95, 0.97]], 0.5), None);
    }

    #[test]
    fn a_run_of_digits_no_cut_parts_whole_is_taken_in_part() {
        // Four touching digits, three pieces read surely, one straddling: taken in part.
        let run = [vec![0.96, 0.95, 0.99, 0.62], vec![0.97, 0.91, 0.58, 0.51]];
        assert_eq!(choose(0.33, 2.5, 2.5, &run, 0.5), None);
        assert_eq!(choose_in_part(0.33, 2.5, &run, 0.5), Some(0));
        // A blob the model reads as one digit, no wider than one: left whole.
        assert_eq!(choose_in_part(0.8, 1.2, &run, 0.5), None);
        // Wider than any digit, and read as a digit but not as surely as one digit is:
        // taken in part.
        assert_eq!(choose_in_part(0.7, 1.6, &run, 0.5), Some(0));
        // Read as one digit ([`ONE_DIGIT`]): one wide digit, left whole.
        assert_eq!(choose_in_part(0.8, 1.6, &run, 0.5), None);
        // Most pieces unsure: nothing is taken.
        let unsure = [vec![0.96, 0.55, 0.6, 0.62]];
        assert_eq!(choose_in_part(0.3, 2.5, &unsure, 0.5), None);
        // A low mean, however sure one piece is.
        assert_eq!(choose_in_part(0.3, 2.5, &[vec![0.99, 0.3]], 0.5), None);
        assert_eq!(choose_in_part(0.3, 2.5, &[], 0.5), None);
    }
}

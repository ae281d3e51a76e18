//! Finds the digits in a grey frame `[H, W]`: a background estimate that follows uneven light
//! and shadows, ink strength relative to it (either polarity), connected components (by runs,
//! tested against imageproc's labelling), rejection of what is not a digit (specks, paper
//! edges, lines, solid blobs), merging of the strokes of one digit, and grouping into numbers
//! read left to right, line after line.

mod components;
pub mod ink;
pub mod rulings;

use image::{GrayImage, ImageBuffer, Luma};

/// Which way the ink differs from its ground.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ink {
    /// Decide per frame: a mostly dark frame is read as light ink on a dark board.
    Auto,
    /// Dark ink on light paper.
    Dark,
    /// Light ink (chalk) on a dark board.
    Light,
}

/// Settings of the digit finder; the defaults suit 640×480 frames of a sheet of paper.
#[derive(Clone, Debug)]
pub struct LocateConfig {
    /// Ink polarity, or `Auto`.
    pub ink: Ink,
    /// Widest stroke in pixels; wider dark (or light) areas are taken for ground.
    pub stroke: u32,
    /// Relative contrast (1 − darker/brighter, less the noise floor) that a mark's core must
    /// reach to be ink (see [`ink`]: pencil's core, blurred, is about 0.1).
    pub threshold: f32,
    /// Relative contrast down to which a mark's pixels are taken together.
    pub faint: f32,
    /// Fraction of a mark's core strength under which its pixels are blurred edge.
    pub edge: f32,
    /// Take the paper's rules and grid lines out of the ink ([`rulings`]).
    pub rulings: bool,
    /// Least grey-level difference taken as ink; raised to 4σ of the measured sensor noise.
    pub noise_floor: f32,
    /// Smallest digit height in pixels.
    pub min_height: u32,
    /// Largest digit height as a fraction of the frame height (paper edges are taller).
    pub max_height: f32,
}

impl Default for LocateConfig {
    fn default() -> Self {
        LocateConfig {
            ink: Ink::Auto,
            stroke: 24,
            threshold: 0.07,
            faint: 0.035,
            edge: 0.5,
            rulings: true,
            noise_floor: 4.0,
            min_height: 10,
            max_height: 0.4,
        }
    }
}

/// An axis-aligned box in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// The smallest box holding both.
    pub fn union(self, o: Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect {
            x,
            y,
            w: (self.x + self.w).max(o.x + o.w) - x,
            h: (self.y + self.h).max(o.y + o.h) - y,
        }
    }

    /// Area of the intersection over the area of the union.
    pub fn iou(self, o: Rect) -> f32 {
        let ix = (self.x + self.w)
            .min(o.x + o.w)
            .saturating_sub(self.x.max(o.x));
        let iy = (self.y + self.h)
            .min(o.y + o.h)
            .saturating_sub(self.y.max(o.y));
        let inter = (ix * iy) as f32;
        inter / ((self.w * self.h + o.w * o.h) as f32 - inter).max(1.0)
    }

    fn cy(self) -> f32 {
        self.y as f32 + self.h as f32 / 2.0
    }
}

/// One candidate digit: its box and the connected components it is made of.
#[derive(Clone, Debug)]
pub struct Blob {
    /// Bounding box in frame pixels.
    pub rect: Rect,
    /// Component labels (in [`Located::labels`]) that belong to it.
    pub labels: Vec<u32>,
    /// Ink pixels.
    pub area: u32,
}

/// What the finder saw in one frame. It works on a map of the frame: at half resolution
/// (`[H/2, W/2]`, each pixel the mean of 2×2, which also denoises), or at full resolution for
/// small writing (see [`SMALL_WRITING`]); boxes are given in frame pixels.
pub struct Located {
    /// The polarity used.
    pub ink: Ink,
    /// Grey-level difference taken as noise.
    pub floor: f32,
    /// Frame pixels per map pixel, across and down: 2 or 1.
    pub scale: u32,
    /// The frame as the finder's map.
    pub map: GrayImage,
    /// Local ground level on the map (strokes removed).
    pub ground: GrayImage,
    /// Ink strength on the map: 0 is ground, 255 is full ink, whatever the polarity.
    pub strength: GrayImage,
    /// Connected-component label of each ink pixel of the map, 0 for ground.
    pub labels: ImageBuffer<Luma<u32>, Vec<u32>>,
    /// For each label (index 0 unused), whether some digit is made of it: a digit's input
    /// leaves out the ink of other digits, not the stray fragments of its own strokes.
    pub owned: Vec<bool>,
    /// Candidate digits, boxes in frame pixels, in reading order.
    pub digits: Vec<Blob>,
    /// Numbers in reading order, each the indices of its digits from left to right.
    pub numbers: Vec<Vec<usize>>,
}

/// Half-resolution pixels within which a pixel of a stroke's blurred edge finds the stroke's
/// core: half the width of the thickest pen's stroke on a 60-pixel digit.
const REACH: usize = 3;

/// Relative contrast under which a stroke is faint: pencil lays 0.15–0.35, a ballpoint 0.5 and
/// more. Graphite sits on the paper's tooth, so a pencil stroke breaks where the paper shows
/// through; the pieces of faint strokes are joined across one-pixel gaps
/// ([`components::join_faint`]), while ink flows into continuous lines and the gaps between
/// strong strokes are the gaps between digits.
const FAINT_STROKE: f32 = 0.35;

/// Relative contrast at which the strength map saturates.
const FULL: f32 = 1.0;

/// Height in frame pixels under which writing is small: the gap between two strokes of such a
/// digit, or between two digits written close, is a pixel or two, which the 2×2 mean of the
/// half-resolution map blurs shut, so neighbouring digits run together into one mark and the
/// loops of a small "8" fill in. A frame whose marks are this small (a page held at arm's
/// length, a whole sheet before a 640×480 camera) is read again at full resolution.
pub const SMALL_WRITING: u32 = 30;

/// Finds the digits of `frame`: on the half-resolution map, and again at full resolution where
/// the writing is small ([`SMALL_WRITING`]).
pub fn locate(frame: &GrayImage, cfg: &LocateConfig) -> Located {
    let mut half = locate_at(frame, cfg, 2);
    half.marks.sort_unstable();
    match half.marks.get(half.marks.len() / 2) {
        Some(&h) if h < SMALL_WRITING => locate_at(frame, cfg, 1).found,
        // Ink, but no mark a digit tall: the thin strokes of small writing fall apart at half
        // resolution (a stroke two pixels wide across two map pixels keeps half its strength).
        None if half.pieces > 0 => locate_at(frame, cfg, 1).found,
        _ => half.found,
    }
}

/// What one pass of the finder gives: the digits, and the heights (frame pixels) of every mark
/// at least a digit tall, by which the writing's size is judged.
struct Pass {
    found: Located,
    marks: Vec<u32>,
    /// Marks of ink of any size.
    pieces: usize,
}

/// Finds the digits of `frame` on a map `scale` frame pixels to the map pixel (1 or 2).
fn locate_at(frame: &GrayImage, cfg: &LocateConfig, scale: u32) -> Pass {
    let scale = scale.clamp(1, 2);
    // Map pixels per half-resolution pixel: the sizes below are said at half resolution.
    let per_half = 2 / scale;
    let map = if scale == 2 {
        downsample(frame)
    } else {
        full_resolution(frame)
    };
    // Sensor noise that survives the map's 2×2 mean (which halves it) sets the noise floor.
    let floor = cfg.noise_floor.max(4.0 * noise_sigma(frame) / 2.0);
    let ink = match cfg.ink {
        Ink::Auto => vote_polarity(&map, floor),
        fixed => fixed,
    };
    let ground = ground_level(&map, ink, cfg.stroke.div_ceil(scale));
    let level = |c: f32| (c / FULL * 255.0).round().clamp(1.0, 255.0) as u8;
    let strength = ink_strength(&map, &ground, ink, floor);
    let (mw, mh) = strength.dimensions();
    let (mw, mh) = (mw as usize, mh as usize);
    // A stroke's reach: its core lies within this many map pixels of its edges.
    let mut local = strength.as_raw().clone();
    extreme_filter(&mut local, mw, mh, REACH * per_half as usize, true);
    let levels = ink::InkLevels {
        faint: level(cfg.faint),
        mark: level(cfg.threshold),
        edge: cfg.edge,
    }
    .above_ground(&strength);
    let mut mask = ink::mask(&strength, &local, levels);
    let lines = if cfg.rulings {
        rulings::remove(mask.as_mut(), strength.as_raw(), mw, mh, per_half)
    } else {
        Vec::new()
    };
    let (labels, components) = components::label(&mask);
    // Faint ink: no stronger stroke within reach of the pixel (pencil's darkest, see
    // `FAINT_STROKE`).
    let faint: Vec<bool> = local
        .iter()
        .map(|&m| f32::from(m) < FAINT_STROKE * 255.0 / FULL)
        .collect();
    let components = components::join_faint(&labels, components, &faint, per_half as usize);
    let pieces = components.len();
    let map_cfg = LocateConfig {
        min_height: cfg.min_height.div_ceil(scale),
        ..cfg.clone()
    };
    let (mut digits, marks) = select(components, map.width(), map.height(), &map_cfg, per_half);
    let marks = marks.into_iter().map(|h| h * scale).collect();
    digits.retain(|d| bordered_by_ground(&map, &ground, &labels, d, ink));
    if !lines.is_empty() {
        let near = ON_RULING * per_half as f32;
        digits.retain(|d| !along_a_ruling(&labels, &strength, d, &lines, near));
    }
    // Writing on one page has one size: marks far smaller than the typical digit are specks,
    // dots and scribbles.
    if digits.len() >= 3 {
        let mut heights: Vec<u32> = digits.iter().map(|d| d.rect.h).collect();
        heights.sort_unstable();
        let typical = heights[heights.len() / 2] as f32;
        digits.retain(|d| d.rect.h as f32 >= 0.55 * typical);
    }
    let (fw, fh) = frame.dimensions();
    for d in &mut digits {
        let r = d.rect;
        let (x, y) = ((r.x * scale).min(fw - 1), (r.y * scale).min(fh - 1));
        d.rect = Rect {
            x,
            y,
            w: (r.w * scale).min(fw - x),
            h: (r.h * scale).min(fh - y),
        };
    }
    // Digits in reading order: number after number, each left to right.
    let order = group(&digits);
    let mut slots: Vec<Option<Blob>> = digits.into_iter().map(Some).collect();
    let mut digits = Vec::with_capacity(slots.len());
    let mut numbers = Vec::with_capacity(order.len());
    for number in order {
        let start = digits.len();
        digits.extend(number.iter().filter_map(|&i| slots[i].take()));
        numbers.push((start..digits.len()).collect());
    }
    let mut owned = vec![false; labels.as_raw().iter().max().map_or(1, |&m| m as usize + 1)];
    for d in &digits {
        for &l in &d.labels {
            if let Some(o) = owned.get_mut(l as usize) {
                *o = true;
            }
        }
    }
    Pass {
        found: Located {
            ink,
            floor,
            scale,
            map,
            ground,
            strength,
            labels,
            owned,
            digits,
            numbers,
        },
        marks,
        pieces,
    }
}

/// The frame at full resolution, each pixel the rounded mean of the 2×2 block it starts: the
/// same mean as the half-resolution map's, so sensor and JPEG noise are halved alike, but
/// taken at every pixel, so gaps of two pixels between small strokes stay open.
fn full_resolution(frame: &GrayImage) -> GrayImage {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let raw = frame.as_raw();
    let at = |x: usize, y: usize| u16::from(raw[y.min(h - 1) * w + x.min(w - 1)]);
    let out: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            ((at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1) + 2) / 4) as u8
        })
        .collect();
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| frame.clone())
}

/// The frame at half resolution, each pixel the rounded mean of a 2×2 block.
fn downsample(frame: &GrayImage) -> GrayImage {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let (hw, hh) = ((w / 2).max(1), (h / 2).max(1));
    let raw = frame.as_raw();
    let mut out = vec![0u8; hw * hh];
    if w < 2 || h < 2 {
        return GrayImage::from_raw(
            hw as u32,
            hh as u32,
            vec![raw.first().copied().unwrap_or(0); hw * hh],
        )
        .unwrap_or_else(|| GrayImage::new(1, 1));
    }
    for (y, dst) in out.chunks_exact_mut(hw).enumerate() {
        let a = &raw[2 * y * w..2 * y * w + 2 * hw];
        let b = &raw[(2 * y + 1) * w..(2 * y + 1) * w + 2 * hw];
        for ((d, pa), pb) in dst.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
            let sum = u16::from(pa[0]) + u16::from(pa[1]) + u16::from(pb[0]) + u16::from(pb[1]);
            *d = ((sum + 2) / 4) as u8;
        }
    }
    GrayImage::from_raw(hw as u32, hh as u32, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Ink strength of a grey level `p` over its ground `g`: 1 − darker/brighter, less the noise
/// floor, as 0..=255.
#[inline]
pub fn strength_of(p: f32, g: f32, dark: bool, floor: f32) -> u8 {
    let c = if dark {
        (g - p - floor) / g.max(1.0)
    } else {
        (p - g - floor) / p.max(1.0)
    };
    (c * (255.0 / FULL)).clamp(0.0, 255.0) as u8
}

/// Sensor noise σ in grey levels, from the median difference of horizontal neighbours.
fn noise_sigma(gray: &GrayImage) -> f32 {
    let w = gray.width() as usize;
    let mut hist = [0u32; 256];
    for row in gray.as_raw().chunks(w).step_by(4) {
        for pair in row.windows(2).step_by(3) {
            hist[usize::from(pair[0].abs_diff(pair[1]))] += 1;
        }
    }
    let half = hist.iter().sum::<u32>() / 2;
    let mut seen = 0;
    let median = hist
        .iter()
        .position(|&n| {
            seen += n;
            seen > half
        })
        .unwrap_or(0);
    // For Gaussian noise, the median |difference| is 0.954σ.
    median as f32 / 0.954
}

/// Decides the polarity by a vote of contrasted 32×32 blocks: ink is the minority of a block's
/// pixels, so a block whose mean lies nearer its maximum holds dark ink, nearer its minimum
/// light ink. Smooth gradients (light, shadows) and paper edges split evenly and barely vote.
/// A block votes once its range is more than sensor noise makes ([`VOTE_RANGE`] noise
/// floors) and more than paper grain and JPEG make ([`VOTE_LEAST`] grey levels): pencil
/// writing, 0.15–0.35 darker than its paper, must vote, or only the paper's edges do.
fn vote_polarity(gray: &GrayImage, floor: f32) -> Ink {
    const B: usize = 32;
    let need = (VOTE_RANGE * floor).clamp(VOTE_LEAST, 255.0) as u8;
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let raw = gray.as_raw();
    let (mut dark, mut light) = (0i64, 0i64);
    for by in (0..h / B).map(|b| b * B) {
        for bx in (0..w / B).map(|b| b * B) {
            let (mut lo, mut hi, mut sum, mut n) = (255u8, 0u8, 0u32, 0u32);
            for y in (by..by + B).step_by(4) {
                for &p in &raw[y * w + bx..y * w + bx + B] {
                    lo = lo.min(p);
                    hi = hi.max(p);
                    sum += u32::from(p);
                    n += 1;
                }
            }
            if hi - lo < need {
                continue;
            }
            let mean = sum as f32 / n as f32;
            let lean = (f32::from(hi) - mean) - (mean - f32::from(lo));
            // A strong lean is a vote; a block split half and half is not.
            let range = f32::from(hi - lo);
            if lean < -0.3 * range {
                dark += 1;
            } else if lean > 0.3 * range {
                light += 1;
            }
        }
    }
    if light > dark {
        Ink::Light
    } else {
        Ink::Dark
    }
}

/// Noise floors (see [`LocateConfig::noise_floor`]) a block's range must exceed to vote on the
/// polarity.
const VOTE_RANGE: f32 = 5.0;

/// Grey levels a block's range must exceed to vote on the polarity.
const VOTE_LEAST: f32 = 20.0;

/// The local ground: a grey-level closing (dark ink) or opening (light ink) with a square of
/// side `2r + 1`: strokes narrower than that vanish from it, while the edges of shadows and of
/// the paper stay where they are, so they do not read as ink.
fn ground_level(img: &GrayImage, ink: Ink, stroke: u32) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let dark = ink != Ink::Light;
    let r = (stroke as usize).div_ceil(2).max(1);
    let mut ground = img.as_raw().clone();
    for max in [dark, !dark] {
        extreme_filter(&mut ground, w, h, r, max);
    }
    GrayImage::from_raw(w as u32, h as u32, ground).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Ink strength of every pixel over its ground (see [`strength_of`]).
fn ink_strength(img: &GrayImage, ground: &GrayImage, ink: Ink, floor: f32) -> GrayImage {
    let dark = ink != Ink::Light;
    let strength: Vec<u8> = img
        .as_raw()
        .iter()
        .zip(ground.as_raw())
        .map(|(&p, &g)| strength_of(f32::from(p), f32::from(g), dark, floor))
        .collect();
    let (w, h) = img.dimensions();
    GrayImage::from_raw(w, h, strength).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Replaces each pixel of the `w × h` image by the maximum (`max`) or minimum of its
/// `(2r+1) × (2r+1)` neighbourhood (clipped to the image): rows, then columns, each as
/// [`window_extreme`] over the whole image at once, padded with the neutral value.
fn extreme_filter(img: &mut [u8], w: usize, h: usize, r: usize, max: bool) {
    let neutral = if max { 0u8 } else { 255 };
    let k = 2 * r + 1;
    // Rows: each padded by r on both sides, laid end to end; a window never leaves its row.
    let stride = w + 2 * r;
    let mut rows = vec![neutral; h * stride];
    for (dst, src) in rows.chunks_exact_mut(stride).zip(img.chunks_exact(w)) {
        dst[r..r + w].copy_from_slice(src);
    }
    let across = window_extreme(rows, k, 1, max);
    for (dst, src) in img.chunks_exact_mut(w).zip(across.chunks(stride)) {
        dst.copy_from_slice(&src[..w]);
    }
    // Columns: r neutral rows above and below; a window of k rows is a step of w.
    let mut cols = vec![neutral; (h + 2 * r) * w];
    cols[r * w..(r + h) * w].copy_from_slice(img);
    let down = window_extreme(cols, k, w, max);
    img.copy_from_slice(&down[..w * h]);
}

/// `out[i]` = extreme of `src[i]`, `src[i + step]`, …, `src[i + (k−1)·step]`, for every `i`
/// where the window fits: windows of 2, 4, 8 … elements by doubling, then two overlapping
/// ones; every pass is an element-wise max or min of two shifted slices, which vectorises.
fn window_extreme(src: Vec<u8>, k: usize, step: usize, max: bool) -> Vec<u8> {
    let pass = |cur: &[u8], shift: usize| -> Vec<u8> {
        let n = cur.len().saturating_sub(shift);
        let (a, b) = (&cur[..n], &cur[shift.min(cur.len())..]);
        if max {
            a.iter().zip(b).map(|(&x, &y)| x.max(y)).collect()
        } else {
            a.iter().zip(b).map(|(&x, &y)| x.min(y)).collect()
        }
    };
    let mut cur = src;
    let mut span = 1;
    while span * 2 <= k {
        cur = pass(&cur, span * step);
        span *= 2;
    }
    if span < k {
        cur = pass(&cur, (k - span) * step);
    }
    cur
}

/// Tallest merge of stroke pieces, over the page's typical mark height: a digit whose strokes
/// broke apart is no taller than its neighbours, two lines of writing are.
const STACKED: f32 = 1.4;

/// Widest blob kept, over its height: four touching digits.
pub const WIDEST: f32 = 4.5;

/// Merges the strokes of one digit, then keeps what is shaped like a digit; also gives the
/// heights of the marks at least a digit tall (map pixels). `per_half` is the map's pixels per
/// half-resolution pixel.
fn select(
    mut blobs: Vec<Blob>,
    width: u32,
    height: u32,
    cfg: &LocateConfig,
    per_half: u32,
) -> (Vec<Blob>, Vec<u32>) {
    let speck = 4 * per_half * per_half;
    let max_h = (cfg.max_height * height as f32) as u32;
    let touches_border =
        |r: &Rect| r.x == 0 || r.y == 0 || r.x + r.w >= width || r.y + r.h >= height;
    // Specks of a few pixels are noise, and what touches the border or is taller than a digit
    // can be neither a digit nor part of one: paper edges, the table, shadows.
    blobs.retain(|b| {
        b.area >= speck && !touches_border(&b.rect) && b.rect.h <= max_h && b.rect.w <= max_h
    });
    blobs.sort_by_key(|b| std::cmp::Reverse(b.area));
    // One writer writes one size on a page: a merge that would stack two lines of writing
    // into one box is refused. The size is the median height of the marks at least a digit
    // tall; with fewer than three such marks nothing is known and only `max_h` holds.
    let mut tall: Vec<u32> = blobs
        .iter()
        .map(|b| b.rect.h)
        .filter(|&h| h >= cfg.min_height)
        .collect();
    tall.sort_unstable();
    let typical = if tall.len() >= 3 {
        tall[tall.len() / 2]
    } else {
        0
    };
    let line_h = if tall.len() >= 3 {
        ((STACKED * typical as f32) as u32).min(max_h)
    } else {
        max_h
    };

    // Merge pieces that overlap a larger piece horizontally and nearly touch it vertically: a
    // pen that skips or fades breaks one digit's stroke, with gaps of up to a quarter of the
    // writing's height (not of the broken pieces', which are shorter than a digit).
    let mut merged: Vec<Blob> = Vec::new();
    for blob in blobs {
        let r = blob.rect;
        let host = merged.iter_mut().find(|m| {
            let o = m.rect;
            let overlap = (r.x + r.w).min(o.x + o.w) as i64 - r.x.max(o.x) as i64;
            let gap = r.y.max(o.y) as i64 - (r.y + r.h).min(o.y + o.h) as i64;
            let union = o.union(r);
            overlap as f32 >= 0.3 * r.w.min(o.w) as f32
                && gap as f32 <= 0.25 * o.h.max(r.h).max(typical) as f32
                && union.h <= line_h
                && union.w as f32 <= 1.8 * union.h as f32
        });
        match host {
            Some(m) => {
                m.rect = m.rect.union(r);
                m.labels.extend(blob.labels);
                m.area += blob.area;
            }
            None => merged.push(blob),
        }
    }
    merged.retain(|b| {
        let r = b.rect;
        let fill = b.area as f32 / (r.w * r.h) as f32;
        // A solid blob is not writing; a thin "1" may be solid, so the rule spares thin shapes.
        // Up to four touching digits may make one blob: the reader cuts them apart.
        r.h >= cfg.min_height
            && (r.w as f32) <= WIDEST * r.h as f32
            && (fill <= 0.85 || r.w * 3 < r.h)
    });
    // Drop pieces that ended up inside a kept digit's box (a loop's inside, a dot).
    let boxes: Vec<Rect> = merged.iter().map(|b| b.rect).collect();
    let kept = merged
        .into_iter()
        .enumerate()
        .filter(|(i, b)| {
            !boxes.iter().enumerate().any(|(j, o)| {
                j != *i
                    && o.w * o.h > b.rect.w * b.rect.h
                    && b.rect.x >= o.x
                    && b.rect.y >= o.y
                    && b.rect.x + b.rect.w <= o.x + o.w
                    && b.rect.y + b.rect.h <= o.y + o.h
            })
        })
        .map(|(_, b)| b)
        .collect();
    (kept, tall)
}

/// Half-resolution pixels from a ruling within which ink lies on it (`near`, in map pixels).
const ON_RULING: f32 = 2.0;

/// Whether most of a blob's ink lies on one of the rulings taken out, no darker than that
/// ruling's own ink: what is left of a printed line where it ran close to writing (a stretch
/// between two digits, a crossing) is the line, however much it looks like a "1"; a pen's
/// "1" written over a grid line is darker than the grid.
fn along_a_ruling(
    labels: &ImageBuffer<Luma<u32>, Vec<u32>>,
    strength: &GrayImage,
    blob: &Blob,
    lines: &[rulings::Line],
    near: f32,
) -> bool {
    let r = blob.rect;
    let mut on = vec![0u32; lines.len()];
    let mut n = 0u32;
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            if !blob.labels.contains(&labels.get_pixel(x, y)[0]) {
                continue;
            }
            n += 1;
            let s = f32::from(strength.get_pixel(x, y)[0]);
            for (k, l) in lines.iter().enumerate() {
                if l.distance(x as f32, y as f32) <= near && s <= rulings::DARKER * l.strength {
                    on[k] += 1;
                }
            }
        }
    }
    on.iter().any(|&k| k * 10 >= n * 6)
}

/// Largest brightness ratio asked of the ground around a mark over its ink (1 − darker/brighter
/// = 0.2). A faint mark is asked for less: half its own contrast over the local ground, since
/// pencil on paper is only 0.15–0.35 darker than the paper, while a strip of table along the
/// paper's edge is as dark as the table next to it whatever its contrast.
const GROUND_RATIO: f32 = 1.25;

/// Whether each side of a blob is bordered by ground rather than by more of what the blob is
/// made of: a strip of table along the paper's edge, taken for ink next to the bright paper,
/// has the dark table all along one side. Each side is compared, as a brightness ratio, with
/// the blob's own ink in the quarter of the box next to it, so a shadow falling across a
/// digit (darkening ink and ground alike) does not count against it. The box's other pixels
/// (inside loops, around strokes) must be ground too: in a solid blob wider than a stroke only
/// the rim reads as ink and the inside is as dark as the rim.
fn bordered_by_ground(
    gray: &GrayImage,
    ground: &GrayImage,
    labels: &ImageBuffer<Luma<u32>, Vec<u32>>,
    blob: &Blob,
    ink: Ink,
) -> bool {
    let r = blob.rect;
    let (w, h) = gray.dimensions();
    // Ink sums of the whole blob and of its four edge bands: left, right, top, bottom.
    let (bw, bh) = ((r.w / 4).max(1), (r.h / 4).max(1));
    let mut ink_sum = [0f32; 5];
    let mut ink_n = [0f32; 5];
    let (mut rest, mut m) = (0f32, 0f32);
    let mut ground_sum = 0f32;
    for y in r.y..r.y + r.h {
        for x in r.x..r.x + r.w {
            let v = f32::from(gray.get_pixel(x, y)[0]);
            if !blob.labels.contains(&labels.get_pixel(x, y)[0]) {
                rest += v;
                m += 1.0;
                continue;
            }
            ground_sum += f32::from(ground.get_pixel(x, y)[0]);
            let bands = [
                true,
                x < r.x + bw,
                x >= r.x + r.w - bw,
                y < r.y + bh,
                y >= r.y + r.h - bh,
            ];
            for (k, inside) in bands.iter().enumerate() {
                if *inside {
                    ink_sum[k] += v;
                    ink_n[k] += 1.0;
                }
            }
        }
    }
    if ink_n[0] == 0.0 {
        return false;
    }
    let ink_all = ink_sum[0] / ink_n[0];
    let ground_all = ground_sum / ink_n[0];
    let contrast = if ink == Ink::Light {
        1.0 - ground_all / ink_all.max(1.0)
    } else {
        1.0 - ink_all / ground_all.max(1.0)
    };
    let ratio = GROUND_RATIO.min(1.0 + 0.5 * contrast.max(0.0));
    let ink_near = |k: usize| {
        if ink_n[k] > 0.0 {
            ink_sum[k] / ink_n[k]
        } else {
            ink_all
        }
    };
    let d = (r.h / 8).max(2);
    let mean = |pts: &mut dyn Iterator<Item = (u32, u32)>| {
        let (mut s, mut k) = (0f32, 0f32);
        for (x, y) in pts {
            // Other components' ink next to a digit (its neighbours) says nothing of the ground.
            if x < w && y < h && labels.get_pixel(x, y)[0] == 0 {
                s += f32::from(gray.get_pixel(x, y)[0]);
                k += 1.0;
            }
        }
        (k > 0.0).then(|| s / k)
    };
    let sides = [
        r.x.checked_sub(d)
            .and_then(|x| mean(&mut (r.y..r.y + r.h).map(|y| (x, y)))),
        mean(&mut (r.y..r.y + r.h).map(|y| (r.x + r.w + d, y))),
        r.y.checked_sub(d)
            .and_then(|y| mean(&mut (r.x..r.x + r.w).map(|x| (x, y)))),
        mean(&mut (r.x..r.x + r.w).map(|x| (x, r.y + r.h + d))),
    ];
    if sides.iter().all(Option::is_none) {
        return false;
    }
    // Ground brighter than ink (dark ink) or darker (chalk) by the ratio.
    let light = ink == Ink::Light;
    let ground_like = |ground: f32, ink: f32| -> bool {
        let (ground, ink) = (ground.max(1.0), ink.max(1.0));
        if light {
            ink >= ratio * ground
        } else {
            ground >= ratio * ink
        }
    };
    let sides_ok = sides
        .iter()
        .enumerate()
        .all(|(k, s)| s.is_none_or(|s| ground_like(s, ink_near(k + 1))));
    // A thin solid stroke (a "1") leaves too few other pixels to judge its inside by.
    let inside_ok = m * 4.0 < ink_n[0] || m == 0.0 || ground_like(rest / m, ink_all);
    sides_ok && inside_ok
}

/// Widest gap between two digits of one number, over the digit height. People leave a space
/// about a digit wide between numbers and write a number's digits closer than half a digit
/// height; a narrow "1" between its neighbours leaves a wider gap between their ink, up to
/// about 0.7 of the height.
const NUMBER_GAP: f32 = 0.7;

/// Groups digits into numbers by linking each digit to its nearest right-hand neighbour on
/// the same line of writing (vertical overlap, a gap under [`NUMBER_GAP`]); links that are
/// mutual chain into numbers, so slanted lines and uneven baselines keep their numbers whole.
/// Numbers are then ordered line by line, left to right.
fn group(digits: &[Blob]) -> Vec<Vec<usize>> {
    let n = digits.len();
    let successor = |i: usize| -> Option<usize> {
        let a = digits[i].rect;
        (0..n)
            .filter(|&j| j != i)
            .filter_map(|j| {
                let b = digits[j].rect;
                let h = a.h.max(b.h) as f32;
                let gap = b.x as f32 - (a.x + a.w) as f32;
                let overlap = (a.y + a.h).min(b.y + b.h) as f32 - a.y.max(b.y) as f32;
                let starts_right = b.x as f32 + b.w as f32 / 2.0 > a.x as f32 + a.w as f32;
                (starts_right
                    && gap <= NUMBER_GAP * h
                    && gap >= -0.3 * h
                    && overlap >= 0.4 * a.h.min(b.h) as f32)
                    .then_some((gap, j))
            })
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, j)| j)
    };
    let next: Vec<Option<usize>> = (0..n).map(successor).collect();
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for (i, s) in next.iter().enumerate() {
        if let Some(j) = *s {
            // Keep the closer of two digits claiming the same successor.
            let closer = prev[j].is_none_or(|k| digits[i].rect.x > digits[k].rect.x);
            if closer {
                prev[j] = Some(i);
            }
        }
    }
    let mut numbers: Vec<Vec<usize>> = Vec::new();
    for start in (0..n).filter(|&i| prev[i].is_none()) {
        let mut chain = vec![start];
        let mut at = start;
        while let Some(j) = next[at].filter(|&j| prev[j] == Some(at)) {
            chain.push(j);
            at = j;
        }
        numbers.push(chain);
    }
    // Reading order: lines by vertical centre (half a digit height apart), then left to right.
    let mut heights: Vec<u32> = digits.iter().map(|d| d.rect.h).collect();
    heights.sort_unstable();
    let typical = heights.get(n / 2).copied().unwrap_or(1) as f32;
    let key = |num: &Vec<usize>| {
        let r = digits[num[0]].rect;
        (r.cy(), r.x)
    };
    numbers.sort_by(|a, b| key(a).0.total_cmp(&key(b).0));
    let mut lines: Vec<Vec<Vec<usize>>> = Vec::new();
    for num in numbers {
        let cy = key(&num).0;
        match lines.last_mut() {
            Some(line) if (cy - key(&line[0]).0).abs() <= 0.5 * typical => line.push(num),
            _ => lines.push(vec![num]),
        }
    }
    lines
        .into_iter()
        .flat_map(|mut line| {
            line.sort_by_key(|num| key(num).1);
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
        let half = locate_at(&img, &LocateConfig::default(), 2).found;
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
}

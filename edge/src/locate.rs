//! Finds the digits in a grey frame `[H, W]`: a background estimate that follows uneven light
//! and shadows (and the paper's print, where the writing is as faint as it), ink strength
//! relative to it (either polarity), connected components (by runs,
//! tested against imageproc's labelling), rejection of what is not a digit (specks, paper
//! edges, lines, solid blobs), merging of the strokes of one digit, and grouping into numbers
//! read left to right, line after line.

mod components;
mod geometry;
mod ground;
mod group;
pub mod ink;
mod lines;
mod print;
pub mod rulings;
mod select;

use image::{GrayImage, ImageBuffer, Luma};

pub use geometry::{ink_runs, Blob, Rect};
pub use ground::strength_of;
pub use group::WIDER_THAN_TYPICAL;
pub use select::WIDEST;

pub(crate) use ground::extreme_filter;
use ground::{downsample, full_resolution, ground_level, ink_strength, noise_sigma, vote_polarity};
pub(crate) use group::group;
use select::{along_a_ruling, bordered_by_ground, select, ON_RULING};

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
    /// Light ink (chalk on a board, whose dust and smudges are strong) and the polarity vote
    /// use it.
    pub noise_floor: f32,
    /// [`Self::noise_floor`] for dark ink on paper with no pen's stroke on it: paper is smooth,
    /// and pencil in a dim frame (a hand's or a phone's shadow) darkens it by only 5–7 grey
    /// levels, of which a floor of 4 leaves too little; raised to 4σ of the sensor noise the
    /// same way.
    pub paper_floor: f32,
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
            paper_floor: 3.0,
            min_height: 10,
            max_height: 0.4,
        }
    }
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
    /// Strength from which a pixel may be ink, above the frame's paper texture
    /// ([`ink::InkLevels::above_ground`]).
    pub faint: u8,
    /// Map pixels on the paper's printed lines ([`rulings::printed`]); empty where none were found.
    pub printed: Vec<u8>,
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

/// Share of the map's pixels (999 in 1,000) under whose strength the page's strongest ink
/// lies: a page whose strongest thousandth stays under [`PEN_STROKE`] holds no pen's stroke,
/// and only such a page takes [`LocateConfig::paper_floor`].
const PENCIL_PAGE: (u32, u32) = (999, 1000);

/// Relative contrast that a pen's stroke reaches and pencil does not: a pen's core is 0.7–0.9
/// darker than its paper, pencil's 0.15–0.35, and the sheet's edge or a shadow's between. On
/// a page written in pen the lower floor finds nothing more, and next to the pen's strokes a
/// compressed stream's ringing (H.264 from an IP camera) reaches three grey levels.
const PEN_STROKE: f32 = 0.65;

/// Relative contrast at which the strength map saturates.
pub(crate) const FULL: f32 = 1.0;

/// Height in frame pixels under which writing is small: the gap between two strokes of such a
/// digit, or between two digits written close, is a pixel or two, which the 2×2 mean of the
/// half-resolution map blurs shut, so neighbouring digits run together into one mark and the
/// loops of a small "8" fill in. A frame whose marks are this small (a page held at arm's
/// length, a whole sheet before a 640×480 camera) is read again at full resolution.
pub const SMALL_WRITING: u32 = 30;

/// Share of a page's pixels under the strength of its writing, in hundredths: ink covers a few
/// percent of a page, so the strongest percent is writing (or the print, where the print is
/// stronger).
const WRITING: u32 = 99;

/// Finds the digits of `frame`: on the half-resolution map, and again at full resolution where
/// the writing is small ([`SMALL_WRITING`]).
pub fn locate(frame: &GrayImage, cfg: &LocateConfig) -> Located {
    let mut half = locate_at(frame, cfg, 2, None);
    half.marks.sort_unstable();
    // The frame's polarity is the same at either resolution: the full-resolution pass takes
    // the half-resolution vote instead of voting again.
    let full = LocateConfig {
        ink: half.found.ink,
        ..cfg.clone()
    };
    match half.marks.get(half.marks.len() / 2) {
        Some(&h) if h < SMALL_WRITING => locate_at(frame, &full, 1, half.tilts).found,
        // Ink, but no mark a digit tall: the thin strokes of small writing fall apart at half
        // resolution (a stroke two pixels wide across two map pixels keeps half its strength).
        None if half.pieces > 0 => locate_at(frame, &full, 1, half.tilts).found,
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
    /// The tilts of the print, where they were sought ([`print::Tilts`]).
    tilts: Option<print::Tilts>,
}

/// Finds the digits of `frame` on a map `scale` frame pixels to the map pixel (1 or 2);
/// `tilts`, the print's tilts where another pass found them.
fn locate_at(
    frame: &GrayImage,
    cfg: &LocateConfig,
    scale: u32,
    tilts: Option<print::Tilts>,
) -> Pass {
    let scale = scale.clamp(1, 2);
    // Map pixels per half-resolution pixel: the sizes below are said at half resolution.
    let per_half = 2 / scale;
    let map = if scale == 2 {
        downsample(frame)
    } else {
        full_resolution(frame)
    };
    // Sensor noise that survives the map's 2×2 mean (which halves it) sets the noise floor.
    let noise = 4.0 * noise_sigma(frame) / 2.0;
    let floor = cfg.noise_floor.max(noise);
    let stroke = cfg.stroke.div_ceil(scale);
    let (ink, ground) = match cfg.ink {
        Ink::Auto => {
            let closed = ground_level(&map, Ink::Dark, stroke);
            let opened = ground_level(&map, Ink::Light, stroke);
            match vote_polarity(&map, floor, &closed, &opened) {
                Ink::Light => (Ink::Light, opened),
                _ => (Ink::Dark, closed),
            }
        }
        fixed => (fixed, ground_level(&map, fixed, stroke)),
    };
    let level = |c: f32| (c / FULL * 255.0).round().clamp(1.0, 255.0) as u8;
    let mut ground = ground;
    let mut strength = ink_strength(&map, &ground, ink, floor);
    // Pencil's lower floor only on a page with no pen's stroke (`PENCIL_PAGE`).
    let floor = if ink == Ink::Dark
        && cfg.paper_floor < floor
        && ink::percentile(&strength, PENCIL_PAGE.0, PENCIL_PAGE.1) < level(PEN_STROKE)
    {
        let paper = cfg.paper_floor.max(noise);
        strength = ink_strength(&map, &ground, ink, paper);
        paper
    } else {
        floor
    };
    let base = ink::InkLevels {
        faint: level(cfg.faint),
        mark: level(cfg.threshold),
        edge: cfg.edge,
        ridges: scale == 2,
    };
    let mut levels = base.above_ground(&strength);
    // The page's texture lifted the levels: on squared or ruled paper that is its print. Where
    // the writing is no stronger over the print than the level the print set (pencil on a fine
    // grid), the print is taken into the ground ([`print`]) and the levels set again over it.
    let mut found_tilts = None;
    if cfg.rulings && ink == Ink::Dark && levels.faint > base.faint {
        let t = tilts.unwrap_or_else(|| print::Tilts::of(&strength));
        found_tilts = Some(t);
        let mut with_print = ground.clone();
        print::into_ground(&map, &mut with_print, t, print::LENGTH);
        let over_print = ink_strength(&map, &with_print, ink, floor);
        if ink::percentile(&over_print, WRITING, 100) < levels.mark {
            let least = print::residue_level(levels.faint);
            levels = base.above_ground(&over_print);
            levels.faint = levels.faint.max(least);
            levels.mark = levels.mark.max(least.saturating_mul(2));
            ground = with_print;
            strength = over_print;
        }
    }
    let (mw, mh) = strength.dimensions();
    let (mw, mh) = (mw as usize, mh as usize);
    // A stroke's reach: its core lies within this many map pixels of its edges.
    let mut local = strength.as_raw().clone();
    extreme_filter(&mut local, mw, mh, REACH * per_half as usize, true);
    let ink::Masks {
        ink: mut mask,
        seen: mut whole,
        marks: faint_marks,
        mark_boxes: faint_boxes,
    } = ink::masks(&strength, &local, levels);
    let lines = if cfg.rulings {
        rulings::remove(
            mask.as_mut(),
            whole.as_mut(),
            strength.as_raw(),
            mw,
            mh,
            levels.mark,
            per_half,
        )
    } else {
        Vec::new()
    };
    let printed = rulings::printed(&lines, mw, mh, ON_RULING * per_half as f32);
    let (labels, components) = components::label(&mask);
    // Labels run from 1 to the number of components.
    let label_count = components.len() + 1;
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
    // The mark at the faint level that each component's pixels belong to.
    let mut mark_of = vec![0u32; label_count];
    for (&l, &m) in labels.as_raw().iter().zip(&faint_marks) {
        if l != 0 {
            if let Some(k) = mark_of.get_mut(l as usize) {
                *k = m;
            }
        }
    }
    let map_size = (map.width(), map.height());
    let (mut digits, marks) = select(components, map_size, &map_cfg, per_half, &mark_of);
    let marks = marks.into_iter().map(|h| h * scale).collect();
    let pen = select::of_the_pen(&digits, &labels, &strength);
    let mut pen = pen.into_iter();
    digits.retain(|d| {
        let keep = pen.next().unwrap_or(true);
        logged(keep, "fainter than the page's pen", d.rect, scale)
    });
    digits.retain(|d| {
        let keep = bordered_by_ground(&map, &ground, &labels, &printed, d, ink);
        logged(keep, "not bordered by ground", d.rect, scale)
    });
    if !lines.is_empty() {
        let near = ON_RULING * per_half as f32;
        digits.retain(|d| {
            let keep = !along_a_ruling(&labels, &strength, d, &lines, near);
            logged(keep, "along a ruling", d.rect, scale)
        });
    }
    // Writing on one page has one size: marks far smaller than the typical digit are specks,
    // dots and scribbles.
    if digits.len() >= 3 {
        let mut heights: Vec<u32> = digits.iter().map(|d| d.rect.h).collect();
        heights.sort_unstable();
        let typical = heights[heights.len() / 2] as f32;
        digits.retain(|d| {
            let keep = d.rect.h as f32 >= 0.55 * typical;
            logged(keep, "short beside the writing", d.rect, scale)
        });
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
    mark_boxes(&mut digits, &mark_of, &faint_boxes, scale, (fw, fh));
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
    let mut owned = vec![false; label_count];
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
            faint: levels.faint,
            printed,
            labels,
            owned,
            digits,
            numbers,
        },
        marks,
        pieces,
        tilts: found_tilts,
    }
}

/// Sets each digit's [`Blob::mark`]: its own box joined with the boxes, in frame pixels, of the
/// faint-level marks its components belong to (`mark_of` gives each component's mark,
/// `faint_boxes` each mark's box on the map, `scale` frame pixels to the map pixel).
fn mark_boxes(
    digits: &mut [Blob],
    mark_of: &[u32],
    faint_boxes: &[Rect],
    scale: u32,
    (fw, fh): (u32, u32),
) {
    for d in digits.iter_mut() {
        // The box so far is on the map: start again from the digit's own in frame pixels.
        d.mark = d.rect;
        for &l in &d.labels {
            let Some(&m) = mark_of.get(l as usize).filter(|&&m| m != 0) else {
                continue;
            };
            if let Some(r) = faint_boxes
                .get(m as usize - 1)
                .filter(|r| r.w > 0 && r.h > 0)
            {
                let (x, y) = ((r.x * scale).min(fw - 1), (r.y * scale).min(fh - 1));
                d.mark = d.mark.union(Rect {
                    x,
                    y,
                    w: (r.w * scale).min(fw - x),
                    h: (r.h * scale).min(fh - y),
                });
            }
        }
    }
}

/// Map pixels across the band that [`Located::printed`] marks along each printed line, on a
/// map of `scale` frame pixels to the map pixel.
pub fn printed_band(scale: u32) -> usize {
    let per_half = 2 / scale.clamp(1, 2);
    (2.0 * ON_RULING * per_half as f32) as usize + 1
}

/// `keep`, after logging (at debug level) a mark the finder drops, `why`, with its map box
/// `r` as `[x,y,w,h]` in frame pixels: matched against a scene's truth, the log says which
/// rule lost a written digit.
fn logged(keep: bool, why: &str, r: Rect, scale: u32) -> bool {
    if !keep {
        let (x, y, w, h) = (r.x * scale, r.y * scale, r.w * scale, r.h * scale);
        tracing::debug!("locate: dropped, {why}: [{x},{y},{w},{h}]");
    }
    keep
}

#[cfg(test)]
mod tests;

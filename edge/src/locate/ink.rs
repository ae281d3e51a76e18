//! Which pixels are ink, from the ink-strength map `[H, W]` (0 = ground, 255 = full ink).
//!
//! Pens differ in how dark they write by a factor of five (pencil lays 0.15–0.35 of relative
//! contrast, a marker 0.9), so no single level separates ink from paper on every page. What
//! every pen shares is the shape of a stroke across its width: a core and edges that fade
//! into the paper through the camera's blur. So a mark is taken whole down to a faint level
//! (hysteresis: connected pixels above [`InkLevels::faint`]), kept only if its core reaches
//! [`InkLevels::mark`] (paper grain and JPEG noise never build a core), and each pixel is then
//! cut at a fixed fraction of the strongest ink within a stroke's reach of it
//! ([`InkLevels::edge`] of the local core: the half-maximum width of a blurred stroke). A
//! pencil digit and a marker digit come out as strokes of their drawn width, a digit half in
//! shadow keeps both halves, and the blurred halos by which two dark strokes nearly touch
//! fall away. A stroke's middle line is kept further down ([`InkLevels::ridges`]): a pen
//! that fades along a stroke leaves a weaker stretch beside a strong one, not an edge.

use image::GrayImage;

use super::components;
use super::geometry::Rect;

/// The three levels of the ink decision, as strength values (0..=255).
#[derive(Clone, Copy, Debug)]
pub struct InkLevels {
    /// Pixels at or above this, connected, make up one mark.
    pub faint: u8,
    /// A mark whose strongest pixels stay under this is paper texture, not ink.
    pub mark: u8,
    /// A mark's pixels under this fraction of its core's strength are its blurred edge.
    pub edge: f32,
    /// Keep the middle line of a stroke that fades along its length (a ballpoint under lighter
    /// pressure) down to half the edge fraction, where it is at least a mark's core: a stretch
    /// of stroke under half the strength of the stretch beside it is otherwise cut away as that
    /// stretch's blurred edge, and the digit falls apart. Off on the full-resolution map of
    /// small writing, where a pixel either side is the whole gap between two digits.
    pub ridges: bool,
}

impl InkLevels {
    /// The levels raised above what the frame's ground reaches: ink covers far less than a
    /// fifth of a page, so the strength under which 80% of pixels lie is noise (on a dark
    /// board, a few grey levels of sensor noise are a large relative contrast). The faint
    /// level stays at twice that, and a mark's core at twice the faint level.
    pub fn above_ground(self, strength: &GrayImage) -> InkLevels {
        let p80 = u32::from(percentile(strength, 4, 5));
        let faint = self.faint.max((2 * p80).min(255) as u8);
        InkLevels {
            faint,
            mark: self.mark.max(faint.saturating_mul(2)),
            ..self
        }
    }
}

/// The strength under which `parts` in `of` of the pixels of `strength` lie (every third
/// pixel counted).
pub fn percentile(strength: &GrayImage, parts: u32, of: u32) -> u8 {
    let mut hist = [0u32; 256];
    for &s in strength.as_raw().iter().step_by(3) {
        hist[usize::from(s)] += 1;
    }
    level_under(&hist, parts, of)
}

/// The level under which `parts` in `of` of a histogram's pixels lie; 255 where it is empty.
pub fn level_under(hist: &[u32; 256], parts: u32, of: u32) -> u8 {
    let total: u32 = hist.iter().sum();
    let mut seen = 0;
    hist.iter()
        .position(|&n| {
            seen += n;
            total > 0 && seen * of >= total * parts
        })
        .unwrap_or(255) as u8
}

/// The ink mask (1 = ink) of `strength` under `levels`; `local` is the strongest ink within a
/// stroke's reach of each pixel (a maximum filter of `strength`).
pub fn mask(strength: &GrayImage, local: &[u8], levels: InkLevels) -> GrayImage {
    masks(strength, local, levels).ink
}

/// The masks of one ink decision ([`masks`]).
pub struct Masks {
    /// The ink mask of [`mask`].
    pub ink: GrayImage,
    /// Every mark whatever its core (paper texture included), cut at its edges alike: in it a
    /// printed line as pale as the texture is whole.
    pub seen: GrayImage,
    /// Per pixel, the mark it belongs to at the faint level (connected pixels at or above
    /// [`InkLevels::faint`], before the cut at the edges), 0 for none.
    pub marks: Vec<u32>,
    /// The box of each mark on the map (mark `m` at index `m − 1`).
    pub mark_boxes: Vec<Rect>,
}

/// The ink mask of [`mask`], the mask of every mark, and the marks at the faint level.
pub fn masks(strength: &GrayImage, local: &[u8], levels: InkLevels) -> Masks {
    let (w, h) = strength.dimensions();
    let faint: Vec<u8> = strength
        .as_raw()
        .iter()
        .map(|&s| u8::from(s >= levels.faint))
        .collect();
    let faint = GrayImage::from_raw(w, h, faint).unwrap_or_else(|| GrayImage::new(w, h));
    let (labels, blobs) = components::label(&faint);
    // The core of a mark: its 90th-percentile strength, so a lone hot pixel (a JPEG block
    // corner) does not make a core.
    let mut hist = vec![[0u32; 64]; blobs.len() + 1];
    for (&l, &s) in labels.as_raw().iter().zip(strength.as_raw()) {
        if l != 0 {
            hist[l as usize][usize::from(s >> 2)] += 1;
        }
    }
    let keep: Vec<bool> = hist
        .iter()
        .map(|bins| {
            let total: u32 = bins.iter().sum();
            let mut seen = 0;
            let bin = bins
                .iter()
                .rposition(|&n| {
                    seen += n;
                    seen * 10 > total
                })
                .unwrap_or(0);
            ((bin as u32) << 2) + 2 >= u32::from(levels.mark)
        })
        .collect();
    let (mut out, mut all) = (vec![0u8; labels.len()], vec![0u8; labels.len()]);
    let raw = strength.as_raw();
    let (wu, hu) = (w as usize, h as usize);
    // The middle of a stroke across its width: in some direction no weaker than the two
    // pixels either side of it and stronger than both pixels two away (the rim of a stroke's
    // blur, or of the halo between two strokes, has more of it on one side), and in no
    // direction weaker than both its neighbours (a saddle, where two strokes' blurred edges
    // meet).
    let ridge = |i: usize| {
        let (x, y) = (i % wu, i / wu);
        if x < 2 || y < 2 || x + 2 >= wu || y + 2 >= hu {
            return false;
        }
        let s = raw[i];
        let at = |k: isize| raw[(i as isize + k) as usize];
        let steps = [1isize, wu as isize, wu as isize + 1, wu as isize - 1];
        steps
            .iter()
            .any(|&d| s >= at(-d).max(at(d)) && s > at(-2 * d).max(at(2 * d)))
            && !steps.iter().any(|&d| s < at(-d) && s < at(d))
    };
    for (i, ((&l, &s), &m)) in labels
        .as_raw()
        .iter()
        .zip(strength.as_raw())
        .zip(local)
        .enumerate()
    {
        if l != 0
            && (f32::from(s) >= levels.edge * f32::from(m)
                || (levels.ridges
                    && s >= levels.mark
                    && f32::from(s) >= 0.5 * levels.edge * f32::from(m)
                    && ridge(i)))
        {
            all[i] = 1;
            out[i] = u8::from(keep[l as usize]);
        }
    }
    let image = |v: Vec<u8>| GrayImage::from_raw(w, h, v).unwrap_or_else(|| GrayImage::new(w, h));
    Masks {
        ink: image(out),
        seen: image(all),
        marks: labels.into_raw(),
        mark_boxes: blobs.into_iter().map(|b| b.rect).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    const LEVELS: InkLevels = InkLevels {
        faint: 18,
        mark: 36,
        edge: 0.5,
        ridges: true,
    };

    /// A vertical stroke of `core` strength, 3 pixels wide, with 2 pixels of half-strength
    /// blur on each side.
    fn stroke(img: &mut GrayImage, x: u32, core: u8) {
        for y in 10..40 {
            for dx in 0..7u32 {
                let v = if (2..5).contains(&dx) { core } else { core / 3 };
                img.put_pixel(x + dx, y, Luma([v]));
            }
        }
    }

    /// The mask with the local core taken over ±3 pixels, as the finder does.
    fn mask(strength: &GrayImage, levels: InkLevels) -> GrayImage {
        let (w, h) = strength.dimensions();
        let local: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let mut m = 0;
                for yy in y.saturating_sub(3)..(y + 4).min(h) {
                    for xx in x.saturating_sub(3)..(x + 4).min(w) {
                        m = m.max(strength.get_pixel(xx, yy)[0]);
                    }
                }
                m
            })
            .collect();
        super::mask(strength, &local, levels)
    }

    fn columns(m: &GrayImage) -> Vec<u32> {
        (0..m.width())
            .filter(|&x| m.get_pixel(x, 20)[0] != 0)
            .collect()
    }

    /// The level under which a share of a histogram lies, counted exactly at the boundary (the
    /// 90th percentile of ten pixels is the ninth), and 255 for an empty histogram.
    #[test]
    fn level_under_counts_the_share_exactly_and_an_empty_histogram_is_full() {
        let mut hist = [0u32; 256];
        for v in 1..=10u8 {
            hist[usize::from(v) * 10] = 1;
        }
        assert_eq!(level_under(&hist, 9, 10), 90);
        assert_eq!(level_under(&hist, 4, 5), 80);
        assert_eq!(level_under(&hist, 1, 1), 100);
        assert_eq!(level_under(&[0; 256], 9, 10), 255);
    }

    #[test]
    fn faint_and_dark_strokes_come_out_at_their_core_width() {
        for core in [60u8, 120, 250] {
            let mut img = GrayImage::new(40, 50);
            stroke(&mut img, 10, core);
            let m = mask(&img, LEVELS);
            assert_eq!(columns(&m), vec![12, 13, 14], "core {core}");
        }
    }

    #[test]
    fn paper_texture_without_a_core_is_not_ink() {
        // Grain just over the faint level everywhere, never reaching a mark's core.
        let img = GrayImage::from_fn(60, 60, |x, y| Luma([18 + ((x * 7 + y * 13) % 15) as u8]));
        assert!(mask(&img, LEVELS).as_raw().iter().all(|&v| v == 0));
    }

    /// A ballpoint that fades under lighter pressure (issue 13): a stroke whose lower half is
    /// under half as strong as its upper half stays one mark, its faded stretch no longer cut
    /// away as the blurred edge of the strong one beside it.
    #[test]
    fn issue13_a_stroke_that_fades_along_its_length_stays_whole() {
        let mut img = GrayImage::new(40, 60);
        for y in 10..45 {
            let core = if y < 25 { 240 } else { 90 };
            for dx in 0..7u32 {
                let v = if (2..5).contains(&dx) { core } else { core / 3 };
                img.put_pixel(10 + dx, y, Luma([v]));
            }
        }
        let count = |levels: InkLevels| components::label(&mask(&img, levels)).1.len();
        assert_eq!(count(LEVELS), 1);
        assert_eq!(
            count(InkLevels {
                ridges: false,
                ..LEVELS
            }),
            2,
            "without ridges the faded stretch next to the strong one is cut"
        );
    }

    #[test]
    fn the_blurred_halo_joining_two_dark_strokes_is_cut() {
        // Two dark strokes whose blurred edges overlap: one mark at the faint level, two at
        // half of its core.
        let mut img = GrayImage::new(40, 50);
        stroke(&mut img, 5, 240);
        stroke(&mut img, 10, 240);
        let m = mask(&img, LEVELS);
        let (_, blobs) = components::label(&m);
        assert_eq!(blobs.len(), 2);
    }
}

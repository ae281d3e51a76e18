//! Turns a found digit into a model input `[S, S]` of u8 (ink bright) the way MNIST was made:
//! its ink strength, without the ink of other digits or the paper's texture and printed lines
//! away from its strokes, fitted into a 20×20 box keeping its aspect ratio, placed on 28×28
//! with its centre of mass in the middle (sizes scale with `S`).

use image::GrayImage;

use crate::locate::ink::level_under;
use crate::locate::{extreme_filter, strength_of, Blob, Ink, Located};

/// Frame pixels off a digit's strokes that its input keeps whatever their strength: the soft
/// edge the camera's blur gives a stroke.
const EDGE_WIDTH: usize = 2;

/// Fraction of the side the digit's longer side is fitted into (MNIST: 20 of 28).
pub const FIT: f32 = 20.0 / 28.0;

/// The `side × side` input for `blob` of `frame`, ink bright on a zero ground: the ink
/// strength at full resolution over the finder's ground (less twice the noise floor, which
/// keeps blur and JPEG halos out), without the pixels of other digits.
pub fn digit(frame: &GrayImage, found: &Located, blob: &Blob, side: usize) -> Vec<u8> {
    piece(frame, found, blob, None, side)
}

/// A part of a blob: the pixels between two cuts' courses down the blob (and within `rows`),
/// and its box. A course bends around the strokes of neighbouring digits that lean over each
/// other, so each row of the finder's map has its own span.
#[derive(Clone, Debug, PartialEq)]
pub struct Cut {
    /// Frame row of `spans`' first entry.
    pub top: u32,
    /// Frame rows per entry of `spans` (the finder's map scale).
    pub step: u32,
    /// Per map row from `top`, the frame columns `[from, to)` the part holds; rows above or
    /// below take the nearest entry; empty: every column.
    pub spans: Vec<(u32, u32)>,
    /// Rows `[top, bottom)` of the part, frame pixels: a line of writing cut from the one
    /// below it ([`crate::segment::stacked`]); unbounded for a cut across a line.
    pub rows: (f32, f32),
    /// The part's own box in frame pixels.
    pub rect: crate::locate::Rect,
}

impl Cut {
    /// Whether frame pixel `(x, y)` lies in the part.
    #[inline]
    pub fn holds(&self, x: u32, y: u32) -> bool {
        let yc = y as f32 + 0.5;
        if yc < self.rows.0 || yc >= self.rows.1 {
            return false;
        }
        let Some(last) = self.spans.len().checked_sub(1) else {
            return true;
        };
        let i = ((y.saturating_sub(self.top) / self.step.max(1)) as usize).min(last);
        let (from, to) = self.spans[i];
        x >= from && x < to
    }
}

/// The input for `blob`, or for the part of it that `cut` keeps (see [`digit`]).
pub fn piece(
    frame: &GrayImage,
    found: &Located,
    blob: &Blob,
    cut: Option<&Cut>,
    side: usize,
) -> Vec<u8> {
    let r = cut.map_or(blob.rect, |c| c.rect);
    // One pixel of margin keeps the soft edge of the strokes.
    let (fw, fh) = frame.dimensions();
    let (hw, hh) = found.labels.dimensions();
    let x0 = r.x.saturating_sub(1);
    let y0 = r.y.saturating_sub(1);
    let x1 = (r.x + r.w + 1).min(fw);
    let y1 = (r.y + r.h + 1).min(fh);
    let dark = found.ink != Ink::Light;
    let (cw, ch) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let (fw, hw, hh) = (fw as usize, hw as usize, hh as usize);
    let (pixels, labels, ground) = (frame.as_raw(), found.labels.as_raw(), found.ground.as_raw());
    let floor = 2.0 * found.floor;
    let scale = found.scale.max(1) as usize;
    // The digit's own ink, or stray pieces of ink no digit owns (broken off its strokes).
    let ours = |label: u32| {
        label != 0
            && (blob.labels.contains(&label)
                || !found.owned.get(label as usize).copied().unwrap_or(true))
    };
    let (mx0, my0) = (
        (x0 as usize / scale).saturating_sub(1),
        (y0 as usize / scale).saturating_sub(1),
    );
    let (mx1, my1) = (
        ((x1 as usize - 1) / scale + 2).min(hw),
        ((y1 as usize - 1) / scale + 2).min(hh),
    );
    let mwid = mx1 - mx0;
    // Map pixels of the crop next to that ink: the ground pixels among them hold its strokes'
    // soft edges.
    let mut beside: Vec<u8> = (my0..my1)
        .flat_map(|my| labels[my * hw + mx0..my * hw + mx1].iter())
        .map(|&l| u8::from(ours(l)))
        .collect();
    extreme_filter(
        &mut beside,
        mwid,
        my1 - my0,
        (EDGE_WIDTH / scale).max(1),
        true,
    );
    let strength = found.strength.as_raw();
    let mut own = Vec::with_capacity(cw * ch);
    let mut raw = vec![0u8; cw * ch];
    for (y, out) in raw.chunks_exact_mut(cw.max(1)).enumerate() {
        let fy = y0 as usize + y;
        let hy = (fy / scale).min(hh - 1);
        let row = &pixels[fy * fw..(fy + 1) * fw];
        let (label_row, ground_row) = (
            &labels[hy * hw..(hy + 1) * hw],
            &ground[hy * hw..(hy + 1) * hw],
        );
        for (x, o) in out.iter_mut().enumerate() {
            let fx = x0 as usize + x;
            if cut.is_some_and(|c| !c.holds(fx as u32, fy as u32)) {
                continue;
            }
            let hx = (fx / scale).min(hw - 1);
            let label = label_row[hx];
            // Another digit's ink.
            if label != 0 && !ours(label) {
                continue;
            }
            // Off the strokes and their soft edges, only ink as strong as a faded stretch of
            // stroke is the digit's; paper texture, and the paper's printed lines, are not.
            let m = hy * hw + hx;
            if label == 0
                && beside[(hy - my0) * mwid + hx - mx0] == 0
                && (strength[m] < found.faint || found.printed.get(m).is_some_and(|&p| p != 0))
            {
                continue;
            }
            let v = strength_of(f32::from(row[fx]), f32::from(ground_row[hx]), dark, floor);
            if label != 0 {
                own.push(v);
            }
            *o = v;
        }
    }
    let mut crop = GrayImage::from_raw(cw as u32, ch as u32, raw)
        .unwrap_or_else(|| GrayImage::new(cw as u32, ch as u32));
    // Stretch so the digit's own strong ink is full white, as every MNIST digit's is: pale
    // and dark inks then give the same stroke profile.
    let mut hist = [0u32; 256];
    for &v in &own {
        hist[usize::from(v)] += 1;
    }
    let peak = u32::from(level_under(&hist, 9, 10).max(1));
    let mut stretch = [0u8; 256];
    for (v, s) in stretch.iter_mut().enumerate() {
        *s = (v as u32 * 255 / peak).min(255) as u8;
    }
    for p in crop.pixels_mut() {
        p[0] = stretch[usize::from(p[0])];
    }
    place(&crop, side)
}

/// Fits `ink` (bright on zero) into the MNIST box and centres it by mass on `side × side`.
pub fn place(ink: &GrayImage, side: usize) -> Vec<u8> {
    let mut out = vec![0u8; side * side];
    let (w, h) = ink.dimensions();
    if w == 0 || h == 0 {
        return out;
    }
    let fit = (FIT * side as f32).round().max(1.0);
    let scale = fit / w.max(h) as f32;
    let nw = ((w as f32 * scale).round() as u32).clamp(1, side as u32);
    let nh = ((h as f32 * scale).round() as u32).clamp(1, side as u32);
    let small = resize_triangle(ink, nw, nh);
    let (mut mass, mut mx, mut my) = (0f32, 0f32, 0f32);
    for (x, y, p) in small.enumerate_pixels() {
        let v = f32::from(p[0]);
        mass += v;
        mx += v * (x as f32 + 0.5);
        my += v * (y as f32 + 0.5);
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (nw as f32 / 2.0, nh as f32 / 2.0)
    };
    let half = side as f32 / 2.0;
    let ox = ((half - cx).round() as i64).clamp(0, (side as u32 - nw) as i64) as usize;
    let oy = ((half - cy).round() as i64).clamp(0, (side as u32 - nh) as i64) as usize;
    for (x, y, p) in small.enumerate_pixels() {
        out[(oy + y as usize) * side + ox + x as usize] = p[0];
    }
    out
}

/// Input pixels and weights of one output pixel along an axis of `len` input pixels resampled
/// to `new_len`: the triangle (linear) filter, widened by the ratio when shrinking.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output pixel along one axis, computed as `image`'s `resize` computes them
/// (the same operations in the same order), so the result is bit for bit the same.
fn triangle_taps(len: u32, new_len: u32) -> Vec<Taps> {
    let ratio = len as f32 / new_len as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = sratio;
    (0..new_len)
        .map(|o| {
            let centre = (o as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, i64::from(len) - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, i64::from(len));
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| {
                    let x = ((i as f32 - centre) / sratio).abs();
                    if x < 1.0 {
                        1.0 - x
                    } else {
                        0.0
                    }
                })
                .collect();
            let mut sum = 0.0;
            for w in &weights {
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                first: left as usize,
                weights,
            }
        })
        .collect()
}

/// `ink` resampled to `nw × nh` with the triangle filter: the same pixels as
/// `image::imageops::resize(ink, nw, nh, FilterType::Triangle)` (columns, then rows, through
/// f32), on one grey channel where that function works on four.
fn resize_triangle(ink: &GrayImage, nw: u32, nh: u32) -> GrayImage {
    let (w, h) = ink.dimensions();
    if w == 0 || h == 0 {
        return GrayImage::new(nw, nh);
    }
    if (nw, nh) == (w, h) {
        return ink.clone();
    }
    let (wu, nwu) = (w as usize, nw as usize);
    let src = ink.as_raw();
    // Down the columns: `nh` rows of `w` values.
    let mut tall = vec![0f32; wu * nh as usize];
    for (row, taps) in tall.chunks_exact_mut(wu).zip(triangle_taps(h, nh)) {
        // Tap by tap over the whole row: each output pixel sums its taps in the same order as
        // pixel by pixel, and the row's loop runs over contiguous memory.
        for (i, &wgt) in taps.weights.iter().enumerate() {
            let line = &src[(taps.first + i) * wu..][..wu];
            for (out, &p) in row.iter_mut().zip(line) {
                *out += f32::from(p) * wgt;
            }
        }
    }
    // Across the rows, rounded to the nearest grey level.
    let across = triangle_taps(w, nw);
    let mut out = vec![0u8; nwu * nh as usize];
    for (dst, row) in out.chunks_exact_mut(nwu).zip(tall.chunks_exact(wu)) {
        for (o, taps) in dst.iter_mut().zip(&across) {
            let mut t = 0.0;
            for (i, wgt) in taps.weights.iter().enumerate() {
                t += row[taps.first + i] * wgt;
            }
            *o = t.clamp(0.0, 255.0).round() as u8;
        }
    }
    GrayImage::from_raw(nw, nh, out).unwrap_or_else(|| GrayImage::new(nw, nh))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_triangle_resize_gives_images_pixels_bit_for_bit() {
        use image::imageops::{resize, FilterType};
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        for _ in 0..400 {
            let (w, h) = (1 + next() % 160, 1 + next() % 160);
            // Mostly ground with a few levels, as a digit's input is, and noise.
            let img = GrayImage::from_fn(w, h, |_, _| {
                let v = next();
                Luma([if v % 3 == 0 { 0 } else { (v % 256) as u8 }])
            });
            let (nw, nh) = (1 + next() % 28, 1 + next() % 28);
            let ours = resize_triangle(&img, nw, nh);
            let theirs = resize(&img, nw, nh, FilterType::Triangle);
            assert_eq!(ours.as_raw(), theirs.as_raw(), "{w}x{h} -> {nw}x{nh}");
        }
        // Faint ink of one or two grey levels, whose weighted sums fall a rounding error
        // under a half: where adding a half before truncating would round up.
        for _ in 0..3000 {
            let (w, h) = (1 + next() % 12, 1 + next() % 12);
            let img = GrayImage::from_fn(w, h, |_, _| Luma([(next() % 3) as u8]));
            let (nw, nh) = (1 + next() % 28, 1 + next() % 28);
            let ours = resize_triangle(&img, nw, nh);
            let theirs = resize(&img, nw, nh, FilterType::Triangle);
            assert_eq!(ours.as_raw(), theirs.as_raw(), "{w}x{h} -> {nw}x{nh}");
        }
    }

    use super::*;
    use crate::locate::{locate, LocateConfig};
    use image::Luma;

    #[test]
    fn a_cut_holds_the_columns_of_its_span_in_each_map_row() {
        let cut = Cut {
            top: 10,
            step: 2,
            spans: vec![(4, 8), (5, 9)],
            rows: (f32::NEG_INFINITY, f32::INFINITY),
            rect: crate::locate::Rect {
                x: 4,
                y: 10,
                w: 5,
                h: 4,
            },
        };
        assert!(cut.holds(4, 10) && cut.holds(7, 11) && !cut.holds(8, 11));
        assert!(!cut.holds(4, 12) && cut.holds(8, 13));
        // Rows past either end take the nearest span.
        assert!(cut.holds(4, 3) && cut.holds(8, 40) && !cut.holds(4, 40));
        let rows = Cut {
            spans: Vec::new(),
            rows: (10.0, 12.0),
            ..cut
        };
        assert!(rows.holds(100, 11) && !rows.holds(100, 12) && !rows.holds(0, 9));
    }

    /// A "7" in pencil-grey strokes 4 pixels wide on paper, with or without a pale printed rule
    /// across its box and the whole frame.
    fn seven(ruled: bool) -> GrayImage {
        let mut img = GrayImage::from_pixel(320, 240, Luma([200]));
        if ruled {
            for x in 0..320 {
                for y in 118..120 {
                    img.put_pixel(x, y, Luma([155]));
                }
            }
        }
        for y in 90..94 {
            for x in 140..172 {
                img.put_pixel(x, y, Luma([90]));
            }
        }
        for y in 94..134 {
            let x = 168 - (y - 94) * 16 / 40;
            for dx in 0..4 {
                img.put_pixel(x + dx, y, Luma([90]));
            }
        }
        img
    }

    /// The model input of the frame's one digit.
    fn input_of(frame: &GrayImage) -> Vec<u8> {
        let found = locate(frame, &LocateConfig::default());
        let blob = found
            .digits
            .iter()
            .find(|d| d.rect.h >= 30)
            .expect("the seven is found");
        digit(frame, &found, blob, 28)
    }

    /// A printed rule across a digit's box is the paper's: its input shows the digit, not a bar
    /// through it (pencil digits on squared paper were read with the grid's lines in them).
    #[test]
    fn issue13_a_ruled_line_across_a_digits_box_stays_out_of_its_input() {
        let (plain, ruled) = (input_of(&seven(false)), input_of(&seven(true)));
        let brighter = plain
            .iter()
            .zip(&ruled)
            .filter(|&(&p, &r)| r > p.saturating_add(40))
            .count();
        assert!(brighter <= 4, "{brighter} pixels of the rule in the input");
    }

    fn mass_centre(img: &[u8], side: usize) -> (f32, f32) {
        let (mut m, mut x, mut y) = (0f32, 0f32, 0f32);
        for (i, &v) in img.iter().enumerate() {
            let v = f32::from(v);
            m += v;
            x += v * ((i % side) as f32 + 0.5);
            y += v * ((i / side) as f32 + 0.5);
        }
        (x / m, y / m)
    }

    #[test]
    fn a_tall_digit_fills_twenty_rows_centred_by_mass() {
        // A 60×20 bar: its height becomes 20 and its width keeps the 1:3 ratio.
        let bar = GrayImage::from_pixel(20, 60, image::Luma([255]));
        let out = place(&bar, 28);
        let rows = (0..28)
            .filter(|y| out[y * 28..(y + 1) * 28].iter().any(|&v| v > 0))
            .count();
        let cols = (0..28)
            .filter(|x| (0..28).any(|y| out[y * 28 + x] > 0))
            .count();
        assert_eq!(rows, 20);
        assert!((6..=8).contains(&cols), "{cols}");
        let (cx, cy) = mass_centre(&out, 28);
        assert!(
            (cx - 14.0).abs() <= 0.6 && (cy - 14.0).abs() <= 0.6,
            "{cx} {cy}"
        );
    }

    #[test]
    fn mass_not_box_decides_the_centre() {
        // An "L": heavy bottom bar pulls the mass down and right of the box centre; the box moves up.
        let mut l = GrayImage::new(20, 20);
        for y in 0..20 {
            for x in 0..20 {
                if x < 3 || y >= 14 {
                    l.put_pixel(x, y, image::Luma([255]));
                }
            }
        }
        let out = place(&l, 28);
        let (cx, cy) = mass_centre(&out, 28);
        assert!(
            (cx - 14.0).abs() <= 0.6 && (cy - 14.0).abs() <= 0.6,
            "{cx} {cy}"
        );
        let top = (0..28)
            .find(|y| out[y * 28..(y + 1) * 28].iter().any(|&v| v > 0))
            .unwrap();
        assert!(top < 4, "box not moved by mass: top row {top}");
    }

    #[test]
    fn an_empty_crop_gives_an_empty_input() {
        let input = place(&GrayImage::new(0, 5), 28);
        assert_eq!(input.len(), 28 * 28);
        assert!(input.iter().all(|&v| v == 0));
    }
}

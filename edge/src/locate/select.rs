//! Which marks are digits: the strokes of one digit merged, specks, solid blobs, paper edges
//! and what is left of printed rulings rejected, each rule for a property of real pages.

use image::{GrayImage, ImageBuffer, Luma};

use super::rulings;
use super::{Blob, Ink, LocateConfig, Rect};

/// Tallest merge of stroke pieces, over the page's typical mark height: a digit whose strokes
/// broke apart is no taller than its neighbours, two lines of writing are.
pub(super) const STACKED: f32 = 1.4;

/// Widest blob kept, over its height: four touching digits.
pub const WIDEST: f32 = 4.5;

/// Tallest merge of the pieces of one faint-level mark, over the page's typical mark height
/// ([`select`]): one digit, not a digit and the stroke of the line above or below.
pub(super) const ONE_MARK_TALLEST: f32 = 1.15;

/// Height, over the page's typical mark height, under which a piece cannot be a digit of its
/// own: it is merged into the piece of the same faint-level mark beside it ([`select`]).
pub(super) const PIECE_SHORT: f32 = 0.6;

/// Merges the strokes of one digit, then keeps what is shaped like a digit; also gives the
/// heights of the marks at least a digit tall (map pixels). `(width, height)` is the map's
/// size, `per_half` its pixels per half-resolution pixel, and `mark_of` the faint-level mark
/// ([`super::ink::Masks::marks`]) of each component label.
pub(super) fn select(
    mut blobs: Vec<Blob>,
    (width, height): (u32, u32),
    cfg: &LocateConfig,
    per_half: u32,
    mark_of: &[u32],
) -> (Vec<Blob>, Vec<u32>) {
    let mark = |b: &Blob| {
        b.labels
            .first()
            .and_then(|&l| mark_of.get(l as usize))
            .copied()
            .unwrap_or(0)
    };
    let speck = 4 * per_half * per_half;
    let max_h = (cfg.max_height * height as f32) as u32;
    let touches_border =
        |r: &Rect| r.x == 0 || r.y == 0 || r.x + r.w >= width || r.y + r.h >= height;
    // Specks of a few pixels are noise, and what touches the border or is taller than a digit
    // can be neither a digit nor part of one: paper edges, the table, shadows. Width is judged
    // against height ([`WIDEST`], below): a run of touching digits written large is wider than
    // any one digit is tall.
    blobs.retain(|b| b.area >= speck && !touches_border(&b.rect) && b.rect.h <= max_h);
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
    //
    // Pieces of one mark at the faint level are merged too where one of them is too short to
    // be a digit and together they are one digit's size: the strength between them fell under
    // half of the strokes beside it, so the cut at a stroke's edges parted them, but ink ran
    // on between them (a stroke that thins where the pen lifts, the flag of a "5" drawn apart
    // from its body). Two digits that touch are each a digit tall, and side by side wider
    // than they are tall.
    let mut merged: Vec<Blob> = Vec::new();
    for blob in blobs {
        let r = blob.rect;
        let host = merged.iter_mut().find(|m| {
            let o = m.rect;
            let union = o.union(r);
            let one_mark = typical > 0
                && mark(&blob) != 0
                && mark(m) == mark(&blob)
                && union.h as f32 <= ONE_MARK_TALLEST * typical as f32
                && union.w <= union.h
                && (r.h.min(o.h) as f32) < PIECE_SHORT * typical as f32;
            if one_mark {
                return true;
            }
            let overlap = (r.x + r.w).min(o.x + o.w) as i64 - r.x.max(o.x) as i64;
            let gap = r.y.max(o.y) as i64 - (r.y + r.h).min(o.y + o.h) as i64;
            overlap as f32 >= 0.3 * r.w.min(o.w) as f32
                && gap as f32 <= 0.25 * o.h.max(r.h).max(typical) as f32
                && union.h <= line_h
                && union.w as f32 <= 1.8 * union.h as f32
        });
        match host {
            Some(m) => {
                m.rect = m.rect.union(r);
                m.mark = m.mark.union(blob.mark);
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

/// Share of the median core of a frame's marks that a mark's core must reach to be writing
/// ([`of_the_pen`]). One pen writes a page, so its digits' cores are alike: all faint on a
/// pencil page, all strong on a pen's. The grain of the table beyond the sheet, the sheet's
/// shadowed edge and the paper's texture reach a fraction of the writing's strength: on the dev
/// splits no mark over a written digit had a core under 0.35 of its frame's median, while
/// 1,259 of the table scenes' other marks did.
pub(super) const PEN_SHARE: f32 = 0.25;

/// Whether each mark is as strong as the page's pen makes its strokes: its strongest pixel on
/// `strength` reaches [`PEN_SHARE`] of the median over the marks. With fewer than three marks
/// nothing is known of the pen and every mark is kept.
pub(super) fn of_the_pen(
    blobs: &[Blob],
    labels: &ImageBuffer<Luma<u32>, Vec<u32>>,
    strength: &GrayImage,
) -> Vec<bool> {
    let core = |b: &Blob| {
        let r = b.rect;
        (r.y..r.y + r.h)
            .flat_map(|y| (r.x..r.x + r.w).map(move |x| (x, y)))
            .filter(|&(x, y)| b.labels.contains(&labels.get_pixel(x, y)[0]))
            .map(|(x, y)| strength.get_pixel(x, y)[0])
            .max()
            .unwrap_or(0)
    };
    let cores: Vec<u8> = blobs.iter().map(core).collect();
    if cores.len() < 3 {
        return vec![true; cores.len()];
    }
    let mut sorted = cores.clone();
    sorted.sort_unstable();
    let median = f32::from(sorted[sorted.len() / 2]);
    cores
        .iter()
        .map(|&c| f32::from(c) >= PEN_SHARE * median)
        .collect()
}

/// Half-resolution pixels from a ruling within which ink lies on it (`near`, in map pixels).
pub(super) const ON_RULING: f32 = 2.0;

/// Whether most of a blob's ink lies on one of the rulings taken out, no darker than that
/// ruling's own ink: what is left of a printed line where it ran close to writing (a stretch
/// between two digits, a crossing) is the line, however much it looks like a "1"; a pen's
/// "1" written over a grid line is darker than the grid.
pub(super) fn along_a_ruling(
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
pub(super) const GROUND_RATIO: f32 = 1.25;

/// Share of the way from a mark's ink to the paper under it beyond which the grey beside it
/// is paper, whatever [`GROUND_RATIO`] asks. For a faint mark that ratio asks for nearly half
/// the way (0.45 at a contrast of 0.1), but the camera's blur spreads a thin stroke over the
/// paper beside it by about that much, so digits in pencil were dropped whole for their own
/// blurred edges; beside a strip of table along the paper's edge lies more table, as dark as
/// the strip, none of the way to the paper.
pub(super) const GROUND_SHARE: f32 = 0.33;

/// Share of the way from a mark's ink to its paper that the box's pixels off its strokes must
/// reach on average when its sides are judged by [`GROUND_SHARE`]: inside a digit's box lies
/// paper, in its loops and around its strokes, with only the strokes' blurred edges darker,
/// while a strip along the paper's edge, or a patch of shadow, is as dark off its ink as on it.
pub(super) const INSIDE_SHARE: f32 = 0.5;

/// Whether each side of a blob is bordered by ground rather than by more of what the blob is
/// made of: a strip of table along the paper's edge, taken for ink next to the bright paper,
/// has the dark table all along one side. Each side is compared with the blob's own ink in the
/// quarter of the box next to it and with the ground under its ink ([`GROUND_SHARE`]), so a
/// shadow falling across a digit (darkening ink and ground alike) does not count against it.
/// The box's other pixels (inside loops, around strokes) must be ground too: in a solid blob
/// wider than a stroke only the rim reads as ink and the inside is as dark as the rim. The
/// paper's printed lines (`printed`, see [`rulings::printed`]) are left out of the box and of
/// the sides they run along: a rule along a digit's foot or through it is the paper's, as dark
/// as pencil, not more of the mark.
pub(super) fn bordered_by_ground(
    gray: &GrayImage,
    ground: &GrayImage,
    labels: &ImageBuffer<Luma<u32>, Vec<u32>>,
    printed: &[u8],
    blob: &Blob,
    ink: Ink,
) -> bool {
    let on_print = |x: u32, y: u32, which: u8| {
        printed
            .get((y * gray.width() + x) as usize)
            .is_some_and(|&p| p & which != 0)
    };
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
                if !on_print(x, y, rulings::ACROSS | rulings::DOWN) {
                    rest += v;
                    m += 1.0;
                }
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
    let ink_near = |k: usize| {
        if ink_n[k] > 0.0 {
            ink_sum[k] / ink_n[k]
        } else {
            ink_all
        }
    };
    let d = (r.h / 8).max(2);
    // The mean grey of a side's ground pixels off the print running along it, or (`Err`) that
    // of the print when all of it is print.
    let mean = |pts: &mut dyn Iterator<Item = (u32, u32)>, along: u8| {
        let (mut s, mut k, mut sp, mut kp) = (0f32, 0f32, 0f32, 0f32);
        for (x, y) in pts {
            // Other components' ink next to a digit (its neighbours) says nothing of the ground.
            if x < w && y < h && labels.get_pixel(x, y)[0] == 0 {
                let v = f32::from(gray.get_pixel(x, y)[0]);
                if on_print(x, y, along) {
                    (sp, kp) = (sp + v, kp + 1.0);
                } else {
                    (s, k) = (s + v, k + 1.0);
                }
            }
        }
        (k > 0.0).then(|| s / k).ok_or((kp > 0.0).then(|| sp / kp))
    };
    let (down, across) = (rulings::DOWN, rulings::ACROSS);
    let read = [
        r.x.checked_sub(d)
            .map(|x| mean(&mut (r.y..r.y + r.h).map(|y| (x, y)), down)),
        Some(mean(
            &mut (r.y..r.y + r.h).map(|y| (r.x + r.w + d, y)),
            down,
        )),
        r.y.checked_sub(d)
            .map(|y| mean(&mut (r.x..r.x + r.w).map(|x| (x, y)), across)),
        Some(mean(
            &mut (r.x..r.x + r.w).map(|x| (x, r.y + r.h + d)),
            across,
        )),
    ];
    // A side wholly on a printed line running along it is not judged (a digit's foot on a
    // rule); both opposite sides so, the mark is a stretch of line between two others (a grid
    // line's piece between two crossings), and the print counts.
    let all_print = |k: usize| matches!(read[k], Some(Err(_)));
    let sides: [Option<f32>; 4] = std::array::from_fn(|k| match read[k] {
        Some(Ok(v)) => Some(v),
        Some(Err(p)) if all_print(k ^ 1) => p,
        _ => None,
    });
    if sides.iter().all(Option::is_none) {
        return false;
    }
    let light = ink == Ink::Light;
    let contrast = if light {
        1.0 - ground_all / ink_all.max(1.0)
    } else {
        1.0 - ink_all / ground_all.max(1.0)
    };
    let ratio = GROUND_RATIO.min(1.0 + 0.5 * contrast.max(0.0));
    // Ground brighter than ink (dark ink) or darker (chalk) by the ratio.
    let by_ratio = |beside: f32, ink: f32| -> bool {
        let (beside, ink) = (beside.max(1.0), ink.max(1.0));
        if light {
            ink >= ratio * beside
        } else {
            beside >= ratio * ink
        }
    };
    // How far `beside` lies from `ink` towards the paper under the blob's ink (0 at the ink,
    // 1 at the paper).
    let share = |beside: f32, ink: f32| -> f32 {
        let (off, span) = if light {
            (ink - beside, ink - ground_all)
        } else {
            (beside - ink, ground_all - ink)
        };
        off / span.max(1.0)
    };
    // A thin solid stroke (a "1") leaves too few other pixels to judge its inside by.
    let thin = m * 4.0 < ink_n[0] || m == 0.0;
    let inside_ok = thin || by_ratio(rest / m, ink_all);
    let by_ratio_ok = inside_ok
        && sides
            .iter()
            .enumerate()
            .all(|(k, s)| s.is_none_or(|s| by_ratio(s, ink_near(k + 1))));
    // Paper on every side and inside the box, judged by the share of the way to the paper
    // (only asked where the ratio refused).
    by_ratio_ok
        || ((thin || share(rest / m, ink_all) >= INSIDE_SHARE)
            && sides
                .iter()
                .enumerate()
                .all(|(k, s)| s.is_none_or(|s| share(s, ink_near(k + 1)) >= GROUND_SHARE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40×40 map of paper at `paper` (its ground everywhere) with the ring of a "0" drawn at
    /// `ink` in a 12×20 box, the paper inside the ring at `inside` and a 3-pixel band around
    /// the box at `beside` (the blurred edge of the strokes, or what lies next to the mark).
    fn ring(paper: u8, ink: u8, inside: u8, beside: u8) -> bool {
        ring_ruled(paper, ink, inside, beside, &[], true)
    }

    /// [`ring`] with printed lines across the map at `rules` (rows, as dark as the ink), marked
    /// as print when the finder found them (`found`).
    fn ring_ruled(paper: u8, ink: u8, inside: u8, beside: u8, rules: &[u32], found: bool) -> bool {
        let r = Rect {
            x: 14,
            y: 10,
            w: 12,
            h: 20,
        };
        let (mut labels, mut gray) = (
            ImageBuffer::<Luma<u32>, Vec<u32>>::new(40, 40),
            GrayImage::from_pixel(40, 40, Luma([paper])),
        );
        let mut area = 0;
        for y in 0..40u32 {
            for x in 0..40u32 {
                let (dx, dy) = (x as i64 - r.x as i64, y as i64 - r.y as i64);
                let in_box = (0..r.w as i64).contains(&dx) && (0..r.h as i64).contains(&dy);
                let near = (-3..r.w as i64 + 3).contains(&dx) && (-3..r.h as i64 + 3).contains(&dy);
                let rim =
                    in_box && (dx < 2 || dy < 2 || dx >= r.w as i64 - 2 || dy >= r.h as i64 - 2);
                let v = if rim {
                    labels.put_pixel(x, y, Luma([1]));
                    area += 1;
                    ink
                } else if in_box {
                    inside
                } else if near {
                    beside
                } else {
                    paper
                };
                gray.put_pixel(x, y, Luma([v]));
            }
        }
        let mut printed = vec![0u8; 40 * 40];
        for &y in rules {
            for x in 0..40u32 {
                if labels.get_pixel(x, y)[0] == 0 {
                    gray.put_pixel(x, y, Luma([ink]));
                }
                for yy in y.saturating_sub(2)..(y + 3).min(40) {
                    if found {
                        printed[(yy * 40 + x) as usize] |= rulings::ACROSS;
                    }
                }
            }
        }
        let ground = GrayImage::from_pixel(40, 40, Luma([paper]));
        let blob = Blob {
            rect: r,
            labels: vec![1],
            area,
            mark: r,
        };
        bordered_by_ground(&gray, &ground, &labels, &printed, &blob, Ink::Dark)
    }

    /// Marks of `cores` strength, each a 4×8 bar labelled in turn along a 64×16 map, with a
    /// blurred edge of a third of the core beside each.
    fn pen_of(cores: &[u8]) -> Vec<bool> {
        let mut labels = ImageBuffer::<Luma<u32>, Vec<u32>>::new(64, 16);
        let mut strength = GrayImage::new(64, 16);
        let blobs: Vec<Blob> = cores
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let r = Rect {
                    x: 2 + 8 * i as u32,
                    y: 4,
                    w: 4,
                    h: 8,
                };
                for y in r.y..r.y + r.h {
                    for x in r.x..r.x + r.w {
                        labels.put_pixel(x, y, Luma([i as u32 + 1]));
                        strength.put_pixel(x, y, Luma([if x == r.x + 1 { c } else { c / 3 }]));
                    }
                }
                Blob {
                    rect: r,
                    labels: vec![i as u32 + 1],
                    area: r.w * r.h,
                    mark: r,
                }
            })
            .collect();
        of_the_pen(&blobs, &labels, &strength)
    }

    /// The table beyond a sheet written in pen (issue 13): its grain, taken for ink once the
    /// floor for paper came down to three grey levels, reaches a fifth of the pen's strength.
    #[test]
    fn issue13_a_mark_far_fainter_than_the_pages_pen_is_not_writing() {
        assert_eq!(
            pen_of(&[230, 240, 36, 235, 50]),
            [true, true, false, true, false]
        );
        // A pencil page: every mark faint, all kept.
        assert_eq!(pen_of(&[40, 36, 52, 30]), [true; 4]);
        // A quarter of the median is enough.
        assert_eq!(pen_of(&[200, 200, 50, 49]), [true, true, true, false]);
        // Two marks say nothing of the pen.
        assert_eq!(pen_of(&[240, 20]), [true, true]);
    }

    /// Pencil on ruled paper with its foot on a rule (issue 13): the rule beside its bottom
    /// side is the paper's print, not more of the mark. A stretch of line with print beyond
    /// both its ends (a grid line's piece between two crossings) is still not a digit.
    #[test]
    fn issue13_a_digit_standing_on_a_printed_rule_is_bordered_by_ground() {
        // The row 2 below the box: the bottom side's.
        assert!(ring_ruled(200, 175, 200, 190, &[32], true));
        // A rule the finder did not find is judged as more of the mark.
        assert!(!ring_ruled(200, 175, 200, 190, &[32], false));
        // Print on the rows beyond both the top and the bottom: the print counts.
        assert!(!ring_ruled(200, 175, 200, 190, &[7, 32], true));
    }

    /// Pencil 0.125 darker than its paper, the paper beside it darkened by the blur to 0.4 of
    /// the way from the ink (issue 13): the grey-level ratio asked 0.45 of the way and dropped
    /// such digits whole.
    #[test]
    fn issue13_a_faint_digit_whose_sides_the_blur_darkens_is_bordered_by_ground() {
        assert!(ring(200, 175, 200, 185));
    }

    /// Four touching marker digits written large make a run wider than the tallest digit
    /// (issue 13): it is kept for the reader to cut, as [`WIDEST`] allows.
    #[test]
    fn issue13_a_run_of_large_touching_digits_wider_than_a_digit_is_tall_is_kept() {
        let blob = |w: u32, h: u32| Blob {
            rect: Rect { x: 20, y: 50, w, h },
            labels: vec![1],
            area: w * h / 3,
            mark: Rect { x: 20, y: 50, w, h },
        };
        let cfg = LocateConfig::default();
        // On a 320×240 map the tallest digit is 96 pixels (0.4 of the height).
        let (kept, _) = select(vec![blob(150, 60)], (320, 240), &cfg, 1, &[]);
        assert_eq!(kept.len(), 1);
        // Taller than a digit, or wider than four digits: not writing.
        let (kept, _) = select(
            vec![blob(150, 100), blob(280, 60)],
            (320, 240),
            &cfg,
            1,
            &[],
        );
        assert!(
            kept.is_empty(),
            "{:?}",
            kept.iter().map(|b| b.rect).collect::<Vec<_>>()
        );
    }

    /// Issue 13: the flag of a "5" that the cut at the strokes' edges parted from its body
    /// (the two still one mark at the faint level) is merged into it, though the gap between
    /// them is wider than the gap a skipping pen leaves; a piece of another mark is not, nor
    /// are two digits of one mark that are each a digit tall.
    #[test]
    fn issue13_a_short_piece_joins_the_digit_of_its_faint_mark() {
        let blob = |label: u32, x: u32, y: u32, w: u32, h: u32| Blob {
            rect: Rect { x, y, w, h },
            labels: vec![label],
            area: w * h / 3,
            mark: Rect { x, y, w, h },
        };
        // Three digits 20 pixels tall set the writing's size.
        let page = |pieces: [Blob; 2]| {
            let mut blobs = vec![
                blob(3, 10, 50, 12, 20),
                blob(4, 40, 50, 12, 20),
                blob(5, 200, 50, 12, 20),
            ];
            blobs.extend(pieces);
            blobs
        };
        // The "5": a body 11 tall and a flag 3 tall 6 pixels above it (more than a quarter
        // of the digits' height).
        let blobs = page([blob(1, 100, 59, 8, 11), blob(2, 101, 50, 11, 3)]);
        let cfg = LocateConfig::default();
        let five = |marks: &[u32]| {
            let (kept, _) = select(blobs.clone(), (320, 240), &cfg, 1, marks);
            kept.iter().map(|b| b.rect).find(|r| r.x >= 90 && r.x < 120)
        };
        let whole = Rect {
            x: 100,
            y: 50,
            w: 12,
            h: 20,
        };
        assert_eq!(five(&[0, 7, 7, 3, 4, 5]), Some(whole));
        let body = Rect {
            x: 100,
            y: 59,
            w: 8,
            h: 11,
        };
        assert_eq!(
            five(&[0, 7, 8, 3, 4, 5]),
            Some(body),
            "the flag is another mark"
        );
        // Two touching digits, one mark at the faint level: each a digit tall, kept apart.
        let pair = page([blob(1, 100, 50, 12, 20), blob(2, 112, 50, 8, 20)]);
        let (kept, _) = select(pair, (320, 240), &cfg, 1, &[0, 7, 7, 3, 4, 5]);
        assert_eq!(kept.len(), 5);
    }

    #[test]
    fn a_mark_with_its_own_darkness_beside_it_or_inside_it_is_not_bordered_by_ground() {
        // More of the same beside it (a strip of table along the paper's edge).
        assert!(!ring(200, 175, 200, 178));
        // Paper around it, but as dark inside its box as on its strokes (a patch, a shadow).
        assert!(!ring(200, 175, 178, 195));
        // A marker is judged by the ratio as before: paper beside it, or table.
        assert!(ring(200, 40, 200, 60));
        assert!(!ring(200, 40, 200, 45));
    }
}

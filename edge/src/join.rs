//! Digits in pieces: a pen that fades or skips (a ballpoint under light pressure, a dry felt
//! tip, graphite skipping over the paper's tooth) leaves stretches of a stroke far fainter
//! than the rest of it. The finder cuts every pixel at half the strongest ink within a
//! stroke's reach ([`crate::locate::ink`]), which parts a stroke at such a stretch, and its
//! strong stretches come out as digits of their own: a "6" as its bowl, an "8" as its right
//! half, a "0" as one side. The faint stretch still joins them at the faint level, so the whole
//! digit lies in the box of its faint-level mark ([`Blob::mark`]). That box is classified
//! beside its pieces, in one more batch, and the reader keeps whichever the model is surer of
//! ([`take`]): the model, not a rule of geometry, says whether the pieces are one digit, as it
//! says where touching digits part ([`crate::segment`]). Where the faint-level mark has run
//! into the paper's printed lines, the digit's own is sought again near it ([`marks`]).

use crate::locate::{printed_band, Blob, Located, Rect};
use crate::segment::ONE_DIGIT_WIDEST;

/// A piece is part of a larger mark when it spans less than this fraction of the mark's
/// height…
pub const PART_HEIGHT: f32 = 0.8;

/// … or of its width.
pub const PART_WIDTH: f32 = 0.6;

/// Tallest whole, over the writing's typical digit height: one hand writes its digits of one
/// size give or take a half; a faint-level mark taller than that has run into a printed line,
/// a neighbouring line of writing or a shadow's edge, and is not one digit.
pub const TALLEST: f32 = 1.5;

/// Whether a mark `m` is the size of one digit of writing `typical` pixels tall ([`TALLEST`],
/// no wider than [`ONE_DIGIT_WIDEST`] times its height).
fn digit_sized(m: Rect, typical: f32) -> bool {
    m.h as f32 <= TALLEST * typical && m.w as f32 <= ONE_DIGIT_WIDEST * m.h as f32
}

/// Each digit's mark for [`groups`]: its faint-level mark ([`Blob::mark`]) where that is the
/// size of a digit; else, where the paper has printed lines, the faint ink connected to its
/// strokes without running along a line ([`own_mark`]), within `typical` of its box; else
/// its own box. A pencil stroke crosses the grid of squared paper, whose lines the finder
/// takes out of the ink, so a pencil digit's faint-level mark is the whole grid, while a path
/// that runs along a printed line follows the grid, not the digit.
pub fn marks(found: &Located, typical: f32) -> Vec<Rect> {
    let reach = typical.round().max(1.0) as u32;
    found
        .digits
        .iter()
        .map(|d| {
            if digit_sized(d.mark, typical) {
                d.mark
            } else if found.printed.is_empty() {
                d.rect
            } else {
                own_mark(found, d, reach).unwrap_or(d.rect)
            }
        })
        .collect()
}

/// The box (frame pixels) of the ink at the faint level ([`Located::faint`]) connected to
/// `blob`'s strokes through no more printed pixels in a row ([`Located::printed`]) than the
/// band a printed line is marked with is wide ([`printed_band`]), joined with `blob`'s own; `None` where it reaches `reach` frame pixels beyond `blob`'s box (it runs on
/// into other writing or the page). Printed pixels crossed are not part of the box.
fn own_mark(found: &Located, blob: &Blob, reach: u32) -> Option<Rect> {
    let scale = found.scale.max(1);
    let (mw, mh) = found.strength.dimensions();
    let (mw, mh) = (mw as usize, mh as usize);
    let (r, reach) = (blob.rect, reach / scale);
    let x0 = (r.x / scale).saturating_sub(reach) as usize;
    let y0 = (r.y / scale).saturating_sub(reach) as usize;
    let x1 = (((r.x + r.w) / scale + reach) as usize).min(mw);
    let y1 = (((r.y + r.h) / scale + reach) as usize).min(mh);
    let (strength, labels) = (found.strength.as_raw(), found.labels.as_raw());
    let printed = |i: usize| found.printed.get(i).is_some_and(|&p| p != 0);
    // Per window pixel, the fewest printed pixels in a row on a path to it.
    let ww = x1 - x0;
    // A path crosses a printed line's band, and runs no further along it than that.
    let cross = printed_band(scale).min(usize::from(u8::MAX - 1)) as u8;
    let mut fewest = vec![u8::MAX; ww * (y1 - y0)];
    let at = |x: usize, y: usize| (y - y0) * ww + (x - x0);
    let mut stack = Vec::new();
    // The strokes lie in the blob's own box.
    let (sx0, sy0) = ((r.x / scale) as usize, (r.y / scale) as usize);
    let (sx1, sy1) = (
        (((r.x + r.w).div_ceil(scale)) as usize).min(x1),
        (((r.y + r.h).div_ceil(scale)) as usize).min(y1),
    );
    for y in sy0.max(y0)..sy1 {
        for x in sx0.max(x0)..sx1 {
            let l = labels[y * mw + x];
            if l != 0 && blob.labels.contains(&l) {
                fewest[at(x, y)] = 0;
                stack.push((x, y, 0u8));
            }
        }
    }
    let mut b = [usize::MAX, usize::MAX, 0, 0];
    while let Some((x, y, run)) = stack.pop() {
        if fewest[at(x, y)] < run {
            continue;
        }
        if x == x0 || y == y0 || x + 1 == x1 || y + 1 == y1 {
            return None;
        }
        if run == 0 {
            b = [b[0].min(x), b[1].min(y), b[2].max(x + 1), b[3].max(y + 1)];
        }
        for (dx, dy) in [
            (0, 0),
            (1, 0),
            (2, 0),
            (0, 1),
            (2, 1),
            (0, 2),
            (1, 2),
            (2, 2),
        ] {
            let (nx, ny) = (x + dx - 1, y + dy - 1);
            let i = ny * mw + nx;
            if strength[i] < found.faint {
                continue;
            }
            let next = if printed(i) { run + 1 } else { 0 };
            if next <= cross && next < fewest[at(nx, ny)] {
                fewest[at(nx, ny)] = next;
                stack.push((nx, ny, next));
            }
        }
    }
    let own = Rect {
        x: b[0] as u32 * scale,
        y: b[1] as u32 * scale,
        w: (b[2] - b[0]) as u32 * scale,
        h: (b[3] - b[1]) as u32 * scale,
    };
    (b[0] < b[2]).then(|| own.union(r))
}

/// Digits that may be pieces of one digit: every digit (by index) whose mark (`marks`, see
/// [`marks`]) holds more than its own strokes ([`PART_HEIGHT`], [`PART_WIDTH`]), grouped by
/// that mark, where the mark is the size of a digit ([`TALLEST`] over `typical`, no wider
/// than [`ONE_DIGIT_WIDEST`]). A group is left out unless every digit in it is a part.
pub fn groups(digits: &[Blob], marks: &[Rect], typical: f32) -> Vec<(Rect, Vec<usize>)> {
    let part = |r: Rect, m: Rect| {
        (r.h as f32) < PART_HEIGHT * m.h as f32 || (r.w as f32) < PART_WIDTH * m.w as f32
    };
    let mut groups: Vec<(Rect, Vec<usize>)> = Vec::new();
    for (i, (d, &m)) in digits.iter().zip(marks).enumerate() {
        if m == d.rect || !digit_sized(m, typical) {
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == m) {
            Some(g) => g.1.push(i),
            None => groups.push((m, vec![i])),
        }
    }
    groups.retain(|(m, members)| members.iter().all(|&i| part(digits[i].rect, *m)));
    groups
}

/// The whole of a group: its mark's box, made of its members' strokes (the faint stretches
/// between them are taken in by the input's faint ink, [`crate::normalise::piece`]).
pub fn whole(mark: Rect, members: &[usize], digits: &[Blob]) -> Blob {
    Blob {
        rect: mark,
        labels: members
            .iter()
            .flat_map(|&i| digits[i].labels.iter().copied())
            .collect(),
        area: members.iter().map(|&i| digits[i].area).sum(),
        mark,
    }
}

/// Whether the whole, read with confidence `whole`, replaces pieces read with `pieces`: it
/// must be a digit (`min_confidence`) the model is at least as sure of as of any piece.
pub fn take(whole: f32, pieces: impl IntoIterator<Item = f32>, min_confidence: f32) -> bool {
    let surest = pieces.into_iter().fold(0.0f32, f32::max);
    whole >= min_confidence && whole >= surest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(label: u32, rect: Rect, mark: Rect) -> Blob {
        Blob {
            rect,
            labels: vec![label],
            area: rect.w * rect.h / 3,
            mark,
        }
    }

    fn marks_of(digits: &[Blob]) -> Vec<Rect> {
        digits.iter().map(|d| d.mark).collect()
    }

    const fn rect(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    /// Issue 13: the two halves of an "8" parted at a faded stretch, and the bowl of a "6"
    /// without its faint stem, are each offered whole; a digit whose mark is its own box, or
    /// one as large as its mark beside a piece of it, is not.
    #[test]
    fn issue13_pieces_of_one_faint_mark_make_one_group() {
        let eight = rect(10, 10, 14, 20);
        let six = rect(40, 10, 14, 20);
        let digits = vec![
            blob(1, rect(10, 10, 7, 20), eight),
            blob(2, rect(17, 12, 7, 18), eight),
            blob(3, rect(42, 20, 12, 10), six),
            blob(4, rect(70, 10, 12, 20), rect(70, 10, 12, 20)),
        ];
        let g = groups(&digits, &marks_of(&digits), 20.0);
        assert_eq!(g, vec![(eight, vec![0, 1]), (six, vec![2])]);
        let w = whole(eight, &g[0].1, &digits);
        assert_eq!((w.rect, w.labels), (eight, vec![1, 2]));
    }

    #[test]
    fn a_mark_that_is_not_digit_sized_or_holds_a_whole_digit_is_no_group() {
        let ruled = rect(0, 10, 300, 22);
        let tall = rect(10, 10, 14, 40);
        let pair = rect(40, 10, 16, 20);
        let digits = vec![
            // Joined to a printed line: wider than any digit.
            blob(1, rect(20, 10, 12, 20), ruled),
            // Joined to the line of writing below.
            blob(2, rect(10, 10, 14, 14), tall),
            // A whole digit and a speck beside it.
            blob(3, rect(40, 10, 14, 20), pair),
            blob(4, rect(54, 12, 2, 4), pair),
        ];
        assert!(groups(&digits, &marks_of(&digits), 20.0).is_empty());
    }

    /// Issue 13: a ring on squared paper whose right half the pen barely marked: its strong
    /// half is found alone and its faint-level mark runs into the grid, as large as the page;
    /// the mark sought again without running along the grid's lines is the ring.
    #[test]
    fn issue13_a_mark_on_squared_paper_is_sought_again_without_the_grid() {
        use crate::locate::{locate, LocateConfig};
        use image::{GrayImage, Luma};
        let (cx, cy, rx, ry) = (160.0f32, 120.0f32, 16.0f32, 24.0f32);
        let frame = GrayImage::from_fn(320, 240, |x, y| {
            let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
            let ring = ((dx * dx + dy * dy).sqrt() - 1.0).abs() * ry < 2.0;
            let grid = x % 20 < 2 || y % 20 < 2;
            Luma([match (ring, x as f32 <= cx, grid) {
                (true, true, _) => 40,
                (true, false, _) => 170,
                (false, _, true) => 175,
                _ => 210,
            }])
        });
        let found = locate(&frame, &LocateConfig::default());
        assert!(!found.printed.is_empty(), "the grid is found");
        let ring = rect(142, 94, 36, 52);
        let left = found
            .digits
            .iter()
            .position(|d| d.rect.iou(ring) > 0.2)
            .unwrap_or_else(|| panic!("{:?}", found.digits));
        assert!(!digit_sized(found.digits[left].mark, 48.0));
        let m = marks(&found, 48.0)[left];
        assert!(m.iou(ring) > 0.7, "{m:?}");
    }

    #[test]
    fn the_whole_is_taken_only_when_read_as_surely_as_its_surest_piece() {
        assert!(take(0.95, [0.6, 0.3], 0.4));
        assert!(take(0.5, [0.2], 0.4));
        assert!(!take(0.9, [0.99], 0.4));
        assert!(!take(0.35, [0.1], 0.4));
    }
}

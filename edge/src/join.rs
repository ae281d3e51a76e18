//! Digits in pieces: a pen that fades or skips (a ballpoint under light pressure, a dry felt
//! tip, graphite skipping over the paper's tooth) leaves stretches of a stroke far fainter
//! than the rest of it. The finder cuts every pixel at half the strongest ink within a
//! stroke's reach ([`crate::locate::ink`]), which parts a stroke at such a stretch, and its
//! strong stretches come out as digits of their own: a "6" as its bowl, an "8" as its right
//! half, a "0" as one side. The faint stretch still joins them at the faint level, so the whole
//! digit lies in the box of its faint-level mark ([`Blob::mark`]). That box is classified
//! beside its pieces, in one more batch, and the reader keeps whichever the model is surer of
//! ([`take`]): the model, not a rule of geometry, says whether the pieces are one digit, as it
//! says where touching digits part ([`crate::segment`]).

use crate::locate::{Blob, Rect};
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

/// Digits that may be pieces of one digit: every digit (by index) whose faint-level mark holds
/// more than its own strokes ([`PART_HEIGHT`], [`PART_WIDTH`]), grouped by that mark, where
/// the mark is the size of a digit ([`TALLEST`] over `typical`, no wider than
/// [`ONE_DIGIT_WIDEST`]). A group is left out unless every digit in it is a part.
pub fn groups(digits: &[Blob], typical: f32) -> Vec<(Rect, Vec<usize>)> {
    let part = |d: &Blob| {
        let (r, m) = (d.rect, d.mark);
        (r.h as f32) < PART_HEIGHT * m.h as f32 || (r.w as f32) < PART_WIDTH * m.w as f32
    };
    let mut groups: Vec<(Rect, Vec<usize>)> = Vec::new();
    for (i, d) in digits.iter().enumerate() {
        let m = d.mark;
        let digit_sized =
            m.h as f32 <= TALLEST * typical && m.w as f32 <= ONE_DIGIT_WIDEST * m.h as f32;
        if m == d.rect || !digit_sized {
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == m) {
            Some(g) => g.1.push(i),
            None => groups.push((m, vec![i])),
        }
    }
    groups.retain(|(_, members)| members.iter().all(|&i| part(&digits[i])));
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
        let g = groups(&digits, 20.0);
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
        assert!(groups(&digits, 20.0).is_empty());
    }

    #[test]
    fn the_whole_is_taken_only_when_read_as_surely_as_its_surest_piece() {
        assert!(take(0.95, [0.6, 0.3], 0.4));
        assert!(take(0.5, [0.2], 0.4));
        assert!(!take(0.9, [0.99], 0.4));
        assert!(!take(0.35, [0.1], 0.4));
    }
}

//! Reading order: digits grouped into numbers, numbers into lines of writing, left to right.

use super::Blob;

/// Widest gap between two digits of one number, over the digit height, whatever the writer's
/// spacing. People leave a space about a digit wide between numbers and write a number's
/// digits closer than half a digit height; a narrow "1" between its neighbours leaves a wider
/// gap between their ink, up to about 0.7 of the height.
pub(super) const NUMBER_GAP: f32 = 0.7;

/// Widest gap between two digits of one number for a writer who spaces digits widely (half a
/// height apart and more): a space as wide as the digits are tall still parts two numbers.
const WIDEST_NUMBER_GAP: f32 = 1.0;

/// How many times the writer's own spacing of digits the space between two numbers is at
/// least. A writer keeps one spacing across a page, and the space they leave between numbers
/// is wider than it by far (a digit's width against a fifth of one), so a page whose digits
/// stand apart has its numbers further apart too ([`number_gap`]).
const SPACING_TIMES: f32 = 3.0;

/// Fewest gaps (touching blobs among them) from which a page's spacing is judged.
const SPACING_SAMPLES: usize = 3;

/// Height, over its neighbour's, from which a mark is no digit of the neighbour's number: one
/// writer writes one number's digits at one size, and even two lines of writing run together
/// (which the reader parts later) are under 2.5 digits tall. Taller marks beside writing are
/// the dark strip past the sheet's edge or a shadow's, whose height would otherwise stretch
/// the gap allowed to the next digit.
const TALLER_THAN_A_NUMBER: f32 = 2.5;

/// Width, over the median width of the frame's digits, from which a blob may hold two: one
/// writer writes digits of one width, and two narrow digits that touch (a "1" and a "7", or
/// two upright digits written close) make a blob no wider than it is tall.
pub const WIDER_THAN_TYPICAL: f32 = 1.7;

/// Groups digits into numbers by linking each digit to its nearest right-hand neighbour on
/// the same line of writing (vertical overlap, a gap under the page's [`number_gap`]); links
/// that are mutual chain into numbers, so slanted lines and uneven baselines keep their numbers
/// whole. Numbers are then ordered line by line, left to right.
pub(crate) fn group(digits: &[Blob]) -> Vec<Vec<usize>> {
    let n = digits.len();
    // Each digit's nearest neighbour within the widest gap any page allows, found once: the
    // page's spacing is judged on the nearer ones, and the links kept are those within it.
    let nearest = links(digits);
    let widest = number_gap(digits, &nearest);
    let next: Vec<Option<usize>> = nearest
        .iter()
        .map(|l| l.filter(|l| l.within(widest)).map(|l| l.to))
        .collect();
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

/// A digit's nearest right-hand neighbour on its line of writing ([`nearest_right`]).
#[derive(Clone, Copy, Debug)]
struct Link {
    /// Pixels between the two digits' boxes (negative where they overlap).
    gap: f32,
    /// The taller digit's height.
    h: f32,
    /// The neighbour's index.
    to: usize,
}

impl Link {
    /// Whether the gap is at most `widest` digit heights.
    fn within(self, widest: f32) -> bool {
        self.gap <= widest * self.h
    }
}

/// Each digit's [`nearest_right`] neighbour within [`WIDEST_NUMBER_GAP`]: the nearest within
/// any narrower gap is the same digit, or none.
fn links(digits: &[Blob]) -> Vec<Option<Link>> {
    (0..digits.len())
        .map(|i| nearest_right(digits, i, WIDEST_NUMBER_GAP))
        .collect()
}

/// The nearest digit, by gap over height, to the right of digit `i` on its line of writing,
/// of a size with it ([`TALLER_THAN_A_NUMBER`]) and with a gap of at most `widest` digit
/// heights (of the taller of the two).
fn nearest_right(digits: &[Blob], i: usize, widest: f32) -> Option<Link> {
    let a = digits[i].rect;
    (0..digits.len())
        .filter(|&j| j != i)
        .filter_map(|j| {
            let b = digits[j].rect;
            let h = a.h.max(b.h) as f32;
            let gap = b.x as f32 - (a.x + a.w) as f32;
            let overlap = (a.y + a.h).min(b.y + b.h) as f32 - a.y.max(b.y) as f32;
            let starts_right = b.x as f32 + b.w as f32 / 2.0 > a.x as f32 + a.w as f32;
            let link = Link { gap, h, to: j };
            (starts_right
                && h <= TALLER_THAN_A_NUMBER * a.h.min(b.h) as f32
                && link.within(widest)
                && gap >= -0.3 * h
                && overlap >= 0.4 * a.h.min(b.h) as f32)
                .then_some(link)
        })
        .min_by(|x, y| (x.gap / x.h).total_cmp(&(y.gap / y.h)))
}

/// The widest gap, over the digit height, between two digits of one number on this page:
/// [`SPACING_TIMES`] the writer's own spacing, from [`NUMBER_GAP`] to [`WIDEST_NUMBER_GAP`].
/// The spacing is the median gap of the digits' `nearest` neighbours ([`links`]) within
/// [`NUMBER_GAP`], where a blob [`WIDER_THAN_TYPICAL`] (touching digits, written with no
/// gap) counts as a gap of 0. A page with fewer than [`SPACING_SAMPLES`] gaps keeps
/// [`NUMBER_GAP`].
fn number_gap(digits: &[Blob], nearest: &[Option<Link>]) -> f32 {
    let mut widths: Vec<u32> = digits.iter().map(|d| d.rect.w).collect();
    widths.sort_unstable();
    let typical = widths.get(widths.len() / 2).copied().unwrap_or(0) as f32;
    let touching = digits
        .iter()
        .filter(|d| d.rect.w as f32 >= WIDER_THAN_TYPICAL * typical)
        .map(|_| 0.0);
    let mut gaps: Vec<f32> = nearest
        .iter()
        .flatten()
        .filter(|l| l.within(NUMBER_GAP))
        .map(|l| l.gap / l.h)
        .chain(touching)
        .collect();
    if gaps.len() < SPACING_SAMPLES {
        return NUMBER_GAP;
    }
    gaps.sort_by(f32::total_cmp);
    (SPACING_TIMES * gaps[gaps.len() / 2]).clamp(NUMBER_GAP, WIDEST_NUMBER_GAP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::Rect;

    /// Digits 40 px tall and `w` wide on one line, starting at each of `xs`.
    fn line(xs: &[(u32, u32)]) -> Vec<Blob> {
        xs.iter()
            .map(|&(x, w)| {
                let rect = Rect {
                    x,
                    y: 100,
                    w,
                    h: 40,
                };
                Blob {
                    rect,
                    labels: Vec::new(),
                    area: w * 40,
                    mark: rect,
                }
            })
            .collect()
    }

    /// The page's widest gap within a number for `digits`.
    fn page_gap(digits: &[Blob]) -> f32 {
        number_gap(digits, &links(digits))
    }

    /// Blobs 24 px wide at `starts`.
    fn digits_at(starts: &[u32]) -> Vec<Blob> {
        line(&starts.iter().map(|&x| (x, 24)).collect::<Vec<_>>())
    }

    #[test]
    fn issue13_a_writer_who_spaces_digits_widely_keeps_numbers_whole() {
        // Digits 16 px apart (0.4 of the height) and once 36 px (0.9), numbers 80 px (2.0)
        // apart: this writer's spacing makes 0.9 a gap within a number.
        let digits = digits_at(&[10, 50, 90, 150, 254, 294]);
        assert_eq!(page_gap(&digits), WIDEST_NUMBER_GAP);
        assert_eq!(group(&digits), vec![vec![0, 1, 2, 3], vec![4, 5]]);
    }

    #[test]
    fn a_writer_who_writes_digits_close_parts_numbers_at_a_narrower_space() {
        // Digits 6 px apart (0.15 of the height), numbers 34 px (0.85) apart: wider than
        // this writer's spacing calls for, though under the widest gap a number may hold.
        let digits = digits_at(&[10, 40, 70, 128, 158, 188]);
        assert_eq!(page_gap(&digits), NUMBER_GAP);
        assert_eq!(group(&digits), vec![vec![0, 1, 2], vec![3, 4, 5]]);
    }

    #[test]
    fn touching_digits_count_as_no_gap_in_a_writers_spacing() {
        // Digits 12 px apart (0.3 of the height): alone they say numbers part at 0.9.
        let spaced = [(10, 24), (46, 24), (82, 24), (118, 24), (154, 24)];
        let alone = page_gap(&line(&spaced));
        assert!((alone - 0.9).abs() < 1e-4, "{alone}");
        // Two more digits standing alone and five blobs of two touching digits (48 px wide),
        // all far apart: the touching pairs are gaps of 0, and the numbers part at 0.7.
        let mut page = spaced.to_vec();
        page.extend([(250, 24), (350, 24)]);
        page.extend((0..5).map(|k| (450 + 100 * k, 48)));
        assert_eq!(page_gap(&line(&page)), NUMBER_GAP);
    }

    #[test]
    fn issue13_a_strip_past_the_sheets_edge_joins_no_number() {
        // A dark strip 26 px wide and 160 tall (the table beside the sheet) 60 px left of a
        // number: 60 px is under 0.7 of the strip's height, but the strip is no digit's size.
        let mut digits = digits_at(&[100, 130, 160]);
        let strip = Rect {
            x: 14,
            y: 40,
            w: 26,
            h: 160,
        };
        digits.push(Blob {
            rect: strip,
            labels: Vec::new(),
            area: 26 * 160,
            mark: strip,
        });
        assert_eq!(group(&digits), vec![vec![3], vec![0, 1, 2]]);
    }

    #[test]
    fn a_page_with_too_few_gaps_keeps_the_fixed_number_gap() {
        let digits = digits_at(&[10, 66]);
        assert_eq!(page_gap(&digits), NUMBER_GAP);
        assert_eq!(group(&digits), vec![vec![0], vec![1]]);
    }
}

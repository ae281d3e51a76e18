//! Rules, margin lines and grids printed on the paper, taken out of the ink mask `[H, W]` (the
//! finder's map, at half or full resolution) before its components are labelled. Sizes below
//! are in half-resolution pixels and scale with the map.
//!
//! What tells a ruling from writing: it is a straight line (the page is flat, so tilt and
//! perspective keep it straight), thin, and far longer than any stroke of a digit; it runs on
//! across the digits written over it. So thin ink pixels vote for straight lines within 14°
//! of the horizontal (a Hough transform over angle and offset; the vertical lines of a grid
//! or a margin are found the same way on the transposed mask), and a line that wins counts
//! only if its pixels form a long run somewhere; then its thin pixels are taken out along
//! its whole length (a printed line runs on between the digits written over it); what a
//! stroke crossing the line puts there stays (ink continues on both sides of the line), and
//! so does ink clearly darker than the ruling itself (a pen over a printed rule).

use super::lines::{round, transpose, MAX_TILT};

/// Angle step of the search, in degrees: a line found at up to half a step off drifts 1.2
/// pixels over 280 (a page's width here), within the 1.5 pixels [`Along::hits`] looks either side.
const STEP: f32 = 0.5;
/// Thickest ruling, in half-resolution pixels (rules are printed 0.1–0.3 mm wide).
const THIN: u32 = 3;
/// Least run of a ruling, in half-resolution pixels: longer than any digit's stroke at the
/// sizes people write (a 120-pixel digit is 60 here).
const LONG: u32 = 70;
/// Largest gap bridged within one run (a digit's stroke across it, a faded stretch).
const GAP: u32 = 6;
/// Least fraction of a ruling's long run along which its ink is found ([`proves`]).
const FILL: f32 = 0.5;
/// Ink this much stronger than the ruling's own ink is a pen's, not the rule's: a pen is at
/// least twice as dark as a printed rule, and where two lines of a grid cross they darken the
/// paper twice.
pub const DARKER: f32 = 2.2;

/// How much darker than its median a rule that the ink mask holds only as dashes is at its
/// darkest: a print's strength varies little along its length, and its dashes in the ink
/// mask are its darkest stretches, so ink over half again the rule's median there is a
/// stroke crossing it (pencil on a grid of its own darkness is cut at every line otherwise).
const UNEVEN: f32 = 1.5;

/// A ruling that was taken out: `y·cos θ − x·sin θ = ρ` in half-resolution pixels, with `x`
/// and `y` swapped for a vertical one.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// Within 14° of vertical (coordinates swapped).
    pub vertical: bool,
    /// sin θ.
    pub sin: f32,
    /// cos θ.
    pub cos: f32,
    /// Offset ρ.
    pub rho: f32,
    /// The median ink strength of its pixels.
    pub strength: f32,
}

impl Line {
    /// Distance of half-resolution pixel `(x, y)` from the line.
    pub fn distance(&self, x: f32, y: f32) -> f32 {
        let (x, y) = if self.vertical { (y, x) } else { (x, y) };
        (y * self.cos - x * self.sin - self.rho).abs()
    }
}

/// Removes rulings from `mask` (1 = ink), with `strength` the ink-strength map; returns the
/// lines taken out. They are sought on `seen`, a mask in which printed lines are whole (they
/// are taken out of it too): a rule printed as pale as pencil keeps its strength along its
/// length, but its strength hovers about the level at which a mark's core becomes ink, so
/// the ink mask holds it as dashes, none long enough to prove a line, while a mask that asks
/// no core of its marks holds it whole. A line stronger than `pale` (the level a mark's core
/// must reach in `mask`) must run long in `mask` as well. `per_half` is the map's pixels per
/// half-resolution pixel (1 or 2).
#[allow(clippy::too_many_arguments)]
pub fn remove(
    mask: &mut [u8],
    seen: &mut [u8],
    strength: &[u8],
    w: usize,
    h: usize,
    pale: u8,
    per_half: u32,
) -> Vec<Line> {
    let sizes = Sizes::of(per_half);
    let mut lines = remove_horizontal(mask, seen, strength, w, h, false, pale, sizes);
    // The vertical lines of a grid or a margin: the same on the transpose.
    let mut tm = transpose(mask, w, h);
    let mut tseen = transpose(seen, w, h);
    let ts = transpose(strength, w, h);
    let vertical = remove_horizontal(&mut tm, &mut tseen, &ts, h, w, true, pale, sizes);
    if !vertical.is_empty() {
        mask.copy_from_slice(&transpose(&tm, h, w));
        seen.copy_from_slice(&transpose(&tseen, h, w));
    }
    lines.extend(vertical);
    lines
}

/// Which map pixels lie within `near` of one of `lines` on a `w × h` map, where the paper's
/// print lies (the thin pixels taken out of the ink and the blurred edges beside them alike):
/// [`ACROSS`] for a near-horizontal line, [`DOWN`] for a near-vertical one, both where they
/// cross; empty where there are no lines (read it with `get`).
pub fn printed(lines: &[Line], w: usize, h: usize, near: f32) -> Vec<u8> {
    if lines.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0u8; w * h];
    for l in lines {
        // Along the line: columns of a near-horizontal one, rows of a near-vertical one.
        let (along, across, bit) = if l.vertical {
            (h, w, DOWN)
        } else {
            (w, h, ACROSS)
        };
        for a in 0..along {
            // y·cos θ − x·sin θ = ρ, in the line's own (possibly swapped) coordinates.
            let centre = (l.rho + a as f32 * l.sin) / l.cos;
            let hi = (centre + near).floor();
            if hi < 0.0 {
                continue;
            }
            let lo = (centre - near).ceil().max(0.0) as usize;
            for b in lo..=(hi as usize).min(across.saturating_sub(1)) {
                let i = if l.vertical { a * w + b } else { b * w + a };
                out[i] |= bit;
            }
        }
    }
    out
}

/// A pixel of [`printed`] on a near-horizontal line.
pub const ACROSS: u8 = 1;
/// A pixel of [`printed`] on a near-vertical line.
pub const DOWN: u8 = 2;

/// The sizes of a ruling in the map's pixels.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    thin: u32,
    long: u32,
    gap: u32,
    /// How far either side of a found line its pixels are looked for ([`STEP`]).
    near: f32,
}

impl Sizes {
    fn of(per_half: u32) -> Sizes {
        let k = per_half.max(1);
        Sizes {
            thin: THIN * k,
            long: LONG * k,
            gap: GAP * k,
            near: 1.5 * k as f32,
        }
    }
}

/// Length of the vertical run of ink through each pixel (0 for ground), capped at 255. Row by
/// row, so every pass reads memory in order and without branches: down, the length of the run
/// so far; up, the length of the whole run, which its last pixel holds.
fn vertical_runs(mask: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut run = vec![0u8; w * h];
    if w == 0 || h == 0 {
        return run;
    }
    // 0xFF where `m` is ink, 0 where not.
    let ink = |m: u8| 0u8.wrapping_sub(u8::from(m != 0));
    for (r, &m) in run[..w].iter_mut().zip(&mask[..w]) {
        *r = 1 & ink(m);
    }
    for y in 1..h {
        let (done, rest) = run.split_at_mut(y * w);
        let above = &done[(y - 1) * w..];
        let row = &mask[y * w..(y + 1) * w];
        for ((r, &a), &m) in rest[..w].iter_mut().zip(above).zip(row) {
            *r = a.saturating_add(1) & ink(m);
        }
    }
    for y in (0..h - 1).rev() {
        let (upper, lower) = run.split_at_mut((y + 1) * w);
        for (r, &b) in upper[y * w..].iter_mut().zip(&lower[..w]) {
            // Below a pixel of a run lies more of it (longer) or ground (0).
            *r = (*r).max(b) & ink(*r);
        }
    }
    run
}

/// Finds the near-horizontal rulings on `seen`, taking them out of it and of `mask`.
#[allow(clippy::too_many_arguments)]
fn remove_horizontal(
    mask: &mut [u8],
    seen: &mut [u8],
    strength: &[u8],
    w: usize,
    h: usize,
    vertical: bool,
    pale: u8,
    sizes: Sizes,
) -> Vec<Line> {
    if w < sizes.long as usize || h < 4 {
        return Vec::new();
    }
    let runs = vertical_runs(seen, w, h);
    let mask_runs = vertical_runs(mask, w, h);
    // Every second thin pixel votes (a line's votes halve with them, so its run is checked in
    // full in `proves`); a pixel with ink neither left nor right of it is no line's.
    let beside =
        |x: usize, y: usize| (y.saturating_sub(1)..(y + 2).min(h)).any(|yy| seen[yy * w + x] != 0);
    let mut thin: Vec<(f32, f32)> = Vec::new();
    for y in 0..h {
        // The pixels of even index `y·w + x`, row by row.
        for x in ((y * w) % 2..w).step_by(2) {
            let r = runs[y * w + x];
            if r != 0
                && u32::from(r) <= sizes.thin
                && x > 0
                && x + 1 < w
                && beside(x - 1, y)
                && beside(x + 1, y)
            {
                thin.push((x as f32, y as f32));
            }
        }
    }
    let votes = sizes.long / 2;
    if thin.len() < votes as usize {
        return Vec::new();
    }
    let angles: Vec<f32> = {
        let k = (MAX_TILT / STEP) as i32;
        (-k..=k).map(|i| (i as f32 * STEP).to_radians()).collect()
    };
    // ρ = y·cos θ − x·sin θ, offset so every bin is non-negative.
    let pad = (w as f32 * MAX_TILT.to_radians().sin()).ceil() as i32 + 2;
    let bins = (h as i32 + 2 * pad) as usize;
    let mut acc = vec![0u32; angles.len() * bins];
    for (a, &t) in angles.iter().enumerate() {
        let (s, c) = t.sin_cos();
        let row = &mut acc[a * bins..(a + 1) * bins];
        for &(x, y) in &thin {
            let rho = round(y * c - x * s) + pad;
            if let Some(b) = row.get_mut(rho as usize) {
                *b += 1;
            }
        }
    }
    // A tilted line spreads over two neighbouring offsets: score three bins together.
    let score = |a: usize, b: usize| -> u32 {
        let row = &acc[a * bins..(a + 1) * bins];
        row[b.saturating_sub(1)] + row[b] + row.get(b + 1).copied().unwrap_or(0)
    };
    let mut peaks: Vec<(u32, usize, usize)> = Vec::new();
    for a in 0..angles.len() {
        for b in 0..bins {
            let v = score(a, b);
            if v < votes {
                continue;
            }
            let local_max = (a.saturating_sub(2)..(a + 3).min(angles.len())).all(|aa| {
                (b.saturating_sub(3)..(b + 4).min(bins)).all(|bb| {
                    let u = score(aa, bb);
                    u < v || (u == v && (aa, bb) >= (a, b))
                })
            });
            if local_max {
                peaks.push((v, a, b));
            }
        }
    }
    // The best-supported lines first: once one is taken out, a line at a slightly different
    // angle through the same print (on a grid, or tilted and seen in perspective) finds its
    // pixels gone and no run to prove it, where taken first it would cut a band across the
    // writing beside the real line.
    peaks.sort_by(|p, q| q.0.cmp(&p.0).then((p.1, p.2).cmp(&(q.1, q.2))));
    let mut removed = Vec::new();
    for (_, a, b) in peaks {
        let (s, c) = angles[a].sin_cos();
        let rho = b as f32 - pad as f32;
        let along = Along { rho, s, c };
        let seen_hits = along.hits(seen, &runs, w, h, sizes);
        if !proves(&seen_hits, sizes) {
            continue;
        }
        let line_strength = median_strength(&seen_hits, strength, w);
        let hits = along.hits(mask, &mask_runs, w, h, sizes);
        // A line as dark as ink is held whole by the ink mask, and must run long there: on
        // the mask of every mark, the bottoms of a line of writing and the pale edges of the
        // rule beside them can run long together.
        if line_strength > f32::from(pale) && !proves(&hits, sizes) {
            continue;
        }
        take_out(
            seen,
            strength,
            &runs,
            w,
            h,
            &seen_hits,
            line_strength,
            sizes,
        );
        // A rule the ink mask holds whole is cut out up to [`DARKER`], one it holds only as
        // dashes up to [`UNEVEN`].
        let held = proves(&hits, sizes);
        take_out(
            mask,
            strength,
            &mask_runs,
            w,
            h,
            &hits,
            if held {
                line_strength
            } else {
                line_strength * UNEVEN / DARKER
            },
            sizes,
        );
        removed.push(Line {
            vertical,
            sin: s,
            cos: c,
            rho,
            strength: line_strength,
        });
    }
    removed
}

/// `v.floor()` as an index (0 below 0) without the C library's `floorf`, which the baseline
/// x86-64 target calls per column of every candidate line: for v ≥ 0 the cast truncates,
/// which is the floor, and a negative v casts to 0.
#[inline]
fn floor_index(v: f32) -> usize {
    v as usize
}

/// `v.ceil()` as an index (0 below 0) without `ceilf`: the truncation, one more where `v` has a
/// fraction (exact below 2²⁴).
#[inline]
fn ceil_index(v: f32) -> usize {
    let t = v as usize;
    t + usize::from((t as f32) < v)
}

/// The line `y·cos θ − x·sin θ = ρ` on a map.
#[derive(Clone, Copy)]
struct Along {
    rho: f32,
    s: f32,
    c: f32,
}

impl Along {
    /// The line's own pixels at each column of `mask`: the first and last rows of thin ink
    /// (vertical run in `runs` no longer than a ruling is thick) within [`Sizes::near`] of it.
    fn hits(
        self,
        mask: &[u8],
        runs: &[u8],
        w: usize,
        h: usize,
        sizes: Sizes,
    ) -> Vec<Option<(usize, usize)>> {
        let on_line = |x: usize| -> Option<(usize, usize)> {
            let y = (self.rho + x as f32 * self.s) / self.c;
            let (lo, hi) = (floor_index(y - sizes.near), ceil_index(y + sizes.near));
            let hit = (lo..=hi.min(h - 1)).filter(|&yy| {
                let i = yy * w + x;
                mask[i] != 0 && u32::from(runs[i]) <= sizes.thin
            });
            let (mut a, mut z) = (usize::MAX, 0);
            for yy in hit {
                a = a.min(yy);
                z = z.max(yy);
            }
            (a != usize::MAX).then_some((a, z))
        };
        (0..w).map(on_line).collect()
    }
}

/// Stretches of columns where `hits` holds the line's pixels, bridging gaps of up to `gap`.
fn segments(hits: &[Option<(usize, usize)>], gap: u32) -> Vec<(usize, usize)> {
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    let mut last = 0usize;
    for (x, hit) in hits.iter().enumerate() {
        if hit.is_some() {
            if start.is_none() || x - last > gap as usize + 1 {
                if let Some(s0) = start {
                    segments.push((s0, last));
                }
                start = Some(x);
            }
            last = x;
        }
    }
    if let Some(s0) = start {
        segments.push((s0, last));
    }
    segments
}

/// Whether the line's thin pixels `hits` run long: one long run proves the line printed (it
/// runs on across the page, between digits too). A printed line is continuous, so at least
/// half of its run is ink ([`FILL`]): a line drawn at a wrong angle through a grid meets the
/// grid's other lines at short intervals, and those crossings bridged together make a run of
/// gaps.
fn proves(hits: &[Option<(usize, usize)>], sizes: Sizes) -> bool {
    segments(hits, sizes.gap).iter().any(|&(a, z)| {
        let found = hits[a..=z].iter().filter(|h| h.is_some()).count();
        z - a + 1 >= sizes.long as usize && found as f32 >= FILL * (z - a + 1) as f32
    })
}

/// The ruling's own ink strength: the median over its thin pixels `hits`.
fn median_strength(hits: &[Option<(usize, usize)>], strength: &[u8], w: usize) -> f32 {
    let mut own: Vec<u8> = hits
        .iter()
        .enumerate()
        .filter_map(|(x, hit)| hit.map(|(y, _)| strength[y * w + x]))
        .collect();
    own.sort_unstable();
    f32::from(own.get(own.len() / 2).copied().unwrap_or(0))
}

/// Clears a line's thin pixels `hits` from `mask` along its whole length (a printed line runs
/// on between the digits written over it), but not where a stroke crosses it, nor ink far
/// darker than the line's own `line_strength` ([`DARKER`]).
#[allow(clippy::too_many_arguments)]
fn take_out(
    mask: &mut [u8],
    strength: &[u8],
    runs: &[u8],
    w: usize,
    h: usize,
    hits: &[Option<(usize, usize)>],
    line_strength: f32,
    sizes: Sizes,
) {
    for (x, hit) in hits.iter().enumerate() {
        let Some((y0, y1)) = *hit else {
            continue;
        };
        // A stroke crossing the line leaves ink just above and just below it.
        let above = y0.checked_sub(1).is_some_and(|y| mask[y * w + x] != 0);
        let below = y1 + 1 < h && mask[(y1 + 1) * w + x] != 0;
        if above && below {
            continue;
        }
        for y in y0..=y1 {
            let i = y * w + x;
            if u32::from(runs[i]) <= sizes.thin && f32::from(strength[i]) <= DARKER * line_strength
            {
                mask[i] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w × h` mask with a tilted rule and a vertical stroke crossing it.
    fn page(w: usize, h: usize, tilt: f32) -> (Vec<u8>, Vec<u8>) {
        let mut mask = vec![0u8; w * h];
        let mut strength = vec![0u8; w * h];
        for x in 5..w - 5 {
            let y = (40.0 + x as f32 * tilt).round() as usize;
            mask[y * w + x] = 1;
            strength[y * w + x] = 40;
        }
        // A stroke 2 pixels wide from row 20 to row 60 at column 100, darker than the rule.
        for y in 20..60 {
            for x in 100..102 {
                mask[y * w + x] = 1;
                strength[y * w + x] = 120;
            }
        }
        (mask, strength)
    }

    /// The run lengths against the plain column walk, on a map with runs of every length up
    /// to past the 255 cap, touching the top and bottom.
    #[test]
    fn runs_match_the_plain_column_walk() {
        let (w, h) = (37, 300);
        let mask: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                u8::from(x == 0 || (x > 2 && (y * 7 + x * x) % (x + 2) != 0))
            })
            .collect();
        let mut plain = vec![0u8; w * h];
        for x in 0..w {
            let mut y = 0;
            while y < h {
                let start = y;
                while y < h && mask[y * w + x] != 0 {
                    y += 1;
                }
                for yy in start..y {
                    plain[yy * w + x] = (y - start).min(255) as u8;
                }
                y = y.max(start + 1);
            }
        }
        assert_eq!(vertical_runs(&mask, w, h), plain);
        assert_eq!(plain[0], 255, "the full column is capped");
    }

    #[test]
    fn floor_and_ceil_indices_match_the_library_on_fractions_and_whole_numbers() {
        for i in -4000..4000 {
            for v in [i as f32 * 0.25, i as f32 * 0.37 + 0.001, i as f32] {
                assert_eq!(floor_index(v), v.floor().max(0.0) as usize, "{v}");
                assert_eq!(ceil_index(v), v.ceil() as usize, "{v}");
            }
        }
    }

    #[test]
    fn a_tilted_rule_is_removed_and_the_stroke_across_it_kept() {
        let (w, h) = (300, 120);
        for tilt in [0.0f32, 0.1, -0.15] {
            let (mut mask, strength) = page(w, h, tilt);
            let mut seen = mask.clone();
            let lines = remove(&mut mask, &mut seen, &strength, w, h, 0, 1);
            assert!(!lines.is_empty(), "tilt {tilt}");
            assert!(lines.iter().all(|l| !l.vertical), "tilt {tilt}");
            assert!(
                lines[0].distance(50.0, 40.0 + 50.0 * tilt) < 1.5,
                "{:?}",
                lines[0]
            );
            let rule_left: usize = (5..90)
                .map(|x| {
                    let y = (40.0 + x as f32 * tilt).round() as usize;
                    usize::from(mask[y * w + x])
                })
                .sum();
            assert_eq!(rule_left, 0, "tilt {tilt}: rule pixels left");
            let stroke: usize = (20..60).map(|y| usize::from(mask[y * w + 100])).sum();
            assert_eq!(stroke, 40, "tilt {tilt}: the stroke was cut");
        }
    }

    #[test]
    fn strokes_shorter_than_a_ruling_stay() {
        // A row of short horizontal dashes (the tops of written fives), none as long as a rule.
        let (w, h) = (300, 60);
        let mut mask = vec![0u8; w * h];
        for k in 0..10 {
            for x in k * 28..k * 28 + 18 {
                mask[30 * w + x] = 1;
            }
        }
        let before = mask.clone();
        let strength = vec![80u8; w * h];
        let mut seen = mask.clone();
        assert!(remove(&mut mask, &mut seen, &strength, w, h, 0, 1).is_empty());
        assert_eq!(mask, before);
    }

    #[test]
    fn issue13_crossings_bridged_into_a_run_are_not_a_ruling() {
        // Short marks 3 pixels wide every 8 pixels along one row, as the lines of a grid meet
        // a line drawn at a wrong angle through it: the gaps between them are each within the
        // bridged gap, but most of the run is paper.
        let (w, h) = (300, 80);
        let mut mask = vec![0u8; w * h];
        for x0 in (5..w - 5).step_by(8) {
            for y in 39..42 {
                for x in x0..x0 + 3 {
                    mask[y * w + x] = 1;
                }
            }
        }
        let before = mask.clone();
        let strength = vec![60u8; w * h];
        let mut seen = mask.clone();
        assert!(remove(&mut mask, &mut seen, &strength, w, h, 0, 1).is_empty());
        assert_eq!(mask, before);
    }

    /// A rule along row 40 whole in `seen`, and in the ink mask only as dashes 8 pixels long
    /// 10 apart (where its strength dipped under a mark's core), all of strength `ink`.
    fn dashed_rule(w: usize, h: usize, ink: u8) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut mask, mut seen, mut strength) =
            (vec![0u8; w * h], vec![0u8; w * h], vec![0u8; w * h]);
        for x in 5..w - 5 {
            let i = 40 * w + x;
            seen[i] = 1;
            strength[i] = ink;
            mask[i] = u8::from(x % 18 < 8);
        }
        (mask, seen, strength)
    }

    #[test]
    fn issue13_a_rule_the_ink_mask_holds_as_dashes_is_found_on_the_mask_of_every_mark() {
        let (w, h) = (300, 80);
        let (mut mask, mut seen, strength) = dashed_rule(w, h, 20);
        // The dashes alone prove nothing.
        let mut alone = mask.clone();
        let mut alone_seen = mask.clone();
        assert!(remove(&mut alone, &mut alone_seen, &strength, w, h, 40, 1).is_empty());
        let lines = remove(&mut mask, &mut seen, &strength, w, h, 40, 1);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            mask.iter().all(|&m| m == 0),
            "dashes of the rule left in the mask"
        );
    }

    #[test]
    fn issue13_a_line_as_dark_as_ink_must_run_long_in_the_ink_mask_too() {
        // The same line, but as dark as a pen: the ink mask would hold a printed one whole.
        let (w, h) = (300, 80);
        let (mut mask, mut seen, strength) = dashed_rule(w, h, 120);
        let before = mask.clone();
        assert!(remove(&mut mask, &mut seen, &strength, w, h, 40, 1).is_empty());
        assert_eq!(mask, before);
    }

    #[test]
    fn issue13_pencil_resting_on_a_rule_held_as_dashes_stays() {
        // The base of a pencil digit along the pale rule, 1.8 times as dark as it: less than a
        // pen over a printed rule ([`DARKER`]), more than the rule's own unevenness.
        let (w, h) = (300, 80);
        let (mut mask, mut seen, mut strength) = dashed_rule(w, h, 20);
        for y in 40..42 {
            for x in 100..130 {
                let i = y * w + x;
                (mask[i], seen[i], strength[i]) = (1, 1, 36);
            }
        }
        assert_eq!(
            remove(&mut mask, &mut seen, &strength, w, h, 40, 1).len(),
            1
        );
        let kept: usize = (100..130).map(|x| usize::from(mask[40 * w + x])).sum();
        assert_eq!(kept, 30, "the pencil stroke on the rule was cut");
    }
}

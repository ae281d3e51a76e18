//! Connected components of a binary mask `[H, W]` (8-connectivity) by runs: each row's runs of
//! ink are joined to the runs they touch in the row above with a union-find over runs, which
//! touches every ink pixel once instead of every pixel several times. Gives the label image
//! and each component's box and area in the same pass.

use image::{GrayImage, ImageBuffer, Luma};

use super::{Blob, Rect};

/// A horizontal run of ink `[x0, x1)` on row `y`.
#[derive(Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
}

/// Root of `i` in the forest `parent`, halving paths on the way.
fn root(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let up = parent[parent[i as usize] as usize];
        parent[i as usize] = up;
        i = up;
    }
    i
}

/// The first index from `x` on where `row` is not zero (`row.len()` if none), reading eight
/// bytes at a time.
fn next_ink(row: &[u8], mut x: usize) -> usize {
    while x + 8 <= row.len() {
        let word = u64::from_ne_bytes(row[x..x + 8].try_into().unwrap_or([1; 8]));
        if word != 0 {
            break;
        }
        x += 8;
    }
    while x < row.len() && row[x] == 0 {
        x += 1;
    }
    x
}

/// Labels the non-zero pixels of `mask` (8-connectivity, labels 1, 2, … in raster order of
/// each component's first run) and returns the labels with one [`Blob`] per label, in label
/// order (`blobs[l − 1]` has label `l`).
///
/// Most of a page is ground: rows are skipped eight zero bytes at a time ([`next_ink`]).
pub fn label(mask: &GrayImage) -> (ImageBuffer<Luma<u32>, Vec<u32>>, Vec<Blob>) {
    let (w, h) = mask.dimensions();
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    // Runs of the previous row: runs[prev.0..prev.1].
    let mut prev = 0..0;
    for (y, row) in mask.as_raw().chunks_exact(w.max(1) as usize).enumerate() {
        let start = runs.len();
        let mut x = 0usize;
        while x < row.len() {
            if row[x] == 0 {
                x = next_ink(row, x + 1);
                continue;
            }
            let x0 = x;
            while x < row.len() && row[x] != 0 {
                x += 1;
            }
            let id = runs.len() as u32;
            runs.push(Run {
                y: y as u32,
                x0: x0 as u32,
                x1: x as u32,
            });
            parent.push(id);
        }
        // Join with the runs above that touch, diagonals included: [a, b) meets [x0, x1)
        // when a ≤ x1 and b ≥ x0.
        let mut j = prev.start;
        for i in start..runs.len() {
            let cur = runs[i];
            while j < prev.end && runs[j].x1 < cur.x0 {
                j += 1;
            }
            let mut k = j;
            while k < prev.end && runs[k].x0 <= cur.x1 {
                let (a, b) = (root(&mut parent, i as u32), root(&mut parent, k as u32));
                if a != b {
                    // The older run stays the root, so labels follow raster order.
                    parent[a.max(b) as usize] = a.min(b);
                }
                k += 1;
            }
        }
        prev = start..runs.len();
    }
    // Compact labels, then paint runs and grow boxes.
    let mut label_of = vec![0u32; runs.len()];
    let mut blobs: Vec<Blob> = Vec::new();
    let mut extent: Vec<[u32; 4]> = Vec::new();
    let mut pixels = vec![0u32; (w * h) as usize];
    for i in 0..runs.len() {
        let r = root(&mut parent, i as u32) as usize;
        if r == i {
            blobs.push(Blob {
                rect: Rect::default(),
                labels: vec![blobs.len() as u32 + 1],
                area: 0,
                mark: Rect::default(),
            });
            extent.push([u32::MAX, u32::MAX, 0, 0]);
            label_of[i] = blobs.len() as u32;
        } else {
            label_of[i] = label_of[r];
        }
        let run = runs[i];
        let l = label_of[i];
        let row = (run.y * w) as usize;
        pixels[row + run.x0 as usize..row + run.x1 as usize].fill(l);
        let e = &mut extent[l as usize - 1];
        e[0] = e[0].min(run.x0);
        e[1] = e[1].min(run.y);
        e[2] = e[2].max(run.x1 - 1);
        e[3] = e[3].max(run.y);
        blobs[l as usize - 1].area += run.x1 - run.x0;
    }
    for (blob, e) in blobs.iter_mut().zip(&extent) {
        blob.rect = Rect {
            x: e[0],
            y: e[1],
            w: e[2] + 1 - e[0],
            h: e[3] + 1 - e[1],
        };
        blob.mark = blob.rect;
    }
    let labels = ImageBuffer::from_raw(w, h, pixels).unwrap_or_else(|| ImageBuffer::new(w, h));
    (labels, blobs)
}

/// Joins the faint marks among `blobs` (labelled in `labels`) that come within `gap` pixels of
/// each other (their dilations by `gap` to the right and down touch) into one blob: a faint
/// stroke breaks where the pencil skipped over the paper's tooth, while ink flows into
/// continuous lines, so the gaps between strong marks are real (digits written close together)
/// and are kept. `faint` says, per pixel, whether it belongs to faint ink; a blob joins through
/// its faint pixels only.
pub fn join_faint(
    labels: &ImageBuffer<Luma<u32>, Vec<u32>>,
    blobs: Vec<Blob>,
    faint: &[bool],
    gap: usize,
) -> Vec<Blob> {
    let (w, h) = labels.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let raw = labels.as_raw();
    let is_faint = |i: usize| raw[i] != 0 && faint.get(i).copied().unwrap_or(false);
    // Each faint ink pixel grown by `gap` to the right and down.
    let mut grown = vec![0u8; wu * hu];
    let mut any = false;
    for i in (0..wu * hu).filter(|&i| is_faint(i)) {
        let (x, y) = (i % wu, i / wu);
        for yy in y..(y + gap + 1).min(hu) {
            grown[yy * wu + x..yy * wu + (x + gap + 1).min(wu)].fill(1);
        }
        any = true;
    }
    if !any {
        return blobs;
    }
    let grown = GrayImage::from_raw(w, h, grown).unwrap_or_else(|| GrayImage::new(w, h));
    let (groups, found) = label(&grown);
    // Union of the blobs (by index) that share a group.
    let mut parent: Vec<u32> = (0..blobs.len() as u32).collect();
    let mut first = vec![u32::MAX; found.len() + 1];
    for (i, &g) in groups.as_raw().iter().enumerate() {
        if g == 0 || !is_faint(i) {
            continue;
        }
        let b = raw[i] - 1;
        if first[g as usize] == u32::MAX {
            first[g as usize] = b;
        } else {
            let (p, q) = (root(&mut parent, b), root(&mut parent, first[g as usize]));
            if p != q {
                parent[p.max(q) as usize] = p.min(q);
            }
        }
    }
    let mut out: Vec<Blob> = Vec::with_capacity(blobs.len());
    let mut slot = vec![usize::MAX; blobs.len()];
    for (i, blob) in blobs.into_iter().enumerate() {
        let r = root(&mut parent, i as u32) as usize;
        if slot[r] == usize::MAX {
            slot[r] = out.len();
            out.push(blob);
        } else {
            let m = &mut out[slot[r]];
            m.rect = m.rect.union(blob.rect);
            m.mark = m.mark.union(blob.mark);
            m.labels.extend(blob.labels);
            m.area += blob.area;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageproc::region_labelling::{connected_components, Connectivity};
    use std::collections::HashMap;

    /// A pseudo-random mask with about `percent`% ink, blobs and thin diagonals included.
    fn mask(w: u32, h: u32, percent: u32, seed: u32) -> GrayImage {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        GrayImage::from_fn(w, h, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            Luma([u8::from(state % 100 < percent)])
        })
    }

    #[test]
    fn runs_give_imageprocs_components_with_their_boxes_and_areas() {
        for (w, h, percent, seed) in [
            (37, 23, 30, 1),
            (64, 48, 45, 2),
            (50, 50, 55, 3),
            (1, 9, 50, 4),
            (9, 1, 50, 5),
            (33, 17, 0, 6),
            (33, 17, 100, 7),
        ] {
            let m = mask(w, h, percent, seed);
            let (ours, blobs) = label(&m);
            let theirs = connected_components(&m, Connectivity::Eight, Luma([0u8]));
            // The same partition: a one-to-one map between the two labellings.
            let mut map: HashMap<u32, u32> = HashMap::new();
            let mut back: HashMap<u32, u32> = HashMap::new();
            for (a, b) in ours.as_raw().iter().zip(theirs.as_raw()) {
                assert_eq!(*a == 0, *b == 0);
                if *a != 0 {
                    assert_eq!(*map.entry(*a).or_insert(*b), *b, "{w}×{h} seed {seed}");
                    assert_eq!(*back.entry(*b).or_insert(*a), *a, "{w}×{h} seed {seed}");
                }
            }
            assert_eq!(blobs.len(), map.len());
            // Boxes and areas from the label image itself.
            for (k, blob) in blobs.iter().enumerate() {
                let l = k as u32 + 1;
                assert_eq!(blob.labels, vec![l]);
                let at: Vec<(u32, u32)> = ours
                    .enumerate_pixels()
                    .filter(|p| p.2[0] == l)
                    .map(|p| (p.0, p.1))
                    .collect();
                assert_eq!(blob.area as usize, at.len());
                let x0 = at.iter().map(|p| p.0).min().unwrap();
                let y0 = at.iter().map(|p| p.1).min().unwrap();
                let x1 = at.iter().map(|p| p.0).max().unwrap();
                let y1 = at.iter().map(|p| p.1).max().unwrap();
                assert_eq!(
                    blob.rect,
                    Rect {
                        x: x0,
                        y: y0,
                        w: x1 + 1 - x0,
                        h: y1 + 1 - y0
                    }
                );
            }
        }
    }

    #[test]
    fn diagonal_neighbours_join_and_a_gap_of_one_pixel_does_not() {
        let rows = ["#..#.", ".#..#", "....."];
        let m = GrayImage::from_fn(5, 3, |x, y| {
            Luma([u8::from(rows[y as usize].as_bytes()[x as usize] == b'#')])
        });
        let (_, blobs) = label(&m);
        assert_eq!(blobs.len(), 2);
        assert_eq!(blobs[0].area, 2);
        assert_eq!(blobs[1].area, 2);
    }

    #[test]
    fn faint_pieces_join_across_a_one_pixel_gap_and_strong_ones_do_not() {
        // Three pairs of vertical strokes, 6 pixels tall: a faint pair one pixel apart, a
        // faint pair two pixels apart and a strong pair one pixel apart.
        let (w, h) = (30u32, 8u32);
        let cols = [2u32, 4, 10, 13, 20, 22];
        let mask = GrayImage::from_fn(w, h, |x, y| {
            Luma([u8::from(cols.contains(&x) && (1..7).contains(&y))])
        });
        let faint: Vec<bool> = (0..w * h).map(|i| i % w < 16).collect();
        let (labels, blobs) = label(&mask);
        assert_eq!(blobs.len(), 6);
        let joined = join_faint(&labels, blobs, &faint, 1);
        let mut groups: Vec<Vec<u32>> = joined.iter().map(|b| b.labels.clone()).collect();
        groups.sort();
        assert_eq!(groups, [vec![1, 2], vec![3], vec![4], vec![5], vec![6]]);
        assert_eq!(
            joined[0].rect,
            Rect {
                x: 2,
                y: 1,
                w: 3,
                h: 6
            }
        );
        assert_eq!(joined[0].area, 12);
    }
}

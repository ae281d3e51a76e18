//! What every search for the paper's straight printed lines shares, on the finder's map: the
//! steepest tilt a page's print takes, the map turned so that lines down are sought as lines
//! across, and the rounding of a line's offsets.

/// Steepest printed line, in degrees from the horizontal (or vertical): a page held up to 10°
/// askew, and its lines seen in perspective.
pub const MAX_TILT: f32 = 14.0;

/// The `h × w` transpose of a `w × h` map, eight rows at a time: an 8×8 block of bytes is
/// read as eight words and turned in registers, where a byte-by-byte loop writes every
/// output byte to a different row.
pub fn transpose(v: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    let (bw, bh) = (w - w % 8, h - h % 8);
    let word = |i: usize| u64::from_le_bytes(v[i..i + 8].try_into().unwrap_or([0; 8]));
    for y in (0..bh).step_by(8) {
        for x in (0..bw).step_by(8) {
            let block = transpose8(std::array::from_fn(|k| word((y + k) * w + x)));
            for (k, row) in block.iter().enumerate() {
                let at = (x + k) * h + y;
                out[at..at + 8].copy_from_slice(&row.to_le_bytes());
            }
        }
    }
    // The rows and columns past the last whole block.
    for y in 0..h {
        let from = if y < bh { bw } else { 0 };
        for x in from..w {
            out[x * h + y] = v[y * w + x];
        }
    }
    out
}

/// Transposes an 8×8 block of bytes held as eight little-endian words (row `i`, byte `k` is
/// element `(i, k)`): swapping 4×4, then 2×2, then 1×1 sub-blocks across the diagonal.
fn transpose8(mut r: [u64; 8]) -> [u64; 8] {
    for (shift, mask, pairs) in [
        (
            32,
            0x0000_0000_FFFF_FFFF_u64,
            [(0, 4), (1, 5), (2, 6), (3, 7)],
        ),
        (16, 0x0000_FFFF_0000_FFFF, [(0, 2), (1, 3), (4, 6), (5, 7)]),
        (8, 0x00FF_00FF_00FF_00FF, [(0, 1), (2, 3), (4, 5), (6, 7)]),
    ] {
        for (i, j) in pairs {
            let t = ((r[i] >> shift) ^ r[j]) & mask;
            r[i] ^= t << shift;
            r[j] ^= t;
        }
    }
    r
}

/// `v.round() as i32` (halves away from zero) for |v| < 2²³, without the C library's `roundf`
/// that the baseline x86-64 and Arm targets call per element: the cast truncates and the
/// fraction `v − trunc(v)` is exact in this range, so the vote loop vectorises and gives the
/// same bins.
#[inline]
pub fn round(v: f32) -> i32 {
    let t = v as i32;
    let f = v - t as f32;
    t + i32::from(f >= 0.5) - i32::from(f <= -0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transpose against the plain index swap, on maps whose sides are and are not
    /// multiples of the 8×8 blocks.
    #[test]
    fn transpose_matches_the_plain_index_swap() {
        for (w, h) in [(37usize, 300usize), (16, 8), (9, 17), (1, 5)] {
            let map: Vec<u8> = (0..w * h).map(|i| ((i * 131 + 7) % 251) as u8).collect();
            let t = transpose(&map, w, h);
            assert!(
                (0..w * h).all(|i| t[(i % w) * h + i / w] == map[i]),
                "{w}×{h}"
            );
            assert_eq!(transpose(&t, h, w), map, "{w}×{h}");
        }
    }

    #[test]
    fn round_matches_the_standard_rounding_on_halves_and_near_them() {
        for i in -4000..4000 {
            for v in [i as f32 * 0.25, i as f32 * 0.1 + 0.05, i as f32 * 0.5] {
                for v in [
                    v,
                    f32::from_bits(v.to_bits() + 1),
                    f32::from_bits(v.to_bits().saturating_sub(1)),
                ] {
                    assert_eq!(round(v), v.round() as i32, "{v}");
                }
            }
        }
    }
}

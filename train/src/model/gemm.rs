//! Single-precision matrix product on the CPU for the custom ops: a safe front to the `gemm`
//! crate (the kernels candle's own CPU matmul uses), on row-major slices that the caller may
//! ask to be read transposed, using all of candle's threads.

use candle_core::{bail, Result};
use rayon::prelude::*;

/// A row-major `rows × cols` matrix in `data`, or the transpose of one (`t`: `data` holds the
/// `cols × rows` matrix).
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Rows of the matrix as used in the product.
    pub rows: usize,
    /// Columns of the matrix as used in the product.
    pub cols: usize,
    /// Whether `data` is stored transposed.
    pub t: bool,
}

impl<'a> Mat<'a> {
    /// The `rows × cols` matrix stored row by row.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            t: false,
        }
    }

    /// The transpose of the `rows × cols` matrix stored row by row (a `cols × rows` matrix).
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows: cols,
            cols: rows,
            t: true,
        }
    }

    /// (row stride, column stride) of the matrix as used.
    fn strides(&self) -> (isize, isize) {
        if self.t {
            (1, self.rows as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

/// `dst = a · b` (or `dst += a · b` with `accumulate`), `dst` row-major `a.rows × b.cols`.
pub fn matmul(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || a.data.len() != m * k || b.data.len() != k * n || dst.len() != m * n {
        bail!(
            "matmul: {}x{} · {}x{} into {} values ({} and {} given)",
            a.rows,
            a.cols,
            b.rows,
            b.cols,
            dst.len(),
            a.data.len(),
            b.data.len()
        );
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return Ok(());
    }
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 && split_k(m, n, k) {
        // A small product over a long sum (a convolution's weight gradient: a few thousand
        // values, summed over every position of the batch): the gemm crate shares out the
        // output, which is too small to share, so each thread sums its own part of `k`.
        let parts = threads.min(k);
        let partial: Vec<Vec<f32>> = (0..parts)
            .into_par_iter()
            .map(|t| {
                let (k0, k1) = (k * t / parts, k * (t + 1) / parts);
                let mut part = vec![0f32; m * n];
                // SAFETY: columns k0..k1 of `a` and rows k0..k1 of `b` lie inside their
                // checked lengths; `part` is this thread's own.
                unsafe { product(&mut part, a, b, (k0, k1), false, gemm::Parallelism::None) };
                part
            })
            .collect();
        if !accumulate {
            dst.fill(0.0);
        }
        for part in &partial {
            for (d, p) in dst.iter_mut().zip(part) {
                *d += p;
            }
        }
        return Ok(());
    }
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the lengths were checked above against the shapes, and the strides address only
    // elements inside them; `dst` is borrowed mutably and cannot alias `a` or `b`.
    unsafe { product(dst, a, b, (0, k), accumulate, parallelism) };
    Ok(())
}

/// Whether a product is better summed in parts of `k` on separate threads: an output the size
/// of a few gemm tiles, and a sum many times longer than the output's sides.
fn split_k(m: usize, n: usize, k: usize) -> bool {
    m * n <= 32 * 1024 && k >= 16 * (m + n)
}

/// `dst (+)= a[:, k0..k1] · b[k0..k1, :]` through the gemm crate.
///
/// # Safety
/// `a`, `b` and `dst` must hold their shapes (as [`matmul`] checks) and `k0 <= k1 <= a.cols`.
unsafe fn product(
    dst: &mut [f32],
    a: Mat,
    b: Mat,
    (k0, k1): (usize, usize),
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    let (m, n) = (a.rows, b.cols);
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    // SAFETY (the caller's): column k0 of `a` and row k0 of `b` are inside them.
    let (pa, pb) = unsafe {
        (
            a.data.as_ptr().offset(k0 as isize * a_cs),
            b.data.as_ptr().offset(k0 as isize * b_rs),
        )
    };
    // SAFETY (the caller's): the strides address only elements inside the checked lengths.
    unsafe {
        gemm::gemm(
            m,
            n,
            k1 - k0,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            pa,
            a_cs,
            a_rs,
            pb,
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product by definition.
    fn naive(a: Mat, b: Mat) -> Vec<f32> {
        let at = |i: usize, j: usize| {
            if a.t {
                a.data[j * a.rows + i]
            } else {
                a.data[i * a.cols + j]
            }
        };
        let bt = |i: usize, j: usize| {
            if b.t {
                b.data[j * b.rows + i]
            } else {
                b.data[i * b.cols + j]
            }
        };
        let mut out = vec![0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[i * b.cols + j] = (0..a.cols).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        out
    }

    #[test]
    fn every_transpose_combination_matches_the_definition() {
        every_transpose_combination_matches(7, 13, 5);
    }

    /// A small product over a long sum is summed in parts on separate threads (issue 18): the
    /// parts must add up to the same product, accumulated or not, transposed or not.
    #[test]
    fn issue18_a_long_sum_split_between_threads_is_the_same_product() {
        assert!(split_k(7, 5, 400) && !split_k(7, 5, 13));
        every_transpose_combination_matches(7, 400, 5);
    }

    fn every_transpose_combination_matches(m: usize, k: usize, n: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let am = if ta {
                Mat::transposed(&a, k, m)
            } else {
                Mat::new(&a, m, k)
            };
            let bm = if tb {
                Mat::transposed(&b, n, k)
            } else {
                Mat::new(&b, k, n)
            };
            let want = naive(am, bm);
            let mut got = vec![1f32; m * n];
            matmul(&mut got, am, bm, true).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - (w + 1.0)).abs() < 1e-4,
                    "{ta} {tb}: {g} vs {}",
                    w + 1.0
                );
            }
            matmul(&mut got, am, bm, false).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "{ta} {tb}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let a = vec![0f32; 6];
        let mut dst = vec![0f32; 4];
        assert!(matmul(&mut dst, Mat::new(&a, 2, 3), Mat::new(&a, 2, 3), false).is_err());
    }
}

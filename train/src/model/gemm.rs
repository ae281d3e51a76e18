//! Single-precision matrix product on the CPU for the custom ops: a safe front to the `gemm`
//! crate (the kernels candle's own CPU matmul uses), on row-major slices that the caller may
//! ask to be read transposed, using all of candle's threads.

use candle_core::{bail, Result};

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
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    // SAFETY: the lengths were checked above against the shapes, and the strides address only
    // elements inside them; `dst` is borrowed mutably and cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
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
    Ok(())
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
        let (m, k, n) = (7, 13, 5);
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
                    (g - (w + 1.0)).abs() < 1e-5,
                    "{ta} {tb}: {g} vs {}",
                    w + 1.0
                );
            }
            matmul(&mut got, am, bm, false).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{ta} {tb}: {g} vs {w}");
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

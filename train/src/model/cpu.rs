//! Reading and writing candle's CPU storage from the custom ops: contiguous f32 only.

use candle_core::{bail, CpuStorage, Layout, Result};

/// The f32 values of a contiguous CPU tensor; `op` names the caller in the error.
pub fn values<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = storage else {
        bail!("{op}: only f32 is supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&v[start..end]),
        None => bail!("{op}: the input must be contiguous"),
    }
}

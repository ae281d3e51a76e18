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

/// The f32 values of a contiguous CPU tensor, to be changed in place.
pub fn values_mut<'a>(
    op: &str,
    storage: &'a mut CpuStorage,
    layout: &Layout,
) -> Result<&'a mut [f32]> {
    let CpuStorage::F32(v) = storage else {
        bail!("{op}: only f32 is supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut v[start..end]),
        None => bail!("{op}: the tensor must be contiguous"),
    }
}

/// Buffers handed back by [`Scratch`], reused by the next op instead of fresh allocations
/// (whose first touch costs a page fault per page, a tenth of a training step).
static SPARE: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

/// Most buffers kept for reuse.
const KEEP: usize = 8;

/// A temporary f32 buffer of an op, with unspecified contents: the op must write every value
/// before reading it. Returned to the spares when dropped.
pub struct Scratch(Vec<f32>);

impl Scratch {
    /// A buffer of `len` values.
    pub fn new(len: usize) -> Self {
        let spare = SPARE.lock().ok().and_then(|mut s| {
            // The smallest spare that is big enough, else the biggest (to grow).
            let at = s
                .iter()
                .enumerate()
                .filter(|(_, v)| v.capacity() >= len)
                .min_by_key(|(_, v)| v.capacity())
                .or_else(|| s.iter().enumerate().max_by_key(|(_, v)| v.capacity()))
                .map(|(i, _)| i)?;
            Some(s.swap_remove(at))
        });
        let mut v = spare.unwrap_or_default();
        v.resize(len, 0.0);
        Scratch(v)
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut s) = SPARE.lock() {
            if s.len() < KEEP {
                s.push(std::mem::take(&mut self.0));
            }
        }
    }
}

//! The finder's geometry: boxes in frame pixels and the candidate digits made of connected
//! components.

/// An axis-aligned box in frame pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// The smallest box holding both.
    pub fn union(self, o: Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect {
            x,
            y,
            w: (self.x + self.w).max(o.x + o.w) - x,
            h: (self.y + self.h).max(o.y + o.h) - y,
        }
    }

    /// Area of the intersection over the area of the union.
    pub fn iou(self, o: Rect) -> f32 {
        let ix = (self.x + self.w)
            .min(o.x + o.w)
            .saturating_sub(self.x.max(o.x));
        let iy = (self.y + self.h)
            .min(o.y + o.h)
            .saturating_sub(self.y.max(o.y));
        let inter = (ix * iy) as f32;
        inter / ((self.w * self.h + o.w * o.h) as f32 - inter).max(1.0)
    }

    /// The box's middle row.
    pub(crate) fn cy(self) -> f32 {
        self.y as f32 + self.h as f32 / 2.0
    }
}

/// One candidate digit: its box and the connected components it is made of.
#[derive(Clone, Debug)]
pub struct Blob {
    /// Bounding box in frame pixels.
    pub rect: Rect,
    /// Component labels (in [`super::Located::labels`]) that belong to it.
    pub labels: Vec<u32>,
    /// Ink pixels.
    pub area: u32,
    /// Box in frame pixels of the faint-level marks its components belong to (see
    /// [`super::ink`]), its own box at least: where the edge cut parted a digit at a faded
    /// stretch of stroke, the whole digit ([`crate::join`]).
    pub mark: Rect,
}

/// The lengths of the horizontal runs of ink in `mask` (`w` columns a row), shortest first:
/// where a pen's stroke crosses a row, its run is about the stroke's width.
pub fn ink_runs(mask: &[bool], w: usize) -> Vec<u32> {
    let mut runs = Vec::new();
    for row in mask.chunks_exact(w.max(1)) {
        let mut run = 0;
        for &m in row {
            if m {
                run += 1;
            } else if run > 0 {
                runs.push(run);
                run = 0;
            }
        }
        if run > 0 {
            runs.push(run);
        }
    }
    runs.sort_unstable();
    runs
}

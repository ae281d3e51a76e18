//! Progress of long work (downloads, rendering scenes, training epochs), told to whoever
//! watches. The library draws nothing itself: the command line shows bars on a terminal, a
//! program or a test that wants silence passes [`Quiet`].

/// What a count counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Frames, pages, optimizer steps.
    Items,
    /// Bytes of a download.
    Bytes,
}

/// Watches long work.
pub trait Progress: std::fmt::Debug + Send + Sync {
    /// Work called `what`, of `total` units (0 when not known), begins; it ends when the task
    /// is dropped.
    fn start(&self, what: &str, total: u64, unit: Unit) -> Box<dyn Task>;
}

/// One piece of long work under way.
pub trait Task {
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// A short note beside the count (the running loss and speed).
    fn note(&self, note: &str);
    /// Runs `f`, which logs a line, without the display getting in its way.
    fn aside(&self, f: &mut dyn FnMut());
}

/// Watches nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64, _: Unit) -> Box<dyn Task> {
        Box::new(Quiet)
    }
}

impl Task for Quiet {
    fn advance(&self, _: u64) {}
    fn note(&self, _: &str) {}
    fn aside(&self, f: &mut dyn FnMut()) {
        f()
    }
}

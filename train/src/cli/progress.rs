//! Progress bars on standard error (indicatif), for the library's long work.

use indicatif::{ProgressBar, ProgressStyle};
use train::progress::{Progress, Task, Unit};

/// Draws one bar per task; indicatif hides them when standard error is not a terminal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bars;

impl Progress for Bars {
    fn start(&self, what: &str, total: u64, unit: Unit) -> Box<dyn Task> {
        let bar = ProgressBar::new(total);
        let template = match unit {
            Unit::Items => {
                "{prefix} [{bar:30}] {pos}/{len} {msg} [{elapsed_precise}<{eta_precise}]"
            }
            Unit::Bytes => "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        Box::new(Bar(bar))
    }
}

struct Bar(ProgressBar);

impl Task for Bar {
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn note(&self, note: &str) {
        self.0.set_message(note.to_string());
    }
    fn aside(&self, f: &mut dyn FnMut()) {
        self.0.suspend(f);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

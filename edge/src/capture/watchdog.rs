//! Giving up on a live source (`edge run --give-up-after`). A camera, a pipe's program or an
//! MJPEG stream that breaks is reopened with a back-off for as long as the run lasts, which
//! is right for a demo on a table; under a service manager a source gone for good should end
//! the run with a failure instead, so systemd's `Restart=on-failure` (or a person) can act.
//! The watchdog runs on its own thread, so a source blocked inside a read gives up too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit status of a run that gave up on its source: sysexits' `EX_TEMPFAIL` (a temporary
/// failure; trying again later may work).
pub const GAVE_UP: u8 = 75;

/// Calls its give-up action once no frame has come for the set time.
pub struct Watchdog {
    start: Instant,
    /// Milliseconds from `start` to the last frame.
    last: Arc<AtomicU64>,
}

impl Watchdog {
    /// Starts watching: `give_up` runs (once, on the watchdog's thread) when [`Watchdog::fed`]
    /// has not been called for `after`, counted from now; it is given the time without a frame.
    pub fn start(after: Duration, give_up: impl FnOnce(Duration) + Send + 'static) -> Watchdog {
        let start = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let seen = last.clone();
        let tick = (after / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        std::thread::spawn(move || loop {
            std::thread::sleep(tick);
            let ms = seen.load(Ordering::Relaxed);
            if ms == STOPPED {
                return;
            }
            let since = Duration::from_millis(ms);
            let quiet = start.elapsed().saturating_sub(since);
            if quiet >= after {
                give_up(quiet);
                return;
            }
        });
        Watchdog { start, last }
    }

    /// A frame came.
    pub fn fed(&self) {
        let ms = self
            .start
            .elapsed()
            .as_millis()
            .min(u128::from(STOPPED - 1)) as u64;
        self.last.store(ms, Ordering::Relaxed);
    }
}

/// The last-frame time that tells the watchdog's thread to end.
const STOPPED: u64 = u64::MAX;

impl Drop for Watchdog {
    /// Stops watching: the run's frames have ended.
    fn drop(&mut self) {
        self.last.store(STOPPED, Ordering::Relaxed);
    }
}

/// Parses a duration given as seconds (`90`) or with a unit (`90s`, `5m`, `2h`); it must be
/// above zero.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{s}': the unit must be ms, s, m or h")),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * scale <= 1e9 => {
            Ok(Duration::from_secs_f64(v * scale))
        }
        _ => Err(format!(
            "'{s}' is not a duration above zero (such as 30, 90s, 5m)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn issue15_the_watchdog_gives_up_only_when_no_frame_came_for_the_set_time() {
        // Fed every 20 ms for 300 ms: never gives up while fed.
        let (tx, rx) = mpsc::channel();
        let dog = Watchdog::start(Duration::from_millis(150), move |quiet| {
            let _ = tx.send(quiet);
        });
        for _ in 0..15 {
            std::thread::sleep(Duration::from_millis(20));
            dog.fed();
        }
        assert!(rx.try_recv().is_err(), "gave up while frames came");
        // Then starved: gives up once, after at least the set time.
        let quiet = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(quiet >= Duration::from_millis(150), "{quiet:?}");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        // Dropped (the frames ended): never gives up.
        let (tx, rx) = mpsc::channel();
        let dog = Watchdog::start(Duration::from_millis(50), move |quiet| {
            let _ = tx.send(quiet);
        });
        drop(dog);
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    }

    #[test]
    fn durations_take_seconds_or_a_unit_and_refuse_the_rest() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-3", "abc", "5 parsecs", "NaN", "inf", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

//! Always the newest frame of a live source: a capture thread reads the source as fast as it
//! delivers and keeps only its newest frame, so a reader slower than the camera reads what
//! the camera sees now instead of working through a backlog (the seconds of lag of queued
//! RTSP frames). Frames overwritten unread are counted and handed on with the next frame;
//! the source's errors are handed on in order, a few at most.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use super::{Frame, FrameSource};
use crate::{Error, Result};

/// Errors kept while the reader is busy; older ones are dropped (they were logged as counts).
const KEPT_ERRORS: usize = 8;

#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    errors: VecDeque<Error>,
    /// Frames overwritten unread since the last one taken.
    dropped: u64,
    /// All frames overwritten unread.
    dropped_total: u64,
    ended: bool,
}

/// A live source read on its own thread; [`FrameSource::next_frame`] gives its newest frame.
pub struct Latest {
    shared: Arc<(Mutex<Slot>, Condvar)>,
}

impl Latest {
    /// Opens the source with `open` on a new thread (a camera may have to stay on the thread
    /// that opened it) and starts reading it; the opening's error is returned here.
    pub fn spawn<F>(open: F) -> Result<Self>
    where
        F: FnOnce() -> Result<Box<dyn FrameSource>> + Send + 'static,
    {
        let shared = Arc::new((Mutex::new(Slot::default()), Condvar::new()));
        let (opened_tx, opened_rx) = std::sync::mpsc::channel::<Result<()>>();
        let inner = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut source = match open() {
                    Ok(s) => {
                        let _ = opened_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let (lock, ready) = &*inner;
                loop {
                    let next = source.next_frame();
                    let Ok(mut slot) = lock.lock() else { return };
                    match next {
                        Some(Ok(frame)) => {
                            if slot.frame.replace(frame).is_some() {
                                slot.dropped += 1;
                                slot.dropped_total += 1;
                            }
                        }
                        Some(Err(e)) => {
                            if slot.errors.len() >= KEPT_ERRORS {
                                slot.errors.pop_front();
                            }
                            slot.errors.push_back(e);
                        }
                        None => {
                            slot.ended = true;
                            ready.notify_all();
                            return;
                        }
                    }
                    ready.notify_all();
                }
            })
            .map_err(|e| Error::source("capture", format!("cannot start its thread ({e})")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Latest { shared }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::source("capture", "its thread ended while opening")),
        }
    }

    /// Frames dropped so far, over the whole run.
    pub fn dropped(&self) -> u64 {
        self.shared.0.lock().map(|s| s.dropped_total).unwrap_or(0)
    }
}

impl FrameSource for Latest {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        let (lock, ready) = &*self.shared;
        let mut slot = lock.lock().ok()?;
        loop {
            if let Some(e) = slot.errors.pop_front() {
                return Some(Err(e));
            }
            if let Some(mut frame) = slot.frame.take() {
                frame.dropped = std::mem::take(&mut slot.dropped);
                return Some(Ok(frame));
            }
            if slot.ended {
                return None;
            }
            slot = ready.wait(slot).ok()?;
        }
    }

    fn dropped(&self) -> u64 {
        Latest::dropped(self)
    }

    fn is_live(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::GrayImage;
    use std::time::Duration;

    /// A source of `n` frames, one every `every`.
    struct Ticker {
        n: u64,
        at: u64,
        every: Duration,
    }

    impl FrameSource for Ticker {
        fn next_frame(&mut self) -> Option<Result<Frame>> {
            if self.at == self.n {
                return None;
            }
            std::thread::sleep(self.every);
            self.at += 1;
            if self.at == 3 {
                return Some(Err(Error::frame("tick", "a bad frame")));
            }
            Some(Ok(Frame::new(
                "tick",
                self.at - 1,
                GrayImage::new(2, 2),
                Duration::ZERO,
            )))
        }
    }

    #[test]
    fn a_slow_reader_gets_the_newest_frames_and_the_count_of_the_rest() {
        let mut latest = Latest::spawn(|| {
            Ok(Box::new(Ticker {
                n: 40,
                at: 0,
                every: Duration::from_micros(100),
            }) as Box<dyn FrameSource>)
        })
        .unwrap();
        let (mut frames, mut errors, mut dropped) = (Vec::new(), 0, 0);
        while let Some(next) = latest.next_frame() {
            match next {
                Ok(f) => {
                    dropped += f.dropped;
                    frames.push(f.index);
                    // A reader far slower than the source (40 frames take about 4 ms).
                    std::thread::sleep(Duration::from_millis(30));
                }
                Err(_) => errors += 1,
            }
        }
        assert_eq!(errors, 1);
        assert!(frames.windows(2).all(|w| w[0] < w[1]), "{frames:?}");
        assert!(dropped > 0, "{frames:?}");
        // Every frame was either read, dropped, or the one bad frame.
        assert_eq!(frames.len() as u64 + dropped + 1, 40, "{frames:?}");
        assert_eq!(latest.dropped(), dropped);
    }

    #[test]
    fn an_opening_that_fails_is_the_error_of_spawn() {
        let err = Latest::spawn(|| Err(Error::source("cam", "cannot open")))
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "cam: cannot open");
    }
}

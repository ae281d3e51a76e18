//! Frames from a program's standard output (`edge run --pipe 'COMMAND'`) or from standard
//! input (`--input -`): the way to the cameras that are no V4L2 capture device, the
//! Raspberry Pi's CSI cameras through `rpicam-vid`, Jetson's through GStreamer's
//! `nvarguscamerasrc`, RTSP cameras through `ffmpeg`, without linking a camera library.
//! The program runs under `sh -c`; its standard error goes to the log line by line; when it
//! exits or its stream breaks it is started again with the camera's back-off.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::stream::{StreamFormat, StreamReader};
use super::{Frame, FrameSource};
use crate::{Error, Result};

/// Longest wait between restarts of a program that keeps exiting.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// First wait before a restart.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// A program whose standard output is a stream of frames.
pub struct Pipe {
    command: String,
    name: String,
    format: StreamFormat,
    size: Option<(u32, u32)>,
    child: Option<(Program, StreamReader)>,
    backoff: Duration,
    index: u64,
    /// Frames read since the program was last started.
    frames_this_run: u64,
    ended: bool,
}

/// A running camera program, also known to [`end_programs`] so that it does not outlive an
/// edge that exits without unwinding.
type Program = Arc<Mutex<Child>>;

/// The programs of every pipe now running.
static PROGRAMS: Mutex<Vec<Weak<Mutex<Child>>>> = Mutex::new(Vec::new());

/// Kills every pipe's program still running: for an exit that skips the pipes' own clean-up
/// (a stop asked by a signal while a read holds the frame loop). A camera program left
/// running would keep the camera, and the next start could not open it.
pub fn end_programs() {
    let programs = PROGRAMS
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    for program in programs.iter().filter_map(Weak::upgrade) {
        if let Ok(mut child) = program.lock() {
            kill(&mut child);
        }
    }
}

/// Kills a pipe's program with everything it started: the shell of `sh -c` runs the camera
/// program as its child, and killing the shell alone would leave that holding the camera.
fn kill(child: &mut Child) {
    if let Ok(group) = i32::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers; the group is the one `start` made for this
        // child (its id), so no other process is signalled.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Pipe {
    /// Ends the program with the pipe: a run that stops does not leave the camera held.
    fn drop(&mut self) {
        if let Some((program, _)) = self.child.take() {
            if let Ok(mut child) = program.lock() {
                kill(&mut child);
            }
        }
    }
}

impl Pipe {
    /// Starts `command` (a shell command line) and reads its standard output as `format`.
    pub fn spawn(command: &str, format: StreamFormat, size: Option<(u32, u32)>) -> Result<Self> {
        let name = format!("pipe `{command}`");
        if command.trim().is_empty() {
            return Err(Error::source(name, "empty command"));
        }
        format.check(&name, size)?;
        let mut pipe = Pipe {
            command: command.to_string(),
            name,
            format,
            size,
            child: None,
            backoff: FIRST_BACKOFF,
            index: 0,
            frames_this_run: 0,
            ended: false,
        };
        pipe.start()?;
        Ok(pipe)
    }

    fn start(&mut self) -> Result<()> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            // A group of its own: the shell and what it starts (`rpicam-vid`, a
            // `gst-launch-1.0` pipeline) end together (see [`kill`]).
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::source(&self.name, format!("cannot be started ({e})")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::source(&self.name, "no standard output to read"))?;
        if let Some(stderr) = child.stderr.take() {
            let name = self.name.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                    tracing::info!("{name}: {line}");
                }
            });
        }
        let reader = StreamReader::new(&self.name, Box::new(stdout), self.format, self.size);
        let program = Arc::new(Mutex::new(child));
        if let Ok(mut all) = PROGRAMS.lock() {
            all.retain(|p| p.strong_count() > 0);
            all.push(Arc::downgrade(&program));
        }
        self.child = Some((program, reader));
        self.frames_this_run = 0;
        tracing::info!("{}: started", self.name);
        Ok(())
    }

    /// Ends the running program (its stream broke or ended) and says how it went.
    fn stop(&mut self, why: Option<Error>) -> Error {
        let Some((program, _)) = self.child.take() else {
            return Error::source(&self.name, "not running");
        };
        let Ok(mut child) = program.lock() else {
            return Error::source(&self.name, "its program's handle was poisoned");
        };
        // After its output ended the program is given a moment to exit by itself, so its
        // exit status says what happened; a program still running (or a broken stream) is
        // killed.
        let mut status = None;
        if why.is_none() {
            for _ in 0..200 {
                if let Ok(Some(s)) = child.try_wait() {
                    status = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if status.is_none() {
            kill(&mut child);
            status = child.try_wait().ok().flatten();
        }
        let code = status.and_then(|s| s.code());
        // The shell's codes for a program it could not find or run: starting it again will
        // not help, and nothing was ever read.
        if self.index == 0 && matches!(code, Some(126 | 127)) {
            self.ended = true;
            return Error::source(
                &self.name,
                if code == Some(127) {
                    "command not found (the shell's exit status 127)"
                } else {
                    "cannot be run (the shell's exit status 126: not executable?)"
                },
            );
        }
        let how = match (why, status) {
            (Some(Error::Source { reason, .. } | Error::Frame { reason, .. }), _) => reason,
            (Some(e), _) => e.to_string(),
            (None, Some(s)) => format!("exited ({s})"),
            (None, None) => "ended".to_string(),
        };
        if self.frames_this_run > 0 {
            self.backoff = FIRST_BACKOFF;
        }
        Error::source(
            &self.name,
            format!(
                "{how}; starting it again in {:.1} s",
                self.backoff.as_secs_f32()
            ),
        )
    }
}

impl FrameSource for Pipe {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        if self.ended {
            return None;
        }
        if self.child.is_none() {
            std::thread::sleep(self.backoff);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            if let Err(e) = self.start() {
                return Some(Err(e));
            }
        }
        let (_, reader) = self.child.as_mut()?;
        match reader.next_image() {
            Ok(Some((image, decode))) => {
                let index = self.index;
                self.index += 1;
                self.frames_this_run += 1;
                Some(Ok(Frame::new(self.name.clone(), index, image, decode)))
            }
            // One frame that does not decode: the stream goes on.
            Err(e @ Error::Frame { .. }) => Some(Err(e)),
            // Bytes that are not the format asked for: a restart would write the same.
            Err(e) if !reader.framing_known() => {
                self.stop(None);
                self.ended = true;
                Some(Err(e))
            }
            Err(e) => Some(Err(self.stop(Some(e)))),
            Ok(None) => Some(Err(self.stop(None))),
        }
    }
}

/// Frames from standard input, in order, until it ends.
pub struct Stdin {
    reader: StreamReader,
    index: u64,
    ended: bool,
}

impl Stdin {
    /// Reads standard input as `format`.
    pub fn new(format: StreamFormat, size: Option<(u32, u32)>) -> Result<Self> {
        format.check("standard input", size)?;
        Ok(Stdin {
            reader: StreamReader::new("standard input", Box::new(std::io::stdin()), format, size),
            index: 0,
            ended: false,
        })
    }
}

impl FrameSource for Stdin {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        if self.ended {
            return None;
        }
        match self.reader.next_image() {
            Ok(Some((image, decode))) => {
                let index = self.index;
                self.index += 1;
                Some(Ok(Frame::new(
                    "standard input".to_string(),
                    index,
                    image,
                    decode,
                )))
            }
            Ok(None) => None,
            Err(e @ Error::Frame { .. }) => Some(Err(e)),
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }
}

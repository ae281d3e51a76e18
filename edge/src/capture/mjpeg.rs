//! HTTP MJPEG streams (`multipart/x-mixed-replace`, as phone and IP cameras serve them) as a
//! frame source. Parts are read by their `Content-Length`, or up to the next boundary when a
//! server leaves it out; a part that does not decode is a frame error and the stream goes on.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{decode, Frame, FrameSource};
use crate::{Error, Result};

/// Largest part accepted; a bigger one means a broken or hostile stream.
const MAX_PART: usize = 16 << 20;
/// Longest header line accepted.
const MAX_LINE: usize = 8 << 10;

/// Frames of an MJPEG stream.
pub struct Mjpeg {
    name: String,
    reader: BufReader<Box<dyn Read + Send>>,
    boundary: Vec<u8>,
    index: u64,
    at_part_headers: bool,
    done: bool,
    /// The stream broke (rather than ended): reconnect when it came from a URL.
    broken: bool,
    url: Option<String>,
    backoff: Duration,
    /// When the last whole part of a URL stream arrived (see [`FRAME_DEADLINE`]).
    last_part: Arc<Mutex<Instant>>,
    /// [`FRAME_DEADLINE`], shorter in tests.
    deadline: Duration,
}

/// Longest a URL stream may go on sending bytes without a whole part: a camera sends a frame
/// every second or faster, so a stream that drips (a stalled encoder, a stranger's server
/// sending a byte every two seconds, which no per-read timeout catches) is broken and is
/// reconnected.
pub const FRAME_DEADLINE: Duration = Duration::from_secs(20);

/// A URL stream's body whose reads fail once [`FRAME_DEADLINE`] has passed since the last
/// whole part.
struct Paced {
    inner: Box<dyn Read + Send>,
    last_part: Arc<Mutex<Instant>>,
    deadline: Duration,
}

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let since = self
            .last_part
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        if since > self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no whole frame for {} s", since.as_secs()),
            ));
        }
        self.inner.read(buf)
    }
}

/// Longest wait between attempts to reconnect a broken stream.
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// First wait before reconnecting.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

impl Mjpeg {
    /// Connects to `url` and checks it serves a multipart stream. When the stream later
    /// breaks (Wi-Fi, a phone app restarting), it is reconnected with a growing back-off.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_paced(url, FRAME_DEADLINE)
    }

    /// [`Mjpeg::open`] with a frame deadline of `deadline`.
    fn open_paced(url: &str, deadline: Duration) -> Result<Self> {
        let (body, boundary) = connect(url)?;
        let last_part = Arc::new(Mutex::new(Instant::now()));
        let body = Box::new(Paced {
            inner: body,
            last_part: last_part.clone(),
            deadline,
        });
        let mut stream = Self::from_reader(url, body, &boundary);
        stream.url = Some(url.to_string());
        stream.last_part = last_part;
        stream.deadline = deadline;
        Ok(stream)
    }

    /// A stream read from `reader`, whose parts are separated by `boundary`.
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>, boundary: &str) -> Self {
        Mjpeg {
            name: name.to_string(),
            reader: BufReader::new(reader),
            boundary: boundary.as_bytes().to_vec(),
            index: 0,
            at_part_headers: false,
            done: false,
            broken: false,
            url: None,
            backoff: FIRST_BACKOFF,
            last_part: Arc::new(Mutex::new(Instant::now())),
            deadline: FRAME_DEADLINE,
        }
    }

    /// Waits, then connects again to the stream's URL.
    fn reconnect(&mut self, url: &str) -> Result<()> {
        // Hang up first: the server may serve one viewer at a time.
        self.reader = BufReader::new(Box::new(std::io::empty()));
        std::thread::sleep(self.backoff);
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let (body, boundary) = connect(url).map_err(|e| {
            // The connection's error names the URL already.
            let e = e.to_string();
            let why = e.strip_prefix(&format!("{url}: ")).unwrap_or(&e);
            Error::source(
                url,
                format!(
                    "{why}; trying again after {:.1} s",
                    self.backoff.as_secs_f32()
                ),
            )
        })?;
        tracing::info!("{url}: reconnected after {:.1} s", wait.as_secs_f32());
        self.mark_part();
        self.reader = BufReader::new(Box::new(Paced {
            inner: body,
            last_part: self.last_part.clone(),
            deadline: self.deadline,
        }));
        self.boundary = boundary.into_bytes();
        self.at_part_headers = false;
        self.done = false;
        self.broken = false;
        Ok(())
    }

    /// A whole part arrived: the frame deadline starts again.
    fn mark_part(&self) {
        if let Ok(mut t) = self.last_part.lock() {
            *t = Instant::now();
        }
    }

    fn broken(&mut self, why: impl std::fmt::Display) -> Error {
        self.done = true;
        self.broken = true;
        Error::source(&self.name, format!("stream broken: {why}"))
    }

    /// The stream closed where a part could end. Only a closing boundary ends a camera's
    /// stream: one from a URL that closes without it (a phone app restarting, a camera
    /// rebooting) is broken and gets reconnected; a stream read from a file or pipe has ended.
    fn closed_between_parts(&mut self) -> Result<()> {
        if self.url.is_some() {
            return Err(self.broken("closed between parts without a closing boundary"));
        }
        Ok(())
    }

    /// Reads one line (without its line ending); `None` at the end of the stream.
    fn line(&mut self) -> Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.broken(e))?;
        if n == 0 {
            return Ok(None);
        }
        if line.len() > MAX_LINE {
            return Err(self.broken("header line longer than 8 KiB"));
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    /// The bytes of the next part, or `None` when the stream has ended cleanly.
    fn next_part(&mut self) -> Result<Option<Vec<u8>>> {
        if !self.at_part_headers {
            // Skip the preamble up to the boundary line.
            let mut skipped = 0usize;
            loop {
                let Some(line) = self.line()? else {
                    return self.closed_between_parts().map(|()| None);
                };
                let trimmed = trim(&line);
                if let Some(rest) = trimmed
                    .strip_prefix(b"--")
                    .and_then(|r| r.strip_prefix(self.boundary.as_slice()))
                {
                    if rest == b"--" {
                        return Ok(None);
                    }
                    break;
                }
                skipped += line.len() + 1;
                if skipped > MAX_PART {
                    return Err(self.broken("no part boundary found"));
                }
            }
        }
        self.at_part_headers = false;
        let mut length = None;
        loop {
            let Some(line) = self.line()? else {
                return Err(self.broken("ended inside part headers"));
            };
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some((key, value)) = text.split_once(':') {
                if key.trim().eq_ignore_ascii_case("content-length") {
                    let n: usize = value.trim().parse().map_err(|_| {
                        self.broken(format!("bad Content-Length '{}'", value.trim()))
                    })?;
                    if n > MAX_PART {
                        return Err(
                            self.broken(format!("part of {n} bytes is over the 16 MiB limit"))
                        );
                    }
                    length = Some(n);
                }
            }
        }
        match length {
            Some(n) => {
                let mut part = vec![0; n];
                self.reader
                    .read_exact(&mut part)
                    .map_err(|e| self.broken(format!("part cut short ({e})")))?;
                Ok(Some(part))
            }
            None => self.read_to_boundary().map(Some),
        }
    }

    /// Reads a part that has no length up to the next boundary line, which it consumes.
    fn read_to_boundary(&mut self) -> Result<Vec<u8>> {
        let mut part = Vec::new();
        loop {
            let mut line = Vec::new();
            let budget = (MAX_PART + 1).saturating_sub(part.len()) as u64;
            let n = (&mut self.reader)
                .take(budget)
                .read_until(b'\n', &mut line)
                .map_err(|e| self.broken(e))?;
            if n == 0 {
                // The last part of a stream that closes without a final boundary; a live
                // one is connected again for the next.
                let _ = self.closed_between_parts();
                self.done = true;
                return Ok(part);
            }
            if let Some(rest) = line
                .strip_prefix(b"--")
                .and_then(|r| r.strip_prefix(self.boundary.as_slice()))
            {
                if part.ends_with(b"\r\n") {
                    part.truncate(part.len() - 2);
                } else if part.ends_with(b"\n") {
                    part.truncate(part.len() - 1);
                }
                if trim(rest) == b"--" {
                    self.done = true;
                } else {
                    self.at_part_headers = true;
                }
                return Ok(part);
            }
            part.extend_from_slice(&line);
            if part.len() > MAX_PART {
                return Err(self.broken("part over the 16 MiB limit without a boundary"));
            }
        }
    }
}

impl FrameSource for Mjpeg {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        if self.done {
            let url = self.url.clone().filter(|_| self.broken)?;
            if let Err(e) = self.reconnect(&url) {
                return Some(Err(e));
            }
        }
        let part = match self.next_part() {
            Ok(Some(part)) => part,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => return Some(Err(e)),
        };
        self.mark_part();
        let index = self.index;
        self.index += 1;
        self.backoff = FIRST_BACKOFF;
        let start = Instant::now();
        let name = format!("{}#{index}", self.name);
        Some(
            decode(&part, &name)
                .map(|image| Frame::new(self.name.clone(), index, image, start.elapsed())),
        )
    }
}

/// Opens `url` and returns its body and part boundary.
fn connect(url: &str) -> Result<(Box<dyn Read + Send>, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(10)))
        .timeout_per_read(Some(Duration::from_secs(10)))
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .map_err(|e| Error::source(url, format!("cannot open the stream ({e})")))?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let boundary = boundary_of(&content_type).ok_or_else(|| {
            Error::source(
                url,
                format!("not an MJPEG stream (content type '{content_type}', expected multipart/x-mixed-replace with a boundary)"),
            )
        })?;
    let body: Box<dyn Read + Send> = Box::new(response.into_body().into_reader());
    Ok((body, boundary))
}

/// The boundary named by a `multipart/x-mixed-replace; boundary=...` content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("multipart/") {
        return None;
    }
    let at = lower.find("boundary=")? + "boundary=".len();
    let value = content_type[at..]
        .split(';')
        .next()?
        .trim()
        .trim_matches('"');
    let value = value.strip_prefix("--").unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &line[start..end]
}

#[cfg(test)]
mod tests;

//! Frames from a byte stream, as a camera program writes them to a pipe: bytes → grey frames
//! `[H, W]` of u8. Raw frames of a size given by the user (GRAY8, I420, NV12, YUYV: only the
//! luma is taken, no colour work), concatenated JPEG (an MJPEG elementary stream, split at
//! its markers, not by searching for end markers, so a thumbnail inside a frame does not end
//! it) and Y4M (its header carries the size and layout).

use std::io::{BufRead, BufReader, Read};

use std::time::{Duration, Instant};

use image::GrayImage;

use super::{decode, MAX_SIDE};
use crate::{Error, Result};

/// How the frames of a stream are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    /// Y4M or JPEG, told by the stream's first bytes.
    Auto,
    /// One byte of luma per pixel.
    Gray8,
    /// Planar YUV 4:2:0: the luma plane, then quarter-size U and V planes.
    I420,
    /// The luma plane, then one half-height plane of interleaved U and V.
    Nv12,
    /// Packed 4:2:2, Y U Y V: luma in every second byte.
    Yuyv,
    /// Concatenated JPEG images.
    Mjpeg,
    /// YUV4MPEG2, as ffmpeg and GStreamer write it.
    Y4m,
}

impl StreamFormat {
    /// Refuses, naming `name`, a raw format without the frame size it needs.
    pub fn check(self, name: &str, size: Option<(u32, u32)>) -> Result<()> {
        if self.raw_bytes(1, 1).is_some() && size.is_none() {
            return Err(Error::source(
                name,
                format!("raw {self:?} frames need their size: give --size WxH"),
            ));
        }
        Ok(())
    }

    /// Bytes of one raw frame of `w × h`, or `None` for formats that carry their own framing.
    pub fn raw_bytes(self, w: u32, h: u32) -> Option<usize> {
        let (w, h) = (w as usize, h as usize);
        let chroma = w.div_ceil(2) * h.div_ceil(2);
        match self {
            StreamFormat::Gray8 => Some(w * h),
            StreamFormat::I420 | StreamFormat::Nv12 => Some(w * h + 2 * chroma),
            StreamFormat::Yuyv => Some(w * h * 2),
            StreamFormat::Auto | StreamFormat::Mjpeg | StreamFormat::Y4m => None,
        }
    }
}

/// What was learnt of the stream's layout once its first bytes were seen.
enum Layout {
    /// Raw frames of `bytes` each; luma at `step`-byte spacing (1, or 2 for YUYV).
    Raw {
        w: u32,
        h: u32,
        bytes: usize,
        step: usize,
    },
    Mjpeg,
    /// Y4M frames of `bytes` after each FRAME line, the luma plane first.
    Y4m {
        w: u32,
        h: u32,
        bytes: usize,
    },
}

/// Reads grey frames from a byte stream; every frame in order, none dropped.
pub struct StreamReader {
    name: String,
    input: BufReader<Box<dyn Read + Send>>,
    format: StreamFormat,
    size: Option<(u32, u32)>,
    layout: Option<Layout>,
    buffer: Vec<u8>,
    /// Bytes read ahead and put back, last first.
    back: Vec<u8>,
}

impl StreamReader {
    /// A reader of `input`, named `name` in errors; `size` is needed by the raw formats.
    pub fn new(
        name: &str,
        input: Box<dyn Read + Send>,
        format: StreamFormat,
        size: Option<(u32, u32)>,
    ) -> Self {
        StreamReader {
            name: name.to_string(),
            input: BufReader::with_capacity(1 << 16, input),
            format,
            size,
            layout: None,
            buffer: Vec::new(),
            back: Vec::new(),
        }
    }

    /// Whether the stream's layout is known (its first bytes fit the format asked for).
    pub fn framing_known(&self) -> bool {
        self.layout.is_some()
    }

    /// The next frame and the time taken to make it grey; `Ok(None)` when the stream ended
    /// between frames. An error that leaves the stream's framing unknown (a wrong size, a
    /// cut-off frame, a broken header) ends it; a JPEG that does not decode is one frame's.
    pub fn next_image(&mut self) -> Result<Option<(GrayImage, Duration)>> {
        if self.layout.is_none() {
            let head = self.head()?;
            if head.is_empty() {
                return Ok(None);
            }
            self.layout = Some(self.layout(&head)?);
        }
        match self.layout {
            Some(Layout::Raw { w, h, bytes, step }) => {
                if !self.fill(bytes)? {
                    return Ok(None);
                }
                let start = Instant::now();
                let luma: Vec<u8> = if step == 1 {
                    self.buffer[..(w * h) as usize].to_vec()
                } else {
                    self.buffer.iter().step_by(step).copied().collect()
                };
                let image = GrayImage::from_raw(w, h, luma)
                    .ok_or_else(|| Error::frame(&self.name, "frame shorter than its size"))?;
                Ok(Some((image, start.elapsed())))
            }
            Some(Layout::Y4m { w, h, bytes }) => {
                let Some(line) = self.line()? else {
                    return Ok(None);
                };
                if !line.starts_with(b"FRAME") {
                    return Err(Error::source(
                        &self.name,
                        "Y4M frame does not start with FRAME: the header's size or colour \
                         space does not match the bytes",
                    ));
                }
                if !self.fill(bytes)? {
                    return Err(self.cut(bytes));
                }
                let start = Instant::now();
                let image = GrayImage::from_raw(w, h, self.buffer[..(w * h) as usize].to_vec())
                    .ok_or_else(|| Error::frame(&self.name, "frame shorter than its size"))?;
                Ok(Some((image, start.elapsed())))
            }
            Some(Layout::Mjpeg) => {
                if !self.jpeg()? {
                    return Ok(None);
                }
                let start = Instant::now();
                let image = decode(&self.buffer, &self.name)?;
                Ok(Some((image, start.elapsed())))
            }
            None => Ok(None),
        }
    }

    /// The stream's first bytes (up to 9, fewer only at its end), left in the stream.
    fn head(&mut self) -> Result<Vec<u8>> {
        let mut head = vec![0u8; 9];
        let got = read_full(&mut self.input, &mut head).map_err(|e| self.broken(e))?;
        head.truncate(got);
        let rest = std::mem::replace(&mut self.input, BufReader::new(Box::new(std::io::empty())));
        self.input = BufReader::with_capacity(
            1 << 16,
            Box::new(std::io::Cursor::new(head.clone()).chain(rest)),
        );
        Ok(head)
    }

    /// Decides the layout from the format asked for and the stream's first bytes.
    fn layout(&mut self, head: &[u8]) -> Result<Layout> {
        let (y4m, jpeg) = (
            head.starts_with(b"YUV4MPEG2"),
            head.starts_with(&[0xFF, 0xD8]),
        );
        let said = match self.format {
            StreamFormat::Auto if y4m => StreamFormat::Y4m,
            StreamFormat::Auto if jpeg => StreamFormat::Mjpeg,
            StreamFormat::Auto => {
                return Err(Error::source(
                    &self.name,
                    "neither Y4M nor JPEG; for raw frames give --pipe-format \
                     gray8|i420|nv12|yuyv and --size WxH",
                ))
            }
            f => f,
        };
        match said {
            StreamFormat::Y4m => self.y4m_header(),
            StreamFormat::Mjpeg if jpeg => Ok(Layout::Mjpeg),
            StreamFormat::Mjpeg => Err(Error::source(
                &self.name,
                "not JPEG: the stream does not start with a JPEG image",
            )),
            raw => {
                if y4m || jpeg {
                    return Err(Error::source(
                        &self.name,
                        format!(
                            "the stream is {}, not raw {raw:?} frames: leave out --pipe-format \
                             or give {}",
                            if y4m { "Y4M" } else { "JPEG" },
                            if y4m { "y4m" } else { "mjpeg" }
                        ),
                    ));
                }
                let (w, h) = self.size.ok_or_else(|| {
                    Error::source(
                        &self.name,
                        format!("raw {raw:?} frames need their size: give --size WxH"),
                    )
                })?;
                let bytes = raw.raw_bytes(w, h).unwrap_or(0);
                let step = if raw == StreamFormat::Yuyv { 2 } else { 1 };
                Ok(Layout::Raw { w, h, bytes, step })
            }
        }
    }

    /// Reads the Y4M stream header: `YUV4MPEG2 W640 H480 F30:1 … C420jpeg`.
    fn y4m_header(&mut self) -> Result<Layout> {
        let line = self.line()?.unwrap_or_default();
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut words = text.split(' ');
        if words.next() != Some("YUV4MPEG2") {
            return Err(Error::source(&self.name, "not Y4M: no YUV4MPEG2 header"));
        }
        let (mut w, mut h, mut colour) = (0u32, 0u32, "420jpeg".to_string());
        for word in words {
            // The tag is the word's first character, whatever its width in bytes (a garbled
            // header is not ASCII).
            let mut chars = word.chars();
            let tag = chars.next();
            let value = chars.as_str();
            match tag {
                Some('W') => w = value.parse().unwrap_or(0),
                Some('H') => h = value.parse().unwrap_or(0),
                Some('C') => colour = value.to_string(),
                _ => {}
            }
        }
        if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
            return Err(Error::source(
                &self.name,
                format!("Y4M header without a usable size (W{w} H{h}, at most {MAX_SIDE})"),
            ));
        }
        let (wu, hu) = (w as usize, h as usize);
        let bytes = match colour.as_str() {
            "420" | "420jpeg" | "420paldv" | "420mpeg2" => {
                wu * hu + 2 * wu.div_ceil(2) * hu.div_ceil(2)
            }
            "422" => wu * hu + 2 * wu.div_ceil(2) * hu,
            "444" => 3 * wu * hu,
            "mono" => wu * hu,
            other => {
                return Err(Error::source(
                    &self.name,
                    format!("Y4M colour space C{other} is not read (8-bit 420, 422, 444 or mono)"),
                ))
            }
        };
        Ok(Layout::Y4m { w, h, bytes })
    }

    /// Fills the buffer with exactly `n` bytes; false when the stream ended before the first,
    /// an error when it ended inside them.
    fn fill(&mut self, n: usize) -> Result<bool> {
        self.buffer.resize(n, 0);
        let got = read_full(&mut self.input, &mut self.buffer).map_err(|e| self.broken(e))?;
        if got == n {
            return Ok(true);
        }
        self.buffer.truncate(got);
        if got == 0 {
            return Ok(false);
        }
        Err(self.cut(n))
    }

    /// One line without its `\n`, at most 1 KiB; `None` at the stream's end.
    fn line(&mut self) -> Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let n = (&mut self.input)
            .take(1024)
            .read_until(b'\n', &mut line)
            .map_err(|e| self.broken(e))?;
        if n == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') {
            return Err(Error::source(
                &self.name,
                "Y4M line longer than 1 KiB or cut off",
            ));
        }
        line.pop();
        Ok(Some(line))
    }

    /// Reads one JPEG image into the buffer, segment by segment; false at the stream's end.
    fn jpeg(&mut self) -> Result<bool> {
        self.buffer.clear();
        let Some(first) = self.byte()? else {
            return Ok(false);
        };
        let second = self.byte()?;
        if first != 0xFF || second != Some(0xD8) {
            return Err(Error::source(
                &self.name,
                "JPEG stream out of step: the next image does not start with a JPEG marker",
            ));
        }
        self.buffer.extend_from_slice(&[0xFF, 0xD8]);
        loop {
            let marker = self.marker()?;
            self.buffer.extend_from_slice(&[0xFF, marker]);
            match marker {
                0xD9 => return Ok(true),
                0x01 | 0xD0..=0xD7 => {}
                _ => {
                    let hi = self.need()?;
                    let lo = self.need()?;
                    let len = usize::from(hi) << 8 | usize::from(lo);
                    if len < 2 {
                        return Err(Error::source(
                            &self.name,
                            "JPEG segment with a length under 2",
                        ));
                    }
                    self.buffer.extend_from_slice(&[hi, lo]);
                    for _ in 0..len - 2 {
                        let b = self.need()?;
                        self.buffer.push(b);
                    }
                    if marker == 0xDA {
                        self.entropy_data()?;
                    }
                }
            }
            if self.buffer.len() > MAX_JPEG {
                return Err(Error::source(
                    &self.name,
                    format!("JPEG image over {} MiB: not a camera frame", MAX_JPEG >> 20),
                ));
            }
        }
    }

    /// The next marker's code, skipping fill bytes.
    fn marker(&mut self) -> Result<u8> {
        if self.need()? != 0xFF {
            return Err(Error::source(
                &self.name,
                "JPEG segment does not start with a marker",
            ));
        }
        loop {
            match self.need()? {
                0xFF => {}
                code => return Ok(code),
            }
        }
    }

    /// Copies entropy-coded data up to, not including, the next marker that is neither a
    /// stuffed 0xFF nor a restart marker (that marker is put back for [`Self::marker`]).
    fn entropy_data(&mut self) -> Result<()> {
        loop {
            let b = self.need()?;
            if b != 0xFF {
                self.buffer.push(b);
                continue;
            }
            let next = self.need()?;
            if next == 0x00 || (0xD0..=0xD7).contains(&next) {
                self.buffer.extend_from_slice(&[0xFF, next]);
            } else {
                self.back.extend_from_slice(&[next, 0xFF]);
                return Ok(());
            }
            if self.buffer.len() > MAX_JPEG {
                return Err(Error::source(
                    &self.name,
                    format!("JPEG image over {} MiB: not a camera frame", MAX_JPEG >> 20),
                ));
            }
        }
    }

    /// The next byte (bytes put back first); `None` at the stream's end.
    fn byte(&mut self) -> Result<Option<u8>> {
        if let Some(b) = self.back.pop() {
            return Ok(Some(b));
        }
        let mut b = [0u8];
        let got = read_full(&mut self.input, &mut b).map_err(|e| self.broken(e))?;
        Ok((got == 1).then_some(b[0]))
    }

    fn need(&mut self) -> Result<u8> {
        self.byte()?
            .ok_or_else(|| Error::source(&self.name, "stream ended inside a JPEG image"))
    }

    fn cut(&self, n: usize) -> Error {
        Error::source(
            &self.name,
            format!(
                "stream ended inside a frame ({} of {n} bytes): do --size and --pipe-format \
                 match what the program writes?",
                self.buffer.len()
            ),
        )
    }

    fn broken(&self, e: std::io::Error) -> Error {
        Error::source(&self.name, format!("reading the stream: {e}"))
    }
}

/// Fills `buf` from `input` as far as the stream goes; the bytes read (fewer only at its end).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Largest JPEG image taken from a stream.
const MAX_JPEG: usize = 32 << 20;

#[cfg(test)]
mod tests;

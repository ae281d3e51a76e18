//! Frame sources behind one interface: image files (paths, directories, globs), HTTP MJPEG
//! streams, a program's standard output or standard input (raw, MJPEG or Y4M frames) and
//! USB/UVC cameras (feature `camera`). Every source yields grey frames `[H, W]`
//! of u8; a frame that cannot be decoded is an error for that frame, not for the run.

mod files;
mod latest;
mod mjpeg;
mod pipe;
mod stream;
mod watchdog;

#[cfg(feature = "camera")]
pub mod camera;

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::GrayImage;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

pub use files::{expand_inputs, Files};
pub use latest::Latest;
pub use mjpeg::Mjpeg;
pub use pipe::{end_programs, Pipe, Stdin};
pub use stream::{StreamFormat, StreamReader};
pub use watchdog::{parse_duration, Watchdog, GAVE_UP};

use crate::{Error, Result};

/// Largest width or height accepted, so a huge image is refused before it is allocated.
pub const MAX_SIDE: u32 = 8192;

/// Largest image file read: a 8192×8192 PNG of noise is about 64 MiB; what is larger (a
/// video by mistake, `/dev/zero`) is refused before it fills the memory.
pub const MAX_FILE: u64 = 64 << 20;

/// Reads an image file whole, refusing one over [`MAX_FILE`] bytes (reading stops there, so
/// an endless device is refused too).
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Error::frame(
            path.display().to_string(),
            format!("over {} MiB: not an image frame", MAX_FILE >> 20),
        ));
    }
    Ok(bytes)
}

/// One grey frame and where it came from.
pub struct Frame {
    /// File name, stream URL or camera name.
    pub source: String,
    /// Index of the frame within its source, from 0.
    pub index: u64,
    /// The frame in grey levels.
    pub image: GrayImage,
    /// Time spent decoding it.
    pub decode: Duration,
    /// When the source had it whole (after decoding).
    pub captured: Instant,
    /// Frames of a live source dropped just before this one, because a newer frame came
    /// before the reader was free (see [`Latest`]).
    pub dropped: u64,
}

impl Frame {
    /// A frame had now, nothing dropped before it.
    pub fn new(source: impl Into<String>, index: u64, image: GrayImage, decode: Duration) -> Self {
        Frame {
            source: source.into(),
            index,
            image,
            decode,
            captured: Instant::now(),
            dropped: 0,
        }
    }
}

/// A source of frames; `None` when it has no more.
pub trait FrameSource {
    /// The next frame, or the reason the next frame could not be had (the source goes on).
    fn next_frame(&mut self) -> Option<Result<Frame>>;

    /// Frames dropped so far because newer ones came first (live sources, see [`Latest`]).
    fn dropped(&self) -> u64 {
        0
    }

    /// Whether frames come as the world goes on (a camera, a stream) rather than from files.
    fn is_live(&self) -> bool {
        false
    }
}

/// Decodes an encoded image (JPEG straight to luma, or PNG) to grey, timing it.
pub fn decode_timed(bytes: &[u8], name: &str) -> Result<(GrayImage, Duration)> {
    let start = Instant::now();
    let image = decode(bytes, name)?;
    Ok((image, start.elapsed()))
}

/// Decodes an encoded image to grey; JPEG is decoded to its luma plane only (no colour work).
pub fn decode(bytes: &[u8], name: &str) -> Result<GrayImage> {
    if bytes.is_empty() {
        return Err(Error::frame(name, "empty frame (0 bytes)"));
    }
    let image = if bytes.starts_with(&[0xFF, 0xD8]) {
        decode_jpeg(bytes, name)?
    } else {
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| Error::frame(name, e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        reader.limits(limits);
        reader
            .decode()
            .map_err(|e| Error::frame(name, format!("not a readable image ({e})")))?
            .to_luma8()
    };
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::frame(name, "empty image (no pixels)"));
    }
    Ok(image)
}

fn decode_jpeg(bytes: &[u8], name: &str) -> Result<GrayImage> {
    // A JPEG ends with its end-of-image marker (a camera may pad after it): one cut short by a
    // broken stream or a half-written file has none, and is refused rather than read with its
    // missing rows grey.
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, 0x00 | b'\r' | b'\n' | b' '))
        .map_or(&[][..], |i| &bytes[..=i]);
    if !end.ends_with(&[0xFF, 0xD9]) {
        return Err(Error::frame(
            name,
            "not a whole JPEG (cut short: no end-of-image marker)",
        ));
    }
    let (grey, w, h, orientation) = match decode_jpeg_as(bytes, name, ColorSpace::Luma) {
        // CMYK and YCCK JPEGs (print workflows, some scanners) have no luma plane to take:
        // they are decoded to RGB and weighed to grey (ITU-R BT.601).
        Err(e) if e.to_string().contains("colorspace mapping") => {
            let (rgb, w, h, orientation) = decode_jpeg_as(bytes, name, ColorSpace::RGB)?;
            let grey = rgb
                .chunks_exact(3)
                .map(|p| {
                    let y =
                        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]);
                    y.round().clamp(0.0, 255.0) as u8
                })
                .collect();
            (grey, w, h, orientation)
        }
        other => other?,
    };
    let image = GrayImage::from_raw(w, h, grey)
        .ok_or_else(|| Error::frame(name, "JPEG decoded to fewer pixels than its header says"))?;
    // A phone stores a photo as its sensor saw it and says in EXIF which way is up: a page
    // photographed upright would otherwise be read on its side.
    Ok(match orientation {
        Some(o) if o != image::metadata::Orientation::NoTransforms => {
            let mut turned = image::DynamicImage::ImageLuma8(image);
            turned.apply_orientation(o);
            turned.into_luma8()
        }
        _ => image,
    })
}

/// A decoded JPEG in `colorspace`: its pixels, width, height and EXIF orientation.
type Decoded = (Vec<u8>, u32, u32, Option<image::metadata::Orientation>);

/// The JPEG decoded to `colorspace` (its samples interleaved).
fn decode_jpeg_as(bytes: &[u8], name: &str, colorspace: ColorSpace) -> Result<Decoded> {
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(colorspace)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        // Not strict: libjpeg and the browsers read what a strict decoder refuses (the
        // padding ffmpeg's MJPEG encoder leaves in some scans); a frame cut in transit is
        // told by its missing end marker instead ([`decode_jpeg`]).
        .set_strict_mode(false);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let pixels = decoder.decode().map_err(|e| {
        // zune's messages may end in a newline: an error is one line.
        let why = format!("{e:?}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // Its size refusal advises its own API (`set_limits`); the user gets the limit.
        if why.contains("set_limits") {
            return Error::frame(
                name,
                format!("a JPEG wider or taller than {MAX_SIDE} pixels is not a camera frame"),
            );
        }
        Error::frame(name, format!("not a readable JPEG ({why})"))
    })?;
    let info = decoder
        .info()
        .ok_or_else(|| Error::frame(name, "JPEG without a frame header"))?;
    let orientation = decoder
        .exif()
        .and_then(|exif| image::metadata::Orientation::from_exif_chunk(exif));
    Ok((
        pixels,
        u32::from(info.width),
        u32::from(info.height),
        orientation,
    ))
}

/// `img` as a JPEG at quality 90, for the capture tests.
/// Cases per property test of a parser: `PROPTEST_CASES` when set (`scripts/fuzz.sh` runs
/// many), else `default`, a pass short enough for every test run.
#[cfg(test)]
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
pub(crate) fn test_jpeg(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(img)
        .expect("encoding a test JPEG");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `jpeg` with an EXIF segment saying `orientation` (1–8) right after its start marker.
    fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        // TIFF, little-endian: one IFD holding one entry, tag 0x0112 (SHORT, 1 value).
        let mut tiff = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        tiff.extend(1u16.to_le_bytes());
        tiff.extend(0x0112u16.to_le_bytes());
        tiff.extend(3u16.to_le_bytes());
        tiff.extend(1u32.to_le_bytes());
        tiff.extend(orientation.to_le_bytes());
        tiff.extend([0, 0]);
        tiff.extend(0u32.to_le_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    #[test]
    fn issue15_an_oversized_jpeg_is_refused_without_the_decoders_advice() {
        // A JPEG header claiming 9000 × 16 pixels (its SOF0 height and width patched).
        let mut bytes = test_jpeg(&GrayImage::new(16, 16));
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bytes[sof + 7..sof + 9].copy_from_slice(&9000u16.to_be_bytes());
        let err = decode(&bytes, "huge.jpg").unwrap_err().to_string();
        assert!(err.contains("huge.jpg") && err.contains("8192"), "{err}");
        assert!(!err.contains("set_limits"), "{err}");
    }

    #[test]
    fn issue15_a_cmyk_jpeg_is_read_as_grey() {
        // testdata/cmyk.jpg: a 96×64 crop of samples/scene-0001.jpg at (100, 100), turned to
        // CMYK by ImageMagick (`convert … -colorspace CMYK`).
        let cmyk = decode(include_bytes!("testdata/cmyk.jpg"), "cmyk.jpg").unwrap();
        assert_eq!(cmyk.dimensions(), (96, 64));
        let sample = decode(include_bytes!("../../samples/scene-0001.jpg"), "scene").unwrap();
        let crop = image::imageops::crop_imm(&sample, 100, 100, 96, 64).to_image();
        let off: u64 = cmyk
            .pixels()
            .zip(crop.pixels())
            .map(|(a, b)| u64::from(a[0].abs_diff(b[0])))
            .sum();
        let mean = off as f64 / (96.0 * 64.0);
        assert!(mean < 6.0, "mean grey difference {mean:.1}");
    }

    #[test]
    fn issue15_a_phone_photo_is_turned_the_way_its_exif_says_is_up() {
        // Dark on the left, light on the right, 48 wide and 16 tall as the sensor saw it.
        let sensor =
            GrayImage::from_fn(48, 16, |x, _| image::Luma([if x < 24 { 20 } else { 230 }]));
        let bytes = test_jpeg(&sensor);
        let plain = decode(&with_orientation(&bytes, 1), "upright.jpg").unwrap();
        assert_eq!(plain.dimensions(), (48, 16));
        // 6: the camera was turned a quarter clockwise; the picture turns back to stand up.
        let turned = decode(&with_orientation(&bytes, 6), "phone.jpg").unwrap();
        assert_eq!(turned.dimensions(), (16, 48));
        // What was the sensor's left (dark) is now at the top.
        assert!(turned.get_pixel(8, 4)[0] < 80 && turned.get_pixel(8, 44)[0] > 170);
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        test_jpeg(&GrayImage::from_fn(w, h, |x, y| {
            image::Luma([((x * 7 + y * 3) % 256) as u8])
        }))
    }

    #[test]
    fn jpeg_decodes_to_its_size_and_close_to_its_pixels() {
        let bytes = jpeg(64, 48);
        let img = decode(&bytes, "a.jpg").unwrap();
        assert_eq!(img.dimensions(), (64, 48));
        let reference = image::load_from_memory(&bytes).unwrap().to_luma8();
        let worst = img
            .pixels()
            .zip(reference.pixels())
            .map(|(a, b)| a[0].abs_diff(b[0]))
            .max()
            .unwrap();
        assert!(
            worst <= 2,
            "luma-only decode differs from image's by {worst}"
        );
    }

    #[test]
    fn truncated_empty_and_foreign_bytes_are_frame_errors() {
        let bytes = jpeg(64, 48);
        let err = decode(&bytes[..bytes.len() / 2], "cut.jpg").unwrap_err();
        assert!(err.to_string().starts_with("cut.jpg: "), "{err}");
        assert!(decode(&[], "e.jpg")
            .unwrap_err()
            .to_string()
            .contains("empty frame"));
        assert!(decode(b"hello world", "t.txt")
            .unwrap_err()
            .to_string()
            .contains("not a readable image"));
    }

    #[test]
    fn issue15_a_frame_ffmpegs_mjpeg_encoder_wrote_is_read_as_libjpeg_reads_it() {
        // scene-0002 re-encoded by `ffmpeg -c:v mjpeg -q:v 5` (as a pipe or stream of a
        // board's camera sends it); a strict decoder refused it ("Bad Huffman Code").
        let ours = decode(include_bytes!("testdata/ffmpeg-mjpeg-q5.jpg"), "f.jpg").unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/scene-0002.jpg");
        let original = decode(&std::fs::read(path).unwrap(), "o.jpg").unwrap();
        assert_eq!(ours.dimensions(), original.dimensions());
        let diff: u64 = ours
            .as_raw()
            .iter()
            .zip(original.as_raw())
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        let mean = diff as f64 / ours.as_raw().len() as f64;
        assert!(mean < 3.0, "mean difference {mean:.2} grey levels");
    }

    #[test]
    fn a_huge_image_is_refused_from_its_header() {
        let mut png = Vec::new();
        let img = GrayImage::new(MAX_SIDE + 1, 1);
        img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let err = decode(&png, "big.png").unwrap_err().to_string();
        assert!(err.contains("big.png"), "{err}");
    }

    mod fuzz {
        //! Property tests of image decoding (issue 15): whatever the bytes, a frame or an
        //! error naming the frame, never a panic.
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;
        use proptest::sample::Index;

        fn png(w: u32, h: u32) -> Vec<u8> {
            let mut out = Vec::new();
            GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 3) as u8]))
                .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(fuzz_cases(128)))]

            #[test]
            fn issue15_fuzz_decode_any_bytes(bytes in vec(any::<u8>(), 0..2048)) {
                if let Err(e) = decode(&bytes, "f") {
                    prop_assert!(e.to_string().starts_with("f: "), "{}", e);
                }
            }

            #[test]
            fn issue15_fuzz_decode_damaged_jpeg_and_png(
                as_png: bool,
                edits in vec((any::<Index>(), any::<u8>()), 0..12),
                cut in any::<Index>(),
                whole: bool,
            ) {
                let mut bytes = if as_png { png(40, 30) } else { jpeg(40, 30) };
                for (at, v) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = v;
                }
                if !whole {
                    bytes.truncate(cut.index(bytes.len() + 1));
                }
                match decode(&bytes, "f") {
                    Ok(img) => prop_assert!(img.width() <= MAX_SIDE && img.height() <= MAX_SIDE),
                    Err(e) => prop_assert!(e.to_string().starts_with("f: "), "{}", e),
                }
            }
        }
    }
}

//! USB/UVC cameras through nokhwa (V4L2 on Linux) as a frame source. Frames are taken raw and
//! reduced to grey here: MJPEG through the same luma-only JPEG decoder as files, YUYV and NV12
//! by their Y samples, so no colour conversion is ever paid for. A camera that stops answering
//! (unplugged, reset) is reopened with a growing back-off instead of ending the run.

use std::time::{Duration, Instant};

use image::GrayImage;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{decode, Frame, FrameSource};
use crate::{Error, Result};

/// What to ask of the camera; it answers with its closest mode.
#[derive(Clone, Debug)]
pub struct CameraConfig {
    /// Device index, as `edge cameras` lists them.
    pub index: u32,
    /// Width and height.
    pub resolution: (u32, u32),
    /// Frames per second.
    pub fps: u32,
    /// MJPEG (less USB bandwidth) or YUYV (no decoding).
    pub mjpeg: bool,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            index: 0,
            resolution: (640, 480),
            fps: 30,
            mjpeg: true,
        }
    }
}

/// Longest wait between attempts to reopen a lost camera.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Frames of a camera.
pub struct Camera {
    config: CameraConfig,
    name: String,
    camera: Option<nokhwa::Camera>,
    backoff: Duration,
    index: u64,
}

impl Camera {
    /// Opens the camera, failing with a one-line reason when it cannot be had.
    pub fn open(config: CameraConfig) -> Result<Self> {
        let name = format!("camera {}", config.index);
        let camera = open(&config).map_err(|e| Error::source(&name, e))?;
        tracing::info!("{name}: {}", camera.camera_format());
        Ok(Camera {
            config,
            name,
            camera: Some(camera),
            backoff: Duration::from_millis(500),
            index: 0,
        })
    }

    fn reopen(&mut self) -> Result<()> {
        std::thread::sleep(self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let camera = open(&self.config).map_err(|e| {
            Error::source(
                &self.name,
                format!("{e}; trying again in {:.1} s", self.backoff.as_secs_f32()),
            )
        })?;
        tracing::info!("{}: reopened", self.name);
        self.backoff = Duration::from_millis(500);
        self.camera = Some(camera);
        Ok(())
    }
}

fn open(config: &CameraConfig) -> std::result::Result<nokhwa::Camera, String> {
    let (w, h) = config.resolution;
    let fourcc = if config.mjpeg {
        FrameFormat::MJPEG
    } else {
        FrameFormat::YUYV
    };
    let wanted = CameraFormat::new(Resolution::new(w, h), fourcc, config.fps);
    let request = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted));
    let mut camera = nokhwa::Camera::new(CameraIndex::Index(config.index), request)
        .map_err(|e| format!("cannot open ({e})"))?;
    camera
        .open_stream()
        .map_err(|e| format!("cannot start streaming ({e})"))?;
    Ok(camera)
}

impl FrameSource for Camera {
    fn next_frame(&mut self) -> Option<Result<Frame>> {
        let Some(camera) = self.camera.as_mut() else {
            return Some(
                self.reopen()
                    .and_then(|()| Err(Error::source(&self.name, "reopened; waiting for a frame"))),
            );
        };
        let buffer = match camera.frame() {
            Ok(b) => b,
            Err(e) => {
                self.camera = None;
                return Some(Err(Error::source(
                    &self.name,
                    format!("lost ({e}); reopening"),
                )));
            }
        };
        let start = Instant::now();
        let index = self.index;
        self.index += 1;
        let res = buffer.resolution();
        let name = format!("{}#{index}", self.name);
        let image = grey(
            buffer.buffer(),
            buffer.source_frame_format(),
            res.width(),
            res.height(),
            &name,
        );
        Some(image.map(|image| Frame::new(self.name.clone(), index, image, start.elapsed())))
    }
}

/// The grey image of a raw camera buffer.
fn grey(bytes: &[u8], format: FrameFormat, w: u32, h: u32, name: &str) -> Result<GrayImage> {
    let n = w as usize * h as usize;
    let short = || {
        Error::frame(
            name,
            format!(
                "{format} buffer of {} bytes is short for {w}x{h}",
                bytes.len()
            ),
        )
    };
    match format {
        FrameFormat::MJPEG => decode(bytes, name),
        FrameFormat::YUYV => {
            let y: Vec<u8> = bytes.iter().step_by(2).take(n).copied().collect();
            GrayImage::from_raw(w, h, y).ok_or_else(short)
        }
        FrameFormat::NV12 | FrameFormat::GRAY => {
            GrayImage::from_raw(w, h, bytes.get(..n).ok_or_else(short)?.to_vec()).ok_or_else(short)
        }
        FrameFormat::RAWRGB => {
            let y: Vec<u8> = bytes
                .chunks_exact(3)
                .take(n)
                .map(|p| {
                    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8)
                        as u8
                })
                .collect();
            GrayImage::from_raw(w, h, y).ok_or_else(short)
        }
        other => Err(Error::frame(
            name,
            format!("unsupported camera format {other}"),
        )),
    }
}

/// One line per camera this machine can open: index, name and description.
pub fn list() -> Result<Vec<String>> {
    let cameras =
        nokhwa::query(ApiBackend::Auto).map_err(|e| Error::source("cameras", e.to_string()))?;
    Ok(cameras
        .iter()
        .map(|c| format!("{}\t{}\t{}", c.index(), c.human_name(), c.description()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_gives_its_luma_and_short_buffers_are_errors() {
        let yuyv = [10u8, 128, 20, 128, 30, 128, 40, 128];
        let img = grey(&yuyv, FrameFormat::YUYV, 2, 2, "cam").unwrap();
        assert_eq!(img.as_raw(), &[10, 20, 30, 40]);
        assert!(grey(&yuyv[..4], FrameFormat::YUYV, 2, 2, "cam").is_err());
    }

    #[test]
    fn an_absent_camera_is_a_one_line_error() {
        let cfg = CameraConfig {
            index: 97,
            ..CameraConfig::default()
        };
        let err = Camera::open(cfg).err().unwrap().to_string();
        assert!(err.starts_with("camera 97: cannot open"), "{err}");
        assert!(!err.contains('\n'));
    }
}

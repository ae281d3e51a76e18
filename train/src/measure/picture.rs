//! Pictures people look at: PNG files written atomically; the bitmap text comes from `edge`.

use std::path::Path;

use image::{ImageEncoder, RgbImage};

pub use edge::picture::{text, text_width};

use crate::atomic;
use crate::error::{Error, Result};

/// Encodes `img` as PNG and writes it to `path` atomically.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    atomic::write(path, &bytes)
}

//! Data augmentation of `[28, 28]` u8 digits with imageproc: a random rotation about the
//! centre and a random translation, as the seed article recommends (±10°, ±10%).

use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{warp_into, Border, Interpolation, Projection};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::mnist::SIDE;

/// Ranges of the random transform.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest shift either way, as a fraction of the image side.
    pub max_shift: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            max_rotation_deg: 10.0,
            max_shift: 0.1,
        }
    }
}

/// Rotates `image` by `degrees` about its centre and shifts it by `(dx, dy)` pixels, writing
/// into `out`; pixels that come from outside are background.
pub fn transform(image: &GrayImage, degrees: f32, dx: f32, dy: f32, out: &mut GrayImage) {
    let c = (SIDE as f32 - 1.0) / 2.0;
    let projection = Projection::translate(-c, -c)
        .and_then(Projection::rotate(degrees.to_radians()))
        .and_then(Projection::translate(c + dx, c + dy));
    warp_into(
        image,
        projection,
        Interpolation::Bilinear,
        Border::Constant(Luma([0])),
        out,
    );
}

/// Applies a random transform drawn from `config` to a 784-pixel digit.
pub fn augment(pixels: &[u8], config: &AugmentConfig, rng: &mut impl Rng) -> Vec<u8> {
    let degrees = rng.random_range(-config.max_rotation_deg..=config.max_rotation_deg);
    let max = config.max_shift * SIDE as f32;
    let dx = rng.random_range(-max..=max);
    let dy = rng.random_range(-max..=max);
    let side = SIDE as u32;
    let Some(image) = GrayImage::from_raw(side, side, pixels.to_vec()) else {
        return pixels.to_vec();
    };
    let mut out = GrayImage::new(side, side);
    transform(&image, degrees, dx, dy, &mut out);
    out.into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn square() -> GrayImage {
        GrayImage::from_fn(28, 28, |x, y| {
            Luma([if (10..18).contains(&x) && (6..14).contains(&y) {
                255
            } else {
                0
            }])
        })
    }

    fn centroid(img: &GrayImage) -> (f32, f32) {
        let (mut m, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for (x, y, p) in img.enumerate_pixels() {
            let v = p[0] as f32;
            m += v;
            sx += v * x as f32;
            sy += v * y as f32;
        }
        (sx / m, sy / m)
    }

    #[test]
    fn identity_keeps_the_image() {
        let img = square();
        let mut out = GrayImage::new(28, 28);
        transform(&img, 0.0, 0.0, 0.0, &mut out);
        assert_eq!(img, out);
    }

    #[test]
    fn shift_moves_the_centroid_by_the_shift() {
        let img = square();
        let mut out = GrayImage::new(28, 28);
        transform(&img, 0.0, 2.0, -1.0, &mut out);
        let (a, b) = (centroid(&img), centroid(&out));
        assert!(
            (b.0 - a.0 - 2.0).abs() < 0.05 && (b.1 - a.1 + 1.0).abs() < 0.05,
            "{a:?} -> {b:?}"
        );
    }

    #[test]
    fn rotation_turns_about_the_centre() {
        // The square above the centre turns clockwise (image y points down) by 90°: it ends
        // up right of the centre.
        let img = square();
        let mut out = GrayImage::new(28, 28);
        transform(&img, 90.0, 0.0, 0.0, &mut out);
        let (x, y) = centroid(&out);
        assert!(x > 16.0 && (y - 13.5).abs() < 1.0, "centroid ({x}, {y})");
    }

    #[test]
    fn random_transforms_stay_in_range_and_are_seeded() {
        let pixels = square().into_raw();
        let config = AugmentConfig::default();
        let a = augment(
            &pixels,
            &config,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(3),
        );
        let b = augment(
            &pixels,
            &config,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(3),
        );
        assert_eq!(a, b);
        assert_ne!(a, pixels);
        let ink: u32 = a.iter().map(|&p| p as u32).sum();
        let before: u32 = pixels.iter().map(|&p| p as u32).sum();
        // ±10% shift and ±10° keep a central square inside the frame: ink is conserved.
        assert!(
            (ink as f32 / before as f32 - 1.0).abs() < 0.05,
            "{ink} vs {before}"
        );
    }
}

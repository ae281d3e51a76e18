//! Data augmentation of `[28, 28]` u8 digits with imageproc: a random rotation about the
//! centre and a random translation, as the seed article recommends (±10°, ±10%), and, for
//! models that read other people's pages, what varies between hands and pens and MNIST's
//! writers barely cover ([`Handwriting`]): slant, stroke width and the wobble of a quick hand.

use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{warp_into, Border, Interpolation, Projection};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::data::mnist::SIDE;
use crate::data::styles::{restyle, Styles};

/// Ranges of the random transform.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest shift either way, as a fraction of the image side.
    pub max_shift: f32,
    /// Variations of hand and pen; `None` (and in runs written before it) keeps the digits'
    /// own.
    #[serde(default)]
    pub handwriting: Option<Handwriting>,
    /// Sevens crossed and ones with a flag ([`Styles`]), drawn before the transform; `None`
    /// (and in runs written before it) keeps MNIST's styles.
    #[serde(default)]
    pub styles: Option<Styles>,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            max_rotation_deg: 10.0,
            max_shift: 0.1,
            handwriting: None,
            styles: None,
        }
    }
}

/// What differs between the writers of MNIST and the people whose pages a board reads.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handwriting {
    /// Largest slant either way, as horizontal shift per row: people slant their digits
    /// forwards and backwards by up to about 17° (0.3).
    pub max_slant: f32,
    /// Chance that a digit's strokes are drawn thicker (a felt-tip or marker; a 3×3 maximum,
    /// two times in three) or thinner (a fine ballpoint or pencil; a 3×3 minimum): MNIST's pen
    /// is one medium width.
    pub stroke: f32,
    /// Largest displacement of the smooth random warp, in pixels: a quick hand wobbles, so
    /// loops open and strokes bend where MNIST's careful writing keeps them straight.
    pub wobble: f32,
}

impl Default for Handwriting {
    fn default() -> Self {
        Self {
            max_slant: 0.3,
            stroke: 0.5,
            wobble: 1.5,
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
    let Some(hand) = &config.handwriting else {
        transform(&image, degrees, dx, dy, &mut out);
        return out.into_raw();
    };
    // One resampling for rotation, shift, slant and wobble: each would blur the strokes.
    let slant = rng.random_range(-hand.max_slant..=hand.max_slant);
    let c = (SIDE as f32 - 1.0) / 2.0;
    let affine = Projection::translate(-c, -c)
        .and_then(Projection::rotate(degrees.to_radians()))
        .and_then(shear(slant))
        .and_then(Projection::translate(c + dx, c + dy));
    out = wobble(&image, &affine, hand.wobble, rng);
    if rng.random::<f32>() < hand.stroke {
        // Thick pens are the commoner change: felt-tips and markers against fine ballpoints.
        out = restroke(&out, rng.random_range(0..3) != 0);
    }
    out.into_raw()
}

/// Applies `config` to a 784-pixel digit labelled `label`: its style redrawn first when the
/// config asks for [`Styles`], then the random transform of [`augment`].
pub fn augment_labelled(
    pixels: &[u8],
    label: u8,
    config: &AugmentConfig,
    rng: &mut impl Rng,
) -> Vec<u8> {
    match &config.styles {
        Some(styles) => {
            let mut digit = pixels.to_vec();
            restyle(&mut digit, label, styles, rng);
            augment(&digit, config, rng)
        }
        None => augment(pixels, config, rng),
    }
}

/// The shear by `slant` (horizontal shift per row, rows counted down from the origin).
fn shear(slant: f32) -> Projection {
    Projection::from_matrix([1.0, slant, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .unwrap_or_else(|| Projection::scale(1.0, 1.0))
}

/// `image` slanted by `slant` (horizontal shift per row) about its middle row.
pub fn slanted(image: &GrayImage, slant: f32) -> GrayImage {
    let c = (SIDE as f32 - 1.0) / 2.0;
    let about_middle = Projection::translate(-c, -c)
        .and_then(shear(slant))
        .and_then(Projection::translate(c, c));
    let mut out = GrayImage::new(image.width(), image.height());
    warp_into(
        image,
        about_middle,
        Interpolation::Bilinear,
        Border::Constant(Luma([0])),
        &mut out,
    );
    out
}

/// Strokes thickened (`thicker`, a 3×3 maximum) or thinned (a 3×3 minimum). A thinning that
/// would erase the digit (fewer than a third of its ink pixels left) keeps it as it is.
pub fn restroke(image: &GrayImage, thicker: bool) -> GrayImage {
    let (w, h) = image.dimensions();
    let filtered = GrayImage::from_fn(w, h, |x, y| {
        let mut v = image.get_pixel(x, y)[0];
        for yy in y.saturating_sub(1)..(y + 2).min(h) {
            for xx in x.saturating_sub(1)..(x + 2).min(w) {
                let p = image.get_pixel(xx, yy)[0];
                v = if thicker { v.max(p) } else { v.min(p) };
            }
        }
        Luma([v])
    });
    let ink = |img: &GrayImage| img.as_raw().iter().filter(|&&p| p >= 128).count();
    if !thicker && 3 * ink(&filtered) < ink(image) {
        return image.clone();
    }
    filtered
}

/// `image` moved by `affine`, then warped by a smooth random field of displacements up to
/// `amount` pixels: random offsets at a 4×4 grid of points over the digit, interpolated
/// bilinearly between them.
pub fn wobble(
    image: &GrayImage,
    affine: &Projection,
    amount: f32,
    rng: &mut impl Rng,
) -> GrayImage {
    let back = affine.invert();
    const GRID: usize = 4;
    let mut field = [[(0.0f32, 0.0f32); GRID]; GRID];
    for row in &mut field {
        for p in row.iter_mut() {
            *p = if amount > 0.0 {
                (
                    rng.random_range(-amount..=amount),
                    rng.random_range(-amount..=amount),
                )
            } else {
                (0.0, 0.0)
            };
        }
    }
    let (w, h) = image.dimensions();
    let step = (SIDE as f32 - 1.0) / (GRID - 1) as f32;
    let sample = |x: f32, y: f32| -> f32 {
        if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
            return 0.0;
        }
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |xx, yy| f32::from(image.get_pixel(xx, yy)[0]);
        (p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx) * (1.0 - fy)
            + (p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx) * fy
    };
    GrayImage::from_fn(w, h, |x, y| {
        let (gx, gy) = (x as f32 / step, y as f32 / step);
        let (i, j) = ((gx as usize).min(GRID - 2), (gy as usize).min(GRID - 2));
        let (fx, fy) = (gx - i as f32, gy - j as f32);
        let lerp =
            |a: (f32, f32), b: (f32, f32), t: f32| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let top = lerp(field[j][i], field[j][i + 1], fx);
        let bottom = lerp(field[j + 1][i], field[j + 1][i + 1], fx);
        let (ddx, ddy) = lerp(top, bottom, fy);
        let (sx, sy) = back * (x as f32 + ddx, y as f32 + ddy);
        Luma([sample(sx, sy).round().clamp(0.0, 255.0) as u8])
    })
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

    #[test]
    fn styles_in_the_config_redraw_sevens_only() {
        // A stem 3 pixels wide; no rotation or shift, so only the style can change it.
        let stem = GrayImage::from_fn(28, 28, |x, y| {
            Luma([u8::from((13..16).contains(&x) && (4..24).contains(&y)) * 255])
        })
        .into_raw();
        let config = AugmentConfig {
            max_rotation_deg: 0.0,
            max_shift: 0.0,
            handwriting: None,
            styles: Some(Styles {
                chance: 1.0,
                foot: 0.0,
                four: 1.0,
            }),
        };
        let rng = || rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let plain = augment(&stem, &config, &mut rng());
        assert_ne!(augment_labelled(&stem, 7, &config, &mut rng()), plain);
        assert_eq!(augment_labelled(&stem, 3, &config, &mut rng()), plain);
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

    #[test]
    fn slant_shears_about_the_middle_row() {
        // A vertical bar leans right at the bottom and left at the top under a positive slant.
        let bar = GrayImage::from_fn(28, 28, |x, y| {
            Luma([if (13..15).contains(&x) && (4..24).contains(&y) {
                255
            } else {
                0
            }])
        });
        let out = slanted(&bar, 0.3);
        let row_centre = |y: u32| {
            let (mut m, mut s) = (0.0, 0.0);
            for x in 0..28 {
                let v = out.get_pixel(x, y)[0] as f32;
                m += v;
                s += v * x as f32;
            }
            s / m
        };
        assert!(
            row_centre(22) - row_centre(6) > 3.5,
            "{} {}",
            row_centre(6),
            row_centre(22)
        );
        assert!((row_centre(14) - 13.5).abs() < 0.6);
    }

    #[test]
    fn strokes_thicken_and_thin_but_a_digit_is_never_erased() {
        let img = square();
        let ink = |i: &GrayImage| i.as_raw().iter().filter(|&&p| p >= 128).count();
        assert!(ink(&restroke(&img, true)) > ink(&img));
        assert!(ink(&restroke(&img, false)) < ink(&img));
        // A one-pixel line would vanish under a minimum: it is kept.
        let line = GrayImage::from_fn(28, 28, |x, y| {
            Luma([if x == 14 && y > 4 { 255 } else { 0 }])
        });
        assert_eq!(restroke(&line, false), line);
    }

    #[test]
    fn handwriting_changes_digits_reproducibly() {
        let pixels = square().into_raw();
        let config = AugmentConfig {
            handwriting: Some(Handwriting::default()),
            ..AugmentConfig::default()
        };
        let mut seen = std::collections::HashSet::new();
        for seed in 0..4 {
            let a = augment(
                &pixels,
                &config,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            );
            let b = augment(
                &pixels,
                &config,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            );
            assert_eq!(a, b);
            seen.insert(a);
        }
        assert_eq!(seen.len(), 4);
        // No wobble and no move leave the image as it was.
        let img = square();
        let still = Projection::translate(0.0, 0.0);
        assert_eq!(
            wobble(
                &img,
                &still,
                0.0,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(1)
            ),
            img
        );
    }
}

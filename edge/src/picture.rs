//! Drawing for the pictures people look at: 8×8 bitmap text (font8x8) at an integer scale.

use font8x8::{UnicodeFonts, BASIC_FONTS};
use image::{Rgb, RgbImage};

/// Pixel width of `s` drawn at `scale`.
pub fn text_width(s: &str, scale: u32) -> i32 {
    (s.chars().count() as u32 * 8 * scale) as i32
}

/// Draws `s` with its top-left corner at `(x, y)`; pixels outside the image are skipped.
pub fn text(img: &mut RgbImage, x: i32, y: i32, s: &str, scale: u32, color: Rgb<u8>) {
    let scale = scale.max(1) as i32;
    for (k, ch) in s.chars().enumerate() {
        let Some(glyph) = BASIC_FONTS.get(ch) else {
            continue;
        };
        let gx = x + k as i32 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = gx + col * scale + dx;
                        let py = y + row as i32 * scale + dy;
                        if px >= 0
                            && py >= 0
                            && (px as u32) < img.width()
                            && (py as u32) < img.height()
                        {
                            img.put_pixel(px as u32, py as u32, color);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_marks_pixels_inside_its_box_only() {
        let mut img = RgbImage::from_pixel(40, 20, Rgb([255, 255, 255]));
        text(&mut img, 2, 2, "17", 1, Rgb([0, 0, 0]));
        let dark: Vec<(u32, u32)> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| p[0] == 0)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(dark.len() > 10);
        assert!(dark
            .iter()
            .all(|&(x, y)| (2..18).contains(&x) && (2..10).contains(&y)));
        assert_eq!(text_width("17", 2), 32);
    }
}

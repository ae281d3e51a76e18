//! Extra training digits beside MNIST's (`train camera-digits`: digits as the edge finds
//! them in camera-like scenes and pages), with the marks that are not digits, as IDX files
//! like MNIST's: images `[N, 28, 28]` u8 and labels `[N]` u8.

use std::path::{Path, PathBuf};

use edge::idx::{parse_images, parse_labels};

use crate::data::mnist::{Digits, PIXELS, SIDE};
use crate::error::{Error, Result};

/// File names of a set of extra training digits (e.g. `train camera-digits`), IDX like MNIST's.
pub const EXTRA_IMAGES: &str = "images-idx3-ubyte";
/// Labels of a set of extra training digits.
pub const EXTRA_LABELS: &str = "labels-idx1-ubyte";
/// Images of marks that are not digits (scribbles the finder took for digits), IDX, optional.
pub const EXTRA_NOT_DIGITS: &str = "not-digits-idx3-ubyte";
/// Training label of a mark that is not a digit: trained towards equal odds for every digit
/// (see [`crate::fit::trainer::train_step`]), so its confidence stays under the edge's threshold.
pub const NOT_A_DIGIT: u8 = 10;
/// Most times each mark that is not a digit is repeated in a training epoch.
pub const NOT_DIGIT_REPEATS: usize = 8;

/// The marks' repeats stop where the marks would outnumber this share of the extra digits:
/// a page harvest holds thousands of merged pairs, and that many uniform targets would teach
/// the model to doubt digits.
pub const NOT_DIGIT_SHARE: usize = 5;

fn idx_images(images: &[u8]) -> Vec<u8> {
    let n = (images.len() / PIXELS) as u32;
    let mut out = vec![0, 0, 8, 3];
    for d in [n, SIDE as u32, SIDE as u32] {
        out.extend(d.to_be_bytes());
    }
    out.extend_from_slice(images);
    out
}

/// Writes `digits` into `dir` as an IDX image file and an IDX label file, and `not_digits`
/// (images) as a third IDX file when there are any, atomically.
pub fn write_extra(dir: &Path, digits: &Digits, not_digits: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let n = digits.len() as u32;
    let images = idx_images(&digits.images);
    let not_path = dir.join(EXTRA_NOT_DIGITS);
    if !not_digits.is_empty() {
        crate::atomic::write(&not_path, &idx_images(not_digits))?;
    } else {
        // An earlier harvest's marks would be read with these digits as if found with them.
        match std::fs::remove_file(&not_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&not_path, e))
            }
            _ => {}
        }
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(n.to_be_bytes());
    labels.extend_from_slice(&digits.labels);
    crate::atomic::write(&dir.join(EXTRA_IMAGES), &images)?;
    crate::atomic::write(&dir.join(EXTRA_LABELS), &labels)
}

/// Reads a set of extra training digits written by [`write_extra`]; with `not_digits`, the
/// marks that are not digits follow the digits, labelled [`NOT_A_DIGIT`].
pub fn read_extra(dir: &Path, not_digits: bool) -> Result<Digits> {
    let read = |name: &str| -> Result<(PathBuf, Vec<u8>)> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        Ok((path, bytes))
    };
    let (ip, ib) = read(EXTRA_IMAGES)?;
    let (lp, lb) = read(EXTRA_LABELS)?;
    let images = parse_images(&ip, &ib)?;
    let labels = parse_labels(&lp, &lb)?;
    if images.len() / PIXELS != labels.len() {
        return Err(Error::data(
            &lp,
            format!(
                "holds {} labels for {} images",
                labels.len(),
                images.len() / PIXELS
            ),
        ));
    }
    let mut extra = Digits { images, labels };
    if !not_digits {
        return Ok(extra);
    }
    let np = dir.join(EXTRA_NOT_DIGITS);
    match std::fs::read(&np) {
        Ok(bytes) => {
            let marks = parse_images(&np, &bytes)?;
            // The finder lets few marks through (about one in six scenes): each is seen
            // several times an epoch, in a different random pose each time.
            let count = (marks.len() / PIXELS).max(1);
            let repeats =
                (extra.labels.len() / (NOT_DIGIT_SHARE * count)).clamp(1, NOT_DIGIT_REPEATS);
            for _ in 0..repeats {
                extra
                    .labels
                    .extend(std::iter::repeat_n(NOT_A_DIGIT, marks.len() / PIXELS));
                extra.images.extend_from_slice(&marks);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&np, e)),
    }
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_digits_come_back_with_their_marks_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let digits = Digits {
            images: vec![7; 2 * PIXELS],
            labels: vec![3, 9],
        };
        let marks = vec![200; PIXELS];
        write_extra(dir.path(), &digits, &marks).unwrap();
        let plain = read_extra(dir.path(), false).unwrap();
        assert_eq!(plain.labels, vec![3, 9]);
        assert_eq!(plain.images, digits.images);
        let with = read_extra(dir.path(), true).unwrap();
        // Two digits hold too few for the one mark to repeat.
        assert_eq!(with.len(), 2 + 1);
        assert!(with.labels[2..].iter().all(|&l| l == NOT_A_DIGIT));
        assert!(with.images[2 * PIXELS..].iter().all(|&p| p == 200));
    }

    #[test]
    fn issue17_a_harvest_without_marks_leaves_no_old_marks_behind() {
        let dir = tempfile::tempdir().unwrap();
        let digits = Digits {
            images: vec![7; 2 * PIXELS],
            labels: vec![3, 9],
        };
        write_extra(dir.path(), &digits, &[200; PIXELS]).unwrap();
        write_extra(dir.path(), &digits, &[]).unwrap();
        assert!(!dir.path().join(EXTRA_NOT_DIGITS).exists());
        assert_eq!(read_extra(dir.path(), true).unwrap().labels, vec![3, 9]);
    }

    #[test]
    fn marks_repeat_up_to_a_share_of_the_extra_digits() {
        for (digits, repeats) in [(15, 3), (40, NOT_DIGIT_REPEATS), (400, NOT_DIGIT_REPEATS)] {
            let dir = tempfile::tempdir().unwrap();
            let set = Digits {
                images: vec![7; digits * PIXELS],
                labels: vec![1; digits],
            };
            write_extra(dir.path(), &set, &[200; PIXELS]).unwrap();
            let with = read_extra(dir.path(), true).unwrap();
            assert_eq!(with.len(), digits + repeats, "{digits} digits");
        }
    }
}

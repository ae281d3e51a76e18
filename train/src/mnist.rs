//! MNIST in IDX format, gzipped or raw: images `[N, 28, 28]` u8 (0 = background) and labels
//! `[N]` u8. Every file is checked for magic, shape, length and label range, and the pair of
//! files of a split must agree on the count.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Side of an MNIST image in pixels.
pub const SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const PIXELS: usize = SIDE * SIDE;
/// Mean and standard deviation of the seed's input normalisation, from the edge contract.
pub use edge::contract::{SEED_MEAN as MEAN, SEED_STD as STD};
/// Number of classes (the digits 0 to 9).
pub const CLASSES: usize = 10;

/// One of the four official files: its name and the SHA-256 of its uncompressed bytes.
#[derive(Clone, Copy, Debug)]
pub struct OfficialFile {
    /// File name without `.gz`.
    pub name: &'static str,
    /// SHA-256 of the uncompressed file, lower-case hex.
    pub sha256: &'static str,
}

/// The official MNIST files, in the order train images, train labels, test images, test labels.
pub const FILES: [OfficialFile; 4] = [
    OfficialFile {
        name: "train-images-idx3-ubyte",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    OfficialFile {
        name: "train-labels-idx1-ubyte",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    OfficialFile {
        name: "t10k-images-idx3-ubyte",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    OfficialFile {
        name: "t10k-labels-idx1-ubyte",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

/// Images and labels of one split, images stored row-major, one after the other.
#[derive(Clone, Debug, Default)]
pub struct Digits {
    /// `len() * PIXELS` grey values, 0 = background, 255 = ink.
    pub images: Vec<u8>,
    /// One label in 0..10 per image.
    pub labels: Vec<u8>,
}

impl Digits {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The first `n` images (all if there are fewer): for smoke runs and tests.
    pub fn truncated(&self, n: usize) -> Digits {
        let n = n.min(self.len());
        Digits {
            images: self.images[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// The whole data set as loaded from one folder.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// 60,000 training digits.
    pub train: Digits,
    /// 10,000 test digits.
    pub test: Digits,
    /// SHA-256 over the four files' digests: identifies the data a model was trained on.
    pub sha256: String,
    /// True when every file matches the official checksum.
    pub official: bool,
}

/// Where a file of the data set lies: `NAME` or `NAME.gz` in `dir`.
pub fn locate(dir: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// True when `dir` holds none of the four files (a fresh machine: fetching is safe).
pub fn is_absent(dir: &Path) -> bool {
    FILES.iter().all(|f| locate(dir, f.name).is_none())
}

/// Loads and checks both splits from `dir`.
pub fn load(dir: &Path) -> Result<Mnist> {
    let mut digests = Vec::with_capacity(4);
    let mut official = true;
    let mut split = |images: &OfficialFile, labels: &OfficialFile| -> Result<Digits> {
        let (ip, ib) = read_file(dir, images)?;
        let (lp, lb) = read_file(dir, labels)?;
        for (file, bytes, path) in [(images, &ib, &ip), (labels, &lb, &lp)] {
            let digest = hex(&Sha256::digest(bytes));
            if digest != file.sha256 {
                tracing::warn!(
                    "{}: not the official MNIST file (SHA-256 {digest})",
                    path.display()
                );
                official = false;
            }
            digests.push(digest);
        }
        let images_data = parse_images(&ip, &ib)?;
        let labels_data = parse_labels(&lp, &lb)?;
        let n_images = images_data.len() / PIXELS;
        if n_images != labels_data.len() {
            return Err(Error::data(
                &lp,
                format!(
                    "holds {} labels but {} holds {n_images} images",
                    labels_data.len(),
                    ip.display()
                ),
            ));
        }
        Ok(Digits {
            images: images_data,
            labels: labels_data,
        })
    };
    let train = split(&FILES[0], &FILES[1])?;
    let test = split(&FILES[2], &FILES[3])?;
    let sha256 = hex(&Sha256::digest(digests.concat().as_bytes()));
    Ok(Mnist {
        train,
        test,
        sha256,
        official,
    })
}

/// Reads `NAME` or `NAME.gz` from `dir`, uncompressing gzip by its magic bytes.
fn read_file(dir: &Path, file: &OfficialFile) -> Result<(PathBuf, Vec<u8>)> {
    let path = locate(dir, file.name).ok_or_else(|| {
        Error::data(
            dir.join(file.name),
            format!(
                "missing (nor is {}.gz there); run `train fetch --data {}` to download MNIST",
                file.name,
                dir.display()
            ),
        )
    })?;
    let raw = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let bytes = gunzip_if_needed(&path, raw)?;
    Ok((path, bytes))
}

/// Uncompresses `raw` when it starts with the gzip magic, else returns it as it is.
pub fn gunzip_if_needed(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| Error::data(path, format!("truncated or corrupt gzip data ({e})")))?;
    Ok(out)
}

/// Parses an IDX header: element type byte 0x08 (u8) and `ndims` big-endian u32 sizes.
fn parse_header(path: &Path, bytes: &[u8], ndims: u8, what: &str) -> Result<(Vec<usize>, usize)> {
    let header = 4 + 4 * ndims as usize;
    let expected = [0, 0, 0x08, ndims];
    if bytes.len() >= 4 && bytes[..4] != expected {
        return Err(Error::data(
            path,
            format!(
                "not an IDX {what} file: magic {:02x}{:02x}{:02x}{:02x}, expected {:02x}{:02x}{:02x}{:02x}",
                bytes[0], bytes[1], bytes[2], bytes[3], expected[0], expected[1], expected[2], expected[3]
            ),
        ));
    }
    if bytes.len() < header {
        return Err(Error::data(
            path,
            format!(
                "truncated: {} bytes, shorter than an IDX header",
                bytes.len()
            ),
        ));
    }
    let dims = (0..ndims as usize)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect::<Vec<_>>();
    let body: usize = dims.iter().product();
    if bytes.len() - header < body {
        return Err(Error::data(
            path,
            format!(
                "truncated: header announces {body} bytes of {what} but only {} follow",
                bytes.len() - header
            ),
        ));
    }
    if bytes.len() - header > body {
        return Err(Error::data(
            path,
            format!(
                "corrupt: {} bytes after the announced {what}",
                bytes.len() - header - body
            ),
        ));
    }
    Ok((dims, header))
}

/// Parses an IDX3 file of 28×28 u8 images.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (dims, header) = parse_header(path, bytes, 3, "images")?;
    if dims[1] != SIDE || dims[2] != SIDE {
        return Err(Error::data(
            path,
            format!("images are {}x{}, expected {SIDE}x{SIDE}", dims[1], dims[2]),
        ));
    }
    Ok(bytes[header..].to_vec())
}

/// Parses an IDX1 file of labels, each in 0..10.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, header) = parse_header(path, bytes, 1, "labels")?;
    let labels = bytes[header..].to_vec();
    if let Some(i) = labels.iter().position(|&l| l as usize >= CLASSES) {
        return Err(Error::data(
            path,
            format!("corrupt: label {} at index {i} is not a digit", labels[i]),
        ));
    }
    Ok(labels)
}

/// File names of a set of extra training digits (e.g. `train camera-digits`), IDX like MNIST's.
pub const EXTRA_IMAGES: &str = "images-idx3-ubyte";
/// Labels of a set of extra training digits.
pub const EXTRA_LABELS: &str = "labels-idx1-ubyte";

/// Writes `digits` into `dir` as an IDX image file and an IDX label file, atomically.
pub fn write_extra(dir: &Path, digits: &Digits) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let n = digits.len() as u32;
    let mut images = vec![0, 0, 8, 3];
    for d in [n, SIDE as u32, SIDE as u32] {
        images.extend(d.to_be_bytes());
    }
    images.extend_from_slice(&digits.images);
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(n.to_be_bytes());
    labels.extend_from_slice(&digits.labels);
    crate::atomic::write(&dir.join(EXTRA_IMAGES), &images)?;
    crate::atomic::write(&dir.join(EXTRA_LABELS), &labels)
}

/// Reads a set of extra training digits written by [`write_extra`].
pub fn read_extra(dir: &Path) -> Result<Digits> {
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
    Ok(Digits { images, labels })
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: [u8; 4], dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = magic.to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(body);
        v
    }

    #[test]
    fn parses_a_small_image_file() {
        let body = vec![7u8; 2 * PIXELS];
        let bytes = idx([0, 0, 8, 3], &[2, 28, 28], &body);
        let images = parse_images(Path::new("x"), &bytes).unwrap();
        assert_eq!(images.len(), 2 * PIXELS);
    }

    #[test]
    fn wrong_magic_names_the_file() {
        let bytes = idx([0, 0, 8, 1], &[2], &[1, 2]);
        let err = parse_images(Path::new("imgs.idx"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("imgs.idx: not an IDX images file"), "{err}");
    }

    #[test]
    fn truncated_and_trailing_bytes_are_reported() {
        let bytes = idx([0, 0, 8, 3], &[2, 28, 28], &vec![0; PIXELS]);
        let err = parse_images(Path::new("a"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let bytes = idx([0, 0, 8, 1], &[2], &[1, 2, 3]);
        let err = parse_labels(Path::new("b"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("corrupt: 1 bytes after"), "{err}");
    }

    #[test]
    fn labels_out_of_range_are_corrupt() {
        let bytes = idx([0, 0, 8, 1], &[3], &[1, 12, 3]);
        let err = parse_labels(Path::new("l"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("label 12 at index 1"), "{err}");
    }

    #[test]
    fn wrong_image_size_is_reported() {
        let bytes = idx([0, 0, 8, 3], &[1, 32, 32], &vec![0; 1024]);
        let err = parse_images(Path::new("c"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("32x32, expected 28x28"), "{err}");
    }
}

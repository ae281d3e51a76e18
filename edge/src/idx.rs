//! The IDX format MNIST is distributed in, gzipped or raw: images `[N, 28, 28]` u8
//! (0 = background) and labels `[N]` u8 in 0..10. Every file is checked for magic, shape,
//! length and label range. `train` loads its data through here; `edge mnist` reads the
//! official test digits on a board with the same checks.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Side of an MNIST image in pixels.
pub const SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes (the digits 0 to 9).
pub const CLASSES: usize = 10;
/// The official test images (10,000), without `.gz`.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// The official test labels, without `.gz`.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Where a file of the data set lies: `NAME` or `NAME.gz` in `dir`.
pub fn locate(dir: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads `NAME` or `NAME.gz` from `dir`, uncompressed; `hint` says how to get a missing file.
pub fn read_file(dir: &Path, name: &str, hint: &str) -> Result<(PathBuf, Vec<u8>)> {
    let path = locate(dir, name).ok_or_else(|| {
        Error::data(
            dir.join(name),
            format!("missing (nor is {name}.gz there); {hint}"),
        )
    })?;
    let mut raw = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_IDX + 1).read_to_end(&mut raw))
        .map_err(|e| Error::io(&path, e))?;
    if raw.len() as u64 > MAX_IDX {
        return Err(too_big(&path));
    }
    let bytes = gunzip_if_needed(&path, raw)?;
    Ok((path, bytes))
}

/// Largest IDX file read, packed or unpacked: MNIST's training images are 47 MB, EMNIST's
/// largest split about 190 MB; reading stops there, so a huge or endless file (or a small
/// gzip bomb) is refused before it fills the memory.
pub const MAX_IDX: u64 = 256 << 20;

fn too_big(path: &Path) -> Error {
    Error::data(
        path,
        format!("over {} MiB: not an IDX file of digits", MAX_IDX >> 20),
    )
}

/// The official test split from `dir`: images laid one after the other, and their labels.
pub fn test_set(dir: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let hint = "point --data at a folder with the MNIST files (`train fetch` downloads them)";
    let (ip, ib) = read_file(dir, TEST_IMAGES, hint)?;
    let (lp, lb) = read_file(dir, TEST_LABELS, hint)?;
    let images = parse_images(&ip, &ib)?;
    let labels = parse_labels(&lp, &lb)?;
    check_pair(&ip, &images, &lp, &labels)?;
    Ok((images, labels))
}

/// Requires as many labels in `lp` as images in `ip`.
pub fn check_pair(ip: &Path, images: &[u8], lp: &Path, labels: &[u8]) -> Result<()> {
    let n_images = images.len() / PIXELS;
    if n_images != labels.len() {
        return Err(Error::data(
            lp,
            format!(
                "holds {} labels but {} holds {n_images} images",
                labels.len(),
                ip.display()
            ),
        ));
    }
    Ok(())
}

/// Uncompresses `raw` when it starts with the gzip magic, else returns it as it is.
pub fn gunzip_if_needed(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    flate2::read::GzDecoder::new(raw.as_slice())
        .take(MAX_IDX + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::data(path, format!("truncated or corrupt gzip data ({e})")))?;
    if out.len() as u64 > MAX_IDX {
        return Err(too_big(path));
    }
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
    // Four dimensions of up to 2³² each overflow a usize: such a header announces more than
    // any file holds.
    let Some(body) = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
        return Err(Error::data(
            path,
            format!(
                "corrupt: header dimensions {} announce more {what} than a file can hold",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join("×")
            ),
        ));
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue15_a_gzip_bomb_is_refused_at_the_cap() {
        use std::io::Write;
        // 300 MiB of zeros packs into a few hundred KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..300 {
            gz.write_all(&zeros).unwrap();
        }
        let packed = gz.finish().unwrap();
        assert!(packed.len() < 2 << 20);
        let err = gunzip_if_needed(Path::new("bomb-idx3-ubyte.gz"), packed)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb-idx3-ubyte.gz") && err.contains("256 MiB"),
            "{err}"
        );
    }

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

    #[test]
    fn issue15_dimensions_whose_product_overflows_are_corrupt_not_a_panic() {
        // Found by the property test below (in a test build, which checks overflow): three
        // dimensions of 2³² − 1.
        let mut bytes = vec![0, 0, 8, 3];
        for _ in 0..3 {
            bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        let err = parse_images(Path::new("x-idx3-ubyte"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x-idx3-ubyte") && err.contains("announce more"),
            "{err}"
        );
    }

    mod fuzz {
        //! Property tests of the IDX reader (issue 15): any bytes, or a real header with any
        //! dimensions and body, are read or refused naming the file, never a panic.
        use super::*;
        use crate::capture::fuzz_cases;
        use proptest::collection::vec;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(fuzz_cases(256)))]

            #[test]
            fn issue15_fuzz_idx_any_bytes(bytes in vec(any::<u8>(), 0..512)) {
                let p = Path::new("x-idx3-ubyte");
                for r in [parse_images(p, &bytes), parse_labels(p, &bytes)] {
                    if let Err(e) = r {
                        prop_assert!(e.to_string().contains("x-idx3-ubyte"), "{}", e);
                    }
                }
            }

            #[test]
            fn issue15_fuzz_idx_headers(
                kind in prop_oneof![Just(1u8), Just(3u8), any::<u8>()],
                dtype in prop_oneof![Just(8u8), any::<u8>()],
                dims in vec(prop_oneof![Just(28u32), Just(1u32), 0u32..100, any::<u32>()], 0..4),
                body in vec(0u8..12, 0..2000),
            ) {
                let mut bytes = vec![0, 0, dtype, kind];
                for d in &dims {
                    bytes.extend_from_slice(&d.to_be_bytes());
                }
                bytes.extend(body);
                let p = Path::new("h-idx-ubyte");
                if let Ok(images) = parse_images(p, &bytes) {
                    prop_assert_eq!(images.len() % PIXELS, 0);
                }
                if let Ok(labels) = parse_labels(p, &bytes) {
                    prop_assert!(labels.iter().all(|&l| (l as usize) < CLASSES));
                }
            }
        }
    }
}

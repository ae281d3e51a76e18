//! The MNIST data set: both official splits, checked against their SHA-256 sums. Files are IDX, gzipped or raw, parsed and checked by [`edge::idx`]:
//! images `[N, 28, 28]` u8 (0 = background) and labels `[N]` u8.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Result;

/// Mean and standard deviation of the seed's input normalisation, from the edge contract.
pub use edge::contract::{SEED_MEAN as MEAN, SEED_STD as STD};
pub use edge::idx::{locate, CLASSES, PIXELS, SIDE};
use edge::idx::{parse_images, parse_labels};

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
        edge::idx::check_pair(&ip, &images_data, &lp, &labels_data)?;
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
    let hint = format!(
        "run `train fetch --data {}` to download MNIST",
        dir.display()
    );
    Ok(edge::idx::read_file(dir, file.name, &hint)?)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! Downloads the four official MNIST files from public mirrors, trying each mirror in turn,
//! and keeps a file only when its uncompressed SHA-256 matches the official one.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::atomic;
use crate::data::mnist::{self, OfficialFile, FILES};
use crate::error::{Error, Result};
use crate::progress::{Progress, Unit};

/// Public mirrors of the gzipped IDX files, tried in this order.
pub const MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
];

/// Mirrors of the user's own, tried before the public ones: a base URL (`https://`, `http://`
/// or `file:///folder/`), or several separated by commas. For machines behind a proxy or
/// offline, and for the tests, which serve a local copy.
pub const MIRROR_ENV: &str = "MNIST_MIRROR";

/// The mirrors to try: those of [`MIRROR_ENV`], then the public [`MIRRORS`].
pub fn mirrors() -> Vec<String> {
    let own = std::env::var(MIRROR_ENV).unwrap_or_default();
    own.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .chain(MIRRORS.iter().map(|m| m.to_string()))
        .collect()
}

/// Largest download accepted for one file (the biggest official file is 9.9 MB gzipped).
const MAX_BYTES: u64 = 64 << 20;

/// What [`fetch`] did for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file was already there with the right checksum.
    Present,
    /// The file was downloaded from this URL.
    Downloaded(String),
}

/// Makes sure `dir` holds the four official files, downloading what is missing or wrong;
/// `progress` watches the downloads.
pub fn fetch(
    dir: &Path,
    mirrors: &[String],
    progress: &dyn Progress,
) -> Result<Vec<(&'static str, Outcome)>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    FILES
        .iter()
        .map(|file| Ok((file.name, fetch_one(&agent, dir, file, mirrors, progress)?)))
        .collect()
}

fn fetch_one(
    agent: &ureq::Agent,
    dir: &Path,
    file: &OfficialFile,
    mirrors: &[String],
    progress: &dyn Progress,
) -> Result<Outcome> {
    if let Some(path) = mnist::locate(dir, file.name) {
        let raw = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        match edge::idx::gunzip_if_needed(&path, raw) {
            Ok(bytes) if mnist::hex(&Sha256::digest(&bytes)) == file.sha256 => {
                return Ok(Outcome::Present)
            }
            _ => tracing::warn!("{}: wrong checksum, downloading it again", path.display()),
        }
    }
    let mut attempts = Vec::new();
    for base in mirrors {
        let url = format!("{}/{}.gz", base.trim_end_matches('/'), file.name);
        match download(agent, &url, progress).and_then(|gz| check(&url, gz, file)) {
            Ok(gz) => {
                // Replace a raw file of the same name, so the checked download is what loads.
                let raw = dir.join(file.name);
                if raw.is_file() {
                    std::fs::remove_file(&raw).map_err(|e| Error::io(&raw, e))?;
                }
                atomic::write(&dir.join(format!("{}.gz", file.name)), &gz)?;
                tracing::info!("{}.gz: downloaded from {url}", file.name);
                return Ok(Outcome::Downloaded(url));
            }
            Err(reason) => {
                tracing::warn!("{reason}");
                attempts.push(reason);
            }
        }
    }
    Err(Error::Fetch {
        file: format!("{}.gz", file.name),
        attempts: if attempts.is_empty() {
            "no mirror given".into()
        } else {
            attempts.join("; ")
        },
    })
}

fn download(agent: &ureq::Agent, url: &str, progress: &dyn Progress) -> Result<Vec<u8>, String> {
    if let Some(path) = url.strip_prefix("file://") {
        // A folder of the user's own: read, with the same cap as a download.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_BYTES).read_to_end(&mut bytes))
            .map_err(|e| format!("{url}: {e}"))?;
        return Ok(bytes);
    }
    let mut response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let len = response.body().content_length();
    let task = progress.start(
        url.rsplit('/').next().unwrap_or(url),
        len.unwrap_or(0),
        Unit::Bytes,
    );
    let mut bytes = Vec::new();
    let mut reader = response.body_mut().with_config().limit(MAX_BYTES).reader();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| format!("{url}: {e}"))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        task.advance(n as u64);
    }
    drop(task);
    Ok(bytes)
}

fn check(url: &str, gz: Vec<u8>, file: &OfficialFile) -> Result<Vec<u8>, String> {
    let bytes =
        edge::idx::gunzip_if_needed(Path::new(url), gz.clone()).map_err(|e| e.to_string())?;
    let digest = mnist::hex(&Sha256::digest(&bytes));
    if digest != file.sha256 {
        return Err(format!(
            "{url}: SHA-256 {digest} is not the official {}",
            file.sha256
        ));
    }
    if !gz.starts_with(&[0x1f, 0x8b]) {
        // A mirror that serves the raw file: store it compressed like the others.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &bytes).map_err(|e| e.to_string())?;
        return enc.finish().map_err(|e| e.to_string());
    }
    Ok(gz)
}

//! The library's error type: every variant names the file or setting at fault in one line.

use std::path::PathBuf;

/// Errors of the `train` library; binaries print them as one line with their causes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A data file is missing, truncated, corrupt or inconsistent with its partner file.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    /// No mirror delivered a file with the expected checksum.
    #[error(
        "could not download {file}: {attempts} (offline or behind a proxy? copy the four files \
         into the data folder, or set MNIST_MIRROR to a folder (file:///…) or server of your own)"
    )]
    Fetch { file: String, attempts: String },
    /// A checkpoint cannot be read, or does not describe a model this build knows.
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        // Not a `source`: the message already carries it, and error chains would repeat it.
        error: std::io::Error,
    },
    /// A setting is out of range or contradicts another.
    #[error("invalid setting: {0}")]
    Config(String),
    /// A file is not an ONNX model, or not one this build can read.
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },
    /// A model failed its check before shipping: tract disagrees with candle, or INT8 lost
    /// more accuracy than allowed. Nothing was written.
    #[error("{path}: {reason}")]
    Verification { path: PathBuf, reason: String },
    /// A network's weights do not fit its architecture (a tensor missing or misshapen).
    #[error("weights: {0}")]
    Weights(String),
    /// A rendered frame could not be encoded.
    #[error("frame: {0}")]
    Frame(String),
    /// What the edge library reports (the tract model, frames, IDX files), kept as it is.
    #[error(transparent)]
    Edge(#[from] edge::Error),
    /// A baseline program of a benchmark (PyTorch's python) failed or answered nonsense.
    #[error("{program}: {reason}")]
    Baseline { program: PathBuf, reason: String },
    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A data error for `path`.
    pub fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A checkpoint error for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An I/O error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// A model error for `path`.
    pub fn model(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A failed verification of the model at `path`.
    pub fn verification(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Verification {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

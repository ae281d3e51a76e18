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
}

/// The edge library's errors, for what `train` reuses of it (IDX parsing, the tract model):
/// data and I/O errors keep their kind, the rest become setting errors with their message.
impl From<edge::Error> for Error {
    fn from(e: edge::Error) -> Self {
        match e {
            edge::Error::Data { path, reason } => Error::Data { path, reason },
            edge::Error::Io { path, error } => Error::Io { path, error },
            other => Error::Config(other.to_string()),
        }
    }
}

//! The edge library's errors; each names the file, stream or device at fault in one line.

use std::path::PathBuf;

/// Errors of the `edge` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model file cannot be read, parsed or optimised, or does not fit the contract.
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },
    /// The model's metadata contradicts itself or holds a value that cannot be parsed.
    #[error("{path}: metadata {key}: {reason}")]
    Contract {
        path: PathBuf,
        key: String,
        reason: String,
    },
    /// Input handed to the model has the wrong length.
    #[error("input of {got} values is not a whole number of {side}x{side} images")]
    Input { got: usize, side: usize },
    /// tract failed while running the model.
    #[error("running the model: {0}")]
    Run(String),
    /// A frame (image file, stream part, camera buffer) cannot be used.
    #[error("{source_name}: {reason}")]
    Frame { source_name: String, reason: String },
    /// A frame source (input path, stream, camera) cannot be opened or has broken down.
    #[error("{source_name}: {reason}")]
    Source { source_name: String, reason: String },
    /// A data file (MNIST in IDX format) is missing, truncated, corrupt or inconsistent.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    /// A setting (an environment variable) holds a value it cannot take.
    #[error("{0}")]
    Setting(String),
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        // Not a `source`: the message already carries it, and error chains would repeat it.
        error: std::io::Error,
    },
}

impl Error {
    /// A frame error for `source_name`.
    pub fn frame(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Frame {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    /// A source error for `source_name`.
    pub fn source(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Source {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    /// A data error for `path`.
    pub fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The edge library's errors; each names the file at fault in one line.

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
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

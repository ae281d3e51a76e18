//! Integration tests of the `train` binary, built as one test executable. They read the real
//! MNIST files from `MNIST_DIR` (CI: `../shared/data/mnist`), falling back to `data/mnist`,
//! which they fetch on a fresh clone.

mod common;
mod errors;
mod export;
mod fetch;
#[path = "../../../edge/tests/support/mnist.rs"]
mod mnist_support;
mod pipeline;
mod resume;
mod scenes;
mod shipped;
mod styles;

//! End-to-end tests of the `edge` binary, built as one test binary.

mod agree;
mod common;
mod errors;
mod kernels;
mod live;
#[path = "../support/mnist.rs"]
mod mnist_support;
mod pages;
mod pipe;
mod run;
mod styles;

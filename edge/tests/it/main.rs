//! End-to-end tests of the `edge` binary, built as one test binary.

mod agree;
mod common;
mod errors;
mod live;
mod pages;
mod pipe;
mod run;

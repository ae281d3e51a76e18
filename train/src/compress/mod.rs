//! Making a trained network smaller for the boards: structured pruning and INT8 quantization.

pub mod prune;
pub mod quantize;

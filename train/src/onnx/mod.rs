//! ONNX, the contract with the boards: fp32 export with the model's metadata, verification
//! under tract, and latency side by side.

pub mod export;
pub mod graph;
pub mod latency;
pub mod verify;

//! Shipping: a trained model published into `models/` with its card and manifest, and the
//! whole host side (train, prune, quantize, publish) in one resumable command.

pub mod pipeline;
pub mod publish;

//! The data stage: the MNIST files (fetched, checked, read), tensors and augmentation for
//! training, and the scenes and notebook pages the edge is judged on.

pub mod augment;
pub mod batch;
pub mod extra;
pub mod fetch;
pub mod harvest;
pub mod mnist;
pub mod page;
pub mod scene;
pub mod styles;

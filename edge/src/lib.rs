//! mnist-edge device runtime (see issue 4).

//! Training digits from the camera's point of view: MNIST *training* digits written into
//! camera-like scenes (see [`crate::scene`]), sent through JPEG, found and normalised by the
//! edge's own code, and kept with their labels where the finder's box matches the written one
//! (the same matching `edge eval` scores by, so a box holding two merged digits is kept once).
//! Fine-tuning on them teaches the model what the edge will feed it, not only what MNIST is.

use edge::capture::decode;
use edge::locate::{locate, LocateConfig};
use edge::normalise;
use edge::scene::match_digits;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::mnist::{Digits, Mnist, SIDE};
use crate::scene::{jpeg, render, SceneConfig, Split};
use crate::{Error, Result};

/// How many digits a harvest kept, and of how many written.
#[derive(Clone, Debug, Default)]
pub struct Harvest {
    /// The normalised digits and their labels.
    pub digits: Digits,
    /// Digits written into the scenes.
    pub written: usize,
}

/// Renders `count` scenes of training digits and keeps the edge-normalised digits it finds.
pub fn harvest(mnist: &Mnist, count: usize) -> Result<Harvest> {
    let cfg = SceneConfig {
        count,
        split: Split::Train,
        ..SceneConfig::default()
    };
    let (train, range, stream) = Split::Train.source(mnist);
    let locate_cfg = LocateConfig::default();
    let bar = indicatif::ProgressBar::new(count as u64);
    let mut out = Harvest::default();
    for i in 0..count {
        let mut rng = ChaCha8Rng::seed_from_u64(stream + i as u64);
        let (frame, truth) = render(train, range.clone(), &cfg, &mut rng);
        let bytes =
            jpeg(&frame, &mut rng).map_err(|e| Error::Config(format!("encoding a scene: {e}")))?;
        let frame = decode(&bytes, "scene").map_err(|e| Error::Config(e.to_string()))?;
        let found = locate(&frame, &locate_cfg);
        out.written += truth.digits.len();
        let rects: Vec<_> = found.digits.iter().map(|b| b.rect).collect();
        for (t, blob) in truth.digits.iter().zip(match_digits(&truth, &rects)) {
            if let Some(k) = blob {
                out.digits
                    .images
                    .extend(normalise::digit(&frame, &found, &found.digits[k], SIDE));
                out.digits.labels.push(t.digit.parse().unwrap_or(0));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

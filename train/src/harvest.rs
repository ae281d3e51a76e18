//! Training digits from the camera's point of view: MNIST *training* digits written into
//! camera-like scenes (see [`crate::scene`]), sent through JPEG, found and normalised by the
//! edge's own code, and kept with their labels where the finder's box matches the written one
//! (the same matching `edge eval` scores by, so a box holding two merged digits is kept once).
//! Fine-tuning on them teaches the model what the edge will feed it, not only what MNIST is.
//! What the finder took for a digit where none is written (the scenes' scribbles, mostly) is
//! kept too, as marks that are not digits.

use edge::capture::decode;
use edge::locate::{locate, LocateConfig, Rect};
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
    /// Normalised marks that the finder reported where no digit is written (28×28 each).
    pub not_digits: Vec<u8>,
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
        // Marks touching no written digit at all: not parts of digits, so not digits.
        for (blob, rect) in found.digits.iter().zip(&rects) {
            let written = truth.digits.iter().any(|t| {
                let [x, y, w, h] = t.bbox;
                Rect { x, y, w, h }.iou(*rect) > 0.0
            });
            if !written {
                out.not_digits
                    .extend(normalise::digit(&frame, &found, blob, SIDE));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

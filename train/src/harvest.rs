//! Training digits from the camera's point of view: MNIST *training* digits written into
//! camera-like scenes (see [`crate::scene`]), sent through JPEG, found and normalised by the
//! edge's own code, and kept with their labels where the finder's box matches the written one.
//! Fine-tuning on them teaches the model what the edge will feed it, not only what MNIST is.

use edge::capture::decode;
use edge::locate::{locate, LocateConfig};
use edge::normalise;
use edge::scene::MATCH_IOU;
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
        for t in &truth.digits {
            let want = edge::locate::Rect {
                x: t.bbox[0],
                y: t.bbox[1],
                w: t.bbox[2],
                h: t.bbox[3],
            };
            let best = found
                .digits
                .iter()
                .map(|b| (b.rect.iou(want), b))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((iou, blob)) = best {
                if iou >= MATCH_IOU {
                    out.digits
                        .images
                        .extend(normalise::digit(&frame, &found, blob, SIDE));
                    out.digits.labels.push(t.digit.parse().unwrap_or(0));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

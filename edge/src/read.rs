//! The whole reading of one frame: locate → normalise → infer (all digits as one batch) →
//! numbers, timed per stage.

use std::time::{Duration, Instant};

use image::GrayImage;

use crate::contract::Polarity;
use crate::infer::Classifier;
use crate::locate::{locate, LocateConfig, Located, Rect};
use crate::normalise;
use crate::Result;

/// Default softmax probability below which a blob is reported as unknown.
pub const MIN_CONFIDENCE: f32 = 0.8;

/// One digit read in a frame.
#[derive(Clone, Debug)]
pub struct ReadDigit {
    /// Its label, or `None` when the model is not confident enough (likely not a digit).
    pub label: Option<String>,
    /// The model's probability for its best class.
    pub confidence: f32,
    /// Where it is in the frame.
    pub rect: Rect,
}

/// Time spent in each stage for one frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    /// Background, threshold, components, selection, grouping.
    pub locate: Duration,
    /// Cropping, fitting and centring the digits.
    pub normalise: Duration,
    /// The batch through tract.
    pub infer: Duration,
}

/// What one frame says.
pub struct Reading {
    /// The digits, in reading order (number after number, each left to right).
    pub digits: Vec<ReadDigit>,
    /// Each number's digit indices, left to right, in reading order.
    pub numbers: Vec<Vec<usize>>,
    /// Stage timings.
    pub times: StageTimes,
    /// The finder's intermediate images, for annotation and debugging.
    pub found: Located,
    /// The model inputs, `side × side` u8 per digit, one after the other.
    pub inputs: Vec<u8>,
}

impl Reading {
    /// The numbers as strings; an unknown digit reads as `?`.
    pub fn number_strings(&self) -> Vec<String> {
        self.numbers
            .iter()
            .map(|n| {
                n.iter()
                    .map(|&i| self.digits[i].label.as_deref().unwrap_or("?"))
                    .collect()
            })
            .collect()
    }
}

/// A model and the settings for reading frames with it.
pub struct Reader {
    /// The model, with its contract.
    pub classifier: Classifier,
    /// Settings of the digit finder.
    pub locate: LocateConfig,
    /// Probability below which a digit is reported as unknown.
    pub min_confidence: f32,
}

impl Reader {
    /// A reader with default finder settings and the model's confidence threshold (from its
    /// metadata; [`MIN_CONFIDENCE`] for a model without one).
    pub fn new(classifier: Classifier) -> Self {
        let min_confidence = classifier
            .contract()
            .min_confidence
            .unwrap_or(MIN_CONFIDENCE);
        Reader {
            classifier,
            locate: LocateConfig::default(),
            min_confidence,
        }
    }

    /// Reads the digits and numbers of one grey frame.
    pub fn read(&self, frame: &GrayImage) -> Result<Reading> {
        let t0 = Instant::now();
        let found = locate(frame, &self.locate);
        let t1 = Instant::now();
        let contract = self.classifier.contract();
        let side = contract.side;
        let mut batch = Vec::with_capacity(found.digits.len() * side * side);
        for blob in &found.digits {
            let mut pixels = normalise::digit(frame, &found, blob, side);
            if contract.polarity == Polarity::DarkOnLight {
                pixels.iter_mut().for_each(|p| *p = 255 - *p);
            }
            batch.extend(pixels);
        }
        let t2 = Instant::now();
        let predictions = if batch.is_empty() {
            Vec::new()
        } else {
            self.classifier.classify(&batch)?
        };
        let t3 = Instant::now();
        let digits = found
            .digits
            .iter()
            .zip(predictions)
            .map(|(blob, p)| ReadDigit {
                label: (p.confidence >= self.min_confidence)
                    .then(|| contract.labels[p.class].clone()),
                confidence: p.confidence,
                rect: blob.rect,
            })
            .collect();
        Ok(Reading {
            digits,
            numbers: found.numbers.clone(),
            times: StageTimes {
                locate: t1 - t0,
                normalise: t2 - t1,
                infer: t3 - t2,
            },
            found,
            inputs: batch,
        })
    }
}

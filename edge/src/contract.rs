//! The contract between `train` and `edge`: what a model needs its input to look like,
//! stored in the ONNX file's `metadata_props` under the keys below. A model without them is
//! fed like the seed CNN ([`Contract::default`]).
//!
//! | key | value | example |
//! |---|---|---|
//! | `mnist_edge.input_shape` | C,H,W of one input image | `1,28,28` |
//! | `mnist_edge.mean`, `mnist_edge.std` | normalisation of pixels scaled to [0, 1] | `0.1307`, `0.3081` |
//! | `mnist_edge.polarity` | `light_on_dark` (MNIST) or `dark_on_light` | `light_on_dark` |
//! | `mnist_edge.labels` | class names, comma-separated, in output order | `0,1,2,3,4,5,6,7,8,9` |
//! | `mnist_edge.min_confidence` | probability under which the edge reports a blob as unknown, chosen for this model on scenes it was not tested on (optional) | `0.5` |
//!
//! Informative keys written by `train export` (not needed to run the model): `mnist_edge.arch`,
//! `mnist_edge.precision`, `mnist_edge.accuracy` (official test set, measured by tract),
//! `mnist_edge.params`, `mnist_edge.macs`, `mnist_edge.pruning`, `mnist_edge.quantization`,
//! `mnist_edge.dataset_sha256`, `mnist_edge.tool`.

/// Mean of MNIST training pixels scaled to [0, 1]: the seed's normalisation.
pub const SEED_MEAN: f32 = 0.1307;
/// Standard deviation of MNIST training pixels scaled to [0, 1].
pub const SEED_STD: f32 = 0.3081;

/// Appends `(pixel / 255 − mean) / std` for each grey pixel: the one normalisation formula
/// that training and the board share.
pub fn normalise(pixels: &[u8], mean: f32, std: f32, out: &mut Vec<f32>) {
    out.extend(pixels.iter().map(|&p| (p as f32 / 255.0 - mean) / std));
}

/// Key of the input shape.
pub const INPUT_SHAPE: &str = "mnist_edge.input_shape";

/// Largest input side a model may ask for: digits are read at 28 pixels, and a crafted
/// `1,4000,4000` would make every frame's batch gigabytes.
pub const MAX_SIDE: usize = 256;
/// Key of the normalisation mean.
pub const MEAN: &str = "mnist_edge.mean";
/// Key of the normalisation standard deviation.
pub const STD: &str = "mnist_edge.std";
/// Key of the polarity.
pub const POLARITY: &str = "mnist_edge.polarity";
/// Key of the class labels.
pub const LABELS: &str = "mnist_edge.labels";
/// Key of the model's own confidence threshold.
pub const MIN_CONFIDENCE: &str = "mnist_edge.min_confidence";

/// A probability as a setting (`--min-confidence`): a number from 0 to 1 (NaN is not one), as
/// the contract asks of [`MIN_CONFIDENCE`]; for command lines' value parsers.
pub fn parse_probability(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a probability from 0 to 1")),
    }
}

/// Keys of a model's provenance, written by `train` after the contract's: what network it
/// is, how it was made smaller, on what data, by which tool, and how it read the test set.
/// The edge does not need them to feed the model; people and the model card do.
pub mod provenance {
    /// The architecture (`seed`, `strided`, …).
    pub const ARCH: &str = "mnist_edge.arch";
    /// `fp32` or `int8`.
    pub const PRECISION: &str = "mnist_edge.precision";
    /// Parameters of the network.
    pub const PARAMS: &str = "mnist_edge.params";
    /// Multiply-accumulates per image.
    pub const MACS: &str = "mnist_edge.macs";
    /// How it was pruned, or `none`.
    pub const PRUNING: &str = "mnist_edge.pruning";
    /// How it was quantized, or `none`.
    pub const QUANTIZATION: &str = "mnist_edge.quantization";
    /// SHA-256 identifying the training data.
    pub const DATASET_SHA256: &str = "mnist_edge.dataset_sha256";
    /// The `train` version that wrote it.
    pub const TOOL: &str = "mnist_edge.tool";
    /// Its accuracy on the MNIST test set under tract.
    pub const ACCURACY: &str = "mnist_edge.accuracy";
}

/// Which way round ink and ground are in the images the model was trained on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Light strokes on a dark ground, as in MNIST.
    LightOnDark,
    /// Dark strokes on a light ground.
    DarkOnLight,
}

impl Polarity {
    /// The metadata spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Polarity::LightOnDark => "light_on_dark",
            Polarity::DarkOnLight => "dark_on_light",
        }
    }
}

/// Everything needed to turn a grey digit into model input and read the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    /// Side of the square single-channel input image in pixels.
    pub side: usize,
    /// Mean subtracted from pixels scaled to [0, 1].
    pub mean: f32,
    /// Standard deviation pixels are divided by after the mean.
    pub std: f32,
    /// Ink and ground of the training images.
    pub polarity: Polarity,
    /// Class names in the order of the model's outputs.
    pub labels: Vec<String>,
    /// The confidence threshold chosen for this model, if one was (models trained to give
    /// marks that are not digits equal odds are less sure of everything and want a lower one).
    pub min_confidence: Option<f32>,
}

impl Default for Contract {
    /// The seed CNN's contract: 28×28 MNIST digits, mean 0.1307, std 0.3081, light on dark.
    fn default() -> Self {
        Self {
            side: 28,
            mean: SEED_MEAN,
            std: SEED_STD,
            polarity: Polarity::LightOnDark,
            labels: (0..10).map(|d| d.to_string()).collect(),
            min_confidence: None,
        }
    }
}

impl Contract {
    /// The contract as metadata key-value pairs.
    pub fn to_props(&self) -> Vec<(String, String)> {
        let mut props = vec![
            (INPUT_SHAPE.into(), format!("1,{},{}", self.side, self.side)),
            (MEAN.into(), self.mean.to_string()),
            (STD.into(), self.std.to_string()),
            (POLARITY.into(), self.polarity.as_str().into()),
            (LABELS.into(), self.labels.join(",")),
        ];
        if let Some(t) = self.min_confidence {
            props.push((MIN_CONFIDENCE.into(), t.to_string()));
        }
        props
    }

    /// Reads the contract through `get`, which looks a metadata key up; absent keys take the
    /// default. Errors name the key and what is wrong with its value.
    pub fn from_props(get: impl Fn(&str) -> Option<String>) -> Result<Self, (String, String)> {
        let mut c = Contract::default();
        let bad = |key: &str, why: String| (key.to_string(), why);
        if let Some(v) = get(INPUT_SHAPE) {
            let dims: Vec<usize> = v
                .split(',')
                .map(|d| d.trim().parse())
                .collect::<Result<_, _>>()
                .map_err(|_| bad(INPUT_SHAPE, format!("'{v}' is not C,H,W")))?;
            match dims[..] {
                [1, h, w] if h == w && h > MAX_SIDE => {
                    return Err(bad(
                        INPUT_SHAPE,
                        format!(
                            "'{v}': inputs of more than {MAX_SIDE}×{MAX_SIDE} pixels are refused"
                        ),
                    ))
                }
                [1, h, w] if h == w && h > 0 => c.side = h,
                _ => {
                    return Err(bad(
                        INPUT_SHAPE,
                        format!("'{v}' is not one square grey image (1,S,S)"),
                    ))
                }
            }
        }
        for (key, slot) in [(MEAN, &mut c.mean), (STD, &mut c.std)] {
            if let Some(v) = get(key) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|_| bad(key, format!("'{v}' is not a number")))?;
            }
        }
        if !(c.std > 0.0 && c.std.is_finite() && c.mean.is_finite()) {
            return Err(bad(
                STD,
                format!("mean {} and std {} cannot normalise", c.mean, c.std),
            ));
        }
        if let Some(v) = get(POLARITY) {
            c.polarity = match v.trim() {
                "light_on_dark" => Polarity::LightOnDark,
                "dark_on_light" => Polarity::DarkOnLight,
                other => {
                    return Err(bad(
                        POLARITY,
                        format!("'{other}' is neither light_on_dark nor dark_on_light"),
                    ))
                }
            };
        }
        if let Some(v) = get(MIN_CONFIDENCE) {
            let t: f32 = v
                .trim()
                .parse()
                .map_err(|_| bad(MIN_CONFIDENCE, format!("'{v}' is not a number")))?;
            if !(0.0..=1.0).contains(&t) {
                return Err(bad(MIN_CONFIDENCE, format!("{t} is not a probability")));
            }
            c.min_confidence = Some(t);
        }
        if let Some(v) = get(LABELS) {
            c.labels = v.split(',').map(|l| l.trim().to_string()).collect();
            if c.labels.iter().any(String::is_empty) {
                return Err(bad(LABELS, format!("'{v}' has an empty label")));
            }
        }
        Ok(c)
    }

    /// Normalises grey pixels (0 = ground, 255 = ink, already in the model's polarity).
    pub fn normalise(&self, pixels: &[u8], out: &mut Vec<f32>) {
        normalise(pixels, self.mean, self.std, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probability_setting_is_a_number_from_0_to_1() {
        for ok in ["0", "1", "0.5", " 0.7 "] {
            assert!(parse_probability(ok).is_ok(), "{ok}");
        }
        for bad in ["1.5", "-0.1", "NaN", "x", ""] {
            assert!(parse_probability(bad).is_err(), "{bad}");
        }
    }
    use std::collections::HashMap;

    #[test]
    fn round_trips_through_props() {
        let c = Contract {
            side: 32,
            mean: 0.5,
            std: 0.25,
            polarity: Polarity::DarkOnLight,
            labels: vec!["a".into(), "b".into()],
            min_confidence: Some(0.55),
        };
        let props: HashMap<_, _> = c.to_props().into_iter().collect();
        assert_eq!(Contract::from_props(|k| props.get(k).cloned()).unwrap(), c);
    }

    #[test]
    fn absent_keys_mean_the_seed_contract() {
        assert_eq!(Contract::from_props(|_| None).unwrap(), Contract::default());
    }

    #[test]
    fn malformed_values_name_the_key() {
        let (key, why) =
            Contract::from_props(|k| (k == MEAN).then(|| "abc".to_string())).unwrap_err();
        assert_eq!(key, MEAN);
        assert!(why.contains("not a number"));
        let (key, _) = Contract::from_props(|k| (k == INPUT_SHAPE).then(|| "3,28,28".to_string()))
            .unwrap_err();
        assert_eq!(key, INPUT_SHAPE);
        let (key, why) =
            Contract::from_props(|k| (k == MIN_CONFIDENCE).then(|| "1.5".to_string())).unwrap_err();
        assert_eq!(key, MIN_CONFIDENCE);
        assert!(why.contains("not a probability"), "{why}");
    }

    #[test]
    fn issue15_a_model_asking_for_huge_inputs_is_refused() {
        let (key, why) =
            Contract::from_props(|k| (k == INPUT_SHAPE).then(|| "1,4000,4000".to_string()))
                .unwrap_err();
        assert_eq!(key, INPUT_SHAPE);
        assert!(why.contains("256"), "{why}");
        assert!(Contract::from_props(|k| (k == INPUT_SHAPE).then(|| "1,256,256".into())).is_ok());
    }

    mod fuzz {
        //! Property tests of the model metadata contract (issue 15): any values under its keys
        //! give a usable contract or an error naming the key, never a panic.
        use super::*;
        use proptest::prelude::*;

        const KEYS: [&str; 6] = [
            "mnist_edge.input_shape",
            "mnist_edge.mean",
            "mnist_edge.std",
            "mnist_edge.polarity",
            "mnist_edge.labels",
            "mnist_edge.min_confidence",
        ];

        fn value() -> impl Strategy<Value = Option<String>> {
            proptest::option::of(prop_oneof![
                "[ -~]{0,24}",
                "1,[0-9]{1,6},[0-9]{1,6}",
                "-?[0-9]{0,3}\\.?[0-9]{0,4}(e[0-9]{1,3})?",
                Just("NaN".to_string()),
                Just("inf".to_string()),
                "[0-9a-z]{1,3}(,[0-9a-z]{0,3}){0,12}",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(crate::capture::fuzz_cases(512)))]

            #[test]
            fn issue15_fuzz_contract_any_metadata(values in proptest::collection::vec(value(), 6)) {
                let get = |k: &str| KEYS.iter().position(|&x| x == k).and_then(|i| values[i].clone());
                match Contract::from_props(get) {
                    Ok(c) => {
                        prop_assert!(c.side > 0 && c.side <= MAX_SIDE);
                        prop_assert!(c.std.is_finite() && c.std > 0.0 && c.mean.is_finite());
                        prop_assert!(!c.labels.is_empty());
                        prop_assert!(c.min_confidence.is_none_or(|t| (0.0..=1.0).contains(&t)));
                    }
                    Err((key, why)) => {
                        prop_assert!(KEYS.contains(&key.as_str()), "{}", key);
                        prop_assert!(!why.is_empty());
                    }
                }
            }
        }
    }
}

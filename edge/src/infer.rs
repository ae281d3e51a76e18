//! Runs a digit ONNX model with tract, optimised once at load: input `[N, 1, S, S]`
//! normalised f32 with a symbolic batch N (all digits of a frame go through as one batch),
//! output `[N, classes]` logits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::{
    tvec, DatumExt, Framework, InferenceModelExt, IntoRunnable, IntoTValue, ShapeFact, TDim,
    Tensor, TypedRunnableModel,
};
use tract_onnx::tract_core::dims;
use tract_onnx::tract_hir::infer::Factoid;

use crate::contract::Contract;
use crate::{Error, Result};

mod float_form;
mod on_grid;

/// Which of tract's kernels run a quantized model's convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// Its f32 kernels, on the model's own quantization grid ([`float_form`]): on an x86 CPU
    /// without AVX-512 tract's integer kernels read the default 14–17 times slower.
    Float,
    /// Its integer kernels, as the ONNX file states them (`QLinearConv`): on ARM, where
    /// tract's integer kernels are its own (dot-product instructions on a Pi 5 or a Jetson)
    /// and the float form has not been timed on a board.
    Integer,
}

/// Environment variable that picks the kernels (`float` or `integer`) over this CPU's
/// default: the cross builds' reference answers are computed on the boards' kernels.
pub const KERNELS_ENV: &str = "EDGE_KERNELS";

impl Default for Kernels {
    /// Float kernels on x86, integer kernels elsewhere.
    fn default() -> Self {
        if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
            Kernels::Float
        } else {
            Kernels::Integer
        }
    }
}

impl Kernels {
    /// The name printed beside a model.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Float => "float",
            Kernels::Integer => "integer",
        }
    }

    /// The kernels [`KERNELS_ENV`] names, else this CPU's default; a value that is neither
    /// name is an error naming the variable.
    pub fn from_env() -> Result<Self> {
        match std::env::var(KERNELS_ENV) {
            Err(_) => Ok(Kernels::default()),
            Ok(v) => match v.as_str() {
                "float" => Ok(Kernels::Float),
                "integer" => Ok(Kernels::Integer),
                other => Err(Error::Setting(format!(
                    "{KERNELS_ENV}={other:?}: expected float or integer"
                ))),
            },
        }
    }
}

/// Metadata property prefix under which tract keeps ONNX `metadata_props`.
const PROPS: &str = "onnx.metadata_props.";

/// One prediction: the class index, its label and the softmax probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Index of the most likely class.
    pub class: usize,
    /// Its softmax probability.
    pub confidence: f32,
}

/// A loaded, optimised digit model with its contract.
pub struct Classifier {
    plan: Arc<TypedRunnableModel>,
    contract: Contract,
    metadata: HashMap<String, String>,
    path: PathBuf,
    kernels: Kernels,
}

impl Classifier {
    /// Loads and optimises the ONNX model at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, Kernels::from_env()?)
    }

    /// Loads and optimises the ONNX model at `path`, its convolutions run by `kernels`.
    pub fn load_with(path: &Path, kernels: Kernels) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| model_error(path, e.to_string()))?;
        Self::from_bytes_with(&bytes, path, kernels)
    }

    /// Loads and optimises an ONNX model held in memory; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        Self::from_bytes_with(bytes, path, Kernels::from_env()?)
    }

    /// [`Classifier::from_bytes`], its convolutions run by `kernels`.
    pub fn from_bytes_with(bytes: &[u8], path: &Path, kernels: Kernels) -> Result<Self> {
        let mut onnx = tract_onnx::onnx();
        on_grid::register(&mut onnx);
        let unreadable = |e: &dyn std::fmt::Display| {
            model_error(
                path,
                format!("not a readable ONNX model ({})", first_line(e)),
            )
        };
        let mut proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| unreadable(&e))?;
        if kernels == Kernels::Float {
            float_form::float_form(&mut proto, |why| {
                tracing::debug!("{}: left on the integer kernels, {why}", path.display())
            });
            on_grid::fold(&mut proto);
        }
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| unreadable(&e))?;
        let metadata: HashMap<String, String> = model
            .properties
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix(PROPS)?.to_string(),
                    v.try_as_plain_ram()
                        .ok()?
                        .to_scalar::<String>()
                        .ok()?
                        .clone(),
                ))
            })
            .collect();
        let contract =
            Contract::from_props(|k| metadata.get(k).cloned()).map_err(|(key, reason)| {
                Error::Contract {
                    path: path.to_path_buf(),
                    key,
                    reason,
                }
            })?;
        let s = contract.side;
        if model.inputs.len() != 1 || model.outputs.len() != 1 {
            return Err(model_error(
                path,
                format!(
                    "has {} inputs and {} outputs, expected one of each",
                    model.inputs.len(),
                    model.outputs.len()
                ),
            ));
        }
        let declared = model
            .input_fact(0)
            .map_err(|e| model_error(path, first_line(&e)))?;
        if let Some(shape) = declared.shape.concretize() {
            let fits = shape.len() == 4
                && shape[1..]
                    .iter()
                    .map(|d| d.to_i64().ok())
                    .eq([1, s, s].map(|v| Some(v as i64)));
            if !fits {
                let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                return Err(model_error(
                    path,
                    format!("input is [{}], expected [N,1,{s},{s}]", dims.join(",")),
                ));
            }
        }
        let n = model.sym("N");
        let typed = model
            .with_input_fact(0, f32::fact(dims!(n, 1, s, s)).into())
            .and_then(|m| m.into_optimized())
            .map_err(|e| {
                model_error(
                    path,
                    format!("cannot run on [N,1,{s},{s}] images ({})", first_line(&e)),
                )
            })?;
        let out = typed
            .output_fact(0)
            .map_err(|e| model_error(path, first_line(&e)))?;
        let classes = out.shape.dims().last().and_then(|d| d.to_i64().ok());
        if out.shape.rank() != 2 || classes != Some(contract.labels.len() as i64) {
            return Err(model_error(
                path,
                format!(
                    "output is {:?}, expected [N,{}] for its {} labels",
                    out.shape,
                    contract.labels.len(),
                    contract.labels.len()
                ),
            ));
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| model_error(path, first_line(&e)))?;
        Ok(Self {
            plan,
            contract,
            metadata,
            path: path.to_path_buf(),
            kernels,
        })
    }

    /// The contract read from the model's metadata.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// All `metadata_props` of the model.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }

    /// The file the model came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kernels that run its convolutions.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Logits `[N × classes]` for `N` normalised images laid one after the other.
    pub fn logits(&self, input: &[f32]) -> Result<Vec<f32>> {
        let s = self.contract.side;
        if input.is_empty() || !input.len().is_multiple_of(s * s) {
            return Err(Error::Input {
                got: input.len(),
                side: s,
            });
        }
        let n = input.len() / (s * s);
        let tensor =
            Tensor::from_shape(&[n, 1, s, s], input).map_err(|e| Error::Run(first_line(&e)))?;
        let out = self
            .plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| Error::Run(first_line(&e)))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::Run(first_line(&e)))?;
        Ok(view.iter().copied().collect())
    }

    /// Classifies `N` grey images of `S×S` pixels (ink bright, as the contract's polarity has
    /// already been applied), normalising them per the contract.
    pub fn classify(&self, pixels: &[u8]) -> Result<Vec<Prediction>> {
        let mut input = Vec::with_capacity(pixels.len());
        self.contract.normalise(pixels, &mut input);
        let logits = self.logits(&input)?;
        let rows = self.contract.labels.len();
        if let Some(reason) = not_finite(&logits, rows) {
            return Err(model_error(&self.path, reason));
        }
        Ok(logits.chunks(rows).map(softmax_top).collect())
    }
}

/// What is wrong with `logits` (rows of `classes`) when some are NaN or infinite: a broken or
/// badly quantized model, whose every answer would otherwise read as "unknown" unexplained.
pub fn not_finite(logits: &[f32], classes: usize) -> Option<String> {
    let bad = logits
        .chunks(classes.max(1))
        .filter(|row| row.iter().any(|v| !v.is_finite()))
        .count();
    (bad > 0).then(|| {
        format!(
            "gave NaN or infinite outputs for {bad} of {} inputs (a broken or badly quantized model)",
            logits.len() / classes.max(1)
        )
    })
}

/// The most likely class of one row of logits and its softmax probability.
pub fn softmax_top(row: &[f32]) -> Prediction {
    let (class, max) =
        row.iter()
            .copied()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, v)| {
                if v > best.1 {
                    (i, v)
                } else {
                    best
                }
            });
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    Prediction {
        class,
        confidence: 1.0 / sum,
    }
}

fn model_error(path: &Path, reason: String) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason,
    }
}

/// tract's errors carry a chain of contexts; the first line says what failed.
fn first_line(e: &(impl std::fmt::Display + ?Sized)) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue15_nan_or_infinite_outputs_are_an_error_naming_how_many() {
        assert_eq!(not_finite(&[0.1, 2.0, -1.0, 3.0], 2), None);
        let why = not_finite(&[0.1, f32::NAN, -1.0, 3.0, f32::INFINITY, 0.0], 2).unwrap();
        assert!(why.contains("2 of 3 inputs"), "{why}");
    }

    #[test]
    fn softmax_top_picks_the_largest() {
        let p = softmax_top(&[0.0, 2.0, 0.0]);
        assert_eq!(p.class, 1);
        let expected = 2f32.exp() / (2.0 + 2f32.exp());
        assert!((p.confidence - expected).abs() < 1e-6);
    }

    /// A one-layer model `[N, 3, 32, 32]` → Flatten → Gemm → `[N, 10]`, built with tract's
    /// own ONNX message types.
    fn colour_model() -> Vec<u8> {
        use prost::Message;
        use tract_onnx::pb::{self, tensor_shape_proto::dimension, type_proto};
        let dims = |d: &[Option<i64>]| pb::TensorShapeProto {
            dim: d
                .iter()
                .map(|v| pb::tensor_shape_proto::Dimension {
                    value: Some(match v {
                        Some(v) => dimension::Value::DimValue(*v),
                        None => dimension::Value::DimParam("N".into()),
                    }),
                    ..Default::default()
                })
                .collect(),
        };
        let info = |name: &str, d: &[Option<i64>]| pb::ValueInfoProto {
            name: name.into(),
            r#type: Some(pb::TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: 1,
                    shape: Some(dims(d)),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let weight = pb::TensorProto {
            name: "w".into(),
            dims: vec![10, 3072],
            data_type: 1,
            raw_data: vec![0; 4 * 10 * 3072],
            ..Default::default()
        };
        let node = |op: &str, i: &[&str], o: &str| pb::NodeProto {
            op_type: op.into(),
            input: i.iter().map(|s| s.to_string()).collect(),
            output: vec![o.into()],
            ..Default::default()
        };
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(pb::GraphProto {
                node: vec![node("Flatten", &["x"], "f"), node("Gemm", &["f", "w"], "y")],
                initializer: vec![weight],
                input: vec![info("x", &[None, Some(3), Some(32), Some(32)])],
                output: vec![info("y", &[None, Some(10)])],
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_model_for_other_images_is_refused_with_its_shape() {
        let err = Classifier::from_bytes(&colour_model(), Path::new("cifar.onnx"))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "cifar.onnx: input is [N,3,32,32], expected [N,1,28,28]"
        );
    }

    #[test]
    fn garbage_is_not_a_model() {
        let err = Classifier::from_bytes(b"definitely not protobuf", Path::new("x.onnx"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("x.onnx: not a readable ONNX model"),
            "{err}"
        );
    }
}

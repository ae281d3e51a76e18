//! ONNX export written in Rust. A model becomes an opset-13 graph of standard operators
//! (Conv, Relu, MaxPool, Flatten, Gemm) with its weights as float initializers, input
//! `input` `[N, 1, 28, 28]` and output `logits` `[N, 10]`; the edge contract and the model's
//! provenance go into `metadata_props` (keys in [`edge::contract`]). The messages are
//! tract-onnx's prost types, encoded by prost.

use candle_core::Tensor;
use edge::contract::Contract;
use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::type_proto::{self, Value};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::model::ArchConfig;
use crate::{Error, Result};

/// ONNX operator set the graphs use.
pub const OPSET: i64 = 13;
/// Name of the graph input.
pub const INPUT: &str = "input";
/// Name of the graph output.
pub const OUTPUT: &str = "logits";

/// One layer of a network as the export sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Convolution with weights `NAME.weight` `[O, C/groups, k, k]`, bias `NAME.bias`.
    Conv {
        /// Variable prefix.
        name: &'static str,
        /// Zero padding on each side.
        pad: i64,
        /// Channel groups (C for depthwise).
        groups: i64,
        /// Stride in both directions.
        stride: i64,
    },
    /// Rectified linear unit.
    Relu,
    /// 2×2 max-pool, stride 2.
    Pool,
    /// `[N, C, H, W]` → `[N, C·H·W]`.
    Flatten,
    /// Fully connected layer with weight `NAME.weight` `[out, in]`, bias `NAME.bias`.
    Dense {
        /// Variable prefix.
        name: &'static str,
    },
}

/// The layers of `arch` in forward order, as `model` computes them.
pub fn steps(arch: &ArchConfig) -> Vec<Step> {
    use Step::{Conv, Dense, Flatten, Pool, Relu};
    match arch {
        ArchConfig::Seed(_) => vec![
            Conv {
                name: "conv1",
                pad: 0,
                groups: 1,
                stride: 1,
            },
            Relu,
            Pool,
            Conv {
                name: "conv2",
                pad: 0,
                groups: 1,
                stride: 1,
            },
            Relu,
            Pool,
            Flatten,
            Dense { name: "fc1" },
            Relu,
            Dense { name: "fc2" },
        ],
        ArchConfig::Light(c) => vec![
            Conv {
                name: "stem",
                pad: 0,
                groups: 1,
                stride: 1,
            },
            Relu,
            Pool,
            Conv {
                name: "block1.dw",
                pad: 0,
                groups: c.stem as i64,
                stride: 1,
            },
            Relu,
            Conv {
                name: "block1.pw",
                pad: 0,
                groups: 1,
                stride: 1,
            },
            Relu,
            Pool,
            Conv {
                name: "block2.dw",
                pad: 1,
                groups: c.mid as i64,
                stride: 1,
            },
            Relu,
            Conv {
                name: "block2.pw",
                pad: 0,
                groups: 1,
                stride: 1,
            },
            Relu,
            Flatten,
            Dense { name: "fc1" },
            Relu,
            Dense { name: "fc2" },
        ],
        ArchConfig::Strided(_) => vec![
            Conv {
                name: "conv1",
                pad: 0,
                groups: 1,
                stride: 2,
            },
            Relu,
            Conv {
                name: "conv2",
                pad: 0,
                groups: 1,
                stride: 2,
            },
            Relu,
            Flatten,
            Dense { name: "fc1" },
            Relu,
            Dense { name: "fc2" },
        ],
    }
}

/// Encodes the network `arch` with weights looked up by `weight(name)` as an ONNX file,
/// with `props` as metadata after the contract's.
pub fn to_onnx(
    arch: &ArchConfig,
    weight: impl Fn(&str) -> Option<Tensor>,
    contract: &Contract,
    props: &[(String, String)],
) -> Result<Vec<u8>> {
    let mut g = Builder::default();
    let mut x = INPUT.to_string();
    let mut classes = 0;
    for step in steps(arch) {
        x = match step {
            Step::Conv {
                name,
                pad,
                groups,
                stride,
            } => {
                let w = g.initializer(name, "weight", &weight)?;
                let b = g.initializer(name, "bias", &weight)?;
                let k = *w.dims.last().unwrap_or(&1);
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("pads", &[pad; 4]),
                    ints("strides", &[stride, stride]),
                    int("group", groups),
                ];
                g.node("Conv", name, &[&x, &w.name, &b.name], attrs)
            }
            Step::Relu => g.node("Relu", "relu", &[&x], vec![]),
            Step::Pool => g.node(
                "MaxPool",
                "pool",
                &[&x],
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            ),
            Step::Flatten => g.node("Flatten", "flatten", &[&x], vec![int("axis", 1)]),
            Step::Dense { name } => {
                let w = g.initializer(name, "weight", &weight)?;
                let b = g.initializer(name, "bias", &weight)?;
                classes = w.dims[0];
                g.node(
                    "Gemm",
                    name,
                    &[&x, &w.name, &b.name],
                    vec![int("transB", 1)],
                )
            }
        };
    }
    Ok(finish(
        g,
        &arch.arch().to_string(),
        classes,
        contract,
        props,
    ))
}

/// Completes the graph in `g` into an encoded model: its last node writes the output
/// `logits` `[N, classes]`, and the contract and `props` go into the metadata.
pub(crate) fn finish(
    mut g: Builder,
    arch: &str,
    classes: i64,
    contract: &Contract,
    props: &[(String, String)],
) -> Vec<u8> {
    if let Some(last) = g.nodes.last_mut() {
        last.output = vec![OUTPUT.to_string()];
    }
    let side = contract.side as i64;
    let graph = GraphProto {
        name: format!("mnist-edge {arch}"),
        node: g.nodes,
        initializer: g.initializers,
        input: vec![value_info(INPUT, &[None, Some(1), Some(side), Some(side)])],
        output: vec![value_info(OUTPUT, &[None, Some(classes)])],
        ..Default::default()
    };
    let metadata_props = contract
        .to_props()
        .into_iter()
        .chain(props.iter().cloned())
        .map(|(key, value)| StringStringEntryProto { key, value })
        .collect();
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "mnist-edge train".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{arch} digit classifier; inputs and labels in metadata_props"),
        graph: Some(graph),
        metadata_props,
        ..Default::default()
    };
    model.encode_to_vec()
}

/// Nodes and initializers of a graph being written.
#[derive(Default)]
pub(crate) struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Builder {
    /// Adds an initializer of any element type from its little-endian bytes.
    pub(crate) fn raw(
        &mut self,
        name: &str,
        dims: &[i64],
        data_type: DataType,
        raw_data: Vec<u8>,
    ) -> String {
        self.initializers.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: data_type as i32,
            raw_data,
            ..Default::default()
        });
        name.to_string()
    }

    /// Adds `PREFIX.PART` as a float initializer.
    fn initializer(
        &mut self,
        prefix: &str,
        part: &str,
        weight: &impl Fn(&str) -> Option<Tensor>,
    ) -> Result<TensorProto> {
        let name = format!("{prefix}.{part}");
        let t = weight(&name).ok_or_else(|| Error::Config(format!("weight {name} is missing")))?;
        let values = t.flatten_all()?.to_vec1::<f32>()?;
        let proto = TensorProto {
            name: name.clone(),
            dims: t.dims().iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        self.initializers.push(proto.clone());
        Ok(proto)
    }

    /// Adds a node and returns the name of its output.
    pub(crate) fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        let output = format!("{name}_{}_{}", op.to_ascii_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name: format!("{name}/{op}#{}", self.nodes.len()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            attribute,
            ..Default::default()
        });
        output
    }
}

pub(crate) fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// A float tensor value; `None` dimensions are the symbolic batch `N`.
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What `train export` wrote and measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    /// The verification of the written file.
    #[serde(flatten)]
    pub verification: crate::onnx::verify::Verification,
    /// Accuracy of the candle model on the same images.
    pub candle_accuracy: f64,
    /// The candle model's full evaluation (per class, confusion matrix).
    #[serde(skip)]
    pub candle: crate::measure::evaluate::Evaluation,
}

/// Exports the checkpoint at `from` to `out`: encodes it, verifies it with tract against
/// candle on the test images, then writes it atomically. A failed check writes nothing, so a
/// good model already at `out` stays. `min_confidence` is the edge's threshold for this model
/// (stored in the metadata; `None` leaves the edge's default).
pub fn export(
    from: &std::path::Path,
    out: &std::path::Path,
    data: &crate::data::mnist::Mnist,
    min_confidence: Option<f32>,
) -> Result<ExportReport> {
    let device = candle_core::Device::Cpu;
    let ckpt = crate::fit::checkpoint::load(from, &device)?;
    let (model, _) = ckpt.model(from, &device)?;
    let contract = Contract {
        min_confidence,
        ..Contract::default()
    };
    let cost = ckpt.header.arch.cost();
    let mut props = vec![
        (
            "mnist_edge.arch".to_string(),
            ckpt.header.arch.arch().to_string(),
        ),
        ("mnist_edge.precision".into(), "fp32".into()),
        ("mnist_edge.params".into(), cost.params.to_string()),
        ("mnist_edge.macs".into(), cost.macs.to_string()),
        ("mnist_edge.pruning".into(), ckpt.header.pruning_note()),
        ("mnist_edge.quantization".into(), "none".into()),
        (
            "mnist_edge.dataset_sha256".into(),
            ckpt.header
                .dataset_sha256
                .clone()
                .unwrap_or_else(|| data.sha256.clone()),
        ),
        (
            "mnist_edge.tool".into(),
            format!("train {}", env!("CARGO_PKG_VERSION")),
        ),
    ];
    let weight = |name: &str| ckpt.tensors.get(name).cloned();
    let draft = to_onnx(&ckpt.header.arch, weight, &contract, &props)?;
    let checked = crate::onnx::verify::verify(&draft, out, &data.test, Some(&model))?;
    // The accuracy tract measured goes into the file; metadata does not change the graph.
    props.push((
        "mnist_edge.accuracy".into(),
        format!("{:.6}", checked.accuracy),
    ));
    let bytes = to_onnx(&ckpt.header.arch, weight, &contract, &props)?;
    // Same graph and weights as the draft just verified; check the final file loads and
    // carries the contract before it replaces anything.
    edge::infer::Classifier::from_bytes(&bytes, out).map_err(|e| Error::Config(e.to_string()))?;
    let verification = crate::onnx::verify::Verification {
        bytes: bytes.len(),
        ..checked
    };
    let candle = crate::measure::evaluate::evaluate(&model, &data.test, &device, 500)?;
    crate::atomic::write(out, &bytes)?;
    Ok(ExportReport {
        verification,
        candle_accuracy: candle.accuracy,
        candle,
    })
}

//! The one ONNX graph writer that the fp32 export ([`super::export`]) and the INT8 export
//! ([`crate::compress::quantize`]) share: nodes and initializers, the graph's input
//! `input` `[N, 1, side, side]` and output `logits` `[N, classes]`, and the model's metadata
//! (the edge contract first, keys in [`edge::contract`]). The messages are tract-onnx's prost
//! types, encoded by prost.

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

use crate::error::{Error, Result};
use crate::model::ArchConfig;

/// ONNX operator set the graphs use.
pub const OPSET: i64 = 13;
/// Name of the graph input.
pub const INPUT: &str = "input";
/// Name of the graph output.
pub const OUTPUT: &str = "logits";

/// Completes the graph in `g` into an encoded model: its last node writes the output
/// `logits` `[N, classes]`, and the contract and `props` go into the metadata.
pub fn finish(
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
pub struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Builder {
    /// Adds an initializer of any element type from its little-endian bytes.
    pub fn raw(
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
    pub fn initializer(
        &mut self,
        prefix: &str,
        part: &str,
        weight: &impl Fn(&str) -> Option<Tensor>,
    ) -> Result<TensorProto> {
        let name = format!("{prefix}.{part}");
        let t = weight(&name).ok_or_else(|| Error::Weights(format!("{name} is missing")))?;
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
    pub fn node(
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

/// An attribute holding a list of integers.
pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// An attribute holding one integer.
pub fn int(name: &str, v: i64) -> AttributeProto {
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

/// What a model's provenance says (see [`provenance`]).
pub struct Provenance<'a> {
    /// The network.
    pub arch: &'a ArchConfig,
    /// `fp32` or `int8`.
    pub precision: &'a str,
    /// How it was pruned, or `none`.
    pub pruning: String,
    /// How it was quantized, or `none`.
    pub quantization: String,
    /// SHA-256 identifying its training data.
    pub dataset: String,
}

/// The provenance metadata of a model (keys in [`edge::contract::provenance`]), in the order
/// every export writes them; the accuracy is added once tract has measured it
/// ([`with_accuracy`]).
pub fn provenance(p: Provenance) -> Vec<(String, String)> {
    use edge::contract::provenance as key;
    let cost = p.arch.cost();
    [
        (key::ARCH, p.arch.arch().to_string()),
        (key::PRECISION, p.precision.to_string()),
        (key::PARAMS, cost.params.to_string()),
        (key::MACS, cost.macs.to_string()),
        (key::PRUNING, p.pruning),
        (key::QUANTIZATION, p.quantization),
        (key::DATASET_SHA256, p.dataset),
        (key::TOOL, format!("train {}", env!("CARGO_PKG_VERSION"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `props` with the test accuracy tract measured.
pub fn with_accuracy(mut props: Vec<(String, String)>, accuracy: f64) -> Vec<(String, String)> {
    props.push((
        edge::contract::provenance::ACCURACY.to_string(),
        format!("{accuracy:.6}"),
    ));
    props
}

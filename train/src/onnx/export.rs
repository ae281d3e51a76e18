//! ONNX export written in Rust. A model becomes an opset-13 graph of standard operators
//! (Conv, Relu, MaxPool, Flatten, Gemm) with its weights as float initializers, input
//! `input` `[N, 1, 28, 28]` and output `logits` `[N, 10]`; the edge contract and the model's
//! provenance go into `metadata_props` (keys in [`edge::contract`]), written by the graph
//! writer the INT8 export shares ([`super::graph`]).

use candle_core::Tensor;
use edge::contract::Contract;

use crate::error::Result;
use crate::model::{ArchConfig, Step};
use crate::onnx::graph::{
    finish, int, ints, provenance, with_accuracy, Builder, Provenance, INPUT,
};
use crate::onnx::verify::ExportReport;

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
    for step in arch.steps() {
        x = match step {
            Step::Conv {
                name,
                kernel,
                pad,
                groups,
                stride,
                ..
            } => {
                let w = g.initializer(name, "weight", &weight)?;
                let b = g.initializer(name, "bias", &weight)?;
                let (k, pad, stride) = (kernel as i64, pad as i64, stride as i64);
                let attrs = vec![
                    ints("kernel_shape", &[k, k]),
                    ints("pads", &[pad; 4]),
                    ints("strides", &[stride, stride]),
                    int("group", groups as i64),
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
            Step::Dense { name, .. } => {
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
    let ckpt = crate::fit::checkpoint::load(from, &candle_core::Device::Cpu)?;
    export_checkpoint(&ckpt, from, out, data, min_confidence)
}

/// [`export`] of a checkpoint already in memory (`from` names it in messages): what
/// publishing hands over, instead of a file to read back.
pub fn export_checkpoint(
    ckpt: &crate::fit::checkpoint::Checkpoint,
    from: &std::path::Path,
    out: &std::path::Path,
    data: &crate::data::mnist::Mnist,
    min_confidence: Option<f32>,
) -> Result<ExportReport> {
    let device = candle_core::Device::Cpu;
    let (model, _) = ckpt.model(from, &device)?;
    let contract = Contract {
        min_confidence,
        ..Contract::default()
    };
    let props = provenance(Provenance {
        arch: &ckpt.header.arch,
        precision: "fp32",
        pruning: ckpt.header.pruning_note(),
        quantization: "none".into(),
        dataset: ckpt
            .header
            .dataset_sha256
            .clone()
            .unwrap_or_else(|| data.sha256.clone()),
    });
    let weight = |name: &str| ckpt.tensors.get(name).cloned();
    let draft = to_onnx(&ckpt.header.arch, weight, &contract, &props)?;
    let checked = crate::onnx::verify::verify(&draft, out, &data.test, Some(&model))?;
    // The accuracy tract measured goes into the file; metadata does not change the graph.
    let props = with_accuracy(props, checked.accuracy);
    let bytes = to_onnx(&ckpt.header.arch, weight, &contract, &props)?;
    // Same graph and weights as the draft just verified; check the final file loads and
    // carries the contract before it replaces anything.
    edge::infer::Classifier::from_bytes(&bytes, out)?;
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

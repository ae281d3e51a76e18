//! A quantized ONNX graph's `QLinearConv` nodes `[N, C, H, W] u8 → [N, M, H', W'] u8` rewritten
//! as `DequantizeLinear → Conv → QuantizeLinear`, with the weights `[M, C/group, kh, kw]` and
//! the bias `[M]` dequantized once, at load.
//!
//! The arithmetic is the model's own: the same u8 activations on the same grid between layers,
//! the same saturation at the output's zero point (the ReLU folded into it), the products
//! summed in f32 instead of i32 (exact for these sizes but for the last bit of a sum over
//! thousands of terms). What changes is the kernels tract runs: its f32 convolutions and
//! matrix products are tuned for every SIMD level, while its integer ones are not everywhere
//! (on an AVX2 CPU without AVX-512 the page-trained default read a batch 16 times slower
//! through them, see README "Notebook pages"). Each `QuantizeLinear` and the next layer's
//! `DequantizeLinear` are then one step onto the grid ([`super::on_grid`]).

use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{tensor_proto::DataType, ModelProto, NodeProto, TensorProto};
use tract_onnx::tensor::load_tensor;

/// Rewrites every `QLinearConv` of `model` whose weights, scales and zero points are constants
/// of the graph; returns how many. One that is not (a weight fed at run time, an unknown
/// type) stays as it is, on the integer kernels, and `skipped` says why.
pub fn float_form(model: &mut ModelProto, mut skipped: impl FnMut(String)) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut weights = Vec::new();
    let mut rewritten = 0;
    for node in &graph.node {
        if node.op_type != "QLinearConv" || !node.domain.is_empty() {
            nodes.push(node.clone());
            continue;
        }
        match rewrite(node, &graph.initializer) {
            Ok((three, constants)) => {
                nodes.extend(three);
                weights.extend(constants);
                rewritten += 1;
            }
            Err(why) => {
                skipped(format!("QLinearConv {:?}: {why}", node.name));
                nodes.push(node.clone());
            }
        }
    }
    graph.node = nodes;
    graph.initializer.extend(weights);
    rewritten
}

/// `node` (a `QLinearConv`) as DequantizeLinear → Conv → QuantizeLinear, with the float
/// weights and bias they need, or why not.
fn rewrite(
    node: &NodeProto,
    initializers: &[TensorProto],
) -> Result<(Vec<NodeProto>, Vec<TensorProto>), String> {
    let inputs = &node.input;
    let out = match (inputs.len(), node.output.first()) {
        (8 | 9, Some(out)) => out,
        (n, _) => return Err(format!("{n} inputs")),
    };
    let constant = |k: usize| {
        initializers
            .iter()
            .find(|t| t.name == inputs[k])
            .ok_or_else(|| format!("input {:?} is not a constant", inputs[k]))
    };
    let value = |k: usize| constant(k).and_then(values);
    let (w, w_scale, w_zero, x_scale) = (value(3)?, value(4)?, value(5)?, value(1)?);
    let w_dims = constant(3)?.dims.clone();
    let m = w_dims.first().copied().unwrap_or(0).max(0) as usize;
    // Scale and zero point are one for the tensor or one per output channel.
    let fits = |n: usize| n == 1 || n == m;
    if m == 0
        || w.len() % m != 0
        || x_scale.len() != 1
        || !fits(w_scale.len())
        || !fits(w_zero.len())
    {
        return Err(format!("weights {w_dims:?} with {} scales", w_scale.len()));
    }
    let per = |v: &[f32], c: usize| if v.len() == m { v[c] } else { v[0] };
    let each = w.len() / m;
    let w_float: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, &q)| (q - per(&w_zero, i / each)) * per(&w_scale, i / each))
        .collect();
    let (x_float, y_float) = (format!("{out}.x_float"), format!("{out}.y_float"));
    let (w_name, b_name) = (format!("{out}.w_float"), format!("{out}.b_float"));
    let mut constants = vec![float_tensor(&w_name, &w_dims, &w_float)];
    let mut conv_inputs = vec![x_float.clone(), w_name];
    if inputs.get(8).is_some_and(|b| !b.is_empty()) {
        // The bias is in units of the input's scale times the weights'.
        let b_float: Vec<f32> = value(8)?
            .iter()
            .enumerate()
            .map(|(c, &q)| q * x_scale[0] * per(&w_scale, c))
            .collect();
        constants.push(float_tensor(&b_name, &[b_float.len() as i64], &b_float));
        conv_inputs.push(b_name);
    }
    let op = |op_type: &str, input: Vec<String>, output: String| NodeProto {
        op_type: op_type.to_string(),
        name: format!("{}.{op_type}", node.name),
        input,
        output: vec![output],
        ..Default::default()
    };
    let three = vec![
        op("DequantizeLinear", inputs[..3].to_vec(), x_float),
        NodeProto {
            attribute: node.attribute.clone(),
            ..op("Conv", conv_inputs, y_float.clone())
        },
        op(
            "QuantizeLinear",
            vec![y_float, inputs[6].clone(), inputs[7].clone()],
            out.clone(),
        ),
    ];
    Ok((three, constants))
}

/// The values of a constant, as f32 (tract's own reading of an ONNX tensor, every type and
/// layout, then a cast).
pub(super) fn values(t: &TensorProto) -> Result<Vec<f32>, String> {
    let why = |e: &dyn std::fmt::Display| format!("constant {:?}: {e}", t.name);
    let tensor = load_tensor(&FopenDataResolver, t, None).map_err(|e| why(&e))?;
    let floats = tensor.cast_to::<f32>().map_err(|e| why(&e))?;
    let plain = floats.try_as_plain_ram().map_err(|e| why(&e))?;
    let v = plain.as_slice::<f32>().map_err(|e| why(&e))?;
    Ok(v.to_vec())
}

fn float_tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use tract_onnx::prelude::Framework;

    /// The shipped default, `strided-pages-int8`, as ONNX protobuf.
    pub(in crate::infer) fn default_model() -> ModelProto {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(root.join("../models/strided-pages-int8.onnx")).unwrap();
        tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .unwrap()
    }

    /// The operator types of `model`'s nodes, in order.
    pub(in crate::infer) fn ops(model: &ModelProto) -> Vec<String> {
        model
            .graph
            .iter()
            .flat_map(|g| &g.node)
            .map(|n| n.op_type.clone())
            .collect()
    }

    #[test]
    fn issue13_every_qlinearconv_of_the_default_model_becomes_a_float_conv_on_its_grid() {
        let mut model = default_model();
        let before = ops(&model);
        let convs = before.iter().filter(|o| *o == "QLinearConv").count();
        assert_eq!(convs, 3);
        assert_eq!(float_form(&mut model, |why| panic!("{why}")), 3);
        let after = ops(&model);
        assert!(!after.iter().any(|o| o == "QLinearConv"), "{after:?}");
        // Each one dequantizes its input, convolves in f32 and quantizes its output again.
        let triple = ["DequantizeLinear", "Conv", "QuantizeLinear"];
        assert_eq!(
            after.windows(3).filter(|w| *w == triple).count(),
            3,
            "{after:?}"
        );
        // The model still loads and reads as one.
        assert!(tract_onnx::onnx().model_for_proto_model(&model).is_ok());
    }

    #[test]
    fn a_convolution_whose_weight_is_not_a_constant_stays_on_the_integer_kernels() {
        let mut model = default_model();
        if let Some(g) = model.graph.as_mut() {
            g.initializer.retain(|t| t.name != "conv2.weight_q");
        }
        let mut why = Vec::new();
        assert_eq!(float_form(&mut model, |w| why.push(w)), 2);
        assert!(
            why.len() == 1 && why[0].contains("conv2.weight_q"),
            "{why:?}"
        );
        let ops = ops(&model);
        assert_eq!(
            ops.iter().filter(|o| *o == "QLinearConv").count(),
            1,
            "{ops:?}"
        );
    }
}

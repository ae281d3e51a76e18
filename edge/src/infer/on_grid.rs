//! `OnGrid`: `[..] f32 → [..] f32`, each value moved to the nearest point of an 8-bit
//! quantization grid, `scale · (q − zero_point)` for `q` in `0..=255` (ties to the even `q`).
//!
//! It is what a `QuantizeLinear` to u8 followed by a `DequantizeLinear` of the same scale and
//! zero point computes, value for value, and the float form ([`super::float_form`]) is made of
//! such pairs: each convolution's output is quantized to u8 and dequantized again by the next
//! layer. tract quantizes one element at a time through a branchy ties-to-even, a tenth of a
//! page frame's time under `edge bench`; here the grid is reached with a multiply, two adds
//! and a clamp, which the compiler turns into SIMD. [`fold`] puts one `OnGrid` node in place
//! of each pair in the ONNX graph (the u8 tensor between them may pass through a `Reshape` or
//! `Flatten`, which move values without changing them), and [`register`] teaches tract's ONNX
//! reader the node.

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto};
use tract_onnx::tract_core::internal::{DatumType, Tensor, TractResult};
use tract_onnx::tract_core::ops::element_wise::{ElementWiseMiniOp, ElementWiseOp};
use tract_onnx::tract_hir::infer::InferenceOp;
use tract_onnx::tract_hir::ops::element_wise::ElementWiseIntoHir;

use super::float_form::values;

/// The node's ONNX operator type; its domain is [`DOMAIN`].
pub const OP_TYPE: &str = "OnGrid";

/// The private ONNX domain of [`OP_TYPE`]: a graph that holds it is the reader's own form of
/// a model, never a file.
pub const DOMAIN: &str = "mnist_edge";

/// `2²³ · 1.5`: added to and taken from a value under 2²² in size, it leaves the value rounded
/// to the nearest integer, ties to even (the sum has no bits below one).
const ROUNDER: f32 = 12_582_912.0;

/// The element-wise op: `x ↦ scale · clamp(round_even(x · to_grid), lo, hi)`.
#[derive(Clone, Debug, PartialEq)]
pub struct OnGrid {
    /// `1 / scale`, as tract's `QuantizeLinear` computes it (an f32 reciprocal).
    to_grid: f32,
    /// The grid's step.
    scale: f32,
    /// The lowest and highest grid points in steps from zero: `−zero_point`, `255 − zero_point`.
    lo: f32,
    hi: f32,
}

// The fields are finite numbers (checked in `OnGrid::new`), so equality is an equivalence.
impl Eq for OnGrid {}

impl OnGrid {
    /// The grid of a u8 quantization with `scale` and `zero_point`; `None` for a scale that is
    /// not a finite positive number.
    pub fn new(scale: f32, zero_point: u8) -> Option<Self> {
        (scale.is_finite() && scale > 0.0).then(|| OnGrid {
            to_grid: scale.recip(),
            scale,
            lo: -f32::from(zero_point),
            hi: 255.0 - f32::from(zero_point),
        })
    }

    /// Moves every value of `xs` onto the grid: beyond its ends to the nearer end, a NaN to the
    /// grid's zero, as tract's pair does (its cast of NaN to an integer gives 0, the zero
    /// point; past 2³¹ steps its sum with the zero point overflows, which no layer's output
    /// nears).
    pub fn apply(&self, xs: &mut [f32]) {
        let (to_grid, scale, lo, hi) = (self.to_grid, self.scale, self.lo, self.hi);
        for x in xs.iter_mut() {
            let t = *x * to_grid;
            // One step beyond either end still rounds to a value that the clamp below takes
            // to the end, and keeps the sum with `ROUNDER` exact.
            let t = if t.is_nan() {
                0.0
            } else {
                t.max(lo - 1.0).min(hi + 1.0)
            };
            let q = ((t + ROUNDER) - ROUNDER).max(lo).min(hi);
            *x = q * scale;
        }
    }
}

impl ElementWiseMiniOp for OnGrid {
    fn name(&self) -> String {
        OP_TYPE.to_string()
    }

    fn eval_in_place(&self, t: &mut Tensor, _out_dt: Option<DatumType>) -> TractResult<()> {
        let mut plain = t.try_as_plain_ram_mut()?;
        self.apply(plain.as_slice_mut::<f32>()?);
        Ok(())
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "scale: {} zero_point: {}",
            self.scale, -self.lo
        )])
    }
}

/// Teaches `onnx` to read [`OP_TYPE`] nodes.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register.insert(OP_TYPE, build);
}

/// Reads an [`OP_TYPE`] node: its `scale` (float) and `zero_point` (int) attributes.
fn build(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    let scale = attr("scale").map(|a| a.f);
    let zero_point = attr("zero_point").and_then(|a| u8::try_from(a.i).ok());
    let Some(op) = scale.zip(zero_point).and_then(|(s, z)| OnGrid::new(s, z)) else {
        tract_onnx::tract_core::internal::bail!(
            "{OP_TYPE} {:?}: needs a positive `scale` and a `zero_point` in 0..=255",
            node.name
        );
    };
    Ok((ElementWiseOp(Box::new(op), None).into_hir(), vec![]))
}

/// Replaces each `QuantizeLinear` to u8 whose output is only ever dequantized again with the
/// same scale and zero point (directly, or through `Reshape` and `Flatten` nodes) by one
/// [`OP_TYPE`] node, and those `DequantizeLinear` nodes by `Identity`; returns how many pairs
/// were folded. The values every other node sees are unchanged; the tensors between the two
/// ends carry them as f32 instead of u8.
pub fn fold(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else {
        return 0;
    };
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    // A u8 quantization's scale and zero point, where both are constants of one element.
    let grid = |scale: &str, zero: &str| -> Option<(f32, u8)> {
        let z = graph.initializer.iter().find(|t| t.name == zero)?;
        if z.data_type != tract_onnx::pb::tensor_proto::DataType::Uint8 as i32 {
            return None;
        }
        let s = graph.initializer.iter().find(|t| t.name == scale)?;
        match (values(s).ok()?.as_slice(), values(z).ok()?.as_slice()) {
            (&[s], &[z]) => Some((s, z as u8)),
            _ => None,
        }
    };
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for input in &n.input {
            consumers.entry(input.as_str()).or_default().push(i);
        }
    }
    let mut plans = Vec::new();
    for (i, q) in graph.node.iter().enumerate() {
        if q.op_type != "QuantizeLinear" || !q.domain.is_empty() || q.input.len() != 3 {
            continue;
        }
        let (Some(out), Some(g)) = (q.output.first(), grid(&q.input[1], &q.input[2])) else {
            continue;
        };
        // Follow the u8 tensor to the ends that dequantize it.
        let mut ends = Vec::new();
        let mut open = vec![out.as_str()];
        let mut clean = true;
        while let Some(t) = open.pop() {
            if outputs.iter().any(|o| o == t) {
                clean = false;
                break;
            }
            for &k in consumers.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                let n = &graph.node[k];
                // The tensor must be the node's data (its first input), not a shape or scale.
                let data = n.domain.is_empty() && n.input.first().map(String::as_str) == Some(t);
                let moves = data && matches!(n.op_type.as_str(), "Reshape" | "Flatten");
                let ends_here = data
                    && n.op_type == "DequantizeLinear"
                    && n.input.len() == 3
                    && grid(&n.input[1], &n.input[2]) == Some(g);
                if moves {
                    open.extend(n.output.iter().map(String::as_str));
                } else if ends_here {
                    ends.push(k);
                } else {
                    clean = false;
                }
            }
        }
        if clean && !ends.is_empty() {
            plans.push((i, g, ends));
        }
    }
    let folded = plans.len();
    for (i, (scale, zero_point), ends) in plans {
        let q = &mut graph.node[i];
        q.input.truncate(1);
        q.op_type = OP_TYPE.to_string();
        q.domain = DOMAIN.to_string();
        q.attribute = vec![
            AttributeProto {
                name: "scale".to_string(),
                r#type: AttributeType::Float as i32,
                f: scale,
                ..Default::default()
            },
            AttributeProto {
                name: "zero_point".to_string(),
                r#type: AttributeType::Int as i32,
                i: i64::from(zero_point),
                ..Default::default()
            },
        ];
        for k in ends {
            let d = &mut graph.node[k];
            d.input.truncate(1);
            d.op_type = "Identity".to_string();
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::super::float_form::float_form;
    use super::super::float_form::tests::{default_model, ops};
    use super::*;
    use tract_onnx::tract_core::ops::quant::quantize_linear_f32_u8;

    /// What tract's `QuantizeLinear` → `DequantizeLinear` pair gives for `x`.
    fn pair(x: f32, scale: f32, zero_point: u8) -> f32 {
        let q = quantize_linear_f32_u8(x, scale.recip(), i32::from(zero_point));
        (i32::from(q) - i32::from(zero_point)) as f32 * scale
    }

    #[test]
    fn on_grid_gives_what_the_quantize_dequantize_pair_gives_bit_for_bit() {
        for (scale, zero_point) in [(0.02f32, 0u8), (0.0123, 37), (1.0 / 255.0, 128), (0.5, 255)] {
            let op = OnGrid::new(scale, zero_point).unwrap();
            // Every half step over the grid and beyond both ends, with the neighbours of each
            // half, where ties and the last bit of the multiply decide.
            let mut xs: Vec<f32> = (-700..=700)
                .flat_map(|k| {
                    let v = k as f32 * 0.5 * scale;
                    [
                        v,
                        f32::from_bits(v.to_bits().wrapping_add(1)),
                        f32::from_bits(v.to_bits().wrapping_sub(1)),
                    ]
                })
                .chain([f32::NAN, 0.0, -0.0])
                .collect();
            let want: Vec<u32> = xs
                .iter()
                .map(|&x| pair(x, scale, zero_point).to_bits())
                .collect();
            op.apply(&mut xs);
            let got: Vec<u32> = xs.iter().map(|x| x.to_bits()).collect();
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                // −0 and +0 are the same grid point.
                assert!(
                    g == w || f32::from_bits(*g) == f32::from_bits(*w),
                    "scale {scale} zero point {zero_point}, value {k}: {} against {}",
                    f32::from_bits(*g),
                    f32::from_bits(*w)
                );
            }
        }
    }

    /// The shipped default in the float form, before folding.
    fn default_float_form() -> ModelProto {
        let mut proto = default_model();
        assert_eq!(float_form(&mut proto, |w| panic!("{w}")), 3);
        proto
    }

    /// The logits of `proto` for `images` (`[N, 1, 28, 28]`, laid one after the other).
    fn logits(proto: &ModelProto, images: &[f32]) -> Vec<f32> {
        use tract_onnx::prelude::*;
        let mut onnx = tract_onnx::onnx();
        register(&mut onnx);
        let n = images.len() / 784;
        let plan = onnx
            .model_for_proto_model(proto)
            .unwrap()
            .with_input_fact(0, f32::fact([n, 1, 28, 28]).into())
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let input = Tensor::from_shape(&[n, 1, 28, 28], images).unwrap();
        let out = plan.run(tvec!(input.into_tvalue())).unwrap();
        out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn every_quantize_dequantize_pair_of_the_default_model_folds_and_the_logits_stay_bit_for_bit() {
        let unfolded = default_float_form();
        let mut folded = unfolded.clone();
        // The input's quantization, and the output of each of the three convolutions.
        assert_eq!(fold(&mut folded), 4);
        let after = ops(&folded);
        assert!(
            !after
                .iter()
                .any(|o| o == "QuantizeLinear" || o == "DequantizeLinear"),
            "{after:?}"
        );
        assert_eq!(
            after.iter().filter(|o| *o == OP_TYPE).count(),
            4,
            "{after:?}"
        );
        // Images over MNIST's normalised range: blank ground, strokes, and values between
        // (a fixed xorshift sequence, so a failure repeats).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let images: Vec<f32> = (0..16 * 784)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                match state % 3 {
                    0 => -0.4242,
                    1 => 2.8215,
                    _ => -0.4242 + u * 3.2457,
                }
            })
            .collect();
        let (a, b) = (logits(&unfolded, &images), logits(&folded, &images));
        assert_eq!(a.len(), 160);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    #[test]
    fn a_pair_whose_ends_disagree_on_the_grid_is_not_folded() {
        let mut proto = default_float_form();
        // The last DequantizeLinear (before the float Gemm) reads fc1's output with another
        // zero point: that pair is no longer a round trip and must stay.
        if let Some(g) = proto.graph.as_mut() {
            let zero = tract_onnx::pb::TensorProto {
                name: "other_zero".to_string(),
                data_type: tract_onnx::pb::tensor_proto::DataType::Uint8 as i32,
                dims: vec![],
                raw_data: vec![3],
                ..Default::default()
            };
            g.initializer.push(zero);
            let last = g
                .node
                .iter_mut()
                .rev()
                .find(|n| n.op_type == "DequantizeLinear")
                .unwrap();
            last.input[2] = "other_zero".to_string();
        }
        assert_eq!(fold(&mut proto), 3);
        let after = ops(&proto);
        assert_eq!(after.iter().filter(|o| *o == "QuantizeLinear").count(), 1);
        assert_eq!(after.iter().filter(|o| *o == "DequantizeLinear").count(), 1);
    }

    #[test]
    fn a_scale_that_is_not_positive_makes_no_grid() {
        assert!(OnGrid::new(0.0, 0).is_none());
        assert!(OnGrid::new(-1.0, 0).is_none());
        assert!(OnGrid::new(f32::NAN, 0).is_none());
    }
}

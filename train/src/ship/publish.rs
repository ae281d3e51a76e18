//! Shipping a trained model: its weights go into `models/` with a model card (Markdown), its
//! curves and confusion matrix as pictures, and an entry in the manifest `models/models.json`
//! whose accuracy is measured here, on the official test set, not copied from the run.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde_json::{json, Value};

use crate::atomic;
use crate::data::mnist::Mnist;
use crate::error::{Error, Result};
use crate::fit::checkpoint::{self, Checkpoint};
use crate::measure::evaluate::Evaluation;
use crate::measure::plot;

/// The manifest's file name inside the models folder.
pub const MANIFEST: &str = "models.json";

/// What to publish and where.
#[derive(Clone, Debug)]
pub struct Publish {
    /// The checkpoint or weights file of the run.
    pub from: PathBuf,
    /// Short name: files become `NAME.safetensors`, `NAME.md`, `NAME-*.png`.
    pub name: String,
    /// The models folder.
    pub models: PathBuf,
    /// The command that produced the run, quoted in the card.
    pub command: String,
    /// Make this the model `edge` uses when none is named.
    pub default: bool,
    /// Ship the ONNX model quantized to INT8 (see [`crate::compress::quantize`]) instead of fp32.
    pub int8: bool,
    /// The edge's confidence threshold for this model, written into its metadata.
    pub min_confidence: Option<f32>,
}

/// Publishes `p`, returning the manifest entry written.
pub fn publish(p: &Publish, data: &Mnist, device: &Device) -> Result<Value> {
    if p.name.is_empty()
        || !p
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Config(format!(
            "model name '{}': use letters, digits, - and _",
            p.name
        )));
    }
    let ckpt = checkpoint::load(&p.from, device)?;
    let (_, varmap) = ckpt.model(&p.from, device)?;
    let file = format!("{}.safetensors", p.name);
    let weights = p.models.join(&file);
    let mut header = ckpt.header.clone();
    header.dataset_sha256 = header.dataset_sha256.or(Some(data.sha256.clone()));
    checkpoint::save(&weights, &header, &varmap, None)?;
    // What was just written, handed on as a value: the weights under the header saved.
    let shipped = Checkpoint {
        header,
        tensors: checkpoint::weights(&varmap)?.into_iter().collect(),
    };
    let bytes = std::fs::metadata(&weights)
        .map_err(|e| Error::io(&weights, e))?
        .len();
    let onnx = format!("{}.onnx", p.name);
    let (exported, precision, quantization) = if p.int8 {
        let (report, how) = crate::compress::quantize::export_int8_checkpoint(
            &shipped,
            &weights,
            &p.models.join(&onnx),
            data,
            p.min_confidence,
        )?;
        let note = format!(
            "static INT8, QOperator form: per-tensor symmetric i8 weights, u8 activations, \
             {how} calibration (chosen on training images not calibrated on); fc2 in fp32"
        );
        (report, "int8", note)
    } else {
        (
            crate::onnx::export::export_checkpoint(
                &shipped,
                &weights,
                &p.models.join(&onnx),
                data,
                p.min_confidence,
            )?,
            "fp32",
            "none".to_string(),
        )
    };
    let v = &exported.verification;
    let eval = &exported.candle;
    plot::confusion(
        eval,
        &format!("{} on the MNIST test set", p.name),
        &p.models.join(format!("{}-confusion.png", p.name)),
    )?;
    if !ckpt.header.history.is_empty() {
        plot::curves(
            &ckpt.header.history,
            &p.models.join(format!("{}-curves.png", p.name)),
        )?;
    }
    let cost = ckpt.header.arch.cost();
    let entry = json!({
        "name": p.name,
        "file": onnx,
        "checkpoint": file,
        "arch": ckpt.header.arch.arch().to_string(),
        "precision": precision,
        "quantization": quantization,
        // As given on the command line, not the f32's binary expansion (0.4000000059604645).
        "min_confidence": p.min_confidence.map(|c| (f64::from(c) * 1e4).round() / 1e4),
        "accuracy": v.accuracy,
        "checkpoint_accuracy": eval.accuracy,
        "bytes": v.bytes,
        "checkpoint_bytes": bytes,
        "params": cost.params,
        "macs": cost.macs,
        "tract_latency_us": (v.latency_us * 10.0).round() / 10.0,
        "epochs": ckpt.header.epoch,
        "default": p.default,
        "card": format!("{}.md", p.name),
        "command": p.command,
    });
    write_card(p, &ckpt, eval, &entry)?;
    update_manifest(&p.models.join(MANIFEST), entry.clone(), p.default)?;
    Ok(entry)
}

fn write_card(p: &Publish, ckpt: &Checkpoint, eval: &Evaluation, entry: &Value) -> Result<()> {
    let h = &ckpt.header;
    let cost = h.arch.cost();
    let mut md = format!("# {}\n\n", p.name);
    md.push_str(&format!(
        "A {} digit classifier, as {} ONNX and as fp32 safetensors weights, for 28×28 MNIST-style images: light digit on \
         dark ground, pixels scaled to [0, 1] and normalised with mean 0.1307 and std 0.3081.\n\n",
        h.arch.arch(),
        entry["precision"].as_str().unwrap_or("fp32")
    ));
    md.push_str("| | |\n|---|---|\n");
    md.push_str(&format!(
        "| test accuracy (official 10,000 images), ONNX under tract | **{:.2}%** |\n",
        100.0 * entry["accuracy"].as_f64().unwrap_or_default()
    ));
    md.push_str(&format!(
        "| test accuracy, checkpoint under candle | {:.2}% |\n",
        100.0 * eval.accuracy
    ));
    md.push_str(&format!("| test loss | {:.4} |\n", eval.loss));
    md.push_str(&format!(
        "| parameters | {} |\n| multiply-accumulates per image | {} |\n",
        cost.params, cost.macs
    ));
    md.push_str(&format!(
        "| files | `{}` (ONNX, opset 13), {} bytes; `{}` (safetensors), {} bytes |\n",
        entry["file"].as_str().unwrap_or_default(),
        entry["bytes"],
        entry["checkpoint"].as_str().unwrap_or_default(),
        entry["checkpoint_bytes"]
    ));
    md.push_str(&format!(
        "| tract batch-1 latency (median, measured while publishing) | {} µs |\n",
        entry["tract_latency_us"]
    ));
    md.push_str(&format!("| pruning | {} |\n", h.pruning_note()));
    md.push_str(&format!(
        "| quantization | {} |\n",
        entry["quantization"].as_str().unwrap_or("none")
    ));
    if let Some(t) = p.min_confidence {
        md.push_str(&format!(
            "| edge confidence threshold (`mnist_edge.min_confidence`) | {t} |\n"
        ));
    }
    md.push_str(&format!(
        "| epochs | {} ({} optimizer steps) |\n",
        h.epoch, h.steps
    ));
    if let Some(sha) = &h.dataset_sha256 {
        md.push_str(&format!(
            "| training data | MNIST, SHA-256 of the four files' digests `{sha}` |\n"
        ));
    }
    md.push_str(&format!("| written by | {} |\n\n", h.tool));
    md.push_str("## How it was made\n\n```sh\n");
    md.push_str(&p.command);
    md.push_str("\n```\n\n");
    if let Some(t) = &h.train {
        md.push_str(&format!(
            "Settings: `--optimizer {}`, peak learning rate {}, `--schedule {}`, batch {} (`--accumulate {}`), \
             weight decay {}, seed {}, augmentation {}.\n\n",
            format!("{:?}", t.optimizer.kind).to_lowercase(),
            t.lr,
            format!("{:?}", t.schedule).to_lowercase(),
            t.batch,
            t.accumulate,
            t.optimizer.weight_decay,
            t.seed,
            match &t.augment {
                Some(a) => {
                    let mut s = format!("±{}° rotation and ±{}% shift", a.max_rotation_deg, 100.0 * a.max_shift);
                    if let Some(h) = &a.handwriting {
                        s.push_str(&format!(
                            ", ±{} slant, thicker or thinner strokes for {}% of the digits, wobble up to {} px",
                            h.max_slant,
                            100.0 * h.stroke,
                            h.wobble
                        ));
                    }
                    if let Some(st) = &a.styles {
                        s.push_str(&format!(
                            ", a crossbar on {:.0}% of the sevens and a flag on {:.0}% of the ones ({:.0}% of those with a foot)",
                            100.0 * st.chance,
                            100.0 * st.chance,
                            100.0 * st.foot
                        ));
                        if st.four > 0.0 {
                            s.push_str(&format!(
                                ", {:.0}% of the open fours closed at the top",
                                100.0 * st.four
                            ));
                        }
                    }
                    s
                }
                None => "off".into(),
            }
        ));
        if t.not_digits {
            md.push_str(
                "Also trained on the camera scenes' marks that are not digits, towards equal odds for every digit \
                 (they then stay under the edge's confidence threshold).\n\n",
            );
        }
        if let Some(d) = &t.distill {
            let images = match &d.keep {
                Some(k) => format!(
                    "The extra digits distilled from `{}` and MNIST's own images from `{}`, learning without forgetting",
                    d.teacher.display(),
                    k.display()
                ),
                None => format!("Distilled from `{}`", d.teacher.display()),
            };
            md.push_str(&format!(
                "{images} (share of the softened outputs in the loss {}, temperature {}).\n\n",
                d.weight, d.temperature
            ));
        }
    }
    md.push_str("Re-check the accuracy with:\n\n```sh\n");
    md.push_str(&format!(
        "cargo run --release -p train -- eval --checkpoint models/{}\ncargo run --release -p train -- verify --model models/{}\n```\n\n",
        entry["checkpoint"].as_str().unwrap_or_default(),
        entry["file"].as_str().unwrap_or_default()
    ));
    md.push_str("## Per class\n\n| digit | accuracy |\n|---|---|\n");
    for (d, a) in eval.per_class.iter().enumerate() {
        md.push_str(&format!("| {d} | {:.2}% |\n", 100.0 * a));
    }
    if !h.history.is_empty() {
        md.push_str("\n## Training\n\n| epoch | lr | train loss | train acc | test loss | test acc | images/s |\n|---|---|---|---|---|---|---|\n");
        for m in &h.history {
            md.push_str(&format!(
                "| {} | {:.2e} | {:.4} | {:.2}% | {:.4} | {:.2}% | {:.0} |\n",
                m.epoch,
                m.lr,
                m.train_loss,
                100.0 * m.train_accuracy,
                m.test_loss,
                100.0 * m.test_accuracy,
                m.images_per_s
            ));
        }
        md.push_str(&format!("\n![curves]({}-curves.png)\n", p.name));
    }
    md.push_str(&format!(
        "\n![confusion matrix]({}-confusion.png)\n",
        p.name
    ));
    atomic::write(&p.models.join(format!("{}.md", p.name)), md.as_bytes())
}

/// Replaces the entry of the same name in the manifest (or appends it), keeping the others;
/// a new default takes the flag from the old one.
/// The entries of the manifest at `path`; none when there is no manifest yet.
fn entries(path: &Path) -> Result<Vec<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::data(path, format!("not a JSON array ({e})"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The manifest entry of the model called `name`, if the manifest at `path` has one.
pub fn entry(path: &Path, name: &str) -> Result<Option<Value>> {
    Ok(entries(path)?.into_iter().find(|e| e["name"] == name))
}

fn update_manifest(path: &Path, entry: Value, default: bool) -> Result<()> {
    let mut entries = entries(path)?;
    if default {
        for e in entries.iter_mut() {
            e["default"] = json!(false);
        }
    }
    match entries.iter_mut().find(|e| e["name"] == entry["name"]) {
        Some(slot) => *slot = entry,
        None => entries.push(entry),
    }
    let mut text =
        serde_json::to_string_pretty(&entries).map_err(|e| Error::data(path, e.to_string()))?;
    text.push('\n');
    atomic::write(path, text.as_bytes())
}

//! The commands from a trained network to the boards: `prune`, `quantize`, `export`, `verify`,
//! `latency`, `publish`, `pipeline`, and `archs` (what each architecture costs).

use anyhow::{Context, Result};

use train::fit::checkpoint;
use train::measure::evaluate::evaluate;
use train::model::Arch;
use train::{onnx::export, onnx::verify, ship::publish};

use crate::args::*;
use crate::load_data;

/// `train prune`.
pub fn prune(
    PruneArgs {
        data,
        checkpoint: from,
        keep,
        out,
    }: PruneArgs,
) -> Result<()> {
    let device = candle_core::Device::Cpu;
    let ckpt = checkpoint::load(&from, &device)?;
    let pruned = train::compress::prune::prune(&ckpt, keep, &device)?;
    let (model, varmap) = pruned.model(&out, &device)?;
    checkpoint::save(&out, &pruned.header, &varmap, None)?;
    let mnist = load_data(data)?;
    let eval = evaluate(&model, &mnist.test, &device, 500)?;
    let (before, after) = (ckpt.header.arch.cost(), pruned.header.arch.cost());
    edge::say!(
        "{}: {:?}, {} parameters ({:.0}%), {} MACs ({:.0}%), {:.2}% before fine-tuning",
        out.display(),
        pruned.header.arch,
        after.params,
        100.0 * after.params as f64 / before.params as f64,
        after.macs,
        100.0 * after.macs as f64 / before.macs as f64,
        100.0 * eval.accuracy
    );
    Ok(())
}

/// `train quantize`.
pub fn quantize(
    QuantizeArgs {
        data,
        checkpoint: from,
        out,
    }: QuantizeArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let (report, how) = train::compress::quantize::export_int8(&from, &out, &mnist, None)?;
    let v = &report.verification;
    edge::say!(
        "{}: INT8 ({how} calibration), {} bytes, tract accuracy {:.2}% (fp32 checkpoint {:.2}%), tract batch-1 {:.0} µs",
        out.display(),
        v.bytes,
        100.0 * v.accuracy,
        100.0 * report.candle_accuracy,
        v.latency_us
    );
    Ok(())
}

/// `train export`.
pub fn export(
    ExportArgs {
        checkpoint,
        out,
        data,
        json,
    }: ExportArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let report = export::export(&checkpoint, &out, &mnist, None)?;
    if json {
        edge::say!("{}", serde_json::to_string(&report)?);
    } else {
        let v = &report.verification;
        edge::say!(
            "{}: {} bytes, {} parameters",
            out.display(),
            v.bytes,
            v.params
        );
        edge::say!(
            "  tract accuracy {:.2}% (candle {:.2}%), logits within {:.1e} of candle's",
            100.0 * v.accuracy,
            100.0 * report.candle_accuracy,
            v.max_logit_diff.unwrap_or(0.0)
        );
        edge::say!("  tract batch-1 latency {:.0} µs (median)", v.latency_us);
    }
    Ok(())
}

/// `train verify`.
pub fn verify(
    VerifyArgs {
        model,
        predictions,
        data,
        json,
    }: VerifyArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let bytes = std::fs::read(&model).with_context(|| model.display().to_string())?;
    let v = verify::verify(&bytes, &model, &mnist.test, None)?;
    if let Some(path) = predictions {
        let line: String = v.predictions.iter().map(|p| char::from(b'0' + p)).collect();
        std::fs::write(&path, line + "\n").with_context(|| path.display().to_string())?;
    }
    if json {
        edge::say!("{}", serde_json::to_string(&v)?);
    } else {
        edge::say!(
            "{}: {} bytes, {} parameters",
            model.display(),
            v.bytes,
            v.params
        );
        edge::say!(
            "  tract accuracy {:.2}% on {} test images",
            100.0 * v.accuracy,
            v.count
        );
        edge::say!("  tract batch-1 latency {:.0} µs (median)", v.latency_us);
    }
    Ok(())
}

/// `train latency`.
pub fn latency(
    LatencyArgs {
        models,
        rounds,
        onnxruntime,
        json,
    }: LatencyArgs,
) -> Result<()> {
    let report = train::onnx::latency::run(&models, rounds, onnxruntime.as_deref())?;
    if json {
        edge::say!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    edge::say!(
        "batch-1 latency, median of {} rounds of 200 runs, one thread{}",
        report.rounds,
        report
            .onnxruntime
            .as_ref()
            .map(|v| format!("; onnxruntime {v}"))
            .unwrap_or_default()
    );
    edge::say!(
        "{:<34} {:>9} {:>10} {:>9} {:>13} {:>13}",
        "model",
        "bytes",
        "tract µs",
        "vs first",
        "onnxrt µs",
        "vs first ort"
    );
    for r in &report.rows {
        edge::say!(
            "{:<34} {:>9} {:>10.1} {:>8.2}× {:>13} {:>13}",
            r.model.display(),
            r.bytes,
            r.tract_us,
            r.tract_vs_first,
            r.onnxruntime_us
                .map(|u| format!("{u:.1}"))
                .unwrap_or_default(),
            r.tract_vs_first_onnxruntime
                .map(|x| format!("{x:.2}×"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `train publish`.
pub fn publish(
    PublishArgs {
        from,
        name,
        models,
        command,
        default,
        int8,
        min_confidence,
        data,
    }: PublishArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let p = publish::Publish {
        from,
        name,
        models,
        command,
        default,
        int8,
        min_confidence,
    };
    let entry = publish::publish(&p, &mnist, &candle_core::Device::Cpu)?;
    edge::say!("{}", serde_json::to_string_pretty(&entry)?);
    Ok(())
}

/// `train pipeline`.
pub fn pipeline(
    PipelineArgs {
        data,
        out,
        arch,
        width,
        epochs,
        scenes,
        cam_epochs,
        keep,
        pruned_epochs,
        distill_weight,
        not_digits,
        train_limit,
        min_confidence,
        json,
    }: PipelineArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let cfg = train::ship::pipeline::PipelineConfig {
        out,
        arch,
        width,
        epochs,
        scenes,
        cam_epochs,
        keep,
        pruned_epochs,
        distill_weight,
        not_digits,
        train_limit,
        min_confidence,
    };
    let stages =
        train::ship::pipeline::run(&cfg, &mnist, std::sync::Arc::new(crate::progress::Bars))?;
    if json {
        edge::say!("{}", serde_json::to_string(&stages)?);
    } else {
        edge::say!(
            "{:<28} {:>9} {:>9} {:>10} {:>8}  output",
            "stage",
            "accuracy",
            "params",
            "bytes",
            "seconds"
        );
        for s in &stages {
            edge::say!(
                "{:<28} {:>9} {:>9} {:>10} {:>8}  {}{}",
                s.name,
                s.accuracy
                    .map(|a| format!("{:.2}%", 100.0 * a))
                    .unwrap_or_default(),
                s.params.map(|p| p.to_string()).unwrap_or_default(),
                s.bytes.map(|b| b.to_string()).unwrap_or_default(),
                format!("{:.0}", s.seconds),
                s.output.display(),
                if s.skipped { " (done before)" } else { "" }
            );
        }
    }
    Ok(())
}

/// `train archs`.
pub fn archs(ArchsArgs { json }: ArchsArgs) -> Result<()> {
    let costs: Vec<_> = <Arch as clap::ValueEnum>::value_variants()
        .iter()
        .map(|a| (a.to_string(), a.config().cost()))
        .collect();
    if json {
        let v: serde_json::Map<String, serde_json::Value> = costs
            .into_iter()
            .map(|(a, c)| Ok((a, serde_json::to_value(c)?)))
            .collect::<Result<_>>()?;
        edge::say!("{}", serde_json::Value::Object(v));
    } else {
        for (arch, cost) in costs {
            edge::say!(
                "{arch}: {} parameters, {} MACs per image",
                cost.params,
                cost.macs
            );
            for l in cost.layers {
                edge::say!(
                    "  {:<10} {:>8} params {:>10} MACs",
                    l.name,
                    l.params,
                    l.macs
                );
            }
        }
    }
    Ok(())
}

//! Choosing where to compute: `cpu`, `cuda` or `cuda:N`. A CUDA build on a machine without a
//! usable GPU falls back to the CPU with a warning instead of failing.

use candle_core::Device;

use crate::error::{Error, Result};

/// Parses `spec` and opens the device, falling back to the CPU when CUDA is unusable.
pub fn open(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = match spec.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                Error::Config(format!("device '{spec}': expected cpu, cuda or cuda:N"))
            })?,
        None => {
            return Err(Error::Config(format!(
                "device '{spec}': expected cpu, cuda or cuda:N"
            )))
        }
    };
    open_cuda(ordinal)
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Device> {
    match Device::new_cuda(ordinal) {
        Ok(device) => Ok(device),
        Err(e) => {
            tracing::warn!(
                "CUDA device {ordinal} is not usable ({e}); training on the CPU instead"
            );
            Ok(Device::Cpu)
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> Result<Device> {
    Err(Error::Config(
        "this build has no CUDA support; rebuild with `cargo build --release -p train --features cuda`".into(),
    ))
}

/// True when `err` is a GPU out-of-memory failure, which training answers by halving the
/// micro-batch.
pub fn is_out_of_memory(err: &candle_core::Error) -> bool {
    let text = err.to_string().to_ascii_lowercase();
    text.contains("out_of_memory") || text.contains("out of memory")
}

/// A short name for logs and reports.
pub fn name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda".into(),
        Device::Metal(_) => "metal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert!(matches!(open("cpu").unwrap(), Device::Cpu));
        assert!(open("tpu")
            .unwrap_err()
            .to_string()
            .contains("expected cpu, cuda or cuda:N"));
        assert!(open("cuda:x").is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(open("cuda:0")
            .unwrap_err()
            .to_string()
            .contains("--features cuda"));
    }

    #[test]
    fn recognises_out_of_memory() {
        let e = candle_core::Error::Msg(
            "DriverError(CUDA_ERROR_OUT_OF_MEMORY, \"out of memory\")".into(),
        );
        assert!(is_out_of_memory(&e));
        assert!(!is_out_of_memory(&candle_core::Error::Msg(
            "shape mismatch".into()
        )));
    }
}

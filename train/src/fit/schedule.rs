//! Learning-rate schedules, as a function of the optimizer step.

use serde::{Deserialize, Serialize};

/// The schedules `train --schedule` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Linear warm-up over the first 5% of steps, then cosine decay to 1% of the base.
    Cosine,
    /// One-cycle: warm-up from 4% to 100% over the first 20% of steps, then cosine decay to
    /// 0.1% of the base.
    Onecycle,
}

impl Schedule {
    /// The learning rate at `step` (0-based) of `total` steps with base rate `base`.
    pub fn rate(self, base: f64, step: u64, total: u64) -> f64 {
        let total = total.max(1) as f64;
        let p = (step as f64 / total).clamp(0.0, 1.0);
        let cosine = |from: f64, to: f64, q: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * q).cos())
        };
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let warm = 0.05;
                if p < warm {
                    base * (step as f64 + 1.0) / (warm * total)
                } else {
                    cosine(base, base * 0.01, (p - warm) / (1.0 - warm))
                }
            }
            Schedule::Onecycle => {
                let warm = 0.2;
                if p < warm {
                    base * (0.04 + 0.96 * p / warm)
                } else {
                    cosine(base, base * 0.001, (p - warm) / (1.0 - warm))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onecycle_rises_peaks_and_falls() {
        let s = Schedule::Onecycle;
        assert!((s.rate(1.0, 0, 100) - 0.04).abs() < 1e-9);
        assert!((s.rate(1.0, 20, 100) - 1.0).abs() < 1e-9);
        assert!(s.rate(1.0, 60, 100) < 1.0 && s.rate(1.0, 60, 100) > s.rate(1.0, 90, 100));
        assert!((s.rate(1.0, 100, 100) - 0.001).abs() < 1e-9);
    }

    #[test]
    fn cosine_and_constant() {
        assert_eq!(Schedule::Constant.rate(0.3, 77, 100), 0.3);
        let c = Schedule::Cosine;
        assert!(c.rate(1.0, 0, 100) < 0.5);
        assert!((c.rate(1.0, 5, 100) - 1.0).abs() < 1e-9);
        assert!((c.rate(1.0, 100, 100) - 0.01).abs() < 1e-9);
    }
}

//! The CPU a figure was measured on: its model name and the widest SIMD instructions this
//! process can use, printed beside every benchmark (machines differ, so a figure without its
//! CPU says little).

use serde::Serialize;

/// Largest allocation glibc serves from its heap rather than from pages mapped for it alone
/// (16 MiB: the most a 32-bit board's glibc takes), and the free memory it keeps at the heap's
/// top rather than giving back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEEP: (i32, i32) = (16 << 20, 256 << 20);

/// Keeps the memory a frame frees for the next frame: reading a frame allocates frame-sized
/// maps, masks and labels and frees them, and glibc hands such blocks back to the kernel
/// (unmapped, or trimmed off the heap's top), so every frame paid again for fresh zeroed
/// pages: a tenth of a page frame's time went to page faults. Elsewhere it does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt(3) takes two integers and only sets the allocator's thresholds; it is
    // called before the program has started any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, KEEP.0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP.1);
    }
}

/// The CPU this process runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// Model name as the kernel reports it (`/proc/cpuinfo`), or `unknown`.
    pub model: String,
    /// The widest vector instructions detected at run time (`avx512`, `avx2+fma`, `neon`, …).
    pub simd: String,
    /// Logical CPUs this process may use.
    pub threads: usize,
}

impl Cpu {
    /// Detects the CPU of this machine.
    pub fn detect() -> Cpu {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Cpu {
            model: model_name(&info),
            simd: simd().to_string(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {} threads)",
            self.model, self.simd, self.threads
        )
    }
}

/// The model name in a `/proc/cpuinfo` text: the board a Raspberry Pi's kernel names
/// (`Model`), x86's `model name` with its family and model numbers, or an Arm core's
/// `CPU part`.
fn model_name(info: &str) -> String {
    let field = |key: &str| {
        info.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    };
    // x86 CPUs of one brand string differ by generation: the family and model numbers tell
    // them apart (family 6 model 106 is an Ice Lake server, model 207 an Emerald Rapids).
    let x86 = field("model name").map(|name| match (field("cpu family"), field("model")) {
        (Some(f), Some(m)) => format!("{name}, family {f} model {m}"),
        _ => name,
    });
    // A Raspberry Pi's kernel names the board (`Model`), which says more than its cores'.
    field("Model")
        .or(x86)
        .or_else(|| field("CPU part").map(|p| format!("Arm CPU part {p}")))
        .unwrap_or_else(|| "unknown".into())
}

/// The widest SIMD level detected at run time.
fn simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            if std::arch::is_x86_feature_detected!("avx512vnni") {
                return "avx512+vnni";
            }
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2+fma";
        }
        if std::arch::is_x86_feature_detected!("sse4.1") {
            return "sse4.1";
        }
        "sse2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("i8mm") {
            return "neon+i8mm";
        }
        if std::arch::is_aarch64_feature_detected!("dotprod") {
            return "neon+dotprod";
        }
        "neon"
    }
    #[cfg(all(target_arch = "arm", target_feature = "neon"))]
    {
        "neon"
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        all(target_arch = "arm", target_feature = "neon")
    )))]
    {
        "none detected"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_name_is_read_from_x86_and_arm_cpuinfo() {
        let x86 = "processor\t: 0\ncpu family\t: 6\nmodel\t\t: 106\nmodel name\t: Intel(R) Xeon(R) Processor @ 2.80GHz\n";
        assert_eq!(
            model_name(x86),
            "Intel(R) Xeon(R) Processor @ 2.80GHz, family 6 model 106"
        );
        let pi = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(model_name(pi), "Raspberry Pi 4 Model B Rev 1.4");
        let jetson = "processor\t: 0\nCPU part\t: 0xd42\n";
        assert_eq!(model_name(jetson), "Arm CPU part 0xd42");
        assert_eq!(model_name(""), "unknown");
    }
}

//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edge::report::FrameReport;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The sample frames shipped with the edge.
pub fn samples() -> PathBuf {
    workspace().join("edge/samples")
}

/// An `edge` command run from the workspace root, logs at warn.
///
/// A cross-built suite runs the binary under `EDGE_TEST_RUNNER` (for example
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`), as cargo's `runner` runs the tests themselves.
pub fn edge() -> Command {
    let binary = env!("CARGO_BIN_EXE_edge");
    let runner = std::env::var("EDGE_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(binary);
            cmd
        }
        None => Command::new(binary),
    };
    cmd.current_dir(workspace()).env("RUST_LOG", "warn");
    cmd
}

/// Runs `cmd` and returns its output, whatever its status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("could not start the edge binary")
}

/// Runs `cmd`, requires success, returns its JSON lines parsed.
pub fn reports(cmd: &mut Command) -> Vec<FrameReport> {
    reports_of(&run(cmd))
}

/// The JSON lines of a finished run, which must have succeeded.
pub fn reports_of(out: &Output) -> Vec<FrameReport> {
    assert!(
        out.status.success(),
        "edge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a frame report ({e}): {l}"))
        })
        .collect()
}

/// Standard error of a failed run, which must be exactly one line.
pub fn one_line_error(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(!out.status.success(), "expected a failure");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    err
}

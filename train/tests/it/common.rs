//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The MNIST folder the tests read (see `edge/tests/support/mnist.rs`): fetched by this
/// crate's binary when a fresh clone has none.
pub fn mnist_dir() -> PathBuf {
    crate::mnist_support::mnist_dir(&workspace(), Path::new(env!("CARGO_BIN_EXE_train")))
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A `train` command with MNIST_DIR set and logs quiet unless asked for.
pub fn train() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_train"));
    cmd.env("MNIST_DIR", mnist_dir()).env("RUST_LOG", "warn");
    cmd
}

/// Runs `cmd` and returns its output, whatever its status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("could not start the train binary")
}

/// Runs `cmd`, requires success, returns standard output.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `cmd`, requires failure, returns the last line of standard error.
pub fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(!out.status.success(), "command should have failed");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("error: "), "no error line: {stderr}");
    last
}

//! The MNIST folder the integration tests of both crates read (this file is included by path
//! in each): `MNIST_DIR` when set (CI), else the workspace's `data/mnist`, fetched there once
//! by `train fetch` (its mirrors, `MNIST_MIRROR` first, and its SHA-256 checks) when it does
//! not hold MNIST, as on a fresh clone. A lock file keeps parallel test processes from
//! fetching it twice.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The four official files, gzipped or not.
const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn holds_mnist(dir: &Path) -> bool {
    FILES
        .iter()
        .all(|f| dir.join(f).is_file() || dir.join(format!("{f}.gz")).is_file())
}

/// The MNIST folder; `train` is the `train` binary that fetches it when it is missing.
pub fn mnist_dir(workspace: &Path, train: &Path) -> PathBuf {
    let given = std::env::var_os("MNIST_DIR").map(PathBuf::from);
    mnist_dir_in(workspace, given, |dir| {
        assert!(
            train.is_file(),
            "no MNIST in {} and no train binary at {} to fetch it: run `cargo test --workspace`, \
             `cargo run -p train -- fetch`, or set MNIST_DIR",
            dir.display(),
            train.display()
        );
        let mut cmd = Command::new(train);
        cmd.arg("fetch").arg("--data").arg(dir);
        cmd
    })
}

/// `given` when set, else `workspace/data/mnist`, filled once by the command `fetch` makes
/// for that folder when it does not hold MNIST.
pub fn mnist_dir_in(
    workspace: &Path,
    given: Option<PathBuf>,
    fetch: impl FnOnce(&Path) -> Command,
) -> PathBuf {
    if let Some(dir) = given {
        return dir;
    }
    let dir = workspace.join("data/mnist");
    if holds_mnist(&dir) {
        return dir;
    }
    std::fs::create_dir_all(&dir).expect("creating data/mnist");
    let lock = std::fs::File::create(workspace.join("data/.fetch.lock")).expect("lock file");
    lock.lock().expect("locking data/.fetch.lock");
    if !holds_mnist(&dir) {
        let out = fetch(&dir).output().expect("starting train fetch");
        assert!(
            out.status.success(),
            "fetching MNIST into {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    dir
}

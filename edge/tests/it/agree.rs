//! `edge mnist`: the shipped model on the official test digits, and agreement between runs
//! (how a cross build is checked against the laptop's answers, issue 5).

use std::path::{Path, PathBuf};

use crate::common::{edge, one_line_error, run, workspace};

/// The MNIST files (see `support/mnist.rs`), fetched by the workspace's `train` binary when
/// a fresh clone has none: `cargo test --workspace` builds it beside this test binary.
pub(crate) fn mnist_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let train = profile.join(format!("train{}", std::env::consts::EXE_SUFFIX));
    crate::mnist_support::mnist_dir(&workspace(), &train)
}

/// `edge mnist --json --data MNIST FLAG FILE` with the default model; must succeed.
fn mnist_json(flag: &str, file: &std::path::Path) -> serde_json::Value {
    let out = run(edge()
        .args(["mnist", "--json", "--data"])
        .arg(mnist_dir())
        .arg(flag)
        .arg(file));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn issue5_the_default_model_agrees_with_its_own_logits_and_catches_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let logits = dir.path().join("logits.txt");
    let v = mnist_json("--logits", &logits);
    assert_eq!(v["images"], 10_000);
    // The shipped default is the pruned INT8 model: 99.32% on the official test set.
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.99, "{accuracy}");

    // Compared with itself: same predictions, same logits.
    let v = mnist_json("--compare", &logits);
    assert_eq!(v["agreement"]["predictions_differ"], 0);
    assert!(v["agreement"]["max_logit_diff"].as_f64().unwrap() < 1e-9);

    // A reference whose first image has another prediction and shifted logits fails the run.
    let text = std::fs::read_to_string(&logits).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut words: Vec<String> = first.split(' ').map(str::to_string).collect();
    words[0] = ((words[0].parse::<u8>().unwrap() + 1) % 10).to_string();
    words[1] = (words[1].parse::<f32>().unwrap() + 0.5).to_string();
    let altered = dir.path().join("altered.txt");
    std::fs::write(&altered, format!("{}\n{rest}", words.join(" "))).unwrap();
    let err = one_line_error(
        edge()
            .args(["mnist", "--data"])
            .arg(mnist_dir())
            .arg("--compare")
            .arg(&altered),
    );
    assert!(
        err.contains("altered.txt: 1 predictions differ and logits are up to 5e-1 apart"),
        "{err}"
    );
}

#[test]
fn issue5_missing_mnist_is_a_one_line_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = one_line_error(edge().args(["mnist", "--data"]).arg(dir.path()));
    assert!(
        err.contains("t10k-images-idx3-ubyte: missing (nor is t10k-images-idx3-ubyte.gz there)"),
        "{err}"
    );
}

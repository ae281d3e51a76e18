//! Bad input gets a one-line error naming the file and what is wrong.

use std::fs;

use crate::common::{fails, mnist_dir, train};

fn idx(magic: [u8; 4], dims: &[u32], body_len: usize) -> Vec<u8> {
    let mut v = magic.to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(vec![1u8; body_len]);
    v
}

/// A data folder with small, well-formed files: 5 training and 3 test digits.
fn small_data(dir: &std::path::Path) {
    fs::write(
        dir.join("train-images-idx3-ubyte"),
        idx([0, 0, 8, 3], &[5, 28, 28], 5 * 784),
    )
    .unwrap();
    fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx([0, 0, 8, 1], &[5], 5),
    )
    .unwrap();
    fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        idx([0, 0, 8, 3], &[3, 28, 28], 3 * 784),
    )
    .unwrap();
    fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        idx([0, 0, 8, 1], &[3], 3),
    )
    .unwrap();
}

/// The error line of a one-epoch training run on the data in `dir`.
fn training_error(dir: &std::path::Path) -> String {
    fails(train().args(["train", "--epochs", "1", "--data"]).arg(dir))
}

#[test]
fn issue2_missing_data_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let line = training_error(dir.path());
    assert!(line.contains("train-images-idx3-ubyte: missing"), "{line}");
    assert!(line.contains("train fetch"), "{line}");
}

#[test]
fn issue2_truncated_gzip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        let gz = fs::read(mnist_dir().join(format!("{name}.gz"))).unwrap();
        let keep = if name == "t10k-images-idx3-ubyte" {
            gz.len() / 2
        } else {
            gz.len()
        };
        fs::write(dir.path().join(format!("{name}.gz")), &gz[..keep]).unwrap();
    }
    let line = training_error(dir.path());
    assert!(
        line.contains("t10k-images-idx3-ubyte.gz: truncated or corrupt gzip"),
        "{line}"
    );
}

#[test]
fn issue2_images_and_labels_of_different_lengths() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx([0, 0, 8, 1], &[4], 4),
    )
    .unwrap();
    let line = training_error(dir.path());
    assert!(
        line.contains("t10k-labels-idx1-ubyte: holds 4 labels but"),
        "{line}"
    );
    assert!(line.contains("holds 3 images"), "{line}");
}

#[test]
fn issue2_labels_file_in_place_of_images() {
    let dir = tempfile::tempdir().unwrap();
    small_data(dir.path());
    fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        idx([0, 0, 8, 1], &[5], 5),
    )
    .unwrap();
    let line = training_error(dir.path());
    assert!(
        line.contains("train-images-idx3-ubyte: not an IDX images file"),
        "{line}"
    );
}

#[test]
fn issue2_bad_checkpoints_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    let line = fails(train().arg("eval").arg("--checkpoint").arg(&missing));
    assert!(line.contains("nope.safetensors: No such file"), "{line}");
    let text = dir.path().join("notes.safetensors");
    fs::write(&text, "hello, this is not a model").unwrap();
    let line = fails(train().arg("eval").arg("--checkpoint").arg(&text));
    assert!(
        line.contains("notes.safetensors: not a safetensors file"),
        "{line}"
    );
}

#[test]
fn issue2_cuda_without_cuda_support_says_how_to_get_it() {
    if cfg!(feature = "cuda") {
        return;
    }
    let line = fails(train().args(["bench", "--device", "cuda", "--steps", "1"]));
    assert!(line.contains("--features cuda"), "{line}");
}

#[test]
fn issue2_existing_run_is_not_overwritten_without_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    small_data(data.path());
    let args = ["train", "--epochs", "1", "--batch", "4", "--no-augment"];
    crate::common::ok(
        train()
            .args(args)
            .arg("--data")
            .arg(data.path())
            .arg("--out")
            .arg(dir.path()),
    );
    let line = fails(
        train()
            .args(args)
            .arg("--data")
            .arg(data.path())
            .arg("--out")
            .arg(dir.path()),
    );
    assert!(
        line.contains("already holds a checkpoint; pass --resume"),
        "{line}"
    );
}

#[test]
fn issue4_an_io_error_is_said_once() {
    let err = fails(
        train()
            .args(["prune", "--checkpoint", "no-such.safetensors", "--out"])
            .arg(std::env::temp_dir().join("never.safetensors")),
    );
    assert!(err.contains("no-such.safetensors: "), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// A python that has only its standard library, whatever this machine's python3 has
/// installed (`-I -S`: no site-packages, no user paths), so the tests of a python without
/// PyTorch or onnxruntime run everywhere instead of being skipped where python3 has them.
fn bare_python(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("python-bare");
    std::fs::write(&path, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn issue6_bench_with_a_python_without_torch_says_so_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let python = bare_python(dir.path());
    let line = fails(
        train()
            .args(["bench", "--steps", "1", "--repeats", "1", "--warmup", "0"])
            .arg("--pytorch")
            .arg(&python),
    );
    assert!(line.contains("python-bare"), "{line}");
    assert!(line.contains("is torch installed"), "{line}");
    let missing = fails(train().args([
        "bench",
        "--steps",
        "1",
        "--repeats",
        "1",
        "--pytorch",
        "/nonexistent/python",
    ]));
    assert!(missing.contains("/nonexistent/python"), "{missing}");
}

#[test]
fn issue3_latency_with_a_python_without_onnxruntime_says_so_in_one_line() {
    let model = crate::common::workspace().join("models/strided-pages-int8.onnx");
    let dir = tempfile::tempdir().unwrap();
    let python = bare_python(dir.path());
    let line = fails(
        train()
            .args(["latency", "--rounds", "1", "-m"])
            .arg(&model)
            .arg("--onnxruntime")
            .arg(&python),
    );
    assert!(line.contains("is onnxruntime installed"), "{line}");
    let line = fails(train().args(["latency", "-m", "Cargo.toml"]));
    assert!(line.contains("Cargo.toml"), "{line}");
}

#[test]
fn issue15_a_closed_pipe_ends_archs_quietly() {
    let mut child = train()
        .arg("archs")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("panicked"),
        "{}: {err}",
        out.status
    );
}

/// `train train` of one strided epoch on `images` training images into `out`.
fn one_epoch(images: usize, out: &std::path::Path) -> std::process::Command {
    let mut cmd = train();
    cmd.args([
        "train",
        "--arch",
        "strided",
        "--epochs",
        "1",
        "--train-limit",
    ])
    .arg(images.to_string())
    .arg("--out")
    .arg(out);
    cmd
}

#[test]
fn issue15_a_run_with_no_training_images_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let line = fails(&mut one_epoch(0, &out));
    assert!(line.contains("no training images"), "{line}");
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn issue15_an_out_folder_that_is_a_file_is_found_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let out = crate::common::run(one_epoch(2000, &file).env("RUST_LOG", "info"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("a-file"),
        "{err}"
    );
    // Refused before any training, not after the first epoch.
    assert!(!err.contains("epoch 1/1"), "{err}");
}

/// `--min-confidence` is checked by the command line of `publish` and `pipeline` alike (one
/// parser, `edge::contract::parse_probability`, shared with `edge run`).
#[test]
fn issue17_a_confidence_threshold_outside_0_to_1_is_refused_by_publish_and_pipeline() {
    for sub in [
        &["publish", "--from", "x.safetensors", "--name", "x"][..],
        &["pipeline"][..],
    ] {
        let out = crate::common::run(train().args(sub).args(["--min-confidence", "1.5"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub:?}");
        assert!(
            err.contains("'1.5' is not a probability from 0 to 1"),
            "{err}"
        );
    }
}

/// `--keep` (MNIST's images distilled from a network of their own) reaches the trainer: a run
/// with it trains and says whom each kind of image follows; a missing `--keep` checkpoint is
/// said in one line naming it, and no model is written.
#[test]
fn a_keep_checkpoint_is_loaded_and_a_missing_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let seed = crate::common::workspace().join("models/seed.safetensors");
    let out = dir.path().join("run");
    let ran = crate::common::run(
        one_epoch(200, &out)
            .arg("--teacher")
            .arg(&seed)
            .arg("--keep")
            .arg(&seed)
            .env("RUST_LOG", "info"),
    );
    let err = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{err}");
    assert!(err.contains("and MNIST's from"), "{err}");
    assert!(out.join("model.safetensors").exists());
    let gone = dir.path().join("gone.safetensors");
    let out = dir.path().join("run-gone");
    let line = fails(
        one_epoch(200, &out)
            .arg("--teacher")
            .arg(&seed)
            .arg("--keep")
            .arg(&gone),
    );
    assert!(line.contains("gone.safetensors"), "{line}");
    assert!(!out.join("model.safetensors").exists());
}

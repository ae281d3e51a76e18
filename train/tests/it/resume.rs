//! Training on real MNIST: outputs, `kill -9` mid-epoch and `--resume`, reproducibility.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{ok, train};

const ARGS: [&str; 9] = [
    "train",
    "--arch",
    "seed",
    "--epochs",
    "3",
    "--train-limit",
    "1500",
    "--test-limit",
    "500",
];

fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn issue2_kill_9_mid_epoch_then_resume_equals_an_uninterrupted_run() {
    let whole = tempfile::tempdir().unwrap();
    ok(train().args(ARGS).arg("--out").arg(whole.path()));
    let reference = metrics(whole.path());
    assert_eq!(reference.len(), 3);
    for file in [
        "checkpoint.safetensors",
        "model.safetensors",
        "metrics.csv",
        "curves.png",
        "confusion.png",
    ] {
        assert!(whole.path().join(file).is_file(), "{file} is missing");
    }
    let last = reference[2]["test_accuracy"].as_f64().unwrap();
    assert!(
        last > 0.85,
        "1500 images, 3 epochs should reach 85%, got {last}"
    );

    let broken = tempfile::tempdir().unwrap();
    let mut child = train()
        .args(ARGS)
        .arg("--out")
        .arg(broken.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // metrics.json is written after the checkpoint (the pictures follow it): once it exists,
    // epoch 1's checkpoint is complete and the kill lands after it.
    let epoch_done = broken.path().join("metrics.json");
    let started = Instant::now();
    while !epoch_done.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no epoch finished after 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done = metrics(broken.path()).len();
    assert!(done < 3, "the run finished before it could be killed");

    ok(train()
        .args(ARGS)
        .arg("--out")
        .arg(broken.path())
        .arg("--resume"));
    let resumed = metrics(broken.path());
    assert_eq!(resumed.len(), 3);
    for (a, b) in reference.iter().zip(&resumed) {
        for key in ["train_loss", "test_loss", "test_accuracy"] {
            let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!(
                (x - y).abs() < 1e-6,
                "epoch {}: {key} {x} vs {y}",
                a["epoch"]
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(broken.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.len() <= 1,
        "temporary files pile up: {leftovers:?}"
    );
}

#[test]
fn issue2_eval_json_has_accuracy_and_per_class() {
    let dir = tempfile::tempdir().unwrap();
    ok(train()
        .args([
            "train",
            "--arch",
            "light",
            "--epochs",
            "1",
            "--train-limit",
            "2000",
            "--test-limit",
            "200",
        ])
        .args([
            "--optimizer",
            "sgd",
            "--accumulate",
            "4",
            "--no-augment",
            "--out",
        ])
        .arg(dir.path()));
    let png = dir.path().join("eval-confusion.png");
    let out = ok(train()
        .arg("eval")
        .arg("--checkpoint")
        .arg(dir.path().join("model.safetensors"))
        .arg("--json")
        .arg("--confusion")
        .arg(&png));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.5 && acc <= 1.0, "{acc}");
    assert_eq!(v["count"], 10_000);
    assert_eq!(v["arch"], "light");
    let per_class = v["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 10);
    let mean: f64 = per_class.iter().map(|p| p.as_f64().unwrap()).sum::<f64>() / 10.0;
    assert!(
        (mean - acc).abs() < 0.05,
        "per-class accuracies {per_class:?} do not average near {acc}"
    );
    assert!(image::open(&png).unwrap().width() > 400);
}

/// A preempted pod gets SIGTERM: `train` stops at once with the usual status 143 (as the
/// first process of a container it once ignored SIGTERM until SIGKILL), and the run resumes
/// from the checkpoint it left.
#[test]
fn issue19_sigterm_stops_training_and_the_run_resumes() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Ten short epochs: the signal lands while later ones still run, and the resumed run
    // (which keeps the checkpoint's settings) finishes them in seconds.
    let args = || {
        let mut cmd = crate::common::train();
        cmd.args([
            "train",
            "--arch",
            "strided",
            "--train-limit",
            "1000",
            "--test-limit",
            "500",
            "--epochs",
            "10",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--resume");
        cmd
    };
    let mut child = args().spawn().unwrap();
    let checkpoint = out.join("checkpoint.safetensors");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(checkpoint.exists(), "no checkpoint after 120 s");
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(10));
    // The same command carries on from the epochs already done, to the tenth.
    let stderr =
        String::from_utf8(crate::common::run(args().env("RUST_LOG", "info")).stderr).unwrap();
    assert!(stderr.contains("resuming"), "{stderr}");
    let text = std::fs::read_to_string(out.join("metrics.json")).unwrap();
    let epochs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(epochs.len(), 10, "{stderr}");
}

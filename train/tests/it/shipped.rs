//! The shipped checkpoints reach the accuracy the manifest claims, on the official test set.

use crate::common::{ok, train, workspace};

#[test]
fn issue2_shipped_models_match_the_manifest() {
    let manifest = workspace().join("models/models.json");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let checkpoints: Vec<_> = entries
        .iter()
        .filter(|e| e["checkpoint"].is_string())
        .collect();
    assert!(!checkpoints.is_empty(), "models.json lists no checkpoint");
    for entry in checkpoints {
        let path = workspace()
            .join("models")
            .join(entry["checkpoint"].as_str().unwrap());
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 1 << 20, "{} is over 1 MB", path.display());
        assert_eq!(entry["checkpoint_bytes"], size);
        let out = ok(train()
            .arg("eval")
            .arg("--checkpoint")
            .arg(&path)
            .arg("--json"));
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let measured = v["accuracy"].as_f64().unwrap();
        let claimed = entry["checkpoint_accuracy"].as_f64().unwrap();
        assert!(
            (measured - claimed).abs() < 1e-9,
            "{}: measured {measured}, manifest says {claimed}",
            path.display()
        );
        assert_eq!(v["arch"], entry["arch"]);
        let floor = if entry["arch"] == "seed" { 0.992 } else { 0.99 };
        assert!(
            measured >= floor,
            "{}: {measured} is below {floor}",
            path.display()
        );
    }
}

#[test]
fn issue3_shipped_onnx_models_match_the_manifest_under_tract() {
    let manifest = workspace().join("models/models.json");
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let files: Vec<_> = entries.iter().filter(|e| e["file"].is_string()).collect();
    assert!(!files.is_empty(), "models.json lists no ONNX file");
    assert_eq!(
        entries.iter().filter(|e| e["default"] == true).count(),
        1,
        "exactly one default model"
    );
    for entry in files {
        let path = workspace()
            .join("models")
            .join(entry["file"].as_str().unwrap());
        let out = ok(train()
            .arg("verify")
            .arg("--model")
            .arg(&path)
            .arg("--json"));
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["bytes"], entry["bytes"], "{}", path.display());
        let (measured, claimed) = (
            v["accuracy"].as_f64().unwrap(),
            entry["accuracy"].as_f64().unwrap(),
        );
        assert!(
            (measured - claimed).abs() < 1e-9,
            "{}: tract {measured}, manifest {claimed}",
            path.display()
        );
    }
}

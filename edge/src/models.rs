//! The shipped models' manifest (`models/models.json`) and where `edge` looks for it, so that
//! `edge run` without `--model` uses the default model listed there.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// Environment variable naming a models folder to use before the built-in search.
pub const MODELS_ENV: &str = "MNIST_EDGE_MODELS";

/// One model listed in the manifest (other fields are ignored here).
#[derive(Clone, Debug, Deserialize)]
pub struct Entry {
    /// Short name.
    pub name: String,
    /// ONNX file, relative to the manifest.
    pub file: String,
    /// Whether this is the model to use when none is named.
    #[serde(default)]
    pub default: bool,
}

/// Folders searched for `models.json`, in order: `$MNIST_EDGE_MODELS`, `./models`, next to the
/// executable (`models/`, `../share/mnist-edge/models` as the .deb installs it) and, under
/// `cargo run` from anywhere in the workspace, the source tree: cargo names it in
/// `CARGO_MANIFEST_DIR` when it runs the binary. Nothing of the build machine's paths is
/// compiled in, so a binary copied to a board never looks there.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os(MODELS_ENV) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("models"));
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("models"));
        dirs.push(exe_dir.join("../share/mnist-edge/models"));
    }
    if let Some(crate_dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        dirs.push(Path::new(&crate_dir).join("../models"));
    }
    dirs
}

/// Reads a manifest.
pub fn read_manifest(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Model {
        path: path.to_path_buf(),
        reason: format!("not a model manifest ({e})"),
    })
}

/// The default model of the first manifest found on the [`search_path`].
pub fn default_model() -> Result<PathBuf> {
    let dirs = search_path();
    let Some(manifest) = dirs
        .iter()
        .map(|d| d.join("models.json"))
        .find(|m| m.is_file())
    else {
        return Err(Error::source(
            "models.json",
            format!(
                "no model manifest found (looked in {}); name a model with --model or set {MODELS_ENV}",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let entries = read_manifest(&manifest)?;
    let entry = entries
        .iter()
        .find(|e| e.default)
        .ok_or_else(|| Error::Model {
            path: manifest.clone(),
            reason: "no model is marked \"default\": true".into(),
        })?;
    Ok(manifest
        .parent()
        .unwrap_or(Path::new("."))
        .join(&entry.file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_manifest_names_an_existing_default() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/models.json");
        let entries = read_manifest(&manifest).unwrap();
        let defaults: Vec<_> = entries.iter().filter(|e| e.default).collect();
        assert_eq!(defaults.len(), 1);
        assert!(manifest.parent().unwrap().join(&defaults[0].file).is_file());
    }

    #[test]
    fn a_broken_manifest_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.json");
        std::fs::write(&path, "{oops").unwrap();
        let err = read_manifest(&path).unwrap_err().to_string();
        assert!(err.contains("models.json: not a model manifest"), "{err}");
    }
}

//! Everything a user can get wrong gives a one-line error naming the file, or a skipped frame.

use crate::common::{edge, one_line_error, run, samples};

#[test]
fn issue4_a_missing_input_is_named() {
    let err = one_line_error(edge().args(["run", "--input", "no/such/photo.jpg"]));
    assert!(err.contains("no/such/photo.jpg: no such file"), "{err}");
}

#[test]
fn issue4_an_unreadable_image_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-broken.jpg"), b"not a jpeg at all").unwrap();
    std::fs::write(dir.path().join("b-empty.png"), b"").unwrap();
    std::fs::copy(
        samples().join("scene-0001.jpg"),
        dir.path().join("c-good.jpg"),
    )
    .unwrap();
    let out = run(edge()
        .env("RUST_LOG", "info")
        .args(["run", "--input"])
        .arg(dir.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a-broken.jpg") && err.contains("b-empty.png: empty frame"),
        "{err}"
    );
    assert!(err.contains("1 frames read, 2 skipped"), "{err}");
}

#[test]
fn issue4_nothing_readable_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("x.jpg");
    std::fs::write(&bad, [0xFF, 0xD8, 0xFF]).unwrap();
    let err = one_line_error(edge().args(["run", "--input"]).arg(&bad));
    assert!(
        err.contains("nothing read: ") && err.contains("x.jpg"),
        "{err}"
    );
}

#[test]
fn issue4_a_foreign_model_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("notes.onnx");
    std::fs::write(&model, b"these are my notes, not a model").unwrap();
    let err = one_line_error(
        edge()
            .args(["run", "--model"])
            .arg(&model)
            .arg("--input")
            .arg(samples()),
    );
    assert!(
        err.contains("notes.onnx: not a readable ONNX model"),
        "{err}"
    );
}

#[test]
fn issue4_an_unreachable_stream_is_named() {
    let err = one_line_error(edge().args(["run", "--mjpeg", "http://127.0.0.1:9/cam"]));
    assert!(
        err.contains("http://127.0.0.1:9/cam: cannot open the stream"),
        "{err}"
    );
}

#[test]
fn issue4_a_camera_that_is_not_there_is_a_one_line_error() {
    // Built without the camera feature it says how to get it; with it, that the device is absent.
    let err = one_line_error(edge().args(["run", "--camera", "7"]));
    assert!(err.contains("camera"), "{err}");
}

#[test]
fn issue4_eval_counts_an_unreadable_scene_as_missed_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(samples()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join("scene-0002.jpg"), b"garbage").unwrap();
    let out = run(edge().args(["eval", "--json", "--scenes"]).arg(dir.path()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scene-0002.jpg") && err.contains("1 frames could not be read"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["frames"], 4);
    assert!(v["recall"].as_f64().unwrap() < 0.9, "{v}");
}

/// Runs `cmd` with its standard output a pipe closed before it writes; its status and stderr.
fn with_closed_stdout(cmd: &mut std::process::Command) -> (std::process::ExitStatus, String) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue15_a_closed_pipe_ends_bench_and_mnist_quietly() {
    for args in [
        vec!["bench", "--repeats", "1", "--input", "edge/samples"],
        vec!["mnist"],
    ] {
        let mut cmd = edge();
        cmd.args(&args).env("MNIST_DIR", crate::agree::mnist_dir());
        let (status, err) = with_closed_stdout(&mut cmd);
        assert!(
            status.success() && !err.contains("panicked"),
            "{args:?}: {status} {err}"
        );
    }
}

#[test]
fn issue15_an_endless_input_is_refused_before_it_fills_the_memory() {
    let err = one_line_error(edge().args(["run", "--input", "/dev/zero"]));
    assert!(err.contains("/dev/zero") && err.contains("MiB"), "{err}");
}

#[test]
fn issue15_annotated_frames_of_sources_with_one_stem_do_not_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["a", "b"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::copy(
            samples().join("scene-0001.jpg"),
            dir.path().join(sub).join("x.jpg"),
        )
        .unwrap();
    }
    let out_dir = dir.path().join("annotated");
    let out = run(edge()
        .args(["run", "--input"])
        .arg(dir.path().join("a"))
        .arg(dir.path().join("b"))
        .arg("--annotate")
        .arg(&out_dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["x-000000-2.png", "x-000000.png"]);
}

#[test]
fn issue15_a_min_confidence_that_is_not_a_probability_is_refused() {
    for bad in ["2.5", "NaN", "-1", "half"] {
        let setting = format!("--min-confidence={bad}");
        let out = run(edge().args(["run", "--input", "edge/samples", &setting]));
        assert_eq!(out.status.code(), Some(2), "--min-confidence {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.contains("--min-confidence") && first.contains("not a probability"),
            "{err}"
        );
    }
}

/// The model search once held the build machine's source path, compiled in: a binary copied
/// to a board looked there. Run outside cargo, from a folder without models, it looks only in
/// the folders a user can name or the package installs.
#[test]
fn issue17_a_binary_run_outside_cargo_looks_for_no_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    let err = one_line_error(
        edge()
            .current_dir(dir.path())
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("MNIST_EDGE_MODELS")
            .arg("run")
            .arg("--input")
            .arg(samples().join("scene-0001.jpg")),
    );
    assert!(err.contains("no model manifest found"), "{err}");
    let source = crate::common::workspace().join("models");
    let source = source.to_string_lossy();
    assert!(
        !err.contains(&*source) && !err.contains("edge/../models"),
        "{err}"
    );
}

#[test]
fn issue13_an_unknown_kernels_setting_is_named() {
    let err = one_line_error(
        edge()
            .env("EDGE_KERNELS", "fast")
            .args(["run", "--input"])
            .arg(samples().join("scene-0001.jpg")),
    );
    assert!(
        err.contains("EDGE_KERNELS=\"fast\": expected float or integer"),
        "{err}"
    );
}

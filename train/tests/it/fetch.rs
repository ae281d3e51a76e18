//! `train fetch` against mirrors served on loopback: a bad mirror is skipped, a good one is
//! used, the checksum decides.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

use crate::common::{fails, mnist_dir, ok, train};

/// Serves `/good/NAME.gz` from MNIST_DIR and corrupted bytes under `/bad/`, for `requests`
/// requests; returns the base URL.
fn serve(requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let name = path.rsplit('/').next().unwrap_or("");
            let body = match std::fs::read(mnist_dir().join(name)) {
                Ok(b) if path.starts_with("/good/") => Some(b),
                Ok(b) if path.starts_with("/bad/") => Some(b[..b.len() / 3].to_vec()),
                _ => None,
            };
            let head = match &body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .into(),
            };
            let _ = stream.write_all(head.as_bytes());
            if let Some(b) = body {
                let _ = stream.write_all(&b);
            }
        }
    });
    base
}

#[test]
fn issue2_fetch_skips_a_bad_mirror_and_verifies() {
    let base = serve(8);
    let dir = tempfile::tempdir().unwrap();
    let out = ok(train()
        .env("RUST_LOG", "error")
        .args(["fetch", "--data"])
        .arg(dir.path())
        .args([
            "--mirror",
            &format!("{base}/bad/"),
            "--mirror",
            &format!("{base}/good/"),
        ]));
    assert_eq!(out.matches("downloaded from").count(), 4, "{out}");
    assert!(out.contains("/good/"), "{out}");
    // Everything is present now: no request goes out.
    let again = ok(train()
        .args(["fetch", "--data"])
        .arg(dir.path())
        .args(["--mirror", "http://127.0.0.1:9/"]));
    assert_eq!(again.matches("present, checksum ok").count(), 4, "{again}");
}

#[test]
fn issue2_fetch_fails_when_no_mirror_has_the_file() {
    let base = serve(2);
    let dir = tempfile::tempdir().unwrap();
    let line = fails(train().args(["fetch", "--data"]).arg(dir.path()).args([
        "--mirror",
        &format!("{base}/bad/"),
        "--mirror",
        &format!("{base}/missing/"),
    ]));
    assert!(
        line.contains("could not download train-images-idx3-ubyte.gz"),
        "{line}"
    );
    assert!(
        line.contains("/bad/") && line.contains("/missing/"),
        "{line}"
    );
    assert!(!dir.path().join("train-images-idx3-ubyte.gz").exists());
}

/// Issue 16: machines behind a proxy or offline point `MNIST_MIRROR` at their own copy, a
/// server or a folder; it is tried before the public mirrors.
#[test]
fn issue16_the_mnist_mirror_setting_is_tried_first_over_http_and_from_a_folder() {
    let base = serve(8);
    for mirror in [
        format!("{base}/good/"),
        format!("file://{}/", mnist_dir().display()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = ok(train()
            .env("RUST_LOG", "error")
            .env("MNIST_MIRROR", &mirror)
            .args(["fetch", "--data"])
            .arg(dir.path()));
        assert_eq!(
            out.matches(&format!("downloaded from {mirror}")).count(),
            4,
            "{out}"
        );
    }
    // A folder without the files: the failure names what to do.
    let empty = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let line = fails(
        train()
            .env(
                "MNIST_MIRROR",
                format!("file://{}/", empty.path().display()),
            )
            .args([
                "fetch",
                "--mirror",
                &format!("file://{}/", empty.path().display()),
            ])
            .arg("--data")
            .arg(dir.path()),
    );
    assert!(
        line.contains("MNIST_MIRROR") && line.contains("offline"),
        "{line}"
    );
}

/// Issue 16: on a fresh clone (no MNIST_DIR, no data/mnist) the tests fetch MNIST into the
/// workspace once, however many test processes ask at the same time.
#[test]
fn issue16_a_fresh_clone_fetches_mnist_for_the_tests_once() {
    let workspace = tempfile::tempdir().unwrap();
    let mirror = format!("file://{}/", mnist_dir().display());
    let fetched = std::sync::atomic::AtomicUsize::new(0);
    let dirs: Vec<std::path::PathBuf> = thread::scope(|s| {
        let asks: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    crate::mnist_support::mnist_dir_in(workspace.path(), None, |dir| {
                        fetched.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let mut cmd = train();
                        cmd.env("MNIST_MIRROR", &mirror)
                            .args(["fetch", "--data"])
                            .arg(dir);
                        cmd
                    })
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1);
    for dir in &dirs {
        assert_eq!(dir, &workspace.path().join("data/mnist"));
    }
    let again = ok(train()
        .args(["fetch", "--data"])
        .arg(&dirs[0])
        .args(["--mirror", "http://127.0.0.1:9/"]));
    assert_eq!(again.matches("present, checksum ok").count(), 4, "{again}");
}

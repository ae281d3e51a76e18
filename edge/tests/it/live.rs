//! The live page (`edge run --serve`) rendered by headless Chromium.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{edge, samples};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `edge run --serve` on a free port and returns it with its address.
fn serve() -> (Server, String) {
    let mut child = edge()
        .env("RUST_LOG", "info")
        .args(["run", "--serve", "127.0.0.1:0", "--input"])
        .arg(samples().join("scene-0001.jpg"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("live page on ") {
                let _ = tx.send(line[at + "live page on ".len()..].trim().to_string());
            }
            if line.contains("still serving") {
                let _ = tx.send("ready".into());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no address logged");
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), "ready");
    (server, url)
}

fn chromium() -> &'static str {
    "/usr/bin/chromium"
}

#[test]
fn issue4_the_live_page_shows_the_numbers_in_chromium() {
    assert!(
        std::path::Path::new(chromium()).exists(),
        "this test needs Debian's chromium (apt-get install chromium); .ci/run installs it"
    );
    let (_server, url) = serve();
    let latest: edge::report::FrameReport =
        serde_json::from_str(&ureq_get(&format!("{url}latest.json"))).unwrap();
    assert!(!latest.numbers.is_empty());
    let profile = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=4000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(120));
    let dom = String::from_utf8_lossy(&out.stdout);
    let shown = latest.numbers.join(" ");
    assert!(
        dom.contains(&format!(r#"<div id="numbers">{shown}</div>"#)),
        "the page does not show {shown}: {dom}"
    );
    assert!(dom.contains(r#"src="/stream.mjpg""#));
}

/// A plain GET with std, so the test depends on nothing else.
fn ureq_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

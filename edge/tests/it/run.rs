//! `edge run`, `eval` and `bench` on the shipped sample frames and on an MJPEG stream.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::common::{edge, one_line_error, reports, reports_of, run, samples};

#[test]
fn run_reads_the_samples_with_the_default_model() {
    let frames = reports(edge().args(["run", "--input"]).arg(samples()));
    assert_eq!(frames.len(), 4);
    let truth: Vec<edge::scene::SceneTruth> =
        std::fs::read_to_string(samples().join("truth.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    for (frame, truth) in frames.iter().zip(&truth) {
        assert!(frame.source.ends_with(&truth.file));
        assert_eq!((frame.width, frame.height), (640, 480));
        assert!(frame.timings_ms.total > 0.0);
        // Most digits are found and every box lies inside the frame.
        assert!(
            frame.digits.len() + 2 >= truth.digits.len(),
            "{}: {} of {}",
            truth.file,
            frame.digits.len(),
            truth.digits.len()
        );
        for d in &frame.digits {
            assert!(d.bbox[0] + d.bbox[2] <= 640 && d.bbox[1] + d.bbox[3] <= 480);
            assert!((0.0..=1.0).contains(&d.confidence));
        }
    }
    // The numbers come out as strings, and nearly all of the written ones are among them.
    let (mut written, mut read) = (0, 0);
    for (frame, truth) in frames.iter().zip(&truth) {
        let mut got = frame.numbers.clone();
        for n in &truth.numbers {
            let want: String = n.iter().map(|&i| truth.digits[i].digit.as_str()).collect();
            written += 1;
            if let Some(at) = got.iter().position(|g| *g == want) {
                got.remove(at);
                read += 1;
            }
        }
    }
    assert!(read * 10 >= written * 9, "{read} of {written} numbers read");
}

#[test]
fn eval_scores_the_samples_against_their_truth() {
    let out = run(edge().args(["eval", "--json", "--scenes"]).arg(samples()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["counts"]["frames"], 4);
    assert!(v["recall"].as_f64().unwrap() >= 0.95, "{v}");
    assert!(v["precision"].as_f64().unwrap() >= 0.95, "{v}");
}

#[test]
fn bench_compares_models_side_by_side() {
    let out = run(edge()
        .args([
            "bench",
            "--json",
            "--repeats",
            "1",
            "-m",
            "models/seed.onnx",
            "-m",
            "models/strided-pages-int8.onnx",
            "--input",
        ])
        .arg(samples().join("scene-0001.jpg")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        for stage in ["decode", "locate", "normalise", "infer", "total", "fps"] {
            assert!(r[stage].as_f64().unwrap() > 0.0, "{stage}: {r}");
        }
    }
}

/// Serves `parts` as a multipart MJPEG stream to the first client and stops listening; ends
/// it with the closing boundary when `closing`, else closes between parts (a broken stream
/// that can never be had again).
fn mjpeg_server_closing(parts: Vec<Vec<u8>>, closing: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        drop(listener);
        let mut head = [0u8; 1024];
        let _ = s.read(&mut head);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=myframe\r\nConnection: close\r\n\r\n");
        for p in parts {
            let _ = write!(
                s,
                "--myframe\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                p.len()
            );
            let _ = s.write_all(&p);
            let _ = s.write_all(b"\r\n");
        }
        if closing {
            let _ = s.write_all(b"--myframe--\r\n");
        }
    });
    format!("http://{addr}/stream.mjpg")
}

/// Serves `parts` as a multipart MJPEG stream to the first client, then ends it.
fn mjpeg_server(parts: Vec<Vec<u8>>) -> String {
    mjpeg_server_closing(parts, true)
}

#[test]
fn issue4_an_mjpeg_stream_with_a_truncated_jpeg_skips_that_frame() {
    let good = std::fs::read(samples().join("scene-0002.jpg")).unwrap();
    let cut = good[..good.len() / 3].to_vec();
    let url = mjpeg_server(vec![good.clone(), cut, good]);
    let out = run(edge().args(["run", "--mjpeg", &url]));
    let lines = reports_of(&out);
    // A live source gives its newest frame: frame 0 may be dropped for frame 2 when both came
    // before the reader was free, but frame 2 is always read, and nothing is lost uncounted.
    let read: Vec<u64> = lines.iter().map(|l| l.frame).collect();
    assert!(read == [0, 2] || read == [2], "{read:?}");
    let dropped: u64 = lines
        .iter()
        .filter_map(|l| l.live.as_ref())
        .map(|l| l.dropped)
        .sum();
    assert_eq!(lines.len() as u64 + dropped, 2);
    assert!(lines.iter().all(|l| l.numbers == lines[0].numbers));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped") && err.contains("#1"), "{err}");
}

#[test]
fn issue15_a_live_source_gone_for_good_gives_up_after_the_set_time_with_status_75() {
    let frame = std::fs::read(samples().join("scene-0001.jpg")).unwrap();
    let url = mjpeg_server_closing(vec![frame.clone(), frame], false);
    let started = std::time::Instant::now();
    let out = run(edge().args(["run", "--mjpeg", &url, "--give-up-after", "2s"]));
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(
        err.contains(&url) && err.contains("--give-up-after") && err.contains("giving up"),
        "{err}"
    );
    // The frames it had were read, and it gave up after the set time, not at once.
    assert!(!out.stdout.is_empty());
    assert!(took >= std::time::Duration::from_secs(2), "{took:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

#[test]
fn issue15_give_up_after_is_for_live_sources_and_takes_a_duration() {
    let line = one_line_error(
        edge()
            .args(["run", "--give-up-after", "30s", "--input"])
            .arg(samples()),
    );
    assert!(
        line.contains("--give-up-after") && line.contains("live source"),
        "{line}"
    );
    let out = run(edge().args([
        "run",
        "--mjpeg",
        "http://127.0.0.1:9/",
        "--give-up-after",
        "soon",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("'soon'"), "{err}");
}

/// Starts `edge run ARGS`, waits for `ready` in its log, sends it SIGTERM and returns its
/// exit status and how long it took to exit.
fn terminated(args: &[&str], ready: &str) -> (std::process::ExitStatus, std::time::Duration) {
    terminated_with(args, ready, false)
}

/// [`terminated`], closing the log's pipe first when `close_log` (the log's reader has gone).
fn terminated_with(
    args: &[&str],
    ready: &str,
    close_log: bool,
) -> (std::process::ExitStatus, std::time::Duration) {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let mut child = edge()
        .env("RUST_LOG", "info")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(&ready) {
                let _ = tx.send(());
                if close_log {
                    break;
                }
            }
        }
    });
    let started = rx.recv_timeout(Duration::from_secs(60));
    if close_log {
        // The reading thread has dropped its end; give the drop a moment to land.
        std::thread::sleep(Duration::from_millis(200));
    }
    if started.is_err() {
        let _ = child.kill();
    }
    started.expect("the run never got ready");
    let sent = Instant::now();
    // libc's kill, not kill(1): the boards' test roots (cross/debian.sh) have no procps.
    // SAFETY: kill(2) with a child's pid and a signal number touches no memory of ours.
    let sent_ok = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent_ok, 0, "kill: {}", std::io::Error::last_os_error());
    let deadline = sent + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, sent.elapsed());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("edge run ignored SIGTERM for 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn issue19_sigterm_stops_a_run_that_serves_its_last_frame() {
    let sample = samples().join("scene-0001.jpg");
    let sample = sample.to_str().unwrap();
    let (status, took) = terminated(
        &["run", "--serve", "127.0.0.1:0", "--input", sample],
        "still serving",
    );
    assert!(status.success(), "{status}");
    // The serving loop sees the stop at once, well before the grace period for held reads.
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[test]
fn issue19_sigterm_stops_a_run_whose_source_gives_no_frame() {
    // A camera program that writes nothing holds the loop in its read: the run still ends,
    // and takes the program with it (the shell's child too, not the shell alone).
    let program = "sleep 61.25";
    let (status, _) = terminated(&["run", "--pipe", program], program);
    assert!(status.success(), "{status}");
    let left = running(program);
    assert!(left.is_empty(), "left running: {left:?}");
}

/// The command lines of the processes whose command line contains `text`, read from /proc
/// (as `pgrep -f` would, which the boards' test roots lack).
fn running(text: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(text))
        .collect()
}

/// A run whose log reader has gone still stops on SIGTERM: the failed write of the "stopping"
/// line once panicked the thread that stops the run, and the run went on until SIGKILL.
#[test]
fn issue19_sigterm_stops_a_run_whose_log_reader_has_gone() {
    let program = "sleep 62.5";
    let (status, took) = terminated_with(&["run", "--pipe", program], program, true);
    assert!(status.success(), "{status}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    let left = running(program);
    assert!(left.is_empty(), "left running: {left:?}");
}

//! `edge run --pipe` and `--input -` with the real producers from Debian's packages (issue 14):
//! `ffmpeg` writes the bytes `rpicam-vid --codec yuv420`, `gst-launch-1.0 … ! fdsink` (GRAY8)
//! and an MJPEG camera program write, from the shipped sample frames. `rpicam-vid` and
//! `nvarguscamerasrc` cannot run here; their formats are what these tests feed.

use std::io::Write;
use std::process::Stdio;

use crate::common::{edge, one_line_error, reports, reports_of, run, samples};

fn ffmpeg() -> &'static str {
    assert!(
        std::path::Path::new("/usr/bin/ffmpeg").exists(),
        "this test needs Debian's ffmpeg (apt-get install ffmpeg); .ci/run installs it"
    );
    "ffmpeg"
}

/// The numbers read from the sample frame itself.
fn numbers_of_the_file() -> Vec<String> {
    let file = samples().join("scene-0001.jpg");
    reports(edge().args(["run", "--input"]).arg(&file))
        .remove(0)
        .numbers
}

/// `edge run` reading raw GRAY8 frames of `size` from standard input.
fn gray8_from_stdin(size: &str) -> std::process::Command {
    let mut cmd = edge();
    cmd.args([
        "run",
        "--input",
        "-",
        "--pipe-format",
        "gray8",
        "--size",
        size,
    ]);
    cmd
}

/// Every report reads all but at most one of the `expected` numbers: a frame encoded or
/// decoded again on the way (MJPEG, H.264, libjpeg) differs by a grey level here and there.
fn assert_reads_nearly(reports: &[edge::report::FrameReport], expected: &[String]) {
    for r in reports {
        let same = r.numbers.iter().filter(|n| expected.contains(n)).count();
        assert!(
            same + 1 >= expected.len(),
            "{:?} against {expected:?}",
            r.numbers
        );
    }
}

/// An ffmpeg command writing the sample frame `frames` times to standard output in `args`.
fn producer(frames: u32, args: &str) -> String {
    let file = samples().join("scene-0001.jpg");
    format!(
        "{} -hide_banner -loglevel error -loop 1 -i {} -frames:v {frames} {args} -",
        ffmpeg(),
        file.display()
    )
}

#[test]
fn issue14_raw_gray_i420_nv12_yuyv_y4m_and_mjpeg_pipes_read_as_the_file_does() {
    let expected = numbers_of_the_file();
    for (args, format) in [
        ("-f rawvideo -pix_fmt gray", "gray8"),
        ("-f rawvideo -pix_fmt yuv420p", "i420"),
        ("-f rawvideo -pix_fmt nv12", "nv12"),
        ("-f rawvideo -pix_fmt yuyv422", "yuyv"),
        ("-f yuv4mpegpipe -pix_fmt yuv420p", "auto"),
        ("-f yuv4mpegpipe -pix_fmt gray", "auto"),
    ] {
        let got = reports(edge().args([
            "run",
            "--pipe",
            &producer(2, args),
            "--pipe-format",
            format,
            "--size",
            "640x480",
            "--max-frames",
            "2",
        ]));
        assert_eq!(got.len(), 2, "{args}");
        for r in &got {
            if format == "gray8" {
                assert_eq!(r.numbers, expected, "{args}");
            } else {
                // ffmpeg's YUV carries video-range luma (16-235), a grey level or so off the
                // file's, its converters rounding apart by one more: a digit read at the
                // threshold may go either way, a misread layout would lose every number.
                assert_eq!(r.numbers.len(), expected.len(), "{args}");
                assert_reads_nearly(std::slice::from_ref(r), &expected);
            }
            assert!(r.source.starts_with("pipe `"), "{}", r.source);
        }
        // A live source: the second frame read is a later one, perhaps after drops.
        assert!(got[1].frame > got[0].frame, "{args}");
    }
    // MJPEG is encoded again by ffmpeg: the same digits, within what JPEG changes.
    let got = reports(edge().args([
        "run",
        "--pipe",
        &producer(3, "-f mjpeg -q:v 2"),
        "--max-frames",
        "3",
    ]));
    assert_eq!(got.len(), 3);
    assert_reads_nearly(&got[..1], &expected);
}

#[test]
fn issue14_standard_input_from_a_file_keeps_every_frame_in_order() {
    let expected = numbers_of_the_file();
    let bytes = run(std::process::Command::new(ffmpeg()).args(
        producer(3, "-f rawvideo -pix_fmt gray")
            .split(' ')
            .skip(1)
            .collect::<Vec<_>>(),
    ))
    .stdout;
    assert_eq!(bytes.len(), 3 * 640 * 480);
    // Standard input from a file (`edge run --input - < frames.gray`); from a program it is
    // a live source like --pipe.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frames.gray");
    std::fs::write(&path, &bytes).unwrap();
    let out = gray8_from_stdin("640x480")
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let frames = reports_of(&out);
    assert_eq!(
        frames.iter().map(|f| f.frame).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(frames
        .iter()
        .all(|f| f.numbers == expected && f.source == "standard input"));
}

#[test]
fn issue14_a_program_that_exits_is_started_again() {
    // Each run of the program writes one frame and exits.
    let out = run(edge()
        .env("RUST_LOG", "info")
        .args(["run", "--pipe", &producer(1, "-f rawvideo -pix_fmt gray")])
        .args([
            "--pipe-format",
            "gray8",
            "--size",
            "640x480",
            "--max-frames",
            "3",
        ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.matches("starting it again").count() >= 2, "{log}");
}

#[test]
fn issue14_a_missing_program_a_foreign_stream_and_a_wrong_size_are_one_line_each() {
    let err = one_line_error(edge().args(["run", "--pipe", "no-such-camera-program -o -"]));
    assert!(
        err.contains("no-such-camera-program") && err.contains("not found"),
        "{err}"
    );
    // JPEG bytes announced as raw frames.
    let err = one_line_error(edge().args([
        "run",
        "--pipe",
        &producer(1, "-f mjpeg"),
        "--pipe-format",
        "gray8",
        "--size",
        "640x480",
    ]));
    assert!(err.contains("is JPEG, not raw"), "{err}");
    // A size that does not divide the bytes: the frame is cut off at the stream's end.
    let mut child = gray8_from_stdin("640x479")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&vec![200u8; 640 * 480])
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("standard input") && log.contains("--size"),
        "{log}"
    );
    let err = one_line_error(edge().args(["run", "--input", "-", "--pipe-format", "i420"]));
    assert!(err.contains("--size"), "{err}");
}

#[test]
fn issue14_a_reader_slower_than_a_30_fps_pipe_reads_its_newest_frames() {
    // ffmpeg -re writes 30 frames a second; --max-fps 10 reads one in three.
    let file = samples().join("scene-0001.jpg");
    let command = format!(
        "{} -hide_banner -loglevel error -re -loop 1 -framerate 30 -i {} -frames:v 150 \
         -f rawvideo -pix_fmt gray -",
        ffmpeg(),
        file.display()
    );
    let got = reports(edge().args(["run", "--pipe", &command]).args([
        "--pipe-format",
        "gray8",
        "--size",
        "640x480",
        "--max-fps",
        "10",
        "--max-frames",
        "12",
    ]));
    assert_eq!(got.len(), 12);
    let period = 1000.0 / 30.0;
    let mut dropped = 0;
    for r in &got {
        let live = r
            .live
            .as_ref()
            .expect("a pipe's frames say how fresh they are");
        // Below two frame periods plus its processing: no backlog builds up.
        assert!(
            live.latency_ms - r.timings_ms.total < 2.0 * period,
            "frame {}: {live:?}, {:?}",
            r.frame,
            r.timings_ms
        );
        dropped += live.dropped;
    }
    // About two of every three frames are dropped, and counted.
    assert!(dropped >= 12, "{dropped} dropped");
    // The frames read and those dropped between them account for every frame written.
    for w in got.windows(2) {
        let between = w[1].live.as_ref().unwrap().dropped;
        assert_eq!(w[1].frame, w[0].frame + 1 + between, "{:?}", w[1].live);
    }
}

#[test]
fn issue14_bench_reads_a_raw_stream_beside_the_jpeg_files() {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("frames.gray");
    let bytes = run(std::process::Command::new("sh")
        .arg("-c")
        .arg(producer(2, "-f rawvideo -pix_fmt gray")))
    .stdout;
    std::fs::write(&stream, bytes).unwrap();
    let out = run(edge()
        .args(["bench", "--json", "--repeats", "1", "--input"])
        .arg(samples().join("scene-0001.jpg"))
        .arg("--stream")
        .arg(&stream)
        .args(["--pipe-format", "gray8", "--size", "640x480"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["input"], "files");
    assert_eq!(rows[1]["input"], "stream Gray8");
    assert_eq!(rows[1]["frames"], 2);
    for r in &rows {
        for stage in ["decode", "locate", "total"] {
            assert!(r[stage].as_f64().unwrap() > 0.0, "{stage}: {r}");
        }
    }
}

fn gst_launch() -> &'static str {
    assert!(
        std::path::Path::new("/usr/bin/gst-launch-1.0").exists(),
        "this test needs Debian's gstreamer1.0-tools and -plugins-base/-good; .ci/run installs them"
    );
    "gst-launch-1.0"
}

#[test]
fn issue14_gstreamer_gray8_through_fdsink_reads_as_the_file_does() {
    // The Jetson recipe's last elements: GRAY8 caps into fdsink (nvarguscamerasrc and
    // nvvidconv replaced by a JPEG file and GStreamer's own decoder).
    let expected = numbers_of_the_file();
    let command = format!(
        "{} -q multifilesrc location={} loop=true ! jpegdec ! videoconvert ! \
         'video/x-raw,format=GRAY8,width=640,height=480' ! fdsink",
        gst_launch(),
        samples().join("scene-0001.jpg").display()
    );
    let got = reports(edge().args(["run", "--pipe", &command]).args([
        "--pipe-format",
        "gray8",
        "--size",
        "640x480",
        "--max-frames",
        "3",
    ]));
    assert_eq!(got.len(), 3);
    // libjpeg's decoding differs from the edge's own by a grey level here and there.
    assert_reads_nearly(&got, &expected);
}

#[test]
fn issue14_an_rtsp_h264_stream_through_ffmpeg_reads_as_the_file_does() {
    // ffmpeg listens for RTSP as the pipe's program; a second ffmpeg sends the sample frame as
    // H.264 over RTSP/TCP, as an IP camera's stream would arrive.
    let expected = numbers_of_the_file();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("rtsp://127.0.0.1:{port}/live");
    let receive = format!(
        "{} -hide_banner -loglevel error -rtsp_flags listen -rtsp_transport tcp -i {url} \
         -vf scale=640:480,format=gray -f rawvideo -",
        ffmpeg()
    );
    let send = format!(
        "for i in $(seq 50); do {} -hide_banner -loglevel error -re -loop 1 -framerate 10 -i {} \
         -t 20 -c:v libx264 -preset ultrafast -tune zerolatency -f rtsp -rtsp_transport tcp \
         {url} && break; sleep 0.2; done",
        ffmpeg(),
        samples().join("scene-0001.jpg").display()
    );
    let mut sender = std::process::Command::new("sh")
        .args(["-c", &send])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = edge()
        .args(["run", "--pipe", &receive, "--pipe-format", "gray8"])
        .args(["--size", "640x480", "--max-frames", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while reader.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = reader.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = sender.kill();
    let _ = sender.wait();
    let out = reader.wait_with_output().unwrap();
    let frames = reports_of(&out);
    assert_eq!(frames.len(), 3);
    assert_reads_nearly(&frames, &expected);
}

//! Tests of [`super`] (`mjpeg.rs`).

use super::*;
use image::GrayImage;

fn jpeg(shade: u8) -> Vec<u8> {
    crate::capture::test_jpeg(&GrayImage::from_pixel(32, 24, image::Luma([shade])))
}

fn stream(parts: &[Vec<u8>], lengths: bool) -> Vec<u8> {
    let mut s = b"preamble\r\n".to_vec();
    for p in parts {
        s.extend_from_slice(b"--frame\r\nContent-Type: image/jpeg\r\n");
        if lengths {
            s.extend_from_slice(format!("Content-Length: {}\r\n", p.len()).as_bytes());
        }
        s.extend_from_slice(b"\r\n");
        s.extend_from_slice(p);
        s.extend_from_slice(b"\r\n");
    }
    s.extend_from_slice(b"--frame--\r\n");
    s
}

/// A local MJPEG server for `connections` viewers, one after another: each is sent the
/// HTTP head, then whatever `body` writes for viewer `k`; returns the stream's URL.
fn serve(
    connections: usize,
    body: impl Fn(usize, &mut std::net::TcpStream) + Send + 'static,
) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/video", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (k, stream) in listener.incoming().take(connections).enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut head = [0u8; 1024];
            let _ = std::io::Read::read(&mut s, &mut head);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nConnection: close\r\n\r\n");
            body(k, &mut s);
        }
    });
    url
}

fn read_all(bytes: Vec<u8>) -> Vec<Result<Frame>> {
    let mut m = Mjpeg::from_reader("cam", Box::new(std::io::Cursor::new(bytes)), "frame");
    std::iter::from_fn(|| m.next_frame()).collect()
}

#[test]
fn parts_with_and_without_lengths_give_the_same_frames() {
    let parts = vec![jpeg(10), jpeg(200), jpeg(90)];
    for lengths in [true, false] {
        let frames = read_all(stream(&parts, lengths));
        assert_eq!(frames.len(), 3, "lengths {lengths}");
        let shades: Vec<u8> = frames
            .iter()
            .map(|f| f.as_ref().unwrap().image.get_pixel(5, 5)[0])
            .collect();
        for (got, want) in shades.iter().zip([10u8, 200, 90]) {
            assert!(got.abs_diff(want) <= 2, "{shades:?}");
        }
    }
}

#[test]
fn a_truncated_jpeg_is_skipped_and_the_stream_goes_on() {
    let good = jpeg(50);
    let cut = good[..good.len() / 2].to_vec();
    let frames = read_all(stream(&[good.clone(), cut, good], true));
    assert_eq!(frames.len(), 3);
    assert!(frames[0].is_ok() && frames[2].is_ok());
    let err = frames[1].as_ref().err().unwrap().to_string();
    assert!(err.starts_with("cam#1: "), "{err}");
}

#[test]
fn a_stream_cut_inside_a_part_ends_with_one_error() {
    let mut bytes = stream(&[jpeg(50), jpeg(60)], true);
    bytes.truncate(bytes.len() - 200);
    let frames = read_all(bytes);
    assert!(frames[0].is_ok());
    let err = frames.last().unwrap().as_ref().err().unwrap().to_string();
    assert!(err.contains("stream broken"), "{err}");
}

#[test]
fn a_broken_url_stream_is_reconnected_and_goes_on() {
    use std::io::Write;
    let (a, b) = (jpeg(30), jpeg(220));
    let url = serve(2, move |k, s| {
        let part = if k == 0 { &a } else { &b };
        let _ = write!(s, "--frame\r\nContent-Length: {}\r\n\r\n", part.len());
        let _ = s.write_all(part);
        if k == 0 {
            // The first connection dies in the middle of its second part.
            let _ = write!(s, "\r\n--frame\r\nContent-Length: {}\r\n\r\n", part.len());
            let _ = s.write_all(&part[..part.len() / 2]);
        } else {
            let _ = s.write_all(b"\r\n--frame--\r\n");
        }
    });
    let mut m = Mjpeg::open(&url).unwrap();
    let frames: Vec<Result<Frame>> = std::iter::from_fn(|| m.next_frame()).collect();
    assert_eq!(
        frames.len(),
        3,
        "{:?}",
        frames
            .iter()
            .map(|f| f.as_ref().err().map(|e| e.to_string()))
            .collect::<Vec<_>>()
    );
    assert!(frames[0].as_ref().unwrap().image.get_pixel(3, 3)[0].abs_diff(30) <= 2);
    assert!(frames[1]
        .as_ref()
        .err()
        .unwrap()
        .to_string()
        .contains("stream broken"));
    let last = frames[2].as_ref().unwrap();
    assert!(last.image.get_pixel(3, 3)[0].abs_diff(220) <= 2);
    assert_eq!(last.index, 1);
}

#[test]
fn issue15_a_url_stream_closed_between_parts_is_reconnected() {
    use std::io::Write;
    let (a, b) = (jpeg(30), jpeg(220));
    let url = serve(3, move |k, s| {
        let part = if k == 2 { &b } else { &a };
        match k {
            // Two whole parts, then the server closes (a phone app restarting).
            0 => {
                for _ in 0..2 {
                    let _ = write!(s, "--frame\r\nContent-Length: {}\r\n\r\n", part.len());
                    let _ = s.write_all(part);
                    let _ = s.write_all(b"\r\n");
                }
            }
            // A part without a length, closed by the end of the connection.
            1 => {
                let _ = s.write_all(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n");
                let _ = s.write_all(part);
            }
            _ => {
                let _ = write!(s, "--frame\r\nContent-Length: {}\r\n\r\n", part.len());
                let _ = s.write_all(part);
                let _ = s.write_all(b"\r\n--frame--\r\n");
            }
        }
    });
    let mut m = Mjpeg::open(&url).unwrap();
    let frames: Vec<Result<Frame>> = std::iter::from_fn(|| m.next_frame()).collect();
    let shades: Vec<Option<u8>> = frames
        .iter()
        .map(|f| f.as_ref().ok().map(|f| f.image.get_pixel(3, 3)[0]))
        .collect();
    // 30, 30, the break, 30 (its part ended by the close), 220, then the closing boundary.
    assert_eq!(frames.len(), 5, "{shades:?}");
    assert!(frames[2]
        .as_ref()
        .err()
        .unwrap()
        .to_string()
        .contains("closed between parts"));
    assert!(shades[4].unwrap().abs_diff(220) <= 2, "{shades:?}");
}

#[test]
fn issue15_a_stream_dripping_bytes_without_a_frame_is_broken_and_reconnected() {
    use std::io::Write;
    let good = jpeg(220);
    let url = serve(2, move |k, s| {
        if k == 0 {
            // A byte every 100 ms: every read returns, no part ever completes.
            for b in b"--frame\r\nX-Slow: "
                .iter()
                .chain(std::iter::repeat(&b'a'))
                .take(400)
            {
                if s.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        } else {
            let _ = write!(s, "--frame\r\nContent-Length: {}\r\n\r\n", good.len());
            let _ = s.write_all(&good);
            let _ = s.write_all(b"\r\n--frame--\r\n");
        }
    });
    let mut m = Mjpeg::open_paced(&url, Duration::from_millis(800)).unwrap();
    let frames: Vec<Result<Frame>> = std::iter::from_fn(|| m.next_frame()).collect();
    assert_eq!(frames.len(), 2);
    let err = frames[0].as_ref().err().unwrap().to_string();
    assert!(err.contains("no whole frame"), "{err}");
    assert!(frames[1].as_ref().unwrap().image.get_pixel(3, 3)[0].abs_diff(220) <= 2);
}

#[test]
fn a_stream_from_a_reader_ends_where_it_closes() {
    // A recording without its closing boundary: a file ends, it does not break.
    let mut bytes = stream(&[jpeg(30), jpeg(90)], true);
    bytes.truncate(bytes.len() - b"--frame--\r\n".len());
    let frames = read_all(bytes);
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| f.is_ok()));
}

#[test]
fn boundaries_are_read_from_content_types() {
    assert_eq!(
        boundary_of("multipart/x-mixed-replace; boundary=--myboundary").as_deref(),
        Some("myboundary")
    );
    assert_eq!(
        boundary_of("multipart/x-mixed-replace;boundary=\"abc\"").as_deref(),
        Some("abc")
    );
    assert_eq!(boundary_of("image/jpeg"), None);
}

mod fuzz {
    //! Property tests of the multipart reader (issue 15): any bytes end in frames and
    //! errors, never a panic or an endless loop; good parts amid junk are all read.
    use super::*;
    use crate::capture::fuzz_cases;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// Every frame and error of `bytes` read as a multipart stream with `boundary`.
    fn read_all(bytes: Vec<u8>, boundary: &str) -> (usize, usize) {
        let mut m = Mjpeg::from_reader("fuzz", Box::new(std::io::Cursor::new(bytes)), boundary);
        let (mut ok, mut bad) = (0, 0);
        while let Some(f) = m.next_frame() {
            match f {
                Ok(_) => ok += 1,
                Err(_) => bad += 1,
            }
            assert!(ok + bad < 10_000, "no end to the frames");
        }
        (ok, bad)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(fuzz_cases(256)))]

        #[test]
        fn issue15_fuzz_mjpeg_any_bytes(bytes in vec(any::<u8>(), 0..4096), boundary in "[a-z]{1,8}") {
            read_all(bytes, &boundary);
        }

        #[test]
        fn issue15_fuzz_mjpeg_good_parts_with_junk_and_damage(
            shades in vec(any::<u8>(), 1..5),
            lengths: bool,
            preamble in vec(any::<u8>(), 0..64),
            edits in vec((any::<Index>(), any::<u8>()), 0..8),
            cut in any::<Index>(),
        ) {
            let parts: Vec<Vec<u8>> = shades.iter().map(|&s| jpeg(s)).collect();
            let mut bytes = preamble.iter().filter(|&&b| b != b'-').copied().collect::<Vec<u8>>();
            bytes.extend_from_slice(b"\r\n");
            bytes.extend(stream(&parts, lengths));
            // Untouched, every part is a frame.
            prop_assert_eq!(read_all(bytes.clone(), "frame"), (parts.len(), 0));
            // Damaged and cut, the reader still ends.
            for (at, v) in edits {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let (ok, _) = read_all(bytes, "frame");
            prop_assert!(ok <= parts.len() + 1);
        }
    }
}

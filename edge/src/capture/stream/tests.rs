//! Tests of [`super`] (`stream.rs`).

use super::*;

fn reader(bytes: Vec<u8>, format: StreamFormat, size: Option<(u32, u32)>) -> StreamReader {
    StreamReader::new("test", Box::new(std::io::Cursor::new(bytes)), format, size)
}

fn all(mut r: StreamReader) -> Vec<Result<GrayImage>> {
    let mut out = Vec::new();
    loop {
        match r.next_image() {
            Ok(Some((img, _))) => out.push(Ok(img)),
            Ok(None) => return out,
            Err(e) => {
                let end = !matches!(e, Error::Frame { .. });
                out.push(Err(e));
                if end {
                    return out;
                }
            }
        }
    }
}

fn luma(w: u32, h: u32, k: u8) -> Vec<u8> {
    (0..w * h).map(|i| (i as u8).wrapping_mul(k)).collect()
}

#[test]
fn raw_formats_give_their_luma_plane() {
    let (w, h) = (6u32, 4u32);
    let y = luma(w, h, 3);
    let chroma = vec![128u8; 2 * 3 * 2];
    let planar: Vec<u8> = [y.clone(), chroma.clone()].concat();
    let yuyv: Vec<u8> = y.iter().flat_map(|&v| [v, 128]).collect();
    for (format, frame) in [
        (StreamFormat::Gray8, y.clone()),
        (StreamFormat::I420, planar.clone()),
        (StreamFormat::Nv12, planar),
        (StreamFormat::Yuyv, yuyv),
    ] {
        assert_eq!(format.raw_bytes(w, h), Some(frame.len()), "{format:?}");
        let frames = all(reader(
            [frame.clone(), frame].concat(),
            format,
            Some((w, h)),
        ));
        assert_eq!(frames.len(), 2, "{format:?}");
        for f in frames {
            assert_eq!(f.unwrap().into_raw(), y, "{format:?}");
        }
    }
}

#[test]
fn a_raw_stream_that_ends_inside_a_frame_says_to_check_the_size() {
    let frames = all(reader(
        vec![7u8; 24 + 10],
        StreamFormat::Gray8,
        Some((6, 4)),
    ));
    assert_eq!(frames.len(), 2);
    let err = frames[1].as_ref().unwrap_err().to_string();
    assert!(err.starts_with("test: ") && err.contains("--size"), "{err}");
}

#[test]
fn raw_frames_need_a_size_and_auto_does_not_guess_them() {
    let err = all(reader(vec![7u8; 24], StreamFormat::Gray8, None)).remove(0);
    assert!(err.unwrap_err().to_string().contains("--size"));
    let err = all(reader(vec![7u8; 24], StreamFormat::Auto, Some((6, 4)))).remove(0);
    assert!(err.unwrap_err().to_string().contains("--pipe-format"));
}

#[test]
fn y4m_frames_are_read_from_its_header_in_each_colour_space() {
    let (w, h) = (5u32, 3u32);
    let y = luma(w, h, 5);
    for (colour, extra) in [
        ("", 2 * 3 * 2),
        (" C420jpeg", 12),
        (" C422", 2 * 3 * 3),
        (" C444", 30),
        (" Cmono", 0),
    ] {
        let mut bytes = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1{colour}\n").into_bytes();
        for _ in 0..3 {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(&y);
            bytes.extend(std::iter::repeat_n(128u8, extra));
        }
        let frames = all(reader(bytes, StreamFormat::Auto, None));
        assert_eq!(frames.len(), 3, "{colour}");
        for f in frames {
            assert_eq!(f.unwrap().into_raw(), y, "{colour}");
        }
    }
}

#[test]
fn y4m_of_another_depth_or_out_of_step_is_one_error() {
    let bytes = b"YUV4MPEG2 W4 H2 C420p10\nFRAME\n".to_vec();
    let err = all(reader(bytes, StreamFormat::Y4m, None))
        .remove(0)
        .unwrap_err();
    assert!(err.to_string().contains("C420p10"), "{err}");
    // The header says 4x2 mono (8 bytes) but 9 bytes follow each FRAME.
    let mut bytes = b"YUV4MPEG2 W4 H2 Cmono\n".to_vec();
    for _ in 0..2 {
        bytes.extend_from_slice(b"FRAME\n");
        bytes.extend_from_slice(&[1u8; 9]);
    }
    let frames = all(reader(bytes, StreamFormat::Auto, None));
    assert!(frames[0].is_ok());
    assert!(frames[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("FRAME"));
}

fn jpeg(shade: u8) -> Vec<u8> {
    crate::capture::test_jpeg(&GrayImage::from_fn(32, 16, |x, _| {
        image::Luma([shade.wrapping_add(x as u8)])
    }))
}

#[test]
fn concatenated_jpegs_split_at_their_markers_even_with_a_thumbnail_inside() {
    let plain = jpeg(10);
    // An APP1 segment holding a whole JPEG (as EXIF thumbnails are), inserted after SOI:
    // splitting at the first end marker would cut the frame there.
    let thumb = jpeg(200);
    let mut with_thumb = vec![0xFF, 0xD8, 0xFF, 0xE1];
    let len = (thumb.len() + 2) as u16;
    with_thumb.extend_from_slice(&len.to_be_bytes());
    with_thumb.extend_from_slice(&thumb);
    with_thumb.extend_from_slice(&plain[2..]);
    let bytes = [plain.clone(), with_thumb, jpeg(90)].concat();
    let frames = all(reader(bytes, StreamFormat::Auto, None));
    assert_eq!(frames.len(), 3);
    let shades: Vec<u8> = frames
        .into_iter()
        .map(|f| f.unwrap().get_pixel(0, 0)[0])
        .collect();
    assert!(
        shades[0].abs_diff(10) <= 3 && shades[1].abs_diff(10) <= 3,
        "{shades:?}"
    );
    assert!(shades[2].abs_diff(90) <= 3, "{shades:?}");
}

#[test]
fn a_jpeg_stream_cut_inside_an_image_ends_with_one_error() {
    let a = jpeg(10);
    let b = jpeg(50);
    let bytes = [a.clone(), b[..b.len() / 2].to_vec()].concat();
    let frames = all(reader(bytes, StreamFormat::Mjpeg, None));
    assert_eq!(frames.len(), 2);
    assert!(frames[0].is_ok());
    assert!(frames[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("ended inside a JPEG"));
}

#[test]
fn issue15_a_y4m_header_word_starting_with_a_non_ascii_byte_is_an_error_not_a_panic() {
    // Found by the property test below: "YUV4MPEG2 " then the byte 0x80.
    let mut bytes = b"YUV4MPEG2 ".to_vec();
    bytes.extend_from_slice(&[0x80, b'\n']);
    let out = all(reader(bytes, StreamFormat::Y4m, None));
    assert_eq!(out.len(), 1);
    let err = out[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("usable size"), "{err}");
}

mod fuzz {
    //! Property tests of the frame pipe reader (issue 15): any bytes in any format end in
    //! frames and errors, never a panic or an endless loop.
    use super::*;
    use crate::capture::fuzz_cases;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn formats() -> impl Strategy<Value = StreamFormat> {
        prop_oneof![
            Just(StreamFormat::Auto),
            Just(StreamFormat::Gray8),
            Just(StreamFormat::I420),
            Just(StreamFormat::Nv12),
            Just(StreamFormat::Yuyv),
            Just(StreamFormat::Mjpeg),
            Just(StreamFormat::Y4m),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(fuzz_cases(256)))]

        #[test]
        fn issue15_fuzz_pipe_reader_any_bytes(
            head in prop_oneof![Just(b"YUV4MPEG2 ".to_vec()), Just(vec![0xFF, 0xD8]), Just(Vec::new())],
            header in "[ -~]{0,40}\n?",
            body in vec(any::<u8>(), 0..4096),
            format in formats(),
            size in proptest::option::of((1u32..64, 1u32..64)),
        ) {
            let mut bytes = head;
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend(body);
            let mut r = reader(bytes, format, size);
            let mut n = 0;
            loop {
                match r.next_image() {
                    Ok(Some((img, _))) => prop_assert!(img.width() <= MAX_SIDE && img.height() <= MAX_SIDE),
                    Ok(None) => break,
                    Err(Error::Frame { .. }) => {}
                    Err(_) => break,
                }
                n += 1;
                prop_assert!(n < 10_000, "no end to the frames");
            }
        }
    }
}

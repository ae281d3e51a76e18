//! Per-stage latency of the reading, models side by side (`edge bench`): every frame is
//! decoded and read by each model in turn, so that machine noise hits all alike, and each
//! stage's median is reported in milliseconds. Frames come from files in memory and,
//! optionally, from a raw stream in memory read as from a pipe.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::capture::{self, StreamFormat};
use crate::read::{Reader, Reading};
use crate::Result;

/// A raw frame stream held in memory (the bytes a camera program writes to a pipe).
pub struct Stream {
    /// Name for messages.
    pub name: String,
    /// The stream's bytes.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: StreamFormat,
    /// Frame size, for formats that do not carry it.
    pub size: Option<(u32, u32)>,
}

/// Per-stage medians of one model over one input, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    /// The model.
    pub model: PathBuf,
    /// The kernels that ran its convolutions ([`crate::infer::Kernels::name`]).
    pub kernels: &'static str,
    /// `files`, or `stream FORMAT` for the frames of a stream.
    pub input: String,
    /// Frames read per pass.
    pub frames: usize,
    /// Decoding to a grey frame.
    pub decode: f64,
    /// Finding the digits.
    pub locate: f64,
    /// Normalising them to the model's input.
    pub normalise: f64,
    /// The model (and the segmenter's second batch).
    pub infer: f64,
    /// All of the above.
    pub total: f64,
    /// Frames a second at that total.
    pub fps: f64,
}

/// Samples of the five stages (decode, locate, normalise, infer, total).
type Samples = [Vec<Duration>; 5];

fn record(s: &mut Samples, decode: Duration, reading: &Reading) {
    let t = reading.times;
    let total = decode + t.locate + t.normalise + t.infer;
    for (k, d) in [decode, t.locate, t.normalise, t.infer, total]
        .into_iter()
        .enumerate()
    {
        s[k].push(d);
    }
}

fn median_ms(v: &mut [Duration]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[v.len() / 2].as_secs_f64() * 1e3
}

/// Reads `files` (name, bytes) and `stream` with every model of `readers` (path, reader),
/// `repeats` passes; `tick` is called after each file of each pass. Rows come per input (files,
/// then the stream), each with one row per model in the order given.
pub fn run(
    readers: &[(PathBuf, Reader)],
    files: &[(String, Vec<u8>)],
    stream: Option<&Stream>,
    repeats: usize,
    mut tick: impl FnMut(),
) -> Result<Vec<Row>> {
    let inputs = 1 + usize::from(stream.is_some());
    let mut samples: Vec<Vec<Samples>> = (0..inputs)
        .map(|_| (0..readers.len()).map(|_| Default::default()).collect())
        .collect();
    let mut stream_frames = 0;
    for _ in 0..repeats.max(1) {
        for (name, bytes) in files {
            for ((_, reader), s) in readers.iter().zip(samples[0].iter_mut()) {
                let (image, decode) = capture::decode_timed(bytes, name)?;
                record(s, decode, &reader.read(&image)?);
            }
            tick();
        }
        if let Some(st) = stream {
            // From the bytes in memory to the grey frame the finder takes, as from a pipe.
            let mut frames_of = capture::StreamReader::new(
                &st.name,
                Box::new(std::io::Cursor::new(st.bytes.clone())),
                st.format,
                st.size,
            );
            stream_frames = 0;
            loop {
                let start = Instant::now();
                let Some((image, _)) = frames_of.next_image()? else {
                    break;
                };
                let decode = start.elapsed();
                stream_frames += 1;
                for ((_, reader), s) in readers.iter().zip(samples[1].iter_mut()) {
                    record(s, decode, &reader.read(&image)?);
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (k, per_model) in samples.iter_mut().enumerate() {
        let (label, count) = match (stream, k) {
            (Some(st), 1) => (format!("stream {:?}", st.format), stream_frames),
            _ => ("files".to_string(), files.len()),
        };
        for ((model, reader), s) in readers.iter().zip(per_model.iter_mut()) {
            let ms: Vec<f64> = s.iter_mut().map(|v| median_ms(v)).collect();
            rows.push(Row {
                model: model.clone(),
                kernels: reader.classifier.kernels().name(),
                input: label.clone(),
                frames: count,
                decode: ms[0],
                locate: ms[1],
                normalise: ms[2],
                infer: ms[3],
                total: ms[4],
                fps: 1e3 / ms[4].max(1e-9),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::Classifier;

    #[test]
    fn every_model_reads_every_input_and_the_stages_add_up() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = root.join("../models/seed.onnx");
        let reader = || Reader::new(Classifier::load(&model).unwrap());
        let readers = vec![(model.clone(), reader()), (model.clone(), reader())];
        let name = root.join("samples/scene-0001.jpg");
        let bytes = std::fs::read(&name).unwrap();
        let files = vec![(name.display().to_string(), bytes.clone())];
        // Two JPEGs back to back: an MJPEG stream as a program writes it to a pipe.
        let stream = Stream {
            name: "pipe".into(),
            bytes: [bytes.clone(), bytes].concat(),
            format: StreamFormat::Mjpeg,
            size: None,
        };
        let mut ticks = 0;
        let rows = run(&readers, &files, Some(&stream), 2, || ticks += 1).unwrap();
        assert_eq!(ticks, 2);
        let inputs: Vec<(&str, usize)> =
            rows.iter().map(|r| (r.input.as_str(), r.frames)).collect();
        assert_eq!(
            inputs,
            [
                ("files", 1),
                ("files", 1),
                ("stream Mjpeg", 2),
                ("stream Mjpeg", 2)
            ]
        );
        for r in &rows {
            let parts = r.decode + r.locate + r.normalise + r.infer;
            assert!(r.total > 0.0 && parts > 0.0, "{r:?}");
            // Medians of sums are not sums of medians, but they stay close.
            assert!((r.total - parts).abs() <= 0.5 * r.total, "{r:?}");
        }
    }
}

//! What the model was shown where a digit was found but read wrong: the model inputs of those
//! digits of a scene folder (`train scenes`), 20 to a row, and one line per digit on stdout
//! (frame, written digit, reading, confidence, pen, height), to tell a misread digit from a
//! fragment of one, a cut through two or a crop full of ruling.
//! `cargo run --release -p edge --example misread -- SCENES MODEL.onnx OUT.png`
use std::path::Path;

use anyhow::Context;
use edge::infer::Classifier;
use edge::read::Reader;
use image::{GrayImage, Luma};

/// Tiles in the mosaic at most.
const MOST: usize = 400;
/// Tiles a row.
const COLUMNS: u32 = 20;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, scenes, model, out] = args.as_slice() else {
        anyhow::bail!("usage: misread SCENES MODEL.onnx OUT.png");
    };
    let dir = Path::new(scenes);
    let reader = Reader::new(Classifier::load(Path::new(model))?);
    let side = reader.classifier.contract().side;
    let truths = edge::evaluate::load_truth(dir)?;
    let mut tiles: Vec<Vec<u8>> = Vec::new();
    for truth in &truths {
        let path = dir.join(&truth.file);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let frame = edge::capture::decode(&bytes, &truth.file)?;
        let reading = reader.read(&frame)?;
        let rects: Vec<_> = reading.digits.iter().map(|d| d.rect).collect();
        let matched = edge::scene::match_digits(truth, &rects);
        for (written, found) in truth.digits.iter().zip(matched) {
            let Some(j) = found else { continue };
            let read = &reading.digits[j];
            let label = read.label.as_deref().unwrap_or("?");
            if label == written.digit {
                continue;
            }
            let pen = truth.page.as_ref().map_or("-", |p| p.pen.as_str());
            println!(
                "{} {} read {label} {:.2} {pen} h{}",
                truth.file, written.digit, read.confidence, written.bbox[3]
            );
            tiles.push(reading.inputs[j * side * side..(j + 1) * side * side].to_vec());
        }
    }
    let n = tiles.len().min(MOST) as u32;
    let cell = side as u32 + 2;
    let mut mosaic = GrayImage::new(COLUMNS * cell, n.div_ceil(COLUMNS).max(1) * cell);
    for (i, tile) in tiles.iter().take(MOST).enumerate() {
        let (ox, oy) = ((i as u32 % COLUMNS) * cell, (i as u32 / COLUMNS) * cell);
        for (k, &p) in tile.iter().enumerate() {
            let (x, y) = ((k % side) as u32, (k / side) as u32);
            mosaic.put_pixel(ox + x, oy + y, Luma([p]));
        }
    }
    mosaic.save(out).with_context(|| out.clone())?;
    eprintln!("{} misread digits, {n} shown in {out}", tiles.len());
    Ok(())
}

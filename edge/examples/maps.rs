//! Writes the finder's intermediate maps of one frame (at half or full resolution, as the
//! finder chose) next to each other: the frame, its ground, the ink strength and the ink mask,
//! for looking at what it saw.
//! `cargo run --release -p edge --example maps -- FRAME OUT.png`
use edge::locate::{locate, LocateConfig};
use image::GrayImage;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (input, out) = match args.as_slice() {
        [_, i, o] => (i, o),
        _ => anyhow::bail!("usage: maps FRAME OUT.png"),
    };
    let bytes = std::fs::read(input)?;
    let frame = edge::capture::decode(&bytes, input)?;
    let found = locate(&frame, &LocateConfig::default());
    let (w, h) = found.map.dimensions();
    let mut sheet = GrayImage::new(w * 2, h * 2);
    let mask = GrayImage::from_fn(w, h, |x, y| {
        image::Luma([if found.labels.get_pixel(x, y)[0] != 0 {
            255
        } else {
            0
        }])
    });
    let stretched = GrayImage::from_fn(w, h, |x, y| {
        image::Luma([found.strength.get_pixel(x, y)[0].saturating_mul(3)])
    });
    for (k, img) in [&found.map, &found.ground, &stretched, &mask]
        .iter()
        .enumerate()
    {
        image::imageops::replace(
            &mut sheet,
            *img,
            (k as i64 % 2) * w as i64,
            (k as i64 / 2) * h as i64,
        );
    }
    let mut v: Vec<u8> = found.strength.as_raw().clone();
    v.sort_unstable();
    let q = |f: f32| v[((v.len() - 1) as f32 * f) as usize];
    println!(
        "strength p50 {} p80 {} p90 {} p95 {} p99 {}",
        q(0.5),
        q(0.8),
        q(0.9),
        q(0.95),
        q(0.99)
    );
    println!(
        "ink {:?}, scale {}, floor {:.1}, {} digits",
        found.ink,
        found.scale,
        found.floor,
        found.digits.len()
    );
    sheet.save(out)?;
    Ok(())
}

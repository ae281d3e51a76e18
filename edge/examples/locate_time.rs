//! Median time of `locate` over a folder of frames, with and without each optional rule.
//! `cargo run --release -p edge --example locate_time -- DIR`
use std::time::Instant;

use edge::locate::{locate, LocateConfig};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let paths = edge::capture::expand_inputs(&[dir.into()])?;
    let frames: Vec<_> = paths
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            edge::capture::decode(&bytes, &p.display().to_string()).ok()
        })
        .collect();
    for (name, cfg) in [
        ("default", LocateConfig::default()),
        (
            "no rulings",
            LocateConfig {
                rulings: false,
                ..LocateConfig::default()
            },
        ),
    ] {
        let mut t: Vec<f64> = frames
            .iter()
            .map(|f| {
                let s = Instant::now();
                std::hint::black_box(locate(f, &cfg));
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        println!(
            "{name:<12} median {:.3} ms over {} frames",
            t[t.len() / 2],
            t.len()
        );
    }
    Ok(())
}

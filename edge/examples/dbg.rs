use edge::locate::{locate, LocateConfig};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = image::open(&a[1]).unwrap().to_luma8();
    let l = locate(&img, &LocateConfig::default());
    let out = &a[2];
    eprintln!(
        "scale {} floor {} ink {:?} digits {}",
        l.scale,
        l.floor,
        l.ink,
        l.digits.len()
    );
    l.map.save(format!("{out}-map.png")).unwrap();
    l.strength.save(format!("{out}-str.png")).unwrap();
    let (w, h) = l.labels.dimensions();
    let m = image::GrayImage::from_fn(w, h, |x, y| {
        let v = l.labels.get_pixel(x, y)[0];
        image::Luma([if v == 0 {
            255
        } else if l.owned[v as usize] {
            0
        } else {
            128
        }])
    });
    m.save(format!("{out}-mask.png")).unwrap();
}

use super::*;

/// Ten hand-made 28×28 "digits" (bars and boxes), enough to lay out and draw pages without
/// MNIST.
fn shapes() -> Digits {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for k in 0..10u8 {
        let mut img = vec![0u8; 28 * 28];
        for y in 4..24 {
            for x in 8..20 {
                let rim = !(11..17).contains(&x) || !(7..21).contains(&y);
                let bar = k % 2 == 1 && (12..15).contains(&x);
                if (k % 2 == 0 && rim) || bar {
                    img[y * 28 + x] = 255;
                }
            }
        }
        images.extend(img);
        labels.push(k);
    }
    Digits { images, labels }
}

fn page_cfg(style: Style) -> PageConfig {
    PageConfig {
        count: 1,
        width: 320,
        height: 240,
        split: Split::Test,
        style,
    }
}

#[test]
fn every_truth_box_lies_in_the_frame_over_darker_ink() {
    let digits = shapes();
    for style in [Style::Notebook, Style::Sketch] {
        let mut written = 0;
        for seed in 0..12u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let r = render(&digits, 0..10, &page_cfg(style), &mut rng);
            let (w, h) = r.frame.dimensions();
            let mut all: Vec<u8> = r.frame.as_raw().clone();
            all.sort_unstable();
            let median = all[all.len() / 2];
            let covered: usize = r.truth.numbers.iter().map(Vec::len).sum();
            assert_eq!(covered, r.truth.digits.len(), "{style:?} seed {seed}");
            for d in &r.truth.digits {
                let [x, y, bw, bh] = d.bbox;
                assert!(
                    x + bw <= w && y + bh <= h,
                    "{style:?} seed {seed}: {:?}",
                    d.bbox
                );
                let darkest = (y..y + bh)
                    .flat_map(|yy| (x..x + bw).map(move |xx| (xx, yy)))
                    .map(|(xx, yy)| r.frame.get_pixel(xx, yy)[0])
                    .min()
                    .unwrap_or(255);
                assert!(
                    darkest + 8 < median,
                    "{style:?} seed {seed}: no ink in {:?} ({darkest} vs {median})",
                    d.bbox
                );
            }
            written += r.truth.digits.len();
            let page = r.truth.page.expect("pages carry their factors");
            assert_eq!(page.style, style.name());
        }
        assert!(written > 20, "{style:?}: only {written} digits in 12 pages");
    }
}

#[test]
fn the_same_seed_draws_the_same_page() {
    let digits = shapes();
    for style in [Style::Notebook, Style::Sketch] {
        let a = render(
            &digits,
            0..10,
            &page_cfg(style),
            &mut ChaCha8Rng::seed_from_u64(5),
        );
        let b = render(
            &digits,
            0..10,
            &page_cfg(style),
            &mut ChaCha8Rng::seed_from_u64(5),
        );
        assert_eq!(a.frame.as_raw(), b.frame.as_raw());
        assert_eq!(a.truth, b.truth);
    }
}

#[test]
fn digits_whose_ink_meets_are_marked_touching_and_others_not() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cfg = page_cfg(Style::Notebook);
    let camera = Camera::draw(cfg.width, cfg.height, &mut rng);
    let layout = Layout {
        paper: Paper::draw(&mut rng),
        digits: Vec::new(),
        numbers: Vec::new(),
        lines: 1,
    };
    let mut layout = layout;
    for (k, x) in [100.0, 120.0, 180.0].iter().enumerate() {
        layout.digits.push(layout::Planned {
            idx: k,
            label: k as u8,
            x: *x,
            y: 100.0,
            w: 20.0,
            h: 30.0,
            slant: 0.0,
        });
    }
    layout.numbers = vec![vec![0, 1], vec![2]];
    // Digit 0's ink ends at column 119 and digit 1's starts at 120; digit 2 is far away.
    let column = |x0: u32, x1: u32| Drawn {
        points: (x0..x1)
            .flat_map(|x| (100..130).map(move |y| (x, y)))
            .collect(),
    };
    let drawn = vec![column(110, 120), column(120, 125), column(180, 190)];
    let pen = Pen::draw(&mut rng);
    let truth = truth_of(&layout, &drawn, &camera, &cfg, pen);
    let touching: Vec<bool> = truth.digits.iter().map(|d| d.touching).collect();
    assert_eq!(touching, [true, true, false]);
}

#[test]
fn thinning_leaves_a_connected_line_one_pixel_wide() {
    let (w, h) = (30, 12);
    // A bar 6 pixels thick.
    let mut mask: Vec<u8> = (0..w * h)
        .map(|i| u8::from((3..9).contains(&(i / w)) && (2..28).contains(&(i % w))))
        .collect();
    notebook::thin(&mut mask, w, h);
    for x in 6..24 {
        let column: u8 = (0..h).map(|y| mask[y * w + x]).sum();
        assert_eq!(column, 1, "column {x}");
    }
}

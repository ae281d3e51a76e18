//! The data commands: `fetch` (MNIST from the public mirrors), `scenes` (frames with
//! ground truth for `edge eval`) and `camera-digits` (training digits as the edge sees them).

use anyhow::Result;

use train::data::fetch;
use train::data::mnist;
use train::data::scene;

use crate::args::*;
use crate::load_data;
use crate::progress::Bars;
use crate::DEFAULT_DATA;

/// `train fetch`.
pub fn fetch(FetchArgs { data, mirrors }: FetchArgs) -> Result<()> {
    let dir = data.data.unwrap_or_else(|| DEFAULT_DATA.into());
    let mirrors = if mirrors.is_empty() {
        fetch::mirrors()
    } else {
        mirrors
    };
    for (name, outcome) in fetch::fetch(&dir, &mirrors, &Bars)? {
        match outcome {
            fetch::Outcome::Present => edge::say!("{name}: present, checksum ok"),
            fetch::Outcome::Downloaded(url) => {
                edge::say!("{name}: downloaded from {url}, checksum ok")
            }
        }
    }
    Ok(())
}

/// `train scenes`.
pub fn scenes(
    ScenesArgs {
        data,
        out,
        split,
        count,
        size,
        kind,
    }: ScenesArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let (width, height) = (size[0].max(64), size[1].max(64));
    let style = match kind {
        SceneKind::Table => None,
        SceneKind::Pages => Some(train::data::page::Style::Notebook),
        SceneKind::Sketch => Some(train::data::page::Style::Sketch),
    };
    let truths = match style {
        None => {
            let cfg = scene::SceneConfig {
                count,
                width,
                height,
                split,
            };
            scene::generate(&mnist, &out, &cfg, &Bars)?
        }
        Some(style) => {
            let cfg = train::data::page::PageConfig {
                count,
                width,
                height,
                split,
                style,
            };
            train::data::page::generate(&mnist, &out, &cfg, &Bars)?
        }
    };
    let digits: usize = truths.iter().map(|t| t.digits.len()).sum();
    let numbers: usize = truths.iter().map(|t| t.numbers.len()).sum();
    edge::say!(
        "{}: {} frames, {digits} digits in {numbers} numbers",
        out.display(),
        truths.len()
    );
    Ok(())
}

/// `train camera-digits`.
pub fn camera_digits(
    CameraDigitsArgs {
        data,
        out,
        scenes,
        kind,
    }: CameraDigitsArgs,
) -> Result<()> {
    let mnist = load_data(data)?;
    let got = match kind {
        HarvestKind::Table => train::data::harvest::harvest(&mnist, scenes, &Bars)?,
        HarvestKind::Pages => train::data::harvest::harvest_pages(&mnist, scenes, &Bars)?,
    };
    train::data::extra::write_extra(&out, &got.digits, &got.not_digits)?;
    edge::say!(
        "{}: {} digits kept of {} written in {scenes} scenes ({} of them cut from touching digits), and {} marks that are not digits",
        out.display(),
        got.digits.len(),
        got.written,
        got.pieces,
        got.not_digits.len() / mnist::PIXELS
    );
    Ok(())
}

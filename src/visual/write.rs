//! The visual outputs on disk: `chips/<stem>_{before,after,change,unobserved}.png` per
//! site and `report.html`, each written atomically; chips of sites no longer in the
//! report are removed, like stale change rasters.

use std::path::Path;

use super::chips::Chips;
use super::embed::SiteChipFiles;
use super::html::{compare_page, Overview};
use super::overview::{quicklook, site_outlines};
use super::timeline_page::{pairs_page, timeline_page, PairLink};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::raster::crs::Crs;
use crate::raster::RasterSource;
use crate::report::Report;
use crate::sites::Site;
use crate::timeline::Timeline;

/// The chip kinds, in file-name order.
pub const CHIP_KINDS: [&str; 4] = ["before", "after", "change", "unobserved"];

/// `chips/<stem>_<kind>.png`, relative to an output folder.
pub fn chip_path(stem: &str, kind: &str) -> String {
    format!("chips/{stem}_{kind}.png")
}

/// Writes a site's chips under `out/chips/`.
pub fn write_site_chips(out: &Path, stem: &str, c: &Chips) -> Result<()> {
    let pngs = [
        Some(&c.before),
        Some(&c.after),
        c.change.as_ref(),
        Some(&c.unobserved),
    ];
    for (kind, canvas) in CHIP_KINDS.iter().zip(pngs) {
        let path = out.join(chip_path(stem, kind));
        match canvas {
            Some(cv) => write_atomic(&path, &cv.to_png())?,
            // No change computed this run: an old change chip must not stand in for it.
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&path, e)),
                _ => {}
            },
        }
    }
    Ok(())
}

/// The chip files of a site in `out` (missing ones are None).
pub fn read_site_chips(out: &Path, stem: &str) -> SiteChipFiles {
    let read = |kind: &str| std::fs::read(out.join(chip_path(stem, kind))).ok();
    SiteChipFiles {
        before: read("before"),
        after: read("after"),
        change: read("change"),
        unobserved: read("unobserved"),
    }
}

/// Removes chips in `out/chips/` of sites not among `stems`; returns how many.
pub fn remove_stale_chips(out: &Path, stems: &[String]) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(out.join("chips")) else {
        return Ok(0);
    };
    let keep: std::collections::HashSet<String> = stems
        .iter()
        .flat_map(|s| CHIP_KINDS.iter().map(move |k| format!("{s}_{k}.png")))
        .collect();
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".png") && !name.starts_with('.') && !keep.contains(&name) {
            std::fs::remove_file(e.path()).map_err(|err| Error::io(&e.path(), err))?;
            n += 1;
        }
    }
    Ok(n)
}

/// The overview map of `sites` over the scene `src` (in `crs`).
pub fn overview_of(src: &dyn RasterSource, crs: &Crs, sites: &[Site]) -> Result<Overview> {
    let (canvas, k) = quicklook(src)?;
    let rgb = image::RgbImage::from_fn(canvas.width as u32, canvas.height as u32, |x, y| {
        let p = canvas.get(x as usize, y as usize);
        image::Rgb([p[0], p[1], p[2]])
    });
    Ok(Overview {
        image: super::embed::jpeg(&rgb),
        mime: "image/jpeg",
        width: canvas.width,
        height: canvas.height,
        outlines: site_outlines(src, crs, sites, k),
    })
}

/// Writes `out/report.html` of a `compare` report whose chips are in `out/chips/`.
pub fn write_compare_html(
    out: &Path,
    report: &Report,
    stems: &[String],
    overview: Option<&Overview>,
) -> Result<()> {
    let files: Vec<SiteChipFiles> = stems.iter().map(|s| read_site_chips(out, s)).collect();
    let chips = super::embed::page_chips(&files);
    write_atomic(
        &out.join("report.html"),
        compare_page(report, stems, &chips, overview).as_bytes(),
    )
}

/// Writes `out/report.html` of a timeline.
pub fn write_timeline_html(out: &Path, t: &Timeline, pairs: &[PairLink]) -> Result<()> {
    let ids: Vec<String> = t.sites.iter().map(|s| s.id.clone()).collect();
    let stems = crate::sites::stems_of(&ids);
    write_atomic(
        &out.join("report.html"),
        timeline_page(t, &stems, pairs).as_bytes(),
    )
}

/// Writes `out/report.html` listing the date pairs of a merge.
pub fn write_pairs_html(out: &Path, pairs: &[PairLink]) -> Result<()> {
    write_atomic(&out.join("report.html"), pairs_page(pairs).as_bytes())
}

//! Labelled frames for training and measuring the detector: PNG/JPEG images with YOLO
//! boxes (`class cx cy w h`, normalised), each with its pixel size and its sequence.
//!
//! The shared data set (`../shared/data/aerial-vehicles/`) is split **by sequence or
//! source, never by frame**: consecutive frames of one sequence show the same vehicles.
//! Training/tuning: KIT `MOS74-92` and `MunichStreet02`, Minsk `DJI_0005` and
//! `DJI-00760`, and the 61 armour screenshots whose labels are incomplete. Measuring
//! (never trained or tuned on): KIT `MOS155-178` (the only sequence whose frames hold
//! 40 or more vehicles, needed by the painted-out withdrawal test), Minsk `DJI_0013`
//! and `DJI_0762`, and the 10 armour screenshots with a completely labelled region.
//!
//! Pixel sizes: the KIT and Minsk frames are not georeferenced; a sequence's pixel size
//! is 4.6 m (a typical car) over the median longer box side of its cars. Armour
//! screenshots carry `apparent_gsd_m` in `labels-review.json`.

use std::path::{Path, PathBuf};

use super::image::{resize, stretch};
use super::net::Tensor;
use crate::error::{Error, Result};

/// Typical car length used to estimate a sequence's pixel size, metres.
pub const CAR_LENGTH_M: f64 = 4.6;

/// Which side of the split a sequence is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

/// One labelled image on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub image: PathBuf,
    pub labels: PathBuf,
    pub source: String,
    pub sequence: String,
    pub gsd_m: f64,
    pub split: Split,
    /// Unboxed vehicles may exist (armour screenshots outside their complete region).
    pub incomplete: bool,
    /// Completely labelled region `[x0, y0, x1, y1]` in image pixels (None = whole image).
    pub region: Option<[f64; 4]>,
    /// Vehicle length given to point labels (GeoJSON truth), metres.
    #[serde(default)]
    pub point_length_m: f64,
}

fn is_geotiff(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

/// A GeoTIFF (first three bands) with a GeoJSON of vehicle points or polygons (their
/// centroids, lon/lat), for training on an analyst's own georeferenced imagery.
pub fn geotiff_entry(tif: &Path, truth: &Path, point_length_m: f64) -> Result<Entry> {
    let src = crate::raster::open(tif, crate::raster::Backend::default_for_build())?;
    let info = src.info();
    let crs = crate::raster::crs::Crs::from_epsg(info.epsg)?;
    let gsd_m = crate::raster::grid::raster_gsd_m(info, &crs)?;
    Ok(Entry {
        image: tif.to_path_buf(),
        labels: truth.to_path_buf(),
        source: tif.display().to_string(),
        sequence: tif.display().to_string(),
        gsd_m,
        split: Split::Train,
        incomplete: false,
        region: None,
        point_length_m,
    })
}

/// Truth points of a GeoTIFF entry in its pixel coordinates.
fn geotiff_boxes(e: &Entry) -> Result<Vec<LBox>> {
    let src = crate::raster::open(&e.image, crate::raster::Backend::default_for_build())?;
    let info = src.info();
    let crs = crate::raster::crs::Crs::from_epsg(info.epsg)?;
    let to_img = crate::raster::crs::Transformer::new(&crate::raster::crs::Crs::wgs84(), &crs);
    let inv = info.transform.invert().ok_or_else(|| Error::Input {
        path: e.image.clone(),
        msg: "geotransform is not invertible".into(),
    })?;
    let mut out = Vec::new();
    for p in crate::eval::load_points(&e.labels)? {
        let (x, y) = to_img.apply_checked(p.lon, p.lat)?;
        let (c, r) = inv.apply(x, y);
        out.push(LBox {
            x: c as f32,
            y: r as f32,
            len_m: e.point_length_m as f32,
            // A point has no extent: a square of its length.
            short_m: e.point_length_m as f32,
            horizontal: true,
        });
    }
    Ok(out)
}

/// A vehicle box in pixels: centre and longer side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LBox {
    pub x: f32,
    pub y: f32,
    pub len_m: f32,
    /// Shorter side, metres (the length again for a point label).
    pub short_m: f32,
    /// The longer side runs along the image rows (box wider than tall).
    pub horizontal: bool,
}

/// An image ready for training: on the working grid, stretched, boxes in its pixels.
#[derive(Debug, Clone)]
pub struct Frame {
    pub name: String,
    pub img: Tensor,
    pub boxes: Vec<LBox>,
    pub incomplete: bool,
}

/// Decodes an 8-bit RGB image into HWC f32 (0-255); a GeoTIFF gives its first three
/// bands (one band repeated) in its own units, NaN (nodata) as 0.
pub fn read_rgb(path: &Path) -> Result<Tensor> {
    if is_geotiff(path) {
        let src = crate::raster::open(path, crate::raster::Backend::default_for_build())?;
        let b = crate::raster::read_all(src.as_ref())?.data;
        let (bands, h, w) = b.dim();
        let mut t = Tensor::zeros(h, w, 3);
        for (i, v) in t.data.iter_mut().enumerate() {
            let x = b[[(i % 3).min(bands - 1), i / 3 / w, (i / 3) % w]];
            *v = if x.is_finite() { x } else { 0.0 };
        }
        return Ok(t);
    }
    crate::fsutil::check_regular(path)?;
    let img = image::open(path).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        msg: format!("not a readable PNG/JPEG image: {e}"),
    })?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(Tensor {
        h: h as usize,
        w: w as usize,
        c: 3,
        data: rgb.into_raw().into_iter().map(f32::from).collect(),
    })
}

/// A YOLO box `(class, cx, cy, w, h)` in pixels.
pub type YoloBox = (u32, f64, f64, f64, f64);

/// YOLO boxes `(class, cx, cy, w, h)` in pixels of a `w` x `h` image.
pub fn read_yolo(path: &Path, w: usize, h: usize) -> Result<Vec<YoloBox>> {
    let text = crate::fsutil::read_text_input(path, crate::fsutil::limits::GEOJSON)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let p: Vec<&str> = line.split_whitespace().collect();
        if p.is_empty() {
            continue;
        }
        let bad = || Error::Input {
            path: path.to_path_buf(),
            msg: format!("line {}: expected `class cx cy w h`", i + 1),
        };
        if p.len() < 5 {
            return Err(bad());
        }
        let c: u32 = p[0].parse().map_err(|_| bad())?;
        let v: Vec<f64> = p[1..5]
            .iter()
            .map(|s| s.parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad());
        }
        out.push((
            c,
            v[0] * w as f64,
            v[1] * h as f64,
            v[2] * w as f64,
            v[3] * h as f64,
        ));
    }
    Ok(out)
}

/// Boxes of one entry in image pixels (every class but cyclists, 4).
pub fn entry_boxes(e: &Entry, w: usize, h: usize) -> Result<Vec<LBox>> {
    if is_geotiff(&e.image) {
        return geotiff_boxes(e);
    }
    Ok(read_yolo(&e.labels, w, h)?
        .into_iter()
        .filter(|b| b.0 != 4)
        .map(|(_, x, y, bw, bh)| LBox {
            x: x as f32,
            y: y as f32,
            len_m: (bw.max(bh) * e.gsd_m) as f32,
            short_m: (bw.min(bh) * e.gsd_m) as f32,
            horizontal: bw >= bh,
        })
        .collect())
}

/// Loads an entry onto the working grid of `working_gsd_m`, stretched.
pub fn load_frame(e: &Entry, working_gsd_m: f64) -> Result<Frame> {
    let raw = read_rgb(&e.image)?;
    let boxes = entry_boxes(e, raw.w, raw.h)?;
    let f = e.gsd_m / working_gsd_m;
    let (oh, ow) = (
        ((raw.h as f64) * f).round().max(1.0) as usize,
        ((raw.w as f64) * f).round().max(1.0) as usize,
    );
    let mut img = resize(&raw, oh, ow);
    let (sx, sy) = (ow as f32 / raw.w as f32, oh as f32 / raw.h as f32);
    stretch(&mut img, &vec![true; oh * ow]);
    Ok(Frame {
        name: e
            .image
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        img,
        boxes: boxes
            .into_iter()
            .map(|b| LBox {
                x: b.x * sx,
                y: b.y * sy,
                ..b
            })
            .collect(),
        incomplete: e.incomplete,
    })
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    Ok(v)
}

/// Median of the longer side of class-0 boxes over images of size `w` x `h` each.
fn median_car_px(items: &[(PathBuf, usize, usize)]) -> Result<f64> {
    let mut sides = Vec::new();
    for (labels, w, h) in items {
        for (c, _, _, bw, bh) in read_yolo(labels, *w, *h)? {
            if c == 0 {
                sides.push(bw.max(bh) as f32);
            }
        }
    }
    crate::stats::median(sides).map(f64::from).ok_or_else(|| {
        // Name the folder of the labels: the frames given have no class-0 (car) box.
        let dir = items
            .first()
            .and_then(|(p, _, _)| p.parent())
            .unwrap_or(Path::new("."));
        Error::input(
            dir,
            "no car boxes (class 0) to estimate the frames' pixel size from",
        )
    })
}

/// Image size without decoding the pixels.
fn image_size(path: &Path) -> Result<(usize, usize)> {
    let (w, h) = image::image_dimensions(path).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        msg: format!("not a readable image: {e}"),
    })?;
    Ok((w as usize, h as usize))
}

/// KIT and Minsk frames: sequence from the file name, pixel size per sequence.
fn street_entries(
    dir: &Path,
    source: &str,
    ext: &str,
    seq_of: fn(&str) -> String,
    test: &[&str],
) -> Result<Vec<Entry>> {
    let mut by_seq: std::collections::BTreeMap<String, Vec<(PathBuf, PathBuf, usize, usize)>> =
        Default::default();
    for img in sorted_files(dir, ext)? {
        let labels = img.with_extension("txt");
        if !labels.exists() {
            continue;
        }
        let stem = img
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (w, h) = image_size(&img)?;
        by_seq.entry(seq_of(&stem)).or_default().push((img, labels, w, h));
    }
    let mut out = Vec::new();
    for (seq, items) in by_seq {
        let l: Vec<(PathBuf, usize, usize)> = items.iter().map(|i| (i.1.clone(), i.2, i.3)).collect();
        let gsd_m = CAR_LENGTH_M / median_car_px(&l)?;
        for (image, labels, _, _) in items {
            out.push(Entry {
                image,
                labels,
                source: source.into(),
                sequence: seq.clone(),
                gsd_m,
                split: if test.contains(&seq.as_str()) {
                    Split::Test
                } else {
                    Split::Train
                },
                incomplete: false,
                region: None,
                point_length_m: 0.0,
            });
        }
    }
    Ok(out)
}

fn kit_sequence(stem: &str) -> String {
    if stem.starts_with("MunichStreet02") {
        return "MunichStreet02".into();
    }
    let n: u32 = stem.trim_start_matches("MOS").parse().unwrap_or(0);
    if n >= 155 {
        "MOS155-178".into()
    } else {
        "MOS74-92".into()
    }
}

fn minsk_sequence(stem: &str) -> String {
    stem.rsplit_once('-')
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| stem.to_string())
}

#[derive(serde::Deserialize)]
struct Review {
    image: String,
    labels: String,
    labels_complete: String,
    complete_region_px: Option<[f64; 4]>,
    apparent_gsd_m: f64,
}

fn armour_entries(dir: &Path) -> Result<Vec<Entry>> {
    let path = dir.join("labels-review.json");
    let text = crate::fsutil::read_text_input(&path, crate::fsutil::limits::GEOJSON)?;
    let reviews: Vec<Review> = serde_json::from_str(&text).map_err(|e| Error::Input {
        path: path.clone(),
        msg: e.to_string(),
    })?;
    Ok(reviews
        .into_iter()
        .map(|r| {
            let complete = r.labels_complete != "incomplete";
            Entry {
                image: dir.join(&r.image),
                labels: dir.join(&r.labels),
                source: "armour".into(),
                sequence: r.image.trim_end_matches(".jpg").into(),
                gsd_m: r.apparent_gsd_m,
                split: if complete { Split::Test } else { Split::Train },
                incomplete: !complete || r.complete_region_px.is_some(),
                region: r.complete_region_px,
                point_length_m: 0.0,
            }
        })
        .collect())
}

/// Every labelled image of the shared data set with its split.
pub fn shared_entries(root: &Path) -> Result<Vec<Entry>> {
    let mut out = street_entries(
        &root.join("kit-munich"),
        "kit-munich",
        "png",
        kit_sequence,
        &["MOS155-178"],
    )?;
    out.extend(street_entries(
        &root.join("minsk-drone"),
        "minsk-drone",
        "jpg",
        minsk_sequence,
        &["DJI_0013", "DJI_0762"],
    )?);
    out.extend(armour_entries(&root.join("armour"))?);
    Ok(out)
}

/// Analyst frames: every `*.png`/`*.jpg` with a `.txt` beside it in `dir`, at `gsd_m`,
/// one sequence per folder, all for training.
pub fn folder_entries(dir: &Path, gsd_m: f64) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for ext in ["png", "jpg"] {
        for image in sorted_files(dir, ext)? {
            let labels = image.with_extension("txt");
            if labels.exists() {
                out.push(Entry {
                    image,
                    labels,
                    source: dir.display().to_string(),
                    sequence: dir.display().to_string(),
                    gsd_m,
                    split: Split::Train,
                    incomplete: false,
                    region: None,
                    point_length_m: 0.0,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_split_by_name() {
        assert_eq!(kit_sequence("MOS80"), "MOS74-92");
        assert_eq!(kit_sequence("MOS160"), "MOS155-178");
        assert_eq!(kit_sequence("MunichStreet02-MOS80"), "MunichStreet02");
        assert_eq!(minsk_sequence("DJI_0762-00123"), "DJI_0762");
        assert_eq!(minsk_sequence("DJI-00760-00001"), "DJI-00760");
    }
}

//! Cloud Optimized GeoTIFF writer for the Float32 change rasters: 256-pixel tiles,
//! DEFLATE, internal overviews halving the size until the image fits one tile, and the
//! layout of the COG specification (GDAL's COG driver, "LAYOUT=IFDS_BEFORE_DATA"): a
//! ghost header of structural metadata after the TIFF header, then every IFD (full
//! resolution first, overviews chained after it), then the tile data from the smallest
//! overview to the full resolution, each tile led by its byte count and trailed by its
//! last four bytes repeated (what GDAL requires to report `LAYOUT=COG`), so a client reading the head of the file learns
//! where every tile is and fetches only the ones it shows.
//!
//! Overviews are 2x2 means over the finite samples (NaN where all four are NaN); for a
//! 0/1 mask band they give the changed share of each block.
//!
//! Gotchas: classic TIFF (32-bit offsets), so a raster must compress under 4 GiB (a
//! site's change raster is a few MB); edge tiles are full size, padded with NaN.

use std::path::Path;

use super::tag_value::Val;
use super::write::{gdal_metadata, georef_tags, GeoMeta};
use super::write_tiled::{deflate, ifd_bytes};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// Tile side, pixels.
pub const COG_TILE: usize = 256;

/// One resolution level: `[row][col][band]` samples.
struct Level {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

/// The 2x2 mean of `l` over finite samples (NaN where a block has none).
fn halve(l: &Level, bands: usize) -> Level {
    let (w, h) = (l.width.div_ceil(2), l.height.div_ceil(2));
    let mut data = vec![f32::NAN; w * h * bands];
    for r in 0..h {
        for c in 0..w {
            for b in 0..bands {
                let (mut s, mut n) = (0.0f64, 0u32);
                for (rr, cc) in [
                    (2 * r, 2 * c),
                    (2 * r, 2 * c + 1),
                    (2 * r + 1, 2 * c),
                    (2 * r + 1, 2 * c + 1),
                ] {
                    if rr < l.height && cc < l.width {
                        let v = l.data[(rr * l.width + cc) * bands + b];
                        if v.is_finite() {
                            s += v as f64;
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    data[(r * w + c) * bands + b] = (s / n as f64) as f32;
                }
            }
        }
    }
    Level {
        width: w,
        height: h,
        data,
    }
}

/// The compressed tiles of a level, row-major.
fn tiles(l: &Level, bands: usize) -> Vec<Vec<u8>> {
    let (ntx, nty) = (l.width.div_ceil(COG_TILE), l.height.div_ceil(COG_TILE));
    let mut out = Vec::with_capacity(ntx * nty);
    let mut buf = Vec::with_capacity(COG_TILE * COG_TILE * bands * 4);
    for ty in 0..nty {
        for tx in 0..ntx {
            buf.clear();
            for r in ty * COG_TILE..(ty + 1) * COG_TILE {
                for c in tx * COG_TILE..(tx + 1) * COG_TILE {
                    for b in 0..bands {
                        let v = if r < l.height && c < l.width {
                            l.data[(r * l.width + c) * bands + b]
                        } else {
                            f32::NAN
                        };
                        buf.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            out.push(deflate(&buf));
        }
    }
    out
}

/// The ghost header GDAL reads to recognise the COG layout.
fn ghost_header() -> Vec<u8> {
    let body = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n\
                BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ";
    format!("GDAL_STRUCTURAL_METADATA_SIZE={:06} bytes\n{body}", body.len()).into_bytes()
}

/// The tags of one level; `full` adds the georeferencing and metadata.
fn level_tags(
    l: &Level,
    bands: usize,
    offsets: Vec<u32>,
    counts: Vec<u32>,
    full: Option<(&GeoMeta, &[&str])>,
) -> Result<Vec<(u16, Val)>> {
    let mut tags: Vec<(u16, Val)> = vec![
        (256, Val::Long(vec![l.width as u32])),
        (257, Val::Long(vec![l.height as u32])),
        (258, Val::Short(vec![32; bands])),
        (259, Val::Short(vec![8])),
        (262, Val::Short(vec![1])),
        (277, Val::Short(vec![bands as u16])),
        (284, Val::Short(vec![1])),
        (322, Val::Long(vec![COG_TILE as u32])),
        (323, Val::Long(vec![COG_TILE as u32])),
        (324, Val::Long(offsets)),
        (325, Val::Long(counts)),
        (339, Val::Short(vec![3; bands])),
    ];
    if bands > 1 {
        tags.push((338, Val::Short(vec![0; bands - 1])));
    }
    match full {
        None => tags.push((254, Val::Long(vec![1]))),
        Some((meta, names)) => {
            tags.push((
                305,
                Val::Ascii(concat!("stagewatch ", env!("CARGO_PKG_VERSION")).into()),
            ));
            tags.extend(georef_tags(meta)?);
            if !names.is_empty() {
                tags.push((42112, Val::Ascii(gdal_metadata(names))));
            }
            if let Some(nd) = meta.nodata {
                let s = if nd.is_nan() {
                    "nan".to_string()
                } else {
                    format!("{nd}")
                };
                tags.push((42113, Val::Ascii(s)));
            }
        }
    }
    tags.sort_by_key(|(t, _)| *t);
    Ok(tags)
}

/// The bytes of a COG of `bands` Float32 bands (`[row][col][band]` samples).
pub fn cog_f32_bytes(
    width: usize,
    height: usize,
    bands: usize,
    samples: &[f32],
    meta: &GeoMeta,
    band_names: &[&str],
) -> Result<Vec<u8>> {
    let mut levels = vec![Level {
        width,
        height,
        data: samples.to_vec(),
    }];
    while levels
        .last()
        .is_some_and(|l| l.width > COG_TILE || l.height > COG_TILE)
    {
        let next = halve(levels.last().expect("one level"), bands);
        levels.push(next);
    }
    let compressed: Vec<Vec<Vec<u8>>> = levels.iter().map(|l| tiles(l, bands)).collect();
    // Pass 1 sizes the IFDs with placeholder offsets; pass 2 writes them for real.
    let ghost = ghost_header();
    let header_len = 8 + ghost.len() as u64;
    let layout = |data_start: u64| -> Result<(Vec<u8>, u64)> {
        // Tile data: smallest overview first, full resolution last.
        let mut pos = data_start;
        let mut offs: Vec<(Vec<u32>, Vec<u32>)> = vec![(Vec::new(), Vec::new()); levels.len()];
        for i in (0..levels.len()).rev() {
            for t in &compressed[i] {
                // Each tile is led by its size and trailed by its last 4 bytes.
                offs[i].0.push((pos + 4) as u32);
                offs[i].1.push(t.len() as u32);
                pos += t.len() as u64 + 8;
            }
        }
        let mut ifds = Vec::new();
        let mut at = header_len;
        for (i, l) in levels.iter().enumerate() {
            let full = (i == 0).then_some((meta, band_names));
            let tags = level_tags(l, bands, offs[i].0.clone(), offs[i].1.clone(), full)?;
            // The next IFD starts where this one's values end.
            let (_, _, end) = ifd_bytes(&tags, at, 0);
            let next = if i + 1 < levels.len() { end as u32 } else { 0 };
            let (ifd, extra, end) = ifd_bytes(&tags, at, next);
            ifds.extend_from_slice(&ifd);
            ifds.extend_from_slice(&extra);
            at = end;
        }
        Ok((ifds, pos))
    };
    let (sized, _) = layout(0)?;
    let data_start = header_len + sized.len() as u64;
    let (ifds, end) = layout(data_start)?;
    if end > u32::MAX as u64 {
        return Err(Error::Write {
            path: "<cog>".into(),
            msg: "over 4 GiB (classic TIFF)".into(),
        });
    }
    let mut out = Vec::with_capacity(end as usize);
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&(header_len as u32).to_le_bytes());
    out.extend_from_slice(&ghost);
    out.extend_from_slice(&ifds);
    for level in compressed.iter().rev() {
        for t in level {
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
            out.extend_from_slice(t);
            out.extend_from_slice(&t[t.len() - 4..]);
        }
    }
    Ok(out)
}

/// Writes a Float32 COG atomically to `path`.
pub fn write_cog_f32(
    path: &Path,
    (width, height, bands): (usize, usize, usize),
    samples: &[f32],
    meta: &GeoMeta,
    band_names: &[&str],
) -> Result<()> {
    if samples.len() != width * height * bands || bands == 0 {
        return Err(Error::Write {
            path: path.to_path_buf(),
            msg: format!("sample count does not match {width}x{height}x{bands}"),
        });
    }
    let bytes = cog_f32_bytes(width, height, bands, samples, meta, band_names).map_err(|e| match e {
        Error::Write { msg, .. } => Error::Write {
            path: path.to_path_buf(),
            msg,
        },
        other => other,
    })?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{geotiff::GeoTiff, read_all, GeoTransform, RasterSource};

    fn meta() -> GeoMeta {
        GeoMeta {
            epsg: 32636,
            transform: GeoTransform::north_up(500000.0, 5300000.0, 0.5, 0.5),
            nodata: Some(f64::NAN),
            datetime: None,
        }
    }

    #[test]
    fn halving_averages_finite_samples() {
        let l = Level {
            width: 3,
            height: 2,
            data: vec![1.0, 3.0, f32::NAN, 5.0, 7.0, f32::NAN],
        };
        let h = halve(&l, 1);
        assert_eq!((h.width, h.height), (2, 1));
        assert_eq!(h.data[0], 4.0);
        assert!(h.data[1].is_nan());
    }

    #[test]
    fn the_full_resolution_reads_back_and_the_layout_is_cog() {
        let (w, h, bands) = (600, 300, 2);
        let samples: Vec<f32> = (0..w * h * bands)
            .map(|i| if i % 97 == 0 { f32::NAN } else { (i % 1000) as f32 })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.tif");
        write_cog_f32(&p, (w, h, bands), &samples, &meta(), &["a", "b"]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // Header, then the ghost header naming the layout, then the first IFD.
        assert_eq!(&bytes[..4], b"II*\0");
        let first_ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let ghost = String::from_utf8_lossy(&bytes[8..first_ifd]);
        assert!(ghost.starts_with("GDAL_STRUCTURAL_METADATA_SIZE="));
        assert!(ghost.contains("LAYOUT=IFDS_BEFORE_DATA"));
        let g = GeoTiff::open(&p).unwrap();
        assert_eq!((g.info().width, g.info().height, g.info().bands), (w, h, bands));
        assert_eq!(g.info().transform, meta().transform);
        let b = read_all(&g).unwrap();
        for (i, v) in samples.iter().enumerate() {
            let (px, band) = (i / bands, i % bands);
            let got = b.data[[band, px / w, px % w]];
            assert!(got == *v || (got.is_nan() && v.is_nan()), "sample {i}");
        }
        // Overviews 300x150 and 150x75: three IFDs chained.
        let mut ifds = 0;
        let mut at = first_ifd;
        while at != 0 {
            ifds += 1;
            let n = u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
            let next = at + 2 + 12 * n;
            at = u32::from_le_bytes(bytes[next..next + 4].try_into().unwrap()) as usize;
        }
        assert_eq!(ifds, 3);
    }

    #[test]
    fn the_same_raster_gives_the_same_bytes() {
        let s: Vec<f32> = (0..70 * 40).map(|i| i as f32).collect();
        let a = cog_f32_bytes(70, 40, 1, &s, &meta(), &[]).unwrap();
        assert_eq!(a, cog_f32_bytes(70, 40, 1, &s, &meta(), &[]).unwrap());
    }
}

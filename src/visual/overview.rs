//! The overview map of a report: a quicklook of the before scene at most
//! [`MAX_OVERVIEW_PX`] a side, and every site's polygon in its pixels.
//!
//! The quicklook samples the scene: each quicklook row is one source row (the centre
//! row of its block), each quicklook pixel the mean of that row's pixels in its block
//! (point sampling along rows, area averaging across columns). Only those rows are
//! read ([`RasterSource::read_rows`]: the pure-Rust reader decompresses each strip or
//! tile holding one once and converts only the sampled rows), in parallel pieces of
//! whole tile rows; see the README's performance section for what the page costs.

use ndarray::Array3;

use super::draw::Canvas;
use super::stretch::{pooled_limits, reduction_factor, to_rgba};
use crate::error::Result;
use crate::raster::crs::{Crs, Transformer};
use crate::raster::RasterSource;
use crate::sites::Site;

/// Longest side of the overview quicklook, pixels.
pub const MAX_OVERVIEW_PX: usize = 1024;

/// Source rows per parallel piece of work: whole tile rows of a typical tiled GeoTIFF
/// (256), so pieces do not share tiles.
const CHUNK_ROWS: usize = 256;

/// Quicklook rows `q0..q1` (every band, NaN where a block has no finite sample).
fn quicklook_rows(src: &dyn RasterSource, k: usize, bands: usize, q0: usize, q1: usize) -> Result<Vec<f32>> {
    let info = src.info();
    let (w, h) = (info.width, info.height);
    let qw = w.div_ceil(k);
    let row_of = |qr: usize| (qr * k + k / 2).min(h - 1);
    let rows: Vec<usize> = (q0..q1).map(row_of).collect();
    let block = src.read_rows(&rows)?;
    let mut out = vec![f32::NAN; (q1 - q0) * bands * qw];
    for i in 0..q1 - q0 {
        for b in 0..bands {
            for qc in 0..qw {
                let (c0, c1) = (qc * k, ((qc + 1) * k).min(w));
                let (mut s, mut n) = (0.0f64, 0u32);
                for c in c0..c1 {
                    let v = block[[b, i, c]];
                    if v.is_finite() {
                        s += v as f64;
                        n += 1;
                    }
                }
                if n > 0 {
                    out[(i * bands + b) * qw + qc] = (s / n as f64) as f32;
                }
            }
        }
    }
    Ok(out)
}

/// The quicklook of `src` (its first three bands) and the reduction factor used. Chunks
/// of `CHUNK_ROWS` source rows are read in parallel and assembled in order.
pub fn quicklook(src: &dyn RasterSource) -> Result<(Canvas, usize)> {
    use rayon::prelude::*;
    let info = src.info();
    let (w, h) = (info.width, info.height);
    let k = reduction_factor(w, h, MAX_OVERVIEW_PX);
    let (qw, qh) = (w.div_ceil(k), h.div_ceil(k));
    let bands = info.bands.min(3);
    let per_chunk = (CHUNK_ROWS / k).max(1);
    let chunks: Vec<(usize, usize)> = (0..qh)
        .step_by(per_chunk)
        .map(|q0| (q0, (q0 + per_chunk).min(qh)))
        .collect();
    let parts: Vec<Vec<f32>> = chunks
        .par_iter()
        .map(|&(q0, q1)| quicklook_rows(src, k, bands, q0, q1))
        .collect::<Result<_>>()?;
    let mut q = Array3::from_elem((bands, qh, qw), f32::NAN);
    for ((q0, q1), part) in chunks.iter().zip(&parts) {
        for (i, qr) in (*q0..*q1).enumerate() {
            for b in 0..bands {
                for qc in 0..qw {
                    q[[b, qr, qc]] = part[(i * bands + b) * qw + qc];
                }
            }
        }
    }
    let clear: Vec<bool> = (0..qh * qw).map(|i| q[[0, i / qw, i % qw]].is_finite()).collect();
    let limits = pooled_limits(&[(&q, &clear)], 3);
    Ok((
        Canvas {
            width: qw,
            height: qh,
            rgba: to_rgba(&q, &limits),
        },
        k,
    ))
}

/// Each site's polygon rings (exterior and holes) in quicklook pixels of a raster in
/// `crs` with reduction factor `k`; a vertex that does not transform is left out.
pub fn site_outlines(
    src: &dyn RasterSource,
    crs: &Crs,
    sites: &[Site],
    k: usize,
) -> Vec<Vec<Vec<(f64, f64)>>> {
    let to_img = Transformer::new(&Crs::wgs84(), crs);
    let Some(inv) = src.info().transform.invert() else {
        return vec![Vec::new(); sites.len()];
    };
    let kf = k as f64;
    sites
        .iter()
        .map(|s| {
            s.polygons
                .iter()
                .flat_map(|p| p.iter())
                .map(|ring| {
                    ring.iter()
                        .filter_map(|&(lon, lat)| to_img.apply(lon, lat))
                        .map(|(x, y)| {
                            let (c, r) = inv.apply(x, y);
                            (c / kf, r / kf)
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::in_memory::InMemory;
    use crate::raster::{DataType, GeoTransform};

    #[test]
    fn the_quicklook_of_a_small_scene_is_the_scene() {
        let img = Array3::from_shape_fn((3, 4, 6), |(b, r, c)| (b * 100 + r * 6 + c) as f32);
        let src = InMemory::new(
            "q",
            img,
            32636,
            GeoTransform::north_up(300000.0, 5330000.0, 0.5, 0.5),
            DataType::Float32,
        );
        let (q, k) = quicklook(&src).unwrap();
        assert_eq!((q.width, q.height, k), (6, 4, 1));
        // Stretched per band: the darkest pixel is darker than the brightest.
        assert!(q.get(0, 0)[0] < q.get(5, 3)[0]);
    }

    #[test]
    fn large_scenes_are_sampled_to_the_limit() {
        let img = Array3::from_shape_fn((1, 2050, 10), |(_, r, _)| r as f32);
        let src = InMemory::new(
            "q",
            img,
            32636,
            GeoTransform::north_up(0.0, 0.0, 1.0, 1.0),
            DataType::Float32,
        );
        let (q, k) = quicklook(&src).unwrap();
        assert_eq!(k, 3);
        assert_eq!((q.width, q.height), (4, 684));
    }
}

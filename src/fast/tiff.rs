//! The hot path streamed from two GeoTIFFs: strips of tile rows are decoded in
//! parallel (one rayon task per strip; libdeflate for DEFLATE, see
//! [`crate::raster::decode::inflate_into`]) and each decoded tile pair is turned into
//! mask bits at once, while it is still in cache. No strip or scene of pixels is ever
//! assembled: memory is two tiles and one strip of mask bits per thread.
//!
//! Requirements (checked, with a one-line error naming the file): Byte samples, the
//! same size and chunk layout in both files, predictor 1 or 2, and tiles whose width is
//! a multiple of 64 pixels (striped files always qualify). One band is read (band 1
//! unless [`TiffPair::open_band`] says otherwise).
//!
//! Pixels equal to a file's declared nodata value (GDAL_NODATA, when it is a Byte
//! value) are never change, on either date.
//!
//! [`inflate_only`] reads and decodes the same chunks and does nothing else: the
//! ceiling the streamed path is measured against.

use std::cell::RefCell;
use std::fs::File;
use std::path::Path;

use rayon::prelude::*;

use super::bits::{clear_nodata, diff_bits, words, Band};
use super::{label_strips, strip_bounds, ChangedBlob, HotParams};
use crate::error::{Error, Result};
use crate::raster::geotiff::{ChunkGeometry, GeoTiff};
use crate::raster::RasterSource;

/// One opened input: the parsed file and a handle for `pread` shared by all threads.
struct Input {
    tiff: GeoTiff,
    file: File,
}

/// A before/after pair of Byte GeoTIFFs with the same layout.
pub struct TiffPair {
    before: Input,
    after: Input,
    geo: ChunkGeometry,
    w: usize,
    h: usize,
    /// Band read, 0-based.
    band: usize,
    /// Byte nodata values of the before and after files, if declared.
    nodata: (Option<u8>, Option<u8>),
}

fn open_input(tiff: GeoTiff) -> Result<Input> {
    let path = tiff.info().path.clone();
    let file = crate::fsutil::open_regular(&path)?;
    Ok(Input { tiff, file })
}

impl TiffPair {
    /// Opens both files and checks that the fast path can read them (band 1).
    pub fn open(before: &Path, after: &Path) -> Result<TiffPair> {
        Self::open_band(before, after, 1)
    }

    /// The same for band `band` (1-based, as in GDAL).
    pub fn open_band(before: &Path, after: &Path, band: usize) -> Result<TiffPair> {
        let (b, a) = (
            GeoTiff::open_pixels_only(before)?,
            GeoTiff::open_pixels_only(after)?,
        );
        Self::from_opened(b, a, band)
    }

    /// The same from files already opened (e.g. with georeferencing required).
    pub fn from_opened(before: GeoTiff, after: GeoTiff, band: usize) -> Result<TiffPair> {
        let (b, a) = (open_input(before)?, open_input(after)?);
        let (before, after) = (b.tiff.info().path.clone(), a.tiff.info().path.clone());
        let (before, after) = (before.as_path(), after.as_path());
        let geo = b.tiff.chunk_geometry();
        let (w, h) = (b.tiff.info().width, b.tiff.info().height);
        let refuse = |p: &Path, why: &str| Err(Error::input(p, why));
        for (inp, p) in [(&b, before), (&a, after)] {
            let g = inp.tiff.chunk_geometry();
            if !g.byte_samples {
                return refuse(
                    p,
                    "the fast path reads 8-bit unsigned samples only; convert it to Byte first \
                     (e.g. `gdal_translate -ot Byte -scale`) or use `compare`, which reads \
                     UInt16 and Float32",
                );
            }
            if g.predictor != 1 && g.predictor != 2 {
                return refuse(p, "the fast path handles predictors 1 and 2 only");
            }
            if g.tiled && g.chunk_w % 64 != 0 {
                return refuse(p, "the fast path needs tiles a multiple of 64 pixels wide");
            }
        }
        if a.tiff.chunk_geometry() != geo || (a.tiff.info().width, a.tiff.info().height) != (w, h) {
            return Err(Error::not_raster(
                after,
                format!("size or tiling differs from {}", before.display()),
            ));
        }
        if band == 0 || band > geo.samples {
            return Err(Error::input(
                before,
                format!(
                    "band {band} asked for; the file has {} (bands count from 1)",
                    geo.samples
                ),
            ));
        }
        let byte_nodata = |i: &Input| {
            i.tiff
                .info()
                .nodata
                .filter(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v))
                .map(|v| v as u8)
        };
        let nodata = (byte_nodata(&b), byte_nodata(&a));
        Ok(TiffPair {
            before: b,
            after: a,
            geo,
            w,
            h,
            band: band - 1,
            nodata,
        })
    }

    /// The before file as opened.
    pub fn before(&self) -> &GeoTiff {
        &self.before.tiff
    }

    /// Image size (width, height) in pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    /// Strips: whole chunk rows, at least `rows` rows each.
    fn bounds(&self, rows: usize) -> Vec<(usize, usize)> {
        strip_bounds(self.h, rows, self.geo.chunk_h)
    }
}

/// Per-thread buffers: compressed bytes and decoded chunks of both images, and a row
/// of band-1 samples when the file is pixel-interleaved.
#[derive(Default)]
struct Scratch {
    raw: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
    row_a: Vec<u8>,
    row_b: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Undoes the horizontal predictor of Byte rows in place (`spp` interleaved samples).
fn undo_predictor(buf: &mut [u8], row_len: usize, spp: usize) {
    for row in buf.chunks_exact_mut(row_len * spp) {
        for i in spp..row.len() {
            row[i] = row[i].wrapping_add(row[i - spp]);
        }
    }
}

/// Band `band` (0-based) of an interleaved row into `out`.
fn band_of<'a>(row: &'a [u8], spp: usize, band: usize, out: &'a mut Vec<u8>) -> &'a [u8] {
    if spp == 1 {
        return row;
    }
    out.clear();
    out.extend(row.iter().skip(band).step_by(spp));
    out
}

/// Chunk geometry of chunk column `cx` in chunk row `cy`: index, first column, width
/// of valid pixels, first row, rows of valid pixels, stored row length.
fn chunk_at(pair: &TiffPair, cx: usize, cy: usize) -> (usize, usize, usize, usize, usize, usize) {
    let g = &pair.geo;
    let (x0, y0) = (cx * g.chunk_w, cy * g.chunk_h);
    let stride = if g.tiled { g.chunk_w } else { pair.w };
    let plane = if g.planar { pair.band } else { 0 };
    (
        (plane * g.chunks_down + cy) * g.chunks_across + cx,
        x0,
        stride.min(pair.w - x0),
        y0,
        g.chunk_h.min(pair.h - y0),
        stride,
    )
}

/// Chunk `idx` of both files into the scratch buffers (as stored, predictor not undone).
fn read_both(pair: &TiffPair, idx: usize, s: &mut Scratch) -> Result<()> {
    pair.before
        .tiff
        .read_chunk_bytes(&pair.before.file, idx, &mut s.raw, &mut s.a)?;
    pair.after
        .tiff
        .read_chunk_bytes(&pair.after.file, idx, &mut s.raw, &mut s.b)?;
    Ok(())
}

fn fill_strip(pair: &TiffPair, t: u8, r0: usize, r1: usize, band: &mut Band) -> Result<()> {
    let g = pair.geo;
    let spp = if g.planar { 1 } else { g.samples };
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        for cy in r0 / g.chunk_h..r1.div_ceil(g.chunk_h) {
            for cx in 0..g.chunks_across {
                let (idx, x0, cw, y0, ch, stride) = chunk_at(pair, cx, cy);
                read_both(pair, idx, s)?;
                if g.predictor == 2 {
                    undo_predictor(&mut s.a, stride, spp);
                    undo_predictor(&mut s.b, stride, spp);
                }
                let (w0, nwords) = (x0 / 64, words(cw));
                for r in y0.max(r0)..(y0 + ch).min(r1) {
                    let off = (r - y0) * stride * spp;
                    let ra = band_of(&s.a[off..off + cw * spp], spp, pair.band, &mut s.row_a);
                    let rb = band_of(&s.b[off..off + cw * spp], spp, pair.band, &mut s.row_b);
                    let out = &mut band.row_mut(r)[w0..w0 + nwords];
                    diff_bits(ra, rb, t, out);
                    clear_nodata(ra, rb, pair.nodata.0, pair.nodata.1, out);
                }
            }
        }
        Ok(())
    })
}

/// Changed blobs of a GeoTIFF pair, streamed strip by strip on the current rayon pool.
/// Identical to [`super::changed_blobs`] on the decoded band 1 of both files.
/// Refused with a one-line error naming the file when the seams kept between strips (8
/// bit-packed rows per strip) and the strips decoded at once would not fit the memory
/// budget ([`crate::memory::budget`]): a huge or sparse pair gives a message, never an
/// abort.
pub fn changed_blobs_files(pair: &TiffPair, p: &HotParams) -> Result<Vec<ChangedBlob>> {
    let bounds = pair.bounds(p.strip_rows);
    let row_bytes = (super::bits::words(pair.w) * 8) as u64;
    let strip_rows = bounds.iter().map(|(a, b)| b - a).max().unwrap_or(0) as u64;
    let chunk_bytes = (pair.w as u64)
        .saturating_mul(pair.geo.chunk_h as u64)
        .saturating_mul(4);
    let need = (bounds.len() as u64)
        .saturating_mul(8 * row_bytes)
        .saturating_add(
            (rayon::current_num_threads() as u64).saturating_mul(strip_rows * row_bytes + chunk_bytes),
        );
    let budget = crate::memory::budget().total_mib();
    if need >> 20 > budget {
        return Err(crate::error::Error::Memory(format!(
            "{}: scanning {}x{} pixels needs {}, over the memory budget of {}; scan a smaller image or raise --max-site-mib",
            pair.before().info().path.display(),
            pair.w,
            pair.h,
            crate::memory::show_mib(need >> 20),
            crate::memory::show_mib(budget)
        )));
    }
    label_strips(pair.w, pair.h, &bounds, p, |r0, r1, band| {
        fill_strip(pair, p.threshold, r0, r1, band)
    })
}

/// Reads and decodes every chunk of both files over the same strips, in parallel, and
/// nothing more; returns a checksum so the work cannot be optimised away.
pub fn inflate_only(pair: &TiffPair, strip_rows: usize) -> Result<u64> {
    let g = pair.geo;
    let sums = pair
        .bounds(strip_rows)
        .par_iter()
        .map(|&(r0, r1)| {
            SCRATCH.with(|s| {
                let s = &mut *s.borrow_mut();
                let mut sum = 0u64;
                for cy in r0 / g.chunk_h..r1.div_ceil(g.chunk_h) {
                    for cx in 0..g.chunks_across {
                        let idx = chunk_at(pair, cx, cy).0;
                        read_both(pair, idx, s)?;
                        sum += s.a[s.a.len() / 2] as u64 + s.b[s.b.len() / 3] as u64;
                    }
                }
                Ok(sum)
            })
        })
        .collect::<Result<Vec<u64>>>()?;
    Ok(sums.iter().sum())
}

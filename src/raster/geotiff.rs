//! Pure-Rust GeoTIFF reader on top of the `tiff` crate.
//!
//! Reads striped and tiled TIFF and BigTIFF, uncompressed, DEFLATE, LZW and PackBits,
//! horizontal (2) and floating-point (3) predictors, 8/16/32/64-bit integer and float
//! samples, chunky and planar layouts. Georeferencing follows the GeoTIFF 1.1 standard
//! (OGC 19-008r4): ModelPixelScale + ModelTiepoint or ModelTransformation, and the
//! GeoKeyDirectory's ProjectedCSTypeGeoKey (3072) / GeographicTypeGeoKey (2048) for the
//! EPSG code; PixelIsPoint rasters are shifted by half a pixel as GDAL does. Nodata comes
//! from GDAL's ASCII tag 42113.
//!
//! Only the chunks (strips or tiles) that intersect a requested window are decoded.
//! Anything else (JPEG, JPEG2000, WebP, ZSTD compression, YCbCr, sub-byte samples, user-
//! defined CRSs without an EPSG code) is refused with [`Error::Unsupported`], which tells
//! the user to build with `--features gdal`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use tiff::decoder::{ChunkType, Decoder, Limits};
use tiff::tags::{ByteOrder, Tag};

use super::decode::{decompress, inflate_into, samples_to_f64, Codec, SampleKind};
use super::geotiff_header as header;
pub use super::geotiff_header::parse_nodata;
use super::geotiff_header::Georef;

use ndarray::Array3;

use super::{Block, RasterInfo, RasterSource, Window};
use crate::error::{Error, Result};

/// Largest strip or tile (compressed or decoded) the reader accepts.
const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// Memory limits handed to the decoder: a single chunk may not exceed these, so a
/// malformed header cannot make us allocate gigabytes.
fn limits() -> Limits {
    let mut l = Limits::default();
    l.decoding_buffer_size = 256 << 20;
    l.intermediate_buffer_size = 128 << 20;
    l.ifd_value_size = 4 << 20;
    l
}

/// Chunk layout of an opened file.
#[derive(Debug, Clone)]
struct Layout {
    chunk_w: usize,
    chunk_h: usize,
    chunks_across: usize,
    chunks_down: usize,
    planar: bool,
    samples: usize,
    tiled: bool,
    codec: Codec,
    kind: SampleKind,
    predictor: u16,
    little_endian: bool,
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
}

/// Chunk layout facts of an opened file (see [`GeoTiff::chunk_geometry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkGeometry {
    pub chunk_w: usize,
    pub chunk_h: usize,
    pub chunks_across: usize,
    pub chunks_down: usize,
    pub samples: usize,
    pub tiled: bool,
    pub planar: bool,
    /// 8-bit unsigned samples.
    pub byte_samples: bool,
    /// TIFF predictor tag (1 none, 2 horizontal, 3 floating point).
    pub predictor: u16,
}

/// An opened GeoTIFF. Cheap to share across threads: each read opens its own handle.
#[derive(Debug)]
pub struct GeoTiff {
    info: RasterInfo,
    layout: Layout,
}

fn open_decoder(path: &Path) -> Result<Decoder<BufReader<File>>> {
    let mut reader = BufReader::new(crate::fsutil::open_regular(path)?);
    super::ifd_check::check_ascii_tags(path, &mut reader, limits().decoding_buffer_size as u64)?;
    let dec = Decoder::new(reader).map_err(|e| Error::decode(path, e))?;
    Ok(dec.with_limits(limits()))
}

/// Runs a decoding step, turning a panic inside the decoder into an error.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(Error::not_raster(
            path,
            "the TIFF decoder failed on malformed data",
        )),
    }
}

impl GeoTiff {
    /// Opens `path` and reads its header and georeferencing (no pixels).
    pub fn open(path: &Path) -> Result<GeoTiff> {
        guarded(path, || Self::open_inner(path, Georef::Required))
    }

    /// Opens a TIFF for its pixels only: missing georeferencing is not an error (the
    /// transform is then the identity and the EPSG code 0). For tests and tools that
    /// wrap plain images; `compare` always uses [`GeoTiff::open`].
    pub fn open_pixels_only(path: &Path) -> Result<GeoTiff> {
        guarded(path, || Self::open_inner(path, Georef::Optional))
    }

    fn open_inner(path: &Path, georef: Georef) -> Result<GeoTiff> {
        sniff_format(path)?;
        let mut dec = open_decoder(path)?;
        let nr = |e: tiff::TiffError| Error::decode(path, e);

        let codec = header::codec(&mut dec, path)?;
        let (samples, data_type, kind) = header::sample_type(&mut dec, path)?;
        let planar = dec
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .map_err(nr)?
            .unwrap_or(1)
            == 2;
        let (w, h) = dec.dimensions().map_err(nr)?;
        let (width, height) = (w as usize, h as usize);
        if width == 0 || height == 0 {
            return Err(Error::not_raster(path, "zero-sized image"));
        }
        let predictor: u16 = dec.find_tag_unsigned(Tag::Predictor).map_err(nr)?.unwrap_or(1);
        let (cw, ch) = dec.chunk_dimensions();
        let (chunk_w, chunk_h) = (cw as usize, ch as usize);
        if chunk_w == 0 || chunk_h == 0 {
            return Err(Error::not_raster(path, "zero-sized strips or tiles"));
        }
        let tiled = dec.get_chunk_type() == ChunkType::Tile;
        let (off_tag, cnt_tag) = if tiled {
            (Tag::TileOffsets, Tag::TileByteCounts)
        } else {
            (Tag::StripOffsets, Tag::StripByteCounts)
        };
        let offsets = dec.get_tag_u64_vec(off_tag).map_err(nr)?;
        let byte_counts = dec.get_tag_u64_vec(cnt_tag).map_err(nr)?;
        let chunks_across = if tiled { width.div_ceil(chunk_w) } else { 1 };
        let chunks_down = height.div_ceil(chunk_h);
        let per_plane = chunks_across * chunks_down;
        let expected = if planar { per_plane * samples } else { per_plane };
        if offsets.len() < expected || byte_counts.len() < expected {
            return Err(Error::not_raster(
                path,
                format!(
                    "{} strips/tiles where the image needs {expected}",
                    offsets.len().min(byte_counts.len())
                ),
            ));
        }
        let spp_chunk = if planar { 1 } else { samples };
        let chunk_bytes = (chunk_w as u64) * (chunk_h as u64) * spp_chunk as u64 * kind.size() as u64;
        if chunk_bytes > MAX_CHUNK_BYTES {
            return Err(Error::not_raster(
                path,
                format!("a strip/tile of {chunk_bytes} bytes exceeds the {MAX_CHUNK_BYTES}-byte limit"),
            ));
        }
        let little_endian = dec.byte_order() == ByteOrder::LittleEndian;
        let (transform, epsg) = header::georeferencing(&mut dec, path, georef)?;
        let (nodata, datetime) = header::nodata_and_datetime(&mut dec, path)?;
        Ok(GeoTiff {
            info: RasterInfo {
                path: path.to_path_buf(),
                width,
                height,
                bands: samples,
                data_type,
                epsg,
                transform,
                nodata,
                datetime,
            },
            layout: Layout {
                chunk_w,
                chunk_h,
                chunks_across,
                chunks_down,
                planar,
                samples,
                tiled,
                codec,
                kind,
                predictor,
                little_endian,
                offsets,
                byte_counts,
            },
        })
    }

    /// The strips/tiles (index, plane, column, row) a window needs, in file order of
    /// planes then rows then columns. Only these are read and decoded.
    pub fn chunks_for(&self, window: Window) -> Vec<(usize, usize, usize, usize)> {
        let l = &self.layout;
        if window.width == 0 || window.height == 0 {
            return Vec::new();
        }
        let cx0 = window.col_off / l.chunk_w;
        let cx1 = (window.col_off + window.width - 1) / l.chunk_w;
        let cy0 = window.row_off / l.chunk_h;
        let cy1 = (window.row_off + window.height - 1) / l.chunk_h;
        let per_plane = l.chunks_across * l.chunks_down;
        let planes = if l.planar { l.samples } else { 1 };
        let mut out = Vec::new();
        for plane in 0..planes {
            for cy in cy0..=cy1 {
                for cx in cx0..=cx1 {
                    out.push((plane * per_plane + cy * l.chunks_across + cx, plane, cx, cy));
                }
            }
        }
        out
    }

    /// The chunk layout, for fast paths that work on stored bytes.
    pub fn chunk_geometry(&self) -> ChunkGeometry {
        let l = &self.layout;
        ChunkGeometry {
            chunk_w: l.chunk_w,
            chunk_h: l.chunk_h,
            chunks_across: l.chunks_across,
            chunks_down: l.chunks_down,
            samples: l.samples,
            tiled: l.tiled,
            planar: l.planar,
            byte_samples: l.kind == SampleKind::U8,
            predictor: l.predictor,
        }
    }

    /// Reads chunk `idx` with `pread` on `file` (an open handle of this file, so that
    /// threads can share it) and decompresses it into `out`, resized to the chunk's
    /// decoded size. The bytes are as stored: the predictor is not undone. `raw` is a
    /// reusable buffer for the compressed bytes. A sparse chunk (GDAL SPARSE_OK, no bytes
    /// stored) decodes to zeros and returns `false`; otherwise `true`.
    pub fn read_chunk_bytes(
        &self,
        file: &File,
        idx: usize,
        raw: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let (info, l) = (&self.info, &self.layout);
        let path = info.path.as_path();
        let cy = idx % (l.chunks_across * l.chunks_down) / l.chunks_across;
        let (dw, dh) = if l.tiled {
            (l.chunk_w, l.chunk_h)
        } else {
            (info.width, l.chunk_h.min(info.height - cy * l.chunk_h))
        };
        let spp = if l.planar { 1 } else { l.samples };
        let expected = dw * dh * spp * l.kind.size();
        out.resize(expected, 0);
        let (off, cnt) = match (l.offsets.get(idx), l.byte_counts.get(idx)) {
            (Some(&o), Some(&c)) => (o, c),
            _ => return Err(Error::not_raster(path, format!("no strip/tile {idx}"))),
        };
        if cnt == 0 {
            out.fill(0);
            return Ok(false);
        }
        if cnt > MAX_CHUNK_BYTES {
            return Err(Error::not_raster(path, format!("strip/tile {idx} is too large")));
        }
        let outside = || Error::not_raster(path, format!("strip/tile {idx} lies outside the file"));
        if off.checked_add(cnt).is_none_or(|end| end > i64::MAX as u64) {
            return Err(outside());
        }
        raw.resize(cnt as usize, 0);
        file.read_exact_at(raw, off).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => outside(),
            _ => Error::io(path, e),
        })?;
        let n = match l.codec {
            Codec::None => {
                let n = expected.min(raw.len());
                out[..n].copy_from_slice(&raw[..n]);
                n
            }
            Codec::Deflate => inflate_into(raw, out)
                .map_err(|e| Error::not_raster(path, format!("strip/tile {idx}: {e}")))?,
            codec => {
                let v = decompress(codec, raw, expected)
                    .map_err(|e| Error::not_raster(path, format!("strip/tile {idx}: {e}")))?;
                out.copy_from_slice(&v[..expected]);
                expected
            }
        };
        if n < expected {
            return Err(Error::not_raster(
                path,
                format!("strip/tile {idx} decodes to {n} bytes, {expected} expected"),
            ));
        }
        Ok(true)
    }

    fn read_inner(&self, window: Window) -> Result<Block> {
        let info = &self.info;
        let path = info.path.as_path();
        window.check_inside(info)?;
        let l = &self.layout;
        let mut out = super::alloc_block(path, l.samples, window.height, window.width, f32::NAN)?;
        let file = crate::fsutil::open_regular(path)?;
        let nodata = info.nodata;
        let spp = if l.planar { 1 } else { l.samples };
        let (mut raw, mut bytes) = (Vec::new(), Vec::new());
        for (idx, plane, cx, cy) in self.chunks_for(window) {
            // Tiles are stored full size; a strip holds only the rows left.
            let (dw, dh) = if l.tiled {
                (l.chunk_w, l.chunk_h)
            } else {
                (info.width, l.chunk_h.min(info.height - cy * l.chunk_h))
            };
            if !self.read_chunk_bytes(&file, idx, &mut raw, &mut bytes)? {
                continue; // sparse chunk: stays nodata
            }
            let vals = samples_to_f64(&bytes, l.kind, l.little_endian, l.predictor, dw, spp)
                .map_err(|e| Error::not_raster(path, format!("strip/tile {idx}: {e}")))?;
            let vals = to_f32(&vals, nodata);
            let (dw, dh) = (
                dw.min(info.width - cx * l.chunk_w),
                dh.min(info.height - cy * l.chunk_h),
            );
            let stride = if l.tiled { l.chunk_w } else { info.width };
            let x0 = cx * l.chunk_w;
            let y0 = cy * l.chunk_h;
            let r_lo = window.row_off.max(y0);
            let r_hi = (window.row_off + window.height).min(y0 + dh);
            let c_lo = window.col_off.max(x0);
            let c_hi = (window.col_off + window.width).min(x0 + dw);
            for r in r_lo..r_hi {
                let src_row = (r - y0) * stride * spp;
                for c in c_lo..c_hi {
                    let base = src_row + (c - x0) * spp;
                    for s in 0..spp {
                        let band = if l.planar { plane } else { s };
                        out[[band, r - window.row_off, c - window.col_off]] = vals[base + s];
                    }
                }
            }
        }
        Ok(Block { window, data: out })
    }
}

impl GeoTiff {
    /// [`RasterSource::read_rows`]: every chunk holding a wanted row is decompressed once
    /// and only the wanted rows are converted to samples.
    fn rows_inner(&self, rows: &[usize]) -> Result<Array3<f32>> {
        let info = &self.info;
        let path = info.path.as_path();
        let l = &self.layout;
        if rows.iter().any(|&r| r >= info.height) || rows.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::input(path, "rows outside the raster or not ascending"));
        }
        let mut out = super::alloc_block(path, l.samples, rows.len(), info.width, f32::NAN)?;
        let file = crate::fsutil::open_regular(path)?;
        let spp = if l.planar { 1 } else { l.samples };
        let sz = l.kind.size();
        let planes = if l.planar { l.samples } else { 1 };
        let per_plane = l.chunks_across * l.chunks_down;
        let (mut raw, mut bytes) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < rows.len() {
            let cy = rows[i] / l.chunk_h;
            let j = i + rows[i..].iter().take_while(|&&r| r / l.chunk_h == cy).count();
            for plane in 0..planes {
                for cx in 0..l.chunks_across {
                    let idx = plane * per_plane + cy * l.chunks_across + cx;
                    if !self.read_chunk_bytes(&file, idx, &mut raw, &mut bytes)? {
                        continue; // sparse chunk: stays nodata
                    }
                    let dw = if l.tiled { l.chunk_w } else { info.width };
                    let row_bytes = dw * spp * sz;
                    let x0 = cx * l.chunk_w;
                    let w_here = dw.min(info.width - x0);
                    for (k, &r) in rows[i..j].iter().enumerate() {
                        let off = (r - cy * l.chunk_h) * row_bytes;
                        let Some(row) = bytes.get(off..off + row_bytes) else {
                            return Err(Error::not_raster(path, format!("strip/tile {idx}: short")));
                        };
                        let vals = samples_to_f64(row, l.kind, l.little_endian, l.predictor, dw, spp)
                            .map_err(|e| Error::not_raster(path, format!("strip/tile {idx}: {e}")))?;
                        let vals = to_f32(&vals, info.nodata);
                        for c in 0..w_here {
                            for s in 0..spp {
                                let band = if l.planar { plane } else { s };
                                out[[band, i + k, x0 + c]] = vals[c * spp + s];
                            }
                        }
                    }
                }
            }
            i = j;
        }
        Ok(out)
    }
}

impl RasterSource for GeoTiff {
    fn info(&self) -> &RasterInfo {
        &self.info
    }

    fn read_window(&self, window: Window) -> Result<Block> {
        guarded(&self.info.path, || self.read_inner(window))
    }

    fn read_rows(&self, rows: &[usize]) -> Result<Array3<f32>> {
        guarded(&self.info.path, || self.rows_inner(rows))
    }
}

/// Checks the file's magic bytes: TIFF and BigTIFF pass; other raster formats GDAL
/// reads are refused with the GDAL hint; anything else is "not a TIFF".
pub(crate) fn sniff_format(path: &Path) -> Result<()> {
    let mut head = [0u8; 12];
    let mut f = crate::fsutil::open_regular(path)?;
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    let h = &head[..n];
    let tiff = [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"];
    if tiff.iter().any(|m| h.starts_with(&m[..])) {
        return Ok(());
    }
    let what = if h.starts_with(&[0, 0, 0, 0x0C, b'j', b'P', b' ', b' '])
        || h.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
    {
        "a JPEG2000 file"
    } else if h.starts_with(b"NITF") || h.starts_with(b"NSIF") {
        "a NITF file"
    } else if h.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "a JPEG file"
    } else if h.starts_with(&[0x89, b'P', b'N', b'G']) {
        "a PNG file"
    } else if h.starts_with(b"\x89HDF") || h.starts_with(b"CDF") {
        "a netCDF/HDF file"
    } else {
        return Err(Error::not_raster(path, "not a TIFF file"));
    };
    Err(Error::unsupported(path, what))
}

/// Converts decoded samples to f32, mapping nodata (and NaN) to NaN. The nodata test is
/// done in f64 before rounding to f32, so -3.4e38-style sentinels match exactly.
fn to_f32(v: &[f64], nodata: Option<f64>) -> Vec<f32> {
    match nodata {
        Some(nd) if !nd.is_nan() => v
            .iter()
            .map(|&x| if x == nd { f32::NAN } else { x as f32 })
            .collect(),
        _ => v.iter().map(|&x| x as f32).collect(),
    }
}

#[cfg(test)]
#[path = "geotiff_tests.rs"]
mod tests;

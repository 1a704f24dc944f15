//! Streaming tiled GeoTIFF writer for large Byte images (archives, benchmarks).
//!
//! Tiles are produced by a callback one row of tiles at a time, DEFLATE-compressed in
//! parallel and appended in order; the IFD (TIFF 6.0, little-endian, classic offsets)
//! goes at the end, then the temporary file is renamed into place. Memory stays at one
//! row of tiles whatever the image size. Identical uniform tiles are compressed once.
//! Gotcha: classic TIFF offsets are 32-bit, so the compressed file must stay under
//! 4 GiB (a generated, mostly uniform scene of 40000x40000x3 is a few MB).

use std::collections::HashMap;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;
use std::sync::Mutex;

use flate2::write::ZlibEncoder;
use rayon::prelude::*;

use super::tag_value::Val;
use super::write::{georef_tags, GeoMeta};
use crate::error::{Error, Result};
use crate::fsutil::temp_path;

/// zlib-wrapped DEFLATE (TIFF compression 8), fast level.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

/// Writes a `width` x `height` Byte GeoTIFF of `bands` (1-4, interleaved) in `tile`-pixel
/// square tiles (a multiple of 16). `fill(tx, ty, buf)` fills tile (tx, ty) as
/// `[row][col][band]`, tile_size^2 x bands bytes; edge tiles are full size (padding).
pub fn write_tiled_u8<F>(
    path: &Path,
    width: usize,
    height: usize,
    bands: usize,
    tile: usize,
    meta: &GeoMeta,
    fill: F,
) -> Result<()>
where
    F: Fn(usize, usize, &mut [u8]) + Sync,
{
    write_tiled_u8_with(
        path,
        (width, height, bands, tile),
        TileCompression::Deflate,
        meta,
        fill,
    )
}

/// Tile compression of [`write_tiled_u8_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileCompression {
    /// TIFF compression 8 (zlib), at the fast level (1).
    Deflate,
    /// Uncompressed tiles.
    None,
}

/// [`write_tiled_u8`] with a choice of compression; `shape` is (width, height, bands,
/// tile size).
pub fn write_tiled_u8_with<F>(
    path: &Path,
    shape: (usize, usize, usize, usize),
    compression: TileCompression,
    meta: &GeoMeta,
    fill: F,
) -> Result<()>
where
    F: Fn(usize, usize, &mut [u8]) + Sync,
{
    let (_, _, bands, tile) = shape;
    if !(1..=4).contains(&bands) || tile == 0 || tile % 16 != 0 {
        return Err(Error::Write {
            path: path.to_path_buf(),
            msg: "the tiled writer needs 1-4 bands and a tile size multiple of 16".into(),
        });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = temp_path(path);
    let res = write_inner(&tmp, shape, compression, meta, &fill);
    match res.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_inner<F>(
    tmp: &Path,
    (width, height, bands, tile): (usize, usize, usize, usize),
    compression: TileCompression,
    meta: &GeoMeta,
    fill: &F,
) -> Result<()>
where
    F: Fn(usize, usize, &mut [u8]) + Sync,
{
    let io = |e: std::io::Error| Error::io(tmp, e);
    let f = std::fs::File::create(tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    w.write_all(b"II*\0\0\0\0\0").map_err(io)?;
    let (ntx, nty) = (width.div_ceil(tile), height.div_ceil(tile));
    let mut offsets = Vec::with_capacity(ntx * nty);
    let mut counts = Vec::with_capacity(ntx * nty);
    let mut pos: u64 = 8;
    let uniform: Mutex<HashMap<Vec<u8>, Vec<u8>>> = Mutex::new(HashMap::new());
    for ty in 0..nty {
        let row: Vec<Vec<u8>> = (0..ntx)
            .into_par_iter()
            .map(|tx| {
                let mut buf = vec![0u8; tile * tile * bands];
                fill(tx, ty, &mut buf);
                if compression == TileCompression::None {
                    return buf;
                }
                let px = &buf[..bands];
                if buf.chunks_exact(bands).all(|c| c == px) {
                    if let Some(z) = uniform.lock().expect("cache").get(px) {
                        return z.clone();
                    }
                    let z = deflate(&buf);
                    uniform.lock().expect("cache").insert(px.to_vec(), z.clone());
                    z
                } else {
                    deflate(&buf)
                }
            })
            .collect();
        for z in row {
            if pos + z.len() as u64 > u32::MAX as u64 {
                return Err(Error::Write {
                    path: tmp.to_path_buf(),
                    msg: "over 4 GiB compressed (classic TIFF)".into(),
                });
            }
            offsets.push(pos as u32);
            counts.push(z.len() as u32);
            w.write_all(&z).map_err(io)?;
            pos += z.len() as u64;
        }
    }
    let mut tags: Vec<(u16, Val)> = vec![
        (256, Val::Long(vec![width as u32])),
        (257, Val::Long(vec![height as u32])),
        (258, Val::Short(vec![8; bands])),
        (
            259,
            Val::Short(vec![if compression == TileCompression::None {
                1
            } else {
                8
            }]),
        ),
        (262, Val::Short(vec![if bands >= 3 { 2 } else { 1 }])),
        (277, Val::Short(vec![bands as u16])),
        (284, Val::Short(vec![1])),
        (
            305,
            Val::Ascii(concat!("stagewatch ", env!("CARGO_PKG_VERSION")).into()),
        ),
        (322, Val::Long(vec![tile as u32])),
        (323, Val::Long(vec![tile as u32])),
        (324, Val::Long(offsets)),
        (325, Val::Long(counts)),
        (339, Val::Short(vec![1; bands])),
    ];
    tags.extend(georef_tags(meta)?);
    if let Some(dt) = &meta.datetime {
        tags.push((306, Val::Ascii(dt.clone())));
    }
    if bands == 2 || bands == 4 {
        tags.push((338, Val::Short(vec![0])));
    }
    tags.sort_by_key(|(t, _)| *t);
    // Word-align the IFD.
    if pos % 2 == 1 {
        w.write_all(&[0]).map_err(io)?;
        pos += 1;
    }
    let ifd_pos = pos;
    let (ifd, extra, extra_pos) = ifd_bytes(&tags, ifd_pos, 0);
    if extra_pos > u32::MAX as u64 {
        return Err(Error::Write {
            path: tmp.to_path_buf(),
            msg: "over 4 GiB (classic TIFF)".into(),
        });
    }
    w.write_all(&ifd).map_err(io)?;
    w.write_all(&extra).map_err(io)?;
    w.seek(std::io::SeekFrom::Start(4)).map_err(io)?;
    w.write_all(&(ifd_pos as u32).to_le_bytes()).map_err(io)?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)
}

/// The IFD at `ifd_pos` holding `tags` (sorted by tag), pointing to the next IFD at
/// `next_ifd` (0: none), and the out-of-line values that follow it (word-aligned);
/// returns both and the offset just past the values.
pub(crate) fn ifd_bytes(tags: &[(u16, Val)], ifd_pos: u64, next_ifd: u32) -> (Vec<u8>, Vec<u8>, u64) {
    let ifd_len = 2 + 12 * tags.len() as u64 + 4;
    let mut extra_pos = ifd_pos + ifd_len;
    let mut ifd = Vec::new();
    let mut extra = Vec::new();
    ifd.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    for (tag, v) in tags {
        let (ty, n) = v.type_count();
        let b = v.bytes();
        ifd.extend_from_slice(&tag.to_le_bytes());
        ifd.extend_from_slice(&ty.to_le_bytes());
        ifd.extend_from_slice(&n.to_le_bytes());
        if b.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..b.len()].copy_from_slice(&b);
            ifd.extend_from_slice(&inline);
        } else {
            ifd.extend_from_slice(&(extra_pos as u32).to_le_bytes());
            extra.extend_from_slice(&b);
            extra_pos += b.len() as u64;
            if extra_pos % 2 == 1 {
                extra.push(0);
                extra_pos += 1;
            }
        }
    }
    ifd.extend_from_slice(&next_ifd.to_le_bytes());
    (ifd, extra, extra_pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::{geotiff::GeoTiff, read_all, GeoTransform, RasterSource};

    #[test]
    fn a_rotated_transform_is_written_as_a_model_transformation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.tif");
        let meta = GeoMeta {
            epsg: 32636,
            transform: GeoTransform([500000.0, 0.4, 0.3, 5300000.0, 0.3, -0.4]),
            nodata: None,
            datetime: None,
        };
        write_tiled_u8(&p, 32, 32, 1, 16, &meta, |_, _, buf| buf.fill(9)).unwrap();
        assert_eq!(GeoTiff::open(&p).unwrap().info().transform, meta.transform);
    }

    #[test]
    fn tiled_roundtrip_with_edge_tiles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tif");
        let (w, h, t) = (100, 70, 32);
        let meta = GeoMeta {
            epsg: 32636,
            transform: GeoTransform::north_up(500000.0, 5300000.0, 0.5, 0.5),
            nodata: None,
            datetime: Some("2026:01:02 00:00:00".into()),
        };
        let val = |x: usize, y: usize, b: usize| {
            if x > 60 {
                7u8
            } else {
                ((x * 3 + y * 5 + b) % 251) as u8
            }
        };
        write_tiled_u8(&p, w, h, 3, t, &meta, |tx, ty, buf| {
            for r in 0..t {
                for c in 0..t {
                    for b in 0..3 {
                        buf[(r * t + c) * 3 + b] = val(tx * t + c, ty * t + r, b);
                    }
                }
            }
        })
        .unwrap();
        let g = GeoTiff::open(&p).unwrap();
        assert_eq!((g.info().width, g.info().height, g.info().bands), (w, h, 3));
        assert_eq!(g.info().transform, meta.transform);
        let blk = read_all(&g).unwrap();
        for (y, x, b) in [(0, 0, 0), (69, 99, 2), (33, 40, 1), (10, 61, 0)] {
            assert_eq!(blk.data[[b, y, x]], val(x, y, b) as f32, "{x},{y},{b}");
        }
        // The tiff crate reads it too.
        let mut d = tiff::decoder::Decoder::new(std::fs::File::open(&p).unwrap()).unwrap();
        assert_eq!(d.dimensions().unwrap(), (100, 70));
    }
}

//! Decoding of one TIFF strip or tile from its raw bytes (TIFF 6.0 sections 9, 13, 14;
//! Adobe Photoshop TIFF technical note 3 for the floating-point predictor).
//!
//! The `tiff` crate parses the directory; decompression is done here so that every
//! sample of every band is kept (the crate drops "extra samples" of RGB images, such as
//! the NIR band of an RGBN tile) and so that output sizes are bounded by the chunk's
//! declared size: a malformed stream can never make us allocate more than that.
//!
//! Gotcha: the floating-point predictor stores each row byte-shuffled, most significant
//! bytes first, *whatever the file's byte order*.

use std::io::Read;

/// Compression schemes the pure-Rust reader decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Lzw,
    Deflate,
    PackBits,
}

/// Decompresses `data` into exactly `expected` bytes (shorter output is an error, longer
/// output is cut, as libtiff does).
pub fn decompress(codec: Codec, data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let out = match codec {
        Codec::None => data
            .get(..expected)
            .map(<[u8]>::to_vec)
            .ok_or("uncompressed chunk is truncated")?,
        Codec::Deflate => {
            let mut out = vec![0u8; expected];
            let n = inflate_into(data, &mut out)?;
            out.truncate(n);
            out
        }
        Codec::Lzw => lzw(data, expected)?,
        Codec::PackBits => packbits(data, expected)?,
    };
    if out.len() < expected {
        return Err(format!(
            "chunk decodes to {} bytes, {} expected",
            out.len(),
            expected
        ));
    }
    Ok(out)
}

thread_local! {
    static INFLATER: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// Inflates a zlib stream (TIFF compression 8 and 32946) into `out`, returning the
/// bytes written. libdeflate (one reusable decompressor per thread) does the work; a
/// stream that decodes to more than `out` holds is cut to fit, as libtiff does, through
/// the streaming inflater.
pub fn inflate_into(data: &[u8], out: &mut [u8]) -> Result<usize, String> {
    let r = INFLATER.with(|d| d.borrow_mut().zlib_decompress(data, out));
    match r {
        Ok(n) => Ok(n),
        Err(libdeflater::DecompressionError::InsufficientSpace) => {
            let mut dec = flate2::read::ZlibDecoder::new(data);
            let mut pos = 0;
            while pos < out.len() {
                match dec.read(&mut out[pos..]) {
                    Ok(0) => break,
                    Ok(n) => pos += n,
                    Err(e) => return Err(format!("DEFLATE stream: {e}")),
                }
            }
            Ok(pos)
        }
        Err(e) => Err(format!("DEFLATE stream: {e}")),
    }
}

fn lzw(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut dec = weezl::decode::Configuration::with_tiff_size_switch(weezl::BitOrder::Msb, 8).build();
    let mut out = vec![0u8; expected];
    let (mut inp, mut pos) = (0usize, 0usize);
    while pos < expected {
        let r = dec.decode_bytes(&data[inp..], &mut out[pos..]);
        inp += r.consumed_in;
        pos += r.consumed_out;
        match r.status {
            Ok(weezl::LzwStatus::Ok) => {
                if r.consumed_in == 0 && r.consumed_out == 0 {
                    break;
                }
            }
            Ok(weezl::LzwStatus::Done) | Ok(weezl::LzwStatus::NoProgress) => break,
            Err(e) => return Err(format!("LZW stream: {e}")),
        }
    }
    out.truncate(pos);
    Ok(out)
}

/// Apple PackBits (TIFF 6.0 section 9).
pub fn packbits(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected);
    let mut i = 0;
    while i < data.len() && out.len() < expected {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let lit = data
                .get(i..i + len)
                .ok_or("PackBits literal runs past the data")?;
            out.extend_from_slice(lit);
            i += len;
        } else if n != -128 {
            let v = *data.get(i).ok_or("PackBits repeat runs past the data")?;
            out.extend(std::iter::repeat_n(v, 1 + (-(n as i16)) as usize));
            i += 1;
        }
    }
    out.truncate(expected);
    Ok(out)
}

/// Sample encoding of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl SampleKind {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            SampleKind::U8 | SampleKind::I8 => 1,
            SampleKind::U16 | SampleKind::I16 => 2,
            SampleKind::U32 | SampleKind::I32 | SampleKind::F32 => 4,
            SampleKind::F64 => 8,
        }
    }
}

/// Undoes predictor 2 (horizontal differencing) in place on native-endian integer
/// samples; `row_samples` samples per row, `spp` interleaved samples per pixel.
fn undo_horizontal<T: Copy>(v: &mut [T], row_samples: usize, spp: usize, add: impl Fn(T, T) -> T) {
    for row in v.chunks_mut(row_samples) {
        for i in spp..row.len() {
            row[i] = add(row[i], row[i - spp]);
        }
    }
}

/// Converts decoded chunk bytes to f64 samples, undoing the predictor. `little` is the
/// file byte order; `width` is the chunk's pixel width (rows are `width * spp` samples).
pub fn samples_to_f64(
    bytes: &[u8],
    kind: SampleKind,
    little: bool,
    predictor: u16,
    width: usize,
    spp: usize,
) -> Result<Vec<f64>, String> {
    let row_samples = width * spp;
    if row_samples == 0 {
        return Ok(Vec::new());
    }
    let sz = kind.size();
    if predictor == 3 {
        if !matches!(kind, SampleKind::F32 | SampleKind::F64) {
            return Err("floating-point predictor on integer samples".into());
        }
        let row_bytes = row_samples * sz;
        let mut out = Vec::with_capacity(bytes.len() / sz);
        let mut tmp = vec![0u8; row_bytes];
        for row in bytes.chunks_exact(row_bytes) {
            tmp.copy_from_slice(row);
            for i in spp..row_bytes {
                tmp[i] = tmp[i].wrapping_add(tmp[i - spp]);
            }
            for s in 0..row_samples {
                let mut be = [0u8; 8];
                for b in 0..sz {
                    be[b] = tmp[b * row_samples + s];
                }
                out.push(if sz == 4 {
                    f32::from_be_bytes([be[0], be[1], be[2], be[3]]) as f64
                } else {
                    f64::from_be_bytes(be)
                });
            }
        }
        return Ok(out);
    }
    if predictor != 1 && predictor != 2 {
        return Err(format!("unknown predictor {predictor}"));
    }
    let horiz = predictor == 2;
    macro_rules! ints {
        ($t:ty, $n:expr) => {{
            let mut v: Vec<$t> = bytes
                .chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().expect("chunk size");
                    if little {
                        <$t>::from_le_bytes(a)
                    } else {
                        <$t>::from_be_bytes(a)
                    }
                })
                .collect();
            if horiz {
                undo_horizontal(&mut v, row_samples, spp, |a: $t, b: $t| a.wrapping_add(b));
            }
            v.into_iter().map(|x| x as f64).collect()
        }};
    }
    Ok(match kind {
        SampleKind::U8 => ints!(u8, 1),
        SampleKind::I8 => ints!(i8, 1),
        SampleKind::U16 => ints!(u16, 2),
        SampleKind::I16 => ints!(i16, 2),
        SampleKind::U32 => ints!(u32, 4),
        SampleKind::I32 => ints!(i32, 4),
        SampleKind::F32 => {
            if horiz {
                return Err("horizontal predictor on floating-point samples".into());
            }
            bytes
                .chunks_exact(4)
                .map(|c| {
                    let a: [u8; 4] = c.try_into().expect("4 bytes");
                    (if little {
                        f32::from_le_bytes(a)
                    } else {
                        f32::from_be_bytes(a)
                    }) as f64
                })
                .collect()
        }
        SampleKind::F64 => {
            if horiz {
                return Err("horizontal predictor on floating-point samples".into());
            }
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let a: [u8; 8] = c.try_into().expect("8 bytes");
                    if little {
                        f64::from_le_bytes(a)
                    } else {
                        f64::from_be_bytes(a)
                    }
                })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_example_from_the_spec() {
        let packed = [
            0xFE, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA,
        ];
        let want = [
            0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22, 0xAA, 0xAA,
            0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        ];
        assert_eq!(packbits(&packed, want.len()).unwrap(), want);
    }

    #[test]
    fn horizontal_predictor_u16_big_endian() {
        // One row, 3 pixels x 2 samples: (1,10) (+1,+1) (+1,+1).
        let bytes = [0, 1, 0, 10, 0, 1, 0, 1, 0, 1, 0, 1];
        let v = samples_to_f64(&bytes, SampleKind::U16, false, 2, 3, 2).unwrap();
        assert_eq!(v, vec![1.0, 10.0, 2.0, 11.0, 3.0, 12.0]);
    }

    #[test]
    fn float_predictor_roundtrip() {
        let vals = [1.5f32, -2.25, 1000.0];
        let n = vals.len();
        let mut shuffled = vec![0u8; n * 4];
        for (s, v) in vals.iter().enumerate() {
            for (b, byte) in v.to_be_bytes().iter().enumerate() {
                shuffled[b * n + s] = *byte;
            }
        }
        for i in (1..shuffled.len()).rev() {
            shuffled[i] = shuffled[i].wrapping_sub(shuffled[i - 1]);
        }
        let v = samples_to_f64(&shuffled, SampleKind::F32, true, 3, 3, 1).unwrap();
        assert_eq!(v, vec![1.5, -2.25, 1000.0]);
    }

    #[test]
    fn truncated_streams_are_errors_not_panics() {
        assert!(decompress(Codec::Deflate, &[0x78, 0x9c, 0x01], 100).is_err());
        assert!(decompress(Codec::None, &[1, 2], 3).is_err());
        assert!(packbits(&[0x05, 1], 10).is_err());
    }
}

//! A look at the first image file directory (IFD) before the `tiff` crate reads it
//! (TIFF 6.0 §2, BigTIFF): every ASCII tag must fit the decoder's buffer limit.
//!
//! Gotcha this exists for: `tiff` 0.11.3 answers an over-long ASCII tag with
//! `dbg!(TiffError::LimitsExceeded)` (decoder/ifd.rs:723), which prints a second line
//! on stderr that no caller can suppress, and the tag (a `DateTime`, say) then reads as
//! absent. Refusing such a file here gives the one-line error instead.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};

/// TIFF field type 2: ASCII.
const ASCII: u16 = 2;
/// Most IFD entries looked at (a real first IFD has a few dozen).
const MAX_ENTRIES: u64 = 1 << 16;

/// Errors when an ASCII tag of the first IFD of the opened file `f` (named `path`) is
/// longer than `max_bytes`, and rewinds `f` for the decoder. Anything this walk cannot
/// read is left for the decoder to report.
pub fn check_ascii_tags(path: &Path, f: &mut (impl Read + Seek), max_bytes: u64) -> Result<()> {
    let longest = first_ifd_ascii_max(f);
    f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
    match longest {
        Some((tag, count)) if count > max_bytes => Err(Error::not_raster(
            path,
            format!("ASCII tag {tag} holds {count} bytes, over the limit of {max_bytes}"),
        )),
        _ => Ok(()),
    }
}

/// (tag, count) of the longest ASCII entry of the first IFD, None when unreadable.
fn first_ifd_ascii_max(f: &mut (impl Read + Seek)) -> Option<(u16, u64)> {
    let mut head = [0u8; 16];
    f.read_exact(&mut head[..8]).ok()?;
    let le = match &head[..2] {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |b: &[u8]| {
        let a = [b[0], b[1]];
        if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    };
    let u32_at = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u64_at = |b: &[u8]| {
        let a: [u8; 8] = b[..8].try_into().expect("8 bytes");
        if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    let big = match u16_at(&head[2..4]) {
        42 => false,
        43 => true,
        _ => return None,
    };
    let (ifd, entry_len) = if big {
        f.read_exact(&mut head[8..16]).ok()?;
        (u64_at(&head[8..16]), 20usize)
    } else {
        (u32_at(&head[4..8]) as u64, 12usize)
    };
    f.seek(SeekFrom::Start(ifd)).ok()?;
    let n = if big {
        let mut b = [0u8; 8];
        f.read_exact(&mut b).ok()?;
        u64_at(&b)
    } else {
        let mut b = [0u8; 2];
        f.read_exact(&mut b).ok()?;
        u16_at(&b) as u64
    };
    let mut best: Option<(u16, u64)> = None;
    let mut e = [0u8; 20];
    for _ in 0..n.min(MAX_ENTRIES) {
        f.read_exact(&mut e[..entry_len]).ok()?;
        let (tag, typ) = (u16_at(&e[0..2]), u16_at(&e[2..4]));
        let count = if big {
            u64_at(&e[4..12])
        } else {
            u32_at(&e[4..8]) as u64
        };
        if typ == ASCII && best.is_none_or(|(_, c)| count > c) {
            best = Some((tag, count));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A classic little-endian header and one IFD of (tag, type, count) entries.
    fn tiff(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut b = b"II*\0".to_vec();
        b.extend(8u32.to_le_bytes());
        b.extend((entries.len() as u16).to_le_bytes());
        for &(t, ty, c) in entries {
            b.extend(t.to_le_bytes());
            b.extend(ty.to_le_bytes());
            b.extend(c.to_le_bytes());
            b.extend(0u32.to_le_bytes());
        }
        b.extend(0u32.to_le_bytes());
        b
    }

    #[test]
    fn finds_the_longest_ascii_tag() {
        let b = tiff(&[(256, 3, 1), (270, 2, 40), (306, 2, 0x2000_0000), (305, 2, 9)]);
        assert_eq!(first_ifd_ascii_max(&mut Cursor::new(b)), Some((306, 0x2000_0000)));
        let b = tiff(&[(256, 3, 1)]);
        assert_eq!(first_ifd_ascii_max(&mut Cursor::new(b)), None);
        assert_eq!(first_ifd_ascii_max(&mut Cursor::new(b"GIF89a..".to_vec())), None);
    }

    #[test]
    fn big_endian_and_bigtiff_headers() {
        // Big-endian classic: one ASCII entry of 77 bytes.
        let mut b = b"MM\0*".to_vec();
        b.extend(8u32.to_be_bytes());
        b.extend(1u16.to_be_bytes());
        b.extend(306u16.to_be_bytes());
        b.extend(2u16.to_be_bytes());
        b.extend(77u32.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        assert_eq!(first_ifd_ascii_max(&mut Cursor::new(b)), Some((306, 77)));
        // BigTIFF little-endian: header 16 bytes, 8-byte counts.
        let mut b = b"II+\0".to_vec();
        b.extend(8u16.to_le_bytes());
        b.extend(0u16.to_le_bytes());
        b.extend(16u64.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend(270u16.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend((5u64 << 32).to_le_bytes());
        b.extend(0u64.to_le_bytes());
        assert_eq!(first_ifd_ascii_max(&mut Cursor::new(b)), Some((270, 5 << 32)));
    }
}

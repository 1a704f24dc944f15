//! Images as the page embeds them: the chip PNGs (kept lossless on disk for briefs)
//! re-encoded as JPEG for the page, halved until a site's pair fits its share of
//! [`PAGE_CHIP_BUDGET_BYTES`], so that a report of a few hundred sites stays a file one
//! can mail (the 25 MB for 200 sites). The transparent overlays stay PNG (they
//! are mostly empty and compress to a few KB) and are scaled by the page's CSS.

use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};

/// Bytes all sites' before and after chips may take in a page (before base64).
pub const PAGE_CHIP_BUDGET_BYTES: usize = 16 << 20;
/// A site's share never goes below this, so a huge watch list still shows something.
pub const MIN_SITE_BUDGET_BYTES: usize = 12 << 10;
/// JPEG quality of embedded chips.
pub const JPEG_QUALITY: u8 = 82;
/// Smallest side a chip is halved to.
pub const MIN_CHIP_SIDE_PX: u32 = 64;

/// PNG bytes of one site's chips, read back from `chips/`.
#[derive(Debug, Clone, Default)]
pub struct SiteChipFiles {
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
    pub change: Option<Vec<u8>>,
    pub unobserved: Option<Vec<u8>>,
}

/// An image ready for a `data:` URI.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// A site's images as the page shows them.
#[derive(Debug, Clone, Default)]
pub struct PageChips {
    pub before: Option<Embedded>,
    pub after: Option<Embedded>,
    pub change: Option<Embedded>,
    pub unobserved: Option<Embedded>,
}

/// JPEG bytes of `img` (alpha dropped).
pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    img.write_with_encoder(enc).expect("JPEG encoding into memory");
    out
}

fn decode(png: &Option<Vec<u8>>) -> Option<RgbImage> {
    png.as_ref()
        .and_then(|b| image::load_from_memory(b).ok())
        .map(|i| i.to_rgb8())
}

/// The before and after chips as JPEG, halved (area average) until both fit `budget`.
fn pair_within(
    before: Option<RgbImage>,
    after: Option<RgbImage>,
    budget: usize,
) -> (Option<Embedded>, Option<Embedded>) {
    let (mut b, mut a) = (before, after);
    loop {
        let jb = b.as_ref().map(jpeg);
        let ja = a.as_ref().map(jpeg);
        let size = jb.as_ref().map_or(0, Vec::len) + ja.as_ref().map_or(0, Vec::len);
        let side = b.as_ref().or(a.as_ref()).map_or(0, |i| i.width().min(i.height()));
        if size <= budget || side / 2 < MIN_CHIP_SIDE_PX {
            let wrap = |bytes: Vec<u8>| Embedded {
                mime: "image/jpeg",
                bytes,
            };
            return (jb.map(wrap), ja.map(wrap));
        }
        let half = |i: RgbImage| {
            let (w, h) = (i.width().div_ceil(2), i.height().div_ceil(2));
            DynamicImage::ImageRgb8(i)
                .resize_exact(w, h, FilterType::Triangle)
                .to_rgb8()
        };
        b = b.map(half);
        a = a.map(half);
    }
}

/// Every site's chips for the page, each pair within its share of the budget.
pub fn page_chips(files: &[SiteChipFiles]) -> Vec<PageChips> {
    let share = (PAGE_CHIP_BUDGET_BYTES / files.len().max(1)).max(MIN_SITE_BUDGET_BYTES);
    files
        .iter()
        .map(|f| {
            let (before, after) = pair_within(decode(&f.before), decode(&f.after), share);
            let png = |b: &Option<Vec<u8>>| {
                b.clone().map(|bytes| Embedded {
                    mime: "image/png",
                    bytes,
                })
            };
            PageChips {
                before,
                after,
                change: png(&f.change),
                unobserved: png(&f.unobserved),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(w: u32, h: u32) -> RgbImage {
        let mut s = 12345u32;
        RgbImage::from_fn(w, h, |_, _| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image::Rgb([(s >> 24) as u8, (s >> 16) as u8, (s >> 8) as u8])
        })
    }

    #[test]
    fn pairs_shrink_until_they_fit_their_budget() {
        let (b, a) = pair_within(Some(noisy(400, 300)), Some(noisy(400, 300)), 40_000);
        let (b, a) = (b.unwrap(), a.unwrap());
        assert_eq!(b.mime, "image/jpeg");
        assert!(b.bytes.len() + a.bytes.len() <= 40_000);
        let img = image::load_from_memory(&b.bytes).unwrap();
        assert!(img.width() < 400 && img.width() >= MIN_CHIP_SIDE_PX);
        // A generous budget keeps the full size.
        let (b, _) = pair_within(Some(noisy(100, 80)), None, 1 << 20);
        assert_eq!(image::load_from_memory(&b.unwrap().bytes).unwrap().width(), 100);
    }

    #[test]
    fn a_page_of_many_sites_stays_within_the_budget() {
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(noisy(512, 512))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let files = vec![
            SiteChipFiles {
                before: Some(png.clone()),
                after: Some(png),
                change: None,
                unobserved: None,
            };
            200
        ];
        let chips = page_chips(&files);
        let total: usize = chips
            .iter()
            .map(|c| c.before.as_ref().unwrap().bytes.len() + c.after.as_ref().unwrap().bytes.len())
            .sum();
        assert!(total <= PAGE_CHIP_BUDGET_BYTES, "{total}");
    }
}

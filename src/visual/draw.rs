//! Drawing on RGBA chips: vehicle rings, the site outline, mask overlays and polygon
//! edges (Bresenham's line algorithm, 1965), and PNG encoding. Pure: a [`Canvas`] in,
//! the same canvas changed.

/// An RGBA image, row-major, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// A colour with alpha.
pub type Rgba = [u8; 4];

/// Ring of a vehicle counted on both dates (it has a counterpart on the other date).
pub const MATCHED: Rgba = [0, 220, 255, 255];
/// Ring of a vehicle counted before with no counterpart after: gone.
pub const GONE: Rgba = [255, 40, 40, 255];
/// Ring of a vehicle counted after with no counterpart before: arrived.
pub const ARRIVED: Rgba = [255, 200, 0, 255];
/// Site polygon outline.
pub const OUTLINE: Rgba = [255, 255, 255, 255];
/// Change-mask overlay (half transparent magenta).
pub const CHANGE: Rgba = [255, 0, 255, 150];
/// Not-observed overlay (half transparent blue-grey).
pub const UNOBSERVED: Rgba = [90, 110, 200, 150];

impl Canvas {
    /// A transparent canvas.
    pub fn transparent(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            rgba: vec![0; width * height * 4],
        }
    }

    /// The pixel at (x, y).
    pub fn get(&self, x: usize, y: usize) -> Rgba {
        let i = (y * self.width + x) * 4;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }

    /// Sets (x, y) when it lies on the canvas.
    pub fn put(&mut self, x: i64, y: i64, c: Rgba) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 4;
            self.rgba[i..i + 4].copy_from_slice(&c);
        }
    }

    /// PNG bytes (8-bit RGBA).
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::png::PngEncoder::new(&mut out);
        image::ImageEncoder::write_image(
            enc,
            &self.rgba,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgba8,
        )
        .expect("PNG encoding into memory cannot fail for a consistent canvas");
        out
    }
}

/// A ring of outer radius `radius` and `thickness` pixels around (cx, cy) (pixel
/// centres at +0.5, like blob centroids).
pub fn ring(c: &mut Canvas, cx: f64, cy: f64, radius: f64, thickness: f64, colour: Rgba) {
    let r_out = radius.max(1.0);
    let r_in = (r_out - thickness).max(0.0);
    let (x0, x1) = ((cx - r_out).floor() as i64, (cx + r_out).ceil() as i64);
    let (y0, y1) = ((cy - r_out).floor() as i64, (cy + r_out).ceil() as i64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let d = (x as f64 + 0.5 - cx).hypot(y as f64 + 0.5 - cy);
            if d <= r_out && d >= r_in {
                c.put(x, y, colour);
            }
        }
    }
}

/// Draws the edge of `mask` (its pixels with a 4-neighbour outside it, or on the
/// canvas border) in `colour`.
pub fn outline(c: &mut Canvas, mask: &[bool], colour: Rgba) {
    let (w, h) = (c.width, c.height);
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            let edge = x == 0
                || y == 0
                || x + 1 == w
                || y + 1 == h
                || !mask[y * w + x - 1]
                || !mask[y * w + x + 1]
                || !mask[(y - 1) * w + x]
                || !mask[(y + 1) * w + x];
            if edge {
                c.put(x as i64, y as i64, colour);
            }
        }
    }
}

/// A transparent canvas with `colour` where `mask` holds.
pub fn overlay(width: usize, height: usize, mask: &[bool], colour: Rgba) -> Canvas {
    let mut c = Canvas::transparent(width, height);
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        c.rgba[i * 4..i * 4 + 4].copy_from_slice(&colour);
    }
    c
}

/// A one-pixel line from (x0, y0) to (x1, y1) (Bresenham), clipped to the canvas.
pub fn line(c: &mut Canvas, (x0, y0): (i64, i64), (x1, y1): (i64, i64), colour: Rgba) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    // Bounded so that a far-off vertex cannot stall the drawing.
    for _ in 0..=(dx - dy).min(1 << 16) {
        c.put(x, y, colour);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn painted(c: &Canvas, colour: Rgba) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for y in 0..c.height {
            for x in 0..c.width {
                if c.get(x, y) == colour {
                    v.push((x, y));
                }
            }
        }
        v
    }

    #[test]
    fn a_ring_is_hollow_and_centred() {
        let mut c = Canvas::transparent(11, 11);
        ring(&mut c, 5.5, 5.5, 4.0, 1.0, GONE);
        let p = painted(&c, GONE);
        assert!(!p.is_empty());
        assert_eq!(c.get(5, 5), [0, 0, 0, 0], "the centre stays clear");
        for (x, y) in &p {
            let d = (*x as f64 + 0.5 - 5.5).hypot(*y as f64 + 0.5 - 5.5);
            assert!((3.0..=4.0).contains(&d), "pixel ({x},{y}) at {d}");
        }
        // Symmetric about the centre.
        for (x, y) in &p {
            assert_eq!(c.get(10 - x, 10 - y), GONE);
        }
    }

    #[test]
    fn rings_off_the_canvas_are_clipped() {
        let mut c = Canvas::transparent(4, 4);
        ring(&mut c, -1.0, -1.0, 3.0, 1.0, MATCHED);
        ring(&mut c, 100.0, 100.0, 3.0, 1.0, MATCHED);
        assert!(painted(&c, MATCHED).len() < 16);
    }

    #[test]
    fn the_outline_of_a_square_is_its_border() {
        let (w, h) = (5, 5);
        let mut mask = vec![false; w * h];
        for y in 1..4 {
            for x in 1..4 {
                mask[y * w + x] = true;
            }
        }
        let mut c = Canvas::transparent(w, h);
        outline(&mut c, &mask, OUTLINE);
        let p = painted(&c, OUTLINE);
        assert_eq!(p.len(), 8, "3x3 square: all but its centre");
        assert!(!p.contains(&(2, 2)));
    }

    #[test]
    fn overlays_are_transparent_outside_the_mask() {
        let c = overlay(2, 1, &[true, false], CHANGE);
        assert_eq!((c.get(0, 0), c.get(1, 0)), (CHANGE, [0, 0, 0, 0]));
    }

    #[test]
    fn lines_join_their_ends_without_gaps() {
        let mut c = Canvas::transparent(8, 8);
        line(&mut c, (0, 0), (7, 3), OUTLINE);
        let p = painted(&c, OUTLINE);
        assert!(p.contains(&(0, 0)) && p.contains(&(7, 3)));
        assert_eq!(p.len(), 8, "one pixel per column along the major axis");
        let mut c = Canvas::transparent(3, 3);
        line(&mut c, (-5, 1), (10, 1), OUTLINE);
        assert_eq!(painted(&c, OUTLINE).len(), 3);
    }

    #[test]
    fn png_round_trips() {
        let mut c = Canvas::transparent(3, 2);
        c.put(1, 1, GONE);
        let img = image::load_from_memory(&c.to_png()).unwrap().to_rgba8();
        assert_eq!((img.width(), img.height()), (3, 2));
        assert_eq!(img.get_pixel(1, 1).0, GONE);
    }
}

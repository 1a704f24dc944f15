//! The synthetic world: objects placed in a metric "world" CRS and a colour function
//! that says what a sensor sees at a world point on a given date.
//!
//! Ground is grass with low-frequency variation and fine texture fixed to the ground
//! (the same on both dates); gravel pads hold rows of vehicles (olive rectangles with a
//! shadow cast to the north-west); single trees, tree clusters, buildings with shadows
//! and dirt roads are confusers. Objects are bucketed on a 16 m grid for lookup.

/// A rotated rectangle: centre, half-length along `heading`, half-width across it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RectObj {
    pub cx: f64,
    pub cy: f64,
    pub half_len: f64,
    pub half_wid: f64,
    /// Radians, counter-clockwise from +x (east).
    pub heading: f64,
}

impl RectObj {
    /// True when (x, y) lies inside.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (s, c) = self.heading.sin_cos();
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = dx * c + dy * s;
        let v = -dx * s + dy * c;
        u.abs() <= self.half_len && v.abs() <= self.half_wid
    }

    /// The same rectangle moved by (dx, dy).
    pub fn shifted(&self, dx: f64, dy: f64) -> RectObj {
        RectObj {
            cx: self.cx + dx,
            cy: self.cy + dy,
            ..*self
        }
    }

    /// Axis-aligned bounding box.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        let r = self.half_len.hypot(self.half_wid);
        (self.cx - r, self.cy - r, self.cx + r, self.cy + r)
    }

    /// The four corners, counter-clockwise.
    pub fn corners(&self) -> [(f64, f64); 4] {
        let (s, c) = self.heading.sin_cos();
        let p = |u: f64, v: f64| (self.cx + u * c - v * s, self.cy + u * s + v * c);
        [
            p(-self.half_len, -self.half_wid),
            p(self.half_len, -self.half_wid),
            p(self.half_len, self.half_wid),
            p(-self.half_len, self.half_wid),
        ]
    }
}

/// What covers a point, in drawing order (later wins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Road,
    Pad,
    TreeShadow,
    BuildingShadow,
    VehicleShadow,
    Building,
    Tree,
    Vehicle,
    Turret,
}

/// One object of the world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    Rect(RectObj),
    Disc { cx: f64, cy: f64, r: f64 },
}

impl Shape {
    fn contains(&self, x: f64, y: f64) -> bool {
        match self {
            Shape::Rect(r) => r.contains(x, y),
            Shape::Disc { cx, cy, r } => (x - cx).powi(2) + (y - cy).powi(2) <= r * r,
        }
    }
    fn bbox(&self) -> (f64, f64, f64, f64) {
        match self {
            Shape::Rect(r) => r.bbox(),
            Shape::Disc { cx, cy, r } => (cx - r, cy - r, cx + r, cy + r),
        }
    }
}

/// Objects visible on one date, bucketed for lookup.
pub struct World {
    objects: Vec<(Kind, Shape)>,
    cell: f64,
    origin: (f64, f64),
    cols: usize,
    rows: usize,
    buckets: Vec<Vec<u32>>,
}

/// Deterministic hash of integers to [0, 1).
pub fn hash01(a: i64, b: i64, c: u64) -> f64 {
    let mut h = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ c.wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Smooth value noise of period `scale` metres in [-1, 1].
fn value_noise(x: f64, y: f64, scale: f64, seed: u64) -> f64 {
    let (gx, gy) = (x / scale, y / scale);
    let (x0, y0) = (gx.floor(), gy.floor());
    let (fx, fy) = (gx - x0, gy - y0);
    let s = |t: f64| t * t * (3.0 - 2.0 * t);
    let v = |i: f64, j: f64| hash01(i as i64, j as i64, seed) * 2.0 - 1.0;
    let a = v(x0, y0) + (v(x0 + 1.0, y0) - v(x0, y0)) * s(fx);
    let b = v(x0, y0 + 1.0) + (v(x0 + 1.0, y0 + 1.0) - v(x0, y0 + 1.0)) * s(fx);
    a + (b - a) * s(fy)
}

impl World {
    /// Buckets `objects` over the box `bounds` (min_x, min_y, max_x, max_y).
    pub fn new(objects: Vec<(Kind, Shape)>, bounds: (f64, f64, f64, f64)) -> World {
        let cell = 16.0;
        let cols = (((bounds.2 - bounds.0) / cell).ceil() as usize).max(1);
        let rows = (((bounds.3 - bounds.1) / cell).ceil() as usize).max(1);
        let mut buckets = vec![Vec::new(); cols * rows];
        for (i, (_, s)) in objects.iter().enumerate() {
            let b = s.bbox();
            let c0 = (((b.0 - bounds.0) / cell).floor().max(0.0) as usize).min(cols - 1);
            let c1 = (((b.2 - bounds.0) / cell).floor().max(0.0) as usize).min(cols - 1);
            let r0 = (((b.1 - bounds.1) / cell).floor().max(0.0) as usize).min(rows - 1);
            let r1 = (((b.3 - bounds.1) / cell).floor().max(0.0) as usize).min(rows - 1);
            for r in r0..=r1 {
                for c in c0..=c1 {
                    buckets[r * cols + c].push(i as u32);
                }
            }
        }
        World {
            objects,
            cell,
            origin: (bounds.0, bounds.1),
            cols,
            rows,
            buckets,
        }
    }

    /// The topmost object kind at (x, y), if any.
    pub fn kind_at(&self, x: f64, y: f64) -> Option<Kind> {
        let c = ((x - self.origin.0) / self.cell).floor();
        let r = ((y - self.origin.1) / self.cell).floor();
        if c < 0.0 || r < 0.0 || c as usize >= self.cols || r as usize >= self.rows {
            return None;
        }
        let mut best: Option<(usize, Kind)> = None;
        for &i in &self.buckets[r as usize * self.cols + c as usize] {
            let (k, s) = self.objects[i as usize];
            if s.contains(x, y) {
                let rank = k as usize;
                if best.is_none_or(|(b, _)| rank >= b) {
                    best = Some((rank, k));
                }
            }
        }
        best.map(|(_, k)| k)
    }

    /// Reflectance (blue-green-red-like visible bands plus near infrared, 0..1) at
    /// world point (x, y) in `season`.
    pub fn reflectance(&self, x: f64, y: f64, season: Season) -> [f64; 4] {
        let grain = hash01((x * 2.0).floor() as i64, (y * 2.0).floor() as i64, 7) - 0.5;
        let patch = value_noise(x, y, 40.0, 11);
        let kind = self.kind_at(x, y);
        let base: [f64; 4] = match (season, kind) {
            (Season::Summer, None) => {
                let g = 0.035 * patch + 0.03 * grain;
                [0.24 + g, 0.31 + g, 0.17 + g * 0.8, 0.45 + g]
            }
            (Season::Snow, None) => {
                let g = 0.02 * patch + 0.01 * grain;
                [0.84 + g, 0.85 + g, 0.87 + g, 0.80 + g]
            }
            (Season::Summer, Some(Kind::Road)) => {
                let g = 0.03 * grain;
                [0.50 + g, 0.46 + g, 0.38 + g, 0.35 + g]
            }
            (Season::Snow, Some(Kind::Road)) => [0.55 + 0.03 * grain, 0.54, 0.52, 0.45],
            (Season::Summer, Some(Kind::Pad)) => {
                let g = 0.035 * grain + 0.01 * patch;
                [0.60 + g, 0.58 + g, 0.54 + g, 0.32 + g]
            }
            (Season::Snow, Some(Kind::Pad)) => {
                let g = 0.03 * grain;
                [0.72 + g, 0.72 + g, 0.73 + g, 0.66 + g]
            }
            (_, Some(Kind::Tree)) => {
                let g = 0.04 * grain;
                [0.07 + g, 0.14 + g, 0.05 + g, 0.50 + g]
            }
            (Season::Summer, Some(Kind::TreeShadow | Kind::BuildingShadow)) => [0.08, 0.09, 0.08, 0.12],
            (Season::Snow, Some(Kind::TreeShadow | Kind::BuildingShadow)) => [0.30, 0.32, 0.38, 0.28],
            (Season::Summer, Some(Kind::VehicleShadow)) => [0.09, 0.09, 0.08, 0.08],
            (Season::Snow, Some(Kind::VehicleShadow)) => [0.28, 0.30, 0.36, 0.26],
            (_, Some(Kind::Building)) => [0.72 + 0.01 * grain, 0.70, 0.68, 0.38],
            (Season::Steppe, None) => {
                // Dusty steppe: fractal (fBm) brightness with worn tracks of bare soil.
                let f = fbm(x, y, 13);
                let track = (value_noise(x, y, 25.0, 17).abs() < 0.06) as i32 as f64;
                let g = 0.06 * f + 0.03 * grain + 0.08 * track;
                [0.30 + g, 0.31 + g, 0.24 + 0.8 * g, 0.40 + g]
            }
            (Season::Steppe, Some(Kind::Pad)) => {
                // Worn concrete hardstanding: slabs, stains and grain.
                let slab = hash01((x / 4.0).floor() as i64, (y / 4.0).floor() as i64, 21) - 0.5;
                let g = 0.04 * fbm(x, y, 23) + 0.03 * grain + 0.03 * slab;
                [0.52 + g, 0.51 + g, 0.48 + g, 0.34 + g]
            }
            (Season::Steppe, Some(Kind::Road)) => {
                let g = 0.04 * grain + 0.03 * fbm(x, y, 29);
                [0.44 + g, 0.41 + g, 0.35 + g, 0.33 + g]
            }
            (_, Some(Kind::Vehicle)) if season != Season::Steppe => [0.15 + 0.01 * grain, 0.17, 0.11, 0.14],
            (_, Some(Kind::Vehicle)) => {
                // Olive drab with per-vehicle tone (slow noise) and panel grain.
                let tone = 0.03 * value_noise(x, y, 5.0, 31);
                let g = 0.012 * grain + tone;
                [0.15 + g, 0.17 + g, 0.11 + g, 0.14 + g]
            }
            (_, Some(Kind::Turret)) => [0.20 + 0.01 * grain, 0.22, 0.15, 0.17],
            (Season::Steppe, Some(Kind::TreeShadow | Kind::BuildingShadow | Kind::VehicleShadow)) => {
                [0.10, 0.11, 0.10, 0.12]
            }
        };
        base.map(|v| v.clamp(0.0, 1.0))
    }
}

/// Ground cover of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Season {
    Summer,
    Snow,
    /// Dry steppe with fractal texture and tracks (the vehicle-park scenarios).
    Steppe,
}

/// Fractal Brownian motion: four octaves of value noise from 24 m to 1.5 m, in [-1, 1].
fn fbm(x: f64, y: f64, seed: u64) -> f64 {
    let mut v = 0.0;
    let mut amp = 0.5;
    for (i, scale) in [24.0, 8.0, 3.0, 1.5].iter().enumerate() {
        v += amp * value_noise(x, y, *scale, seed + i as u64);
        amp *= 0.55;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_rect_contains() {
        let r = RectObj {
            cx: 0.0,
            cy: 0.0,
            half_len: 3.0,
            half_wid: 1.0,
            heading: std::f64::consts::FRAC_PI_2,
        };
        assert!(r.contains(0.0, 2.9) && !r.contains(2.0, 0.0));
    }

    #[test]
    fn topmost_kind_wins() {
        let pad = Shape::Rect(RectObj {
            cx: 0.0,
            cy: 0.0,
            half_len: 10.0,
            half_wid: 10.0,
            heading: 0.0,
        });
        let veh = Shape::Rect(RectObj {
            cx: 0.0,
            cy: 0.0,
            half_len: 3.0,
            half_wid: 1.5,
            heading: 0.0,
        });
        let w = World::new(
            vec![(Kind::Vehicle, veh), (Kind::Pad, pad)],
            (-20.0, -20.0, 20.0, 20.0),
        );
        assert_eq!(w.kind_at(0.0, 0.0), Some(Kind::Vehicle));
        assert_eq!(w.kind_at(5.0, 5.0), Some(Kind::Pad));
        assert_eq!(w.kind_at(15.0, 15.0), None);
    }
}

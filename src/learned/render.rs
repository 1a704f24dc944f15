//! Procedurally rendered vehicles for training: domain randomisation (Tobin et al.,
//! *Domain Randomization for Transferring Deep Neural Networks from Simulation to the
//! Real World*, 2017).
//!
//! Real labelled vehicles come from aerial cars and a few satellite tank screenshots; the
//! look of a vehicle park from a satellite (dark or light box bodies side by side, a turret
//! or a cab, a cast shadow) is under-represented. Here a patch of real ground gets 1-14
//! vehicle-like bodies drawn into it, each a labelled centre: rotated rectangles of random
//! length (3.8-10.5 m) and aspect, tone (dark, light or coloured relative to the ground),
//! optional turret disc or cab, a shadow along a random sun azimuth, singly or packed in a
//! row (side by side or nose to tail, 0.4-1.2 m gaps). Unlabelled distractors (building-
//! sized blocks, small squares, thin stripes) keep the model from firing on any rectangle.
//!
//! Everything is randomised per patch; this code shares nothing with the scene generator in
//! `synth/` (whose scenes measure the model). Values are in stretched units (ground near 0).

use super::net::Tensor;
use super::rng::SplitMix64;

/// One rectangle on the patch: centre (px), half-extents along and across its axis (px),
/// axis angle, and a tone offset per band (added to the ground or set as the body level).
#[derive(Debug, Clone, Copy)]
struct Rect {
    u: f32,
    v: f32,
    half_len: f32,
    half_wid: f32,
    angle: f32,
}

impl Rect {
    /// Coverage of pixel centre (pu, pv) with a linear ramp of `soft` px at the edge.
    fn coverage(&self, pu: f32, pv: f32, soft: f32) -> f32 {
        let (s, c) = self.angle.sin_cos();
        let (du, dv) = (pu - self.u, pv - self.v);
        let along = (c * du + s * dv).abs() - self.half_len;
        let across = (-s * du + c * dv).abs() - self.half_wid;
        let out = along.max(across);
        (0.5 - out / soft).clamp(0.0, 1.0)
    }

    fn bounds(&self, w: usize, h: usize) -> (usize, usize, usize, usize) {
        let r = self.half_len.hypot(self.half_wid) + 2.0;
        let u0 = (self.u - r).floor().max(0.0) as usize;
        let v0 = (self.v - r).floor().max(0.0) as usize;
        let u1 = ((self.u + r).ceil().max(0.0) as usize).min(w);
        let v1 = ((self.v + r).ceil().max(0.0) as usize).min(h);
        (u0, u1, v0, v1)
    }
}

/// What one patch's vehicles share: the shadow offset (px, along the sun azimuth) and the
/// edge softness (px, the optics' blur).
#[derive(Debug, Clone, Copy)]
struct Look {
    shadow_px: (f32, f32),
    soft_px: f32,
}

/// How a shape changes the pixels it covers.
#[derive(Debug, Clone, Copy)]
enum Paint {
    /// Blend towards this level per band (a body).
    Set([f32; 3]),
    /// Add this offset per band (a shadow: negative).
    Shift([f32; 3]),
}

fn draw(x: &mut Tensor, r: &Rect, paint: Paint, soft: f32, rng: &mut SplitMix64) {
    let (u0, u1, v0, v1) = r.bounds(x.w, x.h);
    for pv in v0..v1 {
        for pu in u0..u1 {
            let a = r.coverage(pu as f32 + 0.5, pv as f32 + 0.5, soft);
            if a <= 0.0 {
                continue;
            }
            let px = &mut x.data[(pv * x.w + pu) * 3..][..3];
            let n = 0.03 * rng.normal();
            for b in 0..3 {
                px[b] = match paint {
                    Paint::Set(level) => px[b] * (1.0 - a) + (level[b] + n) * a,
                    Paint::Shift(d) => px[b] + d[b] * a,
                };
            }
        }
    }
}

fn draw_disc(x: &mut Tensor, u: f32, v: f32, radius: f32, level: [f32; 3], soft: f32) {
    let r = Rect {
        u,
        v,
        half_len: radius,
        half_wid: radius,
        angle: 0.0,
    };
    let (u0, u1, v0, v1) = r.bounds(x.w, x.h);
    for pv in v0..v1 {
        for pu in u0..u1 {
            let d = (pu as f32 + 0.5 - u).hypot(pv as f32 + 0.5 - v);
            let a = (0.5 - (d - radius) / soft).clamp(0.0, 1.0);
            let px = &mut x.data[(pv * x.w + pu) * 3..][..3];
            for b in 0..3 {
                px[b] = px[b] * (1.0 - a) + level[b] * a;
            }
        }
    }
}

/// A body tone relative to the ground: dark, light or coloured.
fn body_tone(ground: [f32; 3], rng: &mut SplitMix64) -> [f32; 3] {
    let pick = rng.f32();
    let jitter = |rng: &mut SplitMix64| rng.range(-0.08, 0.08);
    if pick < 0.5 {
        let d = rng.range(-0.9, -0.2);
        [0, 1, 2].map(|b| ground[b] + d + jitter(rng))
    } else if pick < 0.75 {
        let d = rng.range(0.2, 0.9);
        [0, 1, 2].map(|b| ground[b] + d + jitter(rng))
    } else {
        [0, 1, 2].map(|b| ground[b] + rng.range(-0.5, 0.5))
    }
}

fn patch_mean(x: &Tensor) -> [f32; 3] {
    let mut m = [0.0f64; 3];
    for px in x.data.chunks_exact(3) {
        for b in 0..3 {
            m[b] += px[b] as f64;
        }
    }
    let n = (x.w * x.h).max(1) as f64;
    m.map(|s| (s / n) as f32)
}

/// One vehicle: shadow, body, then a turret or a cab.
fn draw_vehicle(x: &mut Tensor, r: &Rect, tone: [f32; 3], look: Look, rng: &mut SplitMix64) {
    let (shadow_u, shadow_v) = look.shadow_px;
    if shadow_u != 0.0 || shadow_v != 0.0 {
        let darken = -rng.range(0.15, 0.45);
        let s = Rect {
            u: r.u + shadow_u,
            v: r.v + shadow_v,
            ..*r
        };
        draw(x, &s, Paint::Shift([darken; 3]), look.soft_px, rng);
    }
    draw(x, r, Paint::Set(tone), look.soft_px, rng);
    let detail = rng.f32();
    let (s, c) = r.angle.sin_cos();
    if detail < 0.4 {
        let off = rng.range(-0.15, 0.15) * 2.0 * r.half_len;
        let radius = rng.range(0.28, 0.42) * 2.0 * r.half_wid;
        let d = rng.range(-0.25, 0.25);
        draw_disc(
            x,
            r.u + c * off,
            r.v + s * off,
            radius,
            tone.map(|t| t + d),
            look.soft_px,
        );
    } else if detail < 0.7 {
        let share = rng.range(0.2, 0.3);
        let hl = share * r.half_len;
        let off = r.half_len - hl;
        let cab = Rect {
            u: r.u + c * off,
            v: r.v + s * off,
            half_len: hl,
            ..*r
        };
        let d = rng.range(-0.3, 0.3);
        draw(x, &cab, Paint::Set(tone.map(|t| t + d)), look.soft_px, rng);
    }
}

/// Draws 1-14 rendered vehicles (labelled: pushed onto `centres` as (u, v, length m))
/// and up to 3 unlabelled distractors into the patch. `gsd_m` is the patch pixel size.
/// With probability `park_rows`, a row is instead laid out as in a vehicle park: long
/// enough to cross the whole patch (neither end in view, as in the middle of a row of
/// 20-30), and half the time with a second row beside it across a 0.5-3 m aisle. With
/// `park_rows` 0 no extra random draw is made, so the patches are those of the recipe
/// before the option.
pub fn render_vehicles(
    x: &mut Tensor,
    centres: &mut Vec<(f32, f32, f32)>,
    gsd_m: f32,
    park_rows: f32,
    rng: &mut SplitMix64,
) {
    let p = x.w as f32;
    let ground = patch_mean(x);
    let azimuth = rng.range(0.0, std::f32::consts::TAU);
    let shadow_px = if rng.f32() < 0.7 {
        rng.range(0.2, 2.0) / gsd_m
    } else {
        0.0
    };
    let look = Look {
        shadow_px: (azimuth.cos() * shadow_px, azimuth.sin() * shadow_px),
        soft_px: rng.range(0.8, 2.2),
    };
    distractors(x, ground, gsd_m, look, rng);
    let n = 1 + rng.below(14);
    let row = rng.f32() < 0.6;
    let side_by_side = rng.f32() < 0.8;
    let phi = rng.range(0.0, std::f32::consts::TAU);
    let (rs, rc) = phi.sin_cos();
    let start = (rng.range(0.1 * p, 0.9 * p), rng.range(0.1 * p, 0.9 * p));
    // Fields are evaluated in the order written: length, aspect, then tone.
    let mut r = RowState {
        len_m: rng.range(3.8, 10.5),
        aspect: rng.range(0.38, 0.55),
        tone: body_tone(ground, rng),
    };
    let rows = if row && park_rows > 0.0 && rng.f32() < park_rows {
        park_layout(start, phi, side_by_side, &r, (p, gsd_m), rng)
    } else {
        vec![(start, n)]
    };
    // A row's own vehicles are packed closer than the spacing rule allows (a side-by-side
    // pitch is a width plus a gap); they are kept apart by construction instead.
    let before = centres.len();
    for ((mut ru, mut rv), n) in rows {
        for _ in 0..n {
            if !row || rng.f32() < 0.3 {
                r.len_m = rng.range(3.8, 10.5);
                r.aspect = rng.range(0.38, 0.55);
            }
            if !row || rng.f32() < 0.3 {
                r.tone = body_tone(ground, rng);
            }
            let wid_m = (r.len_m * r.aspect).min(3.6);
            let (half_len, half_wid) = (0.5 * r.len_m / gsd_m, 0.5 * wid_m / gsd_m);
            let (u, v, angle) = if row {
                // Half this vehicle's extent along the row, the vehicle, the other half and a gap.
                let half_step = if side_by_side { half_wid } else { half_len };
                let (u, v) = (ru + rc * half_step, rv + rs * half_step);
                let step = 2.0 * half_step + rng.range(0.4, 1.2) / gsd_m;
                ru += rc * step;
                rv += rs * step;
                let axis = if side_by_side {
                    phi + std::f32::consts::FRAC_PI_2
                } else {
                    phi
                };
                (u, v, axis + rng.range(-0.06, 0.06))
            } else {
                let u = rng.range(4.0, p - 4.0);
                (u, rng.range(4.0, p - 4.0), rng.range(0.0, std::f32::consts::TAU))
            };
            if u < 4.0 || v < 4.0 || u > p - 4.0 || v > p - 4.0 {
                continue;
            }
            let others = if row { &centres[..before] } else { &centres[..] };
            if crowded(others, u, v, r.len_m, gsd_m) {
                continue;
            }
            let body = Rect {
                u,
                v,
                half_len,
                half_wid,
                angle,
            };
            draw_vehicle(x, &body, r.tone, look, rng);
            centres.push((u, v, r.len_m));
        }
    }
}

/// Size and tone of the row's current vehicle (a row keeps them 70 % of the time).
struct RowState {
    len_m: f32,
    aspect: f32,
    tone: [f32; 3],
}

/// Park rows through `start` along `phi` on a patch of side `p` px: each row's first
/// vehicle position and its number of vehicles. The row starts a patch diagonal before
/// `start` and runs two diagonals, so it crosses the patch whatever its direction; half
/// the time a second row runs beside it, one vehicle extent plus a 0.5-3 m aisle across.
fn park_layout(
    start: (f32, f32),
    phi: f32,
    side_by_side: bool,
    r: &RowState,
    (p, gsd_m): (f32, f32),
    rng: &mut SplitMix64,
) -> Vec<((f32, f32), usize)> {
    let (rs, rc) = phi.sin_cos();
    let span = 2.0 * std::f32::consts::SQRT_2 * p;
    let pitch_m = if side_by_side { r.len_m * r.aspect } else { r.len_m } + 0.8;
    let n = (span * gsd_m / pitch_m).ceil() as usize + 1;
    let back = 0.5 * span;
    let first = (start.0 - rc * back, start.1 - rs * back);
    let mut rows = vec![(first, n)];
    if rng.f32() < 0.5 {
        let across_m = if side_by_side {
            r.len_m
        } else {
            (r.len_m * r.aspect).min(3.6)
        };
        let off = (across_m + rng.range(0.5, 3.0)) / gsd_m;
        let side = if rng.f32() < 0.5 { 1.0 } else { -1.0 };
        rows.push(((first.0 - rs * off * side, first.1 + rc * off * side), n));
    }
    rows
}

/// Whether a vehicle of `len_m` centred at (u, v) px would sit within 0.6 of a vehicle
/// length (its own or the other's) of one of `others` (u, v, length m): two bodies that
/// close overlap unless they are parked deliberately side by side in one row.
pub fn crowded(others: &[(f32, f32, f32)], u: f32, v: f32, len_m: f32, gsd_m: f32) -> bool {
    others
        .iter()
        .any(|c| (c.0 - u).hypot(c.1 - v) < 0.6 * len_m.max(c.2) / gsd_m)
}

/// Unlabelled shapes that are not vehicles: building-sized blocks (15-40 m), small
/// squares (under 1.6 m) and thin stripes (road markings, 0.3-0.6 m wide).
fn distractors(x: &mut Tensor, ground: [f32; 3], gsd_m: f32, look: Look, rng: &mut SplitMix64) {
    let p = x.w as f32;
    for _ in 0..rng.below(4) {
        let kind = rng.f32();
        let (len_m, wid_m) = if kind < 0.4 {
            (rng.range(15.0, 40.0), rng.range(8.0, 20.0))
        } else if kind < 0.7 {
            let s = rng.range(0.6, 1.6);
            (s, s)
        } else {
            (rng.range(6.0, 30.0), rng.range(0.3, 0.6))
        };
        let r = Rect {
            u: rng.range(0.0, p),
            v: rng.range(0.0, p),
            half_len: 0.5 * len_m / gsd_m,
            half_wid: 0.5 * wid_m / gsd_m,
            angle: rng.range(0.0, std::f32::consts::TAU),
        };
        let tone = body_tone(ground, rng);
        if kind < 0.4 {
            draw_vehicle(x, &r, tone, look, rng);
        } else {
            draw(x, &r, Paint::Set(tone), look.soft_px, rng);
        }
    }
}

/// Unlabelled footprints: 1-4 vehicle-sized rectangles (3.8-10.5 m) where the patch is
/// replaced by a smooth fill (the rectangle's mean plus a linear ramp between its ends,
/// a faint tone shift of up to 0.1), like the ground a vehicle left or an inpainted
/// patch. A vehicle is a body that contrasts with the ground, not a smooth rectangle.
/// None is placed within a vehicle length of a labelled centre.
pub fn smooth_footprints(x: &mut Tensor, centres: &[(f32, f32, f32)], gsd_m: f32, rng: &mut SplitMix64) {
    let p = x.w as f32;
    for _ in 0..1 + rng.below(4) {
        let len_m = rng.range(3.8, 10.5);
        let r = Rect {
            u: rng.range(0.0, p),
            v: rng.range(0.0, p),
            half_len: 0.5 * len_m / gsd_m,
            half_wid: 0.5 * len_m * rng.range(0.38, 0.6) / gsd_m,
            angle: rng.range(0.0, std::f32::consts::TAU),
        };
        if centres
            .iter()
            .any(|c| (c.0 - r.u).hypot(c.1 - r.v) < (len_m + c.2) / gsd_m)
        {
            continue;
        }
        let (u0, u1, v0, v1) = r.bounds(x.w, x.h);
        let (sa, ca) = r.angle.sin_cos();
        // Mean of the covered pixels and of each end, per band.
        let (mut sum, mut n) = ([0.0f32; 3], 0.0f32);
        let (mut ends, mut ne) = ([[0.0f32; 3]; 2], [0.0f32; 2]);
        for pv in v0..v1 {
            for pu in u0..u1 {
                let (cu, cv) = (pu as f32 + 0.5, pv as f32 + 0.5);
                if r.coverage(cu, cv, 1.0) < 1.0 {
                    continue;
                }
                let along = ca * (cu - r.u) + sa * (cv - r.v);
                let e = usize::from(along > 0.0);
                let px = &x.data[(pv * x.w + pu) * 3..][..3];
                for b in 0..3 {
                    sum[b] += px[b];
                    ends[e][b] += px[b];
                }
                n += 1.0;
                ne[e] += 1.0;
            }
        }
        if n < 4.0 || ne[0] < 1.0 || ne[1] < 1.0 {
            continue;
        }
        let shift = rng.range(-0.1, 0.1);
        let mean = sum.map(|v| v / n + shift);
        let slope = [0, 1, 2].map(|b| (ends[1][b] / ne[1] - ends[0][b] / ne[0]) / r.half_len);
        for pv in v0..v1 {
            for pu in u0..u1 {
                let (cu, cv) = (pu as f32 + 0.5, pv as f32 + 0.5);
                let a = r.coverage(cu, cv, 1.5);
                if a <= 0.0 {
                    continue;
                }
                let along = ca * (cu - r.u) + sa * (cv - r.v);
                let px = &mut x.data[(pv * x.w + pu) * 3..][..3];
                for b in 0..3 {
                    let fill = mean[b] + 0.5 * slope[b] * along + 0.02 * rng.normal();
                    px[b] = px[b] * (1.0 - a) + fill * a;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_vehicles_are_labelled_and_change_the_patch() {
        let mut x = Tensor::zeros(96, 96, 3);
        let mut centres = Vec::new();
        let mut rng = SplitMix64::new(7);
        for _ in 0..20 {
            render_vehicles(&mut x, &mut centres, 0.4, 0.0, &mut rng);
        }
        assert!(!centres.is_empty());
        for &(u, v, len_m) in &centres {
            assert!((4.0..=92.0).contains(&u) && (4.0..=92.0).contains(&v));
            assert!((3.8..=10.5).contains(&len_m));
        }
        // Every labelled centre is covered by a body that differs from the ground.
        let changed = x.data.iter().filter(|v| v.abs() > 0.1).count();
        assert!(changed > 200, "{changed}");
    }

    /// Pixel size of the patches of [`rendered_patches`], metres.
    const PATCH_GSD_M: f32 = 0.4;

    /// The labelled centres of 200 rendered 96 px patches at 0.4 m (seeds 0-199), each
    /// patch's pairwise centre distances in metres checked against overlap: the narrowest
    /// body is 1.44 m wide and the smallest gap 0.4 m, so centres any closer than 1.8 m
    /// would mean overlapping bodies.
    fn rendered_patches(park_rows: f32) -> Vec<Vec<(f32, f32, f32)>> {
        let gsd_m = PATCH_GSD_M;
        (0..200)
            .map(|seed| {
                let mut x = Tensor::zeros(96, 96, 3);
                let mut centres = Vec::new();
                render_vehicles(&mut x, &mut centres, gsd_m, park_rows, &mut SplitMix64::new(seed));
                for (i, a) in centres.iter().enumerate() {
                    for b in &centres[i + 1..] {
                        let d_m = (a.0 - b.0).hypot(a.1 - b.1) * gsd_m;
                        assert!(d_m > 1.8, "seed {seed}: centres {d_m} m apart");
                    }
                }
                centres
            })
            .collect()
    }

    /// Side-by-side rows must be packed: neighbours one width plus a 0.4-1.2 m gap
    /// apart, closer than the 0.6-length spacing rule between unrelated vehicles (an
    /// earlier version applied that rule inside rows too and dropped every second vehicle).
    #[test]
    fn rows_are_packed_side_by_side_without_overlap() {
        let mut packed = 0;
        for centres in rendered_patches(0.0) {
            for (i, a) in centres.iter().enumerate() {
                for b in &centres[i + 1..] {
                    if (a.0 - b.0).hypot(a.1 - b.1) * PATCH_GSD_M < 0.6 * a.2.max(b.2) {
                        packed += 1;
                    }
                }
            }
        }
        assert!(packed > 100, "{packed} packed neighbours in 200 patches");
    }

    /// Park rows cross the patch: they hold more labelled vehicles than a 1-14 row can,
    /// never overlap, and with a second row beside them some patches hold two rows'
    /// worth.
    #[test]
    fn park_rows_cross_the_patch_without_overlap() {
        let counts: Vec<usize> = rendered_patches(1.0).iter().map(Vec::len).collect();
        let most = counts.iter().copied().max().unwrap_or(0);
        let over_14 = counts.iter().filter(|&&n| n > 14).count();
        assert!(most >= 16 && over_14 >= 10, "{most} at most, {over_14} over 14");
    }

    #[test]
    fn footprints_smooth_the_ground_away_from_vehicles() {
        let mut rng = SplitMix64::new(11);
        let mut x = Tensor::zeros(96, 96, 3);
        for v in x.data.iter_mut() {
            *v = 0.3 * rng.normal();
        }
        let before = x.clone();
        // A labelled vehicle in the middle keeps its surroundings.
        let centres = [(48.0, 48.0, 6.0)];
        for _ in 0..10 {
            smooth_footprints(&mut x, &centres, 0.4, &mut rng);
        }
        let changed = |r: std::ops::Range<usize>| {
            r.flat_map(|v| (0..96).map(move |u| (u, v)))
                .filter(|&(u, v)| (u as f32 - 48.0).hypot(v as f32 - 48.0) < 4.0)
                .filter(|&(u, v)| x.data[(v * 96 + u) * 3] != before.data[(v * 96 + u) * 3])
                .count()
        };
        assert_eq!(changed(40..56), 0);
        // Elsewhere the texture got smoother: lower variance overall.
        let var = |t: &Tensor| t.data.iter().map(|v| v * v).sum::<f32>() / t.data.len() as f32;
        assert!(var(&x) < var(&before), "{} {}", var(&x), var(&before));
    }

    #[test]
    fn coverage_is_one_inside_zero_outside() {
        let r = Rect {
            u: 10.0,
            v: 10.0,
            half_len: 5.0,
            half_wid: 2.0,
            angle: 0.0,
        };
        assert_eq!(r.coverage(10.0, 10.0, 0.8), 1.0);
        assert_eq!(r.coverage(14.0, 11.0, 0.8), 1.0);
        assert_eq!(r.coverage(16.0, 10.0, 0.8), 0.0);
        assert_eq!(r.coverage(10.0, 13.0, 0.8), 0.0);
        // Rotated by 90 degrees: the long axis is vertical.
        let q = Rect {
            angle: std::f32::consts::FRAC_PI_2,
            ..r
        };
        assert_eq!(q.coverage(10.0, 14.0, 0.8), 1.0);
        assert_eq!(q.coverage(14.0, 10.0, 0.8), 0.0);
    }
}

//! Training: random rotated, rescaled and photometrically jittered patches of labelled
//! frames, a penalty-reduced focal loss on a Gaussian centre heat map and an L1 loss
//! on log vehicle length at the centres (CenterNet, Zhou et al., *Objects as Points*,
//! 2019), minimised by Adam (Kingma & Ba 2015).
//!
//! Deterministic by construction: every random draw of sample `i` in step `t` comes from
//! a generator seeded with `(seed, t, i)`, the per-sample gradients are summed in sample
//! order, so the weights do not depend on the thread count.

use rayon::prelude::*;

use super::frames::Frame;
use super::model::{Model, ModelHeader, FORMAT_VERSION};
use super::net::{backward_all, forward_all, LayerSpec, Op, Tensor};

use super::rng::SplitMix64;

/// Training options.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainOptions {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    /// Patch side on the working grid, pixels.
    pub patch_px: usize,
    pub learning_rate: f32,
    /// Hidden channels of the network.
    pub width: usize,
    pub working_gsd_m: f64,
    /// Share of patches that get real vehicles cut from other frames pasted in.
    #[serde(default)]
    pub paste_probability: f32,
    /// Share of patches that get procedurally rendered vehicles drawn in
    /// (domain randomisation, [`super::render`]).
    #[serde(default)]
    pub render_probability: f32,
    /// Share of patches that get unlabelled smooth footprints ([`super::render::smooth_footprints`]).
    #[serde(default)]
    pub footprint_probability: f32,
    /// Weight of the false-positive (negative) loss on frames whose labels are incomplete
    /// (the armour screenshots), away from their labelled vehicles; within 12 m of one it
    /// is always 0. Models trained before the option existed used 0.3.
    #[serde(default = "incomplete_negative_weight_before")]
    pub incomplete_negative_weight: f32,
    /// Share of rendered rows laid out as in a vehicle park (crossing the whole patch,
    /// half of them with a second row beside; [`super::render::render_vehicles`]). Left
    /// out of the training record when 0, so a model of the recipe before the option has
    /// the same file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub park_row_probability: f32,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

fn incomplete_negative_weight_before() -> f32 {
    0.3
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 20261129,
            steps: 48_000,
            batch: 16,
            patch_px: 96,
            learning_rate: 2e-3,
            width: 32,
            working_gsd_m: 0.4,
            paste_probability: 0.5,
            // The shipped recipe: rendered vehicles on; footprints measured, not adopted
            // (README, "Vehicle detector").
            render_probability: 0.3,
            footprint_probability: 0.0,
            incomplete_negative_weight: incomplete_negative_weight_before(),
            park_row_probability: 0.0,
        }
    }
}

/// The architecture, a small encoder-decoder: a stride-2 stem and one layer at half
/// the working resolution (kept for the skip), a stride-2 layer and three 3x3 layers with
/// dilations 1, 2, 4 at a quarter (receptive field 71 working pixels, 28 m at 0.4 m),
/// upsampled back to a half and joined with the skip (U-Net, Ronneberger et al. 2015),
/// a 3x3 layer and a 1x1 head (heat logit, log length) at half resolution.
pub fn architecture(width: usize) -> Vec<LayerSpec> {
    let conv = LayerSpec::conv;
    let half = width / 2;
    vec![
        conv(3, half, 3, 2, 1, true),
        conv(half, half, 3, 1, 1, true),
        conv(half, width, 3, 2, 1, true),
        conv(width, width, 3, 1, 1, true),
        conv(width, width, 3, 1, 2, true),
        conv(width, width, 3, 1, 4, true),
        LayerSpec {
            op: Op::Up2,
            from: 1,
            ..conv(width, width, 0, 1, 1, false)
        },
        LayerSpec {
            op: Op::Concat,
            from: 1,
            ..conv(width, width + half, 0, 1, 1, false)
        },
        conv(width + half, half, 3, 1, 1, true),
        conv(half, 2, 1, 1, 1, false),
    ]
}

/// He-normal initial weights, zero biases; the heat bias starts at a low prior (-4).
fn init_weights(layers: &[LayerSpec], rng: &mut SplitMix64) -> Vec<f32> {
    let mut w = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        if l.op != Op::Conv {
            continue;
        }
        let fan_in = (l.k * l.k * l.cin) as f32;
        let sd = (2.0 / fan_in).sqrt() * if i + 1 == layers.len() { 0.1 } else { 1.0 };
        for _ in 0..l.k * l.k * l.cin * l.cout {
            w.push(rng.normal() * sd);
        }
        for co in 0..l.cout {
            w.push(if i + 1 == layers.len() && co == 0 {
                -4.0
            } else {
                0.0
            });
        }
    }
    w
}

/// One training sample: input patch, target heat map, length targets, loss weights.
struct Sample {
    x: Tensor,
    /// Per output cell: target heat (1 at centres, Gaussian around), log length target
    /// (NaN when not a centre), weight of the negative term.
    heat: Vec<f32>,
    log_len: Vec<f32>,
    neg_w: Vec<f32>,
}

/// Bilinear sample of a frame channel-wise; None outside.
fn sample_at(f: &Tensor, x: f32, y: f32, out: &mut [f32]) -> bool {
    if x < 0.0 || y < 0.0 || x > (f.w - 1) as f32 || y > (f.h - 1) as f32 {
        return false;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(f.w - 1), (y0 + 1).min(f.h - 1));
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let n = out.len();
    let at = |xx: usize, yy: usize| &f.data[(yy * f.w + xx) * f.c..][..n];
    let (p00, p10, p01, p11) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
    for (c, o) in out.iter_mut().enumerate() {
        *o = (p00[c] * (1.0 - tx) + p10[c] * tx) * (1.0 - ty) + (p01[c] * (1.0 - tx) + p11[c] * tx) * ty;
    }
    true
}

/// Draws one augmented patch from `frames`.
fn make_sample(frames: &[Frame], o: &TrainOptions, stride: usize, rng: &mut SplitMix64) -> Sample {
    let f = &frames[rng.below(frames.len())];
    let p = o.patch_px;
    let (theta, scale) = (rng.range(0.0, std::f32::consts::TAU), rng.range(0.8, 1.25));
    let flip = rng.f32() < 0.5;
    // Centre: near a labelled vehicle most of the time, else anywhere.
    let (cx, cy) = if !f.boxes.is_empty() && rng.f32() < 0.7 {
        let b = &f.boxes[rng.below(f.boxes.len())];
        (b.x + rng.range(-15.0, 15.0), b.y + rng.range(-15.0, 15.0))
    } else {
        (rng.range(0.0, f.img.w as f32), rng.range(0.0, f.img.h as f32))
    };
    let (s, c) = theta.sin_cos();
    let half = p as f32 / 2.0;
    // Patch (u, v) -> frame: centre + R * scale * (u - half, v - half), u mirrored if flip.
    let to_frame = |u: f32, v: f32| {
        let du = if flip { half - u } else { u - half };
        let dv = v - half;
        (cx + scale * (c * du - s * dv), cy + scale * (s * du + c * dv))
    };
    let mut x = Tensor::zeros(p, p, 3);
    let mut px = [0.0f32; 3];
    for v in 0..p {
        for u in 0..p {
            let (fx, fy) = to_frame(u as f32 + 0.5, v as f32 + 0.5);
            if sample_at(&f.img, fx - 0.5, fy - 0.5, &mut px) {
                x.data[(v * p + u) * 3..][..3].copy_from_slice(&px);
            }
        }
    }
    // Labelled vehicles in patch pixels.
    let mut centres = Vec::new();
    for b in &f.boxes {
        let (dx, dy) = (b.x - cx, b.y - cy);
        // Inverse rotation and scale.
        let du = (c * dx + s * dy) / scale;
        let dv = (-s * dx + c * dy) / scale;
        let u = if flip { half - du } else { half + du };
        let v = half + dv;
        centres.push((u, v, b.len_m / scale));
    }
    if rng.f32() < o.paste_probability {
        paste_vehicles(&mut x, frames, &mut centres, o.working_gsd_m as f32, rng);
    }
    if o.render_probability > 0.0 && rng.f32() < o.render_probability {
        super::render::render_vehicles(
            &mut x,
            &mut centres,
            o.working_gsd_m as f32,
            o.park_row_probability,
            rng,
        );
    }
    if o.footprint_probability > 0.0 && rng.f32() < o.footprint_probability {
        super::render::smooth_footprints(&mut x, &centres, o.working_gsd_m as f32, rng);
    }
    photometric(&mut x, rng);
    // Targets on the output grid.
    let q = p / stride;
    let cell_m = o.working_gsd_m as f32 * stride as f32;
    let mut heat = vec![0.0f32; q * q];
    let mut log_len = vec![f32::NAN; q * q];
    let mut neg_w = vec![1.0f32; q * q];
    for c in centres.iter_mut() {
        c.0 /= stride as f32;
        c.1 /= stride as f32;
    }
    for &(gu, gv, len_m) in &centres {
        if gu < -3.0 || gv < -3.0 || gu > q as f32 + 3.0 || gv > q as f32 + 3.0 {
            continue;
        }
        let sigma = (len_m / 6.0 / cell_m).clamp(0.6, 2.0);
        let (ci, cj) = (gu.floor() as isize, gv.floor() as isize);
        let r = (3.0 * sigma).ceil() as isize;
        for j in cj - r..=cj + r {
            for i in ci - r..=ci + r {
                if i < 0 || j < 0 || i >= q as isize || j >= q as isize {
                    continue;
                }
                let (ddx, ddy) = (i as f32 + 0.5 - gu, j as f32 + 0.5 - gv);
                let g = (-(ddx * ddx + ddy * ddy) / (2.0 * sigma * sigma)).exp();
                let k = j as usize * q + i as usize;
                let g = if i == ci && j == cj { 1.0 } else { g.min(0.99) };
                heat[k] = heat[k].max(g);
                if i == ci && j == cj {
                    log_len[k] = len_m.max(0.5).ln();
                }
            }
        }
        if f.incomplete {
            // Unlabelled vehicles near labelled ones are likely: no negative loss there.
            let rr = (12.0 / cell_m).ceil() as isize;
            for j in cj - rr..=cj + rr {
                for i in ci - rr..=ci + rr {
                    if i >= 0 && j >= 0 && i < q as isize && j < q as isize {
                        neg_w[j as usize * q + i as usize] = 0.0;
                    }
                }
            }
        }
    }
    if f.incomplete {
        neg_w.iter_mut().for_each(|w| *w *= o.incomplete_negative_weight);
    }
    Sample {
        x,
        heat,
        log_len,
        neg_w,
    }
}

/// Cut-and-paste augmentation (Dwibedi et al., *Cut, Paste and Learn*, 2017): 1-10 real
/// labelled vehicles cut from random frames (their box grown by 15 %, feathered over
/// 1.5 px) are pasted onto the patch, half the time side by side in a row with 0.5-1.0 m
/// gaps (a vehicle park), each becoming a labelled centre. A vehicle is not pasted within
/// 0.6 of its length of another labelled one, nor within 4 px of the border.
fn paste_vehicles(
    x: &mut Tensor,
    frames: &[Frame],
    centres: &mut Vec<(f32, f32, f32)>,
    gsd_m: f32,
    rng: &mut SplitMix64,
) {
    let p = x.w as f32;
    let n = 1 + rng.below(10);
    let row = rng.f32() < 0.5;
    let phi = rng.range(0.0, std::f32::consts::TAU);
    let (rs, rc) = phi.sin_cos();
    let (mut ru, mut rv) = (rng.range(0.1 * p, 0.9 * p), rng.range(0.1 * p, 0.9 * p));
    let mut px = [0.0f32; 3];
    // A row's own vehicles are closer than the spacing rule allows; see `render_vehicles`.
    let before = centres.len();
    for _ in 0..n {
        let f = &frames[rng.below(frames.len())];
        if f.boxes.is_empty() {
            continue;
        }
        let b = f.boxes[rng.below(f.boxes.len())];
        let len_px = b.len_m / gsd_m;
        let wid_px = 0.45 * len_px;
        // Rotation of the crop: in a row, long axis across the row direction.
        let (u, v, theta) = if row {
            let (u, v) = (ru + rc * 0.5 * wid_px, rv + rs * 0.5 * wid_px);
            let step = wid_px + rng.range(0.5, 1.0) / gsd_m;
            ru += rc * step;
            rv += rs * step;
            let base = if b.horizontal {
                phi + std::f32::consts::FRAC_PI_2
            } else {
                phi
            };
            (u, v, base + rng.range(-0.05, 0.05))
        } else {
            (
                rng.range(4.0, p - 4.0),
                rng.range(4.0, p - 4.0),
                rng.range(0.0, std::f32::consts::TAU),
            )
        };
        if u < 4.0 || v < 4.0 || u > p - 4.0 || v > p - 4.0 {
            continue;
        }
        let others = if row { &centres[..before] } else { &centres[..] };
        if super::render::crowded(others, u, v, b.len_m, gsd_m) {
            continue;
        }
        let (hx, hy) = if b.horizontal {
            (0.575 * len_px, 0.575 * wid_px)
        } else {
            (0.575 * wid_px, 0.575 * len_px)
        };
        let (st, ct) = theta.sin_cos();
        let r = hx.hypot(hy) + 2.0;
        let (u0, u1) = (
            (u - r).floor().max(0.0) as usize,
            ((u + r).ceil() as usize).min(x.w),
        );
        let (v0, v1) = (
            (v - r).floor().max(0.0) as usize,
            ((v + r).ceil() as usize).min(x.h),
        );
        for pv in v0..v1 {
            for pu in u0..u1 {
                let (du, dv) = (pu as f32 + 0.5 - u, pv as f32 + 0.5 - v);
                // Patch offset rotated back into the source frame.
                let (fx, fy) = (ct * du + st * dv, -st * du + ct * dv);
                let out = ((fx.abs() - hx).max(0.0)).max((fy.abs() - hy).max(0.0));
                let alpha = (1.0 - out / 1.5).clamp(0.0, 1.0);
                if alpha <= 0.0 || !sample_at(&f.img, b.x + fx - 0.5, b.y + fy - 0.5, &mut px) {
                    continue;
                }
                let d = &mut x.data[(pv * x.w + pu) * 3..][..3];
                for (dst, src) in d.iter_mut().zip(px) {
                    *dst = *dst * (1.0 - alpha) + src * alpha;
                }
            }
        }
        centres.push((u, v, b.len_m));
    }
}

/// Gains, offsets, haze, blur, noise, occasional grey: what differs between dates and
/// sensors, applied to a stretched patch.
fn photometric(x: &mut Tensor, rng: &mut SplitMix64) {
    let contrast = rng.range(0.6, 1.4);
    let gains = [
        rng.range(0.85, 1.15),
        rng.range(0.85, 1.15),
        rng.range(0.85, 1.15),
    ];
    let offs = [rng.range(-0.2, 0.2), rng.range(-0.2, 0.2), rng.range(-0.2, 0.2)];
    let haze = if rng.f32() < 0.3 { rng.range(0.0, 0.5) } else { 0.0 };
    let grey = rng.f32() < 0.1;
    let noise = rng.range(0.0, 0.06);
    for px in x.data.chunks_exact_mut(3) {
        if grey {
            let m = (px[0] + px[1] + px[2]) / 3.0;
            px.iter_mut().for_each(|v| *v = m);
        }
        for b in 0..3 {
            let v = px[b] * contrast * gains[b] + offs[b];
            px[b] = v * (1.0 - haze) + haze * 0.3 + noise * rng.normal();
        }
    }
    if rng.f32() < 0.3 {
        box_blur(x);
    }
}

/// 3x3 box blur with clamped borders.
fn box_blur(x: &mut Tensor) {
    let src = x.clone();
    let (h, w, c) = (x.h as isize, x.w as isize, x.c);
    for r in 0..h {
        for q in 0..w {
            for b in 0..c {
                let mut s = 0.0;
                for dr in -1..=1 {
                    for dq in -1..=1 {
                        let (rr, qq) = ((r + dr).clamp(0, h - 1), (q + dq).clamp(0, w - 1));
                        s += src.data[((rr * w + qq) as usize) * c + b];
                    }
                }
                x.data[((r * w + q) as usize) * c + b] = s / 9.0;
            }
        }
    }
}

/// Loss of one sample and its gradient w.r.t. the network output (heat logit, log len).
fn loss_and_grad(out: &Tensor, s: &Sample) -> (f64, Tensor) {
    let mut g = Tensor::zeros(out.h, out.w, out.c);
    let n_pos = s.heat.iter().filter(|&&h| h >= 1.0).count().max(1) as f32;
    let mut loss = 0.0f64;
    for k in 0..out.h * out.w {
        let z = out.data[k * 2];
        let p = (1.0 / (1.0 + (-z).exp())).clamp(1e-6, 1.0 - 1e-6);
        let y = s.heat[k];
        if y >= 1.0 {
            // -(1-p)^2 log p
            loss += (-(1.0 - p).powi(2) * p.ln()) as f64;
            // d/dz: (1-p)^2 * (2 p log p - (1 - p))  [with dp/dz = p(1-p)]
            g.data[k * 2] = (1.0 - p).powi(2) * (2.0 * p * p.ln() - (1.0 - p)) / n_pos;
        } else if s.neg_w[k] > 0.0 {
            let wn = (1.0 - y).powi(4) * s.neg_w[k];
            loss += (-wn * p * p * (1.0 - p).ln()) as f64;
            // d/dz of -p^2 log(1-p): p^2 * (p - 2 (1-p) log(1-p))
            g.data[k * 2] = wn * p * p * (p - 2.0 * (1.0 - p) * (1.0 - p).ln()) / n_pos;
        }
        let t = s.log_len[k];
        if t.is_finite() {
            let d = out.data[k * 2 + 1] - t;
            loss += (0.2 * d.abs()) as f64;
            g.data[k * 2 + 1] = 0.2 * d.signum() / n_pos;
        }
    }
    (loss / n_pos as f64, g)
}

/// Progress of a training run.
pub type Report<'a> = &'a (dyn Fn(usize, f64) + Sync);

/// Trains a model on `frames`; `report(step, mean loss)` is called every 50 steps.
/// Returns the model (threshold 0.5 until tuned) and the loss per logged step.
pub fn train(frames: &[Frame], o: &TrainOptions, report: Report) -> (Model, Vec<f64>) {
    let layers = architecture(o.width);
    let stride = super::model::check_layers(&layers).expect("the architecture is valid");
    let mut rng = SplitMix64::new(o.seed);
    let mut w = init_weights(&layers, &mut rng);
    let (mut m, mut v) = (vec![0.0f32; w.len()], vec![0.0f32; w.len()]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut losses = Vec::new();
    let mut acc = 0.0;
    for t in 0..o.steps {
        let results: Vec<(f64, Vec<f32>)> = (0..o.batch)
            .into_par_iter()
            .map(|i| {
                let mut r =
                    SplitMix64::new(o.seed ^ ((t as u64) << 20) ^ (i as u64 + 1).wrapping_mul(0x5851_F42D));
                let s = make_sample(frames, o, stride, &mut r);
                let outs = forward_all(&s.x, &layers, &w, false);
                let (loss, g) = loss_and_grad(outs.last().expect("layers"), &s);
                (loss, backward_all(&s.x, &outs, g, &layers, &w))
            })
            .collect();
        let mut grad = vec![0.0f32; w.len()];
        let mut loss = 0.0;
        for (l, g) in &results {
            loss += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b / o.batch as f32;
            }
        }
        // Cosine decay of the learning rate.
        let lr = o.learning_rate * 0.5 * (1.0 + (std::f32::consts::PI * t as f32 / o.steps as f32).cos());
        let (c1, c2) = (1.0 - b1.powi(t as i32 + 1), 1.0 - b2.powi(t as i32 + 1));
        for k in 0..w.len() {
            let gk = grad[k].clamp(-10.0, 10.0);
            m[k] = b1 * m[k] + (1.0 - b1) * gk;
            v[k] = b2 * v[k] + (1.0 - b2) * gk * gk;
            w[k] -= lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps);
        }
        acc += loss / o.batch as f64;
        if (t + 1) % 50 == 0 || t + 1 == o.steps {
            let n = if (t + 1) % 50 == 0 { 50 } else { (t + 1) % 50 };
            losses.push(acc / n as f64);
            report(t + 1, acc / n as f64);
            acc = 0.0;
        }
    }
    let header = ModelHeader {
        format_version: FORMAT_VERSION,
        working_gsd_m: o.working_gsd_m,
        output_stride: stride,
        layers,
        threshold: 0.5,
        views: 1,
        training: serde_json::to_value(o).expect("options serialise"),
        calibration: None,
    };
    let model = Model {
        header,
        weights: w,
        sha256: String::new(),
    };
    (model, losses)
}

#[cfg(test)]
#[path = "train_tests.rs"]
mod tests;

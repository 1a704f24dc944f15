//! Vehicle-sized blobs on one date.
//!
//! Method: brightness (mean over bands) is filtered by grayscale morphology with a
//! square structuring element a little wider than the widest vehicle footprint (vehicle
//! plus shadow): the black top-hat (closing - image) picks out dark objects narrower
//! than the element, the white top-hat (image - opening) bright ones (Soille,
//! *Morphological Image Analysis*, 2003, ch. 4). Extended dark or bright areas (grass
//! next to a gravel pad, roofs, tree clusters) contain the element and vanish from the
//! top-hat. Pixels whose top-hat exceeds median + k x robust sigma are candidates;
//! 8-connected components (two-pass union-find labelling, Rosenfeld & Pfaltz 1966) are
//! measured by their second moments: length and width are sqrt(12 lambda + 1) pixels
//! along the principal axes (exact for a pixel-aligned rectangle). A component is a
//! vehicle when its area, length and elongation fit the [`VehicleClass`].

mod morph;
pub mod split;

pub use morph::{gray_morph, gray_morph_reference, Morph};

use ndarray::{Array2, Array3, ArrayView2};

use crate::stats::{quantile, robust_sigma};

/// The vehicle sizes looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum VehicleClass {
    /// Armoured and military trucks: 8-45 m2, 4-12 m long, at least 2.4 m wide.
    Military,
    /// Passenger cars: 4-15 m2, 3-6 m long.
    Car,
    /// Anything vehicle-like: 4-60 m2, 3-16 m long.
    Any,
}

/// Size and shape limits of a vehicle class.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassSpec {
    pub min_area_m2: f64,
    pub max_area_m2: f64,
    pub min_length_m: f64,
    pub max_length_m: f64,
    /// Minimum width, metres (rejects slivers such as pad corners and field edges).
    pub min_width_m: f64,
    /// Minimum length / width (rejects round tree crowns).
    pub min_aspect: f64,
    /// Widest footprint (vehicle plus shadow) the top-hat must still isolate, metres.
    pub max_width_m: f64,
}

impl ClassSpec {
    /// True when a blob of this area, length and width is vehicle-shaped for the class.
    pub fn fits(&self, area_m2: f64, length_m: f64, width_m: f64) -> bool {
        area_m2 >= self.min_area_m2
            && area_m2 <= self.max_area_m2
            && length_m >= self.min_length_m
            && length_m <= self.max_length_m
            && width_m >= self.min_width_m
            && length_m / width_m >= self.min_aspect
    }
}

impl VehicleClass {
    /// The limits of this class.
    pub fn spec(self) -> ClassSpec {
        match self {
            VehicleClass::Military => ClassSpec {
                min_area_m2: 8.0,
                max_area_m2: 45.0,
                min_length_m: 4.0,
                max_length_m: 12.0,
                min_width_m: 2.4,
                min_aspect: 1.5,
                max_width_m: 6.0,
            },
            VehicleClass::Car => ClassSpec {
                min_area_m2: 4.0,
                max_area_m2: 15.0,
                min_length_m: 3.0,
                max_length_m: 6.0,
                min_width_m: 1.2,
                min_aspect: 1.5,
                max_width_m: 3.5,
            },
            VehicleClass::Any => ClassSpec {
                min_area_m2: 4.0,
                max_area_m2: 60.0,
                min_length_m: 3.0,
                max_length_m: 16.0,
                min_width_m: 1.2,
                min_aspect: 1.3,
                max_width_m: 6.0,
            },
        }
    }

    /// Coarsest pixel size at which vehicles of the class are counted, metres: half the
    /// narrowest vehicle of the class (about 2.4 m military, 1.6 m a small car), so that
    /// it spans at least two pixels (the sampling limit). Coarser imagery is flagged
    /// `gsd_too_coarse` and its sites are `inconclusive`; the detectors are measured
    /// only up to 0.5 m.
    pub fn max_count_gsd_m(self) -> f64 {
        match self {
            VehicleClass::Military => 1.2,
            VehicleClass::Car | VehicleClass::Any => 0.8,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            VehicleClass::Military => "military",
            VehicleClass::Car => "car",
            VehicleClass::Any => "any",
        }
    }
}

/// Pixel adjacency used by the labelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    Four,
    Eight,
}

/// Darker or brighter than the surroundings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    Dark,
    Bright,
}

/// Which vehicle detector counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// The learned centre detector ([`crate::learned`]); survives packed rows.
    Learned,
    /// The classical top-hat blob detector of this module (fast, synthetic-tuned).
    Tophat,
}

fn learned_default() -> Detector {
    Detector::Learned
}

/// Tunables of the detector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectParams {
    pub vehicle_class: VehicleClass,
    #[serde(default = "learned_default")]
    pub detector: Detector,
    /// SHA-256 of the learned model (the shipped one unless `--model`).
    #[serde(default)]
    pub model_sha256: Option<String>,
    /// File the model was loaded from (None = embedded in the binary).
    #[serde(default)]
    pub model_path: Option<String>,
    /// Candidate threshold in robust sigmas of the top-hat response.
    pub k_sigma: f32,
    /// Minimum top-hat response as a fraction of the 2-98% brightness range.
    pub min_contrast_fraction: f32,
    /// Images finer than this are block-averaged to about this GSD before detection.
    pub detection_gsd_m: f64,
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            vehicle_class: VehicleClass::Military,
            detector: Detector::Learned,
            // None = the shipped model; `Settings::for_class` records its hash.
            model_sha256: None,
            model_path: None,
            k_sigma: 4.0,
            min_contrast_fraction: 0.08,
            detection_gsd_m: 0.3,
        }
    }
}

impl DetectParams {
    /// The classical top-hat detector with its defaults.
    pub fn tophat() -> Self {
        DetectParams {
            detector: Detector::Tophat,
            model_sha256: None,
            ..DetectParams::default()
        }
    }
}

/// One measured component.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Centroid, fractional pixel coordinates (corner convention: pixel centres at +0.5).
    pub col: f64,
    pub row: f64,
    pub area_px: usize,
    pub area_m2: f64,
    pub length_m: f64,
    pub width_m: f64,
    pub polarity: Polarity,
}

/// Mean over bands; NaN where any band is NaN.
pub fn brightness(img: &Array3<f32>) -> Array2<f32> {
    brightness_of_first(img, img.dim().0)
}

/// Mean of the first `n` bands (all when fewer), without copying them out.
pub fn brightness_of_first(img: &Array3<f32>, n: usize) -> Array2<f32> {
    let (bands, h, w) = img.dim();
    let n = n.min(bands);
    let mut out = Array2::<f32>::zeros((h, w));
    for b in 0..n {
        out += &img.index_axis(ndarray::Axis(0), b);
    }
    out.mapv_inplace(|v| v / n as f32);
    out
}

/// Black (dark objects) or white (bright objects) top-hat with a (2r+1)^2 square.
pub fn top_hat(img: ArrayView2<f32>, r: usize, polarity: Polarity) -> Array2<f32> {
    match polarity {
        Polarity::Dark => {
            let closed = gray_morph(gray_morph(img, r, Morph::Dilate).view(), r, Morph::Erode);
            closed - img
        }
        Polarity::Bright => {
            let opened = gray_morph(gray_morph(img, r, Morph::Erode).view(), r, Morph::Dilate);
            &img - &opened
        }
    }
}

/// Two-pass connected-component labelling with union-find. Labels are 1..=n in raster
/// order of each component's first pixel; 0 is background.
pub fn label(mask: &[bool], w: usize, h: usize, conn: Connectivity) -> (Vec<u32>, u32) {
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    let mut labels = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !mask[i] {
                continue;
            }
            let mut neigh = [0u32; 4];
            let mut k = 0;
            if x > 0 && labels[i - 1] != 0 {
                neigh[k] = labels[i - 1];
                k += 1;
            }
            if y > 0 {
                if labels[i - w] != 0 {
                    neigh[k] = labels[i - w];
                    k += 1;
                }
                if conn == Connectivity::Eight {
                    if x > 0 && labels[i - w - 1] != 0 {
                        neigh[k] = labels[i - w - 1];
                        k += 1;
                    }
                    if x + 1 < w && labels[i - w + 1] != 0 {
                        neigh[k] = labels[i - w + 1];
                        k += 1;
                    }
                }
            }
            if k == 0 {
                let l = parent.len() as u32;
                parent.push(l);
                labels[i] = l;
            } else {
                let mut root = find(&mut parent, neigh[0]);
                for &n in &neigh[1..k] {
                    let r2 = find(&mut parent, n);
                    if r2 != root {
                        let (lo, hi) = (root.min(r2), root.max(r2));
                        parent[hi as usize] = lo;
                        root = lo;
                    }
                }
                labels[i] = root;
            }
        }
    }
    // Compact labels in raster order of first appearance.
    let mut remap = vec![0u32; parent.len()];
    let mut n = 0u32;
    for l in labels.iter_mut() {
        if *l != 0 {
            let r = find(&mut parent, *l);
            if remap[r as usize] == 0 {
                n += 1;
                remap[r as usize] = n;
            }
            *l = remap[r as usize];
        }
    }
    (labels, n)
}

/// Second-moment description of a component, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub area_px: usize,
    /// Centroid (corner convention: pixel centres at +0.5).
    pub cx: f64,
    pub cy: f64,
    /// sqrt(12 lambda + 1) along the major and minor principal axes.
    pub len_px: f64,
    pub wid_px: f64,
    /// Direction of the major axis, radians from +x (columns) toward +y (rows).
    pub angle: f64,
}

/// Area, centroid, principal-axis length/width and orientation of each label 1..=n.
pub fn measure(labels: &[u32], n: u32, w: usize) -> Vec<Moments> {
    let mut acc = vec![[0.0f64; 6]; n as usize + 1];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            let (x, y) = ((i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
            let a = &mut acc[l as usize];
            a[0] += 1.0;
            a[1] += x;
            a[2] += y;
            a[3] += x * x;
            a[4] += y * y;
            a[5] += x * y;
        }
    }
    acc[1..]
        .iter()
        .map(|a| {
            let n = a[0];
            let (cx, cy) = (a[1] / n, a[2] / n);
            let sxx = a[3] / n - cx * cx;
            let syy = a[4] / n - cy * cy;
            let sxy = a[5] / n - cx * cy;
            let tr = sxx + syy;
            let disc = ((sxx - syy).powi(2) / 4.0 + sxy * sxy).sqrt();
            let l1 = (tr / 2.0 + disc).max(0.0);
            let l2 = (tr / 2.0 - disc).max(0.0);
            Moments {
                area_px: n as usize,
                cx,
                cy,
                len_px: (12.0 * l1 + 1.0).sqrt(),
                wid_px: (12.0 * l2 + 1.0).sqrt(),
                angle: 0.5 * (2.0 * sxy).atan2(sxx - syy),
            }
        })
        .collect()
}

/// Fraction of a component's peak response that bounds it (0.5: full width at half
/// maximum).
pub const HALF_MAX_FRACTION: f32 = 0.5;

/// Refines candidate components to their half-maximum extent: each component keeps
/// the pixels whose response exceeds half of its own peak (and `thr`). Blur and mixed
/// edge pixels are dropped, so the area and length measure the object, not its halo,
/// and neighbours joined only by blurred gaps come apart.
/// `mask` is row-major with the shape of `response`.
pub fn half_maximum(mask: &[bool], response: ArrayView2<f32>, thr: f32) -> Vec<bool> {
    let (h, w) = response.dim();
    let (labels, n) = label(mask, w, h, Connectivity::Eight);
    let mut peak = vec![f32::NEG_INFINITY; n as usize + 1];
    for (&l, &t) in labels.iter().zip(response.iter()) {
        if l != 0 {
            peak[l as usize] = peak[l as usize].max(t);
        }
    }
    labels
        .iter()
        .zip(response.iter())
        .map(|(&l, &t)| l != 0 && t > thr.max(HALF_MAX_FRACTION * peak[l as usize]))
        .collect()
}

/// The q-quantile of the finite values in the (2 half + 1)^2 box around (cx, cy); the
/// box doubles (up to 4x) until at least a fifth of it holds finite values.
fn local_quantile(vals: ArrayView2<f32>, cx: usize, cy: usize, half: usize, q: f64) -> Option<f32> {
    let (h, w) = vals.dim();
    let mut half = half;
    for _ in 0..3 {
        let (x0, x1) = (cx.saturating_sub(half), (cx + half).min(w - 1));
        let (y0, y1) = (cy.saturating_sub(half), (cy + half).min(h - 1));
        let v: Vec<f32> = vals
            .slice(ndarray::s![y0..=y1, x0..=x1])
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect();
        if v.len() * 5 >= (x1 - x0 + 1) * (y1 - y0 + 1) {
            return quantile(&v, q);
        }
        half *= 2;
    }
    None
}

/// Detects vehicle-sized blobs in `img` (`[band, row, col]`) at pixels where `valid`
/// with the classical top-hat method of this module (whatever `p.detector` says; the
/// choice between detectors is [`crate::detector::detect`]).
pub fn detect(img: &Array3<f32>, valid: &[bool], gsd_m: f64, p: &DetectParams) -> Vec<Blob> {
    let f = (p.detection_gsd_m / gsd_m).floor() as usize;
    if f >= 2 {
        // Finer than needed: vehicle parts (windscreens, hatches) would break vehicles
        // apart. Detect on f x f block means and map the blobs back.
        let (img2, valid2) = block_mean(img, valid, f);
        return detect_at(&img2, &valid2, gsd_m * f as f64, p)
            .into_iter()
            .map(|b| Blob {
                col: b.col * f as f64,
                row: b.row * f as f64,
                area_px: b.area_px * f * f,
                ..b
            })
            .collect();
    }
    detect_at(img, valid, gsd_m, p)
}

/// Means of f x f blocks (partial blocks at the edges included); a block is valid when
/// most of its pixels are.
pub fn block_mean(img: &Array3<f32>, valid: &[bool], f: usize) -> (Array3<f32>, Vec<bool>) {
    let (bands, h, w) = img.dim();
    let (h2, w2) = (h.div_ceil(f), w.div_ceil(f));
    let mut out = Array3::<f32>::from_elem((bands, h2, w2), f32::NAN);
    let mut ok = vec![false; h2 * w2];
    for r2 in 0..h2 {
        for c2 in 0..w2 {
            let (mut n, mut nv) = (0usize, 0usize);
            let mut sums = vec![0.0f64; bands];
            for r in r2 * f..((r2 + 1) * f).min(h) {
                for c in c2 * f..((c2 + 1) * f).min(w) {
                    n += 1;
                    if valid[r * w + c] {
                        nv += 1;
                        for (b, s) in sums.iter_mut().enumerate() {
                            *s += img[[b, r, c]] as f64;
                        }
                    }
                }
            }
            if nv * 2 > n {
                ok[r2 * w2 + c2] = true;
                for (b, s) in sums.iter().enumerate() {
                    out[[b, r2, c2]] = (s / nv as f64) as f32;
                }
            }
        }
    }
    (out, ok)
}

/// [`detect`] at the image's own resolution.
fn detect_at(img: &Array3<f32>, valid: &[bool], gsd_m: f64, p: &DetectParams) -> Vec<Blob> {
    let (_, h, w) = img.dim();
    let spec = p.vehicle_class.spec();
    let mut vals = brightness(img);
    vals.iter_mut()
        .zip(valid)
        .for_each(|(b, &v)| *b = if v { *b } else { f32::NAN });
    let vals_s = vals.as_slice().expect("standard layout");
    let (Some(lo), Some(hi), Some(fill)) = (
        quantile(vals_s, 0.02),
        quantile(vals_s, 0.98),
        crate::stats::median(vals.iter().copied()),
    ) else {
        return Vec::new();
    };
    let filled = vals.mapv(|v| if v.is_finite() { v } else { fill });
    let r = ((spec.max_width_m / gsd_m) / 2.0).ceil().max(1.0) as usize + 1;
    let min_contrast = p.min_contrast_fraction * (hi - lo).max(1e-6);
    let mut blobs = Vec::new();
    // Candidates of both polarities first: the background level of either is the image
    // without the dark candidates (packed rows of dark vehicles would otherwise drag the
    // local level toward their own brightness). Bright candidates stay in it, so that
    // bare strips between dark vehicles set the level bright ones must exceed.
    let mut candidates = Vec::new();
    for polarity in [Polarity::Dark, Polarity::Bright] {
        let th = top_hat(filled.view(), r, polarity);
        let th_valid: Vec<f32> = th
            .iter()
            .zip(valid)
            .filter(|(_, &v)| v)
            .map(|(&t, _)| t)
            .collect();
        let Some((med, sigma)) = robust_sigma(&th_valid) else {
            continue;
        };
        let thr = (med + p.k_sigma * sigma).max(min_contrast);
        let mask: Vec<bool> = th.iter().zip(valid).map(|(&t, &v)| v && t > thr).collect();
        candidates.push((polarity, th, thr, mask));
    }
    let background = Array2::from_shape_fn((h, w), |(y, x)| {
        if candidates.iter().any(|c| c.0 == Polarity::Dark && c.3[y * w + x]) {
            f32::NAN
        } else {
            vals[(y, x)]
        }
    });
    for (polarity, th, thr, mask) in candidates {
        let mask = half_maximum(&mask, th.view(), thr);
        let (labels, n) = label(&mask, w, h, Connectivity::Eight);
        let mut sums = vec![0.0f64; n as usize + 1];
        for (&l, &b) in labels.iter().zip(filled.iter()) {
            sums[l as usize] += b as f64;
        }
        let bg_half = ((spec.max_length_m * 1.25) / gsd_m).ceil() as usize;
        for (k, m) in measure(&labels, n, w).into_iter().enumerate() {
            let (area_px, cx, cy) = (m.area_px, m.cx, m.cy);
            let area_m2 = area_px as f64 * gsd_m * gsd_m;
            let length_m = m.len_px * gsd_m;
            let width_m = m.wid_px * gsd_m;
            // A component too big for one vehicle may be a packed row of them.
            let (parts, axis) = if spec.fits(area_m2, length_m, width_m) {
                (1, m)
            } else if (area_m2 > spec.max_area_m2 || length_m > spec.max_length_m)
                && width_m >= spec.min_width_m
                && width_m <= spec.max_length_m
            {
                split::count_in_row(filled.view(), &m, gsd_m, &spec, min_contrast)
            } else {
                (0, m)
            };
            if parts == 0 {
                continue;
            }
            // The object must stand out from the local background level, not just from
            // the morphological envelope: dark objects against the local median, bright
            // ones against the local upper quartile, so that a strip of bare ground
            // framed by dark vehicles and grass does not pass for a bright vehicle.
            let mean = (sums[k + 1] / area_px as f64) as f32;
            let q = match polarity {
                Polarity::Dark => 0.5,
                Polarity::Bright => 0.75,
            };
            let bg = local_quantile(background.view(), cx as usize, cy as usize, bg_half, q)
                .or_else(|| local_quantile(vals.view(), cx as usize, cy as usize, bg_half, q));
            let stands_out = match (polarity, bg) {
                (Polarity::Dark, Some(bg)) => bg - mean >= min_contrast,
                (Polarity::Bright, Some(bg)) => mean - bg >= min_contrast,
                (_, None) => false,
            };
            if !stands_out {
                continue;
            }
            if parts == 1 {
                blobs.push(Blob {
                    col: cx,
                    row: cy,
                    area_px,
                    area_m2,
                    length_m,
                    width_m,
                    polarity,
                });
            } else {
                blobs.extend(split::split_row(&axis, parts, gsd_m, polarity));
            }
        }
    }
    blobs
}

#[cfg(test)]
mod tests;

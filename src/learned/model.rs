//! The model file: what was trained, how, and its weights.
//!
//! Format (version 1): the 8 bytes `SWDET01\n`, a little-endian u32 header length, a
//! JSON [`ModelHeader`], then the weights as little-endian f32, layer by layer (kernel
//! `[ky][kx][cin][cout]`, then bias). The model's identity is the SHA-256 of the whole
//! file; it goes into reports and batch job keys. The shipped model is embedded in the
//! binary (`data/detector.swdet`), so no weights are ever fetched.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::net::{LayerSpec, Op};
use crate::error::{Error, Result};

/// Magic bytes of the current format.
pub const MAGIC: &[u8; 8] = b"SWDET01\n";
/// Format version written into the header.
pub const FORMAT_VERSION: u32 = 1;

/// The shipped model, trained by `stagewatch train` (see README).
pub static SHIPPED: &[u8] = include_bytes!("../../data/detector.swdet");

/// Everything about a model apart from its weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelHeader {
    pub format_version: u32,
    /// Pixel size the network runs at; inputs are resampled to it, metres.
    pub working_gsd_m: f64,
    /// Output stride of the heat map relative to the working grid.
    pub output_stride: usize,
    pub layers: Vec<LayerSpec>,
    /// Peak threshold on the heat map (sigmoid), chosen on the tuning frames.
    pub threshold: f32,
    /// Test-time views averaged (1: the image as it is; 4: also its mirror images,
    /// [`super::views`]). The threshold is tuned for them. Absent (1) in files of
    /// earlier builds.
    #[serde(default = "one_view", skip_serializing_if = "is_one_view")]
    pub views: usize,
    /// How it was trained (data, seed, steps), for the record.
    pub training: serde_json::Value,
    /// Its error model measured by `stagewatch calibrate` on frames it never saw.
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

fn one_view() -> usize {
    1
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_one_view(v: &usize) -> bool {
    *v == 1
}

/// A model's measured recall and false positives, the evidence model's detector terms.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub recall: f64,
    pub false_positives_per_km2: f64,
    /// Coefficient of variation of the false-positive rate between frames (method of
    /// moments beyond Poisson noise; `measure::false_positive_rate_cv`). Absent in
    /// models calibrated before it was measured: 0, the rate taken as exact.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub false_positive_rate_cv: f64,
    /// Pixel size the frames were presented at, metres.
    pub gsd_m: f64,
    /// Which frames (sources and sequences) the figures come from.
    pub frames: String,
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct Model {
    pub header: ModelHeader,
    pub weights: Vec<f32>,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

impl Model {
    /// Serialises to the file format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("header serialises");
        let mut out = Vec::with_capacity(12 + header.len() + self.weights.len() * 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses the file format; `name` is used in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Model> {
        let bad = |why: String| Error::Model(format!("{name}: {why}"));
        if bytes.len() < 12 || &bytes[..5] != b"SWDET" {
            return Err(bad("not a stagewatch detector model (no SWDET signature)".into()));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad(format!(
                "model format {:?} is not the supported {:?}; retrain it with this version's `stagewatch train`",
                String::from_utf8_lossy(&bytes[5..7]),
                String::from_utf8_lossy(&MAGIC[5..7])
            )));
        }
        let n = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let head = bytes
            .get(12..12 + n)
            .ok_or_else(|| bad("truncated header".into()))?;
        let header: ModelHeader =
            serde_json::from_slice(head).map_err(|e| bad(format!("invalid header: {e}")))?;
        if header.format_version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is not {FORMAT_VERSION}",
                header.format_version
            )));
        }
        if header.views != 1 && header.views != 4 {
            return Err(bad(format!("views {} is not 1 or 4", header.views)));
        }
        let stride = check_layers(&header.layers).map_err(bad)?;
        if stride != header.output_stride {
            return Err(bad(format!(
                "output stride {} is not the layers' {stride}",
                header.output_stride
            )));
        }
        let body = &bytes[12 + n..];
        let want: usize = header.layers.iter().map(|l| l.n_params()).sum();
        if body.len() != want * 4 {
            return Err(bad(format!(
                "{} weight bytes, the layers need {}",
                body.len(),
                want * 4
            )));
        }
        let weights: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(bad("non-finite weights".into()));
        }
        Ok(Model {
            header,
            weights,
            sha256: hex(&Sha256::digest(bytes)),
        })
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Model> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::Model(format!("{name}: {e}")))?;
        if !meta.is_file() || meta.len() > 64 << 20 {
            return Err(Error::Model(format!("{name}: not a regular file under 64 MiB")));
        }
        let bytes =
            crate::fsutil::read_input(path, 256 << 20).map_err(|e| Error::Model(format!("{name}: {e}")))?;
        Model::from_bytes(&bytes, &name)
    }

    /// Writes the model atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, &self.to_bytes())
    }

    /// The evidence model's detector terms from this model's calibration, if any.
    pub fn evidence_detector(&self) -> Option<crate::evidence::DetectorModel> {
        self.header
            .calibration
            .as_ref()
            .map(|c| crate::evidence::DetectorModel {
                recall: c.recall,
                false_positives_per_km2: c.false_positives_per_km2,
                false_positive_rate_cv: c.false_positive_rate_cv,
            })
    }

    /// The embedded model.
    pub fn shipped() -> Arc<Model> {
        static M: OnceLock<Arc<Model>> = OnceLock::new();
        M.get_or_init(|| {
            Arc::new(Model::from_bytes(SHIPPED, "embedded model").expect("shipped model is valid"))
        })
        .clone()
    }
}

/// Layer chain sanity: channels connect, kernels 1 or 3, strides 1 or 2, `Up2` doubles
/// back to an earlier layer's scale, `Concat` joins outputs of one scale, and the last
/// layer gives a heat map and a size channel. Returns the output stride.
pub fn check_layers(layers: &[LayerSpec]) -> std::result::Result<usize, String> {
    if layers.is_empty() || layers.len() > 64 {
        return Err("needs 1 to 64 layers".into());
    }
    let mut scale: Vec<usize> = Vec::with_capacity(layers.len());
    let mut cout: Vec<usize> = Vec::with_capacity(layers.len());
    for (i, l) in layers.iter().enumerate() {
        let (prev_scale, prev_c) = if i == 0 {
            (1, 3)
        } else {
            (scale[i - 1], cout[i - 1])
        };
        let bad = || format!("layer {i} is malformed");
        if l.cin != prev_c || !(1..=256).contains(&l.cout) {
            return Err(bad());
        }
        let s = match l.op {
            Op::Conv => {
                if !matches!(l.k, 1 | 3) || !matches!(l.stride, 1 | 2) || !(1..=16).contains(&l.dilation) {
                    return Err(bad());
                }
                prev_scale * l.stride
            }
            Op::Up2 | Op::Concat => {
                if l.from >= i {
                    return Err(bad());
                }
                let ok = match l.op {
                    Op::Up2 => l.cout == l.cin && prev_scale == 2 * scale[l.from],
                    _ => l.cout == l.cin + cout[l.from] && prev_scale == scale[l.from],
                };
                if !ok {
                    return Err(bad());
                }
                scale[l.from]
            }
        };
        if s > 64 {
            return Err(bad());
        }
        scale.push(s);
        cout.push(l.cout);
    }
    let last = layers[layers.len() - 1];
    if last.cout != 2 || last.op != Op::Conv {
        return Err("last layer must be a convolution giving 2 channels (heat, log length)".into());
    }
    Ok(scale[layers.len() - 1])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Models loaded by `--model`, by SHA-256, so settings can name a model by its hash
/// (settings are serialised into reports and plans; weights are not).
pub fn register(m: Model) -> Arc<Model> {
    let m = Arc::new(m);
    registry().lock().expect("registry").push(m.clone());
    m
}

fn registry() -> &'static Mutex<Vec<Arc<Model>>> {
    static R: OnceLock<Mutex<Vec<Arc<Model>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// The model with this hash: the shipped one or one registered from a file.
pub fn by_sha256(sha: &str) -> Option<Arc<Model>> {
    let shipped = Model::shipped();
    if shipped.sha256 == sha {
        return Some(shipped);
    }
    registry()
        .lock()
        .expect("registry")
        .iter()
        .find(|m| m.sha256 == sha)
        .cloned()
}

/// The learned model `p` names: by hash (shipped or registered), else loaded from
/// `model_path` and checked against the hash. An error names the file.
pub fn resolve(p: &crate::blobs::DetectParams) -> Result<Arc<Model>> {
    let sha = match &p.model_sha256 {
        Some(s) => s.clone(),
        None => return Ok(Model::shipped()),
    };
    if let Some(m) = by_sha256(&sha) {
        return Ok(m);
    }
    let path = p.model_path.as_ref().ok_or_else(|| {
        Error::Model(format!(
            "model {sha} is neither the shipped model nor given by a file"
        ))
    })?;
    let m = Model::load(Path::new(path))?;
    if m.sha256 != sha {
        return Err(Error::Model(format!(
            "{path}: its SHA-256 {} is not the {sha} recorded",
            m.sha256
        )));
    }
    Ok(register(m))
}

/// Settings for a model file given on the command line (None = the shipped model).
pub fn select(p: &mut crate::blobs::DetectParams, file: Option<&Path>) -> Result<()> {
    match file {
        Some(f) => {
            let m = register(Model::load(f)?);
            p.model_sha256 = Some(m.sha256.clone());
            p.model_path = Some(f.display().to_string());
        }
        None => {
            p.model_sha256 = Some(Model::shipped().sha256.clone());
            p.model_path = None;
        }
    }
    Ok(())
}

/// The evidence model's detector terms for these detection settings: the learned
/// model's calibration when it has one, else None (keep the documented defaults).
pub fn calibrated_detector(p: &crate::blobs::DetectParams) -> Option<crate::evidence::DetectorModel> {
    if p.detector != crate::blobs::Detector::Learned {
        return None;
    }
    resolve(p).ok()?.evidence_detector()
}

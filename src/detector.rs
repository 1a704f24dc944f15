//! Which detector counts vehicles: the learned centre detector ([`crate::learned`],
//! the default) or the classical top-hat blobs ([`crate::blobs`]), as the settings'
//! [`Detector`] says. Both return [`Blob`]s in the grid's pixel coordinates, so the
//! pipeline does not care which one ran.

use ndarray::Array3;

use crate::blobs::{Blob, DetectParams, Detector};

/// Vehicles of `img` (`[band, row, col]`, pixel size `gsd_m`) at pixels where `valid`.
///
/// The learned model named by `p` must have been resolved when the settings were made
/// (`learned::model::select` / `resolve`): an unknown model here is a bug, not input.
pub fn detect(img: &Array3<f32>, valid: &[bool], gsd_m: f64, p: &DetectParams) -> Vec<Blob> {
    match p.detector {
        Detector::Learned => {
            let m =
                crate::learned::model::resolve(p).expect("the model is resolved when the settings are made");
            crate::learned::detect_blobs(img, valid, gsd_m, &m, p.vehicle_class)
        }
        Detector::Tophat => crate::blobs::detect(img, valid, gsd_m, p),
    }
}

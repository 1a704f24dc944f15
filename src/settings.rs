//! Every tunable of a site analysis in one type, [`Settings`]: built from the command
//! line, serialised as-is (flattened) into the `parameters` block of `report.json` and
//! of every batch job in a plan, and read back from there by `run` and `merge`. A new
//! tunable is one field here (with `#[serde(default)]` if plans written before it must
//! still load).

use serde::{Deserialize, Serialize};

use crate::align::coreg::CoregParams;
use crate::align::masks::MaskParams;
use crate::align::radiometry::RadiometryParams;
use crate::blobs::{DetectParams, VehicleClass};
use crate::change::ChangeParams;
use crate::evidence::EvidenceParams;

/// All tunables of a compare run (field order is the order in `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Margin added around each site's bounding box, metres.
    pub margin_m: f64,
    /// Observed fraction at or above which a site is `ok` rather than `partial_coverage`.
    pub full_coverage_fraction: f64,
    pub change: ChangeParams,
    pub detect: DetectParams,
    pub coregister: bool,
    pub coreg: CoregParams,
    pub normalise_radiometry: bool,
    pub radiometry: RadiometryParams,
    pub masks: MaskParams,
    pub evidence: EvidenceParams,
}

impl Settings {
    /// Defaults for a vehicle class, with the shipped model's hash and calibration.
    pub fn for_class(class: VehicleClass) -> Settings {
        let mut s = Settings {
            margin_m: 25.0,
            full_coverage_fraction: 0.99,
            change: ChangeParams::default(),
            detect: DetectParams {
                vehicle_class: class,
                ..DetectParams::default()
            },
            coregister: true,
            coreg: CoregParams::default(),
            normalise_radiometry: true,
            radiometry: RadiometryParams::default(),
            masks: MaskParams::default(),
            evidence: EvidenceParams::default(),
        };
        s.detect.model_sha256 = Some(crate::learned::model::Model::shipped().sha256.clone());
        s.calibrate_evidence();
        s
    }

    /// Takes the evidence model's detector terms from the learned model's measured
    /// calibration (tophat and uncalibrated models keep the documented defaults).
    pub fn calibrate_evidence(&mut self) {
        self.evidence.detector = crate::learned::model::calibrated_detector(&self.detect)
            .unwrap_or_else(|| EvidenceParams::default().detector);
    }
}

//! Evidence configs (`--evidence-config`): read, laid over the current parameters field
//! by field (a partial `detector` object keeps its other field), and validated so that a
//! config that cannot give meaningful verdicts, or would exhaust memory, exits 2 before
//! any work instead of panicking after it.

use super::EvidenceParams;

impl EvidenceParams {
    /// Errs with what is wrong when the parameters cannot give meaningful verdicts (or
    /// would exhaust memory): fractions outside 0-1, thresholds out of order, a recall
    /// outside (0, 1], sample counts outside 100-1,000,000.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let frac = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} {v} is outside 0-1"))
            }
        };
        frac("min_observed_fraction", self.min_observed_fraction)?;
        frac(
            "reparked_min_changed_fraction",
            self.reparked_min_changed_fraction,
        )?;
        let r = self.detector.recall;
        if !(r > 0.0 && r <= 1.0) {
            return Err(format!("detector.recall {r} is outside (0, 1]"));
        }
        let fp = self.detector.false_positives_per_km2;
        if !(0.0..=1e6).contains(&fp) {
            return Err(format!(
                "detector.false_positives_per_km2 {fp} is outside 0-1000000"
            ));
        }
        let cv = self.detector.false_positive_rate_cv;
        if !(0.0..=10.0).contains(&cv) {
            return Err(format!("detector.false_positive_rate_cv {cv} is outside 0-10"));
        }
        if !(100..=1_000_000).contains(&self.samples) {
            return Err(format!("samples {} is outside 100-1000000", self.samples));
        }
        if !(0.0..=1e6).contains(&self.min_before_vehicles) {
            return Err(format!(
                "min_before_vehicles {} is outside 0-1000000",
                self.min_before_vehicles
            ));
        }
        if !(0.0..=1e7).contains(&self.redeployment_max_distance_m) {
            return Err(format!(
                "redeployment_max_distance_m {} is outside 0-10000000",
                self.redeployment_max_distance_m
            ));
        }
        let order = [
            ("withdrawal_max_remaining", self.withdrawal_max_remaining),
            ("no_change_low", self.no_change_low),
            ("no_change_high", self.no_change_high),
        ];
        let ordered = 0.0 <= self.withdrawal_max_remaining
            && self.withdrawal_max_remaining < self.no_change_low
            && self.no_change_low <= 1.0
            && 1.0 <= self.no_change_high
            && self.no_change_min_low <= self.no_change_low
            && self.no_change_max_high >= self.no_change_high
            && self.no_change_max_high.is_finite();
        if !ordered {
            return Err(format!(
                "thresholds out of order: need 0 <= withdrawal_max_remaining < no_change_low <= 1 <= \
                 no_change_high, no_change_min_low <= no_change_low and no_change_max_high >= \
                 no_change_high (given {}, no_change_min_low {}, no_change_max_high {})",
                order.map(|(n, v)| format!("{n} {v}")).join(", "),
                self.no_change_min_low,
                self.no_change_max_high
            ));
        }
        Ok(())
    }
}

/// Reads evidence parameters from a JSON file; top-level fields left out keep their
/// values in `base` (e.g. the detector terms measured for the learned model).
pub fn load_params_over(
    path: &std::path::Path,
    base: &EvidenceParams,
) -> crate::error::Result<EvidenceParams> {
    let text = crate::fsutil::read_text_input(path, crate::fsutil::limits::CONFIG)?;
    let invalid =
        |e: serde_json::Error| crate::error::Error::input(path, format!("invalid evidence config: {e}"));
    // Validated as a whole first, so errors name the file's own line and column.
    let given: EvidenceParams = serde_json::from_str(&text).map_err(invalid)?;
    let keys: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
    if !keys.is_object() {
        return Err(crate::error::Error::input(
            path,
            "invalid evidence config: not a JSON object",
        ));
    }
    let given_map = serde_json::to_value(&given).expect("params serialise");
    let mut merged = serde_json::to_value(base).expect("params serialise");
    if let (Some(m), Some(g), Some(k)) = (merged.as_object_mut(), given_map.as_object(), keys.as_object()) {
        for (key, given_v) in k {
            let Some(v) = g.get(key) else { continue };
            match (m.get_mut(key), given_v.as_object()) {
                // A partial object (`{"detector": {"recall": 0.8}}`) keeps the other fields.
                (Some(serde_json::Value::Object(inner)), Some(sub)) => {
                    for sub_key in sub.keys() {
                        if let Some(x) = v.get(sub_key) {
                            inner.insert(sub_key.clone(), x.clone());
                        }
                    }
                }
                _ => {
                    m.insert(key.clone(), v.clone());
                }
            }
        }
    }
    let p: EvidenceParams = serde_json::from_value(merged).expect("merged params are valid");
    p.validate()
        .map_err(|m| crate::error::Error::input(path, format!("invalid evidence config: {m}")))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> crate::error::Result<EvidenceParams> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("e.json");
        std::fs::write(&p, text).unwrap();
        load_params_over(&p, &EvidenceParams::default())
    }

    #[test]
    fn partial_detector_keeps_the_other_field() {
        let base = EvidenceParams::default();
        let p = load(r#"{"detector": {"recall": 0.8}}"#).unwrap();
        assert_eq!(p.detector.recall, 0.8);
        assert_eq!(
            p.detector.false_positives_per_km2,
            base.detector.false_positives_per_km2
        );
        assert_eq!(p.samples, base.samples);
        assert_eq!(p.detector.false_positive_rate_cv, 0.0);
        // The spread alone (as `calibrate --out` writes it beside the other two).
        let p = load(r#"{"detector": {"false_positive_rate_cv": 0.65}}"#).unwrap();
        assert_eq!(p.detector.false_positive_rate_cv, 0.65);
        assert_eq!(p.detector.recall, base.detector.recall);
    }

    #[test]
    fn meaningless_or_exhausting_configs_are_refused() {
        for bad in [
            r#"{"samples": 0}"#,
            r#"{"samples": 1000000000}"#,
            r#"{"detector": {"recall": 0}}"#,
            r#"{"detector": {"recall": 1.5}}"#,
            r#"{"detector": {"false_positives_per_km2": -1}}"#,
            r#"{"detector": {"false_positives_per_km2": 1e300}}"#,
            r#"{"detector": {"false_positive_rate_cv": -0.5}}"#,
            r#"{"no_change_low": 1.2}"#,
            r#"{"withdrawal_max_remaining": 0.95}"#,
            r#"{"no_change_max_high": 1.0}"#,
            r#"{"min_observed_fraction": 2}"#,
            r#"[]"#,
            r#"{"unknown": 1}"#,
        ] {
            let e = load(bad).expect_err(bad).to_string();
            assert!(
                e.contains("e.json") && e.contains("invalid evidence config"),
                "{bad}: {e}"
            );
        }
        assert!(load("{}").is_ok());
    }
}

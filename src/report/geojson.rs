//! `detections.geojson`: a lon/lat Point feature per detected vehicle (RFC 7946).

use serde_json::json;

use super::Detection;

/// Renders detections as a FeatureCollection.
pub fn detections_geojson(dets: &[Detection]) -> String {
    let features: Vec<_> = dets
        .iter()
        .map(|d| {
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
                "properties": {
                    "site_id": d.site_id,
                    "date": d.date,
                    "acquisition_date": d.acquisition_date,
                    "area_m2": d.area_m2,
                    "length_m": d.length_m,
                    "width_m": d.width_m,
                    "polarity": d.polarity,
                }
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({"type": "FeatureCollection", "features": features}))
        .expect("geojson serialises");
    s.push('\n');
    s
}

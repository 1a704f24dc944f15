//! Coordinate reference systems by EPSG code and point transforms between them, with
//! `proj4rs` (a Rust port of PROJ.4) fed by the `crs-definitions` EPSG table.
//!
//! Geographic coordinates are exchanged in degrees, longitude first (x = lon, y = lat),
//! the traditional GIS order GeoTIFF and GeoJSON use; proj4rs itself works in radians,
//! which this module hides.

use proj4rs::Proj;

use crate::error::{Error, Result};

/// A CRS known by its EPSG code.
#[derive(Debug, Clone)]
pub struct Crs {
    pub epsg: u32,
    proj: Proj,
}

impl Crs {
    /// Looks `epsg` up in the EPSG table; unknown codes are an error.
    pub fn from_epsg(epsg: u32) -> Result<Crs> {
        let code =
            u16::try_from(epsg).map_err(|_| Error::Crs(format!("EPSG:{epsg} is not in the EPSG table")))?;
        let proj = Proj::from_epsg_code(code).map_err(|e| Error::Crs(format!("EPSG:{epsg}: {e}")))?;
        Ok(Crs { epsg, proj })
    }

    /// WGS 84 longitude/latitude (EPSG:4326).
    pub fn wgs84() -> Crs {
        Crs::from_epsg(4326).expect("EPSG:4326 is in every EPSG table")
    }

    /// True for longitude/latitude CRSs (units are degrees).
    pub fn is_geographic(&self) -> bool {
        self.proj.is_latlong()
    }

    /// `EPSG:nnnn`.
    pub fn name(&self) -> String {
        format!("EPSG:{}", self.epsg)
    }
}

/// EPSG code of the WGS 84 UTM zone containing (lon, lat): 326zz north, 327zz south.
pub fn utm_epsg_for(lon: f64, lat: f64) -> u32 {
    let lon = ((lon + 180.0).rem_euclid(360.0)) - 180.0;
    let zone = (((lon + 180.0) / 6.0).floor() as u32).clamp(0, 59) + 1;
    if lat >= 0.0 {
        32600 + zone
    } else {
        32700 + zone
    }
}

/// Transforms points from one CRS to another.
#[derive(Debug, Clone)]
pub struct Transformer {
    src: Crs,
    dst: Crs,
}

/// Lon/lat extent `[west, south, east, north]` of a `width` x `height` raster on
/// `transform` in `crs`: its outline sampled at 16 points per edge (a projected
/// rectangle's edges curve in lon/lat). None when no outline point transforms.
pub fn bounds_wgs84(
    crs: &Crs,
    transform: &super::GeoTransform,
    width: usize,
    height: usize,
) -> Option<[f64; 4]> {
    let t = Transformer::new(crs, &Crs::wgs84());
    let (w, h) = (width as f64, height as f64);
    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    let mut any = false;
    for k in 0..=16 {
        let f = k as f64 / 16.0;
        for (c, r) in [(f * w, 0.0), (f * w, h), (0.0, f * h), (w, f * h)] {
            let (x, y) = transform.apply(c, r);
            if let Some((lon, lat)) = t.apply(x, y) {
                any = true;
                b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
            }
        }
    }
    any.then_some(b)
}

impl Transformer {
    /// A transformer from `src` to `dst`.
    pub fn new(src: &Crs, dst: &Crs) -> Transformer {
        Transformer {
            src: src.clone(),
            dst: dst.clone(),
        }
    }

    /// True when source and target are the same CRS (no arithmetic needed).
    pub fn is_identity(&self) -> bool {
        self.src.epsg == self.dst.epsg
    }

    /// Transforms one point; `None` where the projection is undefined or fails.
    pub fn apply(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        if self.is_identity() {
            return Some((x, y));
        }
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        let mut p = if self.src.is_geographic() {
            (x.to_radians(), y.to_radians(), 0.0)
        } else {
            (x, y, 0.0)
        };
        proj4rs::transform::transform(&self.src.proj, &self.dst.proj, &mut p).ok()?;
        let out = if self.dst.is_geographic() {
            (p.0.to_degrees(), p.1.to_degrees())
        } else {
            (p.0, p.1)
        };
        (out.0.is_finite() && out.1.is_finite()).then_some(out)
    }

    /// Like [`Transformer::apply`] but an error names the point.
    pub fn apply_checked(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        self.apply(x, y).ok_or_else(|| {
            Error::Crs(format!(
                "cannot transform ({}, {}) from EPSG:{} to EPSG:{}",
                crate::error::num(x),
                crate::error::num(y),
                self.src.epsg,
                self.dst.epsg
            ))
        })
    }
}

/// Great-circle distance between two lon/lat points in degrees, metres (haversine on
/// the sphere of the mean Earth radius, 6,371,008.8 m; within 0.5 % of the ellipsoid,
/// which is far below what site distances and detection matches need). The one ground
/// distance of the project: evidence (redeployment reach) and eval (match radius) use it.
pub fn ground_distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.0 - a.0).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_in_lon_lat() {
        let t = crate::raster::GeoTransform([10.0, 0.1, 0.0, 50.0, 0.0, -0.1]);
        let b = bounds_wgs84(&Crs::wgs84(), &t, 10, 20).unwrap();
        assert_eq!(b, [10.0, 48.0, 11.0, 50.0]);
        // UTM 36N, 1 km square around (500 km E, 5317 km N): near 33 E, 48 N.
        let utm = Crs::from_epsg(32636).unwrap();
        let t = crate::raster::GeoTransform([499_500.0, 1.0, 0.0, 5_317_500.0, 0.0, -1.0]);
        let b = bounds_wgs84(&utm, &t, 1000, 1000).unwrap();
        let inv = Transformer::new(&Crs::wgs84(), &utm);
        let (x, y) = inv.apply((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0).unwrap();
        assert!(
            (x - 500_000.0).abs() < 1.0 && (y - 5_317_000.0).abs() < 1.0,
            "{x} {y}"
        );
        assert!(
            b[2] - b[0] > 0.0130 && b[2] - b[0] < 0.0137 && (b[3] - b[1] - 0.009).abs() < 1e-3,
            "{b:?}"
        );
    }

    #[test]
    fn utm_zones() {
        assert_eq!(utm_epsg_for(35.9, 48.0), 32636);
        assert_eq!(utm_epsg_for(36.1, 48.0), 32637);
        assert_eq!(utm_epsg_for(-75.0, -10.0), 32718);
    }

    #[test]
    fn wgs84_to_utm_and_back() {
        let wgs = Crs::wgs84();
        let utm = Crs::from_epsg(32636).unwrap();
        let fwd = Transformer::new(&wgs, &utm);
        // Central meridian of zone 36 is 33E: easting 500000 there.
        let (e, n) = fwd.apply(33.0, 0.0).unwrap();
        assert!((e - 500_000.0).abs() < 1e-3 && n.abs() < 1e-3, "{e} {n}");
        let (e, n) = fwd.apply(35.9, 48.0).unwrap();
        let (lon, lat) = Transformer::new(&utm, &wgs).apply(e, n).unwrap();
        assert!((lon - 35.9).abs() < 1e-9 && (lat - 48.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_code_is_an_error() {
        assert!(Crs::from_epsg(1).is_err());
        assert!(Crs::from_epsg(100_000).is_err());
    }
}

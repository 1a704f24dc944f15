//! The built-in scenarios: the demo, clear-sky pairs, and a nuisance suite in which the
//! after image differs from the before image by misregistration, radiometry, blur and
//! noise, GSD, band count, sample type, season, cloud or UTM zone, with or without
//! real change on the ground.

use super::{ImageSpec, Layout, SampleType, Scenario, SiteSpec, WORLD_H_M, WORLD_W_M};
use crate::error::{Error, Result};
use crate::synth::scene::Season;

/// Names of the built-in scenarios.
pub const SCENARIOS: &[&str] = &[
    "demo",
    "clear",
    "geographic",
    "nuisance-shift",
    "nuisance-radiometry",
    "nuisance-blur-noise",
    "nuisance-gsd",
    "nuisance-utm-zone",
    "nuisance-uint16-4band",
    "nuisance-all",
    "snow",
    "tight-rows",
    "cloud",
    "reparked",
    "mixed",
    "redeployment",
];

/// Scenarios of packed military vehicle parks, for the learned detector (the classical
/// detector merges packed rows; its suite is [`SCENARIOS`]).
pub const PARK_SCENARIOS: &[&str] = &["vehicle-park"];

/// A park scene for choosing training recipes only (never reported as a measurement).
pub const PARK_VALIDATION_SCENARIOS: &[&str] = &["vehicle-park-validation"];

/// One park site (the tuple order of [`SiteSpec`]).
#[allow(clippy::too_many_arguments)]
fn park_site(
    id: &'static str,
    name: &'static str,
    centre_m: (f64, f64),
    heading_deg: f64,
    rows: usize,
    cols: usize,
    before: usize,
    after: usize,
) -> SiteSpec {
    SiteSpec {
        id,
        name,
        centre_m,
        heading_deg,
        rows,
        cols,
        before,
        after,
    }
}

/// The park scenes' dates: steppe, the after date hazy, blurred and noisier.
fn park_dates(before: ImageSpec, after: ImageSpec) -> (ImageSpec, ImageSpec) {
    (
        ImageSpec {
            season: Season::Steppe,
            ..before
        },
        ImageSpec {
            season: Season::Steppe,
            gain: 0.85,
            offset: 0.08,
            blur_px: 0.5,
            noise: 0.012,
            ..after
        },
    )
}

/// A second vehicle park, for choosing between training recipes without looking at
/// `vehicle-park` (which measures): other pad positions (so other vehicles, gaps and
/// ground), headings and row lengths, the same dates. Its figures are never reported as
/// a measurement.
fn vehicle_park_validation(before: ImageSpec, after: ImageSpec) -> Scenario {
    let s = park_site;
    let (before, after) = park_dates(before, after);
    Scenario {
        name: "vehicle-park-validation",
        description: "validation park (recipe choice only): rows of 12-28 at other places and headings; \
                      kilo and mike withdrawn 90 %, lima halved, november holds",
        before,
        after,
        sites: vec![
            s("kilo", "Kilo tank park", (250.0, 330.0), 35.0, 2, 12, 24, 2),
            s("lima", "Lima IFV rows", (470.0, 300.0), -25.0, 2, 14, 28, 14),
            s("mike", "Mike long row", (230.0, 150.0), 60.0, 1, 28, 28, 3),
            s("november", "November row", (470.0, 130.0), 15.0, 1, 16, 16, 16),
        ],
        layout: Layout {
            park: true,
            ..Layout::default()
        },
    }
}

/// A vehicle park at 0.5 m on textured steppe: rows of 10-30 tanks, IFVs and trucks side
/// by side with 0.5-1.0 m gaps; between the dates alpha and delta are withdrawn (90 %),
/// charlie halves, bravo and echo hold; the after date is hazy, blurred and noisier.
fn vehicle_park(before: ImageSpec, after: ImageSpec) -> Scenario {
    let s = park_site;
    let (before, after) = park_dates(before, after);
    Scenario {
        name: "vehicle-park",
        description:
            "packed rows of 10-30 tanks, IFVs and trucks (0.5-1.0 m gaps) on textured steppe at 0.5 m, \
                      hazy after date: alpha and delta withdrawn 90 %, charlie halved, bravo and echo hold",
        before,
        after,
        sites: vec![
            s("alpha", "Alpha tank park", (150.0, 320.0), 0.0, 2, 15, 30, 3),
            s("bravo", "Bravo depot", (400.0, 320.0), 20.0, 1, 20, 20, 20),
            s(
                "charlie",
                "Charlie IFV rows",
                (140.0, 120.0),
                -10.0,
                2,
                12,
                24,
                12,
            ),
            s("delta", "Delta long row", (380.0, 110.0), 5.0, 1, 30, 30, 3),
            s("echo", "Echo trucks", (300.0, 215.0), 90.0, 1, 10, 10, 10),
        ],
        layout: Layout {
            park: true,
            ..Layout::default()
        },
    }
}

/// The watch list; `steady` makes every site keep its vehicles.
pub fn base_sites(steady: bool) -> Vec<SiteSpec> {
    let s = |id, name, centre_m, heading_deg, rows, cols, before, after: usize| SiteSpec {
        id,
        name,
        centre_m,
        heading_deg,
        rows,
        cols,
        before,
        after: if steady { before } else { after },
    };
    vec![
        s("alpha", "Alpha staging area", (110.0, 300.0), 0.0, 4, 6, 24, 2),
        s("bravo", "Bravo depot", (330.0, 310.0), 25.0, 4, 4, 16, 16),
        s("charlie", "Charlie field", (120.0, 110.0), -15.0, 3, 6, 6, 18),
        s("delta", "Delta railhead", (340.0, 110.0), 10.0, 4, 5, 20, 10),
        s("foxtrot", "Foxtrot edge", (520.0, 215.0), 90.0, 2, 4, 8, 8),
        s(
            "echo",
            "Echo (off the imagery)",
            (2500.0, 2500.0),
            0.0,
            1,
            1,
            0,
            0,
        ),
    ]
}

/// A clear-sky Byte image of the whole world in UTM 36N.
pub fn image(epsg: u32, gsd_m: f64, date: &'static str, seed: u64) -> ImageSpec {
    ImageSpec {
        epsg,
        gsd_m,
        extent_m: (0.0, 0.0, WORLD_W_M, WORLD_H_M),
        sample_type: SampleType::Byte,
        bands: 3,
        season: Season::Summer,
        date,
        seed,
        shift_m: (0.0, 0.0),
        gain: 1.0,
        offset: 0.0,
        blur_px: 0.0,
        noise: 0.005,
        cloud: None,
    }
}

/// Looks a scenario up by name.
pub fn scenario(name: &str) -> Result<Scenario> {
    let before = image(32636, 0.5, "2026-03-02", 1);
    let after = image(32636, 0.5, "2026-04-14", 2);
    let sc =
        |name, description, before: ImageSpec, after: ImageSpec, steady: bool, layout: Layout| Scenario {
            name,
            description,
            before,
            after,
            sites: base_sites(steady),
            layout,
        };
    let normal = Layout::default();
    Ok(match name {
        "demo" => sc(
            "demo",
            "before UTM 36N at 0.5 m, after UTM 37N at 0.6 m cut short in the east: withdrawal, no change, \
             buildup, partial withdrawal, a half-covered and an off-image site",
            before,
            ImageSpec { extent_m: (-10.0, -10.0, 520.0, WORLD_H_M + 10.0), ..image(32637, 0.6, "2026-04-14", 2) },
            false,
            normal,
        ),
        "clear" => sc("clear", "both dates UTM 36N at 0.5 m, full overlap, clear sky", before, after, false, normal),
        "geographic" => sc(
            "geographic",
            "before UTM 36N at 0.5 m (UInt16), after in EPSG:4326 at about 0.6 m",
            ImageSpec { sample_type: SampleType::UInt16, ..before },
            image(4326, 0.6, "2026-04-14", 2),
            false,
            normal,
        ),
        "nuisance-shift" => sc(
            "nuisance-shift",
            "nothing moved; the after image is misregistered by 2.6 px east, 1.4 px south",
            before,
            ImageSpec { shift_m: (1.3, -0.7), ..after },
            true,
            normal,
        ),
        "nuisance-radiometry" => sc(
            "nuisance-radiometry",
            "nothing moved; the after image is 20% brighter with an offset",
            before,
            ImageSpec { gain: 1.2, offset: 0.03, ..after },
            true,
            normal,
        ),
        "nuisance-blur-noise" => sc(
            "nuisance-blur-noise",
            "nothing moved; the after image is blurred (sigma 0.8 px) and three times noisier",
            before,
            ImageSpec { blur_px: 0.8, noise: 0.015, ..after },
            true,
            normal,
        ),
        "nuisance-gsd" => sc(
            "nuisance-gsd",
            "nothing moved; before 0.5 m, after 0.6 m",
            before,
            image(32636, 0.6, "2026-04-14", 2),
            true,
            normal,
        ),
        "nuisance-utm-zone" => sc(
            "nuisance-utm-zone",
            "nothing moved; the after image is in UTM 37N",
            before,
            image(32637, 0.5, "2026-04-14", 2),
            true,
            normal,
        ),
        "nuisance-uint16-4band" => sc(
            "nuisance-uint16-4band",
            "nothing moved; both dates UInt16 with a near-infrared band, the after image darker (gain 0.8)",
            ImageSpec { sample_type: SampleType::UInt16, bands: 4, ..before },
            ImageSpec { sample_type: SampleType::UInt16, bands: 4, gain: 0.8, ..after },
            true,
            normal,
        ),
        "nuisance-all" => sc(
            "nuisance-all",
            "nothing moved; after in UTM 37N at 0.6 m, shifted 1.5 px, gain 0.85 + offset, blurred and noisier",
            before,
            ImageSpec { shift_m: (-0.9, 0.5), gain: 0.85, offset: 0.02, blur_px: 0.6, noise: 0.01, ..image(32637, 0.6, "2026-04-14", 2) },
            true,
            normal,
        ),
        "snow" => sc(
            "snow",
            "winter: snow on the ground on both dates, real change on the sites",
            ImageSpec { season: Season::Snow, ..before },
            ImageSpec { season: Season::Snow, ..after },
            false,
            normal,
        ),
        "tight-rows" => sc(
            "tight-rows",
            "vehicles parked side by side with gaps of 0.7 m, real change",
            before,
            after,
            false,
            Layout { tight_rows: true, ..normal },
        ),
        "cloud" => sc(
            "cloud",
            "nothing moved; a cloud hides most of site alpha on the after date",
            before,
            ImageSpec { cloud: Some((110.0, 300.0, 45.0)), ..after },
            true,
            normal,
        ),
        "reparked" => sc(
            "reparked",
            "same counts, but the vehicles of every site moved to other slots",
            before,
            after,
            true,
            Layout { reparked: true, ..normal },
        ),
        "mixed" => sc(
            "mixed",
            "real change seen through every nuisance: after in UTM 37N at 0.6 m, shifted, gain 1.15, blurred, noisy",
            before,
            ImageSpec { shift_m: (0.8, 0.6), gain: 1.15, offset: -0.02, blur_px: 0.5, noise: 0.01, ..image(32637, 0.6, "2026-04-14", 2) },
            false,
            normal,
        ),
        "redeployment" => {
            let mut sites = base_sites(true);
            sites[0].after = 2;
            sites.push(SiteSpec {
                id: "golf",
                name: "Golf (new position 300 m east)",
                centre_m: (460.0, 360.0),
                heading_deg: 5.0,
                rows: 4,
                cols: 6,
                before: 0,
                after: 22,
            });
            Scenario {
                name: "redeployment",
                description: "alpha empties while golf, 300 m away, fills with as many vehicles; the rest hold",
                before,
                after,
                sites,
                layout: normal,
            }
        }
        "vehicle-park" => vehicle_park(before, after),
        "vehicle-park-validation" => vehicle_park_validation(before, after),
        other => {
            return Err(Error::Usage(format!(
                "unknown scenario {other:?}; choose one of {}, {}, {}",
                SCENARIOS.join(", "),
                PARK_SCENARIOS.join(", "),
                PARK_VALIDATION_SCENARIOS.join(", ")
            )))
        }
    })
}

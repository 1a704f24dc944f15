//! Fuzzing the text parsers (issue 12): random bytes, and valid documents with bytes
//! flipped, cut or repeated, through the sites GeoJSON, plan JSONL and catalogue
//! (CSV, JSON Lines, STAC) readers. Each input must give `Ok` or an error whose message
//! is one line, never a panic. Bounded: a fixed number of cases per parser (proptest,
//! seeded by its own defaults), a few seconds in all.

use std::path::Path;

use proptest::prelude::*;

const SITES: &str = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
 "properties": {"id": "depot-1", "name": "Depot", "weight": 2},
 "geometry": {"type": "MultiPolygon", "coordinates": [[[[35.9, 48.0], [35.91, 48.0],
 [35.91, 48.01], [35.9, 48.0]], [[35.902, 48.002], [35.905, 48.002], [35.905, 48.004],
 [35.902, 48.002]]]]}}]}"#;
const CSV: &str = "path,date\nimages/a.tif,2026-03-02\nimages/b.tif,2026-04-14\n";
const JSONL: &str = "{\"path\": \"a.tif\", \"date\": \"2026-03-02\"}\n{\"path\": \"b.tif\"}\n";
const STAC: &str = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
 "properties": {"datetime": "2026-03-02T10:00:00Z"}, "assets": {"visual": {"href": "a.tif"}}}]}"#;
const PLAN: &str = r#"{"key":"0000000000000000000000000000000000000000000000000000000000000000","site_index":0,"site_id":"a","before":{"path":"a.tif","date":"2026-03-02","sha256":"00"},"after":{"path":"b.tif","date":"2026-04-14","sha256":"00"}}"#;

/// A valid document damaged: `ops` of (position, kind, byte).
fn damage(doc: &str, ops: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = doc.as_bytes().to_vec();
    for &(pos, kind, byte) in ops {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let p = pos % b.len();
        match kind % 4 {
            0 => b[p] = byte,
            1 => b.truncate(p),
            2 => b.insert(p, byte),
            _ => {
                let tail = b[p..].to_vec();
                b.extend(tail);
            }
        }
    }
    b
}

fn one_line_or_ok<T>(r: stagewatch::Result<T>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let m = e.to_string();
        prop_assert!(!m.trim().contains('\n'), "two lines: {m}");
    }
    Ok(())
}

fn all_parsers(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let write = |name: &str| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    one_line_or_ok(stagewatch::sites::load_sites(&write("s.geojson")))?;
    one_line_or_ok(stagewatch::batch::load_plan(&write("p.jsonl")))?;
    for name in ["c.csv", "c.jsonl", "c.json"] {
        one_line_or_ok(stagewatch::catalog::load(&write(name), None))?;
    }
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let d = tempfile::tempdir().unwrap();
        all_parsers(d.path(), &bytes)?;
    }

    #[test]
    fn damaged_documents(doc in 0usize..5, ops in ops()) {
        let d = tempfile::tempdir().unwrap();
        let text = [SITES, CSV, JSONL, STAC, PLAN][doc];
        all_parsers(d.path(), &damage(text, &ops))?;
    }
}

//! Image catalogues: which image was taken on which date.
//!
//! Three formats, chosen by extension (`.csv`, `.jsonl`/`.ndjson`, `.json`):
//! - **CSV** with a header naming a `path` column and optionally a `date` column;
//! - **JSON Lines**, one `{"path": ..., "date": ...}` object per line;
//! - a local **STAC ItemCollection** (`{"type": "FeatureCollection", "features": [item]}`):
//!   the date is the item's `properties.datetime` (or `start_datetime`), the image is the
//!   asset named by `asset_key` when given, else the single GeoTIFF asset of the item
//!   (media type containing `tiff`, or an `href` ending in `.tif`/`.tiff`).
//!
//! Relative paths are resolved against the catalogue's folder. A missing date is taken
//! from the TIFF `DateTime` tag by the caller ([`fill_dates`]). Entries come back sorted
//! by (date, path), so every consumer sees the same order whatever the file order.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dates::normalise_date;
use crate::error::{Error, Result};
use crate::raster::{open, Backend};

/// One image of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    pub path: PathBuf,
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p.trim());
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn date_of(path: &Path, line: usize, raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => normalise_date(s)
            .map(Some)
            .ok_or_else(|| Error::input(path, format!("entry {line}: date {s:?} is not YYYY-MM-DD"))),
    }
}

/// The CSV catalogue, read with the `csv` crate (RFC 4180: quoted fields, doubled
/// quotes, newlines inside quotes, ragged rows allowed); blank lines are skipped and
/// line numbers in messages are the file's.
fn parse_csv(path: &Path, text: &str, base: &Path) -> Result<Vec<Entry>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = rdr.records();
    let bad = |e: csv::Error| Error::input(path, format!("not valid CSV: {e}"));
    let header = match records.next() {
        Some(r) => r.map_err(bad)?,
        None => return Err(Error::input(path, "empty catalogue")),
    };
    let cols: Vec<String> = header.iter().map(|c| c.trim().to_lowercase()).collect();
    let ip = cols
        .iter()
        .position(|c| c == "path" || c == "href")
        .ok_or_else(|| Error::input(path, "CSV header has no `path` column"))?;
    let id = cols.iter().position(|c| c == "date" || c == "datetime");
    let mut out = Vec::new();
    for r in records {
        let f = r.map_err(bad)?;
        let line = f.position().map_or(0, |p| p.line() as usize);
        if f.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let p = f
            .get(ip)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::input(path, format!("line {line}: no path")))?;
        out.push(Entry {
            path: resolve(base, p),
            date: date_of(path, line, id.and_then(|d| f.get(d)))?,
        });
    }
    Ok(out)
}

fn parse_jsonl(path: &Path, text: &str, base: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l)
            .map_err(|e| Error::input(path, format!("line {}: invalid JSON: {e}", i + 1)))?;
        let p = v
            .get("path")
            .or_else(|| v.get("href"))
            .and_then(Value::as_str)
            .ok_or_else(|| Error::input(path, format!("line {}: no string `path`", i + 1)))?;
        let d = v
            .get("date")
            .or_else(|| v.get("datetime"))
            .and_then(Value::as_str);
        out.push(Entry {
            path: resolve(base, p),
            date: date_of(path, i + 1, d)?,
        });
    }
    Ok(out)
}

fn is_tiff_asset(a: &Value) -> bool {
    let t = a.get("type").and_then(Value::as_str).unwrap_or("");
    let h = a.get("href").and_then(Value::as_str).unwrap_or("").to_lowercase();
    t.contains("tiff") || h.ends_with(".tif") || h.ends_with(".tiff")
}

fn parse_stac(path: &Path, text: &str, base: &Path, asset_key: Option<&str>) -> Result<Vec<Entry>> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| Error::input(path, format!("invalid JSON: {e}")))?;
    let feats = match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => v.get("features").and_then(Value::as_array),
        _ => None,
    }
    .ok_or_else(|| Error::input(path, "not a STAC ItemCollection (a FeatureCollection of items)"))?;
    let mut out = Vec::new();
    for (i, item) in feats.iter().enumerate() {
        let name = item
            .get("id")
            .and_then(Value::as_str)
            .map(|s| format!("item {s:?}"))
            .unwrap_or_else(|| format!("item {}", i + 1));
        let props = item.get("properties");
        let dt = props
            .and_then(|p| {
                p.get("datetime")
                    .filter(|d| !d.is_null())
                    .or_else(|| p.get("start_datetime"))
            })
            .and_then(Value::as_str);
        let assets = item
            .get("assets")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::input(path, format!("{name}: no assets")))?;
        let asset = match asset_key {
            Some(k) => assets
                .get(k)
                .ok_or_else(|| Error::input(path, format!("{name}: no asset {k:?}")))?,
            None => {
                let tiffs: Vec<&Value> = assets.values().filter(|a| is_tiff_asset(a)).collect();
                match tiffs.as_slice() {
                    [one] => *one,
                    [] => return Err(Error::input(path, format!("{name}: no GeoTIFF asset"))),
                    _ => {
                        let keys: Vec<&str> = assets.keys().map(String::as_str).collect();
                        return Err(Error::input(
                            path,
                            format!(
                                "{name}: several GeoTIFF assets ({}); choose one with --asset",
                                keys.join(", ")
                            ),
                        ));
                    }
                }
            }
        };
        let href = asset
            .get("href")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::input(path, format!("{name}: asset without href")))?;
        let href = href.strip_prefix("file://").unwrap_or(href);
        if href.contains("://") {
            return Err(Error::input(
                path,
                format!("{name}: only local assets are read, not {href}"),
            ));
        }
        out.push(Entry {
            path: resolve(base, href),
            date: date_of(path, i + 1, dt)?,
        });
    }
    Ok(out)
}

/// Reads a catalogue (format by extension), sorted by (date, path).
pub fn load(path: &Path, asset_key: Option<&str>) -> Result<Vec<Entry>> {
    let text = crate::fsutil::read_text_input(path, crate::fsutil::limits::CATALOG)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    let mut v = match ext.as_str() {
        "csv" => parse_csv(path, &text, base)?,
        "jsonl" | "ndjson" => parse_jsonl(path, &text, base)?,
        "json" | "geojson" => parse_stac(path, &text, base, asset_key)?,
        _ => {
            return Err(Error::input(
                path,
                "unknown catalogue format: use .csv, .jsonl or a STAC ItemCollection .json",
            ))
        }
    };
    if v.is_empty() {
        return Err(Error::input(path, "the catalogue lists no images"));
    }
    v.sort();
    Ok(v)
}

/// Fills missing dates from each image's TIFF `DateTime` tag; an image without either is
/// an error naming it. Returns the entries re-sorted.
pub fn fill_dates(catalog: &Path, entries: Vec<Entry>, backend: Backend) -> Result<Vec<Entry>> {
    let mut out = Vec::with_capacity(entries.len());
    for mut e in entries {
        if e.date.is_none() {
            let src = open(&e.path, backend)?;
            e.date = src.info().datetime.as_deref().and_then(normalise_date);
            if e.date.is_none() {
                return Err(Error::input(
                    catalog,
                    format!(
                        "{}: no date in the catalogue and no DateTime tag",
                        e.path.display()
                    ),
                ));
            }
        }
        out.push(e);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_quoting_is_rfc_4180() {
        let d = tempfile::tempdir().unwrap();
        let c = write(
            d.path(),
            "q.csv",
            "\"date\",path\n2026-01-02,\"a, b.tif\"\n\n2026-01-01,\"say \"\"hi\"\".tif\"\n",
        );
        let e = load(&c, None).unwrap();
        let names: Vec<String> = e
            .iter()
            .map(|x| x.path.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(names, vec!["say \"hi\".tif", "a, b.tif"]);
        assert_eq!(e[0].date.as_deref(), Some("2026-01-01"));
        // A row without its path names its line.
        let bad = write(d.path(), "r.csv", "path,date\na.tif,2026-01-01\n,2026-01-02\n");
        let msg = load(&bad, None).unwrap_err().to_string();
        assert!(msg.contains("line 3: no path"), "{msg}");
    }

    #[test]
    fn csv_jsonl_and_stac_agree() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        let c = write(
            base,
            "c.csv",
            "date,path\n2026-04-14,b.tif\n\"2026-03-02\",\"a.tif\"\n",
        );
        let j = write(
            base,
            "c.jsonl",
            "{\"path\":\"b.tif\",\"date\":\"2026-04-14T10:00:00Z\"}\n{\"path\":\"a.tif\",\"date\":\"2026-03-02\"}\n",
        );
        let s = write(
            base,
            "c.json",
            r#"{"type":"FeatureCollection","features":[
              {"id":"x","properties":{"datetime":"2026-04-14T09:00:00Z"},
               "assets":{"img":{"href":"./b.tif","type":"image/tiff; application=geotiff"},
                         "thumb":{"href":"b.png","type":"image/png"}}},
              {"id":"y","properties":{"datetime":null,"start_datetime":"2026-03-02T00:00:00Z"},
               "assets":{"img":{"href":"a.tif"}}}]}"#,
        );
        let want = vec![
            Entry {
                date: Some("2026-03-02".into()),
                path: base.join("a.tif"),
            },
            Entry {
                date: Some("2026-04-14".into()),
                path: base.join("b.tif"),
            },
        ];
        assert_eq!(load(&c, None).unwrap(), want);
        assert_eq!(load(&j, None).unwrap(), want);
        let st = load(&s, None).unwrap();
        assert_eq!(st[0].path, base.join("a.tif"));
        assert_eq!(st[1].date.as_deref(), Some("2026-04-14"));
    }

    #[test]
    fn bad_catalogues_name_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let e = load(&write(d.path(), "x.csv", "file,when\na,b\n"), None).unwrap_err();
        assert!(e.to_string().contains("no `path` column"), "{e}");
        let e = load(&write(d.path(), "y.csv", "path,date\na.tif,yesterday\n"), None).unwrap_err();
        assert!(e.to_string().contains("not YYYY-MM-DD"), "{e}");
        let e = load(&write(d.path(), "z.jsonl", "{nope\n"), None).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = load(
            &write(
                d.path(),
                "s.json",
                r#"{"type":"FeatureCollection","features":[{"properties":{"datetime":"2026-01-01"},
                 "assets":{"a":{"href":"https://x/a.tif"}}}]}"#,
            ),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("only local assets"), "{e}");
        let e = load(&write(d.path(), "e.csv", "path,date\n"), None).unwrap_err();
        assert!(e.to_string().contains("no images"), "{e}");
    }

    #[test]
    fn dates_come_from_the_tiff_datetime_tag_when_missing() {
        use crate::raster::write::{write_geotiff, GeoMeta, Samples};
        use crate::raster::GeoTransform;
        let d = tempfile::tempdir().unwrap();
        let meta = |dt: Option<&str>| GeoMeta {
            epsg: 32636,
            transform: GeoTransform::north_up(500_000.0, 5_600_000.0, 0.5, 0.5),
            nodata: None,
            datetime: dt.map(String::from),
        };
        let px = vec![7u8; 16 * 16];
        write_geotiff(
            &d.path().join("tagged.tif"),
            16,
            16,
            1,
            Samples::U8(&px),
            &meta(Some("2026:05:20 10:30:00")),
        )
        .unwrap();
        write_geotiff(
            &d.path().join("bare.tif"),
            16,
            16,
            1,
            Samples::U8(&px),
            &meta(None),
        )
        .unwrap();
        let c = write(d.path(), "c.csv", "path,date\ntagged.tif,\n");
        let entries = fill_dates(&c, load(&c, None).unwrap(), Backend::PureRust).unwrap();
        assert_eq!(entries[0].date.as_deref(), Some("2026-05-20"));
        let c = write(d.path(), "b.csv", "path\nbare.tif\n");
        let e = fill_dates(&c, load(&c, None).unwrap(), Backend::PureRust)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("b.csv") && e.contains("bare.tif") && e.contains("no DateTime tag"),
            "{e}"
        );
    }
}

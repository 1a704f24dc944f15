//! Command-line interface (clap derive). `main` stays thin: it calls [`run`] and turns
//! the result into an exit code: 0 success, 1 when some sites failed, 2 on bad input.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod batch;
mod bench;
mod learned;

pub use args::{AnalysisOpts, Cli, Command, DetectorOpts, ReaderArg};

use crate::blobs::{Detector, VehicleClass};
use crate::error::{Error, Result};
use crate::pipeline::{run_compare, CompareArgs, CompareOutcome, Settings};
use crate::raster::{open, Backend};
use crate::report::SiteStatus;
use crate::synth::{render_scenario, SCENARIOS};

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stagewatch: error: {}", crate::error::one_line(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn summary(o: &CompareOutcome, out: &std::path::Path, truth: Option<&crate::synth::Truth>) {
    let inputs = &o.report.inputs;
    let date = |d: &Option<String>| d.clone().unwrap_or_else(|| "undated".into());
    println!(
        "before {} ({}), after {} ({})",
        date(&inputs.before.date),
        inputs.before.path,
        date(&inputs.after.date),
        inputs.after.path
    );
    println!(
        "{:<10} {:<17} {:>8} {:>7} {:>7} {:>8} {:>9}  {:<18} remaining (90 %)",
        "site", "status", "observed", "before", "after", "changed", "truth", "verdict"
    );
    for s in &o.report.sites {
        let t = truth
            .and_then(|t| t.sites.iter().find(|x| x.id == s.id))
            .map(|x| format!("{}->{}", x.before_vehicles, x.after_vehicles))
            .unwrap_or_default();
        let (verdict, remaining) = match &s.evidence {
            Some(e) => (
                e.verdict.as_str(),
                e.remaining_fraction
                    .map(|r| format!("{:.2} ({:.2}-{:.2})", r.estimate, r.low, r.high))
                    .unwrap_or_default(),
            ),
            None => ("", String::new()),
        };
        println!(
            "{:<10} {:<17} {:>7.1}% {:>7} {:>7} {:>7.1}% {:>9}  {:<18} {}",
            s.id,
            s.status.as_str(),
            100.0 * s.observed_fraction,
            s.before.vehicles,
            s.after.vehicles,
            100.0 * s.changed_fraction,
            t,
            verdict,
            remaining
        );
        if let Some(e) = &s.error {
            println!("           error: {e}");
        }
    }
    let e = &o.report.withdrawal_evidence;
    println!(
        "withdrawal evidence: score {:.2}, verdict {}, {} sites used, coverage {:.0} %",
        e.score,
        e.verdict.as_str(),
        e.sites_used,
        100.0 * e.coverage
    );
    for r in &e.redeployments {
        println!(
            "  redeployment: about {:.0} vehicles from {} to {} ({:.1} km)",
            r.vehicles,
            r.from,
            r.to,
            r.distance_m / 1000.0
        );
    }
    println!(
        "observed: share of the site seen on both dates; before/after: vehicles counted there; \
         changed: share of the observed site whose pixels changed; remaining: after/before true \
         numbers, estimate (90 % interval)"
    );
    println!("outputs: {}", out.display());
}

fn exit_for(o: &CompareOutcome) -> ExitCode {
    if o.site_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(mib) = cli.max_site_mib {
        crate::memory::set_budget_mib(mib);
    }
    match cli.command {
        Command::Train(a) => learned::run_train(&a, cli.quiet),
        Command::Calibrate(a) => learned::run_calibrate(&a, cli.quiet),
        Command::Compare {
            before,
            after,
            sites,
            out,
            before_date,
            after_date,
            before_mask,
            after_mask,
            analysis,
        } => {
            for (flag, d) in [("--before-date", &before_date), ("--after-date", &after_date)] {
                if let Some(d) = d {
                    if crate::dates::normalise_date(d).as_deref() != Some(d.as_str()) {
                        return Err(Error::Usage(format!("{flag} {d:?} is not a YYYY-MM-DD date")));
                    }
                }
            }
            let settings = analysis.settings()?;
            let args = CompareArgs {
                before,
                after,
                sites,
                out: out.clone(),
                before_date,
                after_date,
                before_mask,
                after_mask,
                settings,
                backend: analysis.reader.backend(),
                progress: !cli.quiet,
            };
            let o = run_compare(&args)?;
            if !cli.quiet {
                summary(&o, &out, None);
            }
            for s in o.report.sites.iter().filter(|s| s.status == SiteStatus::Error) {
                eprintln!("stagewatch: site {}: {}", s.id, s.error.as_deref().unwrap_or(""));
            }
            Ok(exit_for(&o))
        }
        Command::Timeline {
            images,
            sites,
            out,
            asset,
            analysis,
        } => batch::timeline(images, sites, out, asset, &analysis, cli.quiet),
        Command::Plan {
            images,
            sites,
            pairs,
            out,
            asset,
            analysis,
        } => batch::plan(images, sites, pairs, out, asset, &analysis, cli.quiet),
        Command::Run {
            plan,
            out,
            shard,
            shards,
            log_format,
        } => batch::run(plan, out, shard, shards, log_format, cli.quiet),
        Command::Status {
            plan,
            out,
            shards,
            json,
        } => batch::status(&plan, &out, shards, json),
        Command::Merge { plan, out } => batch::merge(&plan, &out, cli.quiet),
        Command::Detect {
            image,
            sites,
            out,
            date,
            mask,
            vehicle_class,
            reader,
            detector,
        } => {
            let mut settings = Settings::for_class(vehicle_class);
            detector.apply(&mut settings.detect)?;
            let args = crate::pipeline::detect::DetectArgs {
                image,
                sites,
                out: out.clone(),
                date,
                mask,
                settings,
                backend: reader.backend(),
            };
            let (rep, errors) = crate::pipeline::detect::run_detect(&args)?;
            if !cli.quiet {
                for s in &rep.sites {
                    let n = s.vehicles.map_or("-".to_string(), |v| v.to_string());
                    println!(
                        "{:<12} {:>6} vehicles  observed {:>5.1}%  {} {}",
                        s.id,
                        n,
                        100.0 * s.observed_fraction,
                        s.status.as_str(),
                        s.flags.join(" ")
                    );
                }
                println!("outputs: {}", out.display());
            }
            for s in rep.sites.iter().filter(|s| s.status == SiteStatus::Error) {
                eprintln!("stagewatch: site {}: {}", s.id, s.error.as_deref().unwrap_or(""));
            }
            Ok(if errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Eval {
            detections,
            truth,
            match_distance_m,
            date,
            out,
        } => {
            let det = crate::eval::load_points(&detections)?;
            let tru = crate::eval::load_points(&truth)?;
            let (det, tru) = crate::eval::align_dates(det, tru, date.as_deref())
                .map_err(|m| Error::input(&detections, format!("against {}: {m}", truth.display())))?;
            let r = crate::eval::evaluate(&det, &tru, match_distance_m);
            let mut json = serde_json::to_string_pretty(&r).expect("json");
            json.push('\n');
            if let Some(p) = out {
                crate::fsutil::write_atomic(&p, json.as_bytes())?;
            }
            print!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Command::WrapFrame {
            png,
            yolo,
            gsd_m,
            classes,
            out,
        } => {
            let f = crate::eval::frames::wrap_frame(&png, &yolo, gsd_m, &classes, &out)?;
            if !cli.quiet {
                println!(
                    "wrote {}, {}, {} ({} vehicles)",
                    f.image.display(),
                    f.sites.display(),
                    f.truth.display(),
                    f.vehicles
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            out,
            scenario,
            list,
            series,
            archive,
            archive_sites,
        } => {
            if list {
                for name in SCENARIOS.iter().chain(crate::synth::PARK_SCENARIOS) {
                    println!("{name}: {}", crate::synth::scenario(name)?.description);
                }
                for name in crate::synth::series::SERIES {
                    println!("{name} (series, use --series)");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let Some(out) = out else {
                return Err(Error::Usage("synth: --out is required".into()));
            };
            if let Some(size) = archive {
                let a = crate::synth::archive::render_archive(&out, size, archive_sites)?;
                if !cli.quiet {
                    println!("wrote {}, {}", a.catalog.display(), a.sites.display());
                }
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(name) = series {
                let r = crate::synth::series::render_series(&name, &out)?;
                if !cli.quiet {
                    println!(
                        "wrote {} ({} images), {}",
                        r.catalog.display(),
                        r.images.len(),
                        r.sites.display()
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let r = render_scenario(&scenario, &out)?;
            if !cli.quiet {
                println!(
                    "wrote {}, {}, {}, {}",
                    r.before.display(),
                    r.after.display(),
                    r.sites.display(),
                    r.truth.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            out,
            scenario,
            detector,
        } => {
            let dir = out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("stagewatch-demo-{}", std::process::id()))
            });
            let sc = crate::synth::scenario(&scenario)?;
            eprintln!(
                "rendering scenario {:?} ({}) into {}",
                sc.name,
                sc.description,
                dir.display()
            );
            let r = render_scenario(&scenario, &dir.join("scene"))?;
            let args = CompareArgs {
                before: r.before.clone(),
                after: r.after.clone(),
                sites: r.sites.clone(),
                out: dir.join("out"),
                before_date: None,
                after_date: None,
                before_mask: None,
                after_mask: None,
                settings: {
                    let mut s = Settings::for_class(VehicleClass::Military);
                    DetectorOpts {
                        detector,
                        model: None,
                    }
                    .apply(&mut s.detect)?;
                    s.calibrate_evidence();
                    s
                },
                backend: Backend::default_for_build(),
                progress: !cli.quiet,
            };
            let o = run_compare(&args)?;
            summary(&o, &args.out, Some(&r.truth_data));
            if detector == Detector::Tophat {
                println!(
                    "detector: tophat (the classical detector these rendered scenes were built with); \
                     `compare` counts with the learned detector by default, which is trained on real \
                     imagery and misses many of these packed rendered vehicles (`demo --detector learned`)"
                );
            }
            Ok(exit_for(&o))
        }
        Command::Scan {
            before,
            after,
            out,
            band,
            threshold,
            min_area_m2,
            max_area_m2,
            quiet,
        } => {
            let args = crate::pipeline::scan::ScanArgs {
                before,
                after,
                out,
                band,
                threshold,
                min_area_m2,
                max_area_m2,
            };
            let t = std::time::Instant::now();
            let o = crate::pipeline::scan::run_scan(&args)?;
            if !quiet {
                let s = t.elapsed().as_secs_f64();
                eprintln!(
                    "scan: {} changed blobs in {:.1} Mpx ({:.2} s, {:.0} Mpx/s) -> {}",
                    o.blobs,
                    o.pixels as f64 / 1e6,
                    s,
                    o.pixels as f64 / 1e6 / s,
                    args.out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchHotpath {
            size,
            vehicles,
            write_raw,
            repeats,
        } => bench::bench_hotpath(size, vehicles, write_raw, repeats),
        Command::Info {
            path,
            reader,
            read,
            pixels_only,
        } => {
            let src: Box<dyn crate::raster::RasterSource> = if pixels_only {
                Box::new(crate::raster::geotiff::GeoTiff::open_pixels_only(&path)?)
            } else {
                open(&path, reader.backend())?
            };
            if read {
                crate::raster::read_all(src.as_ref())?;
            }
            let i = src.info();
            // West, south, east, north in degrees: what a sites file is written in.
            let bounds = crate::raster::crs::Crs::from_epsg(i.epsg)
                .ok()
                .and_then(|c| crate::raster::crs::bounds_wgs84(&c, &i.transform, i.width, i.height))
                .map(|b| b.map(|v| (v * 1e7).round() / 1e7));
            let v = serde_json::json!({
                "path": i.path.display().to_string(), "width": i.width, "height": i.height,
                "bands": i.bands, "data_type": i.data_type, "crs": format!("EPSG:{}", i.epsg),
                "geotransform": i.transform.0, "nodata": i.nodata, "datetime": i.datetime,
                "bounds_wgs84": bounds,
            });
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

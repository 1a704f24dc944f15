//! Handlers of `stagewatch train` and `stagewatch calibrate` (the learned detector).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::blobs::VehicleClass;
use crate::error::{Error, Result};
use crate::learned::frames::{folder_entries, geotiff_entry, load_frame, shared_entries, Entry, Split};
use crate::learned::measure::{detect_all, score_all, summarise, FrameScore, Summary};
use crate::learned::model::Model;
use crate::learned::train::{train, TrainOptions};
use crate::learned::withdrawal::WithdrawalResult;
use rayon::prelude::*;

/// Train the learned vehicle detector on labelled frames (deterministic for a seed).
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub labelled: LabelledInputs,
    /// Model file written.
    #[arg(long)]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long, default_value_t = TrainOptions::default().steps)]
    pub steps: usize,
    /// Patches per step.
    #[arg(long, default_value_t = TrainOptions::default().batch)]
    pub batch: usize,
    /// Random seed (training is deterministic for a seed, whatever the thread count).
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// Hidden channels.
    #[arg(long, default_value_t = TrainOptions::default().width)]
    pub width: usize,
    /// Pixel size the network works at, metres.
    #[arg(long, default_value_t = TrainOptions::default().working_gsd_m)]
    pub working_gsd_m: f64,
    /// Share of patches with real labelled vehicles cut from other frames pasted in.
    #[arg(long, default_value_t = TrainOptions::default().paste_probability)]
    pub paste_probability: f32,
    /// Share of patches with procedurally rendered vehicles drawn in (domain
    /// randomisation; 0 gives the recipe of the model shipped before it).
    #[arg(long, default_value_t = TrainOptions::default().render_probability)]
    pub render_probability: f32,
    /// Share of patches with unlabelled smooth vehicle-sized footprints (ground a vehicle
    /// left; measured at 0.3, not adopted).
    #[arg(long, default_value_t = TrainOptions::default().footprint_probability)]
    pub footprint_probability: f32,
    /// Decay of the moving average of the weights the model keeps (0: the last step's
    /// weights).
    #[arg(long, default_value_t = TrainOptions::default().ema_decay)]
    pub ema_decay: f32,
    /// Test-time views detection averages (1, or 4: the image and its mirror images);
    /// the threshold is tuned for them.
    #[arg(long, default_value_t = 4)]
    pub views: usize,
}

/// `views` if 1 or 4.
fn check_views(views: usize, cmd: &str) -> Result<usize> {
    if views == 1 || views == 4 {
        Ok(views)
    } else {
        Err(Error::Usage(format!(
            "{cmd}: --views must be 1 or 4, not {views}"
        )))
    }
}

/// Labelled imagery for `train` and `calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct LabelledInputs {
    /// The shared labelled set (`aerial-vehicles/` with kit-munich, minsk-drone, armour):
    /// `train` uses its training sequences, `calibrate` its measuring ones.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder of your own labelled frames (PNG/JPEG + YOLO `.txt`), at `--frames-gsd-m`.
    #[arg(long)]
    pub frames: Vec<PathBuf>,
    /// Pixel size of the `--frames` folders, metres.
    #[arg(long, default_value_t = 0.3)]
    pub frames_gsd_m: f64,
    /// Your own georeferenced image (GeoTIFF; first three bands), with `--truth`.
    #[arg(long)]
    pub geotiff: Vec<PathBuf>,
    /// GeoJSON of the vehicles in the matching `--geotiff` (points or polygons, lon/lat).
    #[arg(long)]
    pub truth: Vec<PathBuf>,
    /// Length given to point labels, metres.
    #[arg(long, default_value_t = 7.0)]
    pub point_length_m: f64,
    /// The validation sequences of the shared set's training side (KIT `MunichStreet02`,
    /// Minsk `DJI-00760`): `exclude` trains without them, `only` keeps nothing else (to
    /// compare training recipes without looking at the measuring frames).
    #[arg(long, value_enum)]
    pub validation: Option<Validation>,
}

/// What to do with the validation sequences ([`VALIDATION_SEQUENCES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Validation {
    Exclude,
    Only,
}

/// Training-side sequences held out to choose between training recipes: one per
/// street source, each a separate flight, so the held-out vehicles were never seen.
pub const VALIDATION_SEQUENCES: [&str; 2] = ["kit-munich/MunichStreet02", "minsk-drone/DJI-00760"];

impl LabelledInputs {
    /// The shared set's entries of `split` (those with complete labels only when
    /// `complete_only`) plus every frame given by the user.
    fn entries(&self, split: Split, complete_only: bool, cmd: &str) -> Result<Vec<Entry>> {
        let mut e: Vec<Entry> = match &self.data {
            Some(d) => shared_entries(d)?
                .into_iter()
                .filter(|e| e.split == split && !(complete_only && e.incomplete))
                .filter(|e| {
                    let held =
                        VALIDATION_SEQUENCES.contains(&format!("{}/{}", e.source, e.sequence).as_str());
                    match self.validation {
                        None => true,
                        Some(Validation::Exclude) => !held,
                        Some(Validation::Only) => held,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        for f in &self.frames {
            e.extend(folder_entries(f, self.frames_gsd_m)?);
        }
        if self.geotiff.len() != self.truth.len() {
            return Err(Error::Usage(format!("{cmd}: give one --truth per --geotiff")));
        }
        for (t, g) in self.geotiff.iter().zip(&self.truth) {
            e.push(geotiff_entry(t, g, self.point_length_m)?);
        }
        if e.is_empty() {
            return Err(Error::Usage(format!(
                "{cmd}: no labelled frames (give --data, --frames or --geotiff/--truth)"
            )));
        }
        Ok(e)
    }
}

/// Threshold with the best F1 on the tuning (training) frames at 0.5 m.
fn tune_threshold(model: &mut Model, entries: &[Entry]) -> Result<(f32, Summary)> {
    // Frames with incomplete labels would count unlabelled vehicles as false positives.
    let complete: Vec<Entry> = entries.iter().filter(|e| !e.incomplete).cloned().collect();
    let entries = if complete.is_empty() {
        entries
    } else {
        &complete[..]
    };
    model.header.threshold = 0.1;
    let scored = detect_all(
        entries,
        Some(0.5_f64.max(model.header.working_gsd_m)),
        model,
        VehicleClass::Any,
    )?;
    let f1 = |s: &Summary| 2.0 * s.recall * s.precision / (s.recall + s.precision).max(1e-9);
    let mut best: Option<(f32, Summary)> = None;
    for i in 0..=20 {
        let t = 0.1 + 0.025 * i as f32;
        let frames: Vec<FrameScore> = scored.iter().map(|s| s.at(t)).collect();
        let s = summarise(&frames, 5);
        if best.as_ref().is_none_or(|b| f1(&s) > f1(&b.1)) {
            best = Some((t, s));
        }
    }
    let (t, s) = best.expect("thresholds tried");
    model.header.threshold = t;
    Ok((t, s))
}

/// `stagewatch train`.
pub fn run_train(a: &TrainArgs, quiet: bool) -> Result<ExitCode> {
    let entries = a.labelled.entries(Split::Train, false, "train")?;
    let o = TrainOptions {
        steps: a.steps,
        batch: a.batch,
        seed: a.seed,
        width: a.width,
        working_gsd_m: a.working_gsd_m,
        paste_probability: a.paste_probability,
        render_probability: a.render_probability,
        footprint_probability: a.footprint_probability,
        ema_decay: a.ema_decay,
        ..TrainOptions::default()
    };
    let frames = entries
        .iter()
        .map(|e| load_frame(e, o.working_gsd_m))
        .collect::<Result<Vec<_>>>()?;
    let n_boxes: usize = frames.iter().map(|f| f.boxes.len()).sum();
    if !quiet {
        eprintln!(
            "train: {} frames, {} vehicles, {} steps of {}",
            frames.len(),
            n_boxes,
            o.steps,
            o.batch
        );
    }
    let t0 = std::time::Instant::now();
    let log = |step: usize, loss: f64| {
        if !quiet {
            eprintln!(
                "step {step:>6}  loss {loss:.4}  ({:.0} s)",
                t0.elapsed().as_secs_f64()
            );
        }
    };
    let views = check_views(a.views, "train")?;
    let (mut model, losses) = train(&frames, &o, &log);
    model.header.views = views;
    let (t, s) = tune_threshold(&mut model, &entries)?;
    let seqs: std::collections::BTreeSet<String> = entries
        .iter()
        .map(|e| format!("{}/{}", e.source, e.sequence))
        .collect();
    if let serde_json::Value::Object(m) = &mut model.header.training {
        m.insert("sequences".into(), serde_json::json!(seqs));
        m.insert("frames".into(), serde_json::json!(frames.len()));
        m.insert("vehicles".into(), serde_json::json!(n_boxes));
        m.insert("final_loss".into(), serde_json::json!(losses.last()));
    }
    model.save(&a.out)?;
    let saved = Model::load(&a.out)?;
    if !quiet {
        eprintln!(
            "train: threshold {t} (tuning frames at 0.5 m: recall {:.3} precision {:.3}); wrote {} (sha256 {})",
            s.recall,
            s.precision,
            a.out.display(),
            saved.sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Measure a detector model on labelled frames (recall, precision, count error, false
/// positives per km²) and write the evidence config those figures imply.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Model file (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub labelled: LabelledInputs,
    /// Pixel sizes to measure at, metres (0 = each frame's own).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.0, 0.3, 0.5])]
    pub gsd_m: Vec<f64>,
    /// Evidence config written (`--evidence-config` of compare), from the analysis
    /// pixel size `--analysis-gsd-m`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 0.5)]
    pub analysis_gsd_m: f64,
    /// Full per-frame scores as JSON.
    #[arg(long)]
    pub scores: Option<PathBuf>,
    /// Write a copy of the model with the measured recall and false positives in its
    /// header (the figures `compare` then uses by default).
    #[arg(long)]
    pub embed: Option<PathBuf>,
    /// Also paint out 60 % of the vehicles of every frame with at least this many and
    /// compare before with after (0 = skip).
    #[arg(long, default_value_t = 40)]
    pub withdrawal_min_vehicles: usize,
    /// Score the training (tuning) sequences instead of the measuring ones.
    #[arg(long)]
    pub tuning_frames: bool,
    /// Peak threshold instead of the model's own (for exploring on tuning frames).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Test-time views (1 or 4) instead of the model's own.
    #[arg(long)]
    pub views: Option<usize>,
    /// Tune the threshold again, as `train` does (best F1 on the completely labelled
    /// training frames at 0.5 m; with `--validation only`, the training frames without
    /// the validation sequences), e.g. after `--views` changed.
    #[arg(long)]
    pub retune_threshold: bool,
}

/// The measured model: per pixel size, the summaries by source and the frames.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub model_sha256: String,
    pub by_gsd: Vec<GsdScores>,
    pub withdrawals: Vec<WithdrawalResult>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct GsdScores {
    /// 0 = native.
    pub gsd_m: f64,
    pub by_source: Vec<(String, Summary)>,
    pub frames: Vec<FrameScore>,
}

fn load_model(p: Option<&Path>) -> Result<Model> {
    match p {
        Some(p) => Model::load(p),
        None => Ok((*Model::shipped()).clone()),
    }
}

/// "nat" for a frame's own pixel size (0), else the size.
fn gsd_label(g: f64) -> String {
    if g > 0.0 {
        format!("{g}")
    } else {
        "nat".into()
    }
}

/// Scores at one pixel size, summarised per source (printed unless `quiet`).
fn scores_at(entries: &[Entry], g: f64, model: &Model, quiet: bool) -> Result<GsdScores> {
    let frames = score_all(entries, (g > 0.0).then_some(g), model, VehicleClass::Any)?;
    let mut sources: Vec<String> = frames.iter().map(|f| f.source.clone()).collect();
    sources.dedup();
    let by_source: Vec<(String, Summary)> = sources
        .iter()
        .map(|s| {
            let fs: Vec<FrameScore> = frames.iter().filter(|f| &f.source == s).cloned().collect();
            (s.clone(), summarise(&fs, 5))
        })
        .collect();
    if !quiet {
        for (s, m) in &by_source {
            println!(
                "{:<5} {:<12} frames {:>3} truth {:>4} det {:>4}  recall {:.3} precision {:.3}  count error median {:>5.1} % worst {:>5.1} %  FP/km2 {:.0}",
                gsd_label(g),
                s,
                m.frames,
                m.truth,
                m.detected,
                m.recall,
                m.precision,
                100.0 * m.count_error_median,
                100.0 * m.count_error_worst,
                m.false_positives_per_km2
            );
        }
    }
    Ok(GsdScores {
        gsd_m: g,
        by_source,
        frames,
    })
}

/// The painted-out withdrawal on every entry at one pixel size (printed unless `quiet`).
fn withdrawals_at(
    a: &CalibrateArgs,
    entries: &[Entry],
    g: f64,
    model: &Model,
    quiet: bool,
) -> Result<Vec<WithdrawalResult>> {
    use crate::evidence::Verdict;
    let defaults = crate::evidence::EvidenceParams::default();
    let ev = crate::evidence::EvidenceParams {
        detector: model
            .evidence_detector()
            .unwrap_or_else(|| defaults.detector.clone()),
        ..defaults
    };
    let gsd = (g > 0.0).then_some(g);
    let rs: Vec<Option<WithdrawalResult>> = entries
        .par_iter()
        .map(|e| crate::learned::withdrawal::on_entry(e, gsd, model, &ev, a.withdrawal_min_vehicles))
        .collect::<Result<_>>()?;
    let rs: Vec<WithdrawalResult> = rs.into_iter().flatten().collect();
    if !quiet && !rs.is_empty() {
        let count = |f: &dyn Fn(&WithdrawalResult) -> bool| rs.iter().filter(|r| f(r)).count();
        println!(
            "withdrawal {:<5} summary: {} frames, partial_withdrawal {}, buildup/no_change {}, estimate within 0.15 of the truth {}",
            gsd_label(g),
            rs.len(),
            count(&|r| r.verdict == Verdict::PartialWithdrawal),
            count(&|r| matches!(r.verdict, Verdict::Buildup | Verdict::NoChange)),
            count(&|r| (r.remaining_estimate - r.true_remaining).abs() <= 0.15)
        );
        for r in &rs {
            println!(
                "withdrawal {:<5} {:<24} truth {:>3}->{:>3} counted {:>3}->{:>3} remaining {:.2} est {:.2} ({:.2}-{:.2}) {}",
                gsd_label(g),
                r.frame,
                r.truth_before,
                r.truth_after,
                r.counted_before,
                r.counted_after,
                r.true_remaining,
                r.remaining_estimate,
                r.remaining_low,
                r.remaining_high,
                r.verdict.as_str()
            );
        }
    }
    Ok(rs)
}

/// Recall and false positives per km² over all `frames` at `gsd_m`, as stored in a model.
fn calibration_of(
    frames: &[FrameScore],
    entries: &[Entry],
    gsd_m: f64,
) -> crate::learned::model::Calibration {
    let s = summarise(frames, 5);
    let mut seqs: Vec<String> = entries
        .iter()
        .map(|e| format!("{}/{}", e.source, e.sequence))
        .collect();
    seqs.dedup();
    crate::learned::model::Calibration {
        recall: (s.recall.clamp(0.05, 1.0) * 1000.0).round() / 1000.0,
        false_positives_per_km2: s.false_positives_per_km2.round(),
        gsd_m,
        frames: format!("{} frames: {}", frames.len(), seqs.join(", ")),
    }
}

/// `stagewatch calibrate`.
pub fn run_calibrate(a: &CalibrateArgs, quiet: bool) -> Result<ExitCode> {
    let mut model = load_model(a.model.as_deref())?;
    if let Some(v) = a.views {
        model.header.views = check_views(v, "calibrate")?;
    }
    if a.retune_threshold {
        // The frames the model was trained on: never the ones measured below.
        let training = LabelledInputs {
            validation: match a.labelled.validation {
                Some(Validation::Only) => Some(Validation::Exclude),
                v => v,
            },
            ..a.labelled.clone()
        };
        let (t, s) = tune_threshold(&mut model, &training.entries(Split::Train, false, "calibrate")?)?;
        if !quiet {
            eprintln!(
                "calibrate: threshold tuned to {t} for {} view(s) (training frames at 0.5 m: recall {:.3} precision {:.3})",
                model.header.views, s.recall, s.precision
            );
        }
    }
    if let Some(t) = a.threshold {
        model.header.threshold = t;
    }
    let want = if a.tuning_frames {
        Split::Train
    } else {
        Split::Test
    };
    let entries = a.labelled.entries(want, a.tuning_frames, "calibrate")?;
    let mut cal = Calibration {
        model_sha256: model.sha256.clone(),
        by_gsd: Vec::new(),
        withdrawals: Vec::new(),
    };
    for &g in &a.gsd_m {
        cal.by_gsd.push(scores_at(&entries, g, &model, quiet)?);
    }
    if a.withdrawal_min_vehicles > 0 {
        for &g in &a.gsd_m {
            cal.withdrawals
                .extend(withdrawals_at(a, &entries, g, &model, quiet)?);
        }
    }
    if let Some(p) = &a.scores {
        let text = serde_json::to_string_pretty(&cal).expect("serialises");
        crate::fsutil::write_atomic(p, text.as_bytes())?;
    }
    if a.embed.is_none() && a.out.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    // The analysis pixel size's scores: measured above when it was one of `--gsd-m`.
    let g = a.analysis_gsd_m;
    let frames = match cal.by_gsd.iter().find(|s| s.gsd_m == g) {
        Some(s) => s.frames.clone(),
        None => score_all(&entries, Some(g), &model, VehicleClass::Any)?,
    };
    let c = calibration_of(&frames, &entries, g);
    if let Some(p) = &a.embed {
        let mut m = model.clone();
        m.header.calibration = Some(c.clone());
        m.save(p)?;
        if !quiet {
            eprintln!(
                "calibrate: wrote {} (sha256 {})",
                p.display(),
                Model::load(p)?.sha256
            );
        }
    }
    if let Some(p) = &a.out {
        let cfg = serde_json::json!({"detector": {
            "recall": c.recall,
            "false_positives_per_km2": c.false_positives_per_km2,
        }});
        crate::fsutil::write_atomic(p, serde_json::to_string_pretty(&cfg).expect("json").as_bytes())?;
        if !quiet {
            eprintln!(
                "calibrate: wrote {} from {} frames at {g} m",
                p.display(),
                frames.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

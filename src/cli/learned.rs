//! Handlers of `stagewatch train` and `stagewatch calibrate` (the learned detector).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::blobs::VehicleClass;
use crate::error::{Error, Result};
use crate::learned::frames::{folder_entries, load_frame, shared_entries, Entry, Split};
use crate::learned::measure::{score_all, summarise, FrameScore, Summary};
use crate::learned::model::Model;
use crate::learned::train::{train, TrainOptions};

/// Arguments of `stagewatch train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The shared labelled set (`aerial-vehicles/` with kit-munich, minsk-drone, armour);
    /// only its training sequences are used.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder of your own labelled frames (PNG/JPEG + YOLO `.txt`), at `--frames-gsd-m`.
    #[arg(long)]
    pub frames: Vec<PathBuf>,
    /// Pixel size of the `--frames` folders, metres.
    #[arg(long, default_value_t = 0.3)]
    pub frames_gsd_m: f64,
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
}

fn training_entries(a: &TrainArgs) -> Result<Vec<Entry>> {
    let mut e: Vec<Entry> = match &a.data {
        Some(d) => shared_entries(d)?.into_iter().filter(|e| e.split == Split::Train).collect(),
        None => Vec::new(),
    };
    for f in &a.frames {
        e.extend(folder_entries(f, a.frames_gsd_m)?);
    }
    if e.is_empty() {
        return Err(Error::Usage("train: no labelled frames (give --data and/or --frames)".into()));
    }
    Ok(e)
}

/// Threshold with the best F1 on the tuning (training) frames, at the working size.
fn tune_threshold(model: &mut Model, entries: &[Entry]) -> Result<(f32, Summary)> {
    let mut best: Option<(f32, Summary)> = None;
    for t in [0.2f32, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6] {
        model.header.threshold = t;
        let s = summarise(&score_all(entries, Some(0.5), model, VehicleClass::Any)?, 5);
        let f1 = |s: &Summary| 2.0 * s.recall * s.precision / (s.recall + s.precision).max(1e-9);
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
    let entries = training_entries(a)?;
    let o = TrainOptions {
        steps: a.steps,
        batch: a.batch,
        seed: a.seed,
        width: a.width,
        ..TrainOptions::default()
    };
    let frames = entries
        .iter()
        .map(|e| load_frame(e, o.working_gsd_m))
        .collect::<Result<Vec<_>>>()?;
    let n_boxes: usize = frames.iter().map(|f| f.boxes.len()).sum();
    if !quiet {
        eprintln!("train: {} frames, {} vehicles, {} steps of {}", frames.len(), n_boxes, o.steps, o.batch);
    }
    let t0 = std::time::Instant::now();
    let log = |step: usize, loss: f64| {
        if !quiet {
            eprintln!("step {step:>6}  loss {loss:.4}  ({:.0} s)", t0.elapsed().as_secs_f64());
        }
    };
    let (mut model, losses) = train(&frames, &o, &log);
    let (t, s) = tune_threshold(&mut model, &entries)?;
    let seqs: std::collections::BTreeSet<String> = entries.iter().map(|e| format!("{}/{}", e.source, e.sequence)).collect();
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

/// Arguments of `stagewatch calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Model file (default: the shipped model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The shared labelled set; its measuring sequences are scored.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A folder of your own labelled frames (PNG/JPEG + YOLO), at `--frames-gsd-m`.
    #[arg(long)]
    pub frames: Vec<PathBuf>,
    #[arg(long, default_value_t = 0.3)]
    pub frames_gsd_m: f64,
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
}

/// The measured model: per pixel size, the summaries by source and the frames.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub model_sha256: String,
    pub by_gsd: Vec<GsdScores>,
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

/// `stagewatch calibrate`.
pub fn run_calibrate(a: &CalibrateArgs, quiet: bool) -> Result<ExitCode> {
    let model = load_model(a.model.as_deref())?;
    let mut entries: Vec<Entry> = match &a.data {
        Some(d) => shared_entries(d)?.into_iter().filter(|e| e.split == Split::Test).collect(),
        None => Vec::new(),
    };
    for f in &a.frames {
        entries.extend(folder_entries(f, a.frames_gsd_m)?);
    }
    if entries.is_empty() {
        return Err(Error::Usage("calibrate: no labelled frames (give --data and/or --frames)".into()));
    }
    let mut cal = Calibration {
        model_sha256: model.sha256.clone(),
        by_gsd: Vec::new(),
    };
    for &g in &a.gsd_m {
        let frames = score_all(&entries, (g > 0.0).then_some(g), &model, VehicleClass::Any)?;
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
                    if g > 0.0 { format!("{g}") } else { "nat".into() },
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
        cal.by_gsd.push(GsdScores {
            gsd_m: g,
            by_source,
            frames,
        });
    }
    if let Some(p) = &a.scores {
        let text = serde_json::to_string_pretty(&cal).expect("serialises");
        crate::fsutil::write_atomic(p, text.as_bytes())?;
    }
    if let Some(p) = &a.out {
        let g = a.analysis_gsd_m;
        let frames = score_all(&entries, Some(g), &model, VehicleClass::Any)?;
        let s = summarise(&frames, 5);
        let cfg = serde_json::json!({"detector": {
            "recall": (s.recall.clamp(0.05, 1.0) * 1000.0).round() / 1000.0,
            "false_positives_per_km2": s.false_positives_per_km2.round(),
        }});
        crate::fsutil::write_atomic(p, serde_json::to_string_pretty(&cfg).expect("json").as_bytes())?;
        if !quiet {
            eprintln!("calibrate: wrote {} from {} frames at {g} m", p.display(), frames.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

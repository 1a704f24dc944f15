//! `stagewatch calibrate`: measures a detector model on labelled frames (recall,
//! precision, count error, false positives per km²) and writes the evidence config
//! those figures imply (the scoring itself is [`crate::learned::measure`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::blobs::VehicleClass;
use crate::error::Result;
use crate::learned::frames::{Entry, Split};
use crate::learned::measure::{score_all, summarise, FrameScore, Summary};
use crate::learned::model::Model;
use crate::learned::withdrawal::WithdrawalResult;
use rayon::prelude::*;

use super::args::{check_views, LabelledInputs, Validation};
use super::train::tune_threshold;

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
        false_positive_rate_cv: (crate::learned::measure::false_positive_rate_cv(frames) * 100.0).round()
            / 100.0,
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
            "false_positive_rate_cv": c.false_positive_rate_cv,
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

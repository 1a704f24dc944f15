//! `stagewatch train`: trains the learned detector on labelled frames and tunes its
//! threshold (the training itself is [`crate::learned::train`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::blobs::VehicleClass;
use crate::error::Result;
use crate::learned::frames::{load_frame, Entry, Split};
use crate::learned::measure::{detect_all, summarise, FrameScore, Summary};
use crate::learned::model::Model;
use crate::learned::train::{train, TrainOptions};

use super::args::{check_views, LabelledInputs};

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
    /// Weight of the false-positive loss on frames with incomplete labels (armour), away
    /// from their labelled vehicles (0: an unboxed vehicle there is never taught as ground).
    #[arg(long, default_value_t = TrainOptions::default().incomplete_negative_weight)]
    pub incomplete_negative_weight: f32,
    /// Share of rendered rows laid out as in a vehicle park: crossing the whole patch, half
    /// of them with a second row beside (0: the shipped recipe).
    #[arg(long, default_value_t = TrainOptions::default().park_row_probability)]
    pub park_row_probability: f32,
    /// Test-time views detection averages (1, or 4: the image and its mirror images);
    /// the threshold is tuned for them.
    #[arg(long, default_value_t = 4)]
    pub views: usize,
}

/// Threshold with the best F1 on the tuning (training) frames at 0.5 m.
pub(super) fn tune_threshold(model: &mut Model, entries: &[Entry]) -> Result<(f32, Summary)> {
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
        incomplete_negative_weight: a.incomplete_negative_weight,
        park_row_probability: a.park_row_probability,
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

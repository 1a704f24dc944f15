//! `stagewatch run`: the jobs of one shard, each written once as `jobs/<key>.json`, its
//! change raster (written first, atomically) under `jobs/<key>/change/`.
//!
//! Only the site windows are read (the readers fetch the strips or tiles a window
//! needs), so memory is bounded by the largest site grid times the rayon threads, not by
//! the image size. Events go to stderr as a progress bar (jobs done/total, ETA) or, with
//! `--log-format json`, as one JSON object per line.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{load_plan, Job, Shard};
use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_new};
use crate::pipeline::{backend_named, progress_bar, OpenedPair, PairPaths};
use crate::report::{Detection, ImageInput, SiteReport};
use crate::sites::{file_stems, load_sites, Site};

/// A finished job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub key: String,
    pub site_id: String,
    pub before: ImageInput,
    pub after: ImageInput,
    pub report: SiteReport,
    pub detections: Vec<Detection>,
}

/// A job that failed for good (corrupt input, site the images cannot serve).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    pub key: String,
    pub site_id: String,
    pub error: String,
}

/// Where a job's outputs go.
pub fn result_path(out: &Path, key: &str) -> PathBuf {
    out.join("jobs").join(format!("{key}.json"))
}

/// Folder of a job's rasters: `jobs/<key>/change/<stem>.tif` (the site report's
/// `change_raster` is relative to it, as it is to a `compare` output folder).
pub fn raster_dir(out: &Path, key: &str) -> PathBuf {
    out.join("jobs").join(key)
}

/// Where a job's permanent error goes.
pub fn error_path(out: &Path, key: &str) -> PathBuf {
    out.join("jobs").join(format!("{key}.err.json"))
}

/// Event output on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// A progress bar (on a terminal) and one line per failure.
    Text,
    /// One JSON object per event, for batch systems.
    Json,
}

/// What `run` needs.
pub struct RunArgs {
    pub plan: PathBuf,
    pub out: PathBuf,
    pub shard: Shard,
    pub quiet: bool,
    pub log: LogFormat,
}

/// Counts of a `run`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    pub jobs: usize,
    pub skipped: usize,
    pub done: usize,
    pub failed: usize,
    pub transient: usize,
}

/// True for errors worth retrying (I/O), false for ones a retry cannot fix.
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::Io { .. } => true,
        Error::Shared(inner) => is_transient(inner),
        _ => false,
    }
}

struct Logger {
    format: LogFormat,
    quiet: bool,
    lock: Mutex<()>,
}

impl Logger {
    fn event(&self, v: serde_json::Value) {
        if self.format == LogFormat::Json {
            let _g = self.lock.lock().expect("log lock");
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{v}");
        }
    }
    fn problem(&self, msg: &str) {
        if self.format == LogFormat::Text && !self.quiet {
            eprintln!("stagewatch: {msg}");
        }
    }
}

/// Each sites file's sites and file stems, by path.
type SitesByFile = HashMap<String, (Vec<Site>, Vec<String>)>;

/// The sites files of `todo` (loaded, with their stems), after checking every sites file
/// and image against the checksums the plan recorded.
fn checked_inputs(todo: &[&Job]) -> Result<SitesByFile> {
    // Sites files (checked against the plan) and pairs, opened once each.
    let mut sites: SitesByFile = HashMap::new();
    for j in todo {
        if !sites.contains_key(&j.sites.path) {
            let p = Path::new(&j.sites.path);
            if sha256_file(p)? != j.sites.sha256 {
                return Err(Error::input(p, "changed since the plan was made; plan again"));
            }
            let s = load_sites(p)?;
            let stems = file_stems(&s);
            sites.insert(j.sites.path.clone(), (s, stems));
        }
    }
    // Images replaced since the plan would be analysed under the old keys and cited with
    // the old checksums: hash each image once (in parallel) and refuse a changed one.
    let mut images: Vec<(&str, &str)> = todo
        .iter()
        .flat_map(|j| {
            [
                (j.before.path.as_str(), j.before.sha256.as_str()),
                (j.after.path.as_str(), j.after.sha256.as_str()),
            ]
        })
        .collect();
    images.sort();
    images.dedup();
    images.par_iter().try_for_each(|(path, sha)| -> Result<()> {
        let p = Path::new(path);
        let now = sha256_file(p)?;
        if now != *sha {
            return Err(Error::input(
                p,
                "changed since the plan was made (its SHA-256 differs): plan again",
            ));
        }
        Ok(())
    })?;
    Ok(sites)
}

/// A date pair opened, or why it could not be (shared by the pair's jobs).
type PairOpened = std::result::Result<OpenedPair, std::sync::Arc<Error>>;

/// The date pairs of `todo`, each opened once (in parallel; a pair that fails to open
/// fails only its jobs), and the index of each (before, after) path pair.
fn open_pairs<'a>(todo: &[&'a Job]) -> (Vec<PairOpened>, HashMap<(&'a str, &'a str), usize>) {
    let mut pair_keys: Vec<(String, String)> = todo
        .iter()
        .map(|j| (j.before.path.clone(), j.after.path.clone()))
        .collect();
    pair_keys.sort();
    pair_keys.dedup();
    let opened: Vec<PairOpened> = pair_keys
        .par_iter()
        .map(|(b, a)| {
            let j = todo
                .iter()
                .find(|j| &j.before.path == b && &j.after.path == a)
                .expect("a job of the pair");
            OpenedPair::open(
                &PairPaths {
                    before: b.into(),
                    after: a.into(),
                    before_date: Some(j.before.date.clone()),
                    after_date: Some(j.after.date.clone()),
                    before_sha256: Some(j.before.sha256.clone()),
                    after_sha256: Some(j.after.sha256.clone()),
                    ..PairPaths::default()
                },
                backend_named(&j.parameters.reader),
            )
            .map_err(std::sync::Arc::new)
        })
        .collect();
    let pair_of = todo
        .iter()
        .map(|j| {
            let key = (j.before.path.clone(), j.after.path.clone());
            let i = pair_keys
                .binary_search(&key)
                .expect("every job's pair was opened");
            ((j.before.path.as_str(), j.after.path.as_str()), i)
        })
        .collect();
    (opened, pair_of)
}

/// A learned model named by the plan must load (and match its hash) up front.
fn check_models(todo: &[&Job]) -> Result<()> {
    let mut models_checked = std::collections::HashSet::new();
    for j in todo {
        let d = &j.parameters.settings.detect;
        if d.detector == crate::blobs::Detector::Learned
            && models_checked.insert((d.model_sha256.clone(), d.model_path.clone()))
        {
            crate::learned::model::resolve(d)?;
        }
    }
    Ok(())
}

/// Runs one job and writes its result file: Ok(true) when done; an error otherwise
/// (the caller records it or leaves the job for a retry).
fn run_job(j: &Job, pair: &PairOpened, site_list: &[Site], stems: &[String], out: &Path) -> Result<bool> {
    let pair = pair.as_ref().map_err(|e| Error::Shared(e.clone()))?;
    let site = site_list
        .get(j.site_index)
        .filter(|s| s.id == j.site_id)
        .ok_or_else(|| Error::input(Path::new(&j.sites.path), format!("has no site {:?}", j.site_id)))?;
    let settings = &j.parameters.settings;
    let rasters = raster_dir(out, &j.key);
    let (report, detections) = pair.try_site(site, &stems[j.site_index], settings, Some(&rasters))?;
    let r = JobResult {
        key: j.key.clone(),
        site_id: j.site_id.clone(),
        before: pair.before_input.clone(),
        after: pair.after_input.clone(),
        report,
        detections,
    };
    write_new(
        &result_path(out, &j.key),
        &serde_json::to_vec(&r).expect("result serialises"),
    )?;
    Ok(true)
}

/// Records a job's end: a failure for good gets its error file (so it is not retried),
/// a transient one only a log line; one JSON event either way. Ok(true) done, Ok(false)
/// failed for good, Err transient.
fn settle(j: &Job, res: Result<bool>, log: &Logger, out: &Path, ms: u64) -> Result<bool> {
    let res = match res {
        Err(e) if !is_transient(&e) => {
            let msg = crate::error::one_line(&e.to_string());
            let je = JobError {
                key: j.key.clone(),
                site_id: j.site_id.clone(),
                error: msg.clone(),
            };
            log.problem(&format!("job {} (site {}): {msg}", &j.key[..12], j.site_id));
            write_new(
                &error_path(out, &j.key),
                &serde_json::to_vec(&je).expect("error serialises"),
            )
            .map(|_| false)
        }
        other => other,
    };
    let status = match &res {
        Ok(true) => "done",
        Ok(false) => "failed",
        Err(e) => {
            log.problem(&format!(
                "job {} (site {}): will be retried: {}",
                &j.key[..12],
                j.site_id,
                crate::error::one_line(&e.to_string())
            ));
            "transient"
        }
    };
    log.event(
        serde_json::json!({"event": "job", "key": j.key, "site_id": j.site_id,
            "before": j.before.date, "after": j.after.date, "status": status,
            "error": res.as_ref().err().map(|e| crate::error::one_line(&e.to_string())),
            "ms": ms}),
    );
    res
}

/// Runs the shard's jobs that have no output yet.
pub fn run_shard(args: &RunArgs) -> Result<RunOutcome> {
    crate::fsutil::check_out_dir(&args.out)?;
    let t0 = Instant::now();
    let plan = load_plan(&args.plan)?;
    if let Some(j) = plan.iter().find(|j| j.tool_version != super::TOOL_VERSION) {
        return Err(Error::input(
            &args.plan,
            format!(
                "made by stagewatch {}, this is {}: run `stagewatch plan` again (job keys depend on the analysis code)",
                j.tool_version,
                super::TOOL_VERSION
            ),
        ));
    }
    let mine: Vec<&Job> = plan
        .iter()
        .enumerate()
        .filter(|(j, _)| args.shard.owns(*j))
        .map(|(_, j)| j)
        .collect();
    let todo: Vec<&Job> = mine
        .iter()
        .copied()
        .filter(|j| !result_path(&args.out, &j.key).exists() && !error_path(&args.out, &j.key).exists())
        .collect();
    let log = Logger {
        format: args.log,
        quiet: args.quiet,
        lock: Mutex::new(()),
    };
    let mut outcome = RunOutcome {
        jobs: mine.len(),
        skipped: mine.len() - todo.len(),
        ..RunOutcome::default()
    };
    log.event(
        serde_json::json!({"event": "start", "shard": format!("{}/{}", args.shard.index, args.shard.count),
        "jobs": outcome.jobs, "already_done": outcome.skipped}),
    );

    let sites = checked_inputs(&todo)?;
    let (opened, pair_of) = open_pairs(&todo);

    let pb = progress_bar(
        outcome.jobs,
        !args.quiet && args.log == LogFormat::Text,
        "run",
        "jobs",
    );
    pb.set_position(outcome.skipped as u64);
    check_models(&todo)?;
    // Ok(true) done, Ok(false) failed for good, Err(()) transient.
    // The MiB a job needs (0 when it cannot even start: it fails before allocating).
    let need = |j: &&Job| -> u64 {
        let Some(Ok(pair)) = pair_of
            .get(&(j.before.path.as_str(), j.after.path.as_str()))
            .map(|&i| opened[i].as_ref())
        else {
            return 0;
        };
        let site = sites[&j.sites.path].0.get(j.site_index);
        site.map_or(0, |site| pair.site_need_mib(site, &j.parameters.settings))
    };
    let results: Vec<Result<bool>> = crate::memory::map_sites(&todo, need, |j| {
        let tj = Instant::now();
        let (site_list, stems) = &sites[&j.sites.path];
        let pair = &opened[pair_of[&(j.before.path.as_str(), j.after.path.as_str())]];
        let res = run_job(j, pair, site_list, stems, &args.out);
        let res = settle(j, res, &log, &args.out, tj.elapsed().as_millis() as u64);
        pb.inc(1);
        res
    });
    pb.finish_and_clear();
    for r in results {
        match r {
            Ok(true) => outcome.done += 1,
            Ok(false) => outcome.failed += 1,
            Err(_) => outcome.transient += 1,
        }
    }
    log.event(
        serde_json::json!({"event": "end", "jobs": outcome.jobs, "already_done": outcome.skipped,
        "done": outcome.done, "failed": outcome.failed, "transient": outcome.transient,
        "elapsed_s": t0.elapsed().as_secs_f64()}),
    );
    Ok(outcome)
}

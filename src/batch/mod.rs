//! Batch processing for nightly watch lists and archive reprocessing, run by an existing
//! engine (Slurm array jobs, Kubernetes Indexed Jobs, AWS Batch array jobs), never by a
//! scheduler of our own.
//!
//! - `plan` ([`make_plan`]) turns a catalogue and a sites file into one JSON line per
//!   (site, before, after) job, sorted by (before date, after date, site order), each with
//!   a **key**: the SHA-256 of the inputs' SHA-256s, the site id, every parameter and the
//!   tool version. The same work always has the same key.
//! - `run` ([`run::run_shard`]) takes the jobs of one shard (job j belongs to shard
//!   j mod N) and writes one `jobs/<key>.json` per job, created in one step
//!   ([`crate::fsutil::write_new`]) and skipped when present, so reruns, duplicate runs
//!   and kills are harmless. A permanent failure (corrupt tile, site outside the image)
//!   writes `jobs/<key>.err.json` and counts as done; a transient one (I/O) is not
//!   recorded and makes `run` exit 75 (EX_TEMPFAIL) so the engine retries.
//! - `status` and `merge` ([`merge`]) read the plan and the job files: counts, missing
//!   shards in Slurm `--array` syntax, and the combined outputs, byte-identical whatever
//!   the sharding.

pub mod merge;
pub mod run;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_atomic};
use crate::pipeline::timeline::dated_entries;
use crate::raster::Backend;
use crate::report::{FileInput, Parameters};
use crate::settings::Settings;
use crate::sites::load_sites;

/// How dates are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// Each date with the next.
    Consecutive,
    /// The given date with every later date.
    Baseline(String),
    /// Every earlier date with the latest.
    AllVsLatest,
}

impl std::str::FromStr for Pairing {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "consecutive" => Ok(Pairing::Consecutive),
            "all-vs-latest" => Ok(Pairing::AllVsLatest),
            _ => match s.strip_prefix("baseline:") {
                Some(d) if crate::dates::normalise_date(d).as_deref() == Some(d) => {
                    Ok(Pairing::Baseline(d.to_string()))
                }
                _ => Err(format!(
                    "{s:?}: expected consecutive, baseline:YYYY-MM-DD or all-vs-latest"
                )),
            },
        }
    }
}

/// One image of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobImage {
    pub path: String,
    pub date: String,
    pub sha256: String,
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub key: String,
    pub site_id: String,
    /// Position of the site in the sites file.
    pub site_index: usize,
    pub before: JobImage,
    pub after: JobImage,
    pub sites: FileInput,
    pub parameters: Parameters,
    pub tool_version: String,
}

/// The version recorded in plans and hashed into job keys: the package version and the
/// identity of the source it was built from (see `build.rs`), so that job outputs of
/// different analysis code never stand in for each other.
pub const TOOL_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+src.", env!("STAGEWATCH_SOURCE_ID"));

/// The key of a job: SHA-256 over its inputs' checksums, site, parameters and version.
pub fn job_key(
    before: &JobImage,
    after: &JobImage,
    sites: &FileInput,
    site_id: &str,
    p: &Parameters,
) -> String {
    let mut h = Sha256::new();
    let params = serde_json::to_string(p).expect("parameters serialise");
    for part in [
        before.sha256.as_str(),
        after.sha256.as_str(),
        sites.sha256.as_str(),
        site_id,
        params.as_str(),
        TOOL_VERSION,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// Date pairs (indices into the date-sorted images) for a pairing.
pub fn pairs(dates: &[String], pairing: &Pairing) -> std::result::Result<Vec<(usize, usize)>, String> {
    let n = dates.len();
    Ok(match pairing {
        Pairing::Consecutive => (1..n).map(|i| (i - 1, i)).collect(),
        Pairing::AllVsLatest => (0..n.saturating_sub(1)).map(|i| (i, n - 1)).collect(),
        Pairing::Baseline(d) => {
            let b = dates
                .iter()
                .position(|x| x == d)
                .ok_or_else(|| format!("baseline date {d} is not in the catalogue"))?;
            (b + 1..n).map(|i| (b, i)).collect()
        }
    })
}

/// What `plan` needs.
pub struct PlanArgs {
    pub catalog: PathBuf,
    pub sites: PathBuf,
    pub pairing: Pairing,
    pub out: PathBuf,
    pub asset: Option<String>,
    pub settings: Settings,
    pub backend: Backend,
}

/// Builds the plan and writes it as JSON Lines; returns the jobs.
pub fn make_plan(args: &PlanArgs) -> Result<Vec<Job>> {
    let entries = dated_entries(&args.catalog, args.asset.as_deref(), args.backend)?;
    let sites = load_sites(&args.sites)?;
    let sites_in = FileInput {
        path: abs(&args.sites),
        sha256: sha256_file(&args.sites)?,
    };
    let dates: Vec<String> = entries.iter().map(|(d, _)| d.clone()).collect();
    let pr = pairs(&dates, &args.pairing).map_err(|m| Error::input(&args.catalog, m))?;
    let images: Vec<JobImage> = entries
        .iter()
        .map(|(d, p)| {
            // A file that is no raster at all is refused now, not in every job of the run
            // (a corrupt raster still plans: its jobs fail one by one).
            crate::raster::sniff(p, args.backend)?;
            Ok(JobImage {
                path: abs(p),
                date: d.clone(),
                sha256: sha256_file(p)?,
            })
        })
        .collect::<Result<_>>()?;
    let params = Parameters::new(&args.settings, args.backend);
    let mut jobs = Vec::new();
    for (b, a) in pr {
        for (k, site) in sites.iter().enumerate() {
            let (before, after) = (images[b].clone(), images[a].clone());
            jobs.push(Job {
                key: job_key(&before, &after, &sites_in, &site.id, &params),
                site_id: site.id.clone(),
                site_index: k,
                before,
                after,
                sites: sites_in.clone(),
                parameters: params.clone(),
                tool_version: TOOL_VERSION.into(),
            });
        }
    }
    let mut text = String::new();
    for j in &jobs {
        text.push_str(&serde_json::to_string(j).expect("job serialises"));
        text.push('\n');
    }
    write_atomic(&args.out, text.as_bytes())?;
    Ok(jobs)
}

fn abs(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Fields of a plan job that become file names (`jobs/<key>.json`,
/// `pairs/<before>_<after>/`) must be what `plan` writes: a plan is input like any other,
/// and a key `../../x` or a date `../../tmp/D` would write outside `--out`.
fn check_job(j: &Job) -> std::result::Result<(), String> {
    if j.key.len() != 64
        || !j
            .key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(format!("job key {:?} is not 64 lowercase hex digits", j.key));
    }
    for (what, d) in [("before", &j.before.date), ("after", &j.after.date)] {
        if crate::dates::normalise_date(d).as_deref() != Some(d.as_str()) {
            return Err(format!("{what}.date {d:?} is not a date (YYYY-MM-DD)"));
        }
    }
    // The key must be the hash of the job's content (a plan of another build is refused
    // by `run` with its own message): an edited parameter must not reuse old outputs.
    if j.tool_version == TOOL_VERSION
        && j.key != job_key(&j.before, &j.after, &j.sites, &j.site_id, &j.parameters)
    {
        return Err(format!(
            "job key {} does not match the job's content (edited by hand?): plan again",
            j.key
        ));
    }
    Ok(())
}

/// Reads a plan written by `plan`.
pub fn load_plan(path: &Path) -> Result<Vec<Job>> {
    let text = crate::fsutil::read_text_input(path, crate::fsutil::limits::PLAN)?;
    let mut jobs = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let j: Job = serde_json::from_str(l)
            .map_err(|e| Error::input(path, format!("line {}: not a plan job: {e}", i + 1)))?;
        check_job(&j).map_err(|m| Error::input(path, format!("line {}: {m}", i + 1)))?;
        jobs.push(j);
    }
    if jobs.is_empty() {
        return Err(Error::input(path, "the plan has no jobs"));
    }
    Ok(jobs)
}

/// Which shard of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `I/N`.
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("{s:?}: expected I/N"))?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| format!("{s:?}: bad shard index"))?,
            n.trim().parse().map_err(|_| format!("{s:?}: bad shard count"))?,
        );
        if count == 0 || index >= count {
            return Err(format!("{s:?}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard from `--shard`, else from the engine's environment: the index from
    /// `SLURM_ARRAY_TASK_ID`, `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job) or
    /// `AWS_BATCH_JOB_ARRAY_INDEX`, the count from `--shards`, else
    /// `SLURM_ARRAY_TASK_COUNT` (valid only for a full `0-(N-1)` array: pass `--shards`
    /// when resubmitting some indices). Without either, the whole plan.
    pub fn resolve(
        flag: Option<&str>,
        shards: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Shard, String> {
        if let Some(f) = flag {
            return Shard::parse(f);
        }
        let index = [
            "SLURM_ARRAY_TASK_ID",
            "JOB_COMPLETION_INDEX",
            "AWS_BATCH_JOB_ARRAY_INDEX",
        ]
        .iter()
        .find_map(|k| env(k).map(|v| (*k, v)));
        let Some((var, v)) = index else {
            return match shards {
                Some(n) if n > 1 => Err(format!(
                    "--shards {n} given but no shard index (--shard I/N or an array index variable)"
                )),
                _ => Ok(Shard { index: 0, count: 1 }),
            };
        };
        let i: usize = v
            .trim()
            .parse()
            .map_err(|_| format!("{var}={v:?} is not an index"))?;
        let n = match shards {
            Some(n) => n,
            None => env("SLURM_ARRAY_TASK_COUNT")
                .and_then(|c| c.trim().parse().ok())
                .ok_or_else(|| format!("{var} is set: give the number of shards with --shards N"))?,
        };
        Shard::parse(&format!("{i}/{n}"))
    }

    /// True when job number `j` of the plan belongs to this shard.
    pub fn owns(&self, j: usize) -> bool {
        j % self.count == self.index
    }
}

/// Indices in Slurm `--array` syntax: `3,17,40-42`.
pub fn array_syntax(idx: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && idx[j + 1] == idx[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", idx[i], idx[j])
        } else {
            idx[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairings() {
        let d: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(pairs(&d, &Pairing::Consecutive).unwrap(), vec![(0, 1), (1, 2)]);
        assert_eq!(pairs(&d, &Pairing::AllVsLatest).unwrap(), vec![(0, 2), (1, 2)]);
        assert_eq!(pairs(&d, &Pairing::Baseline("b".into())).unwrap(), vec![(1, 2)]);
        assert!(pairs(&d, &Pairing::Baseline("z".into())).is_err());
        assert_eq!(
            "baseline:2026-03-02".parse::<Pairing>().unwrap(),
            Pairing::Baseline("2026-03-02".into())
        );
        assert!("baseline:soon".parse::<Pairing>().is_err());
    }

    #[test]
    fn shards_from_flags_and_environment() {
        let none = |_: &str| None;
        assert_eq!(
            Shard::resolve(Some("2/8"), None, none).unwrap(),
            Shard { index: 2, count: 8 }
        );
        assert!(Shard::resolve(Some("8/8"), None, none).is_err());
        assert_eq!(
            Shard::resolve(None, None, none).unwrap(),
            Shard { index: 0, count: 1 }
        );
        let slurm = |k: &str| match k {
            "SLURM_ARRAY_TASK_ID" => Some("3".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("2".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::resolve(None, Some(8), slurm).unwrap(),
            Shard { index: 3, count: 8 }
        );
        assert!(
            Shard::resolve(None, None, slurm).is_err(),
            "3 is not below a count of 2"
        );
        let k8s = |k: &str| (k == "JOB_COMPLETION_INDEX").then(|| "1".to_string());
        assert_eq!(
            Shard::resolve(None, Some(4), k8s).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!(Shard::resolve(None, None, k8s).is_err());
        let s = Shard { index: 1, count: 3 };
        assert_eq!((0..7).filter(|&j| s.owns(j)).collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn slurm_array_syntax() {
        assert_eq!(array_syntax(&[3, 17, 40, 41, 42]), "3,17,40-42");
        assert_eq!(array_syntax(&[0]), "0");
        assert_eq!(array_syntax(&[]), "");
    }
}

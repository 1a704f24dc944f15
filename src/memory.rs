//! Memory budget: a site's peak memory is estimated from its grid before anything is
//! allocated; a site over the budget is refused with a site error (the other sites still
//! run), and sites running in parallel share the budget (a counting semaphore in MiB,
//! Dijkstra 1965), so two large sites wait for each other instead of aborting the
//! process together.
//!
//! The per-pixel figure is measured, not derived: `compare` on square sites of 4.4, 16.8
//! and 37 million grid pixels (the 8192² archive scene, 3 bands, 0.5 m) peaked at 250-274
//! bytes of resident memory per grid pixel with the learned detector and 213-283 with the
//! top-hat one (`/usr/bin/time -f %M`, sixth session). [`BYTES_PER_GRID_PX`] rounds up.

use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use crate::error::{Error, Result};

/// Peak bytes per site-grid pixel of one site's analysis (3 bands; measured, see above).
pub const BYTES_PER_GRID_PX: u64 = 300;
/// Extra bytes per source pixel read (the window each date is resampled from, decoded
/// as f32 for up to 4 bands, plus its cloud mask).
pub const BYTES_PER_SOURCE_PX: u64 = 20;
/// Fixed cost of a site (buffers, FFT plans, report), MiB.
pub const BASE_MIB: u64 = 16;

/// MiB a site needs: its grid and the source windows of both dates.
pub fn site_need_mib(grid_px: u64, source_px: u64) -> u64 {
    let bytes = grid_px
        .saturating_mul(BYTES_PER_GRID_PX)
        .saturating_add(source_px.saturating_mul(BYTES_PER_SOURCE_PX));
    BASE_MIB + bytes.div_ceil(1 << 20)
}

/// Physical memory of the machine, MiB (None when the OS does not say).
pub fn physical_mib() -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && page > 0).then(|| (pages as u64).saturating_mul(page as u64) >> 20)
}

/// The process's address-space limit (`ulimit -v`), MiB, when one is set.
pub fn address_space_limit_mib() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0;
    (ok && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur >> 20)
}

/// The memory limit of the process's control group (a Slurm job's or a Kubernetes
/// pod's limit), MiB, when one is set: cgroup v2 `memory.max`, else cgroup v1
/// `memory.limit_in_bytes` (whose "no limit" is a huge number, kept out by the minimum
/// with the physical memory).
pub fn cgroup_limit_mib() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let root = std::path::Path::new("/sys/fs/cgroup");
    let read = |p: std::path::PathBuf| -> Option<u64> {
        std::fs::read_to_string(p)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|b| b >> 20)
    };
    let v1 = own.lines().find_map(|l| {
        let (_, rest) = l.split_once(':')?;
        let (ctrl, rel) = rest.split_once(':')?;
        ctrl.split(',').any(|c| c == "memory").then_some(rel)
    });
    let v2 = own.lines().find_map(|l| l.strip_prefix("0::"));
    v1.and_then(|rel| {
        read(
            root.join("memory")
                .join(rel.trim_start_matches('/'))
                .join("memory.limit_in_bytes"),
        )
    })
    .or_else(|| v2.and_then(|rel| read(root.join(rel.trim_start_matches('/')).join("memory.max"))))
}

/// The default budget: half of the smallest of the physical memory, the control
/// group's limit and the address-space limit (2 GiB when none is known).
pub fn default_budget_mib() -> u64 {
    [physical_mib(), cgroup_limit_mib(), address_space_limit_mib()]
        .into_iter()
        .flatten()
        .min()
        .map_or(2048, |m| (m / 2).max(256))
}

/// A process-wide budget that sites draw from while they run.
#[derive(Debug)]
pub struct Budget {
    total_mib: u64,
    used_mib: Mutex<u64>,
    freed: Condvar,
}

/// MiB held by one running site; returned to the budget on drop.
#[derive(Debug)]
pub struct Lease<'a> {
    budget: &'a Budget,
    mib: u64,
}

impl Budget {
    pub fn new(total_mib: u64) -> Budget {
        Budget {
            total_mib,
            used_mib: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    pub fn total_mib(&self) -> u64 {
        self.total_mib
    }

    /// Takes `mib` from the budget, waiting while other sites hold too much; a need
    /// beyond the whole budget is refused at once.
    pub fn acquire(&self, mib: u64) -> Result<Lease<'_>> {
        if mib > self.total_mib {
            return Err(Error::Memory(format!(
                "site needs {} of memory, over the budget of {}; split the polygon or raise --max-site-mib",
                show_mib(mib),
                show_mib(self.total_mib)
            )));
        }
        let mut used = self.used_mib.lock().unwrap_or_else(|e| e.into_inner());
        while *used + mib > self.total_mib {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += mib;
        Ok(Lease { budget: self, mib })
    }

    /// MiB currently held.
    pub fn used_mib(&self) -> u64 {
        *self.used_mib.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used_mib.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.mib;
        self.budget.freed.notify_all();
    }
}

/// Runs `f` on every item (a site, a job) in parallel and returns the results in item
/// order. When the items' needs (`need`, MiB) add up to no more than the budget, no
/// site can ever wait for memory, and they run on rayon's pool as any parallel loop.
/// Otherwise they run on worker threads of their own (as many as the pool has), where
/// [`Budget::acquire`] may block: never on the pool itself, because a pool thread waiting
/// in a join can steal another site's task, which would then wait for the lease its own
/// caller holds (a deadlock). The dedicated threads cost about 14 % at 2 threads on the
/// 8192² archive pair (their sites' parallel loops are injected into the pool), hence the
/// fast path.
pub fn map_sites<T: Sync, R: Send>(
    items: &[T],
    need: impl Fn(&T) -> u64 + Sync,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let total: u64 = items.iter().map(&need).fold(0, u64::saturating_add);
    if total <= budget().total_mib() {
        return items.par_iter().map(&f).collect();
    }
    map_on_own_threads(items, f)
}

/// [`map_sites`]' slow path: items on dedicated worker threads, results in order.
pub fn map_on_own_threads<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = rayon::current_num_threads().clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..n {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item ran")
        })
        .collect()
}

static GLOBAL: OnceLock<Budget> = OnceLock::new();

/// Allocations up to this size come from the heap: see [`tune_allocator`].
pub const MMAP_THRESHOLD_BYTES: i32 = 16 << 20;
/// Free memory at the top of the heap kept for the next site: see [`tune_allocator`].
pub const TRIM_THRESHOLD_BYTES: i32 = 16 << 20;

/// Keeps a site's working buffers in the heap between sites (glibc only; elsewhere a
/// no-op). glibc serves an allocation above 128 KiB with a fresh `mmap` and unmaps it on
/// free, so every window, mask and FFT buffer of every site page-faulted its memory in
/// again: 0.57 s of system time in a 4.2 s `compare` of the 8192² archive pair (20 sites,
/// 1 thread). With allocations up to 16 MiB from the heap and at most 16 MiB of free heap
/// top kept, system time is 0.33 s and peak RSS unchanged (52 MiB at 1 thread, 96 at 2;
/// issue 15's budget is 67 / 125). A 32 MiB trim threshold cut system time to 0.13 s
/// but kept 70 MiB resident at 1 thread. Same bits: only where memory comes from changes.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two glibc tunables; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES);
    }
}

/// Sets the process budget (`--max-site-mib`); only the first call counts, and only
/// before any site has run.
pub fn set_budget_mib(mib: u64) {
    let _ = GLOBAL.set(Budget::new(mib));
}

/// The process budget (the default unless [`set_budget_mib`] ran first).
pub fn budget() -> &'static Budget {
    GLOBAL.get_or_init(|| Budget::new(default_budget_mib()))
}

/// `1536` → "1.5 GiB", `300` → "300 MiB".
pub fn show_mib(mib: u64) -> String {
    if mib >= 1024 {
        format!("{:.1} GiB", mib as f64 / 1024.0)
    } else {
        format!("{mib} MiB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn map_sites_keeps_item_order() {
        let items: Vec<u32> = (0..50).collect();
        let want: Vec<u32> = (0..50).map(|x| x * 2).collect();
        assert_eq!(map_sites(&items, |_| 1, |x| x * 2), want);
        // Needs beyond the budget take the dedicated threads: same results.
        assert_eq!(map_sites(&items, |_| u64::MAX / 64, |x| x * 2), want);
        assert_eq!(map_on_own_threads(&items, |x| x * 2), want);
        assert!(map_sites(&[] as &[u32], |_| 0, |x| *x).is_empty());
    }

    #[test]
    fn the_default_budget_is_half_the_tightest_limit() {
        let b = default_budget_mib();
        assert!(b >= 256);
        if let Some(p) = physical_mib() {
            assert!(b <= p / 2 + 256, "{b} of {p}");
        }
    }

    #[test]
    fn need_grows_with_the_grid_and_saturates() {
        assert_eq!(site_need_mib(0, 0), BASE_MIB);
        // A 10,000² grid (the 5 km site at 0.5 m) needs about 28 GiB.
        let n = site_need_mib(100_000_000, 100_000_000);
        assert!((28_000..31_000).contains(&n), "{n}");
        assert!(site_need_mib(u64::MAX, u64::MAX) > 1 << 40);
    }

    #[test]
    fn a_site_over_the_budget_is_refused_with_the_flag_to_raise() {
        let b = Budget::new(1024);
        let e = b.acquire(4096).unwrap_err().to_string();
        assert!(
            e.contains("4.0 GiB") && e.contains("1.0 GiB") && e.contains("--max-site-mib"),
            "{e}"
        );
        assert_eq!(b.used_mib(), 0);
    }

    #[test]
    fn parallel_sites_never_hold_more_than_the_budget() {
        let b = Budget::new(100);
        let (held, peak) = (AtomicU64::new(0), AtomicU64::new(0));
        std::thread::scope(|s| {
            for i in 0..8u64 {
                let (b, held, peak) = (&b, &held, &peak);
                s.spawn(move || {
                    let need = 30 + i * 5;
                    let _lease = b.acquire(need).unwrap();
                    let now = held.fetch_add(need, Ordering::SeqCst) + need;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    held.fetch_sub(need, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 100);
        assert_eq!(b.used_mib(), 0);
    }
}

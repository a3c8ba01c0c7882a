//! `relink cache gc`, `relink cache verify` (also `relink verify`), and the size limit builds
//! keep on their own.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Result;

use crate::plan::cache_root;
use crate::CacheAction;
use relink_exec::cache::Cache;
use relink_exec::gc::{parse_size, GcReport};

/// The size limit when neither `--max-size` nor `RELINK_CACHE_MAX_SIZE` gives one.
const DEFAULT_MAX_SIZE: &str = "20G";

/// How often a build checks the limit (a collection walks the whole store).
const AUTO_GC_EVERY: Duration = Duration::from_secs(3600);

/// Blobs and results younger than this are never collected: a build may be about to use them.
const GRACE: Duration = Duration::from_secs(3600);

/// Run `relink cache ...`; returns the exit code.
pub fn run(action: CacheAction) -> Result<i32> {
    match action {
        CacheAction::Gc { max_size, cache_dir } => gc_command(max_size, cache_dir),
        CacheAction::Verify { cache_dir } => verify_command(cache_dir),
    }
}

/// The limit: the flag, else RELINK_CACHE_MAX_SIZE, else the default.
fn max_size(flag: Option<String>) -> Result<u64> {
    let text = flag.or_else(|| std::env::var("RELINK_CACHE_MAX_SIZE").ok()).unwrap_or_else(|| DEFAULT_MAX_SIZE.into());
    parse_size(&text)
}

fn gc_command(flag: Option<String>, cache_dir: Option<PathBuf>) -> Result<i32> {
    let limit = max_size(flag)?;
    let cache = Cache::open(cache_root(cache_dir))?;
    // Asked for by name: everything not in use by a running build is fair game.
    match cache.collect_garbage(limit, Duration::ZERO)? {
        Some(report) => {
            print_report("relink cache gc", &cache, &report);
            Ok(0)
        }
        None => {
            eprintln!(
                "relink cache gc: a build is using {}; nothing was removed (run it again when no build runs)",
                cache.root.display()
            );
            Ok(1)
        }
    }
}

fn print_report(who: &str, cache: &Cache, r: &GcReport) {
    eprintln!(
        "{who}: {} of {} action results and {} of {} blobs removed from {}: {:.1} MB -> {:.1} MB",
        r.results_removed,
        r.results,
        r.blobs_removed,
        r.blobs,
        cache.root.display(),
        r.bytes_before as f64 / 1e6,
        r.bytes_after as f64 / 1e6
    );
}

/// After a build: keep the store within its limit, at most once an hour (the time of the last
/// check is the modification time of `cache/last-gc`). Never fails the build: a problem is a
/// warning.
pub fn auto_gc(cache_dir: Option<PathBuf>) {
    let run = || -> Result<()> {
        // A cache that cannot be opened has failed the build with its own error already.
        let Ok(cache) = Cache::open(cache_root(cache_dir)) else { return Ok(()) };
        let marker = cache.root.join("last-gc");
        let due = match fs_err::metadata(&marker).and_then(|m| m.modified()) {
            Ok(last) => SystemTime::now().duration_since(last).is_ok_and(|age| age >= AUTO_GC_EVERY),
            Err(_) => {
                // A new cache: start the clock.
                fs_err::write(&marker, "")?;
                false
            }
        };
        if !due {
            return Ok(());
        }
        fs_err::write(&marker, "")?;
        if let Some(report) = cache.collect_garbage(max_size(None)?, GRACE)? {
            if report.results_removed + report.blobs_removed > 0 {
                print_report("relink: cache size limit", &cache, &report);
            }
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("relink: WARNING: the cache size limit was not applied: {e:#}");
    }
}

/// `relink verify` / `relink cache verify`: exit 0 when the store was intact, 1 when damaged blobs
/// were removed.
pub fn verify_command(cache_dir: Option<PathBuf>) -> Result<i32> {
    let cache = Cache::open(cache_root(cache_dir))?;
    let report = cache.verify_all()?;
    for path in &report.damaged {
        eprintln!("relink verify: {} does not match its digest: removed", path.display());
    }
    eprintln!(
        "relink verify: {} blobs ({:.1} MB) checked in {}, {} damaged",
        report.checked,
        report.bytes as f64 / 1e6,
        cache.root.display(),
        report.damaged.len()
    );
    Ok(if report.damaged.is_empty() { 0 } else { 1 })
}

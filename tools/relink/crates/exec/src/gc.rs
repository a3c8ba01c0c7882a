//! The local cache's size limit: the least recently used action results go first, then every
//! blob that no remaining result names.
//!
//! A result's last use is its file's modification time, set when it is recorded and renewed
//! when a lookup hits it (at most once an hour, [`TOUCH_EVERY`]). Blobs carry a pinned
//! modification time (see [`super::cache`]), so a blob's age is its change time: one younger
//! than the grace period stays even when no result names it yet, since a running build stores
//! its outputs before it records their result. Builds hold the cache's lock shared while they
//! run ([`Cache::lease`]); collection takes it exclusively and does nothing while a build runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use fs_err as fs;

use super::cache::{blob_name, Cache, TMP_PREFIX};

/// How stale a result's last-use time may get before a hit renews it: a no-op build does not
/// write to every entry it reads.
pub const TOUCH_EVERY: Duration = Duration::from_secs(3600);

/// What a collection did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub results: usize,
    pub results_removed: usize,
    pub blobs: usize,
    pub blobs_removed: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// One recorded action result.
struct Entry {
    file: PathBuf,
    last_used: SystemTime,
    /// Blob file names (`<digest>` or `<digest>.x`).
    blobs: Vec<String>,
}

/// One blob of the store.
struct Blob {
    path: PathBuf,
    size: u64,
    changed: SystemTime,
}

impl Cache {
    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Hold the cache shared for a build: no collection runs until the returned file is dropped.
    pub fn lease(&self) -> Result<std::fs::File> {
        let path = self.lock_path();
        let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        file.lock_shared().with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(file)
    }

    /// Shrink the store to at most `max_bytes` of blobs, dropping the least recently used
    /// results first. `None` when a build holds the cache (nothing was removed).
    pub fn collect_garbage(&self, max_bytes: u64, grace: Duration) -> Result<Option<GcReport>> {
        let path = self.lock_path();
        let lock = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        let now = SystemTime::now();
        let young = |t: SystemTime| now.duration_since(t).map_or(true, |age| age < grace);
        let blobs = self.blobs()?;
        let sizes: std::collections::HashMap<&str, u64> = blobs.iter().map(|(n, b)| (n.as_str(), b.size)).collect();
        let size_of = |name: &str| sizes.get(name).copied().unwrap_or(0);
        let mut entries = self.entries()?;
        entries.sort_by_key(|e| std::cmp::Reverse(e.last_used));
        let mut report = GcReport {
            results: entries.len(),
            blobs: blobs.len(),
            bytes_before: blobs.iter().map(|(_, b)| b.size).sum(),
            ..GcReport::default()
        };
        // Blobs too young to judge count first: they stay whatever happens.
        let mut kept: HashSet<&str> = blobs.iter().filter(|(_, b)| young(b.changed)).map(|(n, _)| n.as_str()).collect();
        let mut kept_bytes: u64 = kept.iter().map(|n| size_of(n)).sum();
        let mut full = false;
        for entry in &entries {
            let new: Vec<&str> = entry.blobs.iter().map(String::as_str).filter(|b| !kept.contains(b)).collect();
            let extra: u64 = new.iter().map(|b| size_of(b)).sum();
            full |= kept_bytes + extra > max_bytes && !young(entry.last_used);
            if full {
                remove_result(&entry.file)?;
                report.results_removed += 1;
            } else {
                kept_bytes += extra;
                kept.extend(new);
            }
        }
        for (name, blob) in &blobs {
            if !kept.contains(name.as_str()) {
                fs::remove_file(&blob.path).with_context(|| format!("cannot remove {}", blob.path.display()))?;
                report.blobs_removed += 1;
            }
        }
        report.bytes_after = kept_bytes;
        Ok(Some(report))
    }

    /// Every blob, by file name; leftover temporary files older than an hour are removed.
    fn blobs(&self) -> Result<Vec<(String, Blob)>> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        for shard in read_dir(&self.root.join("cas"))? {
            for path in read_dir(&shard)? {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let Ok(meta) = fs::symlink_metadata(&path) else { continue };
                let changed =
                    SystemTime::UNIX_EPOCH + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
                if name.starts_with(TMP_PREFIX) {
                    if SystemTime::now().duration_since(changed).is_ok_and(|age| age > Duration::from_secs(3600)) {
                        let _ = fs::remove_file(&path);
                    }
                    continue;
                }
                out.push((name, Blob { path, size: meta.len(), changed }));
            }
        }
        Ok(out)
    }

    /// Every recorded result with the blobs it names (an unreadable one names none).
    fn entries(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for shard in read_dir(&self.root.join("ac"))? {
            for file in read_dir(&shard)? {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if !name.ends_with(".json") || name.ends_with(".unused.json") || name.ends_with(".provenance.json") {
                    continue;
                }
                let Ok(meta) = fs::metadata(&file) else { continue };
                let key = name.strip_suffix(".json").unwrap_or(&name);
                let result = fs::read(&file).ok().and_then(|b| super::cache::parse_entry(&b, key));
                let blobs = result
                    .map(|r| r.files.iter().map(|f| blob_name(&f.digest, f.executable)).collect())
                    .unwrap_or_default();
                out.push(Entry { file, last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), blobs });
            }
        }
        Ok(out)
    }
}

/// A result and what belongs to it (its provenance).
fn remove_result(file: &Path) -> Result<()> {
    fs::remove_file(file).with_context(|| format!("cannot remove {}", file.display()))?;
    if let Some(stem) = file.to_str().and_then(|f| f.strip_suffix(".json")) {
        let _ = fs::remove_file(format!("{stem}.provenance.json"));
    }
    Ok(())
}

/// The entries of `dir` (none when it does not exist).
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.flatten().map(|e| e.path()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// A size such as `10G`, `512M`, `2000000` (bytes; K, M, G, T are powers of 1024).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().with_context(|| format!("`{text}` is not a size (examples: 10G, 512M)"))?;
    let shift = match unit.trim_end_matches(['B', 'b', 'i']).to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => anyhow::bail!("`{text}` is not a size: use a number of bytes or K, M, G, T (examples: 10G, 512M)"),
    };
    n.checked_mul(1 << shift).with_context(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{ActionResult, OutputFile};

    fn result_of(cache: &Cache, data: &[u8]) -> ActionResult {
        let digest = cache.store_bytes(data, false).unwrap();
        ActionResult { files: vec![OutputFile { path: "out".into(), digest, executable: false }], dirs: Vec::new() }
    }

    fn set_age(path: &Path, age: Duration) {
        let file = std::fs::File::options().read(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn least_recently_used_results_and_their_blobs_go_first() {
        let dir = std::env::temp_dir().join(format!("relink-gc-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let cache = Cache::open(dir.clone()).unwrap();
        let (old, mid, new) = (vec![1u8; 1000], vec![2u8; 1000], vec![3u8; 1000]);
        for (key, data, hours) in [("aa01", &old, 30), ("bb02", &mid, 20), ("cc03", &new, 10)] {
            cache.record(key, &result_of(&cache, data)).unwrap();
            set_age(
                &cache.root.join("ac").join(&key[..2]).join(format!("{key}.json")),
                Duration::from_secs(hours * 3600),
            );
        }
        // A hit renews the last use of a stale result: `old` becomes the most recent.
        assert!(cache.lookup("aa01").is_some());
        // Room for two blobs; the blobs are new, so no grace period here.
        let report = cache.collect_garbage(2000, Duration::ZERO).unwrap().unwrap();
        assert_eq!((report.results, report.results_removed, report.blobs, report.blobs_removed), (3, 1, 3, 1));
        assert_eq!((report.bytes_before, report.bytes_after), (3000, 2000));
        assert!(cache.lookup("aa01").is_some(), "used last: kept");
        assert!(cache.lookup("cc03").is_some(), "recent: kept");
        assert!(cache.lookup("bb02").is_none(), "least recently used: gone");
        assert!(!cache.blob_path(&relink_core::digest::digest_bytes(&mid), false).exists(), "its blob too");
        // A build holds the cache: nothing is collected.
        let lease = cache.lease().unwrap();
        assert!(cache.collect_garbage(0, Duration::ZERO).unwrap().is_none());
        drop(lease);
        // Blobs younger than the grace period stay, results or not.
        let report = cache.collect_garbage(0, Duration::from_secs(600)).unwrap().unwrap();
        assert_eq!(report.blobs_removed, 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("10G").unwrap(), 10 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2000").unwrap(), 2000);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5X").is_err());
    }
}

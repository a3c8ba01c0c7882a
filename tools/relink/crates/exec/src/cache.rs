//! The local content-addressed store (CAS) and action cache (AC).
//!
//! Blobs live at `cas/<2 hex>/<blake3>[.x]` (`.x`: executable), written atomically (temp file +
//! rename), read-only, with their modification time pinned to a fixed epoch: a blob whose
//! mtime moved was written to after it was stored, so it is re-hashed before use and discarded
//! if its digest no longer matches. Action results live at `ac/<2 hex>/<key>.json`.

use fs_err as fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use relink_core::digest::{digest_bytes, digest_file};
use serde::{Deserialize, Serialize};

/// The mtime every stored blob carries.
const BLOB_EPOCH: Duration = Duration::from_secs(1_000_000_000);

/// One output file of a cached action.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputFile {
    /// Execroot-relative path.
    pub path: String,
    pub digest: String,
    pub executable: bool,
}

/// A cached action result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionResult {
    /// All output files (the files of declared directories listed one by one).
    pub files: Vec<OutputFile>,
    /// Declared directories (possibly empty).
    pub dirs: Vec<String>,
}

/// An action-cache entry as stored: the result, the key it answers and a checksum over both,
/// so that a damaged, truncated or swapped entry is a miss (the action runs again), never
/// another action's result or a wrong digest.
#[derive(Serialize, Deserialize)]
struct StoredResult {
    key: String,
    checksum: String,
    result: ActionResult,
}

fn entry_checksum(key: &str, result: &ActionResult) -> Option<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(key.as_bytes());
    hasher.update(b"\n");
    hasher.update(&serde_json::to_vec(result).ok()?);
    Some(hasher.finalize().to_hex().to_string())
}

/// The result an action-cache entry holds for `key`, if it is intact and answers that key.
pub(crate) fn parse_entry(bytes: &[u8], key: &str) -> Option<ActionResult> {
    let stored: StoredResult = serde_json::from_slice(bytes).ok()?;
    let intact = stored.key == key && entry_checksum(key, &stored.result).is_some_and(|c| c == stored.checksum);
    intact.then_some(stored.result)
}

/// The local cache.
#[derive(Clone)]
pub struct Cache {
    pub root: PathBuf,
}

/// Below this much free space in the cache's file system, relink refuses to start a build.
const MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

/// Free bytes for unprivileged users in the file system of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// How the store's temporary files (a blob or record being written) begin.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

fn tmp_name(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    dir.join(format!("{TMP_PREFIX}{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
}

/// A blob's file name in its shard: the digest, with `.x` when it is executable.
pub(crate) fn blob_name(digest: &str, executable: bool) -> String {
    if executable {
        format!("{digest}.x")
    } else {
        digest.to_string()
    }
}

impl Cache {
    /// Open (create) the cache at `root`.
    pub fn open(root: PathBuf) -> Result<Cache> {
        fs::create_dir_all(root.join("cas")).with_context(|| format!("cannot create cache {}", root.display()))?;
        fs::create_dir_all(root.join("ac")).with_context(|| format!("cannot create cache {}", root.display()))?;
        if let Some(free) = free_bytes(&root) {
            if free < MIN_FREE_BYTES {
                anyhow::bail!(
                    "the cache at {} has {} MB free: a build would fail in the middle (a linker may die with a bus error); free some space, `relink clean --expunge`, or point RELINK_CACHE elsewhere",
                    root.display(),
                    free / 1_000_000
                );
            }
        }
        Ok(Cache { root })
    }

    /// Path of a blob.
    pub fn blob_path(&self, digest: &str, executable: bool) -> PathBuf {
        self.root.join("cas").join(&digest[..2]).join(blob_name(digest, executable))
    }

    /// Whether a blob is present and intact (re-hashed if its mtime moved).
    pub fn blob_ok(&self, digest: &str, executable: bool) -> bool {
        let path = self.blob_path(digest, executable);
        let Ok(meta) = fs::metadata(&path) else { return false };
        let pinned = SystemTime::UNIX_EPOCH + BLOB_EPOCH;
        if meta.modified().ok() == Some(pinned) {
            return true;
        }
        match digest_file(&path) {
            Ok(d) if d == digest => {
                let _ = pin_mtime(&path);
                true
            }
            _ => {
                let _ = fs::remove_file(&path);
                false
            }
        }
    }

    /// Move `file` into the store (it is consumed). Returns its digest.
    pub fn store_file(&self, file: &Path, executable: bool) -> Result<String> {
        let digest = digest_file(file)?;
        let dest = self.blob_path(&digest, executable);
        if self.blob_ok(&digest, executable) {
            return Ok(digest);
        }
        let dir = dest.parent().expect("blob dir");
        fs::create_dir_all(dir)?;
        let tmp = tmp_name(dir);
        if fs::rename(file, &tmp).is_err() {
            fs::copy(file, &tmp).with_context(|| format!("cannot store {}", file.display()))?;
        }
        finish_blob(&tmp, executable)?;
        fs::rename(&tmp, &dest)?;
        Ok(digest)
    }

    /// Store bytes.
    pub fn store_bytes(&self, data: &[u8], executable: bool) -> Result<String> {
        let digest = digest_bytes(data);
        if self.blob_ok(&digest, executable) {
            return Ok(digest);
        }
        let dest = self.blob_path(&digest, executable);
        let dir = dest.parent().expect("blob dir");
        fs::create_dir_all(dir)?;
        let tmp = tmp_name(dir);
        fs::File::create(&tmp)?.write_all(data)?;
        finish_blob(&tmp, executable)?;
        fs::rename(&tmp, &dest)?;
        Ok(digest)
    }

    fn ac_path(&self, key: &str) -> PathBuf {
        self.root.join("ac").join(&key[..2]).join(format!("{key}.json"))
    }

    /// A cached result whose entry and blobs are all intact, if any.
    pub fn lookup(&self, key: &str) -> Option<ActionResult> {
        use std::io::Read;
        let mut file = std::fs::File::open(self.ac_path(key)).ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        let Some(result) = parse_entry(&bytes, key) else {
            let _ = fs::remove_file(self.ac_path(key));
            return None;
        };
        if result.files.iter().all(|f| self.blob_ok(&f.digest, f.executable)) {
            // The result's last use, for the size limit's eviction order (`gc`).
            let now = SystemTime::now();
            let stale = file
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_none_or(|t| now.duration_since(t).is_ok_and(|age| age > super::gc::TOUCH_EVERY));
            if stale {
                let _ = file.set_modified(now);
            }
            Some(result)
        } else {
            let _ = fs::remove_file(self.ac_path(key));
            None
        }
    }

    /// Record a result (atomically).
    pub fn record(&self, key: &str, result: &ActionResult) -> Result<()> {
        let path = self.ac_path(key);
        let dir = path.parent().expect("ac dir");
        fs::create_dir_all(dir)?;
        let tmp = tmp_name(dir);
        let checksum = entry_checksum(key, result).context("cannot serialize an action result")?;
        let stored = StoredResult { key: key.to_string(), checksum, result: result.clone() };
        fs::write(&tmp, serde_json::to_vec(&stored)?)?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn pruning_path(&self, key: &str) -> PathBuf {
        self.root.join("ac").join(&key[..2]).join(format!("{key}.unused.json"))
    }

    /// The inputs an action reported unused the last time it ran with these input names.
    pub fn pruned_inputs(&self, pruning_key: &str) -> Option<std::collections::BTreeSet<String>> {
        serde_json::from_slice(&fs::read(self.pruning_path(pruning_key)).ok()?).ok()
    }

    /// Record the inputs an action reported unused (atomically).
    pub fn record_pruned_inputs(&self, pruning_key: &str, unused: &std::collections::BTreeSet<String>) -> Result<()> {
        let path = self.pruning_path(pruning_key);
        let dir = path.parent().expect("ac dir");
        fs::create_dir_all(dir)?;
        let tmp = tmp_name(dir);
        fs::write(&tmp, serde_json::to_vec(unused)?)?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn provenance_path(&self, key: &str) -> PathBuf {
        self.root.join("ac").join(&key[..2]).join(format!("{key}.provenance.json"))
    }

    /// Keep the signed provenance (a DSSE envelope) of the result of action `key`.
    pub fn record_provenance(&self, key: &str, envelope: &[u8]) -> Result<()> {
        let path = self.provenance_path(key);
        let dir = path.parent().expect("ac dir");
        fs::create_dir_all(dir)?;
        let tmp = tmp_name(dir);
        fs::write(&tmp, envelope)?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }

    /// The signed provenance of the result of action `key`, if one was made or accepted here.
    pub fn provenance(&self, key: &str) -> Option<Vec<u8>> {
        fs::read(self.provenance_path(key)).ok()
    }

    /// Place a blob at `dest` (hard link, or copy across file systems).
    pub fn materialize(&self, file: &OutputFile, dest: &Path) -> Result<()> {
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        let src = self.blob_path(&file.digest, file.executable);
        let _ = fs::remove_file(dest);
        if fs::hard_link(&src, dest).is_err() {
            fs::copy(&src, dest).with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
        }
        Ok(())
    }
}

/// What `Cache::verify_all` found.
pub struct VerifyReport {
    pub checked: usize,
    pub bytes: u64,
    /// Blobs whose content did not match their name (removed).
    pub damaged: Vec<PathBuf>,
}

impl Cache {
    /// Re-hash every blob of the store, whatever its mtime; remove those that do not match.
    pub fn verify_all(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport { checked: 0, bytes: 0, damaged: Vec::new() };
        let cas = self.root.join("cas");
        for shard in fs::read_dir(&cas).with_context(|| format!("cannot read {}", cas.display()))?.flatten() {
            for blob in fs::read_dir(shard.path())?.flatten() {
                let path = blob.path();
                let name = blob.file_name().to_string_lossy().to_string();
                if name.starts_with(TMP_PREFIX) {
                    continue;
                }
                let digest = name.strip_suffix(".x").unwrap_or(&name);
                report.checked += 1;
                report.bytes += blob.metadata().map(|m| m.len()).unwrap_or(0);
                if digest_file(&path).ok().as_deref() != Some(digest) {
                    fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
                    report.damaged.push(path);
                }
            }
        }
        Ok(report)
    }
}

fn finish_blob(path: &Path, executable: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, std::fs::Permissions::from_mode(if executable { 0o555 } else { 0o444 }))?;
    pin_mtime(path)
}

fn pin_mtime(path: &Path) -> Result<()> {
    let file =
        std::fs::File::options().read(true).open(path).with_context(|| format!("cannot open {}", path.display()))?;
    file.set_modified(SystemTime::UNIX_EPOCH + BLOB_EPOCH)
        .with_context(|| format!("cannot set the mtime of {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipped_byte_is_detected_and_discarded() {
        let dir = std::env::temp_dir().join(format!("relink-cache-test-{}", std::process::id()));
        let cache = Cache::open(dir.clone()).unwrap();
        let digest = cache.store_bytes(b"hello", false).unwrap();
        assert!(cache.blob_ok(&digest, false));
        let path = cache.blob_path(&digest, false);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, b"hellp").unwrap();
        assert!(!cache.blob_ok(&digest, false), "a corrupted blob must be rejected");
        assert!(!path.exists(), "a corrupted blob must be removed");
        fs::remove_dir_all(dir).unwrap();
    }
}

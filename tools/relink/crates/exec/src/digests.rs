//! Digests of source files, remembered across builds.
//!
//! Hashing every source of a workspace on every build is most of a no-op build's time. A file
//! whose inode, size, modification and change times are those recorded with its digest is not
//! hashed again. An entry recorded less than [`RACY_WINDOW`] after the file's last change is
//! "racily clean" (an edit within the same timestamp tick would go unseen, the problem git's
//! index has): it is hashed again until it is older.

use fs_err as fs;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use relink_core::digest::{digest_bytes, digest_file};
use relink_core::workspace::Workspace;

/// How long after a file's change its digest stays suspect.
const RACY_WINDOW: Duration = Duration::from_secs(2);

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Stat {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    stat: Stat,
    digest: String,
    /// When the digest was taken (nanoseconds since the epoch).
    recorded_ns: i128,
}

/// Source digests of one workspace: memoized within a build, persisted between builds.
/// Files outside the workspace (a toolchain's 500 MB of compiler and standard library) are
/// remembered in a second table shared by every workspace of the cache, so that a new checkout
/// does not hash them again.
#[derive(Default)]
pub struct SourceDigests {
    file: Option<PathBuf>,
    entries: Mutex<HashMap<String, Entry>>,
    /// Digests computed in this build, by execroot path.
    memo: Mutex<HashMap<String, String>>,
    changed: Mutex<bool>,
    /// The workspace root and the table of files outside it.
    outside: Option<(PathBuf, Box<SourceDigests>)>,
}

fn nanos(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
}

fn stat_of(meta: &std::fs::Metadata) -> Stat {
    Stat {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
    }
}

impl SourceDigests {
    /// Digests remembered in `file` (missing or unreadable: start empty).
    pub fn load(file: PathBuf) -> SourceDigests {
        let entries = fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        SourceDigests { file: Some(file), entries: Mutex::new(entries), ..Default::default() }
    }

    /// Digests of the files of `root` remembered in `file`, and of files outside it in `shared`.
    pub fn load_with_shared(file: PathBuf, root: PathBuf, shared: PathBuf) -> SourceDigests {
        SourceDigests { outside: Some((root, Box::new(SourceDigests::load(shared)))), ..SourceDigests::load(file) }
    }

    /// Write the remembered digests back (atomically), if any changed.
    pub fn save(&self) -> Result<()> {
        if let Some((_, shared)) = &self.outside {
            shared.save()?;
        }
        let Some(file) = &self.file else { return Ok(()) };
        if !*self.changed.lock().unwrap() {
            return Ok(());
        }
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, serde_json::to_vec(&*self.entries.lock().unwrap())?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))
    }

    /// The digest of the source file (or directory) at execroot path `path`.
    pub fn get(&self, ws: &Workspace, path: &str) -> Result<String> {
        if let Some(d) = self.memo.lock().unwrap().get(path) {
            return Ok(d.clone());
        }
        let disk = ws.exec_path_on_disk(path)?;
        let meta = fs::metadata(&disk).with_context(|| format!("missing input file {path} ({})", disk.display()))?;
        let digest = if meta.is_dir() {
            // Directories outside the workspace (a toolchain's sysroot): identified by their
            // resolved location; the toolchain adds a version stamp file as a real input.
            digest_bytes(format!("dir:{}", fs::canonicalize(&disk)?.display()).as_bytes())
        } else {
            self.file_digest(&disk, &meta)?
        };
        self.memo.lock().unwrap().insert(path.to_string(), digest.clone());
        Ok(digest)
    }

    fn file_digest(&self, disk: &Path, meta: &std::fs::Metadata) -> Result<String> {
        match &self.outside {
            Some((root, shared)) if !disk.starts_with(root) => shared.file_digest(disk, meta),
            _ => self.own_file_digest(disk, meta),
        }
    }

    fn own_file_digest(&self, disk: &Path, meta: &std::fs::Metadata) -> Result<String> {
        let key = disk.display().to_string();
        let stat = stat_of(meta);
        if let Some(e) = self.entries.lock().unwrap().get(&key) {
            let settled = e.recorded_ns - stat.mtime_ns.max(stat.ctime_ns) > RACY_WINDOW.as_nanos() as i128;
            if e.stat == stat && settled {
                return Ok(e.digest.clone());
            }
        }
        let digest = digest_file(disk)?;
        let entry = Entry { stat, digest: digest.clone(), recorded_ns: nanos(SystemTime::now()) };
        self.entries.lock().unwrap().insert(key, entry);
        *self.changed.lock().unwrap() = true;
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_hashed_again_even_within_the_same_second() {
        let dir = std::env::temp_dir().join(format!("digests-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.rs");
        fs::write(&f, "one").unwrap();
        let d = SourceDigests::load(dir.join("state.json"));
        let first = d.file_digest(&f, &fs::metadata(&f).unwrap()).unwrap();
        // Same size, written immediately: the entry is racily clean and must not be trusted.
        fs::write(&f, "two").unwrap();
        let again = SourceDigests::default();
        *again.entries.lock().unwrap() = d.entries.lock().unwrap().clone();
        let second = again.file_digest(&f, &fs::metadata(&f).unwrap()).unwrap();
        assert_ne!(first, second);
        assert_eq!(second, digest_bytes(b"two"));
        // A settled entry with an equal stat is reused without reading the file.
        let settled = SourceDigests::default();
        let meta = fs::metadata(&f).unwrap();
        settled.entries.lock().unwrap().insert(
            f.display().to_string(),
            Entry {
                stat: stat_of(&meta),
                digest: "remembered".into(),
                recorded_ns: nanos(SystemTime::now()) + 10_000_000_000,
            },
        );
        assert_eq!(settled.file_digest(&f, &meta).unwrap(), "remembered");
        fs::remove_dir_all(dir).unwrap();
    }
}

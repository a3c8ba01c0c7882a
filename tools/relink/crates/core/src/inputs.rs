//! What loading and analysis read from disk, so that their result can be reused.
//!
//! The action graph is a function of the BUILD and `.bzl` files read, of the directory
//! listings `glob()` and `//...` walked, of existence checks (is there a BUILD file, does a
//! source label name a file), and of the configuration. The recorder collects the first three
//! while a build analyses; [`Recorded::first_change`] checks them again (reading small files and
//! directories, no Starlark) before a later build reuses the result.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::digest::digest_bytes;

/// Marker file `relink import` leaves in a vendored crates.io crate: the checksum of the
/// `.crate` it was extracted from (read by the cargo-vet policy of the executor).
pub const VENDORED_MARKER: &str = ".relink-checksum";

/// Version-control directories: never part of a package, never an input.
pub const VCS_DIRS: &[&str] = &[".git", ".jj", ".hg", ".svn"];

/// Everything read, by absolute path.
#[derive(Default, Clone, Serialize, Deserialize, PartialEq, Eq, Debug)]
pub struct Recorded {
    /// File -> digest of its content.
    files: BTreeMap<String, String>,
    /// Directory -> digest of its sorted listing (names and whether each is a directory).
    listings: BTreeMap<String, String>,
    /// Path -> whether it was a file (`Some(true)`), a directory (`Some(false)`) or absent.
    probes: BTreeMap<String, Option<bool>>,
    /// File or directory -> its [`Stamp`] when read: while it is the same, the content or
    /// listing is too, and a later build need not read it again.
    #[serde(default)]
    stamps: BTreeMap<String, Stamp>,
    /// Directory -> its [`Stamp`] taken before any of its entries was probed: while it is the
    /// same, no entry appeared, disappeared or changed kind.
    #[serde(default)]
    probe_dirs: BTreeMap<String, Stamp>,
    /// Probed paths that are symbolic links: what they point to can change without their
    /// directory changing, so they are probed again every time.
    #[serde(default)]
    linked_probes: BTreeSet<String>,
    /// Set by [`Recorded::first_change`] when it stamped reads that had no stamp yet (they were
    /// too recent when recorded): the caller should store the record again.
    #[serde(skip)]
    restamped: bool,
}

/// Device, inode, size, modification and change times (ns) of a file or directory. A change
/// of content changes the modification and change times, an entry added, removed or renamed
/// changes a directory's; the change time cannot be set back. Git's index and relink's source
/// digests trust the same.
type Stamp = (u64, u64, u64, i64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = fs_err::metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime() * 1_000_000_000 + m.mtime_nsec(),
        m.ctime() * 1_000_000_000 + m.ctime_nsec(),
    ))
}

/// The stamp of something just read, unless it changed so recently that another change within
/// the same clock tick could go unseen (then it is read again next time, as git's "racily
/// clean" entries are).
fn settled_stamp(path: &Path) -> Option<Stamp> {
    let s = stamp(path)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
    (now - s.4 > 2_000_000_000).then_some(s)
}

/// Collects reads while loading and analysis run (shared by both, hence the locks). Within one
/// analysis a directory is listed and a path probed once: every `glob()` of a package walks
/// the same tree.
#[derive(Default)]
pub struct Recorder {
    recorded: Mutex<Recorded>,
    listed: Mutex<HashMap<std::path::PathBuf, Vec<(String, bool)>>>,
    probed: Mutex<HashMap<std::path::PathBuf, Option<bool>>>,
}

impl Recorder {
    /// A file's content was read.
    pub fn file(&self, path: &Path, content: &[u8]) {
        let stamp = settled_stamp(path);
        let mut recorded = self.recorded.lock().unwrap();
        recorded.files.insert(path.display().to_string(), digest_bytes(content));
        if let Some(stamp) = stamp {
            recorded.stamps.entry(path.display().to_string()).or_insert(stamp);
        }
    }

    /// A directory was listed; returns its entries (name, is_dir), sorted by name.
    pub fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<(String, bool)>> {
        if let Some(listing) = self.listed.lock().unwrap().get(dir) {
            return Ok(listing.clone());
        }
        let (listing, links) = listing_and_links(dir)?;
        self.listed.lock().unwrap().insert(dir.to_path_buf(), listing.clone());
        // An entry that is a symbolic link counts as what it points to, which can change
        // without the directory changing: such a listing is always read again.
        let stamp = if links { None } else { settled_stamp(dir) };
        let mut recorded = self.recorded.lock().unwrap();
        recorded.listings.insert(dir.display().to_string(), digest_listing(&listing));
        // The earliest stamp is kept: one taken after a read must be taken right after it.
        if let Some(stamp) = stamp {
            recorded.stamps.entry(dir.display().to_string()).or_insert(stamp);
        }
        Ok(listing)
    }

    /// Whether `path` is a file (`Some(true)`), a directory (`Some(false)`) or absent.
    pub fn probe(&self, path: &Path) -> Option<bool> {
        if let Some(found) = self.probed.lock().unwrap().get(path) {
            return *found;
        }
        // The directory's stamp first (once): a change after it changes the stamp.
        let parent = path.parent().map(|dir| dir.display().to_string());
        let stamped = parent.as_ref().is_some_and(|d| self.recorded.lock().unwrap().probe_dirs.contains_key(d));
        let parent_stamp = if stamped { None } else { path.parent().and_then(settled_stamp) };
        let (found, linked) = match fs_err::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => (kind_of(path), true),
            Ok(m) => (Some(!m.is_dir()), false),
            Err(_) => (None, false),
        };
        self.probed.lock().unwrap().insert(path.to_path_buf(), found);
        let parent = parent.zip(parent_stamp);
        let mut recorded = self.recorded.lock().unwrap();
        recorded.probes.insert(path.display().to_string(), found);
        if linked {
            recorded.linked_probes.insert(path.display().to_string());
        }
        if let Some((dir, stamp)) = parent {
            recorded.probe_dirs.entry(dir).or_insert(stamp);
        }
        found
    }

    /// What was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.recorded.lock().unwrap().clone()
    }
}

impl Recorded {
    /// The first read that would now give something else, described. Reads found unchanged
    /// by content that had no stamp (they were too recent when recorded) are stamped now, if
    /// they have settled, and [`Recorded::restamped`] says so: stored again, the record lets the
    /// next check trust stamps instead of reading.
    pub fn first_change(&mut self) -> Option<String> {
        let mut new_stamps = Vec::new();
        for (p, d) in &self.files {
            if self.stamped_unchanged(p) {
                continue;
            }
            if !fs_err::read(p).is_ok_and(|c| digest_bytes(&c) == *d) {
                return Some(format!("{p} changed"));
            }
            new_stamps.extend(settled_stamp(Path::new(p)).map(|s| (p.clone(), s)));
        }
        for (p, d) in &self.listings {
            if self.stamped_unchanged(p) {
                continue;
            }
            match listing_and_links(Path::new(p)) {
                Ok((l, links)) if digest_listing(&l) == *d => {
                    if !links {
                        new_stamps.extend(settled_stamp(Path::new(p)).map(|s| (p.clone(), s)));
                    }
                }
                _ => return Some(format!("the listing of {p} changed")),
            }
        }
        if let Some(change) = self.first_probe_change() {
            return Some(change);
        }
        self.restamped |= !new_stamps.is_empty();
        self.stamps.extend(new_stamps);
        None
    }

    fn stamped_unchanged(&self, path: &str) -> bool {
        self.stamps.get(path).is_some_and(|s| stamp(Path::new(path)).as_ref() == Some(s))
    }

    /// Whether [`Recorded::first_change`] added stamps.
    pub fn restamped(&self) -> bool {
        self.restamped
    }

    /// The first probe that now finds something else. Probes in a directory whose stamp is
    /// unchanged are trusted (unless they found a symbolic link); a directory without a stamp
    /// gets one, taken before its entries are probed, when they are all unchanged.
    fn first_probe_change(&mut self) -> Option<String> {
        let mut by_dir: BTreeMap<&str, Vec<(&String, &Option<bool>)>> = BTreeMap::new();
        for (p, k) in &self.probes {
            let dir = Path::new(p).parent().and_then(Path::to_str).unwrap_or("");
            by_dir.entry(dir).or_default().push((p, k));
        }
        let mut new_stamps = Vec::new();
        for (dir, probes) in by_dir {
            let now = stamp(Path::new(dir));
            let trusted = now.is_some() && self.probe_dirs.get(dir) == now.as_ref();
            for (p, k) in &probes {
                if (!trusted || self.linked_probes.contains(*p)) && kind_of(Path::new(p)) != **k {
                    return Some(format!("{p} appeared, disappeared or changed kind"));
                }
            }
            if !trusted {
                new_stamps.extend(
                    settled_stamp(Path::new(dir)).filter(|s| Some(s) == now.as_ref()).map(|s| (dir.to_string(), s)),
                );
            }
        }
        self.restamped |= !new_stamps.is_empty();
        self.probe_dirs.extend(new_stamps);
        None
    }
}

fn kind_of(path: &Path) -> Option<bool> {
    fs_err::metadata(path).ok().map(|m| !m.is_dir())
}

/// Entries no package can contain: output links and version-control directories. They come
/// and go with builds and commits and never change what loading sees.
fn never_a_source(name: &str) -> bool {
    name == "relink-bin" || name.starts_with("bazel-") || VCS_DIRS.contains(&name)
}

/// The listing of `dir`, and whether any of its entries is a symbolic link.
fn listing_and_links(dir: &Path) -> std::io::Result<(Vec<(String, bool)>, bool)> {
    let mut entries = Vec::new();
    let mut links = false;
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        links |= kind.is_symlink();
        if never_a_source(&entry.file_name().to_string_lossy()) {
            continue;
        }
        // Symbolic links count as what they point to, as glob() follows them; other entries
        // are known from the listing itself (no stat).
        let is_dir = if kind.is_symlink() {
            fs_err::metadata(entry.path()).map(|m| m.is_dir()).unwrap_or(false)
        } else {
            kind.is_dir()
        };
        entries.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    entries.sort();
    Ok((entries, links))
}

fn digest_listing(listing: &[(String, bool)]) -> String {
    let text: String = listing.iter().map(|(n, d)| format!("{n}\0{}\n", u8::from(*d))).collect();
    digest_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_a_changed_build_file_or_a_new_build_file_invalidates() {
        let dir = std::env::temp_dir().join(format!("inputs-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(dir.join("sub")).unwrap();
        fs_err::write(dir.join("BUILD"), "x").unwrap();
        let r = Recorder::default();
        r.file(&dir.join("BUILD"), b"x");
        r.list_dir(&dir).unwrap();
        assert_eq!(r.probe(&dir.join("sub/BUILD")), None);
        let mut recorded = r.snapshot();
        assert!(recorded.first_change().is_none());
        fs_err::write(dir.join("sub/BUILD"), "").unwrap();
        assert!(recorded.first_change().is_some(), "a BUILD file appeared where none was");
        fs_err::remove_file(dir.join("sub/BUILD")).unwrap();
        fs_err::write(dir.join("new.rs"), "").unwrap();
        assert!(recorded.first_change().is_some(), "a new file changes the listing");
        fs_err::remove_file(dir.join("new.rs")).unwrap();
        assert!(recorded.first_change().is_none());
        fs_err::write(dir.join("BUILD"), "y").unwrap();
        assert!(recorded.first_change().is_some(), "a changed BUILD file");
        fs_err::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn settled_files_and_directories_are_trusted_by_their_stamps_and_changes_still_seen() {
        let dir = std::env::temp_dir().join(format!("inputs-stamps-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("BUILD"), "x").unwrap();
        // Just written: racily clean, so no stamp; the content is compared.
        let r = Recorder::default();
        r.file(&dir.join("BUILD"), b"x");
        r.list_dir(&dir).unwrap();
        assert!(r.snapshot().stamps.is_empty());
        // Settled (stamps taken as if the change were old): trusted while the stamp holds.
        let mut recorded = r.snapshot();
        for p in [dir.join("BUILD"), dir.clone()] {
            recorded.stamps.insert(p.display().to_string(), stamp(&p).unwrap());
        }
        assert!(recorded.first_change().is_none());
        fs_err::write(dir.join("BUILD"), "y").unwrap();
        assert!(recorded.first_change().is_some(), "new content, new change time");
        fs_err::write(dir.join("BUILD"), "x").unwrap();
        fs_err::write(dir.join("new.rs"), "").unwrap();
        assert!(recorded.first_change().is_some(), "a new entry changes the directory's stamp");
        fs_err::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_too_recent_to_stamp_are_stamped_by_a_later_check_and_probes_trust_their_directory() {
        let dir = std::env::temp_dir().join(format!("inputs-restamp-{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        fs_err::create_dir_all(dir.join("sub")).unwrap();
        fs_err::create_dir_all(dir.join("elsewhere")).unwrap();
        fs_err::write(dir.join("BUILD"), "x").unwrap();
        fs_err::write(dir.join("elsewhere/target"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere/target"), dir.join("sub/link")).unwrap();
        let r = Recorder::default();
        r.file(&dir.join("BUILD"), b"x");
        r.list_dir(&dir).unwrap();
        assert_eq!(r.probe(&dir.join("sub/BUILD")), None);
        assert_eq!(r.probe(&dir.join("sub/link")), Some(true));
        let mut recorded = r.snapshot();
        assert!(recorded.stamps.is_empty() && recorded.probe_dirs.is_empty(), "all of it is too recent");
        assert!(recorded.first_change().is_none());
        assert!(!recorded.restamped(), "still too recent");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert!(recorded.first_change().is_none());
        assert!(recorded.restamped(), "settled now: stamped for the next check");
        assert!(recorded.stamps.contains_key(&dir.join("BUILD").display().to_string()));
        assert!(recorded.probe_dirs.contains_key(&dir.join("sub").display().to_string()));
        // Stored and read back, the stamps are trusted; changes are still seen.
        let mut stored: Recorded = serde_json::from_str(&serde_json::to_string(&recorded).unwrap()).unwrap();
        assert!(stored.first_change().is_none());
        assert!(!stored.restamped(), "nothing new to stamp");
        fs_err::write(dir.join("sub/BUILD"), "").unwrap();
        assert!(stored.first_change().is_some(), "a BUILD file appeared in a stamped directory");
        fs_err::remove_file(dir.join("sub/BUILD")).unwrap();
        fs_err::remove_file(dir.join("elsewhere/target")).unwrap();
        fs_err::create_dir(dir.join("elsewhere/target")).unwrap();
        let change = stored.first_change().expect("a link's target changed kind, its directory did not");
        assert!(change.contains("sub/link"), "{change}");
        fs_err::remove_dir_all(dir).unwrap();
    }
}

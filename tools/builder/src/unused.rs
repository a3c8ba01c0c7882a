//! Unused-input lists (Bazel's `unused_inputs_list`): the declared inputs an action did not
//! read, one execroot path a line. The build system then ignores changes to them, so a compile
//! does not re-run because a file it never reads (a changelog, a test fixture) changed.
//!
//! What rustc read comes from its dep-info (`--emit=dep-info`); Cargo decides rebuilds from the
//! same data. Only the crate's own sources and data files are ever listed: dependencies,
//! toolchain files and build-script outputs stay inputs whatever the dep-info says.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::rustc::MANIFEST_DIR;

/// The files a Makefile-style dep-info names (targets and prerequisites), unescaped.
pub fn dep_info_files(path: &Path) -> Result<Vec<PathBuf>> {
    let text = fs_err::read_to_string(path).with_context(|| format!("rustc wrote no dep-info {}", path.display()))?;
    let mut files = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((target, prerequisites)) = split_rule(line) else { continue };
        files.push(PathBuf::from(unescape(target)));
        files.extend(split_words(prerequisites).into_iter().map(PathBuf::from));
    }
    Ok(files)
}

/// `target: prerequisites`, where `:` inside the target may be escaped.
fn split_rule(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b':' if bytes.get(i + 1).is_none_or(|c| *c == b' ') => return Some((&line[..i], &line[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Words separated by unescaped spaces, with `\ ` unescaped.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn unescape(s: &str) -> String {
    s.replace("\\ ", " ").replace("\\:", ":")
}

/// Maps the paths a compile read back to the execroot paths the build system declared.
pub struct PathMap<'a> {
    /// The execroot (the action's working directory).
    pub execroot: &'a Path,
    /// Where rustc ran (`/proc/self/cwd` names it).
    pub compile_dir: &'a Path,
    /// A scratch tree mirroring declared paths (the stub overlay), if any.
    pub scratch: Option<&'a Path>,
}

impl PathMap<'_> {
    /// The execroot-relative path of a file rustc read, if it lies in the execroot.
    pub fn exec_path(&self, read: &Path) -> Option<String> {
        let read = match read.strip_prefix(MANIFEST_DIR) {
            Ok(rest) => self.compile_dir.join(rest),
            Err(_) if read.is_relative() => self.compile_dir.join(read),
            Err(_) => read.to_path_buf(),
        };
        let read = crate::util::normalize(&read);
        if let Some(scratch) = self.scratch {
            if let Ok(rel) = read.strip_prefix(crate::util::normalize(&self.execroot.join(scratch))) {
                return Some(crate::util::unrelative(rel).display().to_string());
            }
        }
        read.strip_prefix(self.execroot).ok().map(|p| p.display().to_string())
    }
}

/// Write the `candidates` not in `used` to `list` (sorted, one a line).
pub fn write_list(list: &Path, candidates: &[PathBuf], used: &BTreeSet<String>) -> Result<()> {
    let unused: BTreeSet<String> =
        candidates.iter().map(|c| c.display().to_string()).filter(|c| !used.contains(c)).collect();
    let text: String = unused.iter().map(|p| format!("{p}\n")).collect();
    fs_err::write(list, text).with_context(|| format!("cannot write {}", list.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_with_escapes_is_parsed() {
        let dir = std::env::temp_dir().join(format!("depinfo-{}", std::process::id()));
        fs_err::create_dir_all(&dir).unwrap();
        let d = dir.join("x.d");
        fs_err::write(&d, "/x/out.rlib: /a/lib.rs /a/with\\ space.rs /proc/self/cwd/data.txt\n\n/a/lib.rs:\n# env-dep:CARGO_MANIFEST_DIR=/proc/self/cwd\n").unwrap();
        let files = dep_info_files(&d).unwrap();
        assert!(files.contains(&PathBuf::from("/a/with space.rs")), "{files:?}");
        assert!(files.contains(&PathBuf::from("/proc/self/cwd/data.txt")));
        fs_err::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn read_paths_map_back_to_declared_paths() {
        let map = PathMap {
            execroot: Path::new("/sb"),
            compile_dir: Path::new("/sb/pkg"),
            scratch: Some(Path::new("out/x.stub")),
        };
        assert_eq!(map.exec_path(Path::new("/proc/self/cwd/data.txt")).as_deref(), Some("pkg/data.txt"));
        assert_eq!(map.exec_path(Path::new("/sb/pkg/src/lib.rs")).as_deref(), Some("pkg/src/lib.rs"));
        assert_eq!(map.exec_path(Path::new("/sb/out/x.stub/pkg/src/a.rs")).as_deref(), Some("pkg/src/a.rs"));
        assert_eq!(map.exec_path(Path::new("/sb/pkg/src/../README.md")).as_deref(), Some("pkg/README.md"));
        assert_eq!(map.exec_path(Path::new("/usr/lib/x")), None);
    }
}

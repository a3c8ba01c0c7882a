//! Small file-system helpers shared by the verbs.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// `out` with `.suffix` appended to its file name (a scratch path next to an output).
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    out.with_file_name(name)
}

/// Remove `dir` if present and create it empty.
pub fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    fs_err::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// A path with its root and `..`-free prefix made relative, for mirroring under a scratch dir.
pub fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .map(|c| match c {
            Component::ParentDir => Component::Normal("__parent__".as_ref()),
            other => other,
        })
        .collect()
}

/// `a/./b/../c` as `a/c`, lexically (no file-system access: the paths need not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The inverse of [`relative`]: `__parent__` components back to `..`.
pub fn unrelative(path: &Path) -> PathBuf {
    path.components()
        .map(|c| match c {
            Component::Normal(n) if n == "__parent__" => Component::ParentDir,
            other => other,
        })
        .collect()
}

/// Write `data` to `path`, creating parent directories. An existing file or link at `path`
/// is removed first: a write never goes through a link to the sources.
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if fs_err::symlink_metadata(path).is_ok() {
        fs_err::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    fs_err::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}

/// Link `to` to the file `from` (an absolute symbolic link), creating parent directories.
pub fn link_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let target = fs_err::canonicalize(from).with_context(|| format!("{} does not exist", from.display()))?;
    fs_err::os::unix::fs::symlink(&target, to).with_context(|| format!("cannot link {}", to.display()))
}

/// Copy a file (following symlinks), creating parent directories.
pub fn copy_file(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs_err::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs_err::copy(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    // Inputs may be read-only (content-addressed stores); copies are scratch files we own.
    use std::os::unix::fs::PermissionsExt;
    let mode = fs_err::metadata(to)?.permissions().mode() | 0o200;
    fs_err::set_permissions(to, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs_err::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                walk(root, &entry.path(), out)?;
            } else {
                out.push(entry.path().strip_prefix(root)?.to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The one file in `dir` with the given extension.
pub fn single_file_with_extension(dir: &Path, ext: &str) -> Result<PathBuf> {
    let found: Vec<PathBuf> = fs_err::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!("expected exactly one .{ext} file in {}, found {}", dir.display(), found.len()),
    }
}

/// The child gets SIGKILL when this process dies (a killed build leaves no compiler behind).
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl with constant arguments, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

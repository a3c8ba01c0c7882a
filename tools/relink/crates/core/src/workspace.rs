//! The workspace: its root, its repositories, and where sources and outputs live.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::label::Label;

/// Files that mark a workspace root.
const ROOT_MARKERS: &[&str] = &["MODULE.bazel", "WORKSPACE", "WORKSPACE.bazel"];

/// A workspace and the repositories it can see.
pub struct Workspace {
    /// Absolute root directory.
    pub root: PathBuf,
    /// The workspace's own name (`module(name=)` / `workspace(name=)`), if any.
    pub name: String,
    /// Repository name -> directory on disk (the main repository is `""`).
    pub repos: BTreeMap<String, PathBuf>,
    /// Directories of the main repository that `.bazelignore` lists (workspace-relative).
    pub ignored: Vec<PathBuf>,
    /// What loading and analysis read (to reuse their result while it is unchanged).
    pub reads: crate::inputs::Recorder,
}

impl Workspace {
    /// Find the workspace that contains `start`.
    pub fn find(start: &Path) -> Result<Workspace> {
        let start = start.canonicalize()?;
        let root = start
            .ancestors()
            .find(|d| ROOT_MARKERS.iter().any(|m| d.join(m).is_file()))
            .ok_or_else(|| {
                anyhow!(
                    "{} is not inside a workspace (no MODULE.bazel or WORKSPACE in it or above it)",
                    start.display()
                )
            })?
            .to_path_buf();
        let name = workspace_name(&root);
        let mut repos = BTreeMap::new();
        repos.insert(String::new(), root.clone());
        if !name.is_empty() {
            repos.insert(name.clone(), root.clone());
        }
        let reads = crate::inputs::Recorder::default();
        let ignored = read_bazelignore(&root, &reads);
        Ok(Workspace { root, name, repos, ignored, reads })
    }

    /// Whether a directory on disk is outside every package: a version-control directory,
    /// or a directory `.bazelignore` lists (as Bazel skips them).
    pub fn is_ignored_dir(&self, dir: &Path) -> bool {
        if dir.file_name().is_some_and(|n| crate::inputs::VCS_DIRS.iter().any(|v| n == *v)) {
            return true;
        }
        dir.strip_prefix(&self.root).is_ok_and(|rel| self.ignored.iter().any(|i| rel == i))
    }

    /// Directory on disk of the repository of `label`.
    pub fn repo_dir(&self, repo: &str) -> Result<&Path> {
        self.repos
            .get(repo)
            .map(PathBuf::as_path)
            .ok_or_else(|| anyhow!("unknown repository `@{repo}`: relink knows {}", self.known_repos()))
    }

    fn known_repos(&self) -> String {
        self.repos.keys().filter(|k| !k.is_empty()).map(|k| format!("@{k}")).collect::<Vec<_>>().join(", ")
    }

    /// Directory of a package on disk.
    pub fn package_dir(&self, base: &Label) -> Result<PathBuf> {
        Ok(self.repo_dir(&base.repo)?.join(&base.package))
    }

    /// Path on disk of a source file label.
    pub fn source_path(&self, label: &Label) -> Result<PathBuf> {
        Ok(self.package_dir(label)?.join(&label.name))
    }

    /// How a source file is named in the execroot and in messages.
    pub fn display_path(&self, label: &Label) -> String {
        let repo = if self.repos.get(&label.repo) == self.repos.get("") { "" } else { label.repo.as_str() };
        let mut parts = Vec::new();
        if !repo.is_empty() {
            parts.push(format!("external/{repo}"));
        }
        if !label.package.is_empty() {
            parts.push(label.package.clone());
        }
        parts.push(label.name.clone());
        parts.join("/")
    }

    /// The repository name a label should carry: the main repository under its own name is `""`.
    pub fn canonical_repo<'a>(&self, repo: &'a str) -> &'a str {
        if !repo.is_empty() && repo == self.name {
            ""
        } else {
            repo
        }
    }

    /// Disk path of an execroot-relative source path.
    pub fn exec_path_on_disk(&self, exec_path: &str) -> Result<PathBuf> {
        if let Some(rest) = exec_path.strip_prefix("external/") {
            let (repo, path) = rest.split_once('/').unwrap_or((rest, ""));
            return Ok(self.repo_dir(repo)?.join(path));
        }
        Ok(self.root.join(exec_path))
    }

    /// Whether `dir` holds a BUILD file (recorded).
    pub fn has_build_file(&self, dir: &Path) -> bool {
        ["BUILD.bazel", "BUILD"].iter().any(|n| self.reads.probe(&dir.join(n)) == Some(true))
    }

    /// Register an external repository directory.
    pub fn add_repo(&mut self, name: &str, dir: PathBuf) {
        self.repos.entry(name.to_string()).or_insert(dir);
    }

    /// All packages under `dir_rel` (a main-repo relative directory), for `//pkg/...`.
    pub fn packages_under(&self, dir_rel: &str) -> Result<Vec<String>> {
        let start = self.root.join(dir_rel);
        if !start.is_dir() {
            bail!("no such directory `{dir_rel}` in the workspace");
        }
        let mut out = Vec::new();
        self.collect_packages(&start, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn collect_packages(&self, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        collect_packages(self, &self.root, dir, out)
    }
}

/// The directories `.bazelignore` lists, one workspace-relative path a line (`#` comments).
fn read_bazelignore(root: &Path, reads: &crate::inputs::Recorder) -> Vec<PathBuf> {
    let path = root.join(".bazelignore");
    let text = match reads.probe(&path) {
        Some(true) => fs_err::read_to_string(&path).unwrap_or_default(),
        _ => String::new(),
    };
    if !text.is_empty() {
        reads.file(&path, text.as_bytes());
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| PathBuf::from(l.trim_end_matches('/')))
        .collect()
}

fn collect_packages(ws: &Workspace, root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    if ws.has_build_file(dir) {
        out.push(dir.strip_prefix(root)?.to_string_lossy().to_string());
    }
    let entries = ws.reads.list_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (name, is_dir) in entries {
        if name.starts_with('.') || name.starts_with("relink-") || name.starts_with("bazel-") || name == "target" {
            continue;
        }
        let path = dir.join(&name);
        if is_dir {
            // A nested workspace is not part of this one.
            if ROOT_MARKERS.iter().any(|m| ws.reads.probe(&path.join(m)) == Some(true)) || ws.is_ignored_dir(&path) {
                continue;
            }
            collect_packages(ws, root, &path, out)?;
        }
    }
    Ok(())
}

/// The name in `module(name = "x")` or `workspace(name = "x")`, or `""`.
fn workspace_name(root: &Path) -> String {
    for marker in ROOT_MARKERS {
        let Ok(text) = fs_err::read_to_string(root.join(marker)) else { continue };
        for call in ["module(", "workspace("] {
            if let Some(start) = text.find(call) {
                let rest = &text[start..];
                if let Some(n) = rest.find("name") {
                    let after = &rest[n + 4..];
                    let after = after.trim_start().strip_prefix('=').unwrap_or(after).trim_start();
                    if let Some(q) = after.strip_prefix('"') {
                        if let Some(end) = q.find('"') {
                            return q[..end].to_string();
                        }
                    }
                }
            }
        }
    }
    String::new()
}

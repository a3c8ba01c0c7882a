//! `glob()`: the files of the package being evaluated that match, walking only the
//! directories a pattern can reach, each listing recorded for analysis reuse.

use std::path::Path;

use anyhow::{bail, Context, Result};
use starlark::eval::Evaluator;

use crate::eval_context;

/// `glob()` in the package being evaluated: files only, subpackages excluded, sorted.
pub fn glob(
    include: &[String],
    exclude: &[String],
    allow_empty: bool,
    eval: &Evaluator<'_, '_, '_>,
) -> Result<Vec<String>> {
    let ctx = eval_context(eval)?;
    let dir = ctx.loader.workspace.package_dir(&ctx.base)?;
    let inc = compiled(include)?;
    let exc = compiled(exclude)?;
    let reach = GlobReach::new(include)?;
    let mut out = Vec::new();
    walk_package_files(&ctx.loader.workspace, &dir, &dir, &reach, &mut |rel| {
        if inc.is_match(rel) && !exc.is_match(rel) {
            out.push(rel.to_string());
        }
    })?;
    out.sort();
    if out.is_empty() && !allow_empty {
        bail!("glob({include:?}) matched no files in {}", dir.display());
    }
    Ok(out)
}

/// The patterns as one matcher, compiled once per process: packages repeat the same few
/// (`**/*.rs`), and compiling one is most of a small glob's time.
fn compiled(patterns: &[String]) -> Result<std::sync::Arc<globset::GlobSet>> {
    type Compiled = std::collections::HashMap<Vec<String>, std::sync::Arc<globset::GlobSet>>;
    static CACHE: std::sync::Mutex<Option<Compiled>> = std::sync::Mutex::new(None);
    if let Some(set) = CACHE.lock().unwrap().get_or_insert_with(Default::default).get(patterns) {
        return Ok(set.clone());
    }
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(globset::GlobBuilder::new(p).literal_separator(true).build()?);
    }
    let set = std::sync::Arc::new(b.build()?);
    CACHE.lock().unwrap().get_or_insert_with(Default::default).insert(patterns.to_vec(), set.clone());
    Ok(set)
}

/// Which directories the include patterns of a `glob()` can match files under, so that the
/// walk (and what the analysis records as read) stays inside them: `sysroot/bin/rustc` lists
/// `sysroot` and `sysroot/bin`, not the 50,000 files beside them.
struct GlobReach {
    /// Per pattern, its `/`-separated components: `None` for `**`, else the exact name or a
    /// matcher for a component with wildcards.
    patterns: Vec<Vec<Option<Component>>>,
}

enum Component {
    Exact(String),
    Wild(globset::GlobMatcher),
}

impl GlobReach {
    fn new(include: &[String]) -> Result<GlobReach> {
        let mut patterns = Vec::new();
        for p in include {
            let mut parts = Vec::new();
            for c in p.split('/') {
                parts.push(if c.contains("**") {
                    None
                } else if c.contains(['*', '?', '[', '{']) {
                    Some(Component::Wild(globset::Glob::new(c)?.compile_matcher()))
                } else {
                    Some(Component::Exact(c.to_string()))
                });
            }
            patterns.push(parts);
        }
        Ok(GlobReach { patterns })
    }

    /// Whether some pattern can match a file below directory `rel` (package-relative).
    fn may_enter(&self, rel: &str) -> bool {
        let dir: Vec<&str> = rel.split('/').collect();
        self.patterns.iter().any(|pattern| {
            for (i, name) in dir.iter().enumerate() {
                match pattern.get(i) {
                    None => return false,
                    Some(None) => return true,
                    Some(Some(Component::Exact(c))) if c != name => return false,
                    Some(Some(Component::Wild(m))) if !m.is_match(name) => return false,
                    Some(Some(_)) => {}
                }
            }
            pattern.len() > dir.len()
        })
    }
}

fn walk_package_files(
    ws: &relink_core::workspace::Workspace,
    root: &Path,
    dir: &Path,
    reach: &GlobReach,
    f: &mut dyn FnMut(&str),
) -> Result<()> {
    let entries = ws.reads.list_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (name, is_dir) in entries {
        let path = dir.join(&name);
        if is_dir {
            if dir == root && (name.starts_with("relink-") || name.starts_with("bazel-")) {
                continue;
            }
            if !reach.may_enter(&path.strip_prefix(root)?.to_string_lossy()) {
                continue; // no pattern can match below it
            }
            if ws.is_ignored_dir(&path) || ws.has_build_file(&path) {
                continue; // a version-control or an ignored directory, or a subpackage
            }
            walk_package_files(ws, root, &path, reach, f)?;
        } else {
            let rel = path.strip_prefix(root)?.to_string_lossy().to_string();
            f(&rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::GlobReach;

    #[test]
    fn the_glob_walk_enters_only_directories_a_pattern_can_match_below() {
        let patterns = [
            "sysroot/bin/rustc",
            "sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib/*.rlib",
            "src/**/*.rs",
            "*/data/*.txt",
        ];
        let reach = GlobReach::new(&patterns.map(String::from)).unwrap();
        for enter in
            ["sysroot", "sysroot/bin", "sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib", "src", "src/a/b/c", "x/data"]
        {
            assert!(reach.may_enter(enter), "{enter}");
        }
        // `share` and `target` may hold `*/data/*.txt`, but nothing deeper than `data`.
        for skip in [
            "share/doc",
            "sysroot/share/doc",
            "sysroot/bin/x",
            "sysroot/lib/rustlib/wasm32/lib",
            "target/x",
            "x/other",
            "x/data/deeper",
        ] {
            assert!(!reach.may_enter(skip), "{skip}");
        }
        assert!(GlobReach::new(&["**".to_string()]).unwrap().may_enter(".github/workflows"));
    }
}

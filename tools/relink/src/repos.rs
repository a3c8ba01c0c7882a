//! The external repositories relink provides itself: `@rules_relink` (the rules it carries)
//! and `@relink_toolchain` (the local rustc and the builder), the same repositories that
//! `rules/repositories.bzl` creates for Bazel.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::exec::cache::digest_bytes;
use crate::workspace::Workspace;

/// Where the rules of this relink build live (the repository it was built from), unless
/// `RELINK_RULES_DIR` says otherwise.
/// The rules relink carries: every file of `rules/`, compiled into the binary.
const EMBEDDED_RULES: &[(&str, &str)] = &[
    ("rules/BUILD.bazel", include_str!("../../../rules/BUILD.bazel")),
    ("rules/defs.bzl", include_str!("../../../rules/defs.bzl")),
    ("rules/extensions.bzl", include_str!("../../../rules/extensions.bzl")),
    ("rules/private/BUILD.bazel", include_str!("../../../rules/private/BUILD.bazel")),
    ("rules/private/actions.bzl", include_str!("../../../rules/private/actions.bzl")),
    ("rules/private/artifacts.bzl", include_str!("../../../rules/private/artifacts.bzl")),
    ("rules/private/profile.bzl", include_str!("../../../rules/private/profile.bzl")),
    ("rules/private/providers.bzl", include_str!("../../../rules/private/providers.bzl")),
    ("rules/private/rules.bzl", include_str!("../../../rules/private/rules.bzl")),
    ("rules/private/toolchain_repo.BUILD", include_str!("../../../rules/private/toolchain_repo.BUILD")),
    ("rules/repositories.bzl", include_str!("../../../rules/repositories.bzl")),
    ("rules/toolchain.bzl", include_str!("../../../rules/toolchain.bzl")),
];

/// Where `@rules_relink` lives: `$RELINK_RULES_DIR`; else the checkout relink was built from,
/// when it is still there (edits to the rules take effect without rebuilding relink); else the
/// rules embedded in the binary, unpacked once into the cache (`RELINK_EMBEDDED_RULES=1`
/// forces this).
pub fn rules_dir(cache_root: &Path) -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("RELINK_RULES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if std::env::var_os("RELINK_EMBEDDED_RULES").is_none() && built_from.join("rules/defs.bzl").is_file() {
        return Ok(built_from.canonicalize()?);
    }
    embedded_rules(cache_root)
}

fn embedded_rules(cache_root: &Path) -> Result<PathBuf> {
    let digest = digest_bytes(EMBEDDED_RULES.iter().map(|(p, t)| format!("{p}\0{t}\0")).collect::<String>().as_bytes());
    let dir = cache_root.join("repos").join(format!("rules_relink-{}", &digest[..16]));
    if dir.join("rules/defs.bzl").is_file() {
        return Ok(dir);
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for (path, text) in EMBEDDED_RULES {
        let dest = tmp.join(path);
        std::fs::create_dir_all(dest.parent().expect("rules/ path"))?;
        std::fs::write(&dest, text)?;
    }
    std::fs::write(tmp.join("WORKSPACE"), "workspace(name = \"rules_relink\")\n")?;
    std::fs::write(tmp.join("MODULE.bazel"), "module(name = \"rules_relink\")\n")?;
    std::fs::write(tmp.join("BUILD.bazel"), "")?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if dir.join("rules/defs.bzl").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(anyhow!("cannot unpack the embedded rules into {}: {e}", dir.display())),
    }
}

/// The relink-builder this relink uses.
pub fn builder() -> Result<PathBuf> {
    Ok(builder_path()?.canonicalize()?)
}

fn builder_path() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("RELINK_BUILDER") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let beside = exe.with_file_name("relink-builder");
    if beside.is_file() {
        return Ok(beside);
    }
    bail!(
        "relink-builder not found next to {} (build both with `cargo build --release` in the rules_relink checkout, or set RELINK_BUILDER)",
        exe.display()
    )
}

/// Register `@rules_relink` and `@relink_toolchain` in the workspace.
pub fn register(ws: &mut Workspace, cache_root: &Path) -> Result<()> {
    if ws.name != "rules_relink" {
        ws.add_repo("rules_relink", rules_dir(cache_root)?);
    }
    let toolchain = toolchain_repo(cache_root)?;
    ws.add_repo("relink_toolchain", toolchain);
    Ok(())
}

/// Synthesize the toolchain repository: symlinks to the sysroot and the builder, a version
/// stamp, and a BUILD file declaring `rust_toolchain`.
fn toolchain_repo(cache_root: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(cache_root.join("repos"))
        .with_context(|| format!("cannot create {}", cache_root.join("repos").display()))?;
    let crate::toolchain_probe::Toolchain { sysroot, version } =
        crate::toolchain_probe::probe(&cache_root.join("repos").join("toolchain-probe.json"))?;
    let builder = builder_path()?.canonicalize()?;
    let id = digest_bytes(format!("{sysroot}\n{}\n{version}", builder.display()).as_bytes());
    let dir = cache_root.join("repos").join(format!("relink_toolchain-{}", &id[..16]));
    if dir.join("BUILD.bazel").is_file() {
        return Ok(dir);
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    std::os::unix::fs::symlink(&sysroot, tmp.join("sysroot"))?;
    std::os::unix::fs::symlink(&builder, tmp.join("relink-builder"))?;
    std::fs::write(tmp.join("rustc_version.txt"), &version)?;
    std::fs::write(tmp.join("WORKSPACE"), "workspace(name = \"relink_toolchain\")\n")?;
    std::fs::write(tmp.join("BUILD.bazel"), TOOLCHAIN_BUILD)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if dir.join("BUILD.bazel").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(anyhow!("cannot create {}: {e}", dir.display())),
    }
}

/// BUILD file of `@relink_toolchain`: the very file `rules/repositories.bzl` writes for Bazel.
const TOOLCHAIN_BUILD: &str = include_str!("../../../rules/private/toolchain_repo.BUILD");

#[cfg(test)]
mod tests {
    /// Every file under rules/ must be embedded (add new files to EMBEDDED_RULES).
    #[test]
    fn every_rules_file_is_embedded() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk = Vec::new();
        walk(&root.join("rules"), &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = super::EMBEDDED_RULES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        for (path, text) in super::EMBEDDED_RULES {
            assert_eq!(std::fs::read_to_string(root.join(path)).unwrap(), *text, "{path} is stale");
        }
    }
}

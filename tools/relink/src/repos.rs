//! The external repositories relink provides itself: `@rules_relink` (the rules it carries)
//! and `@relink_toolchain` (the local rustc and the builder), the same repositories that
//! `rules/repositories.bzl` creates for Bazel.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::exec::cache::digest_bytes;
use crate::workspace::Workspace;

/// Where the rules of this relink build live (the repository it was built from), unless
/// `RELINK_RULES_DIR` says otherwise.
/// The rules_relink checkout relink uses for `@rules_relink`.
pub fn rules_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("RELINK_RULES_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built_from.join("rules/defs.bzl").is_file() {
        return Ok(built_from.canonicalize()?);
    }
    bail!("cannot find the rules_relink rules: set RELINK_RULES_DIR to the rules_relink checkout")
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

fn command_output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("cannot run `{program}`"))?;
    if !out.status.success() {
        bail!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Register `@rules_relink` and `@relink_toolchain` in the workspace.
pub fn register(ws: &mut Workspace, cache_root: &Path) -> Result<()> {
    if ws.name != "rules_relink" {
        ws.add_repo("rules_relink", rules_dir()?);
    }
    let toolchain = toolchain_repo(cache_root)?;
    ws.add_repo("relink_toolchain", toolchain);
    Ok(())
}

/// Synthesize the toolchain repository: symlinks to the sysroot and the builder, a version
/// stamp, and a BUILD file declaring `rust_toolchain`.
fn toolchain_repo(cache_root: &Path) -> Result<PathBuf> {
    let rustc = std::env::var("RELINK_RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = command_output(&rustc, &["--print", "sysroot"])?.trim().to_string();
    let version = command_output(&format!("{sysroot}/bin/rustc"), &["-vV"])?;
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

//! Finding the local Rust toolchain (sysroot and `rustc -vV`), remembered between runs.
//!
//! Asking `rustc` through rustup's proxy costs two process starts (~50 ms) on every build.
//! The answer depends only on which `rustc` is first on `PATH`, on `RELINK_RUSTC` and
//! `RUSTUP_TOOLCHAIN`, on rustup's settings (default toolchain, directory overrides) and on
//! `rust-toolchain(.toml)` files from the working directory up; and it is stale when the
//! toolchain's own `rustc` was replaced. All of that is recorded with the answer and checked
//! (stat calls only) before it is reused.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What the probe found.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Toolchain {
    pub sysroot: String,
    /// `rustc -vV` of the sysroot's compiler.
    pub version: String,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Recorded {
    key: String,
    /// Stat of `<sysroot>/bin/rustc` when probed.
    rustc_stat: (u64, i64, i64),
    toolchain: Toolchain,
}

/// The toolchain, from `cache_file` when nothing it depends on changed, else by asking rustc.
pub fn probe(cache_file: &Path) -> Result<Toolchain> {
    let key = probe_key()?;
    if let Some(found) = fs_err::read(cache_file).ok().and_then(|b| serde_json::from_slice::<Recorded>(&b).ok()) {
        if found.key == key && stat(&Path::new(&found.toolchain.sysroot).join("bin/rustc")) == Some(found.rustc_stat) {
            return Ok(found.toolchain);
        }
    }
    let rustc = std::env::var("RELINK_RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = command_output(&rustc, &["--print", "sysroot"])?.trim().to_string();
    let compiler = Path::new(&sysroot).join("bin/rustc");
    let version = command_output(&compiler.display().to_string(), &["-vV"])?;
    let toolchain = Toolchain { sysroot, version };
    if let Some(rustc_stat) = stat(&compiler) {
        let record = Recorded { key, rustc_stat, toolchain: toolchain.clone() };
        let tmp = cache_file.with_extension(format!("tmp{}", std::process::id()));
        // A cache that cannot be written only costs the next build a probe.
        if fs_err::write(&tmp, serde_json::to_vec(&record)?).is_ok() {
            let _ = fs_err::rename(&tmp, cache_file);
        }
    }
    Ok(toolchain)
}

fn stat(path: &Path) -> Option<(u64, i64, i64)> {
    let m = fs_err::metadata(path).ok()?;
    Some((m.size(), m.mtime(), m.mtime_nsec()))
}

/// Everything the answer depends on, as one string.
fn probe_key() -> Result<String> {
    let mut parts = Vec::new();
    for var in ["RELINK_RUSTC", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "PATH"] {
        parts.push(format!("{var}={}", std::env::var(var).unwrap_or_default()));
    }
    let rustc = std::env::var("RELINK_RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let found = which(&rustc);
    parts.push(format!("rustc={:?} {:?}", found, found.as_deref().and_then(stat)));
    let rustup_home = std::env::var("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".rustup"));
    let settings = rustup_home.join("settings.toml");
    parts.push(format!("settings={:?}", fs_err::read(&settings).ok()));
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        for name in ["rust-toolchain", "rust-toolchain.toml"] {
            if let Ok(text) = fs_err::read_to_string(dir.join(name)) {
                parts.push(format!("{}={text}", dir.join(name).display()));
            }
        }
    }
    Ok(parts.join("\n"))
}

/// The first `program` on PATH (or `program` itself when it names a path).
fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

fn command_output(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().with_context(|| format!("cannot run `{program}`"))?;
    if !out.status.success() {
        bail!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

//! Vendoring registry crates from their `.crate` files, checked against Cargo.lock.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use sha2::Digest;

use super::metadata::Package;
use relink_core::digest::hex;
// The marker file in a vendored crate: the checksum it was extracted from.
use relink_core::inputs::VENDORED_MARKER as CHECKSUM_FILE;

/// Checksums pinned by Cargo.lock.
pub struct LockFile {
    checksums: HashMap<(String, String), String>,
}

impl LockFile {
    /// Read `Cargo.lock`.
    pub fn read(path: &Path) -> Result<LockFile> {
        let text = fs_err::read_to_string(path)
            .with_context(|| format!("{} is missing: run `cargo generate-lockfile` first", path.display()))?;
        let value: toml::Value = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
        let mut checksums = HashMap::new();
        for pkg in value.get("package").and_then(|p| p.as_array()).into_iter().flatten() {
            let field = |k: &str| pkg.get(k).and_then(|v| v.as_str()).map(str::to_string);
            if let (Some(name), Some(version), Some(sum)) = (field("name"), field("version"), field("checksum")) {
                checksums.insert((name, version), sum);
            }
        }
        Ok(LockFile { checksums })
    }

    /// The pinned sha256 of `name` `version`.
    pub fn checksum(&self, name: &str, version: &str) -> Option<&str> {
        self.checksums.get(&(name.to_string(), version.to_string())).map(String::as_str)
    }
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"))
}

/// The downloaded `.crate` file of a package in Cargo's cache.
fn crate_file(pkg: &Package) -> Result<PathBuf> {
    let name = format!("{}-{}.crate", pkg.name, pkg.version);
    let cache = cargo_home().join("registry/cache");
    for entry in fs_err::read_dir(&cache).with_context(|| format!("cannot read {}", cache.display()))? {
        let candidate = entry?.path().join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("crate `{}` {}: {name} is not in {} (run `cargo fetch`)", pkg.name, pkg.version, cache.display())
}

/// Whether vendoring `pkg` into `dest` needs a `.crate` file that Cargo has not downloaded
/// (`cargo metadata` downloads what it resolves, so this is rare: a cleaned Cargo cache).
pub fn needs_download(pkg: &Package, checksum: &str, dest: &Path) -> bool {
    pkg.is_registry()
        && fs_err::read_to_string(dest.join(CHECKSUM_FILE)).ok().as_deref() != Some(checksum)
        && crate_file(pkg).is_err()
}

/// Vendor `pkg` into `dest` unless it is already there with the same checksum.
/// Returns whether it extracted anything.
pub fn vendor_package(pkg: &Package, checksum: &str, dest: &Path) -> Result<bool> {
    if !pkg.is_registry() {
        bail!(
            "crate `{}` {} comes from {}: relink import vendors crates.io crates only; make it a workspace member (path dependency inside the workspace) or vendor it by hand",
            pkg.name,
            pkg.version,
            pkg.source.as_deref().unwrap_or("a path outside the workspace")
        );
    }
    if fs_err::read_to_string(dest.join(CHECKSUM_FILE)).ok().as_deref() == Some(checksum) {
        return Ok(false);
    }
    let file = crate_file(pkg)?;
    let data = fs_err::read(&file)?;
    let actual = hex(&sha2::Sha256::digest(&data));
    if actual != checksum {
        bail!(
            "crate `{}` {}: checksum mismatch: Cargo.lock pins {checksum} but {} has {actual}; delete that file and run `cargo fetch`",
            pkg.name,
            pkg.version,
            file.display()
        );
    }
    let tmp = dest.with_extension("relink-tmp");
    let _ = fs_err::remove_dir_all(&tmp);
    fs_err::create_dir_all(&tmp)?;
    extract(&data, &format!("{}-{}", pkg.name, pkg.version), &tmp)
        .with_context(|| format!("cannot unpack {}", file.display()))?;
    fs_err::write(tmp.join(CHECKSUM_FILE), checksum)?;
    if dest.exists() {
        fs_err::remove_dir_all(dest)?;
    }
    fs_err::rename(&tmp, dest)?;
    Ok(true)
}

/// Unpack a `.crate` (gzip'd tar with a `NAME-VERSION/` prefix) into `dest`.
fn extract(data: &[u8], prefix: &str, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let rel =
            path.strip_prefix(prefix).map_err(|_| anyhow!("unexpected path {} in the archive", path.display()))?;
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            bail!("unsafe path {} in the archive", path.display());
        }
        let out = dest.join(rel);
        if entry.header().entry_type().is_dir() {
            fs_err::create_dir_all(&out)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf)?;
        fs_err::write(&out, buf)?;
        if executable {
            // Scripts a build script runs (jemalloc's configure, autotools helpers) keep their
            // executable bit, as Cargo's own unpacking keeps it.
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&out, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// Remove vendored crates that are no longer in the graph. Returns how many.
pub fn remove_stale(vendor_root: &Path, keep: &BTreeSet<String>) -> Result<usize> {
    let Ok(entries) = fs_err::read_dir(vendor_root) else { return Ok(0) };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !keep.contains(&name) && entry.path().join(CHECKSUM_FILE).is_file() {
            fs_err::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// A `.crate` with an executable script and a plain file: the script stays executable.
    #[test]
    fn executable_files_keep_their_mode() {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, mode, text) in [("x-1.0.0/configure", 0o755, "#!/bin/sh\n"), ("x-1.0.0/src/lib.rs", 0o644, "")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(mode);
            header.set_cksum();
            tar.append_data(&mut header, path, text.as_bytes()).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
        let data = gz.finish().unwrap();
        let dest = std::env::temp_dir().join(format!("relink-vendor-mode-{}", std::process::id()));
        super::extract(&data, "x-1.0.0", &dest).unwrap();
        let mode = |p: &str| fs_err::metadata(dest.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("configure") & 0o111, 0o111, "configure lost its executable bit");
        assert_eq!(mode("src/lib.rs") & 0o111, 0, "lib.rs became executable");
        fs_err::remove_dir_all(&dest).unwrap();
    }
}

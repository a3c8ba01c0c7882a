//! `relink import`: turn a Cargo workspace (Cargo.toml + Cargo.lock) into BUILD files.
//!
//! `cargo metadata` gives the packages and the dependency resolver's graph; `resolve` keeps
//! what Cargo's feature resolver builds for the host (weak dependency features, unused
//! build-dependencies and other platforms' dependencies dropped), with each package's features.
//! Every registry package built is vendored from its `.crate` file after checking the sha256
//! that Cargo.lock pins, into `third_party/crates/NAME-VERSION/`, with a generated BUILD.bazel.
//! Members' compiles get their `[lints]` and Cargo's `--check-cfg` (`lints`).
//! Workspace members get a generated BUILD.bazel next to their Cargo.toml (unless
//! `--no-members`): libraries (stubbed interfaces), binaries, build scripts, unit and
//! integration tests.

#![warn(clippy::too_many_lines)]

pub mod buck2;
mod generate;
mod host;
mod lints;
mod metadata;
mod profile;
mod resolve;
mod vendor;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub use metadata::Metadata;

/// Options of `relink import`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportOpts {
    /// Where third-party crates are vendored, relative to the workspace root.
    #[arg(long, default_value = "third_party/crates")]
    pub vendor_dir: String,
    /// Do not generate BUILD files for workspace members (write them by hand).
    #[arg(long)]
    pub no_members: bool,
    /// The Cargo manifest (default: Cargo.toml at the workspace root).
    #[arg(long)]
    pub manifest_path: Option<PathBuf>,
    /// Features to activate, as `cargo build --features` (comma or space separated;
    /// `PACKAGE/FEATURE` for a member). Pass them again on every import.
    #[arg(short = 'F', long)]
    pub features: Vec<String>,
    /// Activate every feature of the workspace members, as `cargo build --all-features`.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the members' `default` features, as `cargo build --no-default-features`.
    #[arg(long)]
    pub no_default_features: bool,
    /// Also write BUCK files for Buck2 beside the BUILD.bazel files, a `.buckconfig` (unless
    /// there is one) and the Buck2 cell of rules_relink with this relink's relink-builder
    /// (under third_party/rules_relink).
    #[arg(long)]
    pub buck2: bool,
}

impl ImportOpts {
    /// The feature selection as Cargo's own flags (for `cargo metadata`).
    fn cargo_feature_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for f in &self.features {
            flags.extend(["--features".to_string(), f.clone()]);
        }
        if self.all_features {
            flags.push("--all-features".into());
        }
        if self.no_default_features {
            flags.push("--no-default-features".into());
        }
        flags
    }
}

/// Run the import in the workspace rooted at `root`.
/// `builder` is the relink-builder a `--buck2` import points the Buck2 cell at.
pub fn run(root: &Path, opts: &ImportOpts, builder: Option<&Path>) -> Result<()> {
    let start = Instant::now();
    let manifest = opts.manifest_path.clone().unwrap_or_else(|| root.join("Cargo.toml"));
    if !manifest.is_file() {
        bail!("{} does not exist: `relink import` reads a Cargo workspace", manifest.display());
    }
    let meta = Metadata::load(&manifest, &opts.cargo_feature_flags())?;
    let profile = profile::Profiles::read(&manifest)?;
    let lock = vendor::LockFile::read(&manifest.with_file_name("Cargo.lock"))?;
    let vendor_root = root.join(&opts.vendor_dir);
    let missing = |pkg: &&metadata::Package| {
        let dest = vendor_root.join(format!("{}-{}", pkg.name, pkg.version));
        lock.checksum(&pkg.name, &pkg.version).is_some_and(|c| vendor::needs_download(pkg, c, &dest))
    };
    if meta.third_party().iter().any(missing) {
        fetch(&manifest)?;
    }
    let mut vendored = 0usize;
    let mut kept = BTreeSet::new();
    for pkg in meta.third_party() {
        unsupported_source(pkg, &manifest)?;
        let dir_name = format!("{}-{}", pkg.name, pkg.version);
        let dest = vendor_root.join(&dir_name);
        let checksum = lock.checksum(&pkg.name, &pkg.version).with_context(|| {
            format!(
                "crate `{}` {}: Cargo.lock has no checksum for it (run `cargo generate-lockfile`)",
                pkg.name, pkg.version
            )
        })?;
        if vendor::vendor_package(pkg, checksum, &dest)? {
            vendored += 1;
        }
        let build = generate::third_party_build_file(&meta, pkg, root, &opts.vendor_dir, &profile)?;
        write_build_files(&dest, &build, opts)?;
        kept.insert(dir_name);
    }
    let removed = vendor::remove_stale(&vendor_root, &kept)?;
    write_bazelignore(root)?;
    if opts.buck2 {
        buck2::write_project(root, builder.context("relink import --buck2 needs the path of relink-builder")?)?;
    }
    let mut members = 0;
    if !opts.no_members {
        for pkg in meta.members() {
            let dir = pkg.dir();
            let build = generate::member_build_file(&meta, pkg, root, &opts.vendor_dir, &profile)?;
            write_build_files(dir, &build, opts)?;
            members += 1;
        }
    }
    eprintln!(
        "relink import: {} third-party crates ({} newly vendored, {} removed), {} workspace members, in {:.2} s",
        kept.len(),
        vendored,
        removed,
        members,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A dependency relink cannot vendor from a registry: a clear error saying what to do.
fn unsupported_source(pkg: &metadata::Package, manifest: &Path) -> Result<()> {
    if pkg.is_registry() {
        return Ok(());
    }
    match pkg.source.as_deref() {
        Some(git) if git.starts_with("git+") => bail!(
            "{}: `{}` {} comes from git ({git}): relink import vendors registry crates only (each checked against Cargo.lock's sha256); vendor it into the workspace as a member, or use a crates.io release",
            manifest.display(),
            pkg.name,
            pkg.version
        ),
        Some(other) => bail!(
            "{}: `{}` {} comes from {other}, which relink import does not support (registry crates and workspace members only)",
            manifest.display(),
            pkg.name,
            pkg.version
        ),
        None => bail!(
            "{}: `{}` {} is a path dependency outside the workspace ({}): add it to [workspace] members (move it inside the workspace if needed), or [patch] it to a path inside",
            manifest.display(),
            pkg.name,
            pkg.version,
            pkg.dir().display()
        ),
    }
}

/// Keep Bazel out of build outputs and convenience links (`bazel-*`, `relink-bin`, `target`)
/// and version-control directories, which `glob()` would otherwise descend into (relink's
/// `glob` never does). Existing entries are kept.
fn write_bazelignore(root: &Path) -> Result<()> {
    let path = root.join(".bazelignore");
    let existing = fs_err::read_to_string(&path).unwrap_or_default();
    let base = root.file_name().map(|n| format!("bazel-{}", n.to_string_lossy())).unwrap_or_default();
    let mut text = existing.clone();
    let outputs = ["target", "relink-bin", "buck-out", "bazel-bin", "bazel-out", "bazel-testlogs", base.as_str()];
    for entry in outputs.iter().chain(relink_core::inputs::VCS_DIRS) {
        if !entry.is_empty() && !existing.lines().any(|l| l.trim() == *entry) {
            text.push_str(entry);
            text.push('\n');
        }
    }
    write_if_changed(&path, &text)
}

/// Download what Cargo.lock pins (no-op when everything is in Cargo's cache).
fn fetch(manifest: &Path) -> Result<()> {
    let status = std::process::Command::new("cargo")
        .args(["fetch", "--quiet", "--manifest-path"])
        .arg(manifest)
        .status()
        .context("cannot run `cargo fetch`")?;
    if !status.success() {
        bail!("`cargo fetch` failed for {}", manifest.display());
    }
    Ok(())
}

/// A package's BUILD.bazel, and with `--buck2` its BUCK file.
fn write_build_files(dir: &Path, bazel: &str, opts: &ImportOpts) -> Result<()> {
    write_if_changed(&dir.join("BUILD.bazel"), bazel)?;
    if opts.buck2 {
        write_if_changed(&dir.join("BUCK"), &buck2::buck_file(bazel))?;
    }
    Ok(())
}

/// Write `text` to `path`, creating its directory.
fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_if_changed(path, text)
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if fs_err::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    fs_err::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A Cargo manifest (or any TOML file) as a table; errors name the file.
pub(crate) fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = fs_err::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse().with_context(|| format!("{} is not valid TOML", path.display()))
}

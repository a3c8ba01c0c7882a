//! `relink-builder clippy`: clippy's lints on one crate, compiled as its `compile` action
//! compiles it (same flags, the dependencies' interfaces), metadata only.
//!
//! `clippy-driver` of the same toolchain stands in for rustc (`clippy-driver RUSTC ARGS...`,
//! as Cargo's `RUSTC_WORKSPACE_WRAPPER` runs it). Its diagnostics are the action's output, so
//! a cached run can still show them; lint errors (`-D ...`) fail the action.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::rustc::{self, CrateOpts, DepSetup};

/// Arguments of `relink-builder clippy`.
#[derive(clap::Args, Debug)]
pub struct ClippyArgs {
    #[command(flatten)]
    pub krate: CrateOpts,
    /// `clippy-driver` of the toolchain (beside rustc).
    #[arg(long)]
    pub driver: PathBuf,
    /// Where to write clippy's diagnostics.
    #[arg(long)]
    pub log: PathBuf,
    /// Lint levels for this run (`-Dwarnings`, `-Wclippy::pedantic`), after the crate's own.
    #[arg(long = "lint-flag", allow_hyphen_values = true)]
    pub lint_flags: Vec<String>,
}

/// Run the verb.
pub fn run(args: &ClippyArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let deps = DepSetup::new(&args.krate)?;
    let mut flags = vec![args.krate.rustc_path(&cwd).display().to_string()];
    flags.extend(args.krate.compile_flags(&deps, &cwd)?);
    flags.extend(CrateOpts::remap_flags(&cwd));
    let log = cwd.join(&args.log);
    let scratch = crate::util::sibling(&log, "out");
    crate::util::fresh_dir(&scratch)?;
    flags.extend([
        format!("--emit=metadata={}", scratch.join("lib.rmeta").display()),
        format!("--out-dir={}", scratch.display()),
        "--cfg=clippy".to_string(),
    ]);
    flags.extend(args.lint_flags.iter().cloned());
    flags.push(cwd.join(&args.krate.crate_root).display().to_string());
    let env = args.krate.environment(&cwd)?;
    let output = rustc::run(&cwd.join(&args.driver), &flags, &env, None, &args.krate.compile_dir(&cwd)?)?;
    fs_err::remove_dir_all(&scratch)?;
    crate::util::write_file(&log, &output.stderr)?;
    use std::io::Write;
    std::io::stderr().write_all(&output.stderr)?;
    if !output.status.success() {
        bail!("clippy found errors in crate `{}` ({})", args.krate.crate_name, output.status);
    }
    Ok(())
}

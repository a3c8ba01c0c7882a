//! `relink-builder interface`: the crate's ABI interface, a hollow rlib.
//!
//! With `--stub`, the crate's module files are stubbed (see [`crate::stub`]) and compiled with
//! `-Zno-codegen`. Sound or loud: when stubbing or the stub compile fails, the interface is the
//! hollow rlib of the *real* sources (correct, no early cutoff for this crate) and a warning
//! says why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::rustc::{self, CrateOpts, DepSetup};
use crate::stub::{self, SpanPolicy};
use crate::util;

/// Arguments of `relink-builder interface`.
#[derive(clap::Args, Debug)]
pub struct InterfaceArgs {
    #[command(flatten)]
    pub krate: CrateOpts,
    /// Where to write the interface rlib.
    #[arg(long)]
    pub out: PathBuf,
    /// Compile a stub (bodies no dependent can observe removed) instead of the real sources.
    #[arg(long)]
    pub stub: bool,
    /// How replaced bodies affect later lines: `anchored` (exact lines for kept code) or `compact`.
    #[arg(long, default_value = "anchored")]
    pub span_policy: SpanPolicy,
    /// Limit for one interface compile (a wrongly stubbed `const fn` could make rustc loop).
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Check that every generic instance the stub needs (and so the interface advertises to
    /// dependents) is also one the real sources need; fail otherwise. Two extra check builds.
    #[arg(long)]
    pub audit: bool,
}

/// Run the verb.
pub fn run(args: &InterfaceArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let deps = DepSetup::new(&args.krate)?;
    if args.stub {
        match try_stub(args, &cwd, &deps) {
            Ok(StubOutcome::Compiled) => return Ok(()),
            Ok(StubOutcome::NothingToRemove) => {}
            // Audit mode is strict: every stub must compile and pass the audit.
            Err(reason) if args.audit => return Err(reason),
            Err(reason) => eprintln!(
                "rules_relink: warning: crate `{}`: using the real sources as interface (no early cutoff for its dependents): {:#}",
                args.krate.crate_name, reason
            ),
        }
    }
    let output = compile_hollow(args, &cwd, &deps, &args.krate.crate_root, None, &args.out, &[])?;
    rustc::check(&output, "interface compile of the real sources")
}

/// What stubbing achieved.
enum StubOutcome {
    /// The interface was compiled from the stub.
    Compiled,
    /// Every body is observable (e.g. an all-generic crate): the stub would equal the sources.
    NothingToRemove,
}

/// Stub the crate and compile the stub; any failure is returned as the reason to fall back.
fn try_stub(args: &InterfaceArgs, cwd: &Path, deps: &DepSetup) -> Result<StubOutcome> {
    let stub = stub::stub_crate(&args.krate.crate_root, args.span_policy)?;
    if stub.stubbed_bodies() == 0 {
        return Ok(StubOutcome::NothingToRemove);
    }
    let scratch = util::sibling(&args.out, "stub");
    util::fresh_dir(&scratch)?;
    // Every source and data file is visible next to the stub (include_bytes!, unreached
    // modules); stubbed files replace their links below.
    for src in args.krate.srcs.iter().chain(&args.krate.data) {
        let dest = scratch.join(util::relative(src));
        if std::fs::symlink_metadata(&dest).is_err() {
            util::link_file(src, &dest)?;
        }
    }
    for (path, file) in &stub.files {
        let target = scratch.join(util::relative(path));
        util::write_file(&target, file.text.as_bytes())?;
    }
    let root = scratch.join(util::relative(&args.krate.crate_root));
    let output = compile_hollow(args, cwd, deps, &root, Some(&scratch), &args.out, &[])?;
    if !output.status.success() {
        anyhow::bail!(
            "the stub did not compile:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    if args.audit {
        audit_instances(args, cwd, deps, &root, &scratch)?;
    }
    std::fs::remove_dir_all(&scratch).with_context(|| format!("cannot remove {}", scratch.display()))?;
    Ok(StubOutcome::Compiled)
}

/// Mono items (generic instances) a compile of `root` collects, local stub helpers excluded.
fn mono_items(args: &InterfaceArgs, cwd: &Path, deps: &DepSetup, root: &Path, stub_dir: Option<&Path>) -> Result<std::collections::BTreeSet<String>> {
    let scratch_out = util::sibling(&args.out, "audit");
    let output = compile_hollow(args, cwd, deps, root, stub_dir, &scratch_out, &["-Zprint-mono-items=yes".to_string()])?;
    let _ = std::fs::remove_file(&scratch_out);
    rustc::check(&output, "audit compile")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("MONO_ITEM "))
        .map(|l| l.split(" @@").next().unwrap_or(l).to_string())
        .filter(|item| !item.contains("__relink_stub"))
        .collect())
}

/// Fail unless the stub's generic instances are a subset of the real sources'.
fn audit_instances(args: &InterfaceArgs, cwd: &Path, deps: &DepSetup, stub_root: &Path, scratch: &Path) -> Result<()> {
    let stub = mono_items(args, cwd, deps, stub_root, Some(scratch))?;
    let real = mono_items(args, cwd, deps, &args.krate.crate_root, None)?;
    let extra: Vec<&String> = stub.difference(&real).collect();
    if !extra.is_empty() {
        anyhow::bail!(
            "audit: the interface of `{}` would advertise {} instance(s) the real crate lacks, e.g. {}",
            args.krate.crate_name,
            extra.len(),
            extra.iter().take(5).map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
        );
    }
    eprintln!("rules_relink: audit: `{}`: {} stub instances, all among the {} of the real crate", args.krate.crate_name, stub.len(), real.len());
    Ok(())
}

/// `rustc -Zno-codegen` of `root` into `out`.
fn compile_hollow(
    args: &InterfaceArgs,
    cwd: &Path,
    deps: &DepSetup,
    root: &Path,
    stub_dir: Option<&Path>,
    out: &Path,
    extra_flags: &[String],
) -> Result<std::process::Output> {
    let mut flags = args.krate.compile_flags_with(deps, true, cwd)?;
    flags.extend(CrateOpts::remap_flags(cwd));
    if let Some(dir) = stub_dir {
        // Stub paths read as the real sources in metadata, diagnostics and panic locations.
        flags.push(format!("--remap-path-prefix={}/=", cwd.join(dir).display()));
    }
    flags.extend([
        // No flag here may differ from the real compile in anything that decides which
        // generic instances exist (MIR inlining, share-generics): dependents link against the
        // instances this interface advertises, and the real rlib must have every one of them.
        "-Zno-codegen".to_string(),
        "--cap-lints=allow".to_string(),
        "-o".to_string(),
        cwd.join(out).display().to_string(),
        cwd.join(root).display().to_string(),
    ]);
    flags.extend(extra_flags.iter().cloned());
    let env = args.krate.environment(cwd)?;
    let timeout = Some(Duration::from_secs(args.timeout_secs));
    rustc::run(&args.krate.rustc_path(cwd), &flags, &env, timeout, &args.krate.compile_dir(cwd)?)
}

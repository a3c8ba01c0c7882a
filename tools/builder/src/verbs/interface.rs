//! `relink-builder interface`: the crate's ABI interface, a hollow rlib.
//!
//! The interface is compiled with `-Zno-codegen` from a stub laid over the real sources: the
//! stub the `RustStub` action wrote (`--stub-dir`), or one made here (`--stub`, for the cost
//! benchmark and audits). Sound or loud: when there is no stub or it does not compile, the
//! interface is the hollow rlib of the *real* sources (correct, no early cutoff for this
//! crate) and one warning line says why.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use crate::rustc::{self, CrateOpts, DepSetup};
use crate::util;
use relink_stub::{self as stub, SpanPolicy};

/// File a `RustStub` action leaves in its (otherwise empty) directory when the sources could
/// not be stubbed; it holds the reason.
pub const STUB_ERROR_FILE: &str = ".relink-stub-error";

/// Arguments of `relink-builder interface`.
#[derive(clap::Args, Debug)]
pub struct InterfaceArgs {
    #[command(flatten)]
    pub krate: CrateOpts,
    /// Where to write the interface rlib.
    #[arg(long)]
    pub out: PathBuf,
    /// Compile the stub a `RustStub` action wrote to this directory.
    #[arg(long, conflicts_with = "stub")]
    pub stub_dir: Option<PathBuf>,
    /// Stub the crate here (bodies no dependent can observe removed) and compile the stub.
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
    /// Keep rustc's incremental state for the interface compile under this directory (local
    /// only, opt-in: the state can reorder metadata entries, docs/interfaces.md §5).
    #[arg(long)]
    pub incremental_dir: Option<PathBuf>,
    /// Write the crate's sources and data files the interface compile did not read here:
    /// with a stub, every real source the stub replaced (Bazel's `unused_inputs_list`).
    #[arg(long)]
    pub unused_inputs_list: Option<PathBuf>,
}

/// Stub files to lay over the real sources: (path as the build system names it, text).
type Overlay = Vec<(PathBuf, Vec<u8>)>;

/// Run the verb.
pub fn run(args: &InterfaceArgs) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let deps = DepSetup::new(&args.krate)?;
    let dep_info = args.unused_inputs_list.as_ref().map(|list| cwd.join(util::sibling(list, "d")));
    let fallback = match stub_overlay(args) {
        Ok(Some(overlay)) => match compile_overlay(args, &cwd, &deps, &overlay, dep_info.as_deref()) {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        },
        Ok(None) => anyhow!("no stub"),
        Err(reason) => reason,
    };
    if args.audit {
        // Audit mode is strict: every stub must compile and pass the audit.
        return Err(fallback);
    }
    let output = compile_hollow(args, &cwd, &deps, &args.krate.crate_root, None, &args.out, &[], dep_info.as_deref())?;
    // When the real sources do not compile either, their errors are the whole story (and the
    // crate's compile reports them too): the stub's failure is not worth a word.
    rustc::check(&output, "interface compile of the real sources")?;
    if args.stub || args.stub_dir.is_some() {
        eprintln!(
            "rules_relink: warning: crate `{}`: using the real sources as interface (no early cutoff for its dependents): {}",
            args.krate.crate_name,
            first_lines(&format!("{fallback:#}"))
        );
    }
    if let (Some(list), Some(d)) = (&args.unused_inputs_list, &dep_info) {
        crate::verbs::compile::write_unused_inputs(&args.krate, list, d, &cwd, None, &BTreeSet::new())?;
    }
    Ok(())
}

/// The reason in one line: the first rustc error and where it is, or the first line.
fn first_lines(reason: &str) -> String {
    let mut lines = reason.lines();
    let Some(error_at) = reason.lines().position(|l| l.starts_with("error")) else {
        return lines.next().unwrap_or_default().to_string();
    };
    let error = reason.lines().nth(error_at).unwrap_or_default();
    let location = reason.lines().skip(error_at).find_map(|l| l.trim_start().strip_prefix("--> ")).unwrap_or("");
    format!("the stub did not compile: {error} at {location} (`relink-builder stub --explain` shows what was kept)")
}

/// The stub to compile, if any: from `--stub-dir`, or made here with `--stub`. `Ok(None)`
/// when stubbing would remove nothing.
fn stub_overlay(args: &InterfaceArgs) -> Result<Option<Overlay>> {
    if let Some(dir) = &args.stub_dir {
        if let Ok(reason) = fs_err::read_to_string(dir.join(STUB_ERROR_FILE)) {
            return Err(anyhow!("the sources could not be stubbed: {}", reason.trim()));
        }
        let files = util::files_under(dir)?;
        if files.is_empty() {
            return Err(anyhow!("the stub directory {} is empty", dir.display()));
        }
        return files
            .into_iter()
            .map(|rel| {
                Ok((
                    util::unrelative(&rel),
                    fs_err::read(dir.join(&rel)).with_context(|| format!("cannot read {}", rel.display()))?,
                ))
            })
            .collect::<Result<Overlay>>()
            .map(Some);
    }
    if !args.stub {
        return Ok(None);
    }
    let stub = stub::stub_crate(&args.krate.crate_root, args.span_policy)?;
    if stub.stubbed_bodies() == 0 {
        return Ok(None);
    }
    Ok(Some(stub.files.into_iter().map(|(path, file)| (path, file.text.into_bytes())).collect()))
}

/// Lay the stub over the real sources in a scratch tree and compile it into `--out`.
fn compile_overlay(
    args: &InterfaceArgs,
    cwd: &Path,
    deps: &DepSetup,
    overlay: &Overlay,
    dep_info: Option<&Path>,
) -> Result<()> {
    let scratch = util::sibling(&args.out, "stub");
    util::fresh_dir(&scratch)?;
    // Every source and data file is visible next to the stub (include_bytes!, unreached
    // modules); stub files replace their links below.
    for src in args.krate.srcs.iter().chain(&args.krate.data) {
        let dest = scratch.join(util::relative(src));
        if fs_err::symlink_metadata(&dest).is_err() {
            util::link_file(src, &dest)?;
        }
    }
    for (path, text) in overlay {
        util::write_file(&scratch.join(util::relative(path)), text)?;
    }
    let root = scratch.join(util::relative(&args.krate.crate_root));
    let output = compile_hollow(args, cwd, deps, &root, Some(&scratch), &args.out, &[], dep_info)?;
    if !output.status.success() {
        anyhow::bail!("the stub did not compile:\n{}", String::from_utf8_lossy(&output.stderr).trim_end());
    }
    if args.audit {
        audit_instances(args, cwd, deps, &root, &scratch)?;
    }
    if let (Some(list), Some(d)) = (&args.unused_inputs_list, dep_info) {
        // The real versions of stubbed files were not read: the stub stood in for them.
        let replaced: BTreeSet<String> = overlay.iter().map(|(p, _)| p.display().to_string()).collect();
        crate::verbs::compile::write_unused_inputs(&args.krate, list, d, cwd, Some(&scratch), &replaced)?;
    }
    fs_err::remove_dir_all(&scratch).with_context(|| format!("cannot remove {}", scratch.display()))?;
    Ok(())
}

/// Mono items (generic instances) a compile of `root` collects, local stub helpers excluded.
fn mono_items(
    args: &InterfaceArgs,
    cwd: &Path,
    deps: &DepSetup,
    root: &Path,
    stub_dir: Option<&Path>,
) -> Result<std::collections::BTreeSet<String>> {
    let scratch_out = util::sibling(&args.out, "audit");
    let output =
        compile_hollow(args, cwd, deps, root, stub_dir, &scratch_out, &["-Zprint-mono-items=yes".to_string()], None)?;
    let _ = fs_err::remove_file(&scratch_out);
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
    eprintln!(
        "rules_relink: audit: `{}`: {} stub instances, all among the {} of the real crate",
        args.krate.crate_name,
        stub.len(),
        real.len()
    );
    Ok(())
}

/// `rustc -Zno-codegen` of `root` into `out`.
#[allow(clippy::too_many_arguments)]
fn compile_hollow(
    args: &InterfaceArgs,
    cwd: &Path,
    deps: &DepSetup,
    root: &Path,
    stub_dir: Option<&Path>,
    out: &Path,
    extra_flags: &[String],
    dep_info: Option<&Path>,
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
        match dep_info {
            Some(d) => format!("--emit=link={},dep-info={}", cwd.join(out).display(), d.display()),
            None => format!("--emit=link={}", cwd.join(out).display()),
        },
        crate::verbs::compile::temps_dir(&cwd.join(out)),
        cwd.join(root).display().to_string(),
    ]);
    // The stub's own state (a stub and the real sources differ): never the real compile's.
    if let (Some(dir), true) = (&args.incremental_dir, stub_dir.is_some()) {
        flags.push(format!(
            "-Cincremental={}",
            dir.join(crate::verbs::compile::incremental_key(&args.krate, "interface")).display()
        ));
    }
    flags.extend(extra_flags.iter().cloned());
    let env = args.krate.environment(cwd)?;
    let timeout = Some(Duration::from_secs(args.timeout_secs));
    rustc::run(&args.krate.rustc_path(cwd), &flags, &env, timeout, &args.krate.compile_dir(cwd)?)
}

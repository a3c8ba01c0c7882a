//! `relink-builder stub`: write a crate's interface stub to a directory.
//!
//! The `RustStub` action: sources in, stub text out, no rustc. The directory holds the stub of
//! every module file reached from the crate root, at the file's path; `RustInterface` compiles
//! it over the real sources. Because the interface is a pure function of the stub text (plus
//! dependencies, flags and toolchain), a private edit that leaves the stub byte-identical makes
//! `RustInterface` a cache hit: cutoff without running rustc.
//!
//! What was kept and why goes to a separate record (`--record`), so that a change in the
//! record alone (a kept body's line under the compact policy) never invalidates the interface.
//! When the sources cannot be stubbed (a syntax error, a missing module file), the directory
//! stays empty and the record says why: the interface then compiles the real sources.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::util;
use relink_stub::{self as stub, SpanPolicy};

/// Arguments of `relink-builder stub`.
#[derive(clap::Args, Debug)]
pub struct StubArgs {
    /// Crate root source file.
    #[arg(long)]
    pub crate_root: PathBuf,
    /// Directory that receives the stub files (mirroring their relative paths).
    #[arg(long, required_unless_present = "macros_only")]
    pub out_dir: Option<PathBuf>,
    /// `anchored` or `compact`.
    #[arg(long, default_value = "anchored")]
    pub span_policy: SpanPolicy,
    /// Print which bodies were kept and why.
    #[arg(long)]
    pub explain: bool,
    /// Write what was kept and why as JSON here (the action's record).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Every source file of the crate; those the module walk never reads are written to
    /// `--unused-inputs-list`.
    #[arg(long = "src")]
    pub srcs: Vec<PathBuf>,
    /// Bazel's `unused_inputs_list`: sources the stubber did not read.
    #[arg(long)]
    pub unused_inputs_list: Option<PathBuf>,
    /// Macro summaries of the direct dependencies (what their exported macros expand to).
    #[arg(long = "dep-macros")]
    pub dep_macros: Vec<PathBuf>,
    /// Write this crate's macro summary here, for its dependents' stubs.
    #[arg(long)]
    pub macros_out: Option<PathBuf>,
    /// Only write the macro summary (crates whose interface is not stubbed).
    #[arg(long, requires = "macros_out")]
    pub macros_only: bool,
}

/// Run the verb.
pub fn run(args: &StubArgs) -> Result<()> {
    let ext = stub::macros::External::load(&args.dep_macros)?;
    if args.macros_only {
        return write_macro_summary(args, &ext);
    }
    let out_dir = args.out_dir.as_ref().context("--out-dir is required")?;
    util::fresh_dir(out_dir)?;
    let stub = match stub::stub_crate_with(&args.crate_root, args.span_policy, &ext) {
        Ok(stub) => stub,
        Err(reason) if args.record.is_some() => {
            // Not this action's failure: the interface falls back to the real sources (the
            // reason file tells it why) and the crate's own compile reports any error in them.
            let reason = format!("{reason:#}");
            util::write_file(&out_dir.join(crate::verbs::interface::STUB_ERROR_FILE), reason.as_bytes())?;
            if let Some(path) = &args.macros_out {
                // Nothing is known of its macros: dependents keep bodies that call them.
                util::write_file(path, b"{}")?;
            }
            return write_outputs(args, &serde_json::json!({ "error": reason }), None);
        }
        Err(reason) => return Err(reason),
    };
    for (path, file) in &stub.files {
        util::write_file(&out_dir.join(util::relative(path)), file.text.as_bytes())?;
    }
    if args.explain {
        print!("{}", stub::explain(&stub));
    }
    if args.record.is_none() {
        println!("{} files, {} bodies replaced, {} kept", stub.files.len(), stub.stubbed_bodies(), stub.kept_bodies());
    }
    if let Some(path) = &args.macros_out {
        util::write_file(path, &serde_json::to_vec_pretty(&stub.macros)?)?;
    }
    write_outputs(args, &record(&stub), Some(&stub))
}

/// The macro summary alone. Crates none of whose sources mention `macro_export` export no
/// `macro_rules!`: their summary is empty without parsing anything.
fn write_macro_summary(args: &StubArgs, ext: &stub::macros::External) -> Result<()> {
    let out = args.macros_out.as_ref().expect("clap requires --macros-out");
    let exports =
        args.srcs.iter().any(|src| fs_err::read(src).is_ok_and(|text| text.windows(12).any(|w| w == b"macro_export")));
    let summary = if exports {
        // A crate that cannot be parsed here exports nothing we can vouch for.
        stub::macro_summary(&args.crate_root, ext).unwrap_or_default()
    } else {
        Default::default()
    };
    util::write_file(out, &serde_json::to_vec_pretty(&summary)?)
}

/// The record and the unused-inputs list, when the action asked for them.
fn write_outputs(args: &StubArgs, record: &serde_json::Value, stub: Option<&stub::CrateStub>) -> Result<()> {
    if let Some(path) = &args.record {
        fs_err::write(path, serde_json::to_vec_pretty(record)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(list) = &args.unused_inputs_list {
        // Without a stub, every source is what the interface compiles: nothing is unused.
        let read: std::collections::BTreeSet<String> = match stub {
            Some(stub) => stub.files.keys().map(|p| p.display().to_string()).collect(),
            None => args.srcs.iter().map(|p| p.display().to_string()).collect(),
        };
        crate::unused::write_list(list, &args.srcs, &read)?;
    }
    Ok(())
}

/// What was kept and why, per file (for `relink explain`).
fn record(stub: &stub::CrateStub) -> serde_json::Value {
    let files: serde_json::Map<String, serde_json::Value> = stub
        .files
        .iter()
        .map(|(path, f)| {
            let kept: Vec<serde_json::Value> = f
                .kept
                .iter()
                .map(|(line, reason)| serde_json::json!({ "line": line, "reason": reason.label() }))
                .collect();
            let value = serde_json::json!({
                "replaced": f.stubbed,
                "removed_private_fns": f.removed,
                "kept": kept,
                "exact_lines": f.exact_lines,
                "kept_for_anchor": f.kept_for_anchor,
            });
            (path.display().to_string(), value)
        })
        .collect();
    serde_json::json!({ "files": files })
}

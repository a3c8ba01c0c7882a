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

use crate::stub::{self, SpanPolicy};
use crate::util;

/// Arguments of `relink-builder stub`.
#[derive(clap::Args, Debug)]
pub struct StubArgs {
    /// Crate root source file.
    #[arg(long)]
    pub crate_root: PathBuf,
    /// Directory that receives the stub files (mirroring their relative paths).
    #[arg(long)]
    pub out_dir: PathBuf,
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
}

/// Run the verb.
pub fn run(args: &StubArgs) -> Result<()> {
    util::fresh_dir(&args.out_dir)?;
    let stub = match stub::stub_crate(&args.crate_root, args.span_policy) {
        Ok(stub) => stub,
        Err(reason) if args.record.is_some() => {
            // Not this action's failure: the interface falls back to the real sources (the
            // reason file tells it why) and the crate's own compile reports any error in them.
            let reason = format!("{reason:#}");
            util::write_file(&args.out_dir.join(crate::verbs::interface::STUB_ERROR_FILE), reason.as_bytes())?;
            return write_outputs(args, &serde_json::json!({ "error": reason }), None);
        }
        Err(reason) => return Err(reason),
    };
    for (path, file) in &stub.files {
        util::write_file(&args.out_dir.join(util::relative(path)), file.text.as_bytes())?;
    }
    if args.explain {
        print!("{}", stub::explain(&stub));
    }
    if args.record.is_none() {
        println!("{} files, {} bodies replaced, {} kept", stub.files.len(), stub.stubbed_bodies(), stub.kept_bodies());
    }
    write_outputs(args, &record(&stub), Some(&stub))
}

/// The record and the unused-inputs list, when the action asked for them.
fn write_outputs(args: &StubArgs, record: &serde_json::Value, stub: Option<&stub::CrateStub>) -> Result<()> {
    if let Some(path) = &args.record {
        std::fs::write(path, serde_json::to_vec_pretty(record)?).with_context(|| format!("cannot write {}", path.display()))?;
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
            let kept: Vec<serde_json::Value> =
                f.kept.iter().map(|(line, reason)| serde_json::json!({ "line": line, "reason": reason.label() })).collect();
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

//! Running an analysed graph: the executor's options for a build, which outputs a build
//! requests, and linking them into `relink-bin/`. Shared by every command that builds.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use relink_exec::cache::OutputFile;
use relink_exec::{ExecOptions, Outcome};

use crate::plan::{Session, TargetSummary};
use crate::BuildOpts;

/// How long a build action may run (an hour: a hung build script or compiler is stopped and
/// named, never waited for forever).
pub const ACTION_TIMEOUT_S: u64 = 3600;

/// Parallel actions: `-j`, else the number of cores.
pub fn jobs(opts: &BuildOpts) -> usize {
    opts.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
}

/// The default outputs (and executables; runfiles of tests, or of all with `with_runfiles`)
/// of `targets`.
pub fn requested_paths(targets: &[TargetSummary], with_runfiles: bool) -> Vec<String> {
    let mut paths = Vec::new();
    for t in targets {
        paths.extend(t.default_files.iter().cloned());
        paths.extend(t.executable.iter().cloned());
        if with_runfiles || t.is_test {
            paths.extend(t.runfiles.iter().cloned());
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The executor's options for a build with `opts`.
pub fn exec_options<'a>(session: &'a Session, opts: &BuildOpts, keep_going: bool) -> ExecOptions<'a> {
    ExecOptions {
        jobs: jobs(opts),
        cache: &session.cache,
        workspace: &session.loader.workspace,
        sandbox_root: session.cache.root.join("sandbox"),
        progress: true,
        color: opts.color.wanted(),
        writable: session.config.defines.get("relink_incremental_dir").map(PathBuf::from).into_iter().collect(),
        default_timeout: std::time::Duration::from_secs(ACTION_TIMEOUT_S),
        sources: &session.sources,
        keep_going,
        remote: session.remote.as_ref(),
    }
}

/// Copy (hard link) requested outputs into `relink-bin/`.
pub fn materialize_outputs(session: &Session, paths: &[String], outcomes: &HashMap<usize, Outcome>) -> Result<()> {
    let bin_prefix = format!("{}/", session.config.bin_dir());
    let all: HashMap<&str, &OutputFile> = outcomes
        .values()
        .filter_map(|o| o.result.as_ref())
        .flat_map(|r| r.files.iter().map(|f| (f.path.as_str(), f)))
        .collect();
    let out_root = session.loader.workspace.root.join("relink-bin");
    for path in paths {
        let prefix = format!("{path}/");
        for (p, f) in all.iter().filter(|(p, _)| *p == path || p.starts_with(&prefix)) {
            if let Some(rel) = p.strip_prefix(&bin_prefix) {
                relink_exec::ensure_local(&session.cache, session.remote.as_ref(), f)?;
                session.cache.materialize(f, &out_root.join(rel))?;
            }
        }
    }
    Ok(())
}

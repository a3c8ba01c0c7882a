//! The execution phase: run the needed actions in parallel, each in a fresh sandbox, with
//! results keyed by a blake3 digest of everything that can influence them.

#![warn(clippy::too_many_lines)]

pub mod cache;
mod confine;
pub mod diagnostics;
pub mod digests;
pub mod gc;
pub mod interrupt;
mod key;
pub mod provenance;
pub mod remote;
mod sandbox;
mod scheduler;
pub mod status;
mod syscalls;
pub mod vet;

use sandbox::run_in_sandbox;
pub use sandbox::ActionFailed;

use fs_err as fs;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use cache::{ActionResult, Cache, OutputFile};
use digests::SourceDigests;
use key::*;
use relink_core::action::{Action, ActionGraph, ActionKind};
use relink_core::workspace::Workspace;
pub use scheduler::execute;
use scheduler::LocalSlots;

/// How to execute.
pub struct ExecOptions<'a> {
    pub jobs: usize,
    pub cache: &'a Cache,
    pub workspace: &'a Workspace,
    /// Directory under which sandboxes are made.
    pub sandbox_root: PathBuf,
    /// Print progress lines.
    pub progress: bool,
    /// Ask for rustc's colours in diagnostics.
    pub color: bool,
    /// Directories outside their sandbox that actions may write (rustc's local incremental
    /// state).
    pub writable: Vec<PathBuf>,
    /// How long an action may run unless its `timeout` execution requirement says otherwise.
    pub default_timeout: std::time::Duration,
    /// Digests of source files (remembered across builds).
    pub sources: &'a SourceDigests,
    /// After a failure, go on with every action that does not depend on it (Bazel's
    /// `--keep_going`); otherwise stop at the first failure.
    pub keep_going: bool,
    /// The remote cache (`--remote_cache`), when one answered.
    pub remote: Option<&'a remote::RemoteCache>,
}

/// What an execution achieved.
pub struct Executed {
    /// Outcomes of the actions that succeeded (ran or hit the cache).
    pub outcomes: HashMap<usize, Outcome>,
    /// Actions that failed, in the order they failed, with the error.
    pub failed: Vec<(usize, anyhow::Error)>,
    /// Actions not run because something they depend on failed.
    pub skipped: usize,
}

/// Whether an action's result came from the cache. Serialized as `"hit"` / `"miss"` /
/// `"failed"` (the execution log's stable format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStatus {
    /// The result was in the action cache: nothing ran.
    Hit,
    /// The action ran.
    Miss,
    /// The action ran and failed (explain records; the log writes failures itself).
    Failed,
}

/// What happened to one action.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub mnemonic: String,
    pub target: String,
    pub cache: CacheStatus,
    /// A hit of the remote cache (its outputs were downloaded).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remote: bool,
    /// When the action started, in milliseconds since the execution began.
    pub start_ms: u64,
    pub duration_ms: u64,
    pub outputs: Vec<String>,
    /// Digest of every output file (the files of declared directories one by one).
    pub output_digests: BTreeMap<String, String>,
    /// Action key.
    #[serde(skip)]
    pub key: String,
    /// Input path -> digest.
    #[serde(skip)]
    pub inputs: BTreeMap<String, String>,
    #[serde(skip)]
    pub result: Option<ActionResult>,
}

/// Actions needed to produce `paths`, with their dependency edges.
pub fn needed_actions(graph: &ActionGraph, paths: &[String]) -> Vec<usize> {
    let mut seen = HashSet::new();
    let mut stack: Vec<usize> = paths.iter().filter_map(|p| graph.producer_of(p)).collect();
    while let Some(i) = stack.pop() {
        if seen.insert(i) {
            stack.extend(graph.actions[i].inputs.iter().filter_map(|p| graph.producer_of(p)));
        }
    }
    let mut out: Vec<usize> = seen.into_iter().collect();
    out.sort_unstable();
    out
}

/// Output files of each derived input: one file, or the files of a declared directory.
type DerivedFiles = HashMap<String, Vec<OutputFile>>;

fn run_one(
    graph: &ActionGraph,
    index: usize,
    inputs: BTreeMap<String, String>,
    derived: &DerivedFiles,
    opts: &ExecOptions,
    epoch: Instant,
    slots: &LocalSlots,
) -> Result<Outcome> {
    let action = &graph.actions[index];
    // Actions that report unused inputs are looked up under the key of their last pruning.
    let pruning = action.unused_inputs_list.as_ref().map(|_| pruning_key(action, &inputs));
    let remote =
        opts.remote.filter(|r| matches!(action.kind, ActionKind::Run { .. }) && r.usable_for(&action.requirements));
    let last_unused = pruning
        .as_ref()
        .and_then(|k| opts.cache.pruned_inputs(k).or_else(|| remote.and_then(|r| r.lookup_pruned(k, opts.cache))))
        .filter(|u| u.iter().all(|p| inputs.contains_key(p)));
    let mut key = lookup_key(action, &inputs, last_unused.as_ref());
    let start = Instant::now();
    let mut from_remote = false;
    let look =
        Lookup { action, inputs: &inputs, pruning: pruning.as_deref(), last_unused: last_unused.as_ref(), remote };
    let (result, cache) = match opts.cache.lookup(&key) {
        Some(result) => (result, CacheStatus::Hit),
        None => match remote
            .and_then(|r| r.lookup(&action_meta(action, &key, &inputs), opts.cache))
            .or_else(|| stateless_twin_hit(action, &inputs, opts))
        {
            Some(result) => {
                record_remote_hit(&look, &result, &key, opts)?;
                from_remote = true;
                (result, CacheStatus::Hit)
            }
            None => {
                let (result, run_key) = run_and_record(graph, &look, &key, derived, opts, slots)?;
                key = run_key;
                (result, CacheStatus::Miss)
            }
        },
    };
    Ok(Outcome {
        mnemonic: action.mnemonic.clone(),
        target: action.owner.clone(),
        cache,
        remote: from_remote,
        start_ms: start.duration_since(epoch).as_millis() as u64,
        duration_ms: start.elapsed().as_millis() as u64,
        outputs: action.outputs.iter().map(|o| o.path.clone()).collect(),
        output_digests: result.files.iter().map(|f| (f.path.clone(), f.digest.clone())).collect(),
        key,
        inputs,
        result: Some(result),
    })
}

/// What `run_one` found out about an action before running it.
struct Lookup<'a> {
    action: &'a Action,
    inputs: &'a BTreeMap<String, String>,
    /// The key of its unused-input record, when it reports unused inputs.
    pruning: Option<&'a str>,
    /// The inputs it reported unused last time.
    last_unused: Option<&'a BTreeSet<String>>,
    remote: Option<&'a remote::RemoteCache>,
}

/// A remote hit: recorded locally, with the unused inputs it reports, as if run here (once its
/// blobs are all here: local lookups trust only complete results).
fn record_remote_hit(look: &Lookup, result: &ActionResult, key: &str, opts: &ExecOptions) -> Result<()> {
    let (action, inputs) = (look.action, look.inputs);
    let complete = result.files.iter().all(|f| opts.cache.blob_ok(&f.digest, f.executable));
    if let (Some(list), Some(pruning)) = (&action.unused_inputs_list, look.pruning) {
        if let Some(f) = result.files.iter().find(|f| &f.path == list) {
            ensure_local(opts.cache, opts.remote, f)?;
        }
        let unused = reported_unused(action, list, result, opts.cache, inputs)?;
        if complete {
            opts.cache.record(&pruned_action_key(action, inputs, &unused), result)?;
        }
        opts.cache.record_pruned_inputs(pruning, &unused)?;
    }
    if complete {
        opts.cache.record(key, result)?;
    }
    Ok(())
}

/// Run the action (remotely when the server executes, else here in a local slot), record its
/// result under its key (pruned by the inputs it reports unused) and upload it. Returns the
/// result and the key it was recorded under.
fn run_and_record(
    graph: &ActionGraph,
    look: &Lookup,
    looked_up: &str,
    derived: &DerivedFiles,
    opts: &ExecOptions,
    slots: &LocalSlots,
) -> Result<(ActionResult, String)> {
    let (action, inputs, remote) = (look.action, look.inputs, look.remote);
    let executor = remote.filter(|r| {
        r.executes() && matches!(action.kind, ActionKind::Run { .. }) && !action.requirements.contains_key("no-sandbox")
    });
    let ran_remotely = match executor {
        Some(r) => run_remotely(r, action, inputs, derived, opts)?,
        None => None,
    };
    let (result, executed_by) = match ran_remotely {
        Some((result, worker)) => (result, Some(worker)),
        None => {
            let _slot = slots.acquire();
            if interrupt::interrupted() {
                bail!("{} of {}: interrupted", action.mnemonic, action.owner);
            }
            (run_locally(graph, action, derived, opts)?, None)
        }
    };
    let mut key = looked_up.to_string();
    let mut now_unused = None;
    if let (Some(list), Some(pruning)) = (&action.unused_inputs_list, look.pruning) {
        let unused = reported_unused(action, list, &result, opts.cache, inputs)?;
        key = pruned_action_key(action, inputs, &unused);
        opts.cache.record_pruned_inputs(pruning, &unused)?;
        if let Some(r) = remote.filter(|r| r.uploads()) {
            r.upload_pruned(pruning, &unused, opts.cache);
        }
        now_unused = Some(unused);
    }
    opts.cache.record(&key, &result)?;
    if let Some(r) = remote.filter(|r| r.uploads()) {
        let meta = provenance::ActionMeta { executed_by: executed_by.as_deref(), ..action_meta(action, &key, inputs) };
        r.upload(&meta, &result, opts.cache);
        // Also under the key it was looked up by (another checkout, without this one's record
        // of unused inputs, asks by that), but only if every input whose content that key
        // leaves out was indeed unused: otherwise that key would answer for contents this run
        // never saw.
        let sound = match (look.last_unused, &now_unused) {
            (None, _) => true,
            (Some(before), Some(now)) => before.is_subset(now),
            (Some(_), None) => false,
        };
        if key != looked_up && sound {
            let meta = provenance::ActionMeta { key: looked_up, ..meta };
            r.upload(&meta, &result, opts.cache);
        }
    }
    Ok((result, key))
}

/// A compile that keeps rustc's incremental state is local-only; on a local miss the remote
/// result of its stateless twin (the same compile without the state, as a
/// `--rustc-incremental=false` build or a CI machine runs it) serves as well: a build of the
/// same inputs with the same flags. The next compile that needs the state makes it.
fn stateless_twin_hit(action: &Action, inputs: &BTreeMap<String, String>, opts: &ExecOptions) -> Option<ActionResult> {
    let remote = opts.remote.filter(|r| r.usable_for(&BTreeMap::new()))?;
    let ActionKind::Run { argv, env } = &action.kind else { return None };
    let at = argv.iter().position(|a| a == STATE_FLAG)?;
    let mut twin = action.clone();
    let mut stateless = argv.clone();
    stateless.drain(at..(at + 2).min(argv.len()));
    twin.kind = ActionKind::Run { argv: stateless, env: env.clone() };
    let hint = twin
        .unused_inputs_list
        .as_ref()
        .and_then(|_| remote.lookup_pruned(&pruning_key(&twin, inputs), opts.cache))
        .filter(|u| u.iter().all(|p| inputs.contains_key(p)));
    let key = lookup_key(&twin, inputs, hint.as_ref());
    remote.lookup(&action_meta(&twin, &key, inputs), opts.cache)
}

/// What signed provenance says about `action` under `key`.
fn action_meta<'a>(
    action: &'a Action,
    key: &'a str,
    inputs: &'a BTreeMap<String, String>,
) -> provenance::ActionMeta<'a> {
    let argv = match &action.kind {
        ActionKind::Run { argv, .. } => argv.as_slice(),
        _ => &[],
    };
    provenance::ActionMeta { key, mnemonic: &action.mnemonic, target: &action.owner, argv, inputs, executed_by: None }
}

/// Make the blob of `file` present in the local store: it is, or a remote result named it and
/// it is downloaded now (`--remote_download_outputs=toplevel`).
pub fn ensure_local(cache: &Cache, remote: Option<&remote::RemoteCache>, file: &OutputFile) -> Result<()> {
    if cache.blob_ok(&file.digest, file.executable) {
        return Ok(());
    }
    match remote {
        Some(r) => r.fetch(file, cache).with_context(|| {
            format!(
                "cannot download {} from the remote cache (build again, or with --remote_download_outputs=all)",
                file.path
            )
        }),
        None => bail!("the local cache lost {} (digest {}); build again", file.path, file.digest),
    }
}

/// Run `action` on the remote executor's workers: `Some((result, where it ran))`, or `None`
/// when the remote could not run it (said once; the action then runs here). The action's own failure is an
/// error, with its diagnostics shown as for a local run.
fn run_remotely(
    remote: &remote::RemoteCache,
    action: &Action,
    digests: &BTreeMap<String, String>,
    derived: &DerivedFiles,
    opts: &ExecOptions,
) -> Result<Option<(ActionResult, String)>> {
    let ActionKind::Run { argv, env } = &action.kind else { return Ok(None) };
    let inputs = match remote_inputs(action, digests, derived, opts) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("relink: {} of {} runs here: {e:#}", action.mnemonic, action.owner);
            return Ok(None);
        }
    };
    let outputs: Vec<String> = action.outputs.iter().map(|o| o.path.clone()).collect();
    let timeout = sandbox::action_timeout(action, opts);
    let run = match remote.execute(argv, env, inputs, &outputs, timeout, opts.cache) {
        Ok(run) => run,
        Err(e) => {
            remote.give_up(&e.context(format!("{} of {}", action.mnemonic, action.owner)));
            return Ok(None);
        }
    };
    diagnostics::show(&run.stderr, &format!("{} {}", action.mnemonic, action.owner))?;
    if run.exit_code != 0 {
        bail!(
            "{} of {} failed on the remote worker {} (exit code {})",
            action.mnemonic,
            action.owner,
            run.worker,
            run.exit_code
        );
    }
    let worker = if run.worker.is_empty() { "an unnamed worker" } else { run.worker.as_str() };
    Ok(Some((run.result, format!("{} worker {worker}", remote.url()))))
}

/// The input files of `action` for a remote input tree: derived ones from the local store,
/// sources from the workspace (with the digests the action key used).
fn remote_inputs(
    action: &Action,
    digests: &BTreeMap<String, String>,
    derived: &DerivedFiles,
    opts: &ExecOptions,
) -> Result<Vec<remote::RemoteInput>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for path in &action.inputs {
        match derived.get(path) {
            Some(files) => {
                for f in files {
                    ensure_local(opts.cache, opts.remote, f)?;
                    let disk = opts.cache.blob_path(&f.digest, f.executable);
                    let size = fs::metadata(&disk)?.len();
                    out.push(remote::RemoteInput {
                        path: f.path.clone(),
                        digest: f.digest.clone(),
                        size,
                        executable: f.executable,
                        disk,
                    });
                }
            }
            None => {
                let disk = opts.workspace.exec_path_on_disk(path)?;
                let meta = fs::metadata(&disk).with_context(|| format!("missing input {path}"))?;
                if meta.is_dir() {
                    bail!("its input {path} is a source directory, which relink does not send to remote workers");
                }
                let digest = digests.get(path).cloned().ok_or_else(|| anyhow!("no digest of {path}"))?;
                let executable = meta.permissions().mode() & 0o111 != 0;
                out.push(remote::RemoteInput { path: path.clone(), digest, size: meta.len(), executable, disk });
            }
        }
    }
    Ok(out)
}

/// Run `action` here: write or copy a file, or run its command in a sandbox.
fn run_locally(
    graph: &ActionGraph,
    action: &Action,
    derived: &DerivedFiles,
    opts: &ExecOptions,
) -> Result<ActionResult> {
    Ok(match &action.kind {
        ActionKind::Write { content, executable } => {
            single_output(action, content.as_bytes(), *executable, opts.cache)?
        }
        ActionKind::Copy { executable } => {
            // The input is a stored blob (derived) or a file on disk (source): no sandbox.
            let from = &action.inputs[0];
            let data = match derived.get(from).map(Vec::as_slice) {
                Some([file]) => {
                    ensure_local(opts.cache, opts.remote, file)?;
                    fs::read(opts.cache.blob_path(&file.digest, file.executable))?
                }
                Some(_) => bail!("{} of {}: cannot copy the directory {from}", action.mnemonic, action.owner),
                None => {
                    fs::read(opts.workspace.exec_path_on_disk(from)?).with_context(|| format!("cannot read {from}"))?
                }
            };
            single_output(action, &data, *executable, opts.cache)?
        }
        ActionKind::Run { argv, env } => run_in_sandbox(graph, action, argv, env, derived, opts)?,
    })
}

/// Store `data` as the one output of `action`.
fn single_output(action: &Action, data: &[u8], executable: bool, cache: &Cache) -> Result<ActionResult> {
    let digest = cache.store_bytes(data, executable)?;
    Ok(ActionResult {
        files: vec![OutputFile { path: action.outputs[0].path.clone(), digest, executable }],
        dirs: vec![],
    })
}

/// For each derived input path of action `index`, the output files it stands for: the file
/// itself, or the files of a declared directory.
fn derived_files(graph: &ActionGraph, index: usize, outcomes: &HashMap<usize, Outcome>) -> Result<DerivedFiles> {
    let mut map = HashMap::new();
    for path in &graph.actions[index].inputs {
        let Some(p) = graph.producer_of(path) else { continue };
        let result =
            outcomes.get(&p).and_then(|o| o.result.as_ref()).ok_or_else(|| anyhow!("internal: {path} not built"))?;
        let files: Vec<OutputFile> = match result.files.iter().find(|f| &f.path == path) {
            Some(f) => vec![f.clone()],
            None => {
                let prefix = format!("{path}/");
                let files: Vec<OutputFile> =
                    result.files.iter().filter(|f| f.path.starts_with(&prefix)).cloned().collect();
                if files.is_empty() && !result.dirs.iter().any(|d| d == path) {
                    bail!("internal: {path} is not an output of its producer");
                }
                files
            }
        };
        map.insert(path.clone(), files);
    }
    Ok(map)
}

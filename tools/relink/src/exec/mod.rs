//! The execution phase: run the needed actions in parallel, each in a fresh sandbox, with
//! results keyed by a blake3 digest of everything that can influence them.

pub mod cache;
mod confine;
pub mod diagnostics;
pub mod digests;
pub mod interrupt;
pub mod provenance;
pub mod remote;
mod sandbox;
pub mod status;
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

use crate::action::{Action, ActionGraph, ActionKind};
use crate::digest::digest_bytes;
use crate::workspace::Workspace;
use cache::{ActionResult, Cache, OutputFile};
use digests::SourceDigests;

/// Version salt of action keys: bump when the key recipe changes.
const KEY_VERSION: &str = "relink-action-key-v1";

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

struct State {
    outcomes: HashMap<usize, Outcome>,
    /// Actions whose inputs are all built, the longest chain of dependents first.
    ready: BinaryHeap<(usize, Reverse<usize>)>,
    /// Per action: how many actions the longest chain from it to a requested output holds.
    heights: HashMap<usize, usize>,
    waiting_on: HashMap<usize, usize>,
    running: usize,
    failed: Vec<(usize, anyhow::Error)>,
    /// Set when execution must stop (a failure without keep-going).
    stop: bool,
    done: usize,
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

/// Run `needed` actions (and only those). Without keep-going no action starts after the first
/// failure; either way every failure, and every action that finished, is reported.
pub fn execute(graph: &ActionGraph, needed: &[usize], opts: &ExecOptions) -> Result<Executed> {
    interrupt::install();
    let needed_set: HashSet<usize> = needed.iter().copied().collect();
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut waiting_on = HashMap::new();
    let mut roots = Vec::new();
    for &i in needed {
        let deps: HashSet<usize> = graph.actions[i]
            .inputs
            .iter()
            .filter_map(|p| graph.producer_of(p))
            .filter(|d| needed_set.contains(d))
            .collect();
        for &d in &deps {
            dependents.entry(d).or_default().push(i);
        }
        if deps.is_empty() {
            roots.push(i);
        } else {
            waiting_on.insert(i, deps.len());
        }
    }
    let total = needed.len();
    let heights = chain_heights(needed, &dependents);
    let ready = roots.into_iter().map(|i| (heights[&i], Reverse(i))).collect();
    let state = Mutex::new(State {
        outcomes: HashMap::new(),
        ready,
        heights,
        waiting_on,
        running: 0,
        failed: Vec::new(),
        stop: false,
        done: 0,
    });
    let wake = Condvar::new();
    let epoch = Instant::now();
    let status = status::Status::new(total, opts.progress);
    let jobs = opts.jobs.max(1);
    // With a remote cache most actions wait on the network, not on a core: more of them are
    // looked up at once, while no more than `jobs` run here.
    let workers_n = if opts.remote.is_some() { jobs * REMOTE_LOOKUPS_PER_JOB } else { jobs };
    let slots = LocalSlots { free: Mutex::new(jobs), freed: Condvar::new() };
    let (finished, ticks) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..workers_n)
            .map(|_| scope.spawn(|| worker(graph, &state, &wake, &dependents, opts, &status, epoch, &slots)))
            .collect();
        if status.is_live() {
            // Elapsed times of running actions on the live line, until the workers are done.
            let status = &status;
            scope.spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = ticks.recv_timeout(std::time::Duration::from_millis(100)) {
                    status.refresh();
                }
            });
        }
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        drop(finished);
    });
    status.finish();
    let state = state.into_inner().unwrap();
    let skipped = needed.len() - state.outcomes.len() - state.failed.len();
    Ok(Executed { outcomes: state.outcomes, failed: state.failed, skipped })
}

/// For each action, the number of actions on the longest chain from it through its dependents
/// (1 for an action nothing needed depends on). Running the highest first keeps the critical
/// path busy: an interface that dependents wait for goes before the real compile of the same
/// crate, which only a link needs.
fn chain_heights(needed: &[usize], dependents: &HashMap<usize, Vec<usize>>) -> HashMap<usize, usize> {
    let mut heights: HashMap<usize, usize> = HashMap::new();
    // Post-order over the dependents graph (a DAG), without recursion.
    for &start in needed {
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if heights.contains_key(&i) {
                continue;
            }
            let next = dependents.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            if expanded {
                let height = 1 + next.iter().map(|d| heights[d]).max().unwrap_or(0);
                heights.insert(i, height);
            } else {
                stack.push((i, true));
                stack.extend(next.iter().filter(|d| !heights.contains_key(*d)).map(|&d| (d, false)));
            }
        }
    }
    heights
}

/// Remote lookups in flight per local job slot (`-j`).
const REMOTE_LOOKUPS_PER_JOB: usize = 4;

/// How many actions may run on this machine at once (`-j`), whatever the number of workers.
struct LocalSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A held local slot, given back on drop.
struct LocalSlot<'a>(&'a LocalSlots);

impl LocalSlots {
    fn acquire(&self) -> LocalSlot<'_> {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            free = self.freed.wait(free).unwrap();
        }
        *free -= 1;
        LocalSlot(self)
    }
}

impl Drop for LocalSlot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap() += 1;
        self.0.freed.notify_one();
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    graph: &ActionGraph,
    state: &Mutex<State>,
    wake: &Condvar,
    dependents: &HashMap<usize, Vec<usize>>,
    opts: &ExecOptions,
    status: &status::Status,
    epoch: Instant,
    slots: &LocalSlots,
) {
    loop {
        let (index, derived) = {
            let mut s = state.lock().unwrap();
            loop {
                if s.stop || interrupt::interrupted() || (s.ready.is_empty() && s.running == 0) {
                    wake.notify_all();
                    return;
                }
                if let Some((_, Reverse(i))) = s.ready.pop() {
                    s.running += 1;
                    break (i, derived_files(graph, i, &s.outcomes));
                }
                s = wake.wait(s).unwrap();
            }
        };
        let action = &graph.actions[index];
        status.started(index, &action.mnemonic, &action.owner);
        // Hashing and running happen outside the lock.
        let result = derived.and_then(|derived| {
            let inputs = input_digests(graph, index, &derived, opts.sources, opts.workspace)?;
            run_one(graph, index, inputs, &derived, opts, epoch, slots)
        });
        let mut s = state.lock().unwrap();
        s.running -= 1;
        match result {
            Ok(outcome) => {
                s.done += 1;
                status.finished(
                    index,
                    s.done,
                    opts.progress && outcome.cache == CacheStatus::Miss,
                    &outcome.mnemonic,
                    &outcome.target,
                );
                s.outcomes.insert(index, outcome);
                for &d in dependents.get(&index).map(Vec::as_slice).unwrap_or(&[]) {
                    let left = s.waiting_on.get_mut(&d).expect("dependent counted");
                    *left -= 1;
                    if *left == 0 {
                        let height = s.heights[&d];
                        s.ready.push((height, Reverse(d)));
                    }
                }
            }
            Err(err) => {
                status.finished(index, s.done, false, &action.mnemonic, &action.owner);
                // Dependents of a failed action never become ready.
                s.stop |= !opts.keep_going;
                s.failed.push((index, err));
            }
        }
        wake.notify_all();
    }
}

fn input_digests(
    graph: &ActionGraph,
    index: usize,
    derived: &DerivedFiles,
    sources: &SourceDigests,
    ws: &Workspace,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for path in &graph.actions[index].inputs {
        let digest = match derived.get(path) {
            Some(files) => derived_digest(path, files),
            None => sources.get(ws, path)?,
        };
        out.insert(path.clone(), digest);
    }
    Ok(out)
}

/// Digest of a derived file, or of a declared directory (its listing).
fn derived_digest(path: &str, files: &[OutputFile]) -> String {
    match files {
        [file] if file.path == path => file.digest.clone(),
        _ => {
            // Sorted: a directory's files come in walk order here and in tree order from a
            // remote cache; the digest must not depend on which.
            let mut listing: Vec<String> =
                files.iter().map(|f| format!("{} {} {}", f.path, f.digest, f.executable)).collect();
            listing.sort();
            digest_bytes(listing.join("\n").as_bytes())
        }
    }
}

/// The cache key of an action.
pub fn action_key(action: &Action, inputs: &BTreeMap<String, String>) -> String {
    pruned_action_key(action, inputs, &BTreeSet::new())
}

/// The cache key of an action whose `unused` inputs did not influence its outputs: their
/// names enter the key, their contents do not.
fn pruned_action_key(action: &Action, inputs: &BTreeMap<String, String>, unused: &BTreeSet<String>) -> String {
    #[derive(Serialize)]
    struct KeyMaterial<'a> {
        version: &'a str,
        kind: &'a ActionKind,
        inputs: BTreeMap<&'a str, &'a str>,
        unused: &'a BTreeSet<String>,
        outputs: &'a [crate::action::Output],
    }
    let used = inputs.iter().filter(|(p, _)| !unused.contains(*p)).map(|(p, d)| (p.as_str(), d.as_str())).collect();
    let kind = keyed_kind(&action.kind);
    let material = KeyMaterial { version: KEY_VERSION, kind: &kind, inputs: used, unused, outputs: &action.outputs };
    digest_bytes(&serde_json::to_vec(&material).expect("serializable"))
}

/// relink-builder's flag that gives a compile rustc's incremental state (a local directory).
const STATE_FLAG: &str = "--incremental-dir";

/// The action's kind as its key sees it: where rustc keeps incremental state (a directory of
/// this machine, per workspace) is not part of any key, only that the compile used such state
/// (its outputs differ in layout from a stateless compile's). A second checkout on the same
/// machine therefore reuses the first one's results.
fn keyed_kind(kind: &ActionKind) -> std::borrow::Cow<'_, ActionKind> {
    match kind {
        ActionKind::Run { argv, env } if argv.iter().any(|a| a == STATE_FLAG) => {
            let mut argv = argv.clone();
            for i in 1..argv.len() {
                if argv[i - 1] == STATE_FLAG {
                    argv[i] = "<local incremental state>".to_string();
                }
            }
            std::borrow::Cow::Owned(ActionKind::Run { argv, env: env.clone() })
        }
        other => std::borrow::Cow::Borrowed(other),
    }
}

/// Where an action's last list of unused inputs is recorded: a key over everything but the
/// contents of its inputs.
fn pruning_key(action: &Action, inputs: &BTreeMap<String, String>) -> String {
    let names: Vec<&String> = inputs.keys().collect();
    digest_bytes(
        &serde_json::to_vec(&(KEY_VERSION, "pruning", &keyed_kind(&action.kind), names, &action.outputs))
            .expect("serializable"),
    )
}

/// The inputs an action reported unused in its `unused_inputs_list` output: validated to be
/// declared inputs (anything else is an error naming the action).
fn reported_unused(
    action: &Action,
    list: &str,
    result: &ActionResult,
    cache: &Cache,
    inputs: &BTreeMap<String, String>,
) -> Result<BTreeSet<String>> {
    let file = result.files.iter().find(|f| f.path == list).ok_or_else(|| {
        anyhow!("{} of {} did not write its unused_inputs_list {list}", action.mnemonic, action.owner)
    })?;
    let text = fs::read_to_string(cache.blob_path(&file.digest, file.executable))?;
    let mut unused = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !inputs.contains_key(line) {
            bail!(
                "{} of {} lists `{line}` as an unused input, but it is not one of its inputs",
                action.mnemonic,
                action.owner
            );
        }
        unused.insert(line.to_string());
    }
    Ok(unused)
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
    let (result, cache) = match opts.cache.lookup(&key) {
        Some(result) => (result, CacheStatus::Hit),
        None => match remote
            .and_then(|r| r.lookup(&action_meta(action, &key, &inputs), opts.cache))
            .or_else(|| stateless_twin_hit(action, &inputs, opts))
        {
            Some(result) => {
                // A remote hit: recorded locally, with the unused inputs it reports, as if run
                // here (once its blobs are all here: local lookups trust only complete results).
                let complete = result.files.iter().all(|f| opts.cache.blob_ok(&f.digest, f.executable));
                if let (Some(list), Some(pruning)) = (&action.unused_inputs_list, &pruning) {
                    if let Some(f) = result.files.iter().find(|f| &f.path == list) {
                        ensure_local(opts.cache, opts.remote, f)?;
                    }
                    let unused = reported_unused(action, list, &result, opts.cache, &inputs)?;
                    if complete {
                        opts.cache.record(&pruned_action_key(action, &inputs, &unused), &result)?;
                    }
                    opts.cache.record_pruned_inputs(pruning, &unused)?;
                }
                if complete {
                    opts.cache.record(&key, &result)?;
                }
                from_remote = true;
                (result, CacheStatus::Hit)
            }
            None => {
                let looked_up = key.clone();
                let executor = remote.filter(|r| {
                    r.executes()
                        && matches!(action.kind, ActionKind::Run { .. })
                        && !action.requirements.contains_key("no-sandbox")
                });
                let ran_remotely = match executor {
                    Some(r) => run_remotely(r, action, &inputs, derived, opts)?,
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
                let mut now_unused = None;
                if let (Some(list), Some(pruning)) = (&action.unused_inputs_list, &pruning) {
                    let unused = reported_unused(action, list, &result, opts.cache, &inputs)?;
                    key = pruned_action_key(action, &inputs, &unused);
                    opts.cache.record_pruned_inputs(pruning, &unused)?;
                    if let Some(r) = remote.filter(|r| r.uploads()) {
                        r.upload_pruned(pruning, &unused, opts.cache);
                    }
                    now_unused = Some(unused);
                }
                opts.cache.record(&key, &result)?;
                if let Some(r) = remote.filter(|r| r.uploads()) {
                    let meta = provenance::ActionMeta {
                        executed_by: executed_by.as_deref(),
                        ..action_meta(action, &key, &inputs)
                    };
                    r.upload(&meta, &result, opts.cache);
                    // Also under the key it was looked up by (another checkout, without this
                    // one's record of unused inputs, asks by that), but only if every input
                    // whose content that key leaves out was indeed unused: otherwise that key
                    // would answer for contents this run never saw.
                    let sound = match (&last_unused, &now_unused) {
                        (None, _) => true,
                        (Some(before), Some(now)) => before.is_subset(now),
                        (Some(_), None) => false,
                    };
                    if key != looked_up && sound {
                        let meta = provenance::ActionMeta { key: &looked_up, ..meta };
                        r.upload(&meta, &result, opts.cache);
                    }
                }
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

/// The key `action` is looked up by: without the contents of the inputs it last reported
/// unused, when it reported any.
fn lookup_key(action: &Action, inputs: &BTreeMap<String, String>, last_unused: Option<&BTreeSet<String>>) -> String {
    match last_unused {
        Some(unused) => pruned_action_key(action, inputs, unused),
        None => action_key(action, inputs),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_chain_of_dependents_runs_first() {
        // 0 = an interface that 1 (a dependent's compile) and 2 (a link) need; 1 feeds 3.
        let dependents = HashMap::from([(0, vec![1, 2]), (1, vec![3]), (4, vec![2])]);
        let heights = chain_heights(&[0, 1, 2, 3, 4], &dependents);
        assert_eq!(heights, HashMap::from([(0, 3), (1, 2), (2, 1), (3, 1), (4, 2)]));
        let mut ready: BinaryHeap<(usize, Reverse<usize>)> =
            [4, 0].into_iter().map(|i| (heights[&i], Reverse(i))).collect();
        assert_eq!(ready.pop(), Some((3, Reverse(0))));
    }
}

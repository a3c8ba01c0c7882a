//! The execution phase: run the needed actions in parallel, each in a fresh sandbox, with
//! results keyed by a blake3 digest of everything that can influence them.

pub mod cache;
pub mod diagnostics;
pub mod digests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::action::{Action, ActionGraph, ActionKind};
use crate::workspace::Workspace;
use cache::{digest_bytes, ActionResult, Cache, OutputFile};
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
    /// Digests of source files (remembered across builds).
    pub sources: &'a SourceDigests,
    /// After a failure, go on with every action that does not depend on it (Bazel's
    /// `--keep_going`); otherwise stop at the first failure.
    pub keep_going: bool,
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
    ready: VecDeque<usize>,
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
    let needed_set: HashSet<usize> = needed.iter().copied().collect();
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut waiting_on = HashMap::new();
    let mut ready = VecDeque::new();
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
            ready.push_back(i);
        } else {
            waiting_on.insert(i, deps.len());
        }
    }
    let total = needed.len();
    let state = Mutex::new(State {
        outcomes: HashMap::new(),
        ready,
        waiting_on,
        running: 0,
        failed: Vec::new(),
        stop: false,
        done: 0,
    });
    let wake = Condvar::new();
    let epoch = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1) {
            scope.spawn(|| worker(graph, &state, &wake, &dependents, opts, total, epoch));
        }
    });
    let state = state.into_inner().unwrap();
    let skipped = needed.len() - state.outcomes.len() - state.failed.len();
    Ok(Executed { outcomes: state.outcomes, failed: state.failed, skipped })
}

fn worker(
    graph: &ActionGraph,
    state: &Mutex<State>,
    wake: &Condvar,
    dependents: &HashMap<usize, Vec<usize>>,
    opts: &ExecOptions,
    total: usize,
    epoch: Instant,
) {
    loop {
        let (index, derived) = {
            let mut s = state.lock().unwrap();
            loop {
                if s.stop || (s.ready.is_empty() && s.running == 0) {
                    wake.notify_all();
                    return;
                }
                if let Some(i) = s.ready.pop_front() {
                    s.running += 1;
                    break (i, derived_files(graph, i, &s.outcomes));
                }
                s = wake.wait(s).unwrap();
            }
        };
        // Hashing and running happen outside the lock.
        let result = derived.and_then(|derived| {
            let inputs = input_digests(graph, index, &derived, opts.sources, opts.workspace)?;
            run_one(graph, index, inputs, &derived, opts, epoch)
        });
        let mut s = state.lock().unwrap();
        s.running -= 1;
        match result {
            Ok(outcome) => {
                s.done += 1;
                if opts.progress && outcome.cache == CacheStatus::Miss {
                    progress_line(s.done, total, &outcome);
                }
                s.outcomes.insert(index, outcome);
                for &d in dependents.get(&index).map(Vec::as_slice).unwrap_or(&[]) {
                    let left = s.waiting_on.get_mut(&d).expect("dependent counted");
                    *left -= 1;
                    if *left == 0 {
                        s.ready.push_back(d);
                    }
                }
            }
            Err(err) => {
                // Dependents of a failed action never become ready.
                s.stop |= !opts.keep_going;
                s.failed.push((index, err));
            }
        }
        wake.notify_all();
    }
}

/// `[12/40] RustCompile //a:b`: rewritten in place on a terminal, one line each otherwise.
fn progress_line(done: usize, total: usize, outcome: &Outcome) {
    use std::io::IsTerminal;
    let line = format!("[{done}/{total}] {} {}", outcome.mnemonic, outcome.target);
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K{line}");
        if done == total {
            eprintln!();
        }
    } else {
        eprintln!("{line}");
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
            let listing: Vec<String> =
                files.iter().map(|f| format!("{} {} {}", f.path, f.digest, f.executable)).collect();
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
    let material =
        KeyMaterial { version: KEY_VERSION, kind: &action.kind, inputs: used, unused, outputs: &action.outputs };
    digest_bytes(&serde_json::to_vec(&material).expect("serializable"))
}

/// Where an action's last list of unused inputs is recorded: a key over everything but the
/// contents of its inputs.
fn pruning_key(action: &Action, inputs: &BTreeMap<String, String>) -> String {
    let names: Vec<&String> = inputs.keys().collect();
    digest_bytes(
        &serde_json::to_vec(&(KEY_VERSION, "pruning", &action.kind, names, &action.outputs)).expect("serializable"),
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
) -> Result<Outcome> {
    let action = &graph.actions[index];
    // Actions that report unused inputs are looked up under the key of their last pruning.
    let pruning = action.unused_inputs_list.as_ref().map(|_| pruning_key(action, &inputs));
    let last_unused =
        pruning.as_ref().and_then(|k| opts.cache.pruned_inputs(k)).filter(|u| u.iter().all(|p| inputs.contains_key(p)));
    let mut key = match &last_unused {
        Some(unused) => pruned_action_key(action, &inputs, unused),
        None => action_key(action, &inputs),
    };
    let start = Instant::now();
    let (result, cache) = match opts.cache.lookup(&key) {
        Some(result) => (result, CacheStatus::Hit),
        None => {
            let result = match &action.kind {
                ActionKind::Write { content, executable } => {
                    single_output(action, content.as_bytes(), *executable, opts.cache)?
                }
                ActionKind::Copy { executable } => {
                    // The input is a stored blob (derived) or a file on disk (source): no sandbox.
                    let from = &action.inputs[0];
                    let data = match derived.get(from).map(Vec::as_slice) {
                        Some([file]) => fs::read(opts.cache.blob_path(&file.digest, file.executable))?,
                        Some(_) => bail!("{} of {}: cannot copy the directory {from}", action.mnemonic, action.owner),
                        None => fs::read(opts.workspace.exec_path_on_disk(from)?)
                            .with_context(|| format!("cannot read {from}"))?,
                    };
                    single_output(action, &data, *executable, opts.cache)?
                }
                ActionKind::Run { argv, env } => run_in_sandbox(graph, action, argv, env, derived, opts)?,
            };
            if let (Some(list), Some(pruning)) = (&action.unused_inputs_list, &pruning) {
                let unused = reported_unused(action, list, &result, opts.cache, &inputs)?;
                key = pruned_action_key(action, &inputs, &unused);
                opts.cache.record_pruned_inputs(pruning, &unused)?;
            }
            opts.cache.record(&key, &result)?;
            (result, CacheStatus::Miss)
        }
    };
    Ok(Outcome {
        mnemonic: action.mnemonic.clone(),
        target: action.owner.clone(),
        cache,
        start_ms: start.duration_since(epoch).as_millis() as u64,
        duration_ms: start.elapsed().as_millis() as u64,
        outputs: action.outputs.iter().map(|o| o.path.clone()).collect(),
        output_digests: result.files.iter().map(|f| (f.path.clone(), f.digest.clone())).collect(),
        key,
        inputs,
        result: Some(result),
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

/// A fresh execroot holding exactly the declared inputs of one action.
struct Sandbox {
    root: PathBuf,
    /// Held while a stable directory is in use by this process.
    _lock: Option<fs::File>,
}

impl Sandbox {
    /// A new directory for `action`: unique, or for `no-sandbox` actions (rustc's local
    /// incremental state) the same path on every run, so that the paths the compiler hashes
    /// stay stable. A stable directory another build is using gives way to a unique one.
    fn create(action: &Action, opts: &ExecOptions) -> Result<Sandbox> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let (root, lock) = match stable_dir(action, opts)? {
            Some((dir, lock)) => (dir, Some(lock)),
            None => {
                (opts.sandbox_root.join(format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))), None)
            }
        };
        if root.exists() {
            fs::remove_dir_all(&root).with_context(|| format!("cannot clear the sandbox {}", root.display()))?;
        }
        fs::create_dir_all(&root).with_context(|| format!("cannot create the sandbox {}", root.display()))?;
        Ok(Sandbox { root, _lock: lock })
    }

    fn materialize(
        &self,
        graph: &ActionGraph,
        action: &Action,
        derived: &DerivedFiles,
        opts: &ExecOptions,
    ) -> Result<()> {
        for path in &action.inputs {
            let dest = self.root.join(path);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            match graph.producer_of(path) {
                Some(_) => {
                    let files = derived.get(path).ok_or_else(|| anyhow!("internal: no blob for {path}"))?;
                    if files.is_empty() {
                        fs::create_dir_all(&dest)?;
                    }
                    for f in files {
                        opts.cache.materialize(f, &self.root.join(&f.path))?;
                    }
                }
                None => {
                    let disk = opts.workspace.exec_path_on_disk(path)?;
                    if path.starts_with("external/") || disk.is_dir() {
                        // Tools and toolchains of external repositories: linked, not copied.
                        let target = fs::canonicalize(&disk).with_context(|| format!("missing input {path}"))?;
                        std::os::unix::fs::symlink(target, &dest)?;
                    } else {
                        fs::copy(&disk, &dest).with_context(|| format!("cannot copy input {path}"))?;
                    }
                }
            }
        }
        for out in &action.outputs {
            let dest = self.root.join(&out.path);
            if out.is_dir {
                fs::create_dir_all(&dest)?;
            } else if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
        }
        Ok(())
    }

    fn remove(&self) {
        // RELINK_KEEP_SANDBOXES=1 keeps every sandbox for inspection.
        if std::env::var_os("RELINK_KEEP_SANDBOXES").is_none() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// The stable directory of a `no-sandbox` action (per workspace and first output), locked for
/// this process; `None` for other actions or when another build holds it.
fn stable_dir(action: &Action, opts: &ExecOptions) -> Result<Option<(PathBuf, fs::File)>> {
    if !action.requirements.contains_key("no-sandbox") {
        return Ok(None);
    }
    let first = action.outputs.first().map_or("", |o| o.path.as_str());
    let id = digest_bytes(format!("{}\n{first}", opts.workspace.root.display()).as_bytes());
    let dir = opts.sandbox_root.join("stable").join(&id[..16]);
    fs::create_dir_all(opts.sandbox_root.join("stable"))?;
    let lock_path = dir.with_extension("lock");
    let lock = fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => Ok(Some((dir, lock))),
        Err(_) => Ok(None),
    }
}

fn run_in_sandbox(
    graph: &ActionGraph,
    action: &Action,
    argv: &[String],
    env: &BTreeMap<String, String>,
    derived: &DerivedFiles,
    opts: &ExecOptions,
) -> Result<ActionResult> {
    let sandbox = Sandbox::create(action, opts)?;
    sandbox.materialize(graph, action, derived, opts)?;
    let program = if argv[0].contains('/') && !argv[0].starts_with('/') {
        sandbox.root.join(&argv[0])
    } else {
        PathBuf::from(&argv[0])
    };
    let started = Instant::now();
    let output = Command::new(&program)
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .current_dir(&sandbox.root)
        .output()
        .with_context(|| format!("{} of {}: cannot start {}", action.mnemonic, action.owner, argv[0]))?;
    diagnostics::show(&output.stderr, &format!("{} {}", action.mnemonic, action.owner))?;
    if !output.status.success() {
        let repro = sandbox.root.join("repro.sh");
        fs::write(&repro, repro_script(argv, env)).with_context(|| format!("cannot write {}", repro.display()))?;
        return Err(ActionFailed {
            mnemonic: action.mnemonic.clone(),
            owner: action.owner.clone(),
            status: output.status.to_string(),
            exit_code: output.status.code(),
            duration_ms: started.elapsed().as_millis() as u64,
            sandbox: sandbox.root.clone(),
        }
        .into());
    }
    let result = collect_outputs(&sandbox.root, action, opts.cache);
    sandbox.remove();
    result
}

/// An action whose command exited unsuccessfully. Its sandbox is kept, with `repro.sh`.
#[derive(Debug)]
pub struct ActionFailed {
    pub mnemonic: String,
    pub owner: String,
    /// How the process ended, as the OS says it (`exit status: 1`, `signal: 9`).
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The kept sandbox the action ran in.
    pub sandbox: PathBuf,
}

impl std::fmt::Display for ActionFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} failed ({}).\nReproduce with:\n  sh {}",
            self.mnemonic,
            self.owner,
            self.status,
            self.sandbox.join("repro.sh").display()
        )
    }
}

impl std::error::Error for ActionFailed {}

/// A shell script that reruns an action in its sandbox: its environment and argv, one a line.
fn repro_script(argv: &[String], env: &BTreeMap<String, String>) -> String {
    let mut script = String::from("#!/bin/sh\n# Reruns the failed action in its kept sandbox.\ncd \"$(dirname \"$0\")\" || exit 1\nexec env -i \\\n");
    for (k, v) in env {
        script.push_str(&format!("  {k}={} \\\n", shell_quote(v)));
    }
    let args: Vec<String> = argv.iter().map(|a| format!("  {}", shell_quote(a))).collect();
    script.push_str(&args.join(" \\\n"));
    script.push('\n');
    script
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

fn collect_outputs(root: &Path, action: &Action, cache: &Cache) -> Result<ActionResult> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for out in &action.outputs {
        let path = root.join(&out.path);
        if out.is_dir {
            if !path.is_dir() {
                bail!("{} of {} did not create its output directory {}", action.mnemonic, action.owner, out.path);
            }
            dirs.push(out.path.clone());
            for file in walk_files(&path)? {
                let rel = file.strip_prefix(root)?.to_string_lossy().to_string();
                let executable = fs::metadata(&file)?.permissions().mode() & 0o111 != 0;
                let digest = cache.store_file(&file, executable)?;
                files.push(OutputFile { path: rel, digest, executable });
            }
        } else {
            let meta = fs::symlink_metadata(&path).map_err(|_| {
                anyhow!("{} of {} did not create its declared output {}", action.mnemonic, action.owner, out.path)
            })?;
            let executable = meta.permissions().mode() & 0o111 != 0;
            let digest = cache.store_file(&path, executable)?;
            files.push(OutputFile { path: out.path.clone(), digest, executable });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(ActionResult { files, dirs })
}

fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ft = e.file_type()?;
        if ft.is_dir() {
            out.extend(walk_files(&e.path())?);
        } else {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

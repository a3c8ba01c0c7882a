//! The commands: pattern expansion, build, test, run, explain, query, aquery, clean.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionKind, Output};
use crate::analysis::{Analyzer, Config, Configured};
use crate::exec::cache::{digest_bytes, Cache, OutputFile};
use crate::exec::{self, ExecOptions, Outcome};
use crate::label::Label;
use crate::loading::Loader;
use crate::workspace::Workspace;
use crate::{BuildOpts, Cli, CommandKind};

/// Run a command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        CommandKind::Build { opts, patterns } => build_command(&opts, &patterns, false).map(|ok| if ok { 0 } else { 3 }),
        CommandKind::Test { opts, patterns } => build_command(&opts, &patterns, true).map(|ok| if ok { 0 } else { 3 }),
        CommandKind::Run { opts, label, args } => run_command(&opts, &label, &args),
        CommandKind::Explain { label, cache_dir } => explain_command(label.as_deref(), cache_dir),
        CommandKind::Query { opts, pattern } => query_command(&opts, &pattern).map(|_| 0),
        CommandKind::Aquery { opts, pattern } => aquery_command(&opts, &pattern).map(|_| 0),
        CommandKind::Clean { expunge, cache_dir } => clean_command(expunge, cache_dir).map(|_| 0),
        CommandKind::Import { opts } => import_command(&opts).map(|_| 0),
    }
}

fn cache_root(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Ok(dir) = std::env::var("RELINK_CACHE") {
        return PathBuf::from(dir);
    }
    if let Ok(dir) = std::env::var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("relink");
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".to_string());
    PathBuf::from(home).join(".cache/relink")
}

/// Records of this workspace (explain state).
fn state_dir(cache: &Cache, ws: &Workspace) -> PathBuf {
    let id = digest_bytes(ws.root.display().to_string().as_bytes());
    cache.root.join("workspaces").join(&id[..16])
}

struct Session {
    loader: Loader,
    cache: Cache,
    config: Config,
    cwd_package: String,
    /// Source digests remembered across builds of this workspace.
    sources: exec::digests::SourceDigests,
}

fn open_session(opts: &BuildOpts) -> Result<Session> {
    let cwd = std::env::current_dir()?;
    let mut ws = Workspace::find(&cwd)?;
    let cache = Cache::open(cache_root(opts.cache_dir.clone()))?;
    crate::repos::register(&mut ws, &cache.root)?;
    let cwd_package = cwd.canonicalize()?.strip_prefix(&ws.root).map(|p| p.to_string_lossy().to_string()).unwrap_or_default();
    if !matches!(opts.compilation_mode.as_str(), "fastbuild" | "dbg" | "opt") {
        bail!("--compilation_mode must be fastbuild, dbg or opt, not `{}`", opts.compilation_mode);
    }
    let mut defines = BTreeMap::new();
    for d in &opts.defines {
        let (k, v) = d.split_once('=').ok_or_else(|| anyhow!("--define takes KEY=VALUE, got `{d}`"))?;
        defines.insert(k.to_string(), v.to_string());
    }
    if opts.rustc_incremental && opts.compilation_mode != "opt" {
        let dir = state_dir(&cache, &ws).join("incremental");
        std::fs::create_dir_all(&dir)?;
        defines.insert("relink_incremental_dir".to_string(), dir.display().to_string());
    }
    let config = Config { compilation_mode: opts.compilation_mode.clone(), defines };
    let state = state_dir(&cache, &ws);
    std::fs::create_dir_all(&state).with_context(|| format!("cannot create {}", state.display()))?;
    let sources = exec::digests::SourceDigests::load(state.join("digests.json"));
    Ok(Session { loader: Loader::new(ws)?, cache, config, cwd_package, sources })
}

/// Expand target patterns into labels of rule targets (and explicit labels as given).
fn expand_patterns(session: &Session, patterns: &[String]) -> Result<Vec<Label>> {
    let base = Label::package_base("", &session.cwd_package);
    let mut out = Vec::new();
    for pattern in patterns {
        let (all_under, package_all) = if let Some(dir) = pattern.strip_suffix("/...").or_else(|| pattern.strip_suffix("...")) {
            (Some(dir.trim_start_matches("//").trim_end_matches('/').to_string()), None)
        } else if let Some(pkg) = pattern.strip_suffix(":all").or_else(|| pattern.strip_suffix(":*")) {
            (None, Some(pkg.trim_start_matches("//").to_string()))
        } else {
            (None, None)
        };
        let packages = match (&all_under, &package_all) {
            (Some(dir), _) => {
                let dir = if pattern.starts_with("//") { dir.clone() } else { crate::label::join_path(&session.cwd_package, dir) };
                session.loader.workspace.packages_under(&dir)?
            }
            (_, Some(pkg)) => vec![pkg.clone()],
            _ => {
                out.push(Label::parse(pattern, &base)?);
                continue;
            }
        };
        for pkg in packages {
            let package = session.loader.package("", &pkg)?;
            out.extend(package.targets.values().map(|t| t.label.clone()));
        }
    }
    if out.is_empty() {
        bail!("no targets match {}", patterns.join(" "));
    }
    Ok(out)
}

fn jobs(opts: &BuildOpts) -> usize {
    opts.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
}

/// What a build produced.
struct Built {
    targets: Vec<Rc<Configured>>,
    outcomes: HashMap<usize, Outcome>,
}

fn analyze_all<'s>(session: &'s Session, labels: &[Label]) -> Result<(Analyzer<'s>, Vec<Rc<Configured>>)> {
    let analyzer = Analyzer::new(&session.loader, session.config.clone());
    let targets = labels.iter().map(|l| analyzer.analyze(l)).collect::<Result<Vec<_>>>()?;
    Ok((analyzer, targets))
}

fn requested_paths(targets: &[Rc<Configured>], with_runfiles: bool) -> Vec<String> {
    let mut paths = Vec::new();
    for t in targets {
        paths.extend(t.default_files.iter().map(|f| f.path.clone()));
        paths.extend(t.executable.iter().map(|f| f.path.clone()));
        if with_runfiles || t.is_test {
            paths.extend(t.runfiles.iter().map(|f| f.path.clone()));
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

fn exec_options<'a>(session: &'a Session, opts: &BuildOpts) -> ExecOptions<'a> {
    ExecOptions {
        jobs: jobs(opts),
        cache: &session.cache,
        workspace: &session.loader.workspace,
        sandbox_root: session.cache.root.join("sandbox"),
        progress: true,
        sources: &session.sources,
    }
}

/// `RELINK_TIMING=1` prints how long each phase took.
fn phase(name: &str, since: &mut Instant) {
    if std::env::var_os("RELINK_TIMING").is_some() {
        eprintln!("relink: {name}: {:.3} s", since.elapsed().as_secs_f64());
    }
    *since = Instant::now();
}

fn build<'s>(session: &'s Session, opts: &BuildOpts, patterns: &[String], log: &mut ExecutionLog) -> Result<(Analyzer<'s>, Built)> {
    let mut t = Instant::now();
    let labels = expand_patterns(session, patterns)?;
    let (analyzer, targets) = analyze_all(session, &labels)?;
    phase("loading and analysis", &mut t);
    let paths = requested_paths(&targets, false);
    let graph = analyzer.graph.borrow();
    let needed = exec::needed_actions(&graph, &paths);
    let result = exec::execute(&graph, &needed, &exec_options(session, opts));
    session.sources.save()?;
    phase("execution", &mut t);
    let outcomes = match result {
        Ok(o) => o,
        Err(e) => {
            log.flush_partial()?;
            return Err(e);
        }
    };
    log.record(&graph.actions, &outcomes)?;
    materialize_outputs(session, &paths, &outcomes)?;
    phase("outputs and log", &mut t);
    drop(graph);
    Ok((analyzer, Built { targets, outcomes }))
}

/// Copy (hard link) requested outputs into `relink-bin/`.
fn materialize_outputs(session: &Session, paths: &[String], outcomes: &HashMap<usize, Outcome>) -> Result<()> {
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
                session.cache.materialize(f, &out_root.join(rel))?;
            }
        }
    }
    Ok(())
}

/// Execution log and explain records.
struct ExecutionLog {
    file: Option<std::fs::File>,
    state_dir: PathBuf,
    entries: Vec<ExplainEntry>,
    previous: HashMap<String, ActionRecord>,
    current: HashMap<String, ActionRecord>,
}

#[derive(Serialize, Deserialize, Clone)]
struct ActionRecord {
    key: String,
    inputs: BTreeMap<String, String>,
    /// Output file -> digest.
    #[serde(default)]
    outputs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct ExplainEntry {
    mnemonic: String,
    target: String,
    cache: String,
    /// Inputs whose digest changed since the previous run of this action (or why it ran).
    changed: Vec<String>,
    /// The action ran but produced byte-identical outputs: everything keyed on them is cut off.
    #[serde(default)]
    outputs_unchanged: bool,
}

impl ExecutionLog {
    fn open(session: &Session, path: Option<&Path>) -> Result<ExecutionLog> {
        let state_dir = state_dir(&session.cache, &session.loader.workspace);
        std::fs::create_dir_all(&state_dir)?;
        let previous = std::fs::read(state_dir.join("actions.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let file = match path {
            Some(p) => Some(std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?),
            None => None,
        };
        Ok(ExecutionLog { file, state_dir, entries: Vec::new(), previous, current: HashMap::new() })
    }

    fn record(&mut self, actions: &[Action], outcomes: &HashMap<usize, Outcome>) -> Result<()> {
        let mut indexes: Vec<&usize> = outcomes.keys().collect();
        indexes.sort();
        for &i in indexes {
            let o = &outcomes[&i];
            let a = &actions[i];
            let id = format!("{} {} {}", a.owner, a.mnemonic, a.outputs.first().map_or("", |o| o.path.as_str()));
            if let Some(f) = &mut self.file {
                serde_json::to_writer(&mut *f, o)?;
                f.write_all(b"\n")?;
            }
            let changed = if o.cache == "hit" {
                Vec::new()
            } else {
                match self.previous.get(&id) {
                    None => vec!["(first run of this action)".to_string()],
                    Some(prev) => {
                        let mut c: Vec<String> = o
                            .inputs
                            .iter()
                            .filter(|(p, d)| prev.inputs.get(*p) != Some(d))
                            .map(|(p, _)| p.clone())
                            .collect();
                        c.extend(prev.inputs.keys().filter(|p| !o.inputs.contains_key(*p)).map(|p| format!("{p} (removed)")));
                        if c.is_empty() {
                            c.push("(command line, environment or outputs changed, or the cache entry was missing)".to_string());
                        }
                        c
                    }
                }
            };
            let outputs: BTreeMap<String, String> = o
                .result
                .iter()
                .flat_map(|r| r.files.iter().map(|f| (f.path.clone(), f.digest.clone())))
                .collect();
            let outputs_unchanged = o.cache == "miss" && self.previous.get(&id).is_some_and(|p| !p.outputs.is_empty() && p.outputs == outputs);
            self.entries.push(ExplainEntry {
                mnemonic: o.mnemonic.clone(),
                target: o.target.clone(),
                cache: o.cache.to_string(),
                changed,
                outputs_unchanged,
            });
            self.current.insert(id, ActionRecord { key: o.key.clone(), inputs: o.inputs.clone(), outputs });
        }
        Ok(())
    }

    fn flush_partial(&mut self) -> Result<()> {
        self.save()
    }

    fn save(&mut self) -> Result<()> {
        let mut merged = std::mem::take(&mut self.previous);
        merged.extend(self.current.drain());
        std::fs::write(self.state_dir.join("actions.json"), serde_json::to_vec(&merged)?)?;
        std::fs::write(self.state_dir.join("last_build.json"), serde_json::to_vec_pretty(&self.entries)?)?;
        self.previous = merged;
        Ok(())
    }
}

fn build_command(opts: &BuildOpts, patterns: &[String], tests: bool) -> Result<bool> {
    let start = Instant::now();
    let mut t = Instant::now();
    let session = open_session(opts)?;
    phase("workspace and toolchain", &mut t);
    let mut log = ExecutionLog::open(&session, opts.execution_log.as_deref())?;
    let (analyzer, built) = match build(&session, opts, patterns, &mut log) {
        Ok(b) => b,
        Err(e) => {
            log.save()?;
            return Err(e);
        }
    };
    let executed = built.outcomes.values().filter(|o| o.cache == "miss").count();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r\x1b[K");
    }
    eprintln!(
        "relink: {} targets, {} actions: {} executed, {} cache hits ({:.2} s)",
        built.targets.len(),
        built.outcomes.len(),
        executed,
        built.outcomes.len() - executed,
        start.elapsed().as_secs_f64()
    );
    let mut ok = true;
    if tests {
        ok = run_tests(&session, opts, &analyzer, &built, &mut log)?;
    }
    log.save()?;
    Ok(ok)
}

/// Run every test target as a `TestRunner` action; passing results are cached.
fn run_tests(session: &Session, opts: &BuildOpts, analyzer: &Analyzer, built: &Built, log: &mut ExecutionLog) -> Result<bool> {
    let tests: Vec<&Rc<Configured>> = built.targets.iter().filter(|t| t.is_test).collect();
    if tests.is_empty() {
        bail!("no test targets match");
    }
    let (mut passed, mut failed) = (0, 0);
    for t in tests {
        let exe = t.executable.as_ref().ok_or_else(|| anyhow!("test {} has no executable", t.target.label))?;
        let log_path = format!("{}.test.log", exe.path);
        let mut inputs: Vec<String> = vec![exe.path.clone()];
        inputs.extend(t.runfiles.iter().map(|f| f.path.clone()));
        let script = "\"$1\" > \"$2\" 2>&1; code=$?; if [ $code -ne 0 ]; then cat \"$2\" >&2; fi; exit $code";
        let action = Action {
            mnemonic: "TestRunner".into(),
            owner: t.target.label.to_string(),
            kind: ActionKind::Run {
                argv: vec!["/bin/sh".into(), "-c".into(), script.into(), "relink-test".into(), exe.path.clone(), log_path.clone()],
                env: BTreeMap::from([
                    ("PATH".to_string(), "/usr/bin:/bin".to_string()),
                    ("TEST_TARGET".to_string(), t.target.label.to_string()),
                    ("TEST_TMPDIR".to_string(), "/tmp".to_string()),
                ]),
            },
            inputs,
            outputs: vec![Output { path: log_path, is_dir: false }],
            unused_inputs_list: None,
            requirements: BTreeMap::new(),
        };
        let index = {
            let mut graph = analyzer.graph.borrow_mut();
            graph.add(action)?;
            graph.actions.len() - 1
        };
        let graph = analyzer.graph.borrow();
        let needed = exec::needed_actions(&graph, &[graph.actions[index].outputs[0].path.clone()]);
        let start = Instant::now();
        match exec::execute(&graph, &needed, &exec_options(session, opts)) {
            Ok(outcomes) => {
                let cached = outcomes.get(&index).is_some_and(|o| o.cache == "hit");
                log.record(&graph.actions, &outcomes)?;
                passed += 1;
                println!("PASSED {}{} ({:.1} s)", t.target.label, if cached { " (cached)" } else { "" }, start.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAILED {}: {e:#}", t.target.label);
            }
        }
    }
    session.sources.save()?;
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn run_command(opts: &BuildOpts, label: &str, args: &[String]) -> Result<i32> {
    let session = open_session(opts)?;
    let mut log = ExecutionLog::open(&session, opts.execution_log.as_deref())?;
    let (_, built) = build(&session, opts, &[label.to_string()], &mut log)?;
    log.save()?;
    let target = built.targets.first().ok_or_else(|| anyhow!("nothing to run"))?;
    let exe = target.executable.as_ref().ok_or_else(|| anyhow!("{} is not executable", target.target.label))?;
    let rel = exe.path.strip_prefix(&format!("{}/", session.config.bin_dir())).unwrap_or(&exe.path);
    let path = session.loader.workspace.root.join("relink-bin").join(rel);
    let status = std::process::Command::new(&path)
        .args(args)
        .env("BUILD_WORKSPACE_DIRECTORY", &session.loader.workspace.root)
        .status()
        .with_context(|| format!("cannot run {}", path.display()))?;
    Ok(status.code().unwrap_or(1))
}

fn explain_command(label: Option<&str>, cache_dir: Option<PathBuf>) -> Result<i32> {
    let ws = Workspace::find(&std::env::current_dir()?)?;
    let cache = Cache::open(cache_root(cache_dir))?;
    let path = state_dir(&cache, &ws).join("last_build.json");
    let entries: Vec<ExplainEntry> = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| "no build recorded for this workspace yet: run `relink build` first")?,
    )?;
    let filter = label.map(|l| Label::parse(l, &Label::package_base("", "")).map(|l| l.to_string())).transpose()?;
    let ran: Vec<&ExplainEntry> = entries.iter().filter(|e| e.cache == "miss").collect();
    let hits = entries.len() - ran.len();
    println!("last build: {} actions, {} executed, {} cache hits", entries.len(), ran.len(), hits);
    for e in ran {
        if filter.as_ref().is_some_and(|f| *f != e.target) {
            continue;
        }
        println!("{} {}", e.mnemonic, e.target);
        for c in &e.changed {
            println!("    changed: {c}");
        }
        if e.outputs_unchanged {
            println!("    output unchanged: actions that take it were not re-run (early cutoff)");
        }
    }
    Ok(0)
}

fn query_command(opts: &BuildOpts, pattern: &str) -> Result<()> {
    let session = open_session(opts)?;
    let labels = expand_patterns(&session, &[pattern.to_string()])?;
    let (_, targets) = analyze_all(&session, &labels)?;
    for t in targets {
        let deps: Vec<String> = t.deps.iter().map(Label::to_string).collect();
        println!("{} ({}) deps: [{}]", t.target.label, t.kind, deps.join(", "));
    }
    Ok(())
}

fn aquery_command(opts: &BuildOpts, pattern: &str) -> Result<()> {
    let session = open_session(opts)?;
    let labels = expand_patterns(&session, &[pattern.to_string()])?;
    let (analyzer, targets) = analyze_all(&session, &labels)?;
    let graph = analyzer.graph.borrow();
    for i in exec::needed_actions(&graph, &requested_paths(&targets, true)) {
        let a = &graph.actions[i];
        let argv = match &a.kind {
            ActionKind::Run { argv, .. } => argv.clone(),
            _ => Vec::new(),
        };
        let line = serde_json::json!({
            "mnemonic": a.mnemonic, "target": a.owner, "inputs": a.inputs,
            "outputs": a.outputs.iter().map(|o| &o.path).collect::<Vec<_>>(), "argv": argv,
        });
        println!("{line}");
    }
    Ok(())
}

fn import_command(opts: &crate::import::ImportOpts) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let has_marker = ["MODULE.bazel", "WORKSPACE", "WORKSPACE.bazel"].iter().any(|m| cwd.join(m).is_file());
    if !has_marker {
        // A Cargo workspace becomes a Bazel workspace at its root (WORKSPACE mode; bzlmod
        // users add `bazel_dep(name = "rules_relink")` and the extension themselves).
        let rules = crate::repos::rules_dir(&cache_root(None))?;
        let builder = crate::repos::builder()?;
        std::fs::write(
            cwd.join("WORKSPACE"),
            format!(
                "# Written by `relink import`. relink reads the workspace name only; Bazel reads it all.\nworkspace(name = \"imported\")\n\nlocal_repository(name = \"rules_relink\", path = \"{}\")\n\nload(\"@rules_relink//rules:repositories.bzl\", \"relink_register_toolchains\")\n\n# The relink-builder next to the relink that imported this workspace; remove `builder`\n# to let Bazel build it with cargo from the rules' sources.\nrelink_register_toolchains(builder = \"{}\")\n",
                rules.display(),
                builder.display()
            ),
        )?;
    }
    let ws = Workspace::find(&cwd)?;
    crate::import::run(&ws.root, opts)
}

fn clean_command(expunge: bool, cache_dir: Option<PathBuf>) -> Result<()> {
    let ws = Workspace::find(&std::env::current_dir()?)?;
    let root = cache_root(cache_dir);
    let _ = std::fs::remove_dir_all(ws.root.join("relink-bin"));
    if expunge {
        if root.exists() {
            make_writable(&root)?;
            std::fs::remove_dir_all(&root)?;
        }
    } else {
        let cache = Cache::open(root)?;
        let _ = std::fs::remove_dir_all(state_dir(&cache, &ws));
    }
    Ok(())
}

fn make_writable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755))?;
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

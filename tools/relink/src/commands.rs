//! The commands: pattern expansion, build, test, run, explain, query, aquery, clean.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};

use crate::execution::{exec_options, materialize_outputs, requested_paths};
use crate::plan::{self, cache_root, open_session, state_dir, Analysis, Session, TargetSummary};
use crate::records::{explain_command, ExecutionLog};
use crate::{BuildOpts, Cli, CommandKind};
use relink_core::action::{Action, ActionKind, Output};
use relink_core::workspace::Workspace;
use relink_exec as exec;
use relink_exec::cache::Cache;
use relink_exec::{CacheStatus, Outcome};

/// An error that ends relink with its own exit code (Bazel's codes; see [`EXIT_CODES`]).
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Exit codes, as Bazel's (also printed by `relink --help`).
pub const EXIT_CODES: &str = "Exit codes (Bazel's): 0 success; 1 build failed (an action, a BUILD file or a target \
pattern); 2 bad command line; 3 built, but tests failed; 4 no test targets match; 8 interrupted \
(Ctrl-C: every running action is stopped); `relink run` exits with the program's own code.";

/// The exit code for an error that ended a command.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.downcast_ref::<Exit>().map_or(1, |e| e.code)
}

/// Run a command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        CommandKind::Build { opts, patterns } => {
            let code = build_command(&opts, &patterns, false).map(|ok| if ok { 0 } else { 3 });
            crate::cache_commands::auto_gc(opts.cache_dir.clone());
            code
        }
        CommandKind::Test { opts, patterns } => {
            let cache_dir = opts.cache_dir.clone();
            let code = build_command(&with_test_profile(opts), &patterns, true).map(|ok| if ok { 0 } else { 3 });
            crate::cache_commands::auto_gc(cache_dir);
            code
        }
        CommandKind::Run { opts, label, args } => run_command(&opts, &label, &args),
        CommandKind::Provenance { opts, label } => provenance_command(&opts, &label).map(|_| 0),
        CommandKind::Explain { label, cache_dir, invocation } => {
            explain_command(label.as_deref(), cache_dir, invocation)
        }
        CommandKind::Query { opts, pattern } => query_command(&opts, &pattern).map(|_| 0),
        CommandKind::Aquery { opts, pattern } => aquery_command(&opts, &pattern).map(|_| 0),
        CommandKind::Clean { expunge, cache_dir } => clean_command(expunge, cache_dir).map(|_| 0),
        CommandKind::Verify { cache_dir } => crate::cache_commands::verify_command(cache_dir),
        CommandKind::Cache { action } => crate::cache_commands::run(action),
        CommandKind::Import { opts } => import_command(&opts).map(|_| 0),
        CommandKind::Clippy { opts, patterns, lint_flags } => {
            crate::lint::clippy_command(&opts, &patterns, &lint_flags).map(|ok| if ok { 0 } else { 1 })
        }
        CommandKind::Fmt { opts, check, patterns } => {
            crate::lint::fmt_command(&opts, &patterns, check).map(|ok| if ok { 0 } else { 1 })
        }
        CommandKind::RustProject { opts, out, patterns } => {
            crate::rust_project::command(&opts, &patterns, out).map(|_| 0)
        }
    }
}

/// What a build produced.
struct Built {
    targets: Vec<TargetSummary>,
    outcomes: HashMap<usize, Outcome>,
    /// Failed actions with their errors (keep-going).
    failed: Vec<(usize, anyhow::Error)>,
    /// Actions not run because something they need failed.
    skipped: usize,
    /// (test target label, index of its TestRunner action).
    test_actions: Vec<(String, usize)>,
}

/// `RELINK_TIMING=1` prints how long each phase took.
fn phase(name: &str, since: &mut Instant) {
    if std::env::var_os("RELINK_TIMING").is_some() {
        eprintln!("relink: {name}: {:.3} s", since.elapsed().as_secs_f64());
    }
    *since = Instant::now();
}

/// Analyse `patterns` and run what their outputs need, plus `extra` actions (tests) added to
/// the graph after analysis.
fn build(
    session: &Session,
    opts: &BuildOpts,
    patterns: &[String],
    log: &mut ExecutionLog,
    tests: bool,
) -> Result<(Analysis, Built)> {
    let mut t = Instant::now();
    let mut analysis = plan::analyze(session, patterns)?;
    phase(if analysis.reused { "loading and analysis (reused)" } else { "loading and analysis" }, &mut t);
    let paths = requested_paths(&analysis.targets, false);
    let test_actions = if tests {
        add_test_actions(&mut analysis, opts.test_timeout, &test_environment(&opts.test_env)?)?
    } else {
        Vec::new()
    };
    let mut wanted = paths.clone();
    wanted.extend(test_actions.iter().map(|(_, i)| analysis.graph.actions[*i].outputs[0].path.clone()));
    let needed = exec::needed_actions(&analysis.graph, &wanted);
    let executed = exec::execute(&analysis.graph, &needed, &exec_options(session, opts, opts.keep_going || tests))?;
    session.sources.save()?;
    phase("execution", &mut t);
    log.record(&analysis.graph.actions, &executed.outcomes)?;
    log.record_failures(&analysis.graph.actions, &executed.failed)?;
    if exec::interrupt::interrupted() {
        log.save()?;
        return Err(Exit {
            code: exec::interrupt::EXIT_INTERRUPTED,
            message: "interrupted: every running action was stopped".to_string(),
        }
        .into());
    }
    materialize_outputs(session, &paths, &executed.outcomes)?;
    phase("outputs and log", &mut t);
    let targets = analysis.targets.clone();
    Ok((
        analysis,
        Built {
            targets,
            outcomes: executed.outcomes,
            failed: executed.failed,
            skipped: executed.skipped,
            test_actions,
        },
    ))
}

fn build_command(opts: &BuildOpts, patterns: &[String], tests: bool) -> Result<bool> {
    let start = Instant::now();
    let mut t = Instant::now();
    let session = open_session(opts)?;
    phase("workspace and toolchain", &mut t);
    let mut log = ExecutionLog::open(&session, opts.execution_log.as_deref())?;
    let (_, built) = match build(&session, opts, patterns, &mut log, tests) {
        Ok(b) => b,
        Err(e) => {
            log.save()?;
            return Err(e);
        }
    };
    let executed = built.outcomes.values().filter(|o| o.cache == CacheStatus::Miss).count();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r\x1b[K");
    }
    let tested: std::collections::HashSet<usize> = built.test_actions.iter().map(|(_, i)| *i).collect();
    for (_, err) in built.failed.iter().filter(|(i, _)| !tested.contains(i)) {
        eprintln!("ERROR: {err:#}");
    }
    eprintln!(
        "relink: {} targets, {} actions: {} executed, {} cache hits{}{}{} ({:.2} s)",
        built.targets.len(),
        built.outcomes.len() + built.failed.len(),
        executed,
        built.outcomes.len() - executed,
        match built.outcomes.values().filter(|o| o.remote).count() {
            0 => String::new(),
            n => format!(" ({n} remote)"),
        },
        if built.failed.is_empty() { String::new() } else { format!(", {} failed", built.failed.len()) },
        if built.skipped == 0 { String::new() } else { format!(", {} not run", built.skipped) },
        start.elapsed().as_secs_f64()
    );
    let build_failed = built.failed.iter().any(|(i, _)| !tested.contains(i));
    let tests_ok = if tests { report_tests(&session, &built) } else { true };
    log.save()?;
    if build_failed {
        bail!(
            "the build failed: {} action(s) failed",
            built.failed.iter().filter(|(i, _)| !tested.contains(i)).count()
        );
    }
    Ok(tests_ok)
}

/// `--test_env` values: `NAME=VALUE`, or `NAME` for this process's value (left out when unset,
/// as Bazel does).
fn test_environment(specs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for spec in specs {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (spec.as_str(), std::env::var(spec).ok()),
        };
        if name.is_empty() || name.contains(['\0', ' ']) {
            return Err(Exit { code: 2, message: format!("--test_env {spec:?}: give NAME=VALUE or NAME") }.into());
        }
        if let Some(value) = value {
            env.insert(name.to_string(), value);
        }
    }
    Ok(env)
}

/// What every test sees before its TEST_TARGET and `--test_env`: the user's PATH, as `cargo
/// test` keeps it (a test that runs a tool from ~/.cargo/bin works); from Bazel's test
/// encyclopedia, HOME as the test's private TEST_TMPDIR and USER/LOGNAME as the user's login
/// name. All are part of the test's key: another PATH or another user runs it again.
fn default_test_environment() -> BTreeMap<String, String> {
    let tmp = "/tmp".to_string();
    let mut env = BTreeMap::from([
        ("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string())),
        ("HOME".to_string(), tmp.clone()),
        ("TEST_TMPDIR".to_string(), tmp),
    ]);
    if let Some(user) = login_name() {
        env.insert("USER".to_string(), user.clone());
        env.insert("LOGNAME".to_string(), user);
    }
    env
}

/// The login name of the real user (its password entry), else $USER or $LOGNAME.
fn login_name() -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwuid_r writes into `entry` and `buffer`, whose sizes it is given; the name
    // is read before either goes away.
    let from_passwd = unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(libc::getuid(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found);
        (rc == 0 && !found.is_null() && !entry.pw_name.is_null())
            .then(|| std::ffi::CStr::from_ptr(entry.pw_name).to_string_lossy().into_owned())
    };
    from_passwd
        .filter(|n| !n.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|n| !n.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|n| !n.is_empty()))
}

/// A `TestRunner` action for every test target: runs the test binary, its log an output
/// (passing results are cached). Returns (label, action index).
fn add_test_actions(
    analysis: &mut Analysis,
    test_timeout: u64,
    test_env: &BTreeMap<String, String>,
) -> Result<Vec<(String, usize)>> {
    let tests: Vec<TargetSummary> = analysis.targets.iter().filter(|t| t.is_test).cloned().collect();
    if tests.is_empty() {
        return Err(Exit {
            code: 4,
            message: "no test targets match: name rust_test targets or a package that has some".into(),
        }
        .into());
    }
    let base_env = default_test_environment();
    let mut added = Vec::new();
    for t in tests {
        let exe = t.executable.as_ref().ok_or_else(|| anyhow!("test {} has no executable", t.label))?;
        let log_path = test_log_path(exe);
        let mut inputs: Vec<String> = vec![exe.clone()];
        inputs.extend(t.runfiles.iter().cloned());
        let script = "\"$1\" > \"$2\" 2>&1; code=$?; if [ $code -ne 0 ]; then cat \"$2\" >&2; fi; exit $code";
        let mut env = base_env.clone();
        env.insert("TEST_TARGET".to_string(), t.label.clone());
        env.extend(test_env.clone());
        analysis.graph.add(Action {
            mnemonic: "TestRunner".into(),
            owner: t.label.clone(),
            kind: ActionKind::Run {
                argv: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    script.into(),
                    "relink-test".into(),
                    exe.clone(),
                    log_path.clone(),
                ],
                env,
            },
            inputs,
            outputs: vec![Output { path: log_path, is_dir: false }],
            unused_inputs_list: None,
            requirements: BTreeMap::from([("timeout".to_string(), test_timeout.to_string())]),
        })?;
        added.push((t.label, analysis.graph.actions.len() - 1));
    }
    Ok(added)
}

/// Where a test's run writes what it printed (the `TestRunner` action's output).
fn test_log_path(exe: &str) -> String {
    format!("{exe}.test.log")
}

/// One line per test target (with the counts its harness printed) and a total.
fn report_tests(session: &Session, built: &Built) -> bool {
    let (mut passed, mut failed, mut not_run) = (0, 0, 0);
    let mut counts = TestCounts::default();
    for (label, index) in &built.test_actions {
        if let Some(outcome) = built.outcomes.get(index) {
            passed += 1;
            let log = outcome
                .result
                .as_ref()
                .and_then(|r| r.files.first())
                .filter(|f| relink_exec::ensure_local(&session.cache, session.remote.as_ref(), f).is_ok())
                .and_then(|f| fs_err::read_to_string(session.cache.blob_path(&f.digest, f.executable)).ok());
            let here = log.as_deref().map(TestCounts::parse).unwrap_or_default();
            counts.add(&here);
            let cached = if outcome.cache == CacheStatus::Hit { " (cached)" } else { "" };
            println!("PASSED {label}{cached} ({}) ({:.1} s)", here.describe(), outcome.duration_ms as f64 / 1000.0);
        } else if let Some((_, err)) = built.failed.iter().find(|(i, _)| i == index) {
            failed += 1;
            // A failed run's log is not an output: it stays in the kept sandbox.
            let log = err.downcast_ref::<exec::ActionFailed>().and_then(|failure| {
                let exe = built.targets.iter().find(|t| &t.label == label)?.executable.clone()?;
                fs_err::read_to_string(failure.sandbox.join(test_log_path(&exe))).ok()
            });
            let here = log.as_deref().map(TestCounts::parse).unwrap_or_default();
            counts.add(&here);
            let first_line = format!("{err:#}").lines().next().unwrap_or_default().to_string();
            println!("FAILED {label} ({}): {first_line}", here.describe_failed());
        } else {
            not_run += 1;
            println!("NO STATUS {label}: something it needs failed to build");
        }
    }
    println!(
        "{passed} passed, {failed} failed{} ({} tests passed, {} failed, {} ignored)",
        if not_run > 0 { format!(", {not_run} not run") } else { String::new() },
        counts.passed,
        counts.failed,
        counts.ignored
    );
    failed == 0 && not_run == 0
}

/// What libtest printed in its `test result:` lines.
#[derive(Default, Debug, PartialEq, Eq)]
struct TestCounts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl TestCounts {
    fn parse(log: &str) -> TestCounts {
        let mut c = TestCounts::default();
        for line in log.lines().filter_map(|l| l.trim_start().strip_prefix("test result: ")) {
            for part in line.split([';', '.']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (words.next().and_then(|n| n.parse::<u64>().ok()), words.next()) {
                    match what {
                        "passed" => c.passed += n,
                        "failed" => c.failed += n,
                        "ignored" => c.ignored += n,
                        _ => {}
                    }
                }
            }
        }
        c
    }

    fn add(&mut self, other: &TestCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }

    fn describe(&self) -> String {
        format!("{} passed, {} ignored", self.passed, self.ignored)
    }

    fn describe_failed(&self) -> String {
        format!("{} passed, {} failed, {} ignored", self.passed, self.failed, self.ignored)
    }
}

/// `relink test` builds with Cargo's `test` profile, as `cargo test` does (`release` under
/// `-c opt`, as `cargo test --release`), unless a profile is given.
fn with_test_profile(mut opts: BuildOpts) -> BuildOpts {
    let chosen =
        opts.profile.is_some() || opts.defines.iter().any(|d| d.starts_with(&format!("{}=", plan::PROFILE_DEFINE)));
    if !chosen && opts.compilation_mode != "opt" {
        opts.profile = Some("test".to_string());
    }
    opts
}

/// Build one target for a command that then uses it (`run`, `provenance`): its first failure
/// is the command's error.
fn build_label(opts: &BuildOpts, label: &str) -> Result<(Session, Analysis, Built)> {
    let session = open_session(opts)?;
    let mut log = ExecutionLog::open(&session, opts.execution_log.as_deref())?;
    let (analysis, mut built) = build(&session, opts, &[label.to_string()], &mut log, false)?;
    log.save()?;
    if !built.failed.is_empty() {
        return Err(built.failed.remove(0).1);
    }
    Ok((session, analysis, built))
}

fn run_command(opts: &BuildOpts, label: &str, args: &[String]) -> Result<i32> {
    let (session, _, built) = build_label(opts, label)?;
    let target = built.targets.first().ok_or_else(|| anyhow!("nothing to run"))?;
    let exe = target.executable.as_ref().ok_or_else(|| anyhow!("{} is not executable", target.label))?;
    let rel = exe.strip_prefix(&format!("{}/", session.config.bin_dir())).unwrap_or(exe);
    let path = session.loader.workspace.root.join("relink-bin").join(rel);
    let status = std::process::Command::new(&path)
        .args(args)
        .env("BUILD_WORKSPACE_DIRECTORY", &session.loader.workspace.root)
        .status()
        .with_context(|| format!("cannot run {}", path.display()))?;
    Ok(status.code().unwrap_or(1))
}

fn provenance_command(opts: &BuildOpts, label: &str) -> Result<()> {
    let (session, analysis, built) = build_label(opts, label)?;
    let target = built.targets.first().ok_or_else(|| anyhow!("no target {label}"))?;
    let mut indexes: Vec<&usize> = built.outcomes.keys().collect();
    indexes.sort();
    for i in indexes {
        let outcome = &built.outcomes[i];
        if outcome.target != target.label || !matches!(analysis.graph.actions[*i].kind, ActionKind::Run { .. }) {
            continue;
        }
        println!("{} {} (action {})", outcome.mnemonic, outcome.target, &outcome.key[..16]);
        match session.cache.provenance(&outcome.key) {
            Some(envelope) => print!("{}", exec::provenance::describe(&envelope)?),
            None => println!("  built on this machine; no signed provenance (built without --remote_cache)"),
        }
    }
    Ok(())
}

fn query_command(opts: &BuildOpts, pattern: &str) -> Result<()> {
    let session = open_session(opts)?;
    let analysis = plan::analyze(&session, &[pattern.to_string()])?;
    for t in &analysis.targets {
        println!("{} ({}) deps: [{}]", t.label, t.kind, t.deps.join(", "));
    }
    Ok(())
}

fn aquery_command(opts: &BuildOpts, pattern: &str) -> Result<()> {
    let session = open_session(opts)?;
    let analysis = plan::analyze(&session, &[pattern.to_string()])?;
    let graph = &analysis.graph;
    for i in exec::needed_actions(graph, &requested_paths(&analysis.targets, true)) {
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

fn import_command(opts: &relink_import::ImportOpts) -> Result<()> {
    let cwd = std::env::current_dir()?;
    let has_marker = ["MODULE.bazel", "WORKSPACE", "WORKSPACE.bazel"].iter().any(|m| cwd.join(m).is_file());
    if !has_marker {
        // A Cargo workspace becomes a Bazel workspace at its root (WORKSPACE mode; bzlmod
        // users add `bazel_dep(name = "rules_relink")` and the extension themselves).
        let rules = crate::repos::rules_dir(&cache_root(None))?;
        let builder = crate::repos::builder()?;
        fs_err::write(
            cwd.join("WORKSPACE"),
            format!(
                "# Written by `relink import`. relink reads the workspace name only; Bazel reads it all.\nworkspace(name = \"imported\")\n\nlocal_repository(name = \"rules_relink\", path = \"{}\")\n\nload(\"@rules_relink//rules:repositories.bzl\", \"relink_register_toolchains\")\n\n# The relink-builder next to the relink that imported this workspace; remove `builder`\n# to let Bazel build it with cargo from the rules' sources.\nrelink_register_toolchains(builder = \"{}\")\n",
                rules.display(),
                builder.display()
            ),
        )?;
    }
    let ws = Workspace::find(&cwd)?;
    let builder = if opts.buck2 { Some(crate::repos::builder()?) } else { None };
    relink_import::run(&ws.root, opts, builder.as_deref())
}

fn clean_command(expunge: bool, cache_dir: Option<PathBuf>) -> Result<()> {
    let ws = Workspace::find(&std::env::current_dir()?)?;
    let root = cache_root(cache_dir);
    let _ = fs_err::remove_dir_all(ws.root.join("relink-bin"));
    if expunge {
        if root.exists() {
            make_writable(&root)?;
            fs_err::remove_dir_all(&root)?;
        }
    } else {
        let cache = Cache::open(root)?;
        let _ = fs_err::remove_dir_all(state_dir(&cache, &ws));
        let (count, bytes) = reclaim_sandboxes(&cache.root.join("sandbox"))?;
        if count > 0 {
            eprintln!("relink clean: removed {count} sandboxes of earlier builds ({:.1} MB)", bytes as f64 / 1e6);
        }
    }
    Ok(())
}

/// Remove the sandboxes (`PID-N`, kept after failures or left by a killed relink, with the
/// private `/tmp` beside each, `PID-N.tmp`) whose relink process is gone; returns how many
/// sandboxes and their size.
fn reclaim_sandboxes(dir: &Path) -> Result<(usize, u64)> {
    let Ok(entries) = fs_err::read_dir(dir) else { return Ok((0, 0)) };
    let (mut count, mut bytes) = (0, 0);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.split_once('-').and_then(|(p, _)| p.parse::<u32>().ok()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() && pid != std::process::id() {
            continue;
        }
        bytes += tree_size(&entry.path());
        make_writable(&entry.path())?;
        fs_err::remove_dir_all(entry.path())
            .with_context(|| format!("cannot remove the sandbox {}", entry.path().display()))?;
        if !name.ends_with(".tmp") {
            count += 1;
        }
    }
    Ok((count, bytes))
}

fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs_err::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    fs_err::read_dir(path).map(|es| es.flatten().map(|e| tree_size(&e.path())).sum()).unwrap_or(0)
}

fn make_writable(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            fs_err::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o755))?;
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

//! Helpers for relink's integration tests: scratch workspaces, a private cache, running the
//! `relink` binary, and reading its execution log.
#![allow(dead_code)]

pub mod crate_sets;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The switch of the real-code tier: `RELINK_REAL_CODE_TESTS=1` runs the suites that build
/// real projects (crates.io downloads, Bazel, ripgrep, replays of real history); `.ci/run`
/// sets it. Without it `cargo test` is the fast, offline tier. Returns whether to run, and
/// says so when skipping.
pub fn real_code_tier(test: &str) -> bool {
    let on = std::env::var_os("RELINK_REAL_CODE_TESTS").is_some_and(|v| v != "0");
    if !on {
        eprintln!("skipped {test}: a real-code test (set RELINK_REAL_CODE_TESTS=1 to run it)");
        return false;
    }
    !suite_runs_elsewhere(test)
}

/// Whether this test binary's suite runs in another process (`RELINK_SUITES_RUN_ELSEWHERE`),
/// said on stderr: for fast-tier tests of such suites, which would otherwise run twice.
pub fn suite_runs_elsewhere(test: &str) -> bool {
    let Some(suite) = suite_run_elsewhere() else { return false };
    eprintln!("skipped {test}: suite {suite} runs in its own process (RELINK_SUITES_RUN_ELSEWHERE)");
    true
}

/// This test binary's suite name when `RELINK_SUITES_RUN_ELSEWHERE` (comma-separated suite
/// names) lists it: `.ci/run` runs some suites (those that mostly wait on a daemon, and the
/// crates.io applications) as their own processes beside the main `cargo test`, which skips
/// them.
fn suite_run_elsewhere() -> Option<String> {
    let listed = std::env::var("RELINK_SUITES_RUN_ELSEWHERE").ok()?;
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    // Cargo names a test binary `<suite>-<16 hex digits>`.
    let suite = stem.rsplit_once('-').map_or(stem, |(name, _hash)| name);
    listed.split(',').map(str::trim).any(|s| s == suite).then(|| suite.to_string())
}

/// The repository root (rules/, examples/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh, empty scratch directory named after `tag`.
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "relink-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("RELINK_KEEP_TEST_DIRS").is_none() {
            let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Copy a directory tree (skipping relink-bin).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "relink-bin" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A workspace copy with its own cache.
pub struct Ws {
    pub dir: PathBuf,
    pub cache: PathBuf,
    _scratch: Option<Scratch>,
}

impl Ws {
    /// Copy `source` (a workspace directory) into a scratch dir.
    pub fn copy_of(source: &Path, tag: &str) -> Ws {
        let scratch = Scratch::new(tag);
        let dir = scratch.0.join("ws");
        copy_tree(source, &dir);
        let cache = scratch.0.join("cache");
        Ws { dir, cache, _scratch: Some(scratch) }
    }

    /// A workspace already at `dir` (owned by the caller), with `cache`.
    pub fn at(dir: PathBuf, cache: PathBuf) -> Ws {
        Ws { dir, cache, _scratch: None }
    }

    /// Run relink with `args` in the workspace.
    pub fn relink(&self, args: &[&str]) -> Output {
        self.relink_with_cache(args, &self.cache)
    }

    /// Run relink with another cache directory.
    pub fn relink_with_cache(&self, args: &[&str], cache: &Path) -> Output {
        relink_command(&self.dir, cache).args(args).output().expect("relink runs")
    }

    /// Run relink and require success; returns the execution log entries.
    pub fn build_ok(&self, args: &[&str]) -> Vec<LogEntry> {
        let log = self.dir.join("..").join(format!("log-{}.jsonl", LOGS.fetch_add(1, Ordering::Relaxed)));
        let mut full = vec![args[0], "--execution-log", log.to_str().unwrap()];
        full.extend_from_slice(&args[1..]);
        let out = self.relink(&full);
        assert!(out.status.success(), "relink {:?} failed:\n{}", args, String::from_utf8_lossy(&out.stderr));
        read_log(&log)
    }

    /// Path of a file in the workspace.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Replace `from` by `to` in a workspace file (which must contain it).
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.path(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

static LOGS: AtomicUsize = AtomicUsize::new(0);

/// A `relink` command for `dir` using `cache`.
pub fn relink_command(dir: &Path, cache: &Path) -> Command {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_relink"));
    let builder = exe.with_file_name("relink-builder");
    assert!(builder.is_file(), "{} is missing: build the workspace first (cargo build --workspace)", builder.display());
    let mut cmd = Command::new(exe);
    cmd.current_dir(dir).env("RELINK_CACHE", cache).env("RELINK_BUILDER", builder);
    cmd
}

/// One line of the execution log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub mnemonic: String,
    pub target: String,
    pub cache: String,
    pub outputs: Vec<String>,
    /// Digest of every output file.
    pub digests: std::collections::BTreeMap<String, String>,
}

/// Parse an execution log.
pub fn read_log(path: &Path) -> Vec<LogEntry> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in ["mnemonic", "target", "cache", "duration_ms", "outputs"] {
                assert!(v.get(key).is_some(), "log line lacks {key}: {line}");
            }
            LogEntry {
                mnemonic: v["mnemonic"].as_str().unwrap().to_string(),
                target: v["target"].as_str().unwrap().to_string(),
                cache: v["cache"].as_str().unwrap().to_string(),
                outputs: v["outputs"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect(),
                digests: v["output_digests"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, d)| (k.clone(), d.as_str().unwrap_or_default().to_string())).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// (mnemonic, target) of every action that ran (cache miss), sorted.
pub fn executed(log: &[LogEntry]) -> Vec<(String, String)> {
    let mut v: Vec<_> =
        log.iter().filter(|e| e.cache == "miss").map(|e| (e.mnemonic.clone(), e.target.clone())).collect();
    v.sort();
    v
}

/// Pairs from string slices, sorted.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

/// blake3 of every file under `dir`, by relative path.
pub fn digests_under(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, blake3::hash(&std::fs::read(e.path()).unwrap()).to_hex().to_string());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The doctest targets of ripgrep 15.2.0's member libraries with the counts `cargo test --doc`
/// reports for them (22 pass, 2 are ignored; grep and grep-regex have none).
pub const RIPGREP_DOCTESTS: &[(&str, &str)] = &[
    ("//crates/globset:globset_doctest", "5 passed, 0 ignored"),
    ("//crates/grep:grep_doctest", "0 passed, 0 ignored"),
    ("//crates/grep-cli:grep-cli_doctest", "6 passed, 2 ignored"),
    ("//crates/grep-matcher:grep-matcher_doctest", "1 passed, 0 ignored"),
    ("//crates/grep-printer:grep-printer_doctest", "3 passed, 0 ignored"),
    ("//crates/grep-regex:grep-regex_doctest", "0 passed, 0 ignored"),
    ("//crates/grep-searcher:grep-searcher_doctest", "1 passed, 0 ignored"),
    ("//crates/ignore:ignore_doctest", "6 passed, 0 ignored"),
];

/// Whether `relink test`'s output reports every ripgrep doctest target with Cargo's counts;
/// the targets that do not, if any.
pub fn ripgrep_doctests_missing(stdout: &str) -> Vec<String> {
    RIPGREP_DOCTESTS
        .iter()
        .map(|(target, counts)| format!("{target} ({counts})"))
        .filter(|line| {
            !stdout.lines().any(|l| l.starts_with("PASSED ") && l.replace(" (cached)", "").contains(line.as_str()))
        })
        .collect()
}

/// ripgrep 15.2.0 assembled from crates.io (bench/ripgrep_workspace.sh) in a scratch
/// workspace with its own cache, not yet imported. Keep the Scratch alive with the Ws.
pub fn ripgrep_workspace(tag: &str) -> (Scratch, Ws) {
    let scratch = Scratch::new(tag);
    let dir = scratch.0.join("ripgrep");
    let status = Command::new("bash").arg(repo_root().join("bench/ripgrep_workspace.sh")).arg(&dir).status().unwrap();
    assert!(status.success(), "assembling the ripgrep workspace failed");
    let ws = Ws::copy_of(&dir, &format!("{tag}-ws"));
    (scratch, ws)
}

/// Run the shell script `tests/SCRIPT` (a Bazel or Buck2 suite) with this build's relink and
/// relink-builder and `env`; its stdout, after checking that it succeeded and printed `ok_line`.
pub fn run_suite_script(script: &str, ok_line: &str, env: &[(&str, &Path)]) -> String {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_relink"));
    let out = Command::new("bash")
        .arg(repo_root().join("tests").join(script))
        .env("RELINK", &exe)
        .env("RELINK_BUILDER", exe.with_file_name("relink-builder"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(ok_line), "{stdout}");
    stdout
}

/// A crate's source from crates.io (cached like bench/ripgrep_workspace.sh does), unpacked
/// into `into`. Returns the package directory.
pub fn crates_io_package(name: &str, version: &str, into: &std::path::Path) -> std::path::PathBuf {
    let cache = std::env::var_os("RELINK_CRATE_DOWNLOADS").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/relink-crate-downloads")
    });
    std::fs::create_dir_all(&cache).unwrap();
    let file = cache.join(format!("{name}-{version}.crate"));
    if !file.is_file() {
        // Download under a name of this process, then rename: test processes running side by
        // side never see a half-written file.
        let url = format!("https://static.crates.io/crates/{name}/{name}-{version}.crate");
        let partial = cache.join(format!("{name}-{version}.crate.{}.tmp", std::process::id()));
        let status = std::process::Command::new("curl").args(["-sSfL", "-o"]).arg(&partial).arg(&url).status().unwrap();
        assert!(status.success(), "cannot download {url}");
        std::fs::rename(&partial, &file).unwrap();
    }
    let status = std::process::Command::new("tar").arg("xzf").arg(&file).arg("-C").arg(into).status().unwrap();
    assert!(status.success());
    into.join(format!("{name}-{version}"))
}

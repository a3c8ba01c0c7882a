//! The execution log (`--execution-log`) and the records `relink explain` reads.
//!
//! Every action that ran, hit the cache or failed is written as one JSON line. For explain,
//! each action's inputs and outputs are remembered between commands (keyed by target, mnemonic
//! and first output), so that a rerun can name the inputs that changed; when a `RustStub`
//! produced another stub, the ABI items that differ are named too (`relink-builder
//! stub-diff` over the two stubs, read back from the store).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::plan::{cache_root, state_dir, Session};
use relink_core::action::Action;
use relink_core::label::Label;
use relink_core::workspace::Workspace;
use relink_exec::cache::Cache;
use relink_exec::{CacheStatus, Outcome};

/// Execution log and explain records.
pub struct ExecutionLog {
    file: Option<std::fs::File>,
    state_dir: PathBuf,
    cache: Cache,
    /// Where the sources are (stub paths are relative to it).
    workspace_root: PathBuf,
    entries: Vec<ExplainEntry>,
    /// The records of earlier commands (`actions.json`), read when first needed: a build that
    /// only hits the cache with the records it had last time neither reads nor writes them.
    previous: Option<HashMap<String, ActionRecord>>,
    /// A fingerprint of each stored record (`action-fingerprints.json`, small).
    fingerprints: HashMap<String, String>,
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
    cache: CacheStatus,
    /// Inputs whose digest changed since the previous run of this action (or why it ran).
    changed: Vec<String>,
    /// The action ran but produced byte-identical outputs: everything keyed on them is cut off.
    #[serde(default)]
    outputs_unchanged: bool,
    /// For a stub that changed: the ABI items that differ (`file:line: item: cause`).
    #[serde(default)]
    abi_changes: Vec<String>,
}

impl ExecutionLog {
    pub fn open(session: &Session, path: Option<&Path>) -> Result<ExecutionLog> {
        let state_dir = state_dir(&session.cache, &session.loader.workspace);
        fs_err::create_dir_all(&state_dir)?;
        let fingerprints = read_json(&state_dir.join(FINGERPRINTS));
        let file = match path {
            Some(p) => Some(std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?),
            None => None,
        };
        let workspace_root = session.loader.workspace.root.clone();
        Ok(ExecutionLog {
            file,
            state_dir,
            cache: session.cache.clone(),
            workspace_root,
            entries: Vec::new(),
            previous: None,
            fingerprints,
            current: HashMap::new(),
        })
    }

    /// The stored records, read on first use.
    fn previous(&mut self) -> &mut HashMap<String, ActionRecord> {
        let file = self.state_dir.join(ACTIONS);
        self.previous.get_or_insert_with(|| read_json(&file))
    }

    pub fn record(&mut self, actions: &[Action], outcomes: &HashMap<usize, Outcome>) -> Result<()> {
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
            // A hit names no changes, so it needs no earlier record.
            let prev = if o.cache == CacheStatus::Hit { None } else { self.previous().get(&id).cloned() };
            let changed = if o.cache == CacheStatus::Hit {
                Vec::new()
            } else {
                match &prev {
                    None => vec!["(first run of this action)".to_string()],
                    Some(prev) => {
                        let mut c: Vec<String> = o
                            .inputs
                            .iter()
                            .filter(|(p, d)| prev.inputs.get(*p) != Some(d))
                            .map(|(p, _)| p.clone())
                            .collect();
                        c.extend(
                            prev.inputs.keys().filter(|p| !o.inputs.contains_key(*p)).map(|p| format!("{p} (removed)")),
                        );
                        if c.is_empty() {
                            c.push(
                                "(command line, environment or outputs changed, or the cache entry was missing)"
                                    .to_string(),
                            );
                        }
                        c
                    }
                }
            };
            let outputs: BTreeMap<String, String> =
                o.result.iter().flat_map(|r| r.files.iter().map(|f| (f.path.clone(), f.digest.clone()))).collect();
            let outputs_unchanged = o.cache == CacheStatus::Miss
                && prev.as_ref().is_some_and(|p| !p.outputs.is_empty() && p.outputs == outputs);
            let abi_changes = match &prev {
                Some(prev) if o.mnemonic == "RustStub" && o.cache == CacheStatus::Miss && !outputs_unchanged => {
                    self.stub_changes(a, &prev.outputs, &outputs)
                }
                _ => Vec::new(),
            };
            self.entries.push(ExplainEntry {
                mnemonic: o.mnemonic.clone(),
                target: o.target.clone(),
                cache: o.cache,
                changed,
                outputs_unchanged,
                abi_changes,
            });
            self.current.insert(id, ActionRecord { key: o.key.clone(), inputs: o.inputs.clone(), outputs });
        }
        Ok(())
    }

    /// One line per failed action (`"cache": "failed"`, the error), and explain records.
    pub fn record_failures(&mut self, actions: &[Action], failed: &[(usize, anyhow::Error)]) -> Result<()> {
        for (index, err) in failed {
            let a = &actions[*index];
            if let Some(f) = &mut self.file {
                let process = err.downcast_ref::<relink_exec::ActionFailed>();
                let line = serde_json::json!({
                    "mnemonic": a.mnemonic, "target": a.owner, "cache": CacheStatus::Failed,
                    "duration_ms": process.map_or(0, |p| p.duration_ms),
                    "exit_code": process.and_then(|p| p.exit_code),
                    "sandbox": process.map(|p| p.sandbox.display().to_string()),
                    "outputs": a.outputs.iter().map(|o| &o.path).collect::<Vec<_>>(), "error": format!("{err:#}"),
                });
                serde_json::to_writer(&mut *f, &line)?;
                f.write_all(b"\n")?;
            }
            self.entries.push(ExplainEntry {
                mnemonic: a.mnemonic.clone(),
                target: a.owner.clone(),
                cache: CacheStatus::Failed,
                changed: vec![format!("{err:#}").lines().next().unwrap_or_default().to_string()],
                outputs_unchanged: false,
                abi_changes: Vec::new(),
            });
        }
        Ok(())
    }

    /// The ABI items that differ between two outputs of a `RustStub` (its first output is the
    /// stub directory): both stubs are read back from the store and compared by the builder.
    /// Best effort: a stub no longer in the store gives no names.
    fn stub_changes(
        &self,
        action: &Action,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let Some(dir) = action.outputs.first().map(|o| format!("{}/", o.path)) else { return Vec::new() };
        let scratch = self.state_dir.join(format!("stub-diff-{}", std::process::id()));
        let changes = (|| -> Result<Vec<String>> {
            for (side, files) in [("old", old), ("new", new)] {
                for (path, digest) in files.iter().filter(|(p, _)| p.starts_with(&dir)) {
                    let dest = scratch.join(side).join(&path[dir.len()..]);
                    fs_err::create_dir_all(dest.parent().expect("a file"))?;
                    fs_err::copy(self.cache.blob_path(digest, false), &dest)?;
                }
                fs_err::create_dir_all(scratch.join(side))?;
            }
            let out = std::process::Command::new(crate::repos::builder()?)
                .args(["stub-diff", "--json", "--old-stub-dir"])
                .arg(scratch.join("old"))
                .arg("--new-stub-dir")
                .arg(scratch.join("new"))
                .arg("--new-sources")
                .arg(&self.workspace_root)
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .map(|v| {
                    format!(
                        "{}:{}: {}: {}",
                        v["file"].as_str().unwrap_or("?"),
                        v["line"],
                        v["item"].as_str().unwrap_or("?"),
                        v["cause"].as_str().unwrap_or("?")
                    )
                })
                .collect())
        })();
        let _ = fs_err::remove_dir_all(&scratch);
        changes.unwrap_or_default()
    }

    pub fn save(&mut self) -> Result<()> {
        let current: HashMap<String, String> =
            self.current.iter().map(|(id, r)| (id.clone(), r.fingerprint())).collect();
        if current.iter().any(|(id, f)| self.fingerprints.get(id) != Some(f)) {
            let mut merged = std::mem::take(self.previous());
            merged.extend(self.current.drain());
            let actions = self.state_dir.join(ACTIONS);
            fs_err::write(&actions, serde_json::to_vec(&merged)?)
                .with_context(|| format!("cannot write {}", actions.display()))?;
            self.fingerprints = merged.iter().map(|(id, r)| (id.clone(), r.fingerprint())).collect();
            let fingerprints = self.state_dir.join(FINGERPRINTS);
            fs_err::write(&fingerprints, serde_json::to_vec(&self.fingerprints)?)
                .with_context(|| format!("cannot write {}", fingerprints.display()))?;
            self.previous = Some(merged);
        }
        self.current.clear();
        // Explain keeps the last invocations that did something: an all-hits `relink run`
        // must not hide the build that recompiled.
        if self.entries.iter().any(|e| e.cache != CacheStatus::Hit) {
            let path = self.state_dir.join(INVOCATIONS);
            let mut kept: Vec<Vec<ExplainEntry>> = read_json(&path);
            kept.insert(0, std::mem::take(&mut self.entries));
            kept.truncate(KEPT_INVOCATIONS);
            fs_err::write(&path, serde_json::to_vec(&kept)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// Where the explain records of recent invocations are kept (newest first).
const INVOCATIONS: &str = "invocations.json";

/// Each action's last inputs and outputs, by action id.
const ACTIONS: &str = "actions.json";

/// A fingerprint of each record in [`ACTIONS`], by action id: whether a save changes anything
/// is decided without reading the records.
const FINGERPRINTS: &str = "action-fingerprints.json";

/// A JSON state file, or the default when it is missing or unreadable (state is a cache of
/// explain records: losing it only loses names of changed inputs).
fn read_json<T: serde::de::DeserializeOwned + Default>(file: &Path) -> T {
    fs_err::read(file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

impl ActionRecord {
    /// A digest of everything the record holds.
    fn fingerprint(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(self.key.as_bytes());
        for map in [&self.inputs, &self.outputs] {
            h.update(b"\x01");
            for (path, digest) in map {
                h.update(path.as_bytes());
                h.update(b"\0");
                h.update(digest.as_bytes());
                h.update(b"\n");
            }
        }
        h.finalize().to_hex()[..32].to_string()
    }
}

/// How many invocations `relink explain --invocation N` can go back.
const KEPT_INVOCATIONS: usize = 5;

/// `relink explain [LABEL] [--invocation N]`: what the N-th most recent invocation that ran
/// anything did (0, the default, is the latest).
pub fn explain_command(label: Option<&str>, cache_dir: Option<PathBuf>, invocation: usize) -> Result<i32> {
    let ws = Workspace::find(&std::env::current_dir()?)?;
    let cache = Cache::open(cache_root(cache_dir))?;
    let path = state_dir(&cache, &ws).join(INVOCATIONS);
    let mut kept: Vec<Vec<ExplainEntry>> = serde_json::from_slice(
        &fs_err::read(&path).with_context(|| "no build recorded for this workspace yet: run `relink build` first")?,
    )
    .with_context(|| format!("{} is not readable: run `relink clean` and build again", path.display()))?;
    if invocation >= kept.len() {
        anyhow::bail!("only {} invocation(s) are recorded; --invocation takes 0 to {}", kept.len(), kept.len() - 1);
    }
    let entries = kept.swap_remove(invocation);
    let filter = label.map(|l| Label::parse(l, &Label::package_base("", "")).map(|l| l.to_string())).transpose()?;
    let ran: Vec<&ExplainEntry> = entries.iter().filter(|e| e.cache != CacheStatus::Hit).collect();
    let hits = entries.len() - ran.len();
    let which = if invocation == 0 { "last build".to_string() } else { format!("build -{invocation}") };
    println!("{which}: {} actions, {} executed, {} cache hits", entries.len(), ran.len(), hits);
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
        for change in &e.abi_changes {
            println!("    interface changed: {change}");
        }
    }
    Ok(0)
}

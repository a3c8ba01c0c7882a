//! Action keys: what an action's cache entry is keyed on (its command, environment, the
//! digest of every input, its outputs), the key without the inputs it reported unused
//! (Bazel's unused_inputs_list), and the key local state never enters.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Result};
use fs_err as fs;
use serde::Serialize;

use super::cache::{ActionResult, Cache, OutputFile};
use super::digests::SourceDigests;
use super::DerivedFiles;
use relink_core::action::{Action, ActionGraph, ActionKind};
use relink_core::digest::digest_bytes;
use relink_core::workspace::Workspace;

/// Version salt of action keys: bump when the key recipe changes.
pub(super) const KEY_VERSION: &str = "relink-action-key-v1";

pub(super) fn input_digests(
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
pub(super) fn derived_digest(path: &str, files: &[OutputFile]) -> String {
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
pub(super) fn pruned_action_key(
    action: &Action,
    inputs: &BTreeMap<String, String>,
    unused: &BTreeSet<String>,
) -> String {
    #[derive(Serialize)]
    struct KeyMaterial<'a> {
        version: &'a str,
        kind: &'a ActionKind,
        inputs: BTreeMap<&'a str, &'a str>,
        unused: &'a BTreeSet<String>,
        outputs: &'a [relink_core::action::Output],
    }
    let used = inputs.iter().filter(|(p, _)| !unused.contains(*p)).map(|(p, d)| (p.as_str(), d.as_str())).collect();
    let kind = keyed_kind(&action.kind);
    let material = KeyMaterial { version: KEY_VERSION, kind: &kind, inputs: used, unused, outputs: &action.outputs };
    digest_bytes(&serde_json::to_vec(&material).expect("serializable"))
}

/// relink-builder's flag that gives a compile rustc's incremental state (a local directory).
pub(super) const STATE_FLAG: &str = "--incremental-dir";

/// The action's kind as its key sees it: where rustc keeps incremental state (a directory of
/// this machine, per workspace) is not part of any key, only that the compile used such state
/// (its outputs differ in layout from a stateless compile's). A second checkout on the same
/// machine therefore reuses the first one's results.
pub(super) fn keyed_kind(kind: &ActionKind) -> std::borrow::Cow<'_, ActionKind> {
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
pub(super) fn pruning_key(action: &Action, inputs: &BTreeMap<String, String>) -> String {
    let names: Vec<&String> = inputs.keys().collect();
    digest_bytes(
        &serde_json::to_vec(&(KEY_VERSION, "pruning", &keyed_kind(&action.kind), names, &action.outputs))
            .expect("serializable"),
    )
}

/// The inputs an action reported unused in its `unused_inputs_list` output: validated to be
/// declared inputs (anything else is an error naming the action).
pub(super) fn reported_unused(
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

/// The key `action` is looked up by: without the contents of the inputs it last reported
/// unused, when it reported any.
pub(super) fn lookup_key(
    action: &Action,
    inputs: &BTreeMap<String, String>,
    last_unused: Option<&BTreeSet<String>>,
) -> String {
    match last_unused {
        Some(unused) => pruned_action_key(action, inputs, unused),
        None => action_key(action, inputs),
    }
}

//! Actions: what the analysis phase produces and the executor runs.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// What an action does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ActionKind {
    /// Run a program: `argv[0]` is an execroot-relative path.
    Run { argv: Vec<String>, env: BTreeMap<String, String> },
    /// Write `content` to the single output.
    Write { content: String, executable: bool },
    /// Copy the single input to the single output.
    Copy { executable: bool },
}

/// One declared output.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Output {
    /// Execroot-relative path.
    pub path: String,
    /// Declared with `declare_directory`.
    pub is_dir: bool,
}

/// An action of the graph.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Action {
    /// Stable kind name (`RustCompile`).
    pub mnemonic: String,
    /// Label of the target that registered it.
    pub owner: String,
    pub kind: ActionKind,
    /// Execroot-relative input paths, sorted, unique.
    pub inputs: Vec<String>,
    pub outputs: Vec<Output>,
    /// An output the action writes the inputs it did not read into, one execroot path a
    /// line (Bazel's `unused_inputs_list`): later builds ignore changes to those inputs.
    pub unused_inputs_list: Option<String>,
    /// Bazel's `execution_requirements` (`no-sandbox`: run in a stable directory, for rustc's
    /// local incremental state; `no-remote`: never leaves this machine).
    pub requirements: BTreeMap<String, String>,
}

/// All registered actions and which action produces each path.
#[derive(Default)]
pub struct ActionGraph {
    pub actions: Vec<Action>,
    pub producer: HashMap<String, usize>,
    /// The first path segment of every output (`bazel-out`): a path outside them is a source,
    /// found without looking up each of its parent directories.
    output_roots: HashSet<String>,
}

impl ActionGraph {
    /// The graph of these actions (as stored by an earlier analysis).
    pub fn from_actions(actions: Vec<Action>) -> Result<ActionGraph> {
        let mut graph = ActionGraph::default();
        for action in actions {
            graph.add(action)?;
        }
        Ok(graph)
    }

    /// Add an action; an output path may be produced by one action only.
    pub fn add(&mut self, mut action: Action) -> Result<()> {
        action.inputs.sort();
        action.inputs.dedup();
        let index = self.actions.len();
        for out in &action.outputs {
            if let Some(&other) = self.producer.get(&out.path) {
                bail!(
                    "{} is an output of two actions: {} of {} and {} of {}",
                    out.path,
                    self.actions[other].mnemonic,
                    self.actions[other].owner,
                    action.mnemonic,
                    action.owner
                );
            }
            self.producer.insert(out.path.clone(), index);
            self.output_roots.insert(first_segment(&out.path).to_string());
        }
        self.actions.push(action);
        Ok(())
    }

    /// The producing action of a path, if it is derived. A path inside a declared
    /// directory is produced by the directory's action.
    pub fn producer_of(&self, path: &str) -> Option<usize> {
        if let Some(&i) = self.producer.get(path) {
            return Some(i);
        }
        if !self.output_roots.contains(first_segment(path)) {
            return None;
        }
        let mut prefix = path;
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if let Some(&i) = self.producer.get(parent) {
                if self.actions[i].outputs.iter().any(|o| o.is_dir && o.path == parent) {
                    return Some(i);
                }
            }
            prefix = parent;
        }
        None
    }
}

fn first_segment(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

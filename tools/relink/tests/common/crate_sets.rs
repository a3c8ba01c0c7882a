//! The crates and features relink compiles for `//...` against Cargo's unit graph for
//! `cargo build --workspace --all-targets` (issue 21), for any imported workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use super::Ws;

/// `name@version` -> features, of the third-party crates one side compiles.
pub type CrateSet = BTreeMap<String, BTreeSet<String>>;

/// What Cargo compiles for `cargo build --workspace --all-targets` (what `//...` means): library and proc-macro units of
/// registry packages, features unioned over their units (relink builds one copy of each).
pub fn cargo_units(dir: &std::path::Path) -> CrateSet {
    let out = Command::new("cargo")
        .args(["build", "--workspace", "--all-targets", "--unit-graph", "-Z", "unstable-options"])
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut set = CrateSet::new();
    for unit in graph["units"].as_array().unwrap() {
        let pkg_id = unit["pkg_id"].as_str().unwrap();
        let kinds = unit["target"]["kind"].as_array().unwrap();
        let library = kinds.iter().any(|k| k == "lib" || k == "rlib" || k == "proc-macro");
        if !pkg_id.starts_with("registry+") || unit["mode"] != "build" || !library {
            continue;
        }
        let name_version = pkg_id.rsplit('#').next().unwrap().to_string();
        let features = unit["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string());
        set.entry(name_version).or_default().extend(features);
    }
    set
}

/// What relink compiles for `//...`: every action of a vendored package, with its `--feature`s.
pub fn relink_crates(ws: &Ws) -> CrateSet {
    let out = ws.relink(&["aquery", "//..."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut set = CrateSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let action: serde_json::Value = serde_json::from_str(line).unwrap();
        if !["RustCompile", "RustCompileNoLink"].contains(&action["mnemonic"].as_str().unwrap()) {
            continue;
        }
        let argv: Vec<&str> = action["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let flag = |name: &'static str| argv.windows(2).filter(move |w| w[0] == name).map(|w| w[1]);
        let Some(dir) = flag("--package-dir").next().and_then(|d| d.strip_prefix("third_party/crates/")) else {
            continue;
        };
        // NAME-VERSION: the version starts after the last '-' followed by a digit.
        let split =
            dir.char_indices().rfind(|&(i, c)| c == '-' && dir[i + 1..].starts_with(|d: char| d.is_ascii_digit()));
        let (name, version) = dir.split_at(split.expect("NAME-VERSION").0);
        set.entry(format!("{name}@{}", &version[1..])).or_default().extend(flag("--feature").map(str::to_string));
    }
    set
}

pub fn differences(relink: &CrateSet, cargo: &CrateSet) -> Vec<String> {
    let mut out = Vec::new();
    for (krate, features) in relink {
        match cargo.get(krate) {
            None => out.push(format!("{krate}: built by relink only")),
            Some(f) if f != features => out.push(format!("{krate}: features relink {features:?}, cargo {f:?}")),
            Some(_) => {}
        }
    }
    out.extend(cargo.keys().filter(|k| !relink.contains_key(*k)).map(|k| format!("{k}: built by cargo only")));
    out
}

/// Fail, listing every difference, unless relink compiles for `//...` exactly the third-party
/// crates, with the features, that `cargo build --workspace --all-targets` compiles.
pub fn assert_same_crates_as_cargo(ws: &Ws) {
    let relink = relink_crates(ws);
    let cargo = cargo_units(&ws.dir);
    let diff = differences(&relink, &cargo);
    assert!(diff.is_empty(), "relink compiles {} crates, cargo {}:\n{}", relink.len(), cargo.len(), diff.join("\n"));
    assert!(!relink.is_empty(), "no third-party crate compiled");
}

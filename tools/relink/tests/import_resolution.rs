//! `relink import` builds the crates Cargo builds, with the features Cargo gives them (issue
//! 21). Three crates.io applications whose lock files hold packages that only weak dependency
//! features (`"serde?/std"`) or unused build-dependencies name, and one (resolver "1") where a
//! dependency for another platform enables a feature: for each, the crates `relink aquery //...`
//! compiles and their `--feature`s against the units of `cargo build --all-targets
//! --unit-graph` (nothing is compiled on either side). Real-code tier; about 20 s.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::*;

/// `name@version` -> features, of the third-party crates one side compiles.
type CrateSet = BTreeMap<String, BTreeSet<String>>;

/// What Cargo compiles for `cargo build --all-targets`: library and proc-macro units of
/// registry packages, features unioned over their units (relink builds one copy of each).
fn cargo_units(dir: &std::path::Path) -> CrateSet {
    let out = Command::new("cargo")
        .args(["build", "--all-targets", "--unit-graph", "-Z", "unstable-options"])
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
fn relink_crates(ws: &Ws) -> CrateSet {
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

fn differences(relink: &CrateSet, cargo: &CrateSet) -> Vec<String> {
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

#[test]
fn import_builds_the_crates_and_features_cargo_builds() {
    if !real_code_tier("import_builds_the_crates_and_features_cargo_builds") {
        return;
    }
    // hyperfine: borsh, rkyv, toml_edit & co. are in Cargo.lock only through rust_decimal's
    // weak features, and it is resolver "1" (syn gets `full` from a wasm-only dependency);
    // tealdeer: quinn, rand, zerocopy through weak features; tokei: sha2 & co. are
    // build-dependencies of a package without a build script.
    let mut report = String::new();
    let mut failed = false;
    for (name, version, lock_only) in [
        ("hyperfine", "1.20.0", "borsh@1.5.7"),
        ("tealdeer", "1.7.2", "quinn@0.11.5"),
        ("tokei", "13.0.0", "sha2@0.10.8"),
    ] {
        let scratch = Scratch::new(name);
        let ws = Ws::at(crates_io_package(name, version, &scratch.0), scratch.0.join("cache"));
        let import = ws.relink(&["import"]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        let lock = std::fs::read_to_string(ws.path("Cargo.lock")).unwrap();
        let (krate, lock_version) = lock_only.split_once('@').unwrap();
        assert!(
            lock.contains(&format!("name = \"{krate}\"\nversion = \"{lock_version}\"")),
            "{name}: {lock_only} left Cargo.lock"
        );
        let relink = relink_crates(&ws);
        let cargo = cargo_units(&ws.dir);
        let diff = differences(&relink, &cargo);
        report += &format!(
            "{name} {version}: relink compiles {} crates, cargo {}; {lock_only} in Cargo.lock, built by neither: {}; differences: {}\n",
            relink.len(),
            cargo.len(),
            !relink.contains_key(lock_only) && !cargo.contains_key(lock_only),
            if diff.is_empty() { "none".to_string() } else { diff.join("; ") }
        );
        failed |= !diff.is_empty() || relink.contains_key(lock_only) || relink.len() < 50;
    }
    println!("{report}");
    assert!(!failed, "{report}");
}

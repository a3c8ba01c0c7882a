//! The environment Cargo gives a build script and a compile, compared variable by variable
//! with what relink gives them (`fixtures/cargo_env`: a package whose build script writes
//! every Cargo variable it sees into OUT_DIR and whose binary prints them and the
//! compile-time variables Cargo documents). Same names and values; paths may differ but name
//! the same things.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Variables Cargo sets that relink deliberately does not, with the reason.
const NOT_GIVEN: &[(&str, &str)] = &[
    ("build CARGO_HOME", "the user's environment, which a sandboxed script does not inherit"),
    ("build CARGO_TARGET_DIR", "the user's environment (set for the Cargo run below)"),
    ("build CARGO_MAKEFLAGS", "Cargo's jobserver; relink has none (NUM_JOBS is set)"),
    ("compile CARGO", "a machine-specific path would enter every compile's key and interface"),
];

/// Path-valued variables: the values differ (sandbox, target directory) but must name the
/// same kind of file.
const PATH_SUFFIXES: &[(&str, &str)] = &[
    ("CARGO", "/bin/cargo"),
    ("RUSTC", "/bin/rustc"),
    ("RUSTDOC", "/bin/rustdoc"),
    ("CARGO_MANIFEST_PATH", "/Cargo.toml"),
    ("CARGO_MANIFEST_DIR", ""),
    ("OUT_DIR", ""),
];

/// `phase KEY` -> value (None: unset) from the probe's output.
fn parse(output: &str) -> BTreeMap<String, Option<String>> {
    let mut vars = BTreeMap::new();
    let mut phase = "build";
    for line in output.lines() {
        if line == "---" {
            phase = "compile";
        } else if let Some(name) = line.strip_suffix(" unset") {
            vars.insert(format!("{phase} {name}"), None);
        } else if let Some((k, v)) = line.split_once('=') {
            vars.insert(format!("{phase} {k}"), Some(v.to_string()));
        }
    }
    vars
}

#[test]
fn build_scripts_and_compiles_see_cargos_variables() {
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_env"), "cargo-env");
    let mut cargo = std::process::Command::new("cargo");
    // What `cargo test` set for this test process must not reach the inner build.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CARGO") && k != "CARGO_HOME") {
        cargo.env_remove(key);
    }
    let cargo = cargo
        .args(["run", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", ws.dir.join("../cargo-target"))
        .current_dir(&ws.dir)
        .output()
        .expect("cargo runs");
    assert!(cargo.status.success(), "{}", String::from_utf8_lossy(&cargo.stderr));
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let relink = ws.relink(&["run", "//:env-probe"]);
    assert!(relink.status.success(), "{}", String::from_utf8_lossy(&relink.stderr));
    let (cargo, relink) =
        (parse(&String::from_utf8_lossy(&cargo.stdout)), parse(&String::from_utf8_lossy(&relink.stdout)));
    assert!(cargo.len() > 60, "the probe printed Cargo's variables: {cargo:?}");

    let mut differences = Vec::new();
    for (key, expected) in &cargo {
        let got = relink.get(key).cloned().flatten();
        if let Some((_, why)) = NOT_GIVEN.iter().find(|(k, _)| k == key) {
            assert!(got.is_none(), "{key} is now given ({got:?}); drop it from NOT_GIVEN ({why})");
            continue;
        }
        let name = key.split_once(' ').unwrap().1;
        let same = match (PATH_SUFFIXES.iter().find(|(k, _)| *k == name), expected, &got) {
            (Some((_, suffix)), Some(_), Some(value)) => (value.starts_with('/')) && value.ends_with(suffix),
            _ => *expected == got,
        };
        if !same {
            differences.push(format!("{key}: cargo {expected:?}, relink {got:?}"));
        }
    }
    for key in relink.keys().filter(|k| !cargo.contains_key(*k)) {
        differences.push(format!("{key}: only relink sets it ({:?})", relink[key]));
    }
    assert!(differences.is_empty(), "differences from Cargo:\n{}", differences.join("\n"));
    // At run time: the test checks what `cargo test` gives it (the package's variables, the
    // manifest's directory and path, OUT_DIR, CARGO_BIN_EXE_<name with a dash>,
    // CARGO_TARGET_TMPDIR); it passes under cargo as written.
    let mut cargo_test = std::process::Command::new("cargo");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CARGO") && k != "CARGO_HOME") {
        cargo_test.env_remove(key);
    }
    let cargo_test = cargo_test
        .args(["test", "--offline", "--test", "runtime"])
        .env("CARGO_TARGET_DIR", ws.dir.join("../cargo-target"))
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    assert!(cargo_test.status.success(), "{}", String::from_utf8_lossy(&cargo_test.stdout));
    let test = ws.relink(&["test", "//:runtime"]);
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{stdout}{}", String::from_utf8_lossy(&test.stderr));
    assert!(stdout.contains("PASSED //:runtime (1 passed, 0 ignored)"), "{stdout}");

    // Values that only an exact match shows: features, cfgs, the package's metadata.
    for key in [
        "build CARGO_CFG_FEATURE",
        "build CARGO_CFG_DEBUG_ASSERTIONS",
        "compile CARGO_PKG_RUST_VERSION",
        "compile CARGO_BIN_NAME",
    ] {
        assert!(relink.get(key).is_some_and(Option::is_some), "{key} set: {relink:?}");
    }
}

//! Compile-time values in interfaces equal the real crate's (issue 15): constants, associated
//! constants, discriminants, array lengths (layouts), statics read in const context and
//! `Location::caller()` that observe their source position, and `CARGO_MANIFEST_DIR`.
//!
//! The fixture (`fixtures/compile_time_values`) is built by Cargo and by relink; the binary
//! prints every value. They must agree on a clean build and after lines are added above,
//! inside, between and below the items; a private same-line edit must still cut off; and two
//! checkouts with two caches must give byte-identical interfaces.

mod common;

use std::process::Command;

use common::*;

const LIB: &str = "spans/src/lib.rs";

fn fixture() -> Ws {
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/compile_time_values"), "ctv");
    let out = relink_command(&ws.dir, &ws.cache).arg("import").output().unwrap();
    assert!(out.status.success(), "relink import: {}", String::from_utf8_lossy(&out.stderr));
    ws
}

/// What Cargo's build of the fixture prints (target directory outside the workspace).
fn cargo_output(ws: &Ws) -> String {
    let target = ws.dir.join("../cargo-target");
    let out = Command::new("cargo")
        .args(["run", "-q", "-p", "app", "--target-dir"])
        .arg(&target)
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo run: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// What relink's build prints, and the build's execution log.
fn relink_output(ws: &Ws) -> (String, Vec<LogEntry>) {
    let log = ws.build_ok(&["build", "//app:app"]);
    let out = Command::new(ws.path("relink-bin/app/app")).output().unwrap();
    assert!(out.status.success());
    (String::from_utf8(out.stdout).unwrap(), log)
}

/// Insert `text` after the line holding `EDIT: <marker>`.
fn insert_at(ws: &Ws, marker: &str, text: &str) {
    let tag = format!("// EDIT: {marker}\n");
    ws.edit(LIB, &tag, &format!("{tag}{text}"));
}

fn assert_same(ws: &Ws, when: &str) -> Vec<LogEntry> {
    let cargo = cargo_output(ws);
    let (relink, log) = relink_output(ws);
    assert_eq!(relink, cargo, "relink and Cargo disagree {when}");
    log
}

#[test]
fn values_equal_cargo_clean_and_after_line_shifting_edits() {
    let ws = fixture();
    assert_same(&ws, "on a clean build");
    let cases = [
        ("above", "fn added_above() -> u32 {\n    1\n}\n\n// two more lines\n"),
        ("inside a private body", "    let _pad = [0u8; 3];\n    let _more = a + 2;\n"),
        ("between", "\n// a comment between items\nfn added_between() {}\n"),
        ("below", "pub const LATER: u32 = line!();\n\n"),
    ];
    for (marker, text) in cases {
        insert_at(&ws, marker, text);
        assert_same(&ws, &format!("after lines were added {marker}"));
    }
    // No switch is needed for Cargo's values: the default build already has them.
    let no_cutoff = ws.relink(&["build", "--define", "relink_cutoff=0", "//app:app"]);
    assert!(no_cutoff.status.success());
}

#[test]
fn a_private_same_line_edit_still_cuts_off() {
    let ws = fixture();
    relink_output(&ws);
    ws.edit(LIB, "    b - 1\n", "    b - 2\n");
    let (out, log) = relink_output(&ws);
    assert!(out.contains("mix=2"), "the edit took effect: {out}");
    assert_eq!(
        executed(&log),
        pairs(&[("RustCompile", "//spans:spans"), ("RustStub", "//spans:spans"), ("RustLink", "//app:app")]),
        "only the edited crate compiles and the binary relinks; the unchanged stub needs no interface compile"
    );
}

#[test]
fn manifest_dir_is_deterministic_and_finds_fixtures_in_tests() {
    let a = fixture();
    let b = fixture();
    assert_ne!(a.dir, b.dir);
    let mut logs = Vec::new();
    for ws in [&a, &b] {
        let out = ws.relink(&["test", "//spans:spans_test"]);
        assert!(
            out.status.success(),
            "the test reads tests/data through CARGO_MANIFEST_DIR:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        logs.push(ws.build_ok(&["build", "//..."]));
    }
    // Every output of every action, incremental compiles and -Zno-link directories included.
    let all_digests =
        |log: &[LogEntry]| log.iter().flat_map(|e| e.digests.clone()).collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(all_digests(&logs[0]), all_digests(&logs[1]));
    assert!(all_digests(&logs[0]).keys().any(|p| p.contains(".nolink/")), "the comparison covers -Zno-link outputs");
    let interface = "relink-bin/spans/_iface/libspans-spans.rlib";
    let read = |ws: &Ws| std::fs::read(ws.path(interface)).unwrap();
    assert_eq!(read(&a), read(&b), "interfaces from two checkouts and two caches must be identical");
    assert_eq!(digests_under(&a.path("relink-bin")), digests_under(&b.path("relink-bin")));
    // Nothing of either checkout's or cache's path is in any output.
    for ws in [&a, &b] {
        for (file, _) in digests_under(&ws.path("relink-bin")) {
            let bytes = std::fs::read(ws.path("relink-bin").join(&file)).unwrap();
            for needle in [ws.dir.to_str().unwrap(), ws.cache.to_str().unwrap()] {
                assert!(!contains(&bytes, needle.as_bytes()), "{file} contains {needle}");
            }
        }
    }
    // A private body edit keeps the interface of a crate that reads CARGO_MANIFEST_DIR.
    a.edit(LIB, "    b - 1\n", "    b + 1\n");
    let log = a.build_ok(&["build", "//app:app"]);
    assert!(!executed(&log).contains(&("RustCompileNoLink".to_string(), "//app:app".to_string())), "{log:?}");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

//! `relink clippy` and `relink fmt`: clippy's lints on every crate of the targets (cached per
//! crate, lint levels from the command line), and rustfmt over their sources.

mod common;

use common::*;

const BUILD: &str = r#"load("@rules_relink//rules:defs.bzl", "rust_binary", "rust_library", "rustfmt_test")

rust_library(name = "lib", srcs = ["lib.rs"])

rust_binary(name = "app", srcs = ["main.rs"], deps = [":lib"])

rustfmt_test(name = "fmt_test", targets = [":lib", ":app"])
"#;

/// `v.len() == 0` is clippy's `len_zero`; the odd spacing is not rustfmt's.
const LIB: &str = "pub fn empty(v: &[u8]) -> bool {\n    v.len() == 0\n}\n";
const MAIN: &str = "fn main() {\n    println!(\"{}\",   lib::empty(&[]));\n}\n";

fn workspace() -> (Scratch, Ws) {
    let scratch = Scratch::new("lint");
    let dir = scratch.0.join("ws");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("MODULE.bazel"), "module(name = \"lint\")\n").unwrap();
    std::fs::write(dir.join("BUILD.bazel"), BUILD).unwrap();
    std::fs::write(dir.join("lib.rs"), LIB).unwrap();
    std::fs::write(dir.join("main.rs"), MAIN).unwrap();
    let ws = Ws::at(dir, scratch.0.join("cache"));
    (scratch, ws)
}

#[test]
fn clippy_lints_every_crate_and_shows_cached_findings_again() {
    let (_scratch, ws) = workspace();
    let out = ws.relink(&["clippy"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("clippy::len_zero") && stderr.contains("lib.rs:2"), "clippy ran on lib: {stderr}");
    assert!(stderr.contains("relink clippy: 2 crates, 0 with errors"), "{stderr}");
    // Cached: nothing runs, the findings are shown again.
    let again = ws.relink(&["clippy", "--execution-log", "log.jsonl"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("clippy::len_zero"), "{stderr}");
    let log = read_log(&ws.path("log.jsonl"));
    assert!(executed(&log).is_empty(), "{:?}", executed(&log));
    // Lint levels after `--`: warnings become errors and fail the run.
    let strict = ws.relink(&["clippy", "//...", "--", "-Dwarnings"]);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success(), "{stderr}");
    assert!(stderr.contains("relink clippy: 2 crates, 1 with errors"), "{stderr}");
}

#[test]
fn fmt_checks_and_formats_the_crates_sources() {
    let (_scratch, ws) = workspace();
    let test = ws.relink(&["test", "//:fmt_test"]);
    assert!(!test.status.success(), "rustfmt_test fails on main.rs");
    assert!(String::from_utf8_lossy(&test.stdout).contains("FAILED //:fmt_test"));
    let check = ws.relink(&["fmt", "--check"]);
    assert!(!check.status.success(), "main.rs is not formatted");
    assert!(String::from_utf8_lossy(&check.stdout).contains("println!(\"{}\", lib::empty(&[]));"), "the diff is shown");
    assert_eq!(std::fs::read_to_string(ws.path("main.rs")).unwrap(), MAIN, "--check changes nothing");
    let fmt = ws.relink(&["fmt"]);
    assert!(fmt.status.success(), "{}", String::from_utf8_lossy(&fmt.stderr));
    assert!(std::fs::read_to_string(ws.path("main.rs")).unwrap().contains("println!(\"{}\", lib::empty(&[]));"));
    assert!(ws.relink(&["fmt", "--check"]).status.success());
    let test = ws.relink(&["test", "//:fmt_test"]);
    assert!(test.status.success(), "{}", String::from_utf8_lossy(&test.stderr));
}

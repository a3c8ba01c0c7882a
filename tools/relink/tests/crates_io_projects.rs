//! Published applications no one here wrote, from crates.io (issue 11): `relink import`, the
//! binary, and `relink test //...` with the test counts `cargo test` reports for the same
//! version (fd-find 10.5.0: 157 unit tests of the binary, 111 integration tests that run it
//! through `CARGO_BIN_EXE_fd` from other directories). Real-code tier; about two minutes.

mod common;

use std::process::Command;

use common::*;

#[test]
fn fd_find_builds_and_passes_the_tests_cargo_runs() {
    if !real_code_tier("fd_find_builds_and_passes_the_tests_cargo_runs") {
        return;
    }
    let scratch = Scratch::new("fd");
    let ws = Ws::at(crates_io_package("fd-find", "10.5.0", &scratch.0), scratch.0.join("cache"));
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    // `//...` is the workspace's own targets (issue 21): vendored crates are `manual`, built
    // when a member needs them.
    let query = ws.relink(&["query", "//..."]);
    let listed = String::from_utf8_lossy(&query.stdout);
    assert!(query.status.success() && listed.contains("//:fd ("), "{listed}");
    assert!(!listed.lines().any(|l| l.starts_with("//third_party/")), "third-party targets in //...:\n{listed}");
    crate_sets::assert_same_crates_as_cargo(&ws);

    let test = ws.relink(&["test", "-j", "2", "//..."]);
    let report = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{report}\n{}", String::from_utf8_lossy(&test.stderr));
    assert!(report.contains("PASSED //:fd_test (157 passed, 0 ignored)"), "the binary's unit tests:\n{report}");
    assert!(report.contains("PASSED //:tests (111 passed, 0 ignored)"), "the integration tests:\n{report}");

    ws.build_ok(&["build", "//:fd"]);
    let version = Command::new(ws.path("relink-bin/fd")).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout), "fd 10.5.0\n");
    let found = Command::new(ws.path("relink-bin/fd"))
        .args(["--type", "f", "^testenv$|^mod.rs$", "tests"])
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&found.stdout), "tests/testenv/mod.rs\n");
}

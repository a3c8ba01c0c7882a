//! Real history in CI (issue 23): commits of ripgrep's own history, replayed with relink, each
//! kind with exactly the actions it must run, and a final comparison with a clean build.
//! Needs `../shared/data/ripgrep.bundle` beside the checkout and the crates.io registry.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn bundle() -> Option<PathBuf> {
    let path = repo_root().join("../shared/data/ripgrep.bundle");
    path.is_file().then_some(path)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn checkout(ws: &Ws, rev: &str) {
    git(&ws.dir, &["-c", "advice.detachedHead=false", "checkout", "-q", "-f", rev]);
}

/// What `rg` prints on a few searches of its own sources, and its man page.
fn rg_outputs(ws: &Ws) -> Vec<String> {
    let rg = ws.path("relink-bin/rg");
    let cases: &[&[&str]] = &[
        &["--sort", "path", "-c", "fn ", "crates/matcher"],
        &["--sort", "path", "-n", "Seed7", "crates/ignore/src"],
        &["--type-list"],
        &["--generate", "man"],
    ];
    cases
        .iter()
        .map(|args| {
            let out = Command::new(&rg).args(*args).current_dir(&ws.dir).output().unwrap();
            format!("{:?}\n{}", out.status.code(), String::from_utf8_lossy(&out.stdout))
        })
        .collect()
}

/// ripgrep's workspace libraries (their default outputs include their interfaces).
const LIBRARIES: &[&str] = &[
    "//crates/globset:globset",
    "//crates/ignore:ignore",
    "//crates/matcher:grep-matcher",
    "//crates/searcher:grep-searcher",
    "//crates/printer:grep-printer",
    "//crates/regex:grep-regex",
    "//crates/cli:grep-cli",
    "//crates/grep:grep",
];

fn ran(log: &[LogEntry]) -> Vec<(String, String)> {
    executed(log).into_iter().filter(|(m, _)| m != "TestRunner").collect()
}

#[test]
fn ripgrep_commits_run_exactly_what_they_must_and_match_a_clean_build() {
    if !real_code_tier("ripgrep_commits_run_exactly_what_they_must_and_match_a_clean_build") {
        return;
    }
    let Some(bundle) = bundle() else {
        eprintln!("skipped: ../shared/data/ripgrep.bundle is not beside the checkout");
        return;
    };
    let scratch = Scratch::new("replay");
    let dir = scratch.0.join("rg");
    let out = Command::new("git").args(["clone", "-q"]).arg(&bundle).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ws = Ws::at(dir, scratch.0.join("cache"));
    checkout(&ws, "14.1.1");
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    ws.build_ok(&["build", "//:rg"]);

    // A CHANGELOG-only commit: no compile. (The build script, which prints no rerun-if
    // directive, re-runs on any package file as under Cargo; its outputs are unchanged.)
    checkout(&ws, "8bd59502");
    let log = ws.build_ok(&["build", "//:rg"]);
    assert!(ran(&log).iter().all(|(m, _)| m == "CargoBuildScriptRun"), "{:?}", ran(&log));

    // A public API change (a new method of grep-matcher's Captures trait): dependents recompile.
    checkout(&ws, "bf63fe8f");
    let log = ran(&ws.build_ok(&["build", "//:rg"]));
    for must in [
        ("RustInterface", "//crates/matcher:grep-matcher"),
        ("RustCompile", "//crates/searcher:grep-searcher"),
        ("RustCompileNoLink", "//:rg"),
    ] {
        assert!(log.contains(&(must.0.to_string(), must.1.to_string())), "{must:?} must run: {log:?}");
    }

    // A documentation commit that edits the man page template rg includes: rg recompiles,
    // nothing else does.
    checkout(&ws, "79cbe89d");
    let log = ran(&ws.build_ok(&["build", "//:rg"]));
    assert!(log.contains(&("RustCompileNoLink".to_string(), "//:rg".to_string())), "{log:?}");
    assert!(log.iter().all(|(m, t)| t == "//:rg" || t == "//:build_script" || m == "CargoBuildScriptRun"), "{log:?}");

    // "ignore/types: fix Seed7 file extension": only ignore compiles, rg relinks.
    checkout(&ws, "004370bd");
    ws.build_ok(&["build", "//:rg"]);
    checkout(&ws, "5fbc4fee");
    let log = ran(&ws.build_ok(&["build", "//:rg"]));
    assert_eq!(
        log,
        pairs(&[
            ("RustCompile", "//crates/ignore:ignore"),
            ("RustLink", "//:rg"),
            ("RustStub", "//crates/ignore:ignore")
        ]),
        "rg's RustCompileNoLink must be a cache hit"
    );

    // A doc-comment edit of the same length: the stub (docs stripped) does not change.
    ws.edit(
        "crates/globset/src/lib.rs",
        "/// Returns true if this set is empty",
        "/// Returns true when this set is empty",
    );
    let log = ran(&ws.build_ok(&["build", "//:rg"]));
    assert_eq!(
        log,
        pairs(&[
            ("RustCompile", "//crates/globset:globset"),
            ("RustLink", "//:rg"),
            ("RustStub", "//crates/globset:globset")
        ])
    );

    // The incrementally built rg behaves as a clean build of the same tree (fresh cache, no
    // incremental state at all).
    let incremental = rg_outputs(&ws);
    std::fs::remove_dir_all(ws.path("relink-bin")).unwrap();
    let clean = ws.relink_with_cache(
        &[&["build", "--rustc-incremental=false", "//:rg"], LIBRARIES].concat(),
        &scratch.0.join("clean-cache"),
    );
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    assert_eq!(rg_outputs(&ws), incremental);
    // (Interfaces built from incremental state are not compared with the clean build's bytes:
    // the state may list metadata entries in another order, docs/interfaces.md §5.)
    assert!(
        incremental[1].contains("Seed7") || incremental[2].contains("seed7"),
        "the edits took effect: {incremental:?}"
    );
}

//! The rules on the examples workspace: early cutoff, ABI-changing edits, determinism across
//! workspace roots, the artifact table, and user-facing errors.

mod common;

use common::*;

fn examples() -> Ws {
    Ws::copy_of(&repo_root().join("examples"), "examples")
}

fn run_app(ws: &Ws) -> String {
    let out = std::process::Command::new(ws.path("relink-bin/app/app")).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn private_edit_relinks_instead_of_rebuilding() {
    let ws = examples();
    ws.build_ok(&["build", "//..."]);
    assert_eq!(run_app(&ws), "hello from App\nvalue=3\nlargest=Some(9)\n");

    // A private body at the bottom of the chain: a closure, an anonymous const, more lines.
    ws.edit("chain/base/lib.rs", "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    let pad = [0u8; 16];\n    let ten = |x: usize| (x - 6) as u64;\n    ten(pad.len())\n}");
    let log = ws.build_ok(&["build", "//..."]);
    assert_eq!(
        executed(&log),
        pairs(&[
            ("RustCompile", "//chain/base:base"),
            // The stub is unchanged, so its interface is a cache hit: no interface compile.
            ("RustStub", "//chain/base:base"),
            // The unit test recompiles the edited sources themselves.
            ("RustCompileNoLink", "//chain/base:base_test"),
            ("RustLink", "//chain/base:base_test"),
            ("RustLink", "//app:app"),
            ("RustLink", "//app:app_test"),
        ]),
        "only the edited crate compiles; dependents relink"
    );
    assert_eq!(
        run_app(&ws),
        "hello from App\nvalue=30\nlargest=Some(9)\n",
        "the relinked binary has the new behaviour"
    );

    let explain = ws.relink(&["explain"]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains("RustLink //app:app\n    changed: relink-out/fastbuild/bin/chain/base/libbase-base.rlib"),
        "{text}"
    );
    assert!(
        text.contains("RustStub //chain/base:base\n    changed: chain/base/lib.rs\n    output unchanged: actions that take it were not re-run (early cutoff)"),
        "{text}"
    );

    // A clean build from scratch gives byte-identical outputs.
    let incremental = digests_under(&ws.path("relink-bin"));
    std::fs::remove_dir_all(ws.path("relink-bin")).unwrap();
    let fresh_cache = ws.dir.join("../fresh-cache");
    let out = ws.relink_with_cache(&["build", "//..."], &fresh_cache);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(digests_under(&ws.path("relink-bin")), incremental);
}

#[test]
fn abi_changing_edit_rebuilds_exactly_the_dependents() {
    let ws = examples();
    ws.build_ok(&["build", "//..."]);
    ws.edit("chain/base/lib.rs", "pub fn new() -> Self {", "pub fn new() -> Self {\n        Self::starting_at(0)\n    }\n\n    /// A counter at `total`.\n    pub fn starting_at(total: u64) -> Self {\n        let _ = total;");
    let log = ws.build_ok(&["build", "//..."]);
    let ran = executed(&log);
    for must in [
        ("RustStub", "//chain/base:base"),
        ("RustInterface", "//chain/base:base"),
        ("RustCompile", "//chain/base:base"),
        ("RustInterface", "//chain/middle:middle"),
        ("RustCompile", "//chain/middle:middle"),
        ("RustCompileNoLink", "//app:app"),
        ("RustCompileNoLink", "//app:app_test"),
        ("RustLink", "//app:app"),
    ] {
        assert!(ran.contains(&(must.0.to_string(), must.1.to_string())), "{must:?} must run: {ran:?}");
    }
    for unaffected in ["//generic:generic", "//macros:hello_macro"] {
        assert!(!ran.iter().any(|(_, t)| t == unaffected), "{unaffected} must not rebuild: {ran:?}");
    }
    // middle's interface did not change (its own stub is the same), so nothing keyed on it
    // alone re-ran beyond what base's interface forced.
    assert_eq!(run_app(&ws), "hello from App\nvalue=3\nlargest=Some(9)\n");

    // The interfaces and the objects of incremental real compiles are byte-identical to a clean
    // build's (a fresh cache has no incremental state).
    let incremental = digests_under(&ws.path("relink-bin"));
    assert!(incremental.keys().any(|p| p.starts_with("chain/base/_iface/")), "{incremental:?}");
    std::fs::remove_dir_all(ws.path("relink-bin")).unwrap();
    let out = ws.relink_with_cache(&["build", "//..."], &ws.dir.join("../fresh-cache"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(digests_under(&ws.path("relink-bin")), incremental);
}

#[test]
fn outputs_do_not_depend_on_the_workspace_directory() {
    let a = examples();
    let b = examples();
    a.build_ok(&["build", "//..."]);
    b.build_ok(&["build", "//..."]);
    assert_ne!(a.dir, b.dir);
    assert_eq!(digests_under(&a.path("relink-bin")), digests_under(&b.path("relink-bin")));
}

#[test]
fn incremental_recompiles_do_not_depend_on_the_cache_directory() {
    // Two workspaces with their own caches build, take the same edit and recompile the binary
    // incrementally (rustc reuses objects from its session). An rlink that listed the files
    // reused from the incremental session (under a directory named with a timestamp and a
    // random part, in this machine's cache) differed on every compile and between machines.
    let a = examples();
    let b = examples();
    let mut logs = Vec::new();
    for ws in [&a, &b] {
        ws.build_ok(&["build", "//..."]);
        let main = ws.path("app/main.rs");
        let text = std::fs::read_to_string(&main).unwrap();
        std::fs::write(&main, format!("{text}\n// An edit that changes no code.\n")).unwrap();
        let log = ws.build_ok(&["build", "//..."]);
        assert!(
            executed(&log).contains(&("RustCompileNoLink".to_string(), "//app:app".to_string())),
            "{:?}",
            executed(&log)
        );
        logs.push(log);
    }
    assert_ne!(a.cache, b.cache);
    let outputs = |log: &[LogEntry]| -> std::collections::BTreeMap<(String, String), _> {
        log.iter().map(|e| ((e.mnemonic.clone(), e.target.clone()), e.digests.clone())).collect()
    };
    let (outputs_a, outputs_b) = (outputs(&logs[0]), outputs(&logs[1]));
    assert_eq!(outputs_a.keys().collect::<Vec<_>>(), outputs_b.keys().collect::<Vec<_>>());
    let differing: Vec<_> = outputs_a.iter().filter(|(k, v)| outputs_b.get(*k) != Some(*v)).map(|(k, _)| k).collect();
    assert!(differing.is_empty(), "outputs that depend on the cache directory: {differing:?}");
}

#[test]
fn a_second_checkout_reuses_the_first_ones_results() {
    // Where rustc keeps a workspace's incremental state is no part of any key: a fresh
    // checkout sharing the cache runs nothing (incremental compiles included).
    let a = examples();
    let b = Ws::at(examples_copy_dir(&a), a.cache.clone());
    a.build_ok(&["build", "//..."]);
    let second = b.build_ok(&["build", "//..."]);
    let ran: Vec<_> = second.iter().filter(|e| e.cache != "hit").map(|e| (&e.mnemonic, &e.target)).collect();
    assert!(ran.is_empty(), "the second checkout ran {ran:?}");
    assert_eq!(digests_under(&a.path("relink-bin")), digests_under(&b.path("relink-bin")));
}

/// A copy of `ws`'s sources in a sibling directory.
fn examples_copy_dir(ws: &Ws) -> std::path::PathBuf {
    let dir = ws.dir.with_file_name("second-checkout");
    copy_tree(&repo_root().join("examples"), &dir);
    dir
}

#[test]
fn compile_actions_never_take_real_rlibs() {
    let ws = examples();
    let out = ws.relink(&["aquery", "//..."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut seen = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let mnemonic = v["mnemonic"].as_str().unwrap().to_string();
        let inputs: Vec<&str> = v["inputs"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
        // The toolchain's standard library (external/) is rlibs too: only crates of the build count.
        let real_rlibs: Vec<&&str> = inputs
            .iter()
            .filter(|i| i.ends_with(".rlib") && !i.contains("/_iface/") && !i.starts_with("external/"))
            .collect();
        match mnemonic.as_str() {
            "RustInterface" | "RustCompile" | "RustCompileNoLink" => {
                assert!(real_rlibs.is_empty(), "{mnemonic} of {} takes real rlibs {real_rlibs:?}", v["target"])
            }
            "RustLink" if v["target"] == "//app:app" => {
                assert_eq!(real_rlibs.len(), 3, "app links base, middle, generic")
            }
            _ => {}
        }
        seen.insert(mnemonic);
    }
    for m in ["RustStub", "RustInterface", "RustCompile", "RustCompileNoLink", "RustLink"] {
        assert!(seen.contains(m), "no {m} action in the examples");
    }
}

#[test]
fn tests_run_and_passing_results_are_cached() {
    let ws = examples();
    let out = ws.relink(&["test", "//..."]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("PASSED //app:app_test"), "{stdout}");
    assert!(stdout.contains("PASSED //chain/base:base_test"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    let again = ws.relink(&["test", "//..."]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("PASSED //app:app_test (cached)"));

    ws.edit("app/tests/app_test.rs", "\"value=2\"", "\"value=7\"");
    let failing = ws.relink(&["test", "//app:app_test"]);
    assert!(!failing.status.success());
    let stdout = String::from_utf8_lossy(&failing.stdout);
    assert!(stdout.contains("FAILED //app:app_test") && stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn run_passes_arguments_and_exit_code() {
    let ws = examples();
    let out = ws.relink(&["run", "//app"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from App\nvalue=3\nlargest=Some(9)\n");
}

#[test]
fn compile_errors_show_user_paths_and_bad_attributes_the_build_line() {
    let ws = examples();
    ws.edit("chain/middle/lib.rs", "let mut last = 0;", "let mut last: u64 = \"not a number\";");
    let out = ws.relink(&["build", "//chain/middle"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--> chain/middle/lib.rs:"), "rustc's diagnostic with the workspace path:\n{err}");
    assert!(!err.contains("--> /"), "no absolute sandbox path in diagnostics:\n{err}");

    ws.edit("generic/BUILD.bazel", "srcs = [\"lib.rs\"],", "srcs = \"lib.rs\",");
    let out = ws.relink(&["build", "//generic"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("generic/BUILD.bazel:3: attribute `srcs` of rust_library(): expected a list of labels"),
        "{err}"
    );
}

/// `file:line:col` of every error rustc itself reports for `lib` compiled alone.
fn rustc_error_locations(lib: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("rustc")
        .args(["--crate-type", "lib", "--edition", "2021", "--emit", "metadata", "-o", "/dev/null"])
        .arg(lib)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let mut locations: Vec<String> = err
        .split("\n\n")
        .filter(|p| p.starts_with("error["))
        .filter_map(|p| {
            p.lines().nth(1)?.trim_start().strip_prefix("--> ").map(|l| l.rsplit('/').next().unwrap().to_string())
        })
        .collect();
    locations.sort();
    locations
}

#[test]
fn a_terminal_gets_colours_and_one_status_line_a_pipe_plain_lines() {
    let ws = examples();
    ws.edit("chain/base/lib.rs", "self.total += step_size();", "self.total += \"x\";");
    let relink = relink_command(&ws.dir, &ws.cache).get_program().to_string_lossy().to_string();
    let builder = std::path::PathBuf::from(&relink).with_file_name("relink-builder");
    // `script` runs relink on a pseudo-terminal and copies what it wrote.
    let command =
        format!("RELINK_CACHE='{}' RELINK_BUILDER='{}' '{relink}' build //app", ws.cache.display(), builder.display());
    let tty = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(screen.contains("\x1b[1m\x1b[91merror[E0277]"), "rustc's colours on a terminal:\n{screen}");
    assert!(screen.contains("\r\x1b[2K["), "one status line, redrawn in place:\n{screen}");
    assert!(!screen.contains("\n[1/"), "no progress line of its own:\n{screen}");
    assert_eq!(screen.matches("cannot add-assign").count(), 1, "{screen}");

    let piped = ws.relink(&["build", "//app"]);
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(!err.contains('\x1b'), "no escape sequences in a pipe:\n{err}");
    assert!(err.contains("error[E0277]: cannot add-assign `&str` to `u64`"), "{err}");
    let coloured = ws.relink(&["build", "--color=always", "//app"]);
    assert!(String::from_utf8_lossy(&coloured.stderr).contains("\x1b[1m\x1b[91merror[E0277]"), "--color=always");
    // Colour is not part of any action's key.
    ws.edit("chain/base/lib.rs", "self.total += \"x\";", "self.total += step_size();");
    ws.build_ok(&["build", "--color=always", "//app"]);
    let again = ws.build_ok(&["build", "--color=never", "//app"]);
    assert!(again.iter().all(|e| e.cache == "hit"), "{again:?}");
}

#[test]
fn each_error_is_shown_once_and_a_failed_build_logs_every_action() {
    let ws = examples();
    ws.build_ok(&["build", "//..."]);
    // Two errors in one crate that its library, its unit test (and, with --keep_going, its
    // interface) all compile.
    ws.edit("chain/base/lib.rs", "self.total += step_size();", "self.total += \"x\";");
    ws.edit("chain/base/lib.rs", "format!(\"value={value:?}\")", "format!(\"value={value:?}{}\", missing_var)");
    let expected = rustc_error_locations(&ws.path("chain/base/lib.rs"));
    assert_eq!(expected.len(), 2, "{expected:?}");
    for args in [&["build"][..], &["build", "--keep_going"][..]] {
        let log = ws.dir.join("../failed-build.jsonl");
        let out = ws.relink(&[args, &["--execution-log", log.to_str().unwrap(), "//..."]].concat());
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        for text in ["cannot find value `missing_var` in this scope", "cannot add-assign `&str` to `u64`"] {
            assert_eq!(err.matches(text).count(), 1, "{args:?}: {text:?} exactly once:\n{err}");
        }
        for location in &expected {
            assert_eq!(err.matches(&format!("--> chain/base/{location}")).count(), 1, "rustc's own {location}:\n{err}");
        }
        // The log is complete: the failed compile with its exit code and a runnable repro.
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let failed = lines
            .iter()
            .find(|v| v["mnemonic"] == "RustCompile" && v["target"] == "//chain/base:base")
            .unwrap_or_else(|| panic!("the failed compile is logged: {lines:?}"));
        assert_eq!(failed["cache"], "failed");
        assert_eq!(failed["exit_code"], 1);
        assert!(lines.iter().any(|v| v["cache"] == "hit"), "{lines:?}");
        let repro = std::path::Path::new(failed["sandbox"].as_str().unwrap()).join("repro.sh");
        assert!(err.contains(&format!("sh {}", repro.display())), "{err}");
        let rerun = std::process::Command::new("sh").arg(&repro).output().unwrap();
        assert_eq!(rerun.status.code(), Some(1), "repro.sh fails the same way");
        assert!(String::from_utf8_lossy(&rerun.stderr).contains("missing_var"));
    }
}

#[test]
fn opt_builds_use_real_metadata_interfaces_and_run_correctly() {
    let ws = examples();
    let log = ws.build_ok(&["build", "-c", "opt", "//app"]);
    assert!(!log.iter().any(|e| e.mnemonic == "RustInterface" || e.mnemonic == "RustStub"), "no stubs in opt: {log:?}");
    assert!(log.iter().all(|e| e.outputs.iter().all(|o| o.starts_with("relink-out/opt/"))));
    assert_eq!(run_app(&ws), "hello from App\nvalue=3\nlargest=Some(9)\n");
    // In opt every body may be inlined across crates: a private edit rebuilds dependents.
    ws.edit("chain/base/lib.rs", "fn step_size() -> u64 {\n    1\n}", "fn step_size() -> u64 {\n    2\n}");
    let log = ws.build_ok(&["build", "-c", "opt", "//app"]);
    assert!(executed(&log).contains(&("RustCompile".to_string(), "//chain/middle:middle".to_string())));
    assert_eq!(run_app(&ws), "hello from App\nvalue=6\nlargest=Some(9)\n");
}

#[test]
fn the_rules_embedded_in_relink_build_the_examples() {
    let ws = examples();
    let out =
        relink_command(&ws.dir, &ws.cache).env("RELINK_EMBEDDED_RULES", "1").args(["build", "//app"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let unpacked = std::fs::read_dir(ws.cache.join("repos")).unwrap().filter_map(|e| e.ok()).any(|e| {
        e.file_name().to_string_lossy().starts_with("rules_relink-")
            && e.path().join("rules/private/rules.bzl").is_file()
    });
    assert!(unpacked, "the embedded rules were unpacked into the cache");
    assert_eq!(run_app(&ws), "hello from App\nvalue=3\nlargest=Some(9)\n");
}

#[test]
fn keep_going_reports_every_failure_and_builds_the_rest() {
    let ws = examples();
    // Two independent errors: neither crate depends on the other.
    ws.edit(
        "generic/lib.rs",
        "pub fn largest<",
        "pub fn broken_generic() -> u32 { \"not a number\" }\npub fn largest<",
    );
    ws.edit(
        "chain/base/lib.rs",
        "fn step_size() -> u64 {\n    1\n}",
        "fn step_size() -> u64 {\n    undefined_variable\n}",
    );
    let out = ws.relink(&["build", "--keep_going", "//..."]);
    assert!(!out.status.success(), "the build failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expected `u32`, found `&str`"), "the first error: {err}");
    assert!(err.contains("cannot find value `undefined_variable`"), "the second error: {err}");
    assert!(err.contains("failed") && err.contains("not run"), "{err}");
    // What needs neither crate was built.
    assert!(ws.path("relink-bin/macros/_pm").exists(), "the proc macro builds: {err}");
    // Without keep-going the build stops at the first failure and does not build the rest.
    let ws = examples();
    ws.edit(
        "generic/lib.rs",
        "pub fn largest<",
        "pub fn broken_generic() -> u32 { \"not a number\" }\npub fn largest<",
    );
    let out = ws.relink(&["build", "-j", "1", "//generic:generic"]);
    assert!(!out.status.success());
}

#[test]
fn explain_names_the_abi_items_that_changed() {
    let ws = examples();
    ws.build_ok(&["build", "//..."]);
    // A new public method: named, with its file and line.
    ws.edit("chain/base/lib.rs", "    /// Add one step; returns the new total.", "    /// A counter at `total`.\n    pub fn starting_at(total: u64) -> Self {\n        Counter { total }\n    }\n\n    /// Add one step; returns the new total.");
    ws.build_ok(&["build", "//..."]);
    // A later `relink run` (all hits) does not hide the build that recompiled.
    let run = ws.relink(&["run", "//app:app"]);
    assert!(run.status.success());
    let explain = String::from_utf8(ws.relink(&["explain"]).stdout).unwrap();
    assert!(explain.contains("RustStub //chain/base:base"), "{explain}");
    assert!(
        explain.contains("interface changed: chain/base/lib.rs:14: impl Counter::fn starting_at: new item"),
        "{explain}"
    );
    // Lines added above the kept generic body move it: a span shift, named at the body.
    ws.edit(
        "chain/base/lib.rs",
        "/// Generic code: instantiated",
        "fn extra_private_helper() -> u64 {\n    41 + 1\n}\n\n/// Generic code: instantiated",
    );
    ws.build_ok(&["build", "//..."]);
    let explain = String::from_utf8(ws.relink(&["explain"]).stdout).unwrap();
    assert!(explain.contains("fn describe: span shift"), "{explain}");
}

#[test]
fn exit_codes_are_bazels() {
    let ws = examples();
    let code = |args: &[&str]| ws.relink(args).status.code();
    assert_eq!(code(&["build", "--no-such-flag", "//..."]), Some(2), "bad command line");
    assert_eq!(code(&["test", "//app:app"]), Some(4), "no test targets");
    assert_eq!(code(&["build", "//no/such:package"]), Some(1), "bad target pattern");
    assert_eq!(code(&["test", "//..."]), Some(0));
    ws.edit("chain/base/lib.rs", "assert_eq!(c.step(), super::step_size());", "assert_eq!(c.step(), 7);");
    assert_eq!(code(&["test", "//..."]), Some(3), "a test failed");
    ws.edit("chain/base/lib.rs", "assert_eq!(c.step(), 7);", "assert_eq!(c.step(), missing);");
    assert_eq!(code(&["test", "//..."]), Some(1), "a test did not build");
    assert_eq!(code(&["build", "//chain/base"]), Some(0), "the library itself builds");
    let help = String::from_utf8(ws.relink(&["--help"]).stdout).unwrap();
    assert!(help.contains("3 built, but tests failed; 4 no test targets match"), "{help}");
}

#[test]
fn cache_gc_keeps_the_store_within_its_limit_and_builds_recover() {
    let ws = examples();
    ws.build_ok(&["build", "//..."]);
    let gc = |limit: &str| {
        let out = ws.relink(&["cache", "gc", "--max-size", limit]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    };
    let roomy = gc("1G");
    assert!(roomy.contains(": 0 of ") && roomy.contains("and 0 of "), "everything fits: {roomy}");
    let empty = gc("0");
    assert!(empty.contains("-> 0.0 MB") && !empty.contains(": 0 of "), "a limit of 0 empties the store: {empty}");
    // Every result is gone: the next build runs every action again and the binary still works.
    let log = ws.build_ok(&["build", "//..."]);
    assert_eq!(log.iter().filter(|e| e.cache == "hit").count(), 0, "nothing left to hit");
    assert_eq!(run_app(&ws), "hello from App\nvalue=3\nlargest=Some(9)\n");
    let bad = ws.relink(&["cache", "gc", "--max-size", "lots"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`lots` is not a size"));
}

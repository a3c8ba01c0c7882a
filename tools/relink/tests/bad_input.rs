//! Malformed input of every kind a user can give relink: BUILD and `.bzl` files, labels,
//! Cargo manifests for `relink import`, the command line. Each must end with a non-zero exit
//! and a message that names the file (and line, where there is one) and what is wrong; never
//! a panic, a hang or a silent success (issue 10).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// One malformed input.
struct Case {
    name: &'static str,
    /// Files of the workspace besides the default `MODULE.bazel` (a file named here replaces it).
    files: &'static [(&'static str, &'static [u8])],
    args: &'static [&'static str],
    /// Every one must appear in the error output.
    expect: &'static [&'static str],
}

/// A pseudo file: the case runs in a directory with no `MODULE.bazel`.
const NO_WORKSPACE: &str = "(no workspace)";

/// A library rule, loaded by many cases.
const DEFS: &[u8] = br#"
def _lib_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, ctx.attr.value)
    return [DefaultInfo(files = depset([out]))]

lib = rule(implementation = _lib_impl, attrs = {
    "value": attr.string(),
    "srcs": attr.label_list(allow_files = [".txt"]),
    "deps": attr.label_list(),
    "count": attr.int(),
})
"#;

const fn case(
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
    args: &'static [&'static str],
    expect: &'static [&'static str],
) -> Case {
    Case { name, files, args, expect }
}

const BUILD_X: &[&str] = &["build", "//p:x"];

/// BUILD files, labels and attributes.
const BUILD_CASES: &[Case] = &[
    case("syntax error", &[("p/BUILD.bazel", b"lib(name = \"x\"\n")], BUILD_X, &["p/BUILD.bazel:"]),
    case("undefined function", &[("p/BUILD.bazel", b"\n\nnot_a_rule(name = \"x\")\n")], BUILD_X, &["p/BUILD.bazel:3", "not_a_rule"]),
    case("unknown attribute", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", colour = \"red\")\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "colour"]),
    case("wrong attribute type", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", count = \"three\")\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "count"]),
    case("string instead of list", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = \"a.txt\")\n"), ("p/a.txt", b""), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "srcs"]),
    case("missing name", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(value = \"v\")\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "name"]),
    case("duplicate target", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\")\nlib(name = \"x\")\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:3", "x"]),
    case("invalid target name", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x y\")\n"), ("defs.bzl", DEFS)], &["build", "//p:all"], &["p/BUILD.bazel:2"]),
    case("label with empty name", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\"//p:\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "//p:"]),
    case("label with two colons", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\"//p:a:b\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "//p:a:b"]),
    case("label with a space", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\":a b\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "a b"]),
    case("dependency on a missing target", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\":nope\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "//p:nope"]),
    case("dependency on a missing package", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\"//nowhere:y\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "//nowhere"]),
    case("dependency on an unknown repository", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\"@nosuchrepo//:y\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "nosuchrepo"]),
    case("source that leaves the package", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = [\"../q/a.txt\"])\n"), ("q/a.txt", b""), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "../q/a.txt"]),
    case("absolute source path", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = [\"/etc/hostname\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "/etc/hostname"]),
    case("missing source file", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = [\"gone.txt\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "gone.txt"]),
    case("file of the wrong kind", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = [\"a.rs\"])\n"), ("p/a.rs", b""), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "a.rs"]),
    case("dependency cycle", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\":y\"])\nlib(name = \"y\", deps = [\":x\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:", "cycle"]),
    case("self dependency", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\":x\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "cycle"]),
    case("private target", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", deps = [\"//q:y\"])\n"), ("q/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"y\", visibility = [\"//visibility:private\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "//q:y", "visib"]),
    case("fail() in a BUILD file", &[("p/BUILD.bazel", b"\nfail(\"the answer is not 42\")\n")], BUILD_X, &["p/BUILD.bazel:2", "the answer is not 42"]),
    case("non-UTF-8 BUILD file", &[("p/BUILD.bazel", b"lib(name = \"\xff\xfe\")\n")], BUILD_X, &["p/BUILD.bazel", "UTF-8"]),
    case("glob that must match", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", srcs = glob([\"*.txt\"], allow_empty = False))\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "*.txt"]),
    case("select without a matching condition", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", value = select({\"//p:never\": \"a\"}))\nconfig_setting(name = \"never\", define_values = {\"no\": \"such\"})\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "select"]),
    case("package() after targets", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\")\npackage(default_visibility = [\"//visibility:public\"])\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:3", "package"]),
    case("endless loop in a BUILD file", &[("p/BUILD.bazel", b"\ndef spin():\n    for i in range(2000000000):\n        x = i\nspin()\n")], BUILD_X, &["p/BUILD.bazel:4", "without finishing"]),
    case("huge string", &[("p/BUILD.bazel", b"\nx = \"a\" * 5000000000\n")], BUILD_X, &["p/BUILD.bazel:2"]),
    case("huge list", &[("p/BUILD.bazel", b"\nx = [1] * 3000000000\n")], BUILD_X, &["p/BUILD.bazel:2"]),
    case("a list too large for memory, built in one operation", &[("p/BUILD.bazel", b"\nx = [0] * 2000000000\n")], BUILD_X, &["p/BUILD.bazel:2:1-21", "MB of memory"]),
    case("a string doubled past what memory holds", &[("p/BUILD.bazel", b"def f():\n    s = \"x\"\n    for i in range(40):\n        s = s + s\n    return s\nf()\n")], BUILD_X, &["p/BUILD.bazel:4:9-18: evaluation"]),
    case("a comprehension over a huge range", &[("p/BUILD.bazel", b"\nx = [None for i in range(2000000000) if False]\n")], BUILD_X, &["p/BUILD.bazel:2", "calls and loop iterations without finishing"]),
    case("a comprehension that fills the heap", &[("p/BUILD.bazel", b"\nx = [i for i in range(2000000000)]\n")], BUILD_X, &["p/BUILD.bazel:2", "MB of Starlark values"]),
    case("deep recursion", &[("p/BUILD.bazel", b"\ndef f(n):\n    return f(n + 1)\nf(0)\n")], BUILD_X, &["p/BUILD.bazel:"]),
    case("integer overflow", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", count = 99999999999999999999)\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:2", "count"]),
    case("tab-indented BUILD file", &[("p/BUILD.bazel", b"\nif True:\n\tx = 1\n")], BUILD_X, &["p/BUILD.bazel:"]),
];

/// `.bzl` files and rule definitions.
const BZL_CASES: &[Case] = &[
    case("missing .bzl", &[("p/BUILD.bazel", b"load(\"//:nope.bzl\", \"lib\")\n")], BUILD_X, &["p/BUILD.bazel:1", "nope.bzl"]),
    case("missing symbol in a .bzl", &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"nothing\")\n"), ("defs.bzl", DEFS)], BUILD_X, &["p/BUILD.bazel:1", "nothing"]),
    case("syntax error in a .bzl", &[("p/BUILD.bazel", b"load(\"//:bad.bzl\", \"lib\")\n"), ("bad.bzl", b"def lib(:\n")], BUILD_X, &["bad.bzl:1"]),
    case("non-UTF-8 .bzl", &[("p/BUILD.bazel", b"load(\"//:bad.bzl\", \"lib\")\n"), ("bad.bzl", b"x = \"\xff\"\n")], BUILD_X, &["bad.bzl", "UTF-8"]),
    case("load cycle", &[("p/BUILD.bazel", b"load(\"//:a.bzl\", \"a\")\n"), ("a.bzl", b"load(\"//:b.bzl\", \"b\")\na = 1\n"), ("b.bzl", b"load(\"//:a.bzl\", \"a\")\nb = 1\n")], BUILD_X, &["a.bzl", "b.bzl", "cycle"]),
    case("malformed load label", &[("p/BUILD.bazel", b"load(\"defs\", \"lib\")\n")], BUILD_X, &["p/BUILD.bazel:1", "defs"]),
    case("rule without implementation", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"r = rule(attrs = {})\n")], BUILD_X, &["r.bzl:1", "implementation"]),
    case("implementation that is not a function", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"r = rule(implementation = 3)\n")], BUILD_X, &["r.bzl:1"]),
    case("unknown attr type", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    return []\nr = rule(implementation = _i, attrs = {\"a\": attr.colour()})\n")], BUILD_X, &["r.bzl:3", "colour"]),
    case("implementation returns garbage", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    return 42\nr = rule(implementation = _i)\n")], BUILD_X, &["p/BUILD.bazel:2", "got int"]),
    case("fail() in an implementation", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    fail(\"no good\")\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:2", "no good"]),
    case("output declared twice", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    a = ctx.actions.declare_file(\"o\")\n    b = ctx.actions.declare_file(\"o\")\n    ctx.actions.write(a, \"\")\n    ctx.actions.write(b, \"\")\n    return [DefaultInfo(files = depset([a]))]\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:3", "o"]),
    case("output never written", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    a = ctx.actions.declare_file(\"o\")\n    return [DefaultInfo(files = depset([a]))]\nr = rule(implementation = _i)\n")], BUILD_X, &["//p:x", "o"]),
    case("output outside the package", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    a = ctx.actions.declare_file(\"../../escape\")\n    ctx.actions.write(a, \"\")\n    return [DefaultInfo(files = depset([a]))]\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:2", "escape"]),
    case("action without outputs", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    ctx.actions.run(executable = \"/bin/true\", outputs = [])\n    return []\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:2", "output"]),
    case("unknown keyword to ctx.actions.run", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    a = ctx.actions.declare_file(\"o\")\n    ctx.actions.run(executable = \"/bin/true\", outputs = [a], colour = 1)\n    return []\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:3", "colour"]),
    case("depset of mixed orders", &[("p/BUILD.bazel", b"\nd = depset([1], transitive = [depset([2], order = \"preorder\")], order = \"postorder\")\n")], BUILD_X, &["p/BUILD.bazel:2", "order"]),
    case("provider field typo", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"P = provider(fields = [\"a\"])\ndef _i(ctx):\n    return [P(b = 1)]\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:3"]),
    case("endless loop in a rule", &[("p/BUILD.bazel", b"load(\"//:r.bzl\", \"r\")\nr(name = \"x\")\n"), ("r.bzl", b"def _i(ctx):\n    for i in range(2000000000):\n        x = i\n    return []\nr = rule(implementation = _i)\n")], BUILD_X, &["r.bzl:3", "without finishing"]),
];

/// Target patterns and the command line.
const CLI_CASES: &[Case] = &[
    case("unknown flag", &[], &["build", "--no-such-flag", "//..."], &["--no-such-flag"]),
    case("unknown command", &[], &["bulid", "//..."], &["bulid"]),
    case("pattern outside the workspace", &[], &["build", "//nowhere/..."], &["nowhere"]),
    case("malformed pattern", &[], &["build", "//p:x:y"], &["//p:x:y"]),
    case("missing target", &[("p/BUILD.bazel", b"")], &["build", "//p:missing"], &["//p:missing"]),
    case("bad compilation mode", &[], &["build", "-c", "fast", "//..."], &["fast"]),
    case("define without a value", &[], &["build", "--define", "novalue", "//..."], &["novalue"]),
    case("zero jobs", &[], &["build", "-j", "0", "//..."], &["-j"]),
    case(
        "run of a target that is not executable",
        &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\")\n"), ("defs.bzl", DEFS)],
        &["run", "//p:x"],
        &["//p:x"],
    ),
    case(
        "test without test targets",
        &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\")\n"), ("defs.bzl", DEFS)],
        &["test", "//p:x"],
        &["test"],
    ),
    case(
        "unreachable remote cache",
        &[("p/BUILD.bazel", b"load(\"//:defs.bzl\", \"lib\")\nlib(name = \"x\", value = \"v\")\n"), ("defs.bzl", DEFS)],
        &["build", "--remote_cache", "not a url", "//p:x"],
        &["not a url"],
    ),
    case("cache size without a unit", &[], &["cache", "gc", "--max-size", "lots"], &["lots"]),
];

/// The workspace's own files.
const WORKSPACE_CASES: &[Case] = &[
    case(
        "syntax error in MODULE.bazel",
        &[("MODULE.bazel", b"module(name = \n")],
        &["build", "//..."],
        &["MODULE.bazel:"],
    ),
    case(
        "unknown bazel_dep",
        &[
            ("MODULE.bazel", b"module(name = \"w\")\nbazel_dep(name = \"no_such_module\", version = \"1.0\")\n"),
            ("p/BUILD.bazel", b"load(\"@no_such_module//:x.bzl\", \"x\")\n"),
        ],
        &["build", "//p:all"],
        &["no_such_module"],
    ),
    case("no workspace at all", &[(NO_WORKSPACE, b"")], &["build", "//..."], &["MODULE.bazel or WORKSPACE"]),
];

/// `relink import` on broken Cargo workspaces.
const IMPORT_CASES: &[Case] = &[
    case("no Cargo.toml", &[], &["import"], &["Cargo.toml"]),
    case("TOML syntax error", &[("Cargo.toml", b"[package\nname = \"a\"\n")], &["import"], &["Cargo.toml"]),
    case("package without a name", &[("Cargo.toml", b"[package]\nversion = \"0.1.0\"\nedition = \"2021\"\n"), ("src/lib.rs", b"")], &["import"], &["Cargo.toml", "name"]),
    case("invalid edition", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"1999\"\n"), ("src/lib.rs", b"")], &["import"], &["Cargo.toml", "1999"]),
    case("invalid version", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"one\"\nedition = \"2021\"\n"), ("src/lib.rs", b"")], &["import"], &["Cargo.toml", "one"]),
    case("path dependency outside the workspace", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nb = { path = \"../outside-b\" }\n"), ("src/lib.rs", b"")], &["import"], &["outside-b"]),
    case("git dependency", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nb = { git = \"https://invalid.invalid/b.git\" }\n"), ("src/lib.rs", b"")], &["import"], &["b"]),
    case("member glob that matches nothing", &[("Cargo.toml", b"[workspace]\nmembers = [\"crates/*\"]\n")], &["import"], &["Cargo.toml"]),
    case("unknown feature", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"), ("src/lib.rs", b"")], &["import", "--features", "no-such-feature"], &["no-such-feature"]),
    case("missing target source", &[("Cargo.toml", b"[package]\nname = \"a\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\npath = \"src/nothere.rs\"\n")], &["import"], &["nothere.rs"]),
];

fn module_file() -> String {
    format!(
        "module(name = \"bad_input\")\nbazel_dep(name = \"rules_relink\", version = \"0.1.0\")\nlocal_path_override(module_name = \"rules_relink\", path = \"{}\")\n",
        repo_root().display()
    )
}

/// Run one case in a workspace of its own; returns a description of what went wrong.
fn check(case: &Case, root: &Path, cache: &Path, n: usize) -> Option<String> {
    let ws = root.join(format!("case-{n}"));
    std::fs::create_dir_all(&ws).unwrap();
    let import = case.args.first() == Some(&"import");
    let named = |name: &str| case.files.iter().any(|(p, _)| *p == name);
    if !import && !named("MODULE.bazel") && !named(NO_WORKSPACE) {
        std::fs::write(ws.join("MODULE.bazel"), module_file()).unwrap();
    }
    for (path, content) in case.files.iter().filter(|(p, _)| *p != NO_WORKSPACE) {
        let file = ws.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    let started = Instant::now();
    let mut child = relink_command(&ws, cache)
        .args(case.args)
        .env("RELINK_STARLARK_MAX_STEPS", "500000")
        // Small memory limits, so that the memory bombs end within seconds in a debug build.
        .env("RELINK_STARLARK_MAX_MEMORY_MB", "200")
        .env("RELINK_STARLARK_MAX_HEAP_MB", "32")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let limit = Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            return Some(format!("{}: still running after {} s (a hang)", case.name, limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let missing: Vec<&&str> = case.expect.iter().filter(|e| !stderr.contains(**e)).collect();
    if out.status.success() {
        Some(format!("{}: exit 0 (a silent success)\n{stderr}", case.name))
    } else if stderr.contains("panicked") || out.status.code().is_none() {
        Some(format!("{}: a panic or a signal ({:?})\n{stderr}", case.name, out.status))
    } else if !missing.is_empty() {
        Some(format!("{}: the message does not name {missing:?}\n{stderr}", case.name))
    } else {
        None
    }
}

#[test]
fn every_malformed_input_gets_a_clear_error() {
    let scratch = Scratch::new("bad-input");
    let cache = scratch.0.join("cache");
    let all: Vec<&Case> =
        [BUILD_CASES, BZL_CASES, CLI_CASES, WORKSPACE_CASES, IMPORT_CASES].iter().flat_map(|c| c.iter()).collect();
    assert!(all.len() >= 60, "issue 10 asks for at least 60 malformed inputs, not {}", all.len());
    let failures: Vec<String> =
        all.iter().enumerate().filter_map(|(n, case)| check(case, &scratch.0, &cache, n)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} malformed inputs were not handled cleanly:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

//! Rule-API tests: small Starlark fixtures built with relink.

mod common;

use common::*;

fn fixture() -> Ws {
    Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/rule_api"), "ruleapi")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn providers_and_depsets_flow_in_bazel_order() {
    let ws = fixture();
    ws.build_ok(&["build", "//:post", "//:pre", "//:topo", "//:copies"]);
    let read = |f: &str| std::fs::read_to_string(ws.path("relink-bin").join(f)).unwrap();
    assert_eq!(read("post.txt"), "a,b,c,d");
    assert_eq!(read("pre.txt"), "d,b,a,c");
    assert_eq!(read("topo.txt"), "d,b,c,a");
    assert_eq!(read("copies.out"), "input-content\n");
}

#[test]
fn second_build_is_all_cache_hits() {
    let ws = fixture();
    let first = ws.build_ok(&["build", "//:post", "//:copies"]);
    assert!(first.iter().all(|e| e.cache == "miss"));
    let second = ws.build_ok(&["build", "//:post", "//:copies"]);
    assert_eq!(second.len(), first.len());
    assert!(second.iter().all(|e| e.cache == "hit"), "{second:?}");
}

#[test]
fn reading_an_undeclared_input_fails() {
    let ws = fixture();
    let out = ws.relink(&["build", "//:reads_undeclared"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("secret.txt: No such file"), "{err}");
    assert!(err.contains("Shell of //:reads_undeclared failed"), "{err}");
    assert!(err.contains("Reproduce with:"), "{err}");
}

#[test]
fn writes_outside_declared_outputs_leave_no_trace() {
    let ws = fixture();
    ws.build_ok(&["build", "//:writes_outside"]);
    assert!(!ws.path("leaked.txt").exists());
    assert!(!ws.path("relink-bin/stray.txt").exists());
    // The content store and the action cache hold outputs; analysis records hold command
    // lines, which name the string.
    let leaked = std::process::Command::new("grep")
        .args(["-rl", "leaked-by-relink-test"])
        .arg(ws.cache.join("cas"))
        .arg(ws.cache.join("ac"))
        .output()
        .unwrap();
    assert!(leaked.stdout.is_empty(), "stray output reached the cache: {}", String::from_utf8_lossy(&leaked.stdout));
}

#[test]
fn a_missing_declared_output_names_the_action() {
    let ws = fixture();
    let out = ws.relink(&["build", "//:no_output"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "Shell of //:no_output did not create its declared output relink-out/fastbuild/bin/no_output.out"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_build_files_give_file_and_line() {
    let ws = fixture();
    let cases = [
        ("//errors/bad_attr:x", "errors/bad_attr/BUILD.bazel:3", "unknown attribute `colour`"),
        (
            "//errors/missing_dep:x",
            "errors/missing_dep/BUILD.bazel:5",
            "no such target `//errors/missing_dep:does_not_exist`",
        ),
        (
            "//errors/cycle:x",
            "errors/cycle/BUILD.bazel:3",
            "dependency cycle: //errors/cycle:x -> //errors/cycle:y -> //errors/cycle:x",
        ),
        (
            "//errors/wrong_type:x",
            "errors/wrong_type/BUILD.bazel:3",
            "attribute `value` of node(): expected string, got list",
        ),
        (
            "//errors/wrong_file:x",
            "errors/wrong_file/BUILD.bazel:3",
            "attribute `srcs` of typed(): `//errors/wrong_file:notes.txt` is not allowed in attribute `srcs`: it takes .rs files",
        ),
        (
            "//errors/wrong_file:y",
            "errors/wrong_file/BUILD.bazel:8",
            "`//errors/wrong_file:notes.txt` is a source file, but attribute `deps` takes targets only",
        ),
        (
            "//errors/providers:x",
            "errors/providers/BUILD.bazel:5",
            "attribute `deps` of node(): `//errors/providers:plain` does not have mandatory providers: 'ItemsInfo'",
        ),
        ("//api:wrong_value", "api/BUILD.bazel:11", "attribute `mood` of tagged(): \"sideways\" is not one of the allowed values [\"calm\", \"loud\"]"),
        ("//api:empty", "api/BUILD.bazel:13", "attribute `tagged` of tagged(): must not be empty"),
        ("//api:not_grouped", "api/BUILD.bazel:21", "`//:a` is a node, but the attribute takes only filegroup"),
        ("//api:broken", "api/BUILD.bazel:25", "the implementation did not return PromisedInfo, which rule(provides = ...) promises"),
        ("//api:by_flag", "api/BUILD.bazel:46", "config_setting(flag_values = ...): relink has no Starlark build settings"),
        (
            "//errors/implicit_outputs:x",
            "errors/implicit_outputs/defs.bzl:4",
            "rule(outputs = ...): relink does not implement implicit outputs",
        ),
        ("//errors/aspects:x", "errors/aspects/defs.bzl:6", "attr.label_list(aspects = ...): relink does not implement aspects"),
        ("//errors/not_attr:x", "errors/not_attr/defs.bzl:4", "attribute `dep` must be made with attr.*(), got string"),
        ("//errors/typo_kwarg:x", "errors/typo_kwarg/defs.bzl:6", "attr.label() got an unexpected keyword argument 'defualt'"),
        (
            "//errors/escape:x",
            "errors/escape/BUILD.bazel:3",
            "invalid label `../../input.txt`: a target name may not start with `/` or contain `..`",
        ),
    ];
    for (target, location, message) in cases {
        let out = ws.relink(&["build", target]);
        assert!(!out.status.success(), "{target} should fail");
        let err = stderr(&out);
        assert!(err.contains(location), "{target}: no {location} in:\n{err}");
        assert!(err.contains(message), "{target}: no {message:?} in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Arguments of Bazel's rule API that relink implements rather than ignores (issue 13):
/// label-keyed dicts, output lists, and select() on a config_setting's constraint_values.
#[test]
fn label_keyed_dicts_output_lists_and_constraint_selects_work() {
    let ws = fixture();
    ws.build_ok(&["build", "//api:tags", "//api:many", "//api:grouped", "//api:kept", "//api:by_platform"]);
    let read = |p: &str| std::fs::read_to_string(ws.path(p)).unwrap();
    assert_eq!(read("relink-bin/api/tags.txt"), "a=rule\ninput.txt=source\ncalm\n");
    assert_eq!(
        (read("relink-bin/api/one.txt"), read("relink-bin/api/two.txt")),
        ("one.txt\n".into(), "two.txt\n".into())
    );
    assert_eq!(read("relink-bin/api/by_platform.txt"), "a=x\ncalm\n", "the host is not happy");
    ws.build_ok(&["build", "--platforms", "//api:happy_platform", "//api:by_platform"]);
    assert_eq!(read("relink-bin/api/by_platform.txt"), "a=x\nloud\n", "--platforms selects the constraint");
}

/// depset, Args, select and attr are native values with Bazel's behaviour (issue 13): sums of
/// selects and plain values resolve per configuration (dicts merge), Args maps, formats and
/// writes a shell-quoted parameter file, depsets flatten in order and check their element type.
#[test]
fn native_depsets_args_selects_and_attrs_behave_as_bazel() {
    let ws = fixture();
    let read = |p: &str| std::fs::read_to_string(ws.path(p)).unwrap();
    ws.build_ok(&["build", "//native:described"]);
    assert_eq!(
        read("relink-bin/native/described.txt"),
        "parts=first,fastbuild,middle,last\nenv=A:1,B:default\ntypes=depset,Args,Attribute\n\
         depset=depset([\"a\", \"c\", \"b\"]) truthy=True empty_truthy=False\nforwarded=True\n\
         info=PairInfo(a = 1, b = None) eq=True ne=False dir=[\"a\", \"b\"] has=True type=struct\n"
    );
    let params = "--mode\n'<first>'\n-e\nX\n-e\nY\n--\nf=input.txt\nf=txt\nf=used.txt\nf=txt\n\
                  --joined\n'[a:c:b] 100%'\n'has space'\n";
    assert_eq!(read("relink-bin/native/described.params"), params);
    ws.build_ok(&["build", "-c", "opt", "//native:described"]);
    assert!(read("relink-bin/native/described.txt").starts_with("parts=first,opt,middle,last\nenv=A:1,B:opt\n"));
    let cases = [
        (
            "//native:unmatched",
            "native/BUILD.bazel:18",
            "configurable attribute of //native:unmatched doesn't match this configuration: build this one with -c opt",
        ),
        ("//native:bad_format", "native/defs.bzl:52", "Args: format = \"--%d\" must contain exactly one %s"),
        (
            "//native:mixed_depset",
            "native/defs.bzl:58",
            "depset: cannot add an item of type 'int' to a depset of 'string'",
        ),
    ];
    for (target, location, message) in cases {
        let out = ws.relink(&["build", target]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{target}: {err}");
        assert!(err.contains(location) && err.contains(message), "{target}: no {location} / {message:?} in:\n{err}");
    }
}

#[test]
fn a_starlark_file_that_is_not_utf8_is_named_as_such() {
    let ws = fixture();
    std::fs::write(ws.path("latin1.bzl"), b"X = \"caf\xe9\"\n").unwrap();
    std::fs::create_dir_all(ws.path("latin1")).unwrap();
    std::fs::write(
        ws.path("latin1/BUILD.bazel"),
        "load(\"//:latin1.bzl\", \"X\")\nload(\"//:defs.bzl\", \"node\")\n\nnode(name = \"x\", value = X)\n",
    )
    .unwrap();
    let out = ws.relink(&["build", "//latin1:x"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("latin1.bzl is not UTF-8 text") && err.contains("latin1/BUILD.bazel:1"), "{err}");
    std::fs::write(ws.path("latin1/BUILD.bazel"), b"# caf\xe9\n").unwrap();
    let out = ws.relink(&["build", "//latin1:x"]);
    assert!(stderr(&out).contains("latin1/BUILD.bazel: not UTF-8 text (BUILD files must be)"), "{}", stderr(&out));
}

#[test]
fn an_action_over_its_time_limit_is_stopped_and_named() {
    let ws = fixture();
    add_targets(&ws, "sh(name = \"hangs\", cmd = \"sleep 300\", reqs = {\"timeout\": \"1\"})\n");
    let start = std::time::Instant::now();
    let out = ws.relink(&["build", "//:hangs"]);
    let err = stderr(&out);
    assert!(start.elapsed().as_secs() < 30, "relink waited for the hung action");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Shell of //:hangs timed out after 1 s"), "{err}");
    assert!(err.contains("repro.sh"), "{err}");
}

#[test]
fn an_endless_loop_in_a_build_file_stops_with_its_line() {
    let ws = fixture();
    let out = relink_command(&ws.dir, &ws.cache)
        .args(["build", "//errors/endless:x"])
        .env("RELINK_STARLARK_MAX_STEPS", "100000")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("errors/endless/BUILD.bazel:6:9-15: evaluation ran 100000 statements without finishing"),
        "{err}"
    );
}

#[test]
fn a_flipped_byte_in_the_store_is_detected_and_rebuilt() {
    use std::os::unix::fs::PermissionsExt;
    let ws = fixture();
    ws.build_ok(&["build", "//:copies"]);
    let digest = blake3::hash(b"input-content\n").to_hex().to_string();
    let blob = ws.cache.join("cas").join(&digest[..2]).join(&digest);
    assert!(blob.is_file(), "the output is stored by content at {}", blob.display());
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&blob, b"inpuT-content\n").unwrap();
    let log = ws.build_ok(&["build", "//:copies"]);
    assert_eq!(executed(&log), pairs(&[("Shell", "//:copies")]), "the corrupted entry must be rebuilt");
    assert_eq!(std::fs::read_to_string(ws.path("relink-bin/copies.out")).unwrap(), "input-content\n");
}

#[test]
fn damage_that_keeps_the_mtime_is_found_by_verify_and_rebuilt() {
    use std::os::unix::fs::PermissionsExt;
    let ws = fixture();
    ws.build_ok(&["build", "//:copies"]);
    let digest = blake3::hash(b"input-content\n").to_hex().to_string();
    let blob = ws.cache.join("cas").join(&digest[..2]).join(&digest);
    let mtime = std::fs::metadata(&blob).unwrap().modified().unwrap();
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&blob, b"inpuT-content\n").unwrap();
    std::fs::File::options().write(true).open(&blob).unwrap().set_modified(mtime).unwrap();
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o444)).unwrap();
    let verify = ws.relink(&["verify"]);
    let report = stderr(&verify);
    assert_eq!(verify.status.code(), Some(1), "{report}");
    assert!(report.contains(&format!("{} does not match its digest: removed", blob.display())), "{report}");
    assert!(report.contains(", 1 damaged"), "{report}");
    let log = ws.build_ok(&["build", "//:copies"]);
    assert_eq!(executed(&log), pairs(&[("Shell", "//:copies")]), "the damaged result runs again");
    assert_eq!(std::fs::read_to_string(ws.path("relink-bin/copies.out")).unwrap(), "input-content\n");
    let again = ws.relink(&["verify"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

/// The action-cache entry whose result writes a file named `output` (its path and bytes).
fn entry_writing(ws: &Ws, output: &str) -> (std::path::PathBuf, Vec<u8>) {
    for shard in std::fs::read_dir(ws.cache.join("ac")).unwrap().flatten() {
        for entry in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".unused.json") || name.ends_with(".provenance.json") {
                continue;
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let files = v["result"]["files"].as_array().cloned().unwrap_or_default();
            if files.iter().any(|f| f["path"].as_str().is_some_and(|p| p.ends_with(output))) {
                return (entry.path(), bytes);
            }
        }
    }
    panic!("no action-cache entry writes {output}")
}

/// Replace `path`'s content, keeping its mtime (as damage that hides would).
fn overwrite_keeping_mtime(path: &std::path::Path, bytes: &[u8]) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
}

/// An action-cache entry swapped with another action's, truncated, or with one digest
/// character changed to name another blob, mtime kept each time: a miss, and the action runs
/// again with the right output (issue 10).
#[test]
fn a_swapped_truncated_or_altered_action_cache_entry_is_a_miss() {
    let ws = fixture();
    ws.build_ok(&["build", "//:copies", "//:pruned"]);
    let (copies, copies_bytes) = entry_writing(&ws, "copies.out");
    let (pruned, _) = entry_writing(&ws, "pruned.out");
    let read = |p: &str| std::fs::read_to_string(ws.path(p)).unwrap();
    let (copies_out, pruned_out) = (read("relink-bin/copies.out"), read("relink-bin/pruned.out"));

    overwrite_keeping_mtime(&pruned, &copies_bytes);
    let log = ws.build_ok(&["build", "//:copies", "//:pruned"]);
    assert_eq!(executed(&log), pairs(&[("Pruned", "//:pruned")]), "a swapped entry runs its action again");
    assert_eq!(read("relink-bin/pruned.out"), pruned_out);

    overwrite_keeping_mtime(&copies, &copies_bytes[..copies_bytes.len() / 2]);
    let log = ws.build_ok(&["build", "//:copies", "//:pruned"]);
    assert_eq!(executed(&log), pairs(&[("Shell", "//:copies")]), "a truncated entry runs its action again");

    // The digest of copies.out changed into that of pruned.out, a blob the store holds.
    let (copies, bytes) = entry_writing(&ws, "copies.out");
    let text = String::from_utf8(bytes).unwrap();
    let (own, other) = (
        blake3::hash(copies_out.as_bytes()).to_hex().to_string(),
        blake3::hash(pruned_out.as_bytes()).to_hex().to_string(),
    );
    assert!(text.contains(&own), "{text}");
    overwrite_keeping_mtime(&copies, text.replace(&own, &other).as_bytes());
    let log = ws.build_ok(&["build", "//:copies", "//:pruned"]);
    assert_eq!(executed(&log), pairs(&[("Shell", "//:copies")]), "an altered entry runs its action again");
    assert_eq!(read("relink-bin/copies.out"), copies_out);
}

#[test]
fn two_builds_at_once_both_succeed() {
    let ws = fixture();
    let spawn = || {
        relink_command(&ws.dir, &ws.cache).args(["build", "//:post", "//:pre", "//:topo", "//:copies"]).spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
    }
    assert_eq!(std::fs::read_to_string(ws.path("relink-bin/post.txt")).unwrap(), "a,b,c,d");
}

#[test]
fn query_lists_targets_with_kinds() {
    let ws = fixture();
    let out = ws.relink(&["query", "//:all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("//:post (node) deps: [//:b, //:c]"), "{text}");
    assert!(text.contains("//:inputs (filegroup)"), "{text}");
}

#[test]
fn symlink_actions_copy_source_and_derived_files() {
    let ws = fixture();
    let log = ws.build_ok(&["build", "//:copy_source", "//:copy_derived"]);
    // Only the producer of the copied derived file runs besides the copies themselves.
    assert_eq!(
        executed(&log),
        pairs(&[("FileWrite", "//:post"), ("Symlink", "//:copy_derived"), ("Symlink", "//:copy_source")])
    );
    let read = |f: &str| std::fs::read_to_string(ws.path("relink-bin").join(f)).unwrap();
    assert_eq!(read("copy_source.copy"), "input-content\n");
    assert_eq!(read("copy_derived.copy"), "a,b,c,d");
}

#[test]
fn unused_inputs_do_not_invalidate_an_action() {
    let ws = fixture();
    let ran =
        |log: &[LogEntry]| log.iter().filter(|e| e.mnemonic == "Pruned").map(|e| e.cache.clone()).collect::<Vec<_>>();
    assert_eq!(ran(&ws.build_ok(&["build", "//:pruned"])), ["miss"]);
    std::fs::write(ws.path("unused.txt"), "changed, but never read\n").unwrap();
    assert_eq!(ran(&ws.build_ok(&["build", "//:pruned"])), ["hit"], "a change to an unused input re-runs nothing");
    std::fs::write(ws.path("used.txt"), "changed and read\n").unwrap();
    assert_eq!(ran(&ws.build_ok(&["build", "//:pruned"])), ["miss"], "a change to a used input re-runs the action");
    assert_eq!(std::fs::read_to_string(ws.path("relink-bin/pruned.out")).unwrap(), "changed and read\n");
}

#[test]
fn an_unused_inputs_list_naming_a_non_input_is_an_error() {
    let ws = fixture();
    let out = ws.relink(&["build", "//:lies"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("Pruned of //:lies lists `not-an-input.txt` as an unused input, but it is not one of its inputs"),
        "{err}"
    );
}

#[test]
fn analysis_is_reused_only_while_what_it_read_is_unchanged() {
    let ws = fixture();
    let reused = |args: &[&str]| {
        let out = relink_command(&ws.dir, &ws.cache).env("RELINK_TIMING", "1").args(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out).contains("loading and analysis (reused)")
    };
    let query = |pattern: &str| String::from_utf8(ws.relink(&["query", pattern]).stdout).unwrap();
    assert!(!reused(&["build", "//:copies"]));
    assert!(reused(&["build", "//:copies"]), "nothing changed");
    // A BUILD file edit.
    std::fs::write(
        ws.path("BUILD.bazel"),
        std::fs::read_to_string(ws.path("BUILD.bazel")).unwrap()
            + "\nfilegroup(name = \"later\", srcs = [\"input.txt\"])\n",
    )
    .unwrap();
    assert!(!reused(&["build", "//:copies"]), "the BUILD file changed");
    assert!(query("//:all").contains("//:later"));
    // A new file in a globbed directory changes what glob() returns.
    reused(&["build", "//:inputs"]);
    assert!(reused(&["build", "//:inputs"]));
    std::fs::write(ws.path("zzz.txt"), "new\n").unwrap();
    assert!(!reused(&["build", "//:inputs"]), "glob() matches a new file");
    // A new package changes what `...` means.
    std::fs::create_dir_all(ws.path("pkgs/a")).unwrap();
    std::fs::write(ws.path("pkgs/a/BUILD.bazel"), "filegroup(name = \"a\", srcs = [])\n").unwrap();
    assert!(query("//pkgs/...").contains("//pkgs/a:a"));
    std::fs::create_dir_all(ws.path("pkgs/b")).unwrap();
    std::fs::write(ws.path("pkgs/b/BUILD.bazel"), "filegroup(name = \"b\", srcs = [])\n").unwrap();
    assert!(query("//pkgs/...").contains("//pkgs/b:b"), "{}", query("//pkgs/..."));
}

/// Append `targets` to the fixture's root BUILD file.
fn add_targets(ws: &Ws, targets: &str) {
    let build = ws.path("BUILD.bazel");
    let text = std::fs::read_to_string(&build).unwrap() + targets;
    std::fs::write(&build, text).unwrap();
}

/// A fresh directory beside the workspace where actions leave marks a test can watch.
/// A shell loop that writes the time ten times a second to `name` in its action's sandbox
/// (the one directory of the host an action may write; `/tmp` is its own): a process whose
/// life a test can watch whatever namespaces it runs in. [`beat_file`] finds the file.
fn heartbeat(name: &str) -> String {
    format!("while :; do date +%s%N > $PWD/{name}; sleep 0.1; done")
}

/// Where the heartbeat `name` of a running (or kept) sandbox of `ws` beats, once it started.
fn beat_file(ws: &Ws, name: &str) -> std::path::PathBuf {
    let start = std::time::Instant::now();
    loop {
        let found = std::fs::read_dir(ws.cache.join("sandbox"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(name))
            .find(|p| p.exists());
        if let Some(found) = found {
            return found;
        }
        assert!(start.elapsed().as_secs() < 60, "the action never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether the heartbeat in `file` still beats (1.5 s: ten beats on a loaded machine).
fn beating(file: &std::path::Path) -> bool {
    let before = std::fs::read_to_string(file).unwrap_or_default();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::read_to_string(file).unwrap_or_default() != before
}

#[test]
fn ctrl_c_stops_every_running_action_and_exits_8() {
    let ws = fixture();
    add_targets(&ws, &format!("sh(name = \"sleeps\", cmd = \"({}) & {}\")\n", heartbeat("child"), heartbeat("shell")));
    let mut relink = relink_command(&ws.dir, &ws.cache)
        .args(["build", "//:sleeps"])
        .env("RELINK_KEEP_SANDBOXES", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (child, shell) = (beat_file(&ws, "child"), beat_file(&ws, "shell"));
    assert!(beating(&child) && beating(&shell));
    std::process::Command::new("kill").args(["-INT", &relink.id().to_string()]).status().unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = relink.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed().as_secs() < 30, "relink did not stop after Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(relink.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(8), "Bazel's exit code for an interrupted build:\n{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!beating(&shell) && !beating(&child), "the action's processes are gone");
}

#[test]
fn an_action_cannot_change_what_the_store_gives_later_builds() {
    let ws = fixture();
    // `poisoner` tries to undo the read-only mounts, to rewrite its input, a blob of the store
    // (chmod, write, old mtime), and every file of the store by its own path; `reader` depends on the same blob but never on `poisoner`.
    add_targets(&ws, &format!(
        concat!(
            "sh(name = \"produced\", cmd = \"echo good > \\\"$1\\\"\")\n",
            "sh(name = \"poisoner\", cmd = \"umount \\\"$2\\\"; umount -l {cas}; mount -o remount,rw {cas}; ",
            "chmod u+w \\\"$2\\\"; echo evil > \\\"$2\\\"; ",
            "touch -d @1000000000 \\\"$2\\\"; chmod -R u+w {cas}; ",
            "for f in $(find {cas} -type f); do echo evil > $f; done; echo tried > \\\"$1\\\"\", srcs = [\":produced\"])\n",
            "sh(name = \"reader\", cmd = \"cat \\\"$2\\\" > \\\"$1\\\"\", srcs = [\":produced\"])\n",
        ),
        cas = ws.cache.join("cas").display()
    ));
    ws.build_ok(&["build", "//:produced"]);
    let out = ws.relink(&["build", "//:poisoner"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let store = std::process::Command::new("grep").args(["-rl", "evil"]).arg(ws.cache.join("cas")).output().unwrap();
    assert!(
        store.stdout.is_empty(),
        "the store holds the poisoner's bytes: {}",
        String::from_utf8_lossy(&store.stdout)
    );
    ws.build_ok(&["build", "//:reader"]);
    let read = std::fs::read_to_string(ws.path("relink-bin/reader.out")).unwrap();
    assert_eq!(read, "good\n", "a later build received what another action wrote into its input");
}

#[test]
fn a_killed_relink_takes_its_actions_along_and_clean_reclaims_their_sandboxes() {
    let ws = fixture();
    add_targets(&ws, &format!("sh(name = \"sleeps\", cmd = \"{}\")\n", heartbeat("shell")));
    let mut relink = relink_command(&ws.dir, &ws.cache)
        .args(["build", "//:sleeps"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let shell = beat_file(&ws, "shell");
    assert!(beating(&shell));
    relink.kill().unwrap(); // SIGKILL: no handler runs
    relink.wait().unwrap();
    let start = std::time::Instant::now();
    while beating(&shell) {
        assert!(start.elapsed().as_secs() < 10, "the action outlived relink");
    }
    let sandboxes = || std::fs::read_dir(ws.cache.join("sandbox")).map(|d| d.count()).unwrap_or(0);
    assert!(sandboxes() > 0, "the killed build left its sandbox");
    let clean = ws.relink(&["clean"]);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(stderr(&clean).contains("removed 1 sandboxes of earlier builds"), "{}", stderr(&clean));
    let left: Vec<_> = std::fs::read_dir(ws.cache.join("sandbox"))
        .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n != "stable").collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    ws.build_ok(&["build", "//:copies"]);
}

#[test]
fn a_cache_without_space_is_named_before_the_build_starts() {
    let ws = fixture();
    let small = ws.dir.join("..").join("small-fs");
    std::fs::create_dir_all(&small).unwrap();
    let relink = relink_command(&ws.dir, &ws.cache).get_program().to_string_lossy().to_string();
    // A 64 MB file system of its own, mounted in a private namespace.
    let script = format!(
        "mount -t tmpfs -o size=64m tmpfs '{d}' && RELINK_CACHE='{d}/cache' '{relink}' build //:copies",
        d = small.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .current_dir(&ws.dir)
        .env("RELINK_BUILDER", std::path::PathBuf::from(&relink).with_file_name("relink-builder"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("the cache at {}/cache has 67 MB free", small.display())), "{err}");
}

#[test]
fn actions_write_only_their_sandbox_and_tmp_and_reach_no_network() {
    let ws = fixture();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = std::env::var("HOME").unwrap();
    let home_leak = format!("{home}/.relink-leak-{}", std::process::id());
    let probe = format!(
        r#"out="$1"; r=""
if echo x > '{ws}/leak.txt' 2>/dev/null; then r="$r source-tree:written"; else r="$r source-tree:denied"; fi
if echo x > '{home_leak}' 2>/dev/null; then r="$r home:written"; else r="$r home:denied"; fi
if bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null; then r="$r network:connected"; else r="$r network:denied"; fi
if cat '{ws}/secret.txt' >/dev/null 2>&1; then r="$r undeclared-source:read"; else r="$r undeclared-source:denied"; fi
if grep -qs relink-test-secret /proc/[0-9]*/environ; then r="$r environ:read"; else r="$r environ:denied"; fi
if echo x > /tmp/relink-probe-$$ 2>/dev/null; then rm -f /tmp/relink-probe-$$; r="$r tmp:written"; else r="$r tmp:denied"; fi
echo "$r" > "$out"
"#,
        ws = ws.dir.display()
    );
    std::fs::write(ws.path("probe.sh"), probe).unwrap();
    add_targets(&ws, "sh(name = \"escapes\", cmd = \"sh \\\"$2\\\" \\\"$1\\\"\", srcs = [\"probe.sh\"])\n");
    // A secret in relink's environment, which no action is given, must not be readable either.
    let out = relink_command(&ws.dir, &ws.cache)
        .args(["build", "//:escapes"])
        .env("RELINK_TEST_TOKEN", "relink-test-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let _ = std::fs::remove_file(&home_leak);
    let report = std::fs::read_to_string(ws.path("relink-bin/escapes.out")).unwrap();
    assert_eq!(
        report.trim(),
        "source-tree:denied home:denied network:denied undeclared-source:denied environ:denied tmp:written",
        "probes"
    );
    assert!(!ws.path("leak.txt").exists());
    assert!(listener.accept().is_err(), "the action reached a server of the host");
}

#[test]
fn a_process_left_behind_holding_stdout_neither_blocks_nor_outlives_the_build() {
    let ws = fixture();
    // Background loops inherit the action's stdout and stderr (a build script's daemon); one
    // even leaves the process group (setsid). The sandbox is kept, so that a loop that
    // survived would still be seen beating.
    add_targets(
        &ws,
        &format!(
            "sh(name = \"daemon\", cmd = \"({}) & setsid sh -c \\\"{}\\\" & sleep 0.5; echo done > \\\"$1\\\"\")\n",
            heartbeat("daemon"),
            heartbeat("escaped")
        ),
    );
    let start = std::time::Instant::now();
    let out = relink_command(&ws.dir, &ws.cache)
        .args(["build", "//:daemon"])
        .env("RELINK_KEEP_SANDBOXES", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(start.elapsed().as_secs() < 60, "the build waited for the background processes");
    let (daemon, escaped) = (beat_file(&ws, "daemon"), beat_file(&ws, "escaped"));
    assert!(!beating(&daemon), "the background process outlived its action");
    assert!(!beating(&escaped), "the process that left the group outlived its action");
}

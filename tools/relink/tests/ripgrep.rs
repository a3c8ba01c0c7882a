//! ripgrep 15.2.0, assembled from crates.io in its upstream layout, imported with
//! `relink import`, built and tested with relink; a private edit in globset relinks rg.
//! Needs the crates.io registry (the assembly downloads pinned, checksummed .crate files).

mod common;

use common::*;

#[test]
fn ripgrep_imports_builds_tests_and_relinks_after_a_private_edit() {
    if !real_code_tier("ripgrep_imports_builds_tests_and_relinks_after_a_private_edit") {
        return;
    }
    let (_keep, ws) = ripgrep_workspace("ripgrep");
    let import = ws.relink(&["import"]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    assert!(ws.path("third_party/crates/regex-automata-0.4.15/BUILD.bazel").is_file());
    assert!(ws.path("crates/globset/BUILD.bazel").is_file());
    crate_sets::assert_same_crates_as_cargo(&ws);

    // kill -9 at several points of the cold build: every process of a killed build dies with
    // it, and the next build continues from what the killed ones stored (the binary is
    // compared with a clean build's at the end).
    let (killed_at, seen_running) = kill_builds_midway(&ws, &[2_000, 6_000, 12_000]);
    assert!(!killed_at.is_empty(), "no build was still running when it was to be killed");
    assert!(seen_running > 0, "no action was seen running at a kill: the orphan check would prove nothing");

    // rg searches a real directory like grep does.
    ws.build_ok(&["build", "//:rg"]);
    let rg = ws.path("relink-bin/rg");
    let out = std::process::Command::new(&rg)
        .args(["-c", "fn new_regex", "crates/globset/src"])
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "crates/globset/src/lib.rs:2\n");

    // The members' unit tests and the integration suites (ripgrep's runs rg) pass, run as
    // ordinary actions in one parallel pass.
    let log_path = ws.dir.join("../test-log.jsonl");
    let test = ws.relink(&["test", "-j", "2", "--execution-log", log_path.to_str().unwrap(), "//..."]);
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&test.stderr));
    let spans: Vec<(String, u64, u64)> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["cache"] == "miss")
        .map(|v| {
            let start = v["start_ms"].as_u64().unwrap();
            (v["mnemonic"].as_str().unwrap().to_string(), start, start + v["duration_ms"].as_u64().unwrap())
        })
        .collect();
    let tests: Vec<&(String, u64, u64)> = spans.iter().filter(|s| s.0 == "TestRunner").collect();
    assert!(tests.len() >= 10, "every test target ran: {spans:?}");
    // Tests are ordinary actions: they run while other actions of the same pass still run.
    let overlapping = tests.iter().any(|t| spans.iter().any(|o| !std::ptr::eq(*t, o) && t.1 < o.2 && o.1 < t.2));
    assert!(overlapping, "test runs overlap other actions of the pass: {spans:?}");
    assert!(stdout.contains(" tests passed, 0 failed"), "libtest counts are summed: {stdout}");
    assert!(stdout.contains("PASSED //:integration"), "{stdout}");
    assert!(stdout.contains("PASSED //crates/ignore:ignore_test"), "{stdout}");
    assert!(stdout.contains("PASSED //:rg_test"), "rg's own unit tests (cargo test runs them): {stdout}");
    // The members' doctests, with the counts `cargo test --doc` reports.
    let missing = ripgrep_doctests_missing(&stdout);
    assert!(missing.is_empty(), "doctests not as under cargo: {missing:?}\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // A private body edit in globset: only globset compiles, rg relinks.
    ws.edit(
        "crates/globset/src/lib.rs",
        ".nfa_size_limit(Some(10 * (1 << 20)))",
        ".nfa_size_limit(Some(12 * (1 << 20)))",
    );
    let log = ws.build_ok(&["build", "//:rg"]);
    assert_eq!(
        executed(&log),
        pairs(&[
            ("RustCompile", "//crates/globset:globset"),
            ("RustStub", "//crates/globset:globset"),
            ("RustLink", "//:rg"),
        ])
    );
    let out = std::process::Command::new(&rg)
        .args(["-c", "nfa_size_limit", "crates/globset/src/lib.rs"])
        .current_dir(&ws.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");

    // rust-analyzer's view: every crate rg's build compiles, registry crates not members,
    // dependencies resolved by name (regex-automata through grep-regex's `regex_automata`).
    let project = ws.relink(&["rust-project", "//:rg"]);
    assert!(project.status.success(), "{}", String::from_utf8_lossy(&project.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("rust-project.json")).unwrap()).unwrap();
    let crates = json["crates"].as_array().unwrap();
    let named = |name: &str| crates.iter().find(|c| c["display_name"] == name).unwrap_or_else(|| panic!("{name}"));
    let deps_of = |name: &str| -> Vec<String> {
        named(name)["deps"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
    };
    assert!(deps_of("grep_regex").contains(&"regex_automata".to_string()), "{:?}", deps_of("grep_regex"));
    assert!(deps_of("rg").contains(&"grep".to_string()) && deps_of("rg").contains(&"ignore".to_string()));
    assert_eq!(named("memchr")["is_workspace_member"], false);
    assert_eq!(named("globset")["is_workspace_member"], true);
    assert!(
        named("rg")["env"]["OUT_DIR"].as_str().is_some_and(|d| std::path::Path::new(d).is_dir()),
        "rg's build script ran"
    );

    // Re-import with an unchanged Cargo.lock vendors nothing.
    let again = ws.relink(&["import"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("(0 newly vendored, 0 removed)"));

    // After the kills, the test pass and the edit, rg is the binary a clean build makes from an
    // empty cache; `relink clean` leaves no sandbox of the killed builds behind.
    let built = digests_under(&ws.path("relink-bin"))["rg"].clone();
    let clean = ws.relink(&["clean"]);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    let left: Vec<_> = std::fs::read_dir(ws.cache.join("sandbox"))
        .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| n != "stable").collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "sandboxes left after relink clean: {left:?}");
    let fresh = ws.dir.join("../fresh-cache");
    let out = ws.relink_with_cache(&["build", "//:rg"], &fresh);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(digests_under(&ws.path("relink-bin"))["rg"], built, "rg after kills and edits != a clean build's");
}

/// Start `relink build //:rg` and kill it (SIGKILL) after each of `delays_ms` of its run, each
/// time a new build; after each kill, wait until no action process of the build is left.
/// Returns the delays at which a build was still running, and how many action processes were
/// seen running just before the kills.
fn kill_builds_midway(ws: &Ws, delays_ms: &[u64]) -> (Vec<u64>, usize) {
    let mut killed = Vec::new();
    let mut seen_running = 0;
    for &delay in delays_ms {
        let mut build = relink_command(&ws.dir, &ws.cache)
            .args(["build", "//:rg"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if build.try_wait().unwrap().is_some() {
            break;
        }
        seen_running += action_processes(&ws.cache).len();
        build.kill().unwrap();
        build.wait().unwrap();
        killed.push(delay);
        let start = std::time::Instant::now();
        loop {
            let left = action_processes(&ws.cache);
            if left.is_empty() {
                break;
            }
            assert!(start.elapsed().as_secs() < 10, "processes outlived the killed build: {left:?}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    (killed, seen_running)
}

/// Processes whose command line names the cache (actions run the builder and rustc on its
/// sandboxes), with their command lines.
fn action_processes(cache: &std::path::Path) -> Vec<String> {
    let cache = cache.to_string_lossy().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&cache) || cmdline.contains("relink-builder") {
            found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

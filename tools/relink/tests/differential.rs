//! Differential test on real crates: every crate of ripgrep's graph (globset, grep-*,
//! ignore, regex-syntax, memchr, bstr, serde with derive, ...) compiled against stub
//! interfaces, audited, linked with the real rlibs, versus the same graph with interfaces
//! taken from the real compiles (`relink_cutoff=0`, what today's rules do): the crates' own
//! test suites give the same results and `rg` prints the same output. The derive-heavy
//! graph (serde_derive, clap_derive users) prints what `cargo run` prints.

mod common;

use common::*;

const STUB_ALL: &[&str] = &["--define", "relink_stub_all=1", "--define", "relink_audit=1"];
const NO_CUTOFF: &[&str] = &["--define", "relink_cutoff=0"];

fn with(cmd: &str, defines: &[&str], rest: &[&str]) -> Vec<String> {
    let mut v = vec![cmd.to_string()];
    v.extend(defines.iter().map(|s| s.to_string()));
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

fn run(ws: &Ws, args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ws.relink(&refs)
}

/// PASSED/FAILED lines of `relink test` with their test counts, without timings or cache
/// status.
fn outcomes(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("PASSED") || l.starts_with("FAILED"))
        .map(|l| {
            let mut parts = l.split(" (").filter(|p| !p.starts_with("cached)"));
            let head = parts.next().unwrap();
            let counts = parts.find(|p| p.contains(" passed")).unwrap_or_default();
            format!("{head} ({})", counts.split(')').next().unwrap_or_default())
        })
        .collect();
    v.sort();
    v
}

/// rg over the workspace's own sources with a few option sets.
fn rg_outputs(ws: &Ws) -> Vec<String> {
    let rg = ws.path("relink-bin/rg");
    let cases: &[&[&str]] = &[
        &["-n", "fn new_regex", "crates"],
        &["-c", "-i", "glob", "crates/globset/src"],
        &["--files", "-g", "*.toml", "crates"],
        &["-w", "-o", "Searcher", "crates/grep-searcher/src/lib.rs"],
        &["--vimgrep", "unsafe", "crates/grep-cli/src"],
        &["-l", "--type", "rust", "impl.*Sink", "crates"],
    ];
    cases
        .iter()
        .map(|args| {
            let out = std::process::Command::new(&rg).args(*args).current_dir(&ws.dir).output().unwrap();
            let mut lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
            lines.sort();
            format!("{:?} -> {}\n{}", args, out.status, lines.join("\n"))
        })
        .collect()
}

#[test]
fn ripgrep_with_every_crate_stubbed_behaves_like_no_cutoff() {
    if !real_code_tier("ripgrep_with_every_crate_stubbed_behaves_like_no_cutoff") {
        return;
    }
    let (_keep, ws) = ripgrep_workspace("differential");
    assert!(ws.relink(&["import"]).status.success());

    let stubbed = run(&ws, &with("test", STUB_ALL, &["//..."]));
    let stderr = String::from_utf8_lossy(&stubbed.stderr);
    assert!(stubbed.status.success(), "{}\n{stderr}", String::from_utf8_lossy(&stubbed.stdout));
    assert!(!stderr.contains("using the real sources as interface"), "every crate must stub:\n{stderr}");
    let audited = stderr.lines().filter(|l| l.starts_with("rules_relink: audit:")).count();
    assert!(audited >= 30, "the libraries are audited ({audited}):\n{stderr}");
    let stubbed_rg = rg_outputs(&ws);

    // The doctests, compiled against stubs of every crate, pass as under cargo test --doc
    // (the default configuration runs them too, in tests/ripgrep.rs); the other test targets
    // must give the same results without cutoff.
    let stubbed_out = String::from_utf8_lossy(&stubbed.stdout).to_string();
    let missing = ripgrep_doctests_missing(&stubbed_out);
    assert!(missing.is_empty(), "doctests with every crate stubbed: {missing:?}\n{stubbed_out}");
    let without_doctests: Vec<String> =
        outcomes(&stubbed_out).into_iter().filter(|o| !o.contains("_doctest ")).collect();
    assert_eq!(without_doctests.len(), 13, "12 test targets of the members and rg's own unit tests");
    let labels: Vec<&str> = without_doctests.iter().map(|o| o.split(' ').nth(1).unwrap()).collect();
    let real = run(&ws, &with("test", NO_CUTOFF, &labels));
    assert!(real.status.success(), "{}", String::from_utf8_lossy(&real.stderr));
    assert_eq!(without_doctests, outcomes(&String::from_utf8_lossy(&real.stdout)));
    assert_eq!(stubbed_rg, rg_outputs(&ws), "rg behaves the same with every crate stubbed");
}

#[test]
fn derive_graph_with_every_crate_stubbed_prints_what_cargo_prints() {
    if !real_code_tier("derive_graph_with_every_crate_stubbed_prints_what_cargo_prints") {
        return;
    }
    let ws = Ws::copy_of(&repo_root().join("tools/relink/tests/fixtures/cargo_derive"), "differential-derive");
    assert!(ws.relink(&["import"]).status.success());
    let out = run(&ws, &with("build", STUB_ALL, &["//:derive_demo"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("using the real sources as interface"), "{stderr}");
    assert!(stderr.contains("rules_relink: audit: `serde_json`"), "{stderr}");
    let run = std::process::Command::new(ws.path("relink-bin/derive_demo"))
        .args(["--name", "y", "--rounds", "3"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "{\"name\":\"y\",\"rounds\":3,\"compressed_len\":217}\n");
}

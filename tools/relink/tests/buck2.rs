//! The rules on a real Buck2 (issue 19): the examples build, run and test with the cell of
//! rules/buck2/, and a private body edit runs only the edited crate's actions and the links
//! (tests/buck2/examples_on_buck2.sh); ripgrep from `relink import --buck2` builds, searches
//! like Cargo's rg, passes its tests and relinks after a private edit
//! (tests/buck2/ripgrep_on_buck2.sh); doctests from `relink import --buck2` pass and ignore as
//! under `cargo test --doc` and fail after a wrong edit (tests/buck2/doctests_on_buck2.sh).
//! Skipped, saying so, when ../shared/tools/buck2/buck2 is absent.

mod common;

/// Run `tests/buck2/SCRIPT` with this build's relink and relink-builder and check that it
/// printed `ok_line`; `false` when there is no Buck2 here (said on stderr).
fn run_script(script: &str, ok_line: &str) -> bool {
    if common::suite_runs_elsewhere(script) {
        return false;
    }
    let buck2 = common::repo_root().join("../shared/tools/buck2/buck2");
    if !buck2.is_file() {
        eprintln!("skipped: no Buck2 at {}", buck2.display());
        return false;
    }
    common::run_suite_script(&format!("buck2/{script}"), ok_line, &[("RELINK_BUCK2", &buck2)]);
    true
}

/// Fast tier (offline, about 10 s): skipped only when there is no Buck2.
#[test]
fn examples_build_test_and_relink_on_buck2() {
    run_script("examples_on_buck2.sh", "buck2 examples: OK");
}

/// Fast tier (offline, about 15 s): skipped only when there is no Buck2.
#[test]
fn doctests_on_buck2_pass_like_cargos() {
    run_script("doctests_on_buck2.sh", "buck2 doctests: OK");
}

#[test]
fn ripgrep_imported_for_buck2_builds_searches_tests_and_relinks() {
    if common::real_code_tier("ripgrep_imported_for_buck2_builds_searches_tests_and_relinks") {
        run_script("ripgrep_on_buck2.sh", "buck2 ripgrep: OK");
    }
}

//! The examples on real Bazel 4.2.3 (installed from Debian's bazel-bootstrap when missing):
//! build, test, a private edit that only recompiles the edited crate and relinks, and
//! identical outputs from two workspace directories (tests/bazel/examples_on_bazel.sh); ripgrep;
//! toolchain resolution from the README's workspace (tests/bazel/toolchains_on_bazel.sh);
//! remote execution on NativeLink (tests/bazel/remote_on_bazel.sh).

mod common;

/// Run `tests/bazel/SCRIPT`; its stdout, checked for `ok_line`.
fn run_script(script: &str, ok_line: &str) -> String {
    common::run_suite_script(&format!("bazel/{script}"), ok_line, &[])
}

#[test]
fn examples_build_test_and_relink_on_bazel() {
    if !common::real_code_tier("examples_build_test_and_relink_on_bazel") {
        return;
    }
    run_script("examples_on_bazel.sh", "bazel examples: OK");
}

#[test]
fn ripgrep_builds_tests_and_relinks_on_bazel() {
    if !common::real_code_tier("ripgrep_builds_tests_and_relinks_on_bazel") {
        return;
    }
    run_script("ripgrep_on_bazel.sh", "bazel ripgrep: OK");
}

/// Issue 16: the README's Bazel section as a new offline workspace, relink-builder kept
/// across server restarts, the toolchain's input size, coverage's message, a renamed
/// toolchain repository, and two toolchains chosen by platform (tests/bazel/toolchains_on_bazel.sh).
#[test]
fn toolchains_resolve_on_bazel_from_the_readme_workspace() {
    if !common::real_code_tier("toolchains_resolve_on_bazel_from_the_readme_workspace") {
        return;
    }
    let stdout = run_script("toolchains_on_bazel.sh", "bazel toolchains: OK");
    assert!(stdout.contains("toolchain inputs of RustCompileNoLink //app:app: "), "{stdout}");
}

/// Issue 22: Bazel 4.2.3 `--remote_executor` on NativeLink: every action on the worker, tests
/// remotely, a clean rebuild and another directory from the remote cache, and a private edit
/// that runs only the edited crate's compile and the links (tests/bazel/remote_on_bazel.sh).
#[test]
fn examples_execute_remotely_on_bazel_with_nativelink() {
    if !common::real_code_tier("examples_execute_remotely_on_bazel_with_nativelink") {
        return;
    }
    run_script("remote_on_bazel.sh", "bazel remote: OK");
}

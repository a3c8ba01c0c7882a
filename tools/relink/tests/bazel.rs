//! The examples on real Bazel 4.2.3 (installed from Debian's bazel-bootstrap when missing):
//! build, test, a private edit that only recompiles the edited crate and relinks, and
//! identical outputs from two workspace directories (tests/bazel/examples_on_bazel.sh); ripgrep;
//! toolchain resolution from the README's workspace (tests/bazel/toolchains_on_bazel.sh).

mod common;

#[test]
fn examples_build_test_and_relink_on_bazel() {
    if !common::real_code_tier("examples_build_test_and_relink_on_bazel") {
        return;
    }
    let script = common::repo_root().join("tests/bazel/examples_on_bazel.sh");
    let builder = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relink")).with_file_name("relink-builder");
    let out = std::process::Command::new("bash").arg(&script).env("RELINK_BUILDER", &builder).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("bazel examples: OK"), "{stdout}");
}

#[test]
fn ripgrep_builds_tests_and_relinks_on_bazel() {
    if !common::real_code_tier("ripgrep_builds_tests_and_relinks_on_bazel") {
        return;
    }
    let script = common::repo_root().join("tests/bazel/ripgrep_on_bazel.sh");
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relink"));
    let out = std::process::Command::new("bash")
        .arg(&script)
        .env("RELINK", &exe)
        .env("RELINK_BUILDER", exe.with_file_name("relink-builder"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("bazel ripgrep: OK"), "{stdout}");
}

/// Issue 16: the README's Bazel section as a new offline workspace, relink-builder kept
/// across server restarts, the toolchain's input size, coverage's message, a renamed
/// toolchain repository, and two toolchains chosen by platform (tests/bazel/toolchains_on_bazel.sh).
#[test]
fn toolchains_resolve_on_bazel_from_the_readme_workspace() {
    if !common::real_code_tier("toolchains_resolve_on_bazel_from_the_readme_workspace") {
        return;
    }
    let script = common::repo_root().join("tests/bazel/toolchains_on_bazel.sh");
    let out =
        std::process::Command::new("bash").arg(&script).env("RELINK", env!("CARGO_BIN_EXE_relink")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("bazel toolchains: OK"), "{stdout}");
    assert!(stdout.contains("toolchain inputs of RustCompileNoLink //app:app: "), "{stdout}");
}

//! The rules on a real Buck2 (issue 19): the examples build, run and test with the cell of
//! rules/buck2/, and a private body edit runs only the edited crate's actions and the links
//! (tests/buck2/examples_on_buck2.sh). Skipped, saying so, when ../shared/tools/buck2/buck2
//! is absent.

mod common;

#[test]
fn examples_build_test_and_relink_on_buck2() {
    if !common::real_code_tier("examples_build_test_and_relink_on_buck2") {
        return;
    }
    let buck2 = common::repo_root().join("../shared/tools/buck2/buck2");
    if !buck2.is_file() {
        eprintln!("skipped: no Buck2 at {}", buck2.display());
        return;
    }
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relink"));
    let out = std::process::Command::new("bash")
        .arg(common::repo_root().join("tests/buck2/examples_on_buck2.sh"))
        .env("RELINK_BUCK2", &buck2)
        .env("RELINK_BUILDER", exe.with_file_name("relink-builder"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("buck2 examples: OK"), "{stdout}");
}
